"""A full scoring run on Spark gives the DuckDB run's customer scores -- CLV, P(alive), churn
probability and reasons, size/RFM/needs segments, value tiers -- for the same as_of and models.

The DuckDB side is the nightly run itself (``run_batch``: it trains the churn model, picks
its scorer from the back-test and saves the model file); the Spark run gets that file.
The per-customer task is also checked without Spark, on hash parts of the DuckDB store,
against the unbatched churn scoring with the model itself as scorer.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.churn import ChurnModel
from crm_analytics.churn import score as churn_score
from crm_analytics.clv import CLVModel, rfm_summary
from crm_analytics.errors import InputError, RunError
from crm_analytics.segmentation import rfm_scores, value_tiers
from crm_analytics.spark.segments import final_schema
from crm_analytics.spark.tasks import CustomerTask
from crm_analytics.store.sampling import customer_part
from tests.helpers import load_store, synthetic_data

# pyspark's own pandas conversion warns under pandas 3 (not ours to change).
pytestmark = pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
COLUMNS = [c.split()[0] for c in final_schema().split(", ") if not c.startswith("customer_id ")]


def _same(got: pd.Series, want: pd.Series) -> None:
    """Equal to 1e-9 relative (numbers) or exactly (labels), missing where missing."""
    if pd.api.types.is_numeric_dtype(want) and not pd.api.types.is_bool_dtype(want):
        np.testing.assert_allclose(pd.to_numeric(got).astype(float).to_numpy(),
                                   pd.to_numeric(want).astype(float).to_numpy(), rtol=1e-9, atol=0)
    else:
        def plain(s: pd.Series) -> list:
            return [None if pd.isna(v) else str(v) for v in s.astype(object)]
        assert plain(got) == plain(want)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """400 synthetic customers scored by the nightly DuckDB run (churn model trained and saved)."""
    store = load_store(synthetic_data(400, 7).tables())
    models = tmp_path_factory.mktemp("models")
    result = crm.run_batch(store, config={"model_dir": str(models)}, progress=False)
    assert "churn" not in result.skipped and "segments.needs" not in result.skipped
    return SimpleNamespace(store=store, result=result, model=models / "churn_model.skops",
                           scores=crm.latest_scores(store).sort_index())


@pytest.fixture(scope="module")
def spark_run(spark, scored, tmp_path_factory):
    from crm_analytics.spark import engine, run

    tables = tmp_path_factory.mktemp("full_run_tables")
    engine.export_store(scored.store, tables)
    out = tmp_path_factory.mktemp("full_run_out")
    result = run.score_run(spark, tables, out, as_of=scored.result.as_of, churn_model=scored.model,
                           partitions=3, run_id="full")
    got = engine.to_pandas(run.read_scores(spark, out)).set_index("customer_id").sort_index()
    return SimpleNamespace(result=result, scores=got, tables=tables, out=out)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")
@pytest.mark.parametrize("column", COLUMNS)
def test_spark_run_gives_duckdbs_scores(column, scored, spark_run):
    got, want = spark_run.scores, scored.scores
    assert got.index.tolist() == want.index.tolist()
    assert want[column].notna().sum() > 0, f"{column}: the DuckDB run has no value to compare"
    _same(got[column], want[column])



@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")
def test_spark_run_records_what_the_duckdb_run_decided(scored, spark_run):
    result = spark_run.result
    assert result.steps == ["clv", "churn", "segments"] and result.skipped == {}
    assert result.churn_scorer == scored.result.metrics["churn_scorer"]["scorer"]
    want = scored.result.metrics["clv"]["params"]
    np.testing.assert_allclose([result.params[k] for k in want], list(want.values()), rtol=1e-9)
    assert result.n_segments == scored.scores["needs_segment"].nunique() >= 2
    profiles = pd.read_parquet(spark_run.out / "results" / "needs_profiles" / "run_id=full")
    duck = crm.segmentation.load_profiles(scored.store)
    assert profiles["name"].tolist() == duck["name"].tolist()
    assert profiles["n_customers"].tolist() == duck["n_customers"].tolist()


@pytest.mark.slow
@pytest.mark.parametrize("scorer", ["model", "logistic", "bgnbd"])
def test_task_on_hash_parts_equals_unbatched_churn_scoring(scorer, scored):
    """No Spark: the task on three disjoint parts of the store scores as churn.score on the whole."""
    store, day = scored.store, scored.result.as_of
    model = ChurnModel.load(scored.model)
    want = churn_score(model, store, day, scorer=scorer).sort_index()
    bgnbd = CLVModel().fit(rfm_summary(store, day, time_unit="W"))
    task = CustomerTask(as_of=day.isoformat(), clv_model=None, btyd_model=json.dumps(bgnbd.to_dict()),
                        churn_model=scored.model.read_bytes(), churn_scorer=scorer)
    parts = []
    for k in range(3):
        with customer_part(store, k, 3) as sub:
            parts.append(task(sub))
    got = pd.concat(parts).set_index("customer_id").sort_index().loc[want.index]
    assert len(want) > 50
    for column in ("churn_probability", "risk_band", "revenue_at_risk", "reason_1"):
        _same(got[column], want[column])


def _tied_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "small": rng.integers(0, 7, n).astype(float),        # many ties
        "money": np.round(rng.lognormal(3, 1, n), 1),        # some ties
    })


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")
@pytest.mark.parametrize("driver_limit", [None, 0])  # ranked on the driver / by a distributed sort
@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_distributed_ranks_give_pandas_quintiles_and_tiers(spark, n, driver_limit):
    from crm_analytics.spark.segments import _quintile, _tier, apply_cuts, rank_cuts

    frame = _tied_frame(n, seed=n)
    frame.loc[frame.index[::9], "money"] = np.nan  # not ranked
    sdf = spark.createDataFrame(frame).repartition(4)
    for column, better in (("small", True), ("money", True), ("small", False)):
        cuts, count = rank_cuts(sdf, column, _quintile, descending=not better, driver_limit=driver_limit)
        assert count == frame[column].notna().sum()
        want = rfm_scores(frame[column], higher_is_better=better)
        if count == 1:
            want[want.notna()] = 5
        got = apply_cuts(frame[column], cuts)
        assert [None if pd.isna(v) else int(v) for v in got] == \
            [None if pd.isna(v) else int(v) for v in want]
    cuts, _ = rank_cuts(sdf, "money", _tier, descending=True, driver_limit=driver_limit)
    want = value_tiers(frame.rename(columns={"money": "clv"}))
    got = apply_cuts(frame["money"], cuts)
    assert got.where(got.notna(), "Unknown").tolist() == want.tolist()


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")
def test_needs_fitted_on_a_sample_still_assigns_every_buyer(spark, scored, spark_run, tmp_path):
    from crm_analytics.spark import engine, run

    result = run.score_run(spark, spark_run.tables, tmp_path, as_of=scored.result.as_of,
                           needs_fit_fraction=0.5, run_id="half")
    assert result.skipped == {"churn": "no churn model given (--churn-model)"}
    got = engine.to_pandas(run.read_scores(spark, tmp_path)).set_index("customer_id")
    buyers = scored.scores["needs_segment"].notna()
    assert got.loc[buyers[buyers].index, "needs_segment"].notna().all()
    assert got.loc[buyers[~buyers].index, "needs_segment"].isna().all()
    profiles = pd.read_parquet(tmp_path / "results" / "needs_profiles" / "run_id=half")
    fitted_on = profiles["n_customers"].sum() / buyers.sum()
    assert 0.35 < fitted_on < 0.65


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")
def test_churn_model_files_are_checked_before_anything_runs(spark, scored, spark_run, tmp_path):
    from crm_analytics.spark import run

    with pytest.raises(InputError, match="no such file"):
        run.score_run(spark, spark_run.tables, tmp_path, churn_model=tmp_path / "nope.skops")
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="bad.skops"):
        run.score_run(spark, spark_run.tables, tmp_path, churn_model=bad)
    # Trained on data through a later day than the run's as_of: look-ahead, refused.
    early = scored.result.as_of - dt.timedelta(days=400)
    with pytest.raises(InputError, match="trained on data through .* after as_of"):
        run.score_run(spark, spark_run.tables, tmp_path, as_of=early, churn_model=scored.model)
    assert run.latest_run(tmp_path) is None
    assert not (tmp_path / "customer_scores").exists() or not any((tmp_path / "customer_scores").iterdir())


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")
def test_a_young_store_degrades_instead_of_failing(spark, tmp_path):
    from crm_analytics.spark import engine, run

    store = load_store(synthetic_data(15, 3).tables())
    engine.export_store(store, tmp_path / "tables")
    result = run.score_run(spark, tmp_path / "tables", tmp_path / "out", partitions=2)
    assert result.status == "succeeded" and result.customers == len(store.table("customers"))
    assert set(result.skipped) >= {"clv", "churn", "segments.needs", "segments.value_tier"}
    got = engine.to_pandas(run.read_scores(spark, tmp_path / "out"))
    assert got["size_segment"].notna().all() and got["value_tier"].eq("Unknown").all()
    assert got["rfm_segment"].notna().all()


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*")
def test_a_failing_task_publishes_nothing(spark, scored, spark_run, tmp_path, monkeypatch):
    from crm_analytics.spark import run

    run.score_run(spark, spark_run.tables, tmp_path, as_of=scored.result.as_of, run_id="good")

    def broken(store):
        raise RuntimeError("executor lost")

    real = run.map_stores
    monkeypatch.setattr(run, "map_stores", lambda frame, task, schema: real(frame, broken, schema))
    with pytest.raises(RunError, match="Spark run bad .* failed .*previous run stays the latest"):
        run.score_run(spark, spark_run.tables, tmp_path, as_of=scored.result.as_of, run_id="bad")
    assert run.latest_run(tmp_path).run_id == "good"
    assert not (tmp_path / "customer_scores" / "run_id=bad").exists()
    assert not (tmp_path / "results" / "needs_profiles" / "run_id=bad").exists()
