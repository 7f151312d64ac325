"""Reading the results of scoring runs: runs, latest scores, result tables.

These are plain reads of the result tables the store holds (see
:mod:`crm_analytics.store.schema`), usable by every layer above the store:
the domain modules (segment rules read the latest scores), the scoring run
and the applications.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any, TypeVar

import pandas as pd

from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError
from crm_analytics.store.store import Store

T = TypeVar("T")


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


def reads_store(function: Callable[..., T]) -> Callable[..., T]:
    """Let a function whose first argument is a :class:`Store` take a path as well.

    A path (or anything not a Store) is opened with :func:`reading` for the call,
    so a bad one is the store's own one-line error.

    Examples
    --------
    >>> @reads_store
    ... def n_customers(store):
    ...     return int(store.sql("SELECT count(*) AS n FROM customers")["n"].item())
    >>> n_customers(Store(":memory:"))
    0
    >>> n_customers(12)
    Traceback (most recent call last):
    ...
    crm_analytics.errors.InputError: Store needs a file path (or ':memory:'); got int 12
    """

    @functools.wraps(function)
    def call(store: Any, *args: Any, **kwargs: Any) -> T:
        if isinstance(store, Store):
            return function(store, *args, **kwargs)
        with reading(store) as opened:
            return function(opened, *args, **kwargs)

    return call


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
    >>> from crm_analytics import Store, run_batch
    >>> from crm_analytics.datasets import synthetic
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
    >>> from crm_analytics import Store, run_batch
    >>> from crm_analytics.datasets import synthetic
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
    >>> from crm_analytics import Store, run_batch
    >>> from crm_analytics.datasets import synthetic
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
    out = {r.name: pd.read_json(StringIO(r.payload), orient="table") for r in rows.itertuples()}
    out["_run"] = meta
    return out



__all__ = ["latest_run_id", "latest_scores", "reading", "run_results", "runs"]
