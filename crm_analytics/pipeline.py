"""The nightly scoring run: one run_id, every module as a step, written atomically.

A run reads the store, computes customer scores step by step (attributes, CLV
and revenue potential, churn, satisfaction, segments) and then writes
everything — the ``runs`` row, ``customer_scores`` and the aggregate results
the dashboards show (``run_results``) — in one short transaction. A crash or
``kill -9`` before that transaction leaves the store exactly as it was: the
previous run stays the latest.

Concurrency (DuckDB allows one writing process per file): when the run is
given a file path it computes on a *read-only* connection, so analysts reading
the store with ``Store(path, read_only=True)`` keep working; it then opens the
file for writing only for the final transaction (waiting, with back-off, up to
``busy_timeout`` seconds for readers to let go). Readers opened read-only retry
the same way while that transaction runs, so they never fail; they see either
the previous run or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import logging
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.config import RunConfig, load_config
from crm_analytics.errors import CRMError, InputError, RunError, StoreBusyError
from crm_analytics.features import SizeThresholds, customer_attributes
from crm_analytics.queries import load_query
from crm_analytics.store import SYSTEM_DDL, Store
from crm_analytics.timeutils import as_of_params, to_date

log = logging.getLogger(__name__)

PACKAGES = ("crm_analytics", "pandas", "numpy", "scikit-learn", "lifetimes", "duckdb",
            "statsmodels", "plotly", "skops")


# -- the run context ------------------------------------------------------------------------
@dataclass
class RunContext:
    """What the steps of one run share: inputs, the growing score table, results."""

    store: Store
    config: RunConfig
    run_id: str
    as_of: dt.date
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)
    on_commit: list[Callable[[Store], None]] = field(default_factory=list)

    def add_scores(self, frame: pd.DataFrame, *, overwrite: bool = False) -> None:
        """Join per-customer columns (indexed by customer_id) onto the scores.

        Columns the scores already have are kept (earlier steps, such as the
        customer attributes, are authoritative) unless ``overwrite``.
        """
        if frame is None or frame.empty:
            return
        frame = frame.copy()
        frame.index = frame.index.astype(str)
        frame.index.name = "customer_id"
        dupes = [c for c in frame.columns if c in self.scores.columns]
        if overwrite:
            self.scores = self.scores.drop(columns=dupes)
        else:
            frame = frame.drop(columns=dupes)
        self.scores = self.scores.join(frame, how="left")


@dataclass
class RunResult:
    """What :func:`run_batch` returns: the run's id, status and what it produced."""

    run_id: str
    as_of: dt.date
    status: str
    customers: int
    seconds: float
    step_seconds: dict[str, float]
    metrics: dict[str, Any]
    notes: list[str]
    dashboard_dir: str | None = None

    def __repr__(self) -> str:
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in self.step_seconds.items())
        lines = [
            f"RunResult(run_id={self.run_id!r}, as_of={self.as_of}, status={self.status})",
            f"  {self.customers:,} customers scored in {self.seconds:.1f} s ({steps})",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        if self.dashboard_dir:
            lines.append(f"  dashboards: {self.dashboard_dir}")
        return "\n".join(lines)


# -- steps ----------------------------------------------------------------------------------
def _optional(module: str) -> Any | None:
    """Import a module of this package if it exists (steps plug in as modules land)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("crm_analytics"):
            return None
        raise


def step_inputs(ctx: RunContext) -> None:
    counts = ctx.store.sql(load_query("sql/table_counts.sql"), {"cutoff": as_of_params(ctx.as_of)["cutoff"]})
    ctx.metrics["input_rows"] = {r.table_name: int(r.n_rows) for r in counts.itertuples()}
    if ctx.metrics["input_rows"].get("customers", 0) == 0:
        raise InputError(f"no customers in {ctx.store.path} as of {ctx.as_of}; load data first")


def step_attributes(ctx: RunContext) -> None:
    thresholds = SizeThresholds(ctx.config.large_employees, ctx.config.large_revenue)
    attrs = customer_attributes(ctx.store, ctx.as_of, thresholds)
    keep = ["name", "customer_type", "size_band", "industry", "country", "region",
            "employees", "annual_revenue", "created_at", "marketing_opt_in"]
    ctx.scores = attrs[keep].copy()
    ctx.scores.index.name = "customer_id"
    ctx.artifacts["attributes"] = attrs
    end = pd.Timestamp(as_of_params(ctx.as_of)["cutoff"])
    revenue = ctx.store.sql(load_query("sql/customer_revenue.sql"),
                            {"cutoff": end, "start": end - pd.Timedelta(days=365)})
    revenue = revenue.set_index("customer_id")
    ctx.add_scores(revenue)
    ctx.scores[["revenue_365d", "transactions_365d"]] = (
        ctx.scores[["revenue_365d", "transactions_365d"]].fillna(0)
    )
    ctx.results["revenue_by_month"] = ctx.store.sql(
        load_query("sql/revenue_by_month.sql"), {"cutoff": end, "start": end - pd.DateOffset(months=24)}
    )


def _first(frame: pd.DataFrame | None, column: str) -> float:
    if frame is None or column not in getattr(frame, "columns", ()) or frame.empty:
        return float("nan")
    value = pd.to_numeric(frame[column], errors="coerce").iloc[0]
    return float(value)


def summarise(ctx: RunContext) -> pd.DataFrame:
    """The run's headline figures (one row), as the overview dashboard shows them."""
    s = ctx.scores
    col = lambda name: s[name] if name in s.columns else pd.Series(dtype="float64")  # noqa: E731
    nps = ctx.results.get("nps_overall")
    service = ctx.results.get("service_overall")
    index = ctx.results.get("satisfaction_index")
    row = {
        "as_of": pd.Timestamp(ctx.as_of),
        "customers": int(len(s)),
        "active_customers": int((col("transactions_365d") > 0).sum()),
        "revenue_365d": float(col("revenue_365d").sum()),
        "total_clv": float(col("clv").sum()) if "clv" in s.columns else float("nan"),
        "revenue_at_risk": float(col("revenue_at_risk").sum()) if "revenue_at_risk" in s.columns
        else float("nan"),
        "high_risk_customers": int((col("risk_band") == "high").sum()),
        "nps": _first(nps, "nps"),
        "nps_ci_lower": _first(nps, "ci_lower"),
        "nps_ci_upper": _first(nps, "ci_upper"),
        "nps_n": _first(nps, "n"),
        "satisfaction_index": float("nan"),
        "sla_compliance": _first(service, "sla_compliance"),
    }
    if index is not None and not index.empty:
        target = "satisfaction" if "satisfaction" in index.index else index.index[0]
        row["satisfaction_index"] = float(pd.to_numeric(index.iloc[:, 0], errors="coerce").get(target))
    return pd.DataFrame([row])


STEPS: dict[str, Callable[[RunContext], None]] = {
    "inputs": step_inputs,
    "attributes": step_attributes,
}


def register_step(name: str) -> Callable[[Callable[[RunContext], None]], Callable[[RunContext], None]]:
    """Decorator adding a step (modules plug in here)."""

    def deco(fn: Callable[[RunContext], None]) -> Callable[[RunContext], None]:
        STEPS[name] = fn
        return fn

    return deco


def _load_module_steps() -> None:
    # Each module's steps live in crm_analytics/steps.py so that importing the
    # pipeline never fails because one module is missing.
    importlib.import_module("crm_analytics.steps")


# -- results tables -------------------------------------------------------------------------
# The store creates these too; a store made by an older version gets them here.
RESULT_DDL = tuple(d for d in SYSTEM_DDL if "runs" in d or "run_results" in d or "customer_scores" in d)


def _sql_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "BOOLEAN"
    if pd.api.types.is_numeric_dtype(series):
        return "DOUBLE"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "TIMESTAMP"
    return "VARCHAR"


def _normalise_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Stable column types across runs: numbers DOUBLE, flags BOOLEAN, dates TIMESTAMP, text."""
    out = pd.DataFrame(index=scores.index)
    for col in scores.columns:
        s = scores[col]
        kind = _sql_type(s)
        if kind == "DOUBLE":
            out[col] = s.astype("float64")
        elif kind == "TIMESTAMP":
            out[col] = pd.to_datetime(s).dt.tz_localize(None) if getattr(s.dt, "tz", None) else s
        elif kind == "BOOLEAN":
            out[col] = s.astype("boolean")
        else:
            out[col] = s.astype("string")
    return out


def _package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _json(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, (np.integer,)):
            return int(o)
        if isinstance(o, (np.floating,)):
            return None if np.isnan(o) else float(o)
        if isinstance(o, (dt.date, dt.datetime, pd.Timestamp)):
            return o.isoformat()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    return json.dumps(value, default=default, sort_keys=True)


def ensure_result_tables(store: Store) -> None:
    """Create the result tables if they do not exist (write stores only)."""
    for ddl in RESULT_DDL:
        store.execute(ddl)


def _write_run(writer: Store, ctx: RunContext, record: dict[str, Any]) -> None:
    scores = _normalise_scores(ctx.scores).reset_index()
    scores.insert(0, "run_id", ctx.run_id)
    with writer.transaction() as con:
        for ddl in RESULT_DDL:
            con.execute(ddl)
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'customer_scores'"
        ).fetchall()}
        for col in scores.columns:
            if col not in have:
                # Column names come from our own steps, never from user input.
                ident = '"' + col.replace('"', '""') + '"'
                con.execute(f"ALTER TABLE customer_scores ADD COLUMN {ident} {_sql_type(scores[col])}")
        con.register("_crm_scores", scores)
        try:
            con.execute("INSERT INTO customer_scores BY NAME SELECT * FROM _crm_scores")
        finally:
            con.unregister("_crm_scores")
        for name, frame in ctx.results.items():
            if frame.index.name == "index":  # pandas cannot round-trip that name
                frame = frame.rename_axis(None)
            con.execute(
                "INSERT INTO run_results VALUES (?, ?, ?)",
                [ctx.run_id, name, frame.to_json(orient="table", date_format="iso", default_handler=str)],
            )
        con.execute(
            "INSERT INTO runs VALUES ($run_id, $as_of, $status, $started_at, $finished_at, $config, "
            "$versions, $input_rows, $metrics, $step_seconds, $customers, $message)",
            record,
        )
        for hook in ctx.on_commit:
            hook(writer)
        # Keep the scores of the newest successful runs only.
        con.execute(
            """
            DELETE FROM customer_scores WHERE run_id NOT IN (
                SELECT run_id FROM runs WHERE status = 'succeeded'
                ORDER BY finished_at DESC LIMIT $keep)
            """,
            {"keep": ctx.config.keep_runs},
        )


def _write_failure(writer: Store, record: dict[str, Any]) -> None:
    with writer.transaction() as con:
        for ddl in RESULT_DDL:
            con.execute(ddl)
        con.execute(
            "INSERT INTO runs VALUES ($run_id, $as_of, $status, $started_at, $finished_at, $config, "
            "$versions, $input_rows, $metrics, $step_seconds, $customers, $message)",
            record,
        )


@contextlib.contextmanager
def _writer_for(store: Store, busy_timeout: float) -> Iterator[Store]:
    """A writable store for the final transaction, held as briefly as possible."""
    if not store.read_only:
        yield store
        return
    writer = Store(store.path, busy_timeout=busy_timeout, memory_limit=store.memory_limit,
                   threads=store.threads)
    try:
        yield writer
    finally:
        writer.close()


def default_as_of(store: Store) -> dt.date:
    """The latest transaction date in the store, never later than today.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("transactions", pd.DataFrame({"transaction_id": ["T1"], "customer_id": ["C1"],
    ...     "transaction_date": ["2024-05-31 18:00"], "amount": [9.5]}), unknown_customers="create")
    >>> default_as_of(store)
    datetime.date(2024, 5, 31)
    """
    last = store.sql("SELECT max(transaction_date) AS last FROM transactions")["last"].iloc[0]
    today = dt.date.today()
    if last is None or pd.isna(last):
        return today
    return min(pd.Timestamp(last).date(), today)


def _progress(total: int, enabled: bool | None) -> Any:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="crm-analytics score", unit="step", leave=False)


def run_batch(
    store: Store | str | os.PathLike,
    as_of: Any = None,
    config: RunConfig | dict[str, Any] | str | os.PathLike | None = None,
    *,
    progress: bool | None = None,
) -> RunResult:
    """Score every customer as of a date and write one run atomically.

    Parameters
    ----------
    store : Store or path
        The store. Given a path, the run computes on a read-only connection and
        opens the file for writing only for its final transaction (see module notes).
    as_of : date-like, optional
        Overrides ``config.as_of``; default: the latest transaction date.
    config : RunConfig, dict, or path to a TOML file, optional
        Options (see :class:`crm_analytics.config.RunConfig`); environment
        variables ``CRM_ANALYTICS_<KEY>`` apply too.
    progress : bool, optional
        Show a progress bar (default: only on a terminal; plain log lines otherwise).

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        Bad configuration or no data (nothing written).
    RunError
        A step failed; a ``runs`` row with status ``failed`` records why and the
        previous results stay the latest.

    Examples
    --------
    >>> from crm_analytics import Store, synthetic
    >>> store = Store(":memory:")
    >>> data = synthetic.generate(n_customers=300, seed=1)
    >>> _ = store.load_all(data.tables())
    >>> result = run_batch(store, config={"steps": ["inputs", "attributes"]})
    >>> result.status, result.customers
    ('succeeded', 300)
    >>> len(latest_scores(store))
    300
    """
    _load_module_steps()
    if isinstance(config, RunConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = load_config(overrides=config)
    else:
        cfg = load_config(config)
    if as_of is not None:
        cfg.as_of = str(as_of)
    own_store = not isinstance(store, Store)
    if own_store:
        path = Path(os.fspath(store))
        if not path.exists():
            raise InputError(f"{path}: no store here; create one with `crm-analytics init`")
        store = Store(path, read_only=True, busy_timeout=cfg.busy_timeout,
                      memory_limit=cfg.memory_limit or None, threads=cfg.threads or None)
    assert isinstance(store, Store)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    step_seconds: dict[str, float] = {}
    ctx: RunContext | None = None
    with store.session():
        day = to_date(cfg.as_of) if cfg.as_of else default_as_of(store)
        if day > dt.date.today():
            raise InputError(f"as_of {day} is in the future")
        ctx = RunContext(store=store, config=cfg, run_id=run_id, as_of=day)
        steps = [s for s in cfg.steps if s in STEPS]
        bar = _progress(len(steps), progress)
        failure: BaseException | None = None
        try:
            for name in steps:
                s0 = time.perf_counter()
                log.info("run %s: step %s (as of %s)", run_id, name, day)
                STEPS[name](ctx)
                step_seconds[name] = round(time.perf_counter() - s0, 3)
                if bar is not None:
                    bar.set_postfix_str(name)
                    bar.update(1)
            ctx.results["overview"] = summarise(ctx)
        except (KeyboardInterrupt, SystemExit):
            raise
        except InputError:
            raise
        except Exception as exc:  # a failed step fails the run, recorded below
            failure = exc
        finally:
            if bar is not None:
                bar.close()
    record = {
        "run_id": run_id, "as_of": day, "started_at": started,
        "config": _json(cfg.to_dict()), "versions": _json(_package_versions()),
        "input_rows": _json(ctx.metrics.get("input_rows", {})),
        "metrics": _json({k: v for k, v in ctx.metrics.items() if k != "input_rows"}),
        "step_seconds": _json(step_seconds), "customers": len(ctx.scores),
    }
    try:
        with _writer_for(store, cfg.busy_timeout) as writer:
            if failure is not None:
                record.update(status="failed", finished_at=_now(),
                              message=f"{type(failure).__name__}: {failure}"[:2000])
                _write_failure(writer, record)
            else:
                record.update(status="succeeded", finished_at=_now(), message="; ".join(ctx.notes))
                _write_run(writer, ctx, record)
    except StoreBusyError:
        raise
    finally:
        if own_store:
            store.close()
    if failure is not None:
        log.error("run %s failed in a step: %s: %s", run_id, type(failure).__name__, failure)
        log.debug("traceback of run %s", run_id, exc_info=failure)
        raise RunError(f"run {run_id} failed: {type(failure).__name__}: {failure}") from failure
    result = RunResult(
        run_id=run_id, as_of=day, status="succeeded", customers=len(ctx.scores),
        seconds=round(time.perf_counter() - t0, 3), step_seconds=step_seconds,
        metrics=ctx.metrics, notes=ctx.notes,
    )
    log.info("run %s succeeded: %s customers as of %s", run_id, result.customers, day)
    return result


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- reading results --------------------------------------------------------------------------
@contextlib.contextmanager
def reading(store: Store | str | os.PathLike) -> Iterator[Store]:
    """A store to read from for a block of queries: the one given, or the file opened read-only.

    A path is opened read-only (per query retries while a run writes) and closed
    afterwards; within the block one connection is held.
    """
    own = not isinstance(store, Store)
    s = Store(store, read_only=True) if own else store
    try:
        with s.session():
            yield s
    finally:
        if own:
            s.close()


def runs(store: Store | str | os.PathLike, *, limit: int = 50) -> pd.DataFrame:
    """The most recent runs (newest first) with status, as_of, timings and messages.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> runs(Store(":memory:")).columns[:4].tolist()
    ['run_id', 'as_of', 'status', 'started_at']
    """
    with reading(store) as s:
        if "runs" not in s.tables():
            return pd.DataFrame(columns=["run_id", "as_of", "status", "started_at", "finished_at",
                                         "customers", "message"])
        return s.sql(
            "SELECT run_id, as_of, status, started_at, finished_at, customers, message, "
            "step_seconds, metrics FROM runs ORDER BY finished_at DESC LIMIT ?", [int(limit)],
        )


def latest_run_id(store: Store, as_of: Any = None) -> str:
    """The id of the newest successful run (for ``as_of`` if given).

    Examples
    --------
    >>> from crm_analytics import Store, run_batch, synthetic
    >>> store = Store(":memory:")
    >>> _ = store.load_all(synthetic.generate(n_customers=200, seed=1).tables())
    >>> run = run_batch(store, config={"steps": ["inputs", "attributes"]})
    >>> latest_run_id(store) == run.run_id
    True
    """
    if "runs" not in store.tables():
        raise InputError(f"{store.path}: no scoring run yet; run `crm-analytics score` first")
    params = {"as_of": None if as_of is None else to_date(as_of)}
    got = store.sql(
        "SELECT run_id FROM runs WHERE status = 'succeeded' AND ($as_of IS NULL OR as_of = $as_of) "
        "ORDER BY finished_at DESC LIMIT 1", params,
    )
    if got.empty:
        which = "" if as_of is None else f" as of {to_date(as_of)}"
        raise InputError(f"{store.path}: no successful scoring run{which}; run `crm-analytics score`")
    return str(got["run_id"].iloc[0])


def latest_scores(store: Store | str | os.PathLike, *, run_id: str | None = None,
                  as_of: Any = None) -> pd.DataFrame:
    """One row per customer with every score and segment of the latest successful run.

    Safe to call from another process while a run is writing: with a read-only
    store it waits for the run's final transaction and then sees all of it.

    Examples
    --------
    >>> from crm_analytics import Store, run_batch, synthetic
    >>> store = Store(":memory:")
    >>> _ = store.load_all(synthetic.generate(n_customers=200, seed=1).tables())
    >>> run = run_batch(store, config={"steps": ["inputs", "attributes"]})
    >>> scores = latest_scores(store)
    >>> len(scores), scores.attrs["run_id"] == run.run_id
    (200, True)
    >>> "size_band" in scores.columns
    True
    """
    with reading(store) as s:
        rid = run_id or latest_run_id(s, as_of)
        frame = s.sql("SELECT * FROM customer_scores WHERE run_id = ? ORDER BY customer_id", [rid])
        meta = s.sql("SELECT as_of FROM runs WHERE run_id = ?", [rid])
        as_of_of_run = meta["as_of"].iloc[0] if len(meta) else None
    if frame.empty:
        raise InputError(f"run {rid} has no customer scores (pruned or unknown run id)")
    frame = frame.drop(columns=["run_id"]).set_index("customer_id").dropna(axis=1, how="all")
    frame.attrs["run_id"] = rid
    frame.attrs["as_of"] = str(as_of_of_run)
    return frame


def run_results(store: Store | str | os.PathLike, run_id: str | None = None) -> dict[str, pd.DataFrame]:
    """The aggregate result tables of a run (what the dashboards show), by name.

    ``"_run"`` holds the run's row of ``runs``.

    Examples
    --------
    >>> from crm_analytics import Store, run_batch, synthetic
    >>> store = Store(":memory:")
    >>> _ = store.load_all(synthetic.generate(n_customers=200, seed=1).tables())
    >>> run = run_batch(store, config={"steps": ["inputs", "attributes"]})
    >>> results = run_results(store)
    >>> int(results["overview"]["customers"].iloc[0]), results["_run"]["status"].iloc[0]
    (200, 'succeeded')
    """
    with reading(store) as s:
        rid = run_id or latest_run_id(s)
        rows = s.sql("SELECT name, payload FROM run_results WHERE run_id = ?", [rid])
        meta = s.sql("SELECT * FROM runs WHERE run_id = ?", [rid])
    from io import StringIO

    out = {r.name: pd.read_json(StringIO(r.payload), orient="table") for r in rows.itertuples()}
    out["_run"] = meta
    return out


__all__ = [
    "CRMError", "RunContext", "RunResult", "latest_run_id", "latest_scores", "register_step",
    "run_batch", "run_results", "runs",
]


def train_churn_model(
    store: Store | str | os.PathLike, as_of: Any = None,
    config: RunConfig | dict[str, Any] | str | os.PathLike | None = None,
) -> str:
    """Refit the churn model as of a date and save it where runs look for it.

    Returns a one-line description of what was saved. No run is written.
    """
    _load_module_steps()
    from crm_analytics.modelstore import churn_model_for_run

    churn = _optional("crm_analytics.churn")
    if churn is None:
        raise RunError("the churn module is not available in this version")
    cfg = config if isinstance(config, RunConfig) else (
        load_config(overrides=config) if isinstance(config, dict) else load_config(config))
    cfg.retrain = True
    if as_of is not None:
        cfg.as_of = str(as_of)
    with reading(store) as s:
        day = to_date(cfg.as_of) if cfg.as_of else default_as_of(s)
        ctx = RunContext(store=s, config=cfg, run_id="train-" + uuid.uuid4().hex[:6], as_of=day)
        model = churn_model_for_run(ctx, churn)
    if model is None:
        raise RunError("; ".join(ctx.notes) or "not enough history to train the churn model")
    for hook in ctx.on_commit:
        hook(None)
    info = ctx.metrics.get("churn_model", {})
    cutoffs = info.get("training_cutoffs")
    return f"churn model trained as of {day} on cutoffs {cutoffs} -> {info.get('source')}"
