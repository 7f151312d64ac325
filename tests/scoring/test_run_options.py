"""One definition of each shared run option: steps, thresholds, threads, dashboards, as_of."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from threadpoolctl import threadpool_info

import crm_analytics as crm
from crm_analytics.core.threads import default_threads
from crm_analytics.datasets import synthetic
from crm_analytics.errors import InputError
from crm_analytics.scoring import STEPS, load_config
from crm_analytics.scoring.config import STEP_NAMES, RunConfig
from crm_analytics.store import SizeThresholds, Store, default_as_of


@pytest.fixture(scope="module")
def tables():
    return synthetic.generate(n_customers=300, seed=5).tables()


@pytest.fixture
def store(tables):
    s = Store(":memory:")
    s.load_all(tables)
    return s


def test_step_table_and_step_names_agree():
    assert tuple(STEPS) == STEP_NAMES


def test_unknown_step_is_an_error_naming_it():
    with pytest.raises(InputError, match=r"unknown step\(s\) \['clvv'\]"):
        load_config(overrides={"steps": ["clvv"]}, environ={})


@pytest.mark.parametrize("configured", [[], ["clv"], ["segments", "inputs"]])
def test_inputs_and_attributes_always_run(store, configured):
    result = crm.run_batch(store, config={"steps": configured or ["inputs"], "model_dir": ""})
    assert list(result.step_seconds)[:2] == ["inputs", "attributes"]
    assert result.customers == 300
    assert len(crm.latest_scores(store)) == 300


def test_size_thresholds_have_one_definition():
    assert RunConfig().size_thresholds() == SizeThresholds()
    assert load_config(overrides={"large_employees": 10}, environ={}).size_thresholds() == SizeThresholds(
        large_employees=10)


def test_purchase_models_come_from_the_clv_package():
    from crm_analytics.clv.models import PURCHASE_MODELS

    for name in PURCHASE_MODELS:
        assert load_config(overrides={"purchase_model": name}, environ={}).purchase_model == name
    with pytest.raises(InputError, match="purchase_model must be one of bgnbd"):
        load_config(overrides={"purchase_model": "prophet"}, environ={})


def test_run_batch_publishes_dashboards_when_configured(store, tmp_path):
    out = tmp_path / "site"
    result = crm.run_batch(store, config={"steps": ["inputs", "attributes"], "dashboard_dir": str(out)})
    assert result.dashboard_dir == str(out.resolve())
    page = (out / "index.html").read_text(encoding="utf-8")
    assert result.run_id in page


def test_thread_budget_governs_duckdb_and_openmp_and_is_restored(store):
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime)

    before = int(store.sql("SELECT current_setting('threads') AS t")["t"].iloc[0])
    with store.thread_budget(1) as n:
        assert n == 1
        assert int(store.sql("SELECT current_setting('threads') AS t")["t"].iloc[0]) == 1
        pools = [p for p in threadpool_info() if p["user_api"] in ("openmp", "blas")]
        assert pools and all(p["num_threads"] == 1 for p in pools)
    assert int(store.sql("SELECT current_setting('threads') AS t")["t"].iloc[0]) == before


def test_the_run_records_its_thread_count(store):
    result = crm.run_batch(store, config={"steps": ["inputs"], "threads": 1})
    assert result.metrics["threads"] == 1
    row = crm.runs(store).iloc[0]
    assert json.loads(row["metrics"])["threads"] == 1


@pytest.mark.parametrize(("load", "cores", "expected"), [(0.0, 2, 2), (0.4, 2, 2), (1.0, 2, 1),
                                                         (2.0, 2, 1), (9.0, 4, 1), (2.6, 8, 5)])
def test_default_threads_leave_busy_cores_alone(load, cores, expected):
    assert default_threads(load=load, cores=cores) == expected


def test_default_as_of_is_the_last_day_with_any_event():
    s = Store(":memory:")
    assert default_as_of(s) == dt.date.today()
    s.load("customers", pd.DataFrame({"customer_id": ["A"], "created_at": ["2024-01-05"]}))
    assert default_as_of(s) == dt.date(2024, 1, 5)
    s.load("transactions", pd.DataFrame({"transaction_id": ["T"], "customer_id": ["A"],
                                         "transaction_date": ["2024-03-01"], "amount": [5.0]}))
    assert default_as_of(s) == dt.date(2024, 3, 1)
    s.load("tickets", pd.DataFrame({"ticket_id": ["K"], "customer_id": ["A"], "opened_at": ["2024-03-02"],
                                    "resolved_at": ["2024-03-04 10:00"]}))
    assert default_as_of(s) == dt.date(2024, 3, 4)
    # the satisfaction functions use the same default
    from crm_analytics.satisfaction.store_io import resolve_as_of

    assert resolve_as_of(s, None) == dt.date(2024, 3, 4)
