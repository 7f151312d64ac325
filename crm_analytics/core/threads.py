"""Thread control in one place: DuckDB, OpenMP (scikit-learn) and BLAS follow one number.

A nightly job shares its machine. Measured on a busy 2-core machine, one churn
fit took 21.9 s with OpenMP's default threads and 2.8 s pinned to one thread:
idle OpenMP workers spin against the other processes for the same cores. So
the package never lets a library pick its own thread count: the store's
``threads`` setting (``threads`` in the run config, ``CRM_ANALYTICS_THREADS``)
governs DuckDB, and :func:`thread_limit` applies the same number to OpenMP and
BLAS (threadpoolctl) around every computation of a run. Unset, it is
:func:`default_threads`: the cores this process may use, less the load other
processes put on them.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

__all__ = ["available_cores", "current_budget", "default_threads", "limits_threads", "thread_limit"]

T = TypeVar("T")

# The thread count of the innermost active thread_limit (None outside any).
_BUDGET: contextvars.ContextVar[int | None] = contextvars.ContextVar("crm_analytics_threads", default=None)


def current_budget() -> int | None:
    """The thread count set by the innermost active :func:`thread_limit`, or None."""
    return _BUDGET.get()


def available_cores() -> int:
    """Cores this process may run on (CPU affinity, e.g. a container's cpuset).

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads(load: float | None = None, cores: int | None = None) -> int:
    """Threads to use when none is configured: free cores, at least one.

    ``load`` is the 1-minute load average (read from the system when None);
    cores busy with other work are left to it, so two CPU-bound neighbours on a
    2-core machine leave this job one thread instead of two spinning ones.

    Examples
    --------
    >>> default_threads(load=0.1, cores=2)
    2
    >>> default_threads(load=2.0, cores=2)
    1
    >>> default_threads(load=1.2, cores=8)
    7
    """
    cores = available_cores() if cores is None else max(1, int(cores))
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    busy = math.floor(max(0.0, load) + 0.5) if load >= 0.5 else 0
    return max(1, min(cores, cores - busy))


@contextlib.contextmanager
def thread_limit(threads: int | None = None) -> Iterator[int]:
    """Limit OpenMP and BLAS thread pools for a block.

    ``threads=None`` keeps the budget of an enclosing block (a scoring run's
    ``threads`` setting) and otherwise uses :func:`default_threads`, so a model
    fitted in a notebook is as well-behaved as one fitted in the nightly run.
    The models of the package wrap their heavy computations in this.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with thread_limit(1) as n:
    ...     with thread_limit() as inner:
    ...         n, inner, all(p["num_threads"] == 1 for p in threadpool_info())
    (1, 1, True)
    """
    n = max(1, int(threads)) if threads else (_BUDGET.get() or default_threads())
    token = _BUDGET.set(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        _BUDGET.reset(token)


def limits_threads(func: Callable[..., T]) -> Callable[..., T]:
    """Run ``func`` inside :func:`thread_limit` (the enclosing budget, else the free cores).

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> @limits_threads
    ... def pools():
    ...     return current_budget()
    >>> with thread_limit(1):
    ...     pools()
    1
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with thread_limit():
            return func(*args, **kwargs)

    return wrapper
