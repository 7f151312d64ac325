"""Recognising a run whose inputs and configuration have not changed.

A nightly job scheduled more often than data arrive (or re-run by hand after a
success) would recompute the same scores. Before computing anything,
:func:`crm_analytics.run_batch` fingerprints what the scores depend on:

* the **inputs**: every load recorded in the ``loads`` table (id, table, rows
  loaded and updated, time) and the row count of every input table, so a new
  load, a retried reject or rows written around the loader all change it;
* the **configuration**: every option that changes a score (not ``threads``,
  ``memory_limit``, ``busy_timeout``, ``dashboard_dir``, ``keep_runs``,
  ``retrain`` or ``force``, which change how a run works, not what it computes);
* the crm_analytics version and the store's schema version;
* the saved churn model: the file the run leaves behind (its SHA-256, in
  ``metrics["model_file"]``) must be the file there now, so a model refit by
  ``crm-analytics train`` since counts as a change.

When the latest successful run with the same ``as_of`` has the same
fingerprint, the run stops there: it records a ``runs`` row with status
``unchanged`` pointing to that run, and returns it. ``force=True`` (CLI
``--force``) or ``retrain=True`` computes anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from crm_analytics.scoring.config import RunConfig
from crm_analytics.store.schema import TABLES

__all__ = ["HOW_NOT_RESULTS", "fingerprint", "model_digest", "previous_match"]

#: Options that change how a run works, not what it computes.
HOW_NOT_RESULTS = frozenset({"threads", "memory_limit", "busy_timeout", "dashboard_dir",
                             "keep_runs", "retrain", "force", "as_of"})
_INPUT_TABLES = (*TABLES, "customer_attributes")


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("crm_analytics")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def model_digest(path: Any) -> str | None:
    """SHA-256 of a saved model file (None: no file)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def fingerprint(store: Any, config: RunConfig) -> str:
    """SHA-256 of the run's inputs (loads and row counts), options and versions.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics.store import Store
    >>> store = Store(":memory:")
    >>> before = fingerprint(store, RunConfig())
    >>> before == fingerprint(store, RunConfig(threads=1))  # how, not what
    True
    >>> before == fingerprint(store, RunConfig(churn_horizon_days=60))
    False
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
    >>> before == fingerprint(store, RunConfig())
    False
    """
    present = set(store.tables())
    counts = {}
    for table in _INPUT_TABLES:
        if table in present:
            # Table names are the package's constants, never user input.
            counts[table] = int(store.sql(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])  # noqa: S608
    loads = []
    if "loads" in present:
        # Every column, whatever the store's age (older stores lack some), in a fixed order.
        frame = store.sql("SELECT * FROM loads")
        frame = frame[sorted(frame.columns)].astype(str)
        loads = sorted(frame.to_numpy().tolist())
    schema = None
    if "store_meta" in present:
        rows = store.sql("SELECT value FROM store_meta WHERE key = 'schema_version'")
        schema = rows["value"].iloc[0] if len(rows) else None
    options = {k: v for k, v in config.to_dict().items() if k not in HOW_NOT_RESULTS}
    payload = {"counts": counts, "loads": loads, "options": options, "schema": schema,
               "version": _version()}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def previous_match(store: Any, as_of: dt.date, print_: str,
                   model: str | None = None) -> dict[str, Any] | None:
    """The latest successful run as of ``as_of`` with fingerprint ``print_``, if any.

    ``model`` is the digest of the saved churn model now (:func:`model_digest`);
    the run must have left that same file (``metrics["model_file"]``).

    Returns its ``run_id``, ``customers``, ``metrics`` (parsed) and ``finished_at``.
    """
    if "runs" not in set(store.tables()):
        return None
    rows = store.sql(
        "SELECT run_id, customers, metrics, finished_at FROM runs "
        "WHERE status = 'succeeded' AND as_of = $as_of ORDER BY finished_at DESC LIMIT 1",
        {"as_of": as_of},
    )
    if rows.empty:
        return None
    row = rows.iloc[0]
    try:
        metrics = json.loads(row["metrics"] or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(metrics, dict) or metrics.get("fingerprint") != print_:
        return None
    if metrics.get("model_file") != model:
        return None
    return {"run_id": str(row["run_id"]), "customers": int(row["customers"] or 0),
            "metrics": metrics, "finished_at": row["finished_at"]}
