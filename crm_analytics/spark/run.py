"""A scoring run on Spark: Parquet (or Delta) in, Parquet scores partitioned by run id out.

The same registry semantics as the DuckDB store's runs, on files:

* the run's scores are written under ``<output>/customer_scores/run_id=<id>/``;
* only then is its marker ``<output>/runs/<id>.json`` written (to a temporary name,
  then renamed: a reader sees the whole marker or none), holding the run's as_of,
  status, counts and the model's parameters;
* readers (:func:`latest_run`, :func:`read_scores`) take only runs with a
  ``succeeded`` marker, so a run is visible only when complete, and a run that
  fails -- or is killed -- leaves the previous one the latest: its partial files
  have no marker and are removed by the next run.

What runs on Spark today: the CLV scores (:func:`crm_analytics.spark.scoring.clv_scores`:
BTYD summary, histories fitted on the driver, every customer scored in
``mapInPandas``). Churn and segments still run on DuckDB.

The marker is written with the local file system's atomic rename, so ``output`` is a
local or mounted (NFS, HDFS fuse) path; for an object store, write the scores there
with the same layout and keep the markers on a file system that renames atomically.

Examples
--------
Needs Java and pyspark:

>>> from crm_analytics.spark import engine, run                   # doctest: +SKIP
>>> spark = engine.spark_session()                              # doctest: +SKIP
>>> result = run.score_run(spark, "tables/", "scores/")          # doctest: +SKIP
>>> run.read_scores(spark, "scores/").count()                   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError, RunError
from crm_analytics.spark import scoring
from crm_analytics.spark.engine import check_session, register_tables

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkRunResult", "latest_run", "read_scores", "score_run"]

SCORES = "customer_scores"
RUNS = "runs"


@dataclass
class SparkRunResult:
    """What a Spark scoring run did (also the content of its marker file)."""

    run_id: str
    as_of: str
    status: str
    customers: int = 0
    started_at: str = ""
    finished_at: str = ""
    engine: str = "spark"
    steps: list[str] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    message: str = ""


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _markers(output: Path) -> list[dict[str, Any]]:
    folder = output / RUNS
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a damaged marker is no run
    return found


def latest_run(output: str | os.PathLike) -> SparkRunResult | None:
    """The newest succeeded run in ``output`` (by finish time), or None.

    Examples
    --------
    >>> import tempfile
    >>> latest_run(tempfile.mkdtemp()) is None
    True
    """
    done = [m for m in _markers(Path(output)) if m.get("status") == "succeeded"]
    if not done:
        return None
    newest = max(done, key=lambda m: (m.get("finished_at", ""), m.get("run_id", "")))
    return SparkRunResult(**{k: v for k, v in newest.items() if k in SparkRunResult.__dataclass_fields__})


def read_scores(spark: SparkSession, output: str | os.PathLike, run_id: str | None = None) -> DataFrame:
    """The scores of the latest succeeded run (or of ``run_id``, which must have succeeded)."""
    output = Path(output)
    if run_id is None:
        latest = latest_run(output)
        if latest is None:
            raise InputError(f"{output}: no succeeded Spark run yet; run crm-analytics score --engine spark")
        run_id = latest.run_id
    elif not any(m.get("run_id") == run_id and m.get("status") == "succeeded" for m in _markers(output)):
        raise InputError(f"{output}: no succeeded run {run_id!r}; see {output / RUNS}")
    return spark.read.parquet(str(output / SCORES / f"run_id={run_id}"))


def _default_as_of(spark: SparkSession) -> dt.date:
    row = spark.sql("SELECT CAST(max(transaction_date) AS DATE) AS d FROM transactions").collect()[0]
    if row["d"] is None:
        raise InputError("no transactions in the input: nothing to score (check --input)")
    return row["d"]


def _write_marker(output: Path, result: SparkRunResult) -> None:
    folder = output / RUNS
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{result.run_id}.json.tmp"
    tmp.write_text(json.dumps(asdict(result), indent=1), encoding="utf-8")
    os.replace(tmp, folder / f"{result.run_id}.json")


def _remove_unmarked(output: Path) -> list[str]:
    """Delete score partitions of runs without a marker (failed or killed runs)."""
    marked = {m.get("run_id") for m in _markers(output)}
    removed = []
    scores = output / SCORES
    if scores.is_dir():
        for part in scores.glob("run_id=*"):
            if part.name.split("=", 1)[1] not in marked:
                shutil.rmtree(part, ignore_errors=True)
                removed.append(part.name)
    return removed


def score_run(
    spark: SparkSession, input: str | os.PathLike, output: str | os.PathLike, *,
    as_of: Any = None, purchase_model: str = "bgnbd", horizon_days: float = 365,
    annual_discount_rate: float = 0.1, run_id: str | None = None,
) -> SparkRunResult:
    """Score every customer of the Parquet tables in ``input`` on Spark; write to ``output``.

    Parameters
    ----------
    spark : SparkSession
        From :func:`crm_analytics.spark.engine.spark_session` (UTC).
    input : path
        A folder with ``<table>.parquet`` per table of the data contract
        (:func:`crm_analytics.spark.engine.export_store` writes one).
    output : path
        Where runs go: ``customer_scores/run_id=<id>/`` and ``runs/<id>.json``.
    as_of : date-like, optional
        Default: the last transaction day in the input.
    purchase_model, horizon_days, annual_discount_rate
        As in the nightly run's configuration.
    run_id : str, optional
        Default: a timestamp and a random suffix.

    Returns
    -------
    SparkRunResult
        ``status == 'succeeded'``; the run is then the latest.

    Raises
    ------
    InputError
        Bad input folder or nothing to score; nothing is written.
    RunError
        The run failed while computing or writing; the previous run stays the latest.
    """
    from pyspark import StorageLevel

    check_session(spark)
    output = Path(output)
    try:
        register_tables(spark, input)
    except FileNotFoundError as exc:
        raise InputError(f"{exc}") from None
    day = to_date(as_of, "as_of") if as_of is not None else _default_as_of(spark)
    run_id = run_id or f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if "/" in run_id or run_id.startswith("."):
        raise InputError(f"run_id {run_id!r} must be a plain name (no '/', not starting with '.')")
    result = SparkRunResult(run_id=run_id, as_of=day.isoformat(), status="running", started_at=_now())
    _remove_unmarked(output)
    target = output / SCORES / f"run_id={run_id}"
    # Read twice (histories, then scores): computed once, kept in memory or on disk.
    summary = scoring.summary_frame(spark, day).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        model, scores = scoring.clv_scores(spark, day, purchase_model=purchase_model,
                                           horizon_days=horizon_days,
                                           annual_discount_rate=annual_discount_rate, summary=summary)
        scores.write.mode("error").parquet(str(target))
        result.customers = int(spark.read.parquet(str(target)).count())
    except InputError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    except Exception as exc:  # Spark's own errors come as many types: one line, nothing published
        shutil.rmtree(target, ignore_errors=True)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunError(f"Spark run {run_id} as of {day} failed ({type(exc).__name__}: {first[:300]}); "
                       "the previous run stays the latest") from exc
    finally:
        summary.unpersist()
    result.params = {k: float(v) for k, v in model.params_.items()}
    result.steps = ["clv"]
    result.status = "succeeded"
    result.finished_at = _now()
    _write_marker(output, result)
    return result
