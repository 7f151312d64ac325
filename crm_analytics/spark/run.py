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

What a run computes -- the DuckDB run's ``clv``, ``churn`` and ``segments`` score
columns, with the same functions -- and how: see :func:`score_run`. Result tables
(the needs segment profiles) go to ``<output>/results/<table>/run_id=<id>/``.

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

from crm_analytics.clv.model import CLVModel
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError, RunError
from crm_analytics.spark import scoring
from crm_analytics.spark.engine import check_session, register_tables
from crm_analytics.spark.partitions import by_customer, map_stores
from crm_analytics.spark.segments import final_schema, profiles_frame, profiles_from_frame, segments_step
from crm_analytics.spark.tasks import PART_SCHEMA, CustomerTask

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkRunResult", "latest_run", "read_scores", "score_run"]

SCORES = "customer_scores"
RUNS = "runs"
RESULTS = "results"
REJECTS = "rejects"
#: Fewest customers with purchases the CLV model is fitted on (as the DuckDB run's clv step).
MIN_CLV_CUSTOMERS = 20


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
    skipped: dict[str, str] = field(default_factory=dict)
    #: Input rows left out (an empty required column, a value of the wrong type), per table;
    #: kept with their reason in ``<output>/rejects/<table>/run_id=<id>/``.
    rejected: dict[str, int] = field(default_factory=dict)
    churn_scorer: str = ""
    n_segments: int = 0
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
    """Delete score and result partitions of runs without a marker (failed or killed runs)."""
    marked = {m.get("run_id") for m in _markers(output)}
    removed = []
    folders = [output / SCORES]
    for parent in (output / RESULTS, output / REJECTS):
        if parent.is_dir():
            folders += [f for f in parent.iterdir() if f.is_dir()]
    for folder in folders:
        if folder.is_dir():
            for part in folder.glob("run_id=*"):
                if part.name.split("=", 1)[1] not in marked:
                    shutil.rmtree(part, ignore_errors=True)
                    removed.append(part.name)
    return removed


def _remove_run_files(output: Path, run_id: str) -> None:
    shutil.rmtree(output / SCORES / f"run_id={run_id}", ignore_errors=True)
    for parent in (output / RESULTS, output / REJECTS):
        if parent.is_dir():
            for folder in parent.iterdir():
                shutil.rmtree(folder / f"run_id={run_id}", ignore_errors=True)


def _keep_rejects(spark: SparkSession, rejects: dict[str, Any], output: Path, run_id: str) -> dict[str, int]:
    """Write the input rows left out, with their reason, per table; their counts."""
    counts = {}
    for table, rows in rejects.items():
        folder = output / REJECTS / table / f"run_id={run_id}"
        rows.write.mode("error").parquet(str(folder))
        n = int(spark.read.parquet(str(folder)).count())
        if n:
            counts[table] = n
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return counts


def _fraction(value: Any) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = float("nan")
    if not 0.0 < fraction <= 1.0:
        raise InputError(f"needs_fit_fraction must be a number in (0, 1]; got {value!r}")
    return fraction


def _read_churn_model(path: Any, cfg: Any) -> dict[str, Any]:
    """The churn model file's content, the model (checked) and the scorer its back-test picks."""
    from crm_analytics.scoring.models import choose_scorer

    path = Path(path)
    if not path.is_file():
        raise InputError(f"churn model {path}: no such file; give the churn_model.skops a DuckDB run "
                         "saved (models/<store>/) or `crm-analytics train` wrote")
    from crm_analytics.churn import ChurnModel

    content = path.read_bytes()
    model = ChurnModel.load(path)  # checked here, naming the file (ModelFileError is an InputError)
    scorer, why = choose_scorer(getattr(model, "metrics_", None), cfg.churn_fallback_margin)
    return {"content": content, "model": model, "scorer": scorer, "why": why, "path": path}


def _check_churn_date(churn: dict[str, Any], day: dt.date) -> None:
    end = getattr(churn["model"], "label_window_end_", None)
    if end is None or end > day:
        raise InputError(f"churn model {churn['path']} was trained on data through {end}, after as_of "
                         f"{day}; train one as of {day} or earlier (a backfill must not use later data)")


def _customer_task(histories: Any, day: dt.date, cfg: Any, churn: dict[str, Any] | None,
                   result: SparkRunResult) -> tuple[CustomerTask, list[str]]:
    """Fit the CLV model(s) on the driver; the per-customer task that scores with them."""
    notes: list[str] = []
    buyers = int(histories["customers"].sum()) if len(histories) else 0
    clv_json = btyd_json = None
    if buyers < MIN_CLV_CUSTOMERS:
        result.skipped["clv"] = (f"only {buyers} customers with purchases up to {day}; the purchase "
                                 f"model needs at least {MIN_CLV_CUSTOMERS}")
    else:
        model = CLVModel(purchase_model=cfg.purchase_model).fit(histories, weights="customers")
        clv_json = json.dumps(model.to_dict())  # JSON, never a pickle of the model, goes to executors
        result.params = {k: float(v) for k, v in model.params_.items()}
        result.steps.append("clv")
    content, scorer = None, "model"
    if churn is None:
        result.skipped["churn"] = "no churn model given (--churn-model)"
    else:
        _check_churn_date(churn, day)
        content, scorer = churn["content"], churn["scorer"]
        if churn["model"].uses_clv_:
            if buyers == 0:
                content = None
                result.skipped["churn"] = f"no customer with purchases up to {day}"
            else:
                try:
                    bgnbd = model if clv_json and cfg.purchase_model == "bgnbd" else CLVModel(
                        purchase_model="bgnbd").fit(histories, weights="customers")
                    btyd_json = json.dumps(bgnbd.to_dict())
                except Exception as exc:  # the churn features need it: no churn scores then
                    content = None
                    result.skipped["churn"] = f"the BG/NBD model behind the churn features failed: {exc}"
        if content is not None:
            result.steps.append("churn")
            result.churn_scorer = scorer
            if scorer != "model":
                notes.append(churn["why"])
    result.steps.append("segments")
    task = CustomerTask(
        as_of=day.isoformat(), large_employees=cfg.large_employees, large_revenue=cfg.large_revenue,
        clv_model=clv_json, btyd_model=btyd_json, horizon_days=float(cfg.clv_horizon_days),
        annual_discount_rate=float(cfg.annual_discount_rate), churn_model=content, churn_scorer=scorer)
    return task, notes


def _previous_profiles(spark: SparkSession, output: Path) -> Any:
    """The needs profiles of the latest succeeded run (for aligning segment ids), or None."""
    latest = latest_run(output)
    if latest is None:
        return None
    folder = output / RESULTS / "needs_profiles" / f"run_id={latest.run_id}"
    if not folder.is_dir():
        return None
    return profiles_from_frame(spark.read.parquet(str(folder)).toPandas())


def score_run(
    spark: SparkSession, input: str | os.PathLike, output: str | os.PathLike, *,
    as_of: Any = None, config: Any = None, churn_model: str | os.PathLike | None = None,
    partitions: int | None = None, needs_fit_fraction: float = 1.0,
    purchase_model: str | None = None, horizon_days: float | None = None,
    annual_discount_rate: float | None = None, run_id: str | None = None,
) -> SparkRunResult:
    """Score every customer of the Parquet tables in ``input`` on Spark; write to ``output``.

    The run computes what the nightly DuckDB run's ``clv``, ``churn`` and ``segments``
    steps compute, with the same code (see :mod:`crm_analytics.spark.tasks`):

    1. the BTYD summary (``clv/sql/rfm_summary.sql`` translated to Spark SQL), its
       distinct histories collected and the CLV model fitted on the driver;
    2. one shuffle bringing each customer's rows together
       (:func:`~crm_analytics.spark.partitions.by_customer`), then per partition, on an
       in-memory DuckDB store: size segment, CLV scores, churn scores (with
       ``churn_model``), RFM measures and needs features;
    3. the segments that rank all customers (RFM quintiles, value tiers) from
       distributed ranks, the needs segments fitted on the driver
       (:mod:`crm_analytics.spark.segments`);
    4. the scores written as Parquet, the needs profiles as a result table, and the
       run's marker last.

    A step the data cannot support is skipped and its reason recorded in the marker
    (``skipped``), as in the DuckDB run: fewer than 20 buyers (no CLV), fewer than 50
    (no needs segments), no churn model given (no churn scores).

    Parameters
    ----------
    spark : SparkSession
        From :func:`crm_analytics.spark.engine.spark_session` (UTC).
    input : path
        A folder with ``<table>.parquet`` per table of the data contract
        (:func:`crm_analytics.spark.engine.export_store` writes one).
    output : path
        Where runs go: ``customer_scores/run_id=<id>/``, ``results/<table>/run_id=<id>/``
        and ``runs/<id>.json``.
    as_of : date-like, optional
        Default: the last transaction day in the input.
    config : RunConfig, dict or path to a TOML file, optional
        The nightly run's options (:class:`crm_analytics.scoring.config.RunConfig`):
        purchase model, CLV horizon and discount rate, size thresholds, needs
        segments, seed, churn fallback margin.
    churn_model : path, optional
        A churn model file saved by a DuckDB run (``models/<store>/churn_model.skops``)
        or ``crm-analytics train``; its content is read once on the driver and once per
        Python worker. The scorer (model or baseline) is chosen from its back-test as the
        DuckDB run chooses it.
    partitions : int, optional
        Tasks of the per-customer step; default ``spark.sql.shuffle.partitions``.
    needs_fit_fraction : float, default 1.0
        Share of the buyers (a seeded hash sample) whose needs features are collected
        to fit the needs segments on the driver; every buyer is then assigned in the
        executors. 1.0 gives the DuckDB run's segments; lower it when the buyers'
        features do not fit in the driver's memory (about 20 numbers per buyer).
    purchase_model, horizon_days, annual_discount_rate
        Override the configuration's values.
    run_id : str, optional
        Default: a timestamp and a random suffix.

    Returns
    -------
    SparkRunResult
        ``status == 'succeeded'``; the run is then the latest.

    Raises
    ------
    InputError
        Bad input folder, configuration or churn model file, or nothing to score;
        nothing is written.
    RunError
        The run failed while computing or writing; the previous run stays the latest.
    """
    from pyspark import StorageLevel

    from crm_analytics.scoring.config import RunConfig, load_config

    check_session(spark)
    output = Path(output)
    if isinstance(config, RunConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = load_config(overrides=config)
    else:
        cfg = load_config(config)
    overrides = {"purchase_model": purchase_model, "clv_horizon_days": horizon_days,
                 "annual_discount_rate": annual_discount_rate}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        cfg = load_config(overrides={**cfg.to_dict(), **overrides}, environ={})
    fraction = _fraction(needs_fit_fraction)
    churn = _read_churn_model(churn_model, cfg) if churn_model is not None else None
    if partitions is not None and (isinstance(partitions, bool) or not isinstance(partitions, int)
                                   or partitions < 1):
        raise InputError(f"partitions must be a whole number >= 1; got {partitions!r}")
    rejects: dict[str, Any] = {}
    try:
        frames = register_tables(spark, input, rejects=rejects)
    except FileNotFoundError as exc:
        raise InputError(f"{exc}") from None
    day = to_date(as_of, "as_of") if as_of is not None else _default_as_of(spark)
    run_id = run_id or f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if "/" in run_id or run_id.startswith("."):
        raise InputError(f"run_id {run_id!r} must be a plain name (no '/', not starting with '.')")
    n_parts = int(partitions or spark.conf.get("spark.sql.shuffle.partitions"))
    result = SparkRunResult(run_id=run_id, as_of=day.isoformat(), status="running", started_at=_now())
    _remove_unmarked(output)
    target = output / SCORES / f"run_id={run_id}"
    results = output / RESULTS
    summary = scoring.summary_frame(spark, day).persist(StorageLevel.MEMORY_AND_DISK)
    parts = None
    try:
        task, notes = _customer_task(scoring._histories(summary), day, cfg, churn, result)
        parts = map_stores(by_customer(frames, n_parts), task, PART_SCHEMA).persist(
            StorageLevel.MEMORY_AND_DISK)
        finish, segmenter = segments_step(
            parts, n_segments=cfg.needs_segments, seed=cfg.seed, fraction=fraction,
            previous=_previous_profiles(spark, output), skipped=result.skipped)
        scores = parts.mapInPandas(finish, final_schema())
        scores.write.mode("error").parquet(str(target))
        if segmenter is not None:
            result.n_segments = int(segmenter.n_segments_)
            spark.createDataFrame(profiles_frame(segmenter, run_id)).write.mode("error").parquet(
                str(results / "needs_profiles" / f"run_id={run_id}"))
        result.customers = int(spark.read.parquet(str(target)).count())
        result.rejected = _keep_rejects(spark, rejects, output, run_id)
    except InputError:
        _remove_run_files(output, run_id)
        raise
    except Exception as exc:  # Spark's own errors come as many types: one line, nothing published
        _remove_run_files(output, run_id)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunError(f"Spark run {run_id} as of {day} failed ({type(exc).__name__}: {first[:300]}); "
                       "the previous run stays the latest") from exc
    finally:
        summary.unpersist()
        if parts is not None:
            parts.unpersist()
    result.message = "; ".join(notes)
    result.status = "succeeded"
    result.finished_at = _now()
    _write_marker(output, result)
    return result
