"""A run whose inputs and options have not changed is recognised, not recomputed."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.cli import main
from crm_analytics.store import Store
from tests.helpers import synthetic_data

FAST = {"steps": ["inputs", "attributes", "segments"]}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "crm.duckdb"
    with Store(path) as store:
        store.load_all(synthetic_data(400, 21).tables())
    return path


def _runs(db):
    return crm.runs(db).sort_values("started_at").reset_index(drop=True)


def test_second_run_with_same_inputs_is_recognised(db):
    first = crm.run_batch(db, config=FAST)
    assert first.status == "succeeded"
    # Steps record how many customers they scored.
    rows = first.metrics["step_rows"]
    assert rows["attributes"] == first.customers == 400
    assert 0 < rows["segments"] <= 400
    assert "(400 customers)" in repr(first)
    # Threads are how, not what: still the same run.
    again = crm.run_batch(db, config={**FAST, "threads": 1})
    assert again.status == "unchanged" and again.run_id == first.run_id
    assert again.customers == first.customers and again.step_seconds == {}
    assert first.run_id in again.notes[0] and "force" in again.notes[0]
    runs = _runs(db)
    assert runs["status"].tolist() == ["succeeded", "unchanged"]
    assert first.run_id in runs["message"].iloc[1]
    # The scores are still the first run's (nothing written over them).
    assert crm.latest_scores(db).attrs["run_id"] == first.run_id


@pytest.mark.parametrize("change", ["option", "force", "load"])
def test_a_change_or_force_recomputes(db, change):
    first = crm.run_batch(db, config=FAST)
    config = dict(FAST)
    if change == "option":
        config["large_employees"] = 50
    elif change == "force":
        config["force"] = True
    else:
        with Store(db) as store:
            store.load("customers", pd.DataFrame({"customer_id": ["NEW-1"],
                                                  "created_at": ["2024-01-01"]}),
                       mode="append")
    second = crm.run_batch(db, as_of=first.as_of, config=config)
    assert second.status == "succeeded" and second.run_id != first.run_id
    assert second.customers == first.customers + (change == "load")


def test_another_as_of_is_another_run(db):
    first = crm.run_batch(db, config=FAST)
    earlier = crm.run_batch(db, as_of=first.as_of - pd.Timedelta(days=30), config=FAST)
    assert earlier.status == "succeeded"


def test_cli_says_unchanged_and_exits_zero(db, tmp_path, capsys):
    config = tmp_path / "crm.toml"
    config.write_text('steps = ["inputs", "attributes"]\n')
    args = ["score", "--db", str(db), "--quiet", "--config", str(config)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "status=unchanged" in out and "nothing recomputed" in out
    assert main([*args, "--force"]) == 0
    assert _runs(db)["status"].tolist() == ["succeeded", "unchanged", "succeeded"]
    with Store(db, read_only=True) as store:
        rows = store.sql("SELECT metrics FROM runs ORDER BY started_at")["metrics"]
    metrics = [json.loads(m) for m in rows]
    assert metrics[0]["fingerprint"] == metrics[1]["fingerprint"] == metrics[2]["fingerprint"]


def test_an_unchanged_run_still_publishes_its_dashboards(db, tmp_path):
    first = crm.run_batch(db, config=FAST)
    out = tmp_path / "dash"
    again = crm.run_batch(db, config={**FAST, "dashboard_dir": str(out)})
    assert again.status == "unchanged" and again.run_id == first.run_id
    index = out / "index.html"
    assert again.dashboard_dir == str(out.resolve()) and index.exists()
    assert first.run_id in index.read_text()
