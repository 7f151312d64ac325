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
import dataclasses
import datetime as dt
import json
import logging
import os
import platform
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.core.summary import Summary
from crm_analytics.core.timeutils import to_date
from crm_analytics.dashboards import write_dashboards
from crm_analytics.errors import InputError, RunError, StoreBusyError
from crm_analytics.scoring.config import RunConfig, load_config, validate_config
from crm_analytics.scoring.context import RunContext
from crm_analytics.scoring.models import MODEL_FILE, churn_model_for_run, model_dir
from crm_analytics.scoring.steps import STEPS, run_steps
from crm_analytics.scoring.unchanged import fingerprint, model_digest, previous_match
from crm_analytics.store import Store, resolve_as_of
from crm_analytics.store.results import reading
from crm_analytics.store.schema import RESULT_DDL
from crm_analytics.store.score_columns import SCORE_COLUMNS, missing_score_columns_ddl

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
    #: Steps (``"churn"``) or parts of steps (``"satisfaction.service"``) the data
    #: could not support, with the reason.
    skipped: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        steps = _steps_text(self)
        lines = [
            f"RunResult(run_id={self.run_id!r}, as_of={self.as_of}, status={self.status})",
            f"  {self.customers:,} customers scored in {self.seconds:.1f} s ({steps})",
        ]
        lines += [f"  skipped {what}: {why}" for what, why in self.skipped.items()]
        lines += [f"  note: {n}" for n in self.notes]
        if self.dashboard_dir:
            lines.append(f"  dashboards: {self.dashboard_dir}")
        return "\n".join(lines)

    def summary(self) -> Summary:
        """What the run did and how good its models are, for the analyst's first look.

        Facts: customers scored, steps and seconds, the churn population and
        horizon (and how they were chosen), the risk-band rule, which scorer
        scored churn (the model or a baseline as good) and why; the table is
        the churn back-test — the model next to each baseline (no purchase in
        N days, logistic regression, BG/NBD) with ROC AUC, PR AUC and Brier —
        with the grade; the CLV model's parameters; skipped steps and notes.
        """
        return run_summary(self)


def _steps_text(result: RunResult) -> str:
    """``churn 12.3s (21,880 customers), ...``: each step's seconds and the customers it scored."""
    rows = (result.metrics or {}).get("step_rows") or {}
    parts = []
    for name, seconds in result.step_seconds.items():
        n = rows.get(name)
        parts.append(f"{name} {seconds:.1f}s" + (f" ({n:,} customers)" if n else ""))
    return ", ".join(parts) or "nothing recomputed"


def run_summary(result: RunResult) -> Summary:
    """The :class:`~crm_analytics.core.summary.Summary` of a run (see :meth:`RunResult.summary`)."""
    from crm_analytics.churn.metrics import display_name, grade

    m = result.metrics or {}
    steps = _steps_text(result)
    facts = [
        ("run", f"{result.run_id} ({result.status})"),
        ("as of", str(result.as_of)),
        ("customers scored", f"{result.customers:,}"),
        ("seconds", f"{result.seconds:.1f} ({steps})"),
    ]
    population = m.get("churn_population")
    if population:
        facts.append(("churn population",
                      f"bought in the last {population['active_days']} days "
                      f"({population['how']})"))
        facts.append(("churn horizon", f"no purchase in the next {population['horizon_days']} "
                                       f"days ({population['horizon_how']})"))
    bands = m.get("churn_risk_bands")
    if bands:
        facts.append(("risk bands", f"medium from {bands['medium_from']:.2f}, high from "
                                    f"{bands['high_from']:.2f} ({bands['rule']}); "
                                    f"{bands['high_share']:.1%} high"))
    table = pd.DataFrame()
    backtest = m.get("churn_backtest")
    if isinstance(backtest, dict) and backtest:
        frame = pd.DataFrame(backtest).T
        cols = [c for c in ("roc_auc", "pr_auc", "brier") if c in frame.columns]
        table = frame[cols].apply(pd.to_numeric, errors="coerce")
        table.index = [display_name(str(i)) for i in table.index]
        table.index.name = "churn back-test"
        with contextlib.suppress(KeyError, ValueError, TypeError):
            graded = grade(frame[cols].apply(pd.to_numeric, errors="coerce"))
            facts.append(("churn grade", f"{graded} (model vs best baseline)"))
    scorer = m.get("churn_scorer")
    if scorer:
        facts.append(("churn scored with", f"{display_name(scorer['scorer'])}: {scorer['why']}"))
    model = m.get("churn_model")
    if model:
        facts.append(("churn model", f"{'refit' if model.get('retrained') else 'reused'}, "
                                     f"label window ends {model.get('label_window_end')}"))
    extra = []
    clv = m.get("clv")
    if isinstance(clv, dict) and clv.get("params"):
        extra.append(("CLV model parameters", pd.DataFrame(
            {"value": pd.Series(clv["params"], dtype=float)})))
    notes = [f"skipped {what}: {why}" for what, why in result.skipped.items()]
    notes += [n for n in result.notes if n != (scorer or {}).get("why")]
    return Summary(f"Scoring run as of {result.as_of}", facts, table, notes, extra)


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
# The store creates these too (RESULT_DDL comes from crm_analytics.store.schema); a
# store made by an older version gets them here, and the score columns its
# customer_scores lacks (see _add_score_columns).
_REGISTRY = {c.name: c for c in SCORE_COLUMNS}
_REGISTRY_FILE = "crm_analytics/store/score_columns.py"


def _sql_type(column: str) -> str:
    """The SQL type of a score column: the registry's (``crm_analytics.store.score_columns``)."""
    return _REGISTRY[column].sql_type


def _unregistered(scores: pd.DataFrame) -> list[str]:
    return [str(c) for c in scores.columns if c not in _REGISTRY]


def _as_type(s: pd.Series, sql_type: str) -> pd.Series:
    if sql_type == "DOUBLE":
        if not pd.api.types.is_numeric_dtype(s):
            s = pd.to_numeric(s.astype(object), errors="raise")
        return s.astype("float64")
    if sql_type == "BIGINT":
        return pd.to_numeric(s.astype(object), errors="raise").astype("Int64")
    if sql_type == "TIMESTAMP":
        t = s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s)
        return t.dt.tz_localize(None) if getattr(t.dt, "tz", None) else t
    if sql_type == "BOOLEAN":
        return s.astype("boolean")
    return s.astype("string")


def _normalise_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Every column as its registry type: numbers DOUBLE, flags BOOLEAN, dates TIMESTAMP, text.

    Raises
    ------
    RunError
        A column is not in the registry, or holds values its type cannot take
        (both bugs in a step, not in the data).
    """
    unknown = _unregistered(scores)
    if unknown:
        raise RunError(f"columns {unknown} are not in {_REGISTRY_FILE}")
    out = pd.DataFrame(index=scores.index)
    for col in scores.columns:
        sql_type = _sql_type(col)
        try:
            out[col] = _as_type(scores[col], sql_type)
        except (TypeError, ValueError) as exc:
            raise RunError(
                f"step {_REGISTRY[col].step} produced column {col!r} with values that are not "
                f"{sql_type} as {_REGISTRY_FILE} declares ({scores[col].dtype}: {exc}); this is a bug"
            ) from exc
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


_SCORE_COLUMNS_SQL = (
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'customer_scores'"
)


def _add_score_columns(con: Any) -> None:
    """Add the registry columns an older store's ``customer_scores`` lacks (registry types)."""
    have = [r[0] for r in con.execute(_SCORE_COLUMNS_SQL).fetchall()]
    for ddl in missing_score_columns_ddl(have):
        con.execute(ddl)


def ensure_result_tables(store: Store) -> None:
    """Create the result tables if they do not exist, with every score column (write stores only)."""
    for ddl in RESULT_DDL:
        store.execute(ddl)
    for ddl in missing_score_columns_ddl(store.sql(_SCORE_COLUMNS_SQL)["column_name"].tolist()):
        store.execute(ddl)


def _write_run(writer: Store, ctx: RunContext, record: dict[str, Any]) -> None:
    """Write the run's row, scores and results in one transaction (raises: nothing written)."""
    unknown = _unregistered(ctx.scores)
    if unknown:
        # A bug in a step, not in the data: refuse the scores (run_batch records the failure).
        ran = ", ".join(json.loads(record.get("step_seconds") or "{}")) or "?"
        shown = ", ".join(repr(c) for c in unknown)
        message = (
            f"a step (of those run: {ran}) produced column{'s' if len(unknown) > 1 else ''} {shown} "
            f"which {'are' if len(unknown) > 1 else 'is'} not in {_REGISTRY_FILE}; this is a bug: "
            "declare the column there (name, type, step, description, label) or stop producing it"
        )
        raise RunError(message)
    scores = _normalise_scores(ctx.scores).rename_axis("customer_id").reset_index()
    scores.insert(0, "run_id", ctx.run_id)
    # Every name here is a registry column or the key (checked above), never user input.
    typed = [("run_id", "VARCHAR"), ("customer_id", "VARCHAR")]
    typed += [(c, _sql_type(c)) for c in scores.columns[2:]]
    select = ", ".join(
        f'CAST("{c}" AS {t}) AS "{c}"' for c, t in typed  # noqa: S608 - registry names only
    )
    with writer.transaction() as con:
        for ddl in RESULT_DDL:
            con.execute(ddl)
        _add_score_columns(con)
        con.register("_crm_scores", scores)
        try:
            con.execute(f"INSERT INTO customer_scores BY NAME SELECT {select} FROM _crm_scores")  # noqa: S608
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
        # The model file the run leaves (a hook may have saved a new one), for the
        # next run's "unchanged" check.
        digest = model_digest(model_dir(ctx) / MODEL_FILE)
        if digest != ctx.metrics.get("model_file"):
            metrics = json.loads(record["metrics"])
            metrics["model_file"] = digest
            con.execute("UPDATE runs SET metrics = $metrics WHERE run_id = $run_id",
                        {"metrics": _json(metrics), "run_id": ctx.run_id})
        # Keep the scores of the newest successful runs only.
        con.execute(
            """
            DELETE FROM customer_scores WHERE run_id NOT IN (
                SELECT run_id FROM runs WHERE status = 'succeeded'
                ORDER BY finished_at DESC LIMIT $keep)
            """,
            {"keep": ctx.config.keep_runs},
        )


def _write_record(writer: Store, record: dict[str, Any]) -> None:
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
        Bad configuration, an as_of in the future, or a store without any
        customer (nothing written).
    RunError
        The run failed after it started: a step failed (whatever the error,
        an InputError raised inside a step included), the run scored nobody
        (no customer exists as of the date), or its results could not be
        written. A ``runs`` row with status ``failed`` records why and the
        previous results stay the latest.

    Notes
    -----
    A step the data cannot support (too little history for the churn model,
    no transactions, no tickets, no survey answers, too few customers for the
    CLV model or the needs segments) is skipped, or partly run, with its reason
    in ``RunResult.skipped``, the ``runs`` row (``metrics["skipped"]`` and the
    message) and the overview dashboard; everything else is still scored.

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
        cfg = dataclasses.replace(config)
    elif isinstance(config, dict):
        cfg = load_config(overrides=config)
    else:
        cfg = load_config(config)
    if as_of is not None:
        cfg.as_of = to_date(as_of).isoformat()
    # A RunConfig built in code is held to the same ranges as one read from a file.
    validate_config(cfg)
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
    with store.session(), store.thread_budget(cfg.threads or None) as threads:
        day = resolve_as_of(store, cfg.as_of)
        if day > dt.date.today():
            raise InputError(f"as_of {day} is in the future")
        _check_has_customers(store)
        ctx = RunContext(store=store, config=cfg, run_id=run_id, as_of=day)
        ctx.metrics["threads"] = threads
        ctx.metrics["fingerprint"] = fingerprint(store, cfg)
        ctx.metrics["model_file"] = model_digest(model_dir(ctx) / MODEL_FILE)
        same = None if cfg.force or cfg.retrain else previous_match(
            store, day, ctx.metrics["fingerprint"], ctx.metrics["model_file"])
        steps = [] if same else run_steps(cfg.steps)
        bar = _progress(len(steps), progress)
        failure: BaseException | None = None
        step_rows: dict[str, int] = {}
        step_peak: dict[str, float | None] = {}
        try:
            for name in steps:
                s0 = time.perf_counter()
                log.info("run %s: step %s (as of %s)", run_id, name, day)
                before = set(ctx.scores.columns)
                STEPS[name](ctx)
                step_seconds[name] = round(time.perf_counter() - s0, 3)
                step_rows[name] = _rows_scored(ctx.scores, before)
                step_peak[name] = _peak_rss_mb()
                if bar is not None:
                    bar.set_postfix_str(name)
                    bar.update(1)
            ctx.metrics["step_rows"] = step_rows
            ctx.metrics["step_peak_rss_mb"] = step_peak
            if same:
                pass
            elif ctx.scores.empty:
                raise RunError(f"no customers as of {day}: the run scored nobody")
            ctx.results["overview"] = summarise(ctx)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a failed step fails the run (InputError too), recorded below
            failure = exc
        finally:
            if bar is not None:
                bar.close()
    if same is not None:
        return _unchanged(store, own_store, ctx, same, started, t0)
    metrics = {k: v for k, v in ctx.metrics.items() if k != "input_rows"}
    if ctx.skipped:
        metrics["skipped"] = dict(ctx.skipped)
    record = {
        "run_id": run_id, "as_of": day, "started_at": started,
        "config": _json(cfg.to_dict()), "versions": _json(_package_versions()),
        "input_rows": _json(ctx.metrics.get("input_rows", {})),
        "metrics": _json(metrics),
        "step_seconds": _json(step_seconds), "customers": len(ctx.scores),
    }
    try:
        with _writer_for(store, cfg.busy_timeout) as writer:
            if failure is None:
                record.update(status="succeeded", finished_at=_now(), message=_message(ctx))
                try:
                    _write_run(writer, ctx, record)
                except (KeyboardInterrupt, SystemExit, StoreBusyError):
                    raise
                except Exception as exc:  # nothing was written (rolled back): record why
                    failure = exc
            if failure is not None:
                record.update(status="failed", finished_at=_now(),
                              message=f"{type(failure).__name__}: {failure}"[:2000])
                _write_record(writer, record)
    finally:
        if own_store:
            store.close()
    if failure is not None:
        log.error("run %s failed: %s: %s", run_id, type(failure).__name__, failure)
        log.debug("traceback of run %s", run_id, exc_info=failure)
        raise RunError(f"run {run_id} failed: {type(failure).__name__}: {failure}") from failure
    result = RunResult(
        run_id=run_id, as_of=day, status="succeeded", customers=len(ctx.scores),
        seconds=round(time.perf_counter() - t0, 3), step_seconds=step_seconds,
        metrics=ctx.metrics, notes=ctx.notes, skipped=dict(ctx.skipped),
    )
    if cfg.dashboard_dir:
        # Published after the commit, from the committed tables: a failure here
        # leaves the run (the data) intact and is reported, never hidden.
        try:
            index = write_dashboards(store if not own_store else Path(os.fspath(store.path)),
                                     cfg.dashboard_dir, run_id=run_id)
        except Exception as exc:
            raise RunError(f"run {run_id} succeeded but its dashboards could not be written to "
                           f"{cfg.dashboard_dir}: {exc}") from exc
        result.dashboard_dir = str(Path(index).parent.resolve())
    log.info("run %s succeeded: %s customers as of %s", run_id, result.customers, day)
    return result


def _peak_rss_mb() -> float | None:
    """The process's peak resident memory so far, in MiB (None where the OS does not say).

    Linux: ``VmHWM`` of ``/proc/self/status`` (``ru_maxrss`` survives ``exec``, so a
    child of a big parent would report the parent's peak); elsewhere ``ru_maxrss``.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kilobytes on Linux, bytes on macOS.
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _rows_scored(scores: pd.DataFrame, before: set[str]) -> int:
    """Customers a step gave at least one value (in the columns it added)."""
    added = [c for c in scores.columns if c not in before]
    if not added:
        return 0
    return int(scores[added].notna().any(axis=1).sum())


def _unchanged(store: Store, own_store: bool, ctx: RunContext, same: dict[str, Any],
               started: dt.datetime, t0: float) -> RunResult:
    """Record a run whose inputs and options match run ``same`` and return that run."""
    cfg = ctx.config
    note = (f"inputs and options unchanged since run {same['run_id']} (as of {ctx.as_of}, "
            f"finished {same['finished_at']}): nothing recomputed; force=True (--force) "
            "recomputes")
    record = {
        "run_id": ctx.run_id, "as_of": ctx.as_of, "started_at": started, "status": "unchanged",
        "finished_at": _now(), "config": _json(cfg.to_dict()),
        "versions": _json(_package_versions()), "input_rows": _json({}),
        "metrics": _json({"fingerprint": ctx.metrics["fingerprint"], "same_as": same["run_id"]}),
        "step_seconds": _json({}), "customers": same["customers"], "message": note[:2000],
    }
    try:
        with _writer_for(store, cfg.busy_timeout) as writer:
            _write_record(writer, record)
    finally:
        if own_store:
            store.close()
    log.info("run %s: %s", ctx.run_id, note)
    metrics = dict(same["metrics"])
    skipped = metrics.pop("skipped", {}) if isinstance(metrics.get("skipped"), dict) else {}
    result = RunResult(
        run_id=same["run_id"], as_of=ctx.as_of, status="unchanged", customers=same["customers"],
        seconds=round(time.perf_counter() - t0, 3), step_seconds={}, metrics=metrics,
        notes=[note], skipped=skipped,
    )
    if cfg.dashboard_dir:
        try:
            index = write_dashboards(store if not own_store else Path(os.fspath(store.path)),
                                     cfg.dashboard_dir, run_id=same["run_id"])
        except Exception as exc:
            raise RunError(f"run {same['run_id']} is unchanged but its dashboards could not be "
                           f"written to {cfg.dashboard_dir}: {exc}") from exc
        result.dashboard_dir = str(Path(index).parent.resolve())
    return result


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _message(ctx: RunContext) -> str:
    """The message of a successful run: what it skipped and why, then its notes."""
    parts = [f"{what} skipped: {why}" for what, why in ctx.skipped.items()] + list(ctx.notes)
    return "; ".join(parts)[:2000]


def _check_has_customers(store: Store) -> None:
    """Refuse a store without any customer before a run starts: there is nothing to score."""
    if "customers" not in store.tables() or int(
            store.sql("SELECT count(*) AS n FROM customers")["n"].iloc[0]) == 0:
        raise InputError(f"no customers in {store.path}; load data first")


__all__ = ["RunContext", "RunResult", "run_batch", "train_churn_model"]


def train_churn_model(
    store: Store | str | os.PathLike, as_of: Any = None,
    config: RunConfig | dict[str, Any] | str | os.PathLike | None = None,
) -> str:
    """Refit the churn model as of a date and save it where runs look for it.

    Returns a one-line description of what was saved. No run is written (a
    store without an id gets one recorded in ``store_meta``, so its runs find
    the model).

    Raises
    ------
    RunError
        The store's history cannot support a churn model (the reason is given).
    """
    cfg = config if isinstance(config, RunConfig) else (
        load_config(overrides=config) if isinstance(config, dict) else load_config(config))
    cfg = dataclasses.replace(cfg, retrain=True)
    if as_of is not None:
        cfg.as_of = to_date(as_of).isoformat()
    validate_config(cfg)
    with reading(store) as s:
        day = resolve_as_of(s, cfg.as_of)
        ctx = RunContext(store=s, config=cfg, run_id="train-" + uuid.uuid4().hex[:6], as_of=day)
        model = churn_model_for_run(ctx)
        path = s.path
    if model is None:
        raise RunError(ctx.skipped.get("churn") or "; ".join(ctx.notes)
                       or "not enough history to train the churn model")
    if ctx.on_commit:
        target = store if isinstance(store, Store) else Store(Path(os.fspath(path)),
                                                              busy_timeout=cfg.busy_timeout)
        try:
            with _writer_for(target, cfg.busy_timeout) as writer, writer.transaction():
                for hook in ctx.on_commit:
                    hook(writer)
        finally:
            if target is not store:
                target.close()
    info = ctx.metrics.get("churn_model", {})
    cutoffs = info.get("training_cutoffs")
    head = f"churn model trained as of {day} on cutoffs {cutoffs} -> {info.get('source')}"
    report = RunResult(run_id=ctx.run_id, as_of=day, status="trained", customers=0, seconds=0.0,
                       step_seconds={}, metrics=ctx.metrics, notes=ctx.notes)
    summary = run_summary(report)
    keep = ("churn population", "churn horizon", "churn grade", "churn scored with")
    summary.facts = [(k, v) for k, v in summary.facts if k in keep]
    summary.extra_tables = []
    summary.title = "Churn back-test"
    return f"{head}\n{summary}"
