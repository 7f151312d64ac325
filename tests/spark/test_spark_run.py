"""A Spark scoring run writes Parquet scores by run id and a marker last: visible only when
complete; a failed or killed run leaves the previous run the latest."""

from __future__ import annotations

import numpy as np
import pytest

from crm_analytics.clv import CLVModel, rfm_summary
from crm_analytics.clv.model import customer_value_scores
from crm_analytics.errors import InputError, RunError
from tests.spark.conftest import AS_OF

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
]


@pytest.fixture(scope="module")
def tables(duck_store, tmp_path_factory):
    from crm_analytics.spark import engine

    folder = tmp_path_factory.mktemp("run_input")
    engine.export_store(duck_store, folder)
    return folder


def test_a_run_is_published_with_duckdbs_scores(spark, tables, duck_store, tmp_path):
    from crm_analytics.spark import engine, run

    result = run.score_run(spark, tables, tmp_path, as_of=AS_OF, run_id="r1")
    assert result.status == "succeeded" and result.steps == ["clv", "segments"]
    assert (tmp_path / "runs" / "r1.json").is_file()
    assert run.latest_run(tmp_path).run_id == "r1"
    got = engine.to_pandas(run.read_scores(spark, tmp_path)).set_index("customer_id").sort_index()
    summary = rfm_summary(duck_store, AS_OF, time_unit="W")
    want = customer_value_scores(CLVModel().fit(summary), summary).sort_index()
    assert result.customers == len(got) == len(want)
    np.testing.assert_allclose(got["clv"].to_numpy(), want["clv"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got["p_alive"].to_numpy(), want["p_alive"].to_numpy(), rtol=1e-9)


def test_a_failed_run_leaves_the_previous_one(spark, tables, tmp_path, monkeypatch):
    from crm_analytics.spark import run

    run.score_run(spark, tables, tmp_path, as_of=AS_OF, run_id="good")
    real = run.final_schema
    # The last pass yields rows that do not fit its schema: Spark fails while writing.
    monkeypatch.setattr(run, "final_schema", lambda: real().replace("clv double", "clv date"))
    with pytest.raises(RunError, match="Spark run bad .* failed .*previous run stays the latest"):
        run.score_run(spark, tables, tmp_path, as_of=AS_OF, run_id="bad")
    assert run.latest_run(tmp_path).run_id == "good"
    assert not (tmp_path / "customer_scores" / "run_id=bad").exists()
    assert not (tmp_path / "runs" / "bad.json").exists()


def test_a_killed_runs_files_are_ignored_then_removed(spark, tables, tmp_path):
    from crm_analytics.spark import run

    run.score_run(spark, tables, tmp_path, as_of=AS_OF, run_id="first")
    # A run killed after writing part of its scores: files, no marker.
    orphan = tmp_path / "customer_scores" / "run_id=killed"
    orphan.mkdir(parents=True)
    (orphan / "part-0.parquet").write_bytes(b"not even parquet")
    assert run.latest_run(tmp_path).run_id == "first"
    assert run.read_scores(spark, tmp_path).count() > 100
    run.score_run(spark, tables, tmp_path, as_of=AS_OF, run_id="second")
    assert not orphan.exists()
    assert run.latest_run(tmp_path).run_id == "second"


def test_bad_inputs_are_input_errors(spark, tables, tmp_path):
    from crm_analytics.spark import run

    with pytest.raises(InputError, match="no customers.parquet"):
        run.score_run(spark, tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(InputError, match="no succeeded Spark run yet"):
        run.read_scores(spark, tmp_path / "out")
    with pytest.raises(InputError, match="plain name"):
        run.score_run(spark, tables, tmp_path / "out", as_of=AS_OF, run_id="../escape")
    assert run.latest_run(tmp_path / "out") is None


def test_cli_score_on_spark(spark, tables, tmp_path, capsys):
    from crm_analytics.cli import main
    from crm_analytics.spark import run

    code = main(["score", "--engine", "spark", "--input", str(tables), "--output", str(tmp_path),
                 "--as-of", AS_OF.isoformat(), "--partitions", "3", "--needs-fit-fraction", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    latest = run.latest_run(tmp_path)
    assert f"Spark run {latest.run_id} as of {AS_OF.isoformat()}: succeeded" in out
    assert "(clv, segments)" in out and "skipped churn: no churn model given (--churn-model)" in out
    assert main(["score", "--partitions", "3"]) == 2
    err = capsys.readouterr().err
    assert "--churn-model, --partitions and --needs-fit-fraction go with --engine spark" in err
    assert main(["score", "--engine", "spark", "--input", str(tables), "--output", str(tmp_path),
                 "--needs-fit-fraction", "0"]) == 2
    assert "needs_fit_fraction must be a number in (0, 1]" in capsys.readouterr().err
    assert main(["score", "--engine", "spark", "--input", str(tables)]) == 2
    assert "needs --input DIR (Parquet tables) and --output DIR" in capsys.readouterr().err


def test_a_delta_table_without_delta_spark_is_a_clear_input_error(spark, tables, tmp_path):
    from importlib.util import find_spec

    from crm_analytics.cli import main
    from crm_analytics.spark import run

    if find_spec("delta") is not None:
        pytest.skip("delta-spark is installed here")
    folder = tmp_path / "delta_tables"
    (folder / "customers" / "_delta_log").mkdir(parents=True)
    with pytest.raises(InputError, match="Delta table, and the delta-spark package is not installed"):
        run.score_run(spark, folder, tmp_path / "out", as_of=AS_OF)
    assert run.latest_run(tmp_path / "out") is None
    assert main(["score", "--engine", "spark", "--input", str(folder), "--output", str(tmp_path / "out"),
                 "--as-of", AS_OF.isoformat()]) == 2


def test_contract_parquet_from_elsewhere_is_conformed_and_bad_rows_kept(spark, tables, tmp_path):
    """Files another system wrote: no customer_key, other types, extra columns, bad rows."""
    import pandas as pd

    from crm_analytics.spark import engine, run

    other = tmp_path / "other"
    other.mkdir()
    for table in ("customers", "transactions", "tickets", "survey_responses", "customer_attributes"):
        frame = pd.read_parquet(tables / f"{table}.parquet")
        frame = frame.drop(columns=["customer_key"], errors="ignore")
        frame["exported_by"] = "crm-x"  # not in the contract: dropped
        if table == "transactions":
            frame["amount"] = frame["amount"].astype(float).map(lambda v: f"{v:.4f}")  # text money
            frame["transaction_date"] = frame["transaction_date"].dt.strftime("%Y-%m-%d %H:%M:%S")
            frame["customer_id"] = " " + frame["customer_id"]  # padded ids are trimmed
            bad = frame.iloc[:2].copy()
            bad["transaction_id"] = ["BAD1", "BAD2"]
            bad.loc[bad.index[0], "customer_id"] = "  "
            bad.loc[bad.index[1], "amount"] = "twelve"
            frame = pd.concat([frame, bad], ignore_index=True)
        frame.to_parquet(other / f"{table}.parquet", index=False)
    clean = run.score_run(spark, tables, tmp_path / "clean", as_of=AS_OF, run_id="clean")
    result = run.score_run(spark, other, tmp_path / "other_out", as_of=AS_OF, run_id="other")
    assert result.rejected == {"transactions": 2} and clean.rejected == {}
    kept = pd.read_parquet(tmp_path / "other_out" / "rejects" / "transactions" / "run_id=other")
    assert sorted(kept["transaction_id"]) == ["BAD1", "BAD2"]
    assert sorted(kept["reject_reason"]) == ["amount: not a valid decimal(18,4)",
                                             "customer_id: a required value is empty"]
    def scores(folder):
        return engine.to_pandas(run.read_scores(spark, folder)).set_index("customer_id").sort_index()

    want, got = scores(tmp_path / "clean"), scores(tmp_path / "other_out")
    assert got.index.tolist() == want.index.tolist()
    for column in ("clv", "p_alive", "net_spend_365d"):
        np.testing.assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-9)
    for column in ("rfm_segment", "value_tier", "size_segment", "needs_segment_name"):
        assert got[column].astype(object).tolist() == want[column].astype(object).tolist()


def test_a_table_without_a_required_column_names_file_and_column(spark, tables, tmp_path):
    import pandas as pd

    from crm_analytics.spark import run

    folder = tmp_path / "tables"
    folder.mkdir()
    pd.read_parquet(tables / "customers.parquet").to_parquet(folder / "customers.parquet")
    pd.read_parquet(tables / "transactions.parquet").drop(columns=["amount"]).to_parquet(
        folder / "transactions.parquet")
    with pytest.raises(InputError, match=r"transactions.parquet: required column\(s\) \['amount'\] missing"):
        run.score_run(spark, folder, tmp_path / "out", as_of=AS_OF)
    assert run.latest_run(tmp_path / "out") is None
