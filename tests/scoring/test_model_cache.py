"""The churn model cache: models belong to their store, refit on schedule, never use the future.

The stores share one module fixture (two file stores in one folder, each run
once) so the suite trains as few models as possible; every test leaves each
store's cache holding a valid model of that store.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics import churn
from crm_analytics.datasets import synthetic
from crm_analytics.scoring import models
from crm_analytics.scoring.config import load_config
from crm_analytics.scoring.context import RunContext
from crm_analytics.store import Store

CONFIG = {"churn_training_months": 2, "threads": 2, "steps": ["churn"]}
STORE_ID = "SELECT value FROM store_meta WHERE key = 'store_id'"


def _file_store(path: Path, seed: int) -> Path:
    with Store(path) as store:
        store.load_all(synthetic.generate(n_customers=150, seed=seed, end="2025-12-31").tables())
    return path


def _store_id(path: Path) -> str:
    with Store(path, read_only=True) as s:
        ids = s.sql(STORE_ID)["value"].tolist()
    assert len(ids) == 1
    return ids[0]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two stores in one folder, each scored once with the default model folder."""
    folder = tmp_path_factory.mktemp("stores")
    a = _file_store(folder / "company_a.duckdb", seed=3)
    b = _file_store(folder / "company_b.duckdb", seed=4)
    return {"folder": folder, "a": a, "b": b,
            "run_a": crm.run_batch(a, config=CONFIG), "run_b": crm.run_batch(b, config=CONFIG)}


def test_two_stores_in_one_folder_do_not_share_a_model(pair):
    folder, run_a, run_b = pair["folder"], pair["run_a"], pair["run_b"]
    id_a, id_b = _store_id(pair["a"]), _store_id(pair["b"])
    assert id_a != id_b
    model_a = folder / "models" / id_a / models.MODEL_FILE
    model_b = folder / "models" / id_b / models.MODEL_FILE
    # The second store refits; its metrics name its own model.
    for run, path, sid in ((run_a, model_a, id_a), (run_b, model_b, id_b)):
        info = run.metrics["churn_model"]
        assert info["retrained"] is True and info["saved"] is True
        assert info["source"] == str(path) and info["store_id"] == sid
        assert churn.ChurnModel.load(path).store_id_ == sid


def test_the_model_is_reused_on_its_schedule(pair):
    again = crm.run_batch(pair["a"], config={**CONFIG, "force": True})
    info = again.metrics["churn_model"]
    assert info["retrained"] is False
    assert info["source"] == pair["run_a"].metrics["churn_model"]["source"]
    assert "churn_probability" in crm.latest_scores(pair["a"]).columns


def test_a_model_of_another_store_is_refused(pair, tmp_path):
    # An explicit model_dir shared by both stores: b finds a's model there and refits.
    shared = tmp_path / "shared"
    shared.mkdir()
    source = Path(pair["run_a"].metrics["churn_model"]["source"])
    (shared / models.MODEL_FILE).write_bytes(source.read_bytes())
    result = crm.run_batch(pair["b"], config={**CONFIG, "model_dir": str(shared)})
    assert result.metrics["churn_model"]["retrained"] is True
    assert any(f"belongs to another store ({_store_id(pair['a'])})" in n for n in result.notes)
    assert churn.ChurnModel.load(shared / models.MODEL_FILE).store_id_ == _store_id(pair["b"])


def test_backfilling_never_uses_a_model_trained_on_later_data(pair):
    a = pair["a"]
    cached = Path(pair["run_a"].metrics["churn_model"]["source"])
    latest_end = churn.ChurnModel.load(cached).label_window_end_
    assert latest_end > dt.date(2025, 6, 30)
    back = crm.run_batch(a, as_of="2025-06-30", config=CONFIG)
    info = back.metrics["churn_model"]
    assert info["retrained"] is True
    assert any("a backfill must not use later data" in n for n in back.notes)
    ends = [pd.Timestamp(c).date() + dt.timedelta(days=90) for c in info["training_cutoffs"]]
    assert max(ends) <= dt.date(2025, 6, 30)
    assert pd.Timestamp(info["label_window_end"]).date() <= dt.date(2025, 6, 30)
    # The newer cached model is kept: the next nightly run reuses it.
    assert info["saved"] is False
    assert churn.ChurnModel.load(cached).label_window_end_ == latest_end
    again = crm.run_batch(a, config={**CONFIG, "force": True})
    assert again.metrics["churn_model"]["retrained"] is False


def test_a_damaged_cached_model_is_refit_with_a_note(pair):
    b = pair["b"]
    path = Path(pair["run_b"].metrics["churn_model"]["source"])
    path.write_bytes(b"not a model")
    result = crm.run_batch(b, config=CONFIG)
    assert result.status == "succeeded"
    assert result.metrics["churn_model"]["retrained"] is True
    assert any(n.startswith("warning: saved churn model not usable") for n in result.notes)
    assert churn.ChurnModel.load(path).store_id_ == _store_id(b)  # replaced by the refit


def test_in_memory_stores_do_not_share_a_model_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = synthetic.generate(n_customers=150, seed=3, end="2025-12-31").tables()
    first, second = Store(":memory:"), Store(":memory:")
    first.load_all(data)
    second.load_all(data)
    result = crm.run_batch(first, config=CONFIG)
    sid = first.sql(STORE_ID)["value"].iloc[0]
    path = tmp_path / "crm_analytics_models" / sid / models.MODEL_FILE
    assert result.metrics["churn_model"]["source"] == str(path) and path.exists()
    # The same data in another in-memory store: another id, another (empty) folder.
    ctx = RunContext(store=second, config=load_config(overrides=CONFIG), run_id="t",
                     as_of=result.as_of)
    other = models.model_dir(ctx)
    assert other != path.parent and other.parent == path.parent.parent
    assert not (other / models.MODEL_FILE).exists()
    assert models.store_id(ctx) != sid
