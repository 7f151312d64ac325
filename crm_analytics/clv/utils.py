"""Data preparation shared by the CLV models: distinct rows with their counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["distinct_rows", "distinct_values"]


def distinct_rows(
    *arrays: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Codes, distinct values and counts of the rows formed by ``arrays`` (finite floats).

    Grouping on the exact values (pandas); the distinct rows come out in sorted
    order, so the same multiset of rows gives the same arrays in the same order
    whatever order the rows arrive in (a fit on histories aggregated elsewhere,
    e.g. on Spark, is then the same computation as a fit on every customer).
    ``values[i][codes]`` gives back ``arrays[i]``. With ``weights``, a row counts
    as its weight (rows that already stand for several customers).

    Examples
    --------
    >>> codes, (x, t), counts = distinct_rows(np.array([1.0, 0.0, 1.0]), np.array([2.0, 0.0, 2.0]))
    >>> codes.tolist(), x.tolist(), t.tolist(), counts.tolist()
    ([1, 0, 1], [0.0, 1.0], [0.0, 2.0], [1.0, 2.0])
    >>> distinct_rows(np.array([1.0, 0.0, 1.0]), weights=np.array([3.0, 1.0, 2.0]))[2].tolist()
    [1.0, 5.0]
    """
    cols = [np.asarray(a, dtype=float) for a in arrays]
    n = cols[0].size
    if n == 0:
        return np.zeros(0, dtype=np.int64), [c.copy() for c in cols], np.zeros(0)
    frame = pd.DataFrame(dict(enumerate(cols)), copy=False)
    codes = frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy(dtype=np.int64)
    n_groups = int(codes.max()) + 1
    # Any row of a group holds the group's values; which one is irrelevant.
    member = np.empty(n_groups, dtype=np.int64)
    member[codes] = np.arange(n)
    counts = np.bincount(codes, weights=weights, minlength=n_groups).astype(float)
    return codes, [c[member] for c in cols], counts


def distinct_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's index among them: ``np.unique(values,
    return_inverse=True)`` by hashing (linear; 5x faster on a million frequencies).

    Examples
    --------
    >>> u, inv = distinct_values(np.array([3.0, 0.0, 3.0, 1.0]))
    >>> u.tolist(), inv.tolist()
    ([0.0, 1.0, 3.0], [2, 0, 2, 1])
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=float), sort=False)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return np.asarray(uniques)[order], rank[codes]
