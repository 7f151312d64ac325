"""A nightly run on a young, sparse or partial store degrades: it skips what it cannot compute.

Every run here succeeds, says which steps (or parts of steps) it skipped and
why — in ``RunResult.skipped``, the ``runs`` row and the overview dashboard —
and still scores every customer that exists as of its date. A run that scores
nobody fails, is recorded and leaves the previous run the latest.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.dashboards import write_dashboards
from crm_analytics.datasets import synthetic
from crm_analytics.errors import InputError, RunError
from crm_analytics.store import Store, results

END = "2025-12-31"
# Small and quick: churn with two monthly cutoffs, two threads.
CONFIG = {"churn_training_months": 2, "threads": 2}


def _store(tables: tuple[str, ...] | None = None, **kw) -> tuple[Store, synthetic.SyntheticData]:
    kw = {"n_customers": 300, "seed": 2, "end": END, **kw}
    data = synthetic.generate(**kw)
    store = Store(":memory:")
    frames = data.tables()
    if tables is not None:
        frames = {k: v for k, v in frames.items() if k in tables}
    store.load_all(frames)
    return store, data


def _existing(data, as_of) -> int:
    """Customers created on or before as_of (the ones a run must score)."""
    created = pd.to_datetime(data.customers["created_at"])
    return int((created < pd.Timestamp(as_of) + pd.Timedelta(days=1)).sum())


def _run_row(store: Store, run_id: str) -> dict:
    return store.sql("SELECT * FROM runs WHERE run_id = ?", [run_id]).iloc[0].to_dict()


def _run(store: Store, tmp_path, **overrides) -> crm.RunResult:
    config = {**CONFIG, "model_dir": str(tmp_path / "models"), **overrides}
    as_of = config.pop("as_of", None)
    result = crm.run_batch(store, as_of=as_of, config=config)
    assert result.status == "succeeded"
    row = _run_row(store, result.run_id)
    assert row["status"] == "succeeded"
    # The skips are recorded with the run: in its metrics and its message ...
    assert json.loads(row["metrics"]).get("skipped", {}) == result.skipped
    for what, why in result.skipped.items():
        assert f"{what} skipped: {why}" in row["message"]
        # ... and shown in the result's repr.
        assert f"skipped {what}: {why}" in repr(result)
    return result


@pytest.mark.parametrize("start", ["2025-12-23", "2025-12-01", "2025-07-01"],
                         ids=["1-week", "1-month", "6-months"])
def test_a_young_store_is_scored_without_churn(tmp_path, start):
    store, data = _store(start=start)
    result = _run(store, tmp_path)
    assert result.customers == _existing(data, result.as_of) > 0
    why = result.skipped["churn"]
    assert why.startswith("less than two months of purchase history before the back-test cutoff "
                          f"{(pd.Timestamp(result.as_of) - pd.Timedelta(days=90)).date()}")
    assert "churn_probability" not in crm.latest_scores(store).columns
    # Everything computable is still scored.
    scores = crm.latest_scores(store)
    assert len(scores) == result.customers
    assert {"revenue_365d", "rfm_segment", "value_tier", "clv"} <= set(scores.columns)
    assert (scores["transactions_365d"] > 0).any()


def test_a_store_with_only_customers(tmp_path):
    store, data = _store(("customers",))
    result = _run(store, tmp_path)
    assert result.customers == _existing(data, result.as_of) > 0
    day = result.as_of
    assert result.skipped == {
        "clv": f"no transactions up to {day}",
        "churn": f"no transactions up to {day}",
        "satisfaction.nps": f"no survey data up to {day}",
        "satisfaction.csat": f"no survey data up to {day}",
        "satisfaction.index": f"no survey data up to {day}",
        "satisfaction.service": f"no tickets up to {day}",
        "segments.needs": f"only 0 customers with purchases up to {day}; needs segments need at "
                          "least 50",
        "subscriptions": f"no subscriptions up to {day}",
        "forecast": f"no CLV model in this run (no transactions up to {day})",
    }
    scores = crm.latest_scores(store)
    assert len(scores) == result.customers
    assert (scores["revenue_365d"] == 0).all() and (scores["transactions_365d"] == 0).all()
    assert "size_segment" in scores.columns


def test_customers_and_transactions_only_scored_one_day_past_the_last_transaction(tmp_path):
    # No tickets, no surveys; the last transaction is on 2025-12-30 and the run is
    # as of 2025-12-31: data are complete through as_of whether or not that day had
    # sales, so the back-test's label window may end on it.
    store, data = _store(("customers", "transactions"))
    last = pd.Timestamp(data.transactions["transaction_date"].max()).date()
    as_of = last + pd.Timedelta(days=1)
    result = _run(store, tmp_path, as_of=str(as_of))
    assert result.as_of == as_of
    assert result.customers == _existing(data, as_of)
    assert result.skipped == {
        "satisfaction.nps": f"no survey data up to {as_of}",
        "satisfaction.csat": f"no survey data up to {as_of}",
        "satisfaction.index": f"no survey data up to {as_of}",
        "satisfaction.service": f"no tickets up to {as_of}",
        "subscriptions": f"no subscriptions up to {as_of}",
    }
    info = result.metrics["churn_model"]
    assert info["retrained"] is True
    assert info["backtest_at"] == str(as_of - pd.Timedelta(days=90))
    # The deployed model's training labels end by as_of (no look-ahead).
    assert pd.Timestamp(info["label_window_end"]).date() <= as_of
    scores = crm.latest_scores(store)
    assert len(scores) == result.customers
    assert scores["churn_probability"].notna().any() and "clv" in scores.columns
    assert "latest_nps" not in scores.columns and "open_tickets" not in scores.columns


def test_nine_customers(tmp_path):
    store, data = _store(n_customers=9)
    result = _run(store, tmp_path)
    assert result.customers == _existing(data, result.as_of) == 9
    assert result.skipped["clv"] == (f"only 9 customers with purchases up to {result.as_of}; the "
                                     "purchase model needs at least 20")
    assert "too little history to train the churn model" in result.skipped["churn"]
    assert result.skipped["segments.needs"].startswith("only 9 customers with purchases")
    assert "needs at least 30" in result.skipped["satisfaction.index"]
    assert len(crm.latest_scores(store)) == 9


def test_survey_items_are_options(tmp_path):
    store, _ = _store(n_customers=200)
    result = _run(store, tmp_path, steps=["satisfaction"], nps_item="recommend")
    assert result.skipped["satisfaction.nps"].startswith(
        f"no answers to survey item 'recommend' up to {result.as_of} (set nps_item")
    assert "satisfaction.csat" not in result.skipped
    scores = crm.latest_scores(store)
    assert "latest_nps" not in scores.columns and scores["csat_mean_180d"].notna().any()
    with pytest.raises(InputError, match="config option nps_item must be the name of a survey"):
        crm.run_batch(store, config={"nps_item": " "})


def test_the_overview_dashboard_lists_the_skipped_steps(tmp_path):
    store, _ = _store(("customers", "transactions"), n_customers=120)
    result = _run(store, tmp_path, steps=["satisfaction"])
    index = write_dashboards(store, tmp_path / "site", run_id=result.run_id)
    html = index.read_text(encoding="utf-8")
    assert 'id="skipped"' in html
    assert f"no tickets up to {result.as_of}" in html and "satisfaction.service" in html


def test_a_run_that_scores_nobody_fails_and_the_previous_run_stays_latest(tmp_path):
    store, data = _store(n_customers=100)
    good = _run(store, tmp_path, steps=["inputs"])
    first = pd.Timestamp(data.customers["created_at"].min()).date()
    with pytest.raises(RunError, match=f"no customers as of 2020-01-01; the first customer was "
                                       f"created on {first}: nothing to score"):
        crm.run_batch(store, as_of="2020-01-01", config={**CONFIG, "steps": ["inputs"]})
    runs = crm.runs(store)
    assert runs["status"].tolist() == ["failed", "succeeded"]
    assert "nothing to score" in runs["message"].iloc[0]
    assert results.latest_run_id(store) == good.run_id


def test_a_store_without_customers_is_an_input_error_and_records_nothing():
    store = Store(":memory:")
    with pytest.raises(InputError, match="no customers in :memory:; load data first"):
        crm.run_batch(store, as_of="2025-01-31")
    assert crm.runs(store).empty
