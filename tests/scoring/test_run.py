"""The scoring run: atomic, deterministic, readable while it runs, operable from cron."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.cli import main
from crm_analytics.datasets import synthetic
from crm_analytics.errors import InputError, RunError
from crm_analytics.scoring import steps as scoring_steps
from crm_analytics.scoring.config import load_config
from crm_analytics.store import Store, results

FAST = {"steps": ["inputs", "attributes"]}


@pytest.fixture(scope="module")
def data():
    return synthetic.generate(n_customers=1200, seed=11)


@pytest.fixture
def db(tmp_path, data) -> Path:
    path = tmp_path / "crm.duckdb"
    with Store(path) as store:
        store.load_all(data.tables())
    return path


def test_run_writes_one_run_with_scores_and_metadata(db):
    result = crm.run_batch(db, config=FAST)
    assert result.status == "succeeded" and result.customers == 1200
    runs = crm.runs(db)
    assert runs["run_id"].tolist() == [result.run_id]
    row = runs.iloc[0]
    assert row["status"] == "succeeded" and row["customers"] == 1200
    assert set(json.loads(row["step_seconds"])) == {"inputs", "attributes"}
    with Store(db, read_only=True) as s:
        meta = s.sql("SELECT * FROM runs").iloc[0]
    versions = json.loads(meta["versions"])
    assert versions["crm_analytics"] == crm.__version__ and "duckdb" in versions
    assert json.loads(meta["input_rows"])["customers"] == 1200
    assert json.loads(meta["config"])["churn_horizon_days"] == 90
    scores = crm.latest_scores(db)
    assert len(scores) == 1200 and scores.index.is_unique
    # revenue per customer equals the transaction log as of the run date
    tx = pd.DataFrame(synthetic.generate(n_customers=1200, seed=11).transactions)
    end = pd.Timestamp(result.as_of) + pd.Timedelta(days=1)
    last_year = tx[(tx["transaction_date"] < end) & (tx["transaction_date"] >= end - pd.Timedelta(days=365))]
    expected = last_year.groupby("customer_id")["amount"].sum()
    got = scores["revenue_365d"]
    pd.testing.assert_series_equal(got.loc[expected.index], expected, check_names=False, rtol=1e-9)
    assert (got.drop(expected.index) == 0).all()


def test_as_of_defaults_to_last_transaction_and_excludes_later_data(db, data):
    last = data.transactions["transaction_date"].max()
    result = crm.run_batch(db, config=FAST)
    assert result.as_of == last.date()
    early = crm.run_batch(db, as_of="2024-06-30", config=FAST)
    with Store(db, read_only=True) as s:
        rows = json.loads(s.sql("SELECT input_rows FROM runs WHERE run_id = ?", [early.run_id]).iloc[0, 0])
    tx = data.transactions
    assert rows["transactions"] == int((tx["transaction_date"] < pd.Timestamp("2024-07-01")).sum())
    created = data.customers["created_at"]
    assert early.customers == int((created < pd.Timestamp("2024-07-01")).sum())


def test_two_runs_on_the_same_input_give_identical_scores(db):
    first = crm.run_batch(db, config=FAST)
    second = crm.run_batch(db, config=FAST)
    a = crm.latest_scores(db, run_id=first.run_id)
    b = crm.latest_scores(db, run_id=second.run_id)
    pd.testing.assert_frame_equal(a, b)


def test_failed_step_records_failure_and_keeps_previous_latest(db, monkeypatch):
    good = crm.run_batch(db, config=FAST)

    def broken(ctx):
        raise ZeroDivisionError("model blew up")

    monkeypatch.setitem(scoring_steps.STEPS, "attributes", broken)
    with pytest.raises(RunError, match="ZeroDivisionError: model blew up"):
        crm.run_batch(db, config={**FAST, "force": True})
    runs = crm.runs(db)
    assert runs["status"].tolist() == ["failed", "succeeded"]
    assert "model blew up" in runs["message"].iloc[0]
    assert results.latest_run_id(Store(db, read_only=True)) == good.run_id
    assert len(crm.latest_scores(db)) == 1200


def test_an_input_error_inside_a_step_is_a_failed_run_with_its_row(db, monkeypatch):
    good = crm.run_batch(db, config=FAST)

    def picky(ctx):
        raise InputError("customer_features: item 'nps' has answers on another scale")

    monkeypatch.setitem(scoring_steps.STEPS, "attributes", picky)
    with pytest.raises(RunError, match="InputError: customer_features: item 'nps'"):
        crm.run_batch(db, config={**FAST, "force": True})
    runs = crm.runs(db)
    assert runs["status"].tolist() == ["failed", "succeeded"]
    assert runs["message"].iloc[0].startswith("InputError: customer_features")
    assert results.latest_run_id(Store(db, read_only=True)) == good.run_id


def test_a_failure_while_writing_the_run_leaves_a_failed_row(db, monkeypatch):
    good = crm.run_batch(db, config=FAST)
    attributes = scoring_steps.STEPS["attributes"]

    def then_fail_on_commit(ctx):
        attributes(ctx)
        ctx.on_commit.append(lambda writer: 1 / 0)

    monkeypatch.setitem(scoring_steps.STEPS, "attributes", then_fail_on_commit)
    with pytest.raises(RunError, match="ZeroDivisionError"):
        crm.run_batch(db, config={**FAST, "force": True})
    runs = crm.runs(db)
    assert runs["status"].tolist() == ["failed", "succeeded"]
    assert results.latest_run_id(Store(db, read_only=True)) == good.run_id
    assert len(crm.latest_scores(db)) == 1200


def test_cli_exit_code_1_on_failed_run(db, monkeypatch, capsys):
    monkeypatch.setitem(scoring_steps.STEPS, "attributes", lambda ctx: 1 / 0)
    monkeypatch.setenv("CRM_ANALYTICS_STEPS", "inputs,attributes")
    assert main(["score", "--db", str(db), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("failed: run ") and "ZeroDivisionError" in err and "Traceback" not in err


def test_old_runs_are_pruned(db):
    ids = [crm.run_batch(db, config={**FAST, "keep_runs": 2, "force": True}).run_id
           for _ in range(3)]
    with Store(db, read_only=True) as s:
        kept = s.sql("SELECT DISTINCT run_id FROM customer_scores ORDER BY 1")["run_id"].tolist()
    assert kept == sorted(ids[1:])


def test_config_precedence_file_env_override(tmp_path):
    cfg = tmp_path / "crm.toml"
    cfg.write_text('churn_horizon_days = 60\nclv_horizon_days = 180\nsteps = ["inputs"]\n')
    env = {"CRM_ANALYTICS_CLV_HORIZON_DAYS": "730"}
    c = load_config(cfg, {"purchase_model": "pareto_nbd"}, environ=env)
    assert (c.churn_horizon_days, c.clv_horizon_days, c.purchase_model, c.steps) == (
        60, 730, "pareto_nbd", ["inputs"])
    with pytest.raises(InputError, match="purchase_model must be one of"):
        load_config(overrides={"purchase_model": "magic"}, environ={})


def test_latest_scores_without_runs_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.duckdb"
    Store(path).close()
    with pytest.raises(InputError, match="no successful scoring run"):
        crm.latest_scores(path)


READER = textwrap.dedent("""
    import sys, time, json
    import crm_analytics as crm
    from crm_analytics.store import Store
    path, stop_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
    seen, errors, polls = set(), [], 0
    store = Store(path, read_only=True, busy_timeout=600)
    import os
    while not os.path.exists(stop_file):
        try:
            s = crm.latest_scores(store)
            seen.add(len(s))
            polls += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.05)
    json.dump({"polls": polls, "errors": errors, "sizes": sorted(seen)}, open(out, "w"))
""")


@pytest.mark.slow
def test_reader_polling_through_a_whole_run_sees_no_error(db, tmp_path):
    # Four training months instead of twelve keep the test short; the run is still whole.
    crm.run_batch(db, config={"churn_training_months": 4})  # the reader always has a latest run
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop), str(out)])
    try:
        time.sleep(1.0)
        env = {**os.environ, "CRM_ANALYTICS_CHURN_TRAINING_MONTHS": "4"}
        proc = subprocess.run([sys.executable, "-m", "crm_analytics.cli", "score", "--db", str(db),
                               "--retrain", "--quiet"], capture_output=True, text=True, timeout=900,
                              env=env)
        assert proc.returncode == 0, proc.stderr
        time.sleep(1.0)
    finally:
        stop.touch()
        reader.wait(timeout=120)
    report = json.loads(out.read_text())
    assert report["errors"] == []
    assert report["polls"] > 10
    assert report["sizes"] == [1200]


@pytest.mark.slow
def test_kill_minus_9_midway_leaves_previous_run_latest(db):
    first = crm.run_batch(db)
    before = crm.latest_scores(db)
    # Kill at several moments: during computing and (likely) during the final write.
    for delay in (1.0, 3.0, 6.0):
        proc = subprocess.Popen([sys.executable, "-m", "crm_analytics.cli", "score", "--db", str(db),
                                 "--retrain", "--quiet"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Store(db, read_only=True) as s:
            latest = results.latest_run_id(s)
        if latest == first.run_id:
            pd.testing.assert_frame_equal(crm.latest_scores(db), before)
        else:  # the run finished before the kill: then it is complete
            assert len(crm.latest_scores(db)) == len(before)
    after = crm.run_batch(db, config={"force": True})
    assert after.status == "succeeded"
    assert results.latest_run_id(Store(db, read_only=True)) == after.run_id


def test_example_config_file_is_current_and_valid():
    from crm_analytics.scoring.config import EXAMPLE_TOML, RunConfig

    path = Path(__file__).resolve().parents[2] / "crm.example.toml"
    assert path.read_text() == EXAMPLE_TOML
    loaded = load_config(path, environ={})
    defaults = RunConfig()
    assert loaded.to_dict() == defaults.to_dict()


@pytest.mark.slow
def test_full_runs_are_deterministic_even_when_the_model_is_refit(db, tmp_path):
    # Four training months instead of twelve: determinism does not depend on how many.
    config = {"model_dir": str(tmp_path / "models"), "retrain": True, "churn_training_months": 4}
    first = crm.run_batch(db, config=config)
    second = crm.run_batch(db, config=config)
    a = crm.latest_scores(db, run_id=first.run_id)
    b = crm.latest_scores(db, run_id=second.run_id)
    assert {"clv", "churn_probability", "needs_segment", "rfm_segment", "latest_nps"} <= set(a.columns)
    pd.testing.assert_frame_equal(a, b)
    ra, rb = crm.run_results(db, first.run_id), crm.run_results(db, second.run_id)
    for name in ("overview", "churn_evaluation", "profile_needs_segment_name", "nps_by_month"):
        pd.testing.assert_frame_equal(ra[name], rb[name])


# --------------------------------------------------------------------------- score column registry


def test_customer_scores_keeps_the_registry_types_after_a_run(db):
    from crm_analytics.store.score_columns import SCORE_COLUMNS

    crm.run_batch(db, config=FAST)
    with Store(db, read_only=True) as s:
        d = s.sql("DESCRIBE customer_scores")
    got = dict(zip(d["column_name"], d["column_type"], strict=True))
    assert got.pop("run_id") == "VARCHAR" and got.pop("customer_id") == "VARCHAR"
    assert got == {c.name: c.sql_type for c in SCORE_COLUMNS}


def test_a_step_producing_an_unregistered_column_fails_the_run(db, monkeypatch):
    good = crm.run_batch(db, config=FAST)
    attributes = scoring_steps.STEPS["attributes"]

    def sloppy(ctx):
        attributes(ctx)
        ctx.scores["foo"] = 1.0

    monkeypatch.setitem(scoring_steps.STEPS, "attributes", sloppy)
    with pytest.raises(RunError, match=r"column 'foo' which is not in crm_analytics/store/score_columns\.py"
                       r"; this is a bug"):
        crm.run_batch(db, config={**FAST, "force": True})
    runs = crm.runs(db)
    assert runs["status"].tolist() == ["failed", "succeeded"]
    assert "'foo'" in runs["message"].iloc[0]
    assert results.latest_run_id(Store(db, read_only=True)) == good.run_id
    with Store(db, read_only=True) as s:
        columns = s.sql("DESCRIBE customer_scores")["column_name"].tolist()
    assert "foo" not in columns
