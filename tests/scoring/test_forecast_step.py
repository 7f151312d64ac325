"""The nightly run's forecast step, its options, its dashboard page and `crm-analytics forecast`."""

from __future__ import annotations

import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.cli import main
from crm_analytics.clv.revenue_forecast import NEW_SEGMENT, TOTAL_SEGMENT
from crm_analytics.dashboards import write_dashboards
from crm_analytics.datasets import synthetic
from crm_analytics.errors import InputError
from crm_analytics.scoring.config import RunConfig, load_config
from crm_analytics.scoring.unchanged import fingerprint
from crm_analytics.segmentation import define_segment
from crm_analytics.store import Store, results

AS_OF = "2025-06-30"
FAST = {"steps": ["clv", "segments", "forecast"], "threads": 1, "forecast_horizon_months": 6}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("forecast") / "crm.duckdb"
    data = synthetic.generate(n_customers=400, seed=4, params={"acquisition_fraction": 1.0})
    with Store(path) as store:
        store.load("customers", data.customers)
        store.load("transactions", data.transactions)
    return path


@pytest.fixture(scope="module")
def run(db, tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    result = crm.run_batch(db, as_of=AS_OF, config={**FAST, "model_dir": str(models)})
    assert result.status == "succeeded"
    return result


def test_the_run_writes_the_forecast_and_its_backtest(db, run):
    got = results.run_results(db, run.run_id)
    fc = got["forecast"]
    assert set(fc["component"]) == {"existing", "new", "total"}
    assert {TOTAL_SEGMENT, "consumer", "small_medium"} <= set(fc["segment"])
    assert fc["month"].nunique() == 6 and fc["month"].iloc[0] == "2025-07"
    bt = got["forecast_backtest"]
    assert {"btyd", "seasonal_naive", "ets", "naive"} == set(bt["method"])
    monthly = got["forecast_backtest_monthly"]
    assert monthly["month"].min() == "2025-01" and monthly["month"].max() == "2025-06"
    info = run.metrics["forecast"]
    assert info["backtest_cutoff"] == "2024-12-31" and info["by"] == "size_band"
    assert "forecast" not in run.skipped and "forecast.backtest" not in run.skipped


def test_the_forecast_page_is_offline_with_a_fan_per_segment(db, run, tmp_path):
    index = write_dashboards(db, tmp_path / "site", run_id=run.run_id)
    html = (index.parent / "forecast.html").read_text(encoding="utf-8")
    assert html.count('class="plotly-graph-div"') >= 4  # total + 3 size bands + back-test
    assert "Back-test: error by method" in html and "WAPE btyd" in html
    assert "cdn.plot.ly" not in html and 'src="plotly.min.js"' in html
    assert 'href="forecast.html"' in (index.parent / "index.html").read_text(encoding="utf-8")


def test_by_a_score_column_and_a_custom_segment(db, tmp_path):
    with Store(db) as store:
        define_segment(store, "big spenders", "clv in top 20%")
    cfg = {**FAST, "model_dir": str(tmp_path), "force": True}
    tier = crm.run_batch(db, as_of=AS_OF, config={**cfg, "forecast_by": "value_tier"})
    fc = results.run_results(db, tier.run_id)["forecast"]
    assert {"Top 10%", "Bottom 30%", NEW_SEGMENT} <= set(fc["segment"])
    # Called directly, a score column is read from the newest run on or before as_of.
    with Store(db, read_only=True) as store:
        direct = crm.clv.forecast(store, AS_OF, 2, by="value_tier", max_simulated=200)
    assert {"Top 10%", NEW_SEGMENT} <= set(direct["segment"])
    assert any(f"run {tier.run_id}" in n for n in direct.attrs["notes"])
    # The back-test reads value tiers of the newest run on or before its cutoff: none.
    assert "needs a successful scoring run as of 2024-12-31 or earlier" in \
        tier.skipped["forecast.backtest"]
    custom = crm.run_batch(db, as_of=AS_OF, config={**cfg, "forecast_by": "segment:big spenders"})
    fc = results.run_results(db, custom.run_id)["forecast"]
    existing = fc[(fc.component == "existing") & (fc.month == "2025-07")].set_index("segment")
    assert existing.loc["big spenders", "customers"] == pytest.approx(
        0.2 * existing.loc[TOTAL_SEGMENT, "customers"], abs=2)
    assert "custom segment's members are known as of this run only" in \
        custom.skipped["forecast.backtest"]


def test_without_a_clv_model_the_step_is_skipped(db, tmp_path):
    result = crm.run_batch(db, as_of=AS_OF, config={"steps": ["forecast"], "force": True,
                                                    "model_dir": str(tmp_path), "threads": 1})
    assert result.status == "succeeded"
    assert result.skipped == {"forecast": "no CLV model in this run (add 'clv' to steps)"}


def test_options_are_checked_and_change_the_fingerprint():
    with pytest.raises(InputError, match="config option forecast_by must be empty, "
                                         "'segment:<custom segment>' or one of size_band"):
        load_config(overrides={"forecast_by": "sizeband"}, environ={})
    with pytest.raises(InputError, match="forecast_horizon_months must be a whole number of "
                                         r"months in \[1, 60\]; got 0"):
        load_config(overrides={"forecast_horizon_months": 0}, environ={})
    cfg = load_config(environ={"CRM_ANALYTICS_FORECAST_BY": "", "CRM_ANALYTICS_FORECAST_BACKTEST":
                               "no"})
    assert cfg.forecast_by == "" and cfg.forecast_backtest is False
    store = Store(":memory:")
    base = fingerprint(store, RunConfig())
    assert base != fingerprint(store, RunConfig(forecast_horizon_months=6))
    assert base != fingerprint(store, RunConfig(forecast_by="region"))
    assert base != fingerprint(store, RunConfig(forecast_backtest=False))


def test_cli_forecast(db, run, capsys):
    code = main(["forecast", "--db", str(db), "--as-of", AS_OF, "--horizon", "2", "--by",
                 "customer_type", "-q"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Revenue forecast as of 2025-06-30" in out and "all customers" in out
    assert "business" in out and "2025-08" in out
    assert main(["forecast", "--db", str(db), "--by", "sizeband", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown segment column 'sizeband'") and err.count("\n") == 1
    with Store(db) as store:  # members from the latest run's scores, whatever steps it ran
        define_segment(store, "top revenue", "revenue_365d in top 20%")
    assert main(["forecast", "--db", str(db), "--as-of", AS_OF, "--horizon", "1", "--segment",
                 "top revenue", "-q"]) == 0
    out = capsys.readouterr().out
    assert "top revenue" in out and "others" in out
    assert main(["forecast", "--db", str(db), "--segment", "nobody", "-q"]) == 2
    assert "no segment called 'nobody'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse refuses it before anything runs
        main(["forecast", "--db", str(db), "--horizon", "0", "-q"])
    assert exc.value.code == 2


def test_cli_forecast_writes_csv_and_backtests(db, run, tmp_path, capsys):
    out = tmp_path / "forecast.csv"
    code = main(["forecast", "--db", str(db), "--as-of", AS_OF, "--horizon", "3", "--by", "none",
                 "--backtest", "--out", str(out), "-q"])
    text = capsys.readouterr().out
    assert code == 0
    table = pd.read_csv(out)
    assert set(table["segment"]) == {TOTAL_SEGMENT} and len(table) == 9
    assert "back-test at 2025-03-31" in text and "seasonal_naive" in text
