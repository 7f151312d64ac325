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
import json
import logging
import os
import platform
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError, RunError, StoreBusyError
from crm_analytics.scoring.config import RunConfig, load_config
from crm_analytics.scoring.context import RunContext
from crm_analytics.scoring.models import churn_model_for_run
from crm_analytics.scoring.steps import STEPS
from crm_analytics.store import Store, resolve_as_of
from crm_analytics.store.results import reading
from crm_analytics.store.store import SYSTEM_DDL

log = logging.getLogger(__name__)

PACKAGES = ("crm_analytics", "pandas", "numpy", "scikit-learn", "lifetimes", "duckdb",
            "statsmodels", "plotly", "skops")


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
        Options (see :class:`crm_analytics.scoring.config.RunConfig`); environment
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
    >>> from crm_analytics import Store
    >>> from crm_analytics.datasets import synthetic
    >>> store = Store(":memory:")
    >>> data = synthetic.generate(n_customers=300, seed=1)
    >>> _ = store.load_all(data.tables())
    >>> result = run_batch(store, config={"steps": ["inputs", "attributes"]})
    >>> result.status, result.customers
    ('succeeded', 300)
    >>> from crm_analytics import latest_scores
    >>> len(latest_scores(store))
    300
    """
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
        day = resolve_as_of(store, cfg.as_of)
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


__all__ = ["RunContext", "RunResult", "run_batch", "train_churn_model"]


def train_churn_model(
    store: Store | str | os.PathLike, as_of: Any = None,
    config: RunConfig | dict[str, Any] | str | os.PathLike | None = None,
) -> str:
    """Refit the churn model as of a date and save it where runs look for it.

    Returns a one-line description of what was saved. No run is written.
    """
    cfg = config if isinstance(config, RunConfig) else (
        load_config(overrides=config) if isinstance(config, dict) else load_config(config))
    cfg.retrain = True
    if as_of is not None:
        cfg.as_of = str(as_of)
    with reading(store) as s:
        day = resolve_as_of(s, cfg.as_of)
        ctx = RunContext(store=s, config=cfg, run_id="train-" + uuid.uuid4().hex[:6], as_of=day)
        model = churn_model_for_run(ctx)
    if model is None:
        raise RunError("; ".join(ctx.notes) or "not enough history to train the churn model")
    for hook in ctx.on_commit:
        hook(None)
    info = ctx.metrics.get("churn_model", {})
    cutoffs = info.get("training_cutoffs")
    return f"churn model trained as of {day} on cutoffs {cutoffs} -> {info.get('source')}"
