"""Value tiers: customers ranked by CLV (or revenue potential) into a few tiers.

Tiers by rank of ``clv`` among customers with a CLV, best first:

==============  ===============================================
tier            customers (share of those with a CLV)
==============  ===============================================
Top 10%         fewer than 10 % of customers have a higher CLV
Next 20%        ... fewer than 30 %
Middle 40%      ... fewer than 70 %
Bottom 30%      the rest
Unknown         no CLV (never bought, or the CLV step did not run)
==============  ===============================================

"Fewer than p % have a higher value" (``(rank - 1) / n < p`` with ties ranked
together) is the same definition as the ``in top N%`` rule of custom segments,
so ``value:Top 10%`` and ``clv in top 10%`` select the same customers. Ties
share the better tier, and the result does not depend on row order.

When the scores hold no CLV at all, ``revenue_potential`` is used instead (the
basis is in ``result.attrs['basis']``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError

__all__ = ["DEFAULT_TIERS", "UNKNOWN_TIER", "tier_of_rank", "value_tiers"]

#: ``(name, upper bound of the share of customers ranked above)``, best first.
DEFAULT_TIERS: tuple[tuple[str, float], ...] = (
    ("Top 10%", 0.10),
    ("Next 20%", 0.30),
    ("Middle 40%", 0.70),
    ("Bottom 30%", 1.00),
)
UNKNOWN_TIER = "Unknown"
_BASES = ("clv", "revenue_potential")


def value_tiers(
    scores: pd.DataFrame, *, column: str | None = None,
    tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS,
) -> pd.Series:
    """Value tier per customer from CLV (or revenue potential when there is no CLV).

    Parameters
    ----------
    scores : DataFrame
        One row per customer (index ``customer_id``).
    column : str, optional
        Rank by this column. Default: ``clv`` if it has any value, else
        ``revenue_potential``; if neither, every customer is ``"Unknown"``.
    tiers : sequence of (name, bound)
        Bounds increasing, the last 1.0 (see the module docstring).

    Returns
    -------
    Series
        ``value_tier`` (str), index of ``scores``; ``attrs['basis']`` names the
        column used (``None`` when no value was available).

    Examples
    --------
    >>> scores = pd.DataFrame({"clv": [float(v) for v in range(10, 0, -1)] + [None]})
    >>> value_tiers(scores).tolist()
    ['Top 10%', 'Next 20%', 'Next 20%', 'Middle 40%', 'Middle 40%', 'Middle 40%', 'Middle 40%',
     'Bottom 30%', 'Bottom 30%', 'Bottom 30%', 'Unknown']
    """
    _check_tiers(tiers)
    basis = column
    if basis is None:
        basis = next((c for c in _BASES if c in scores.columns and scores[c].notna().any()), None)
    elif basis not in scores.columns:
        raise InputError(f"value_tiers: column {basis!r} not in the scores; found {list(scores.columns)}")
    out = pd.Series(UNKNOWN_TIER, index=scores.index, name="value_tier", dtype=object)
    out.attrs["basis"] = basis
    if basis is None:
        return out
    values = pd.to_numeric(scores[basis], errors="coerce").astype(float)
    n = int(values.notna().sum())
    if n == 0:
        return out
    better = values.rank(method="min", ascending=False) - 1.0
    known = values.notna().to_numpy()
    out[known] = tier_of_rank(better.to_numpy()[known], n, tiers)
    return out


def tier_of_rank(
    better: np.ndarray, n: int, tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS,
) -> np.ndarray:
    """The tier of values that ``better`` of ``n`` values are strictly greater than.

    The tier of :func:`value_tiers` from the rank alone, so an engine that counts the
    ranks itself (Spark, over distinct values) assigns exactly the same tiers.

    Examples
    --------
    >>> tier_of_rank(np.array([0.0, 1.0, 5.0, 9.0]), 10).tolist()
    ['Top 10%', 'Next 20%', 'Middle 40%', 'Bottom 30%']
    """
    above = np.asarray(better, dtype=float) / n
    names = np.array([name for name, _ in tiers], dtype=object)
    bounds = np.array([bound for _, bound in tiers], dtype=float)
    # First tier whose bound exceeds the share ranked above (the last bound is 1.0).
    position = np.searchsorted(bounds, above, side="right")
    return names[np.minimum(position, len(names) - 1)]


def _check_tiers(tiers: Sequence[tuple[str, float]]) -> None:
    bounds = [b for _, b in tiers] if tiers else []
    ok = (
        len(bounds) >= 1 and all(0 < b <= 1 for b in bounds)
        and all(a < b for a, b in zip(bounds, bounds[1:], strict=False)) and bounds[-1] == 1.0
    )
    if not ok:
        raise InputError(
            "The 'tiers' parameter of value_tiers must be (name, bound) pairs with bounds "
            f"increasing in (0, 1] and the last equal to 1.0. Got {tiers!r} instead."
        )
