"""RFM scoring (recency, frequency, monetary) with the standard named cells.

Scoring
-------
Computed in SQL (``segmentation/sql/rfm.sql``) as of ``as_of`` (inclusive), then
scored here:

* **recency_days** — days from the last purchase day to ``as_of`` (0 = bought on
  ``as_of``), over the whole history. A purchase day is a calendar day with a
  transaction of positive amount.
* **purchase_days_365d** — number of purchase days in the ``window_days`` (365)
  days ending on ``as_of``. Several baskets on one day count once, as in the
  CLV models.
* **net_spend_365d** — sum of amounts (refunds included) in the same window.

Only customers with at least one purchase on or before ``as_of`` are scored;
the others get no scores and the segment ``"No purchases"``.

**Who the quintiles are taken over.** R, F and M are quintiles among the
customers *active in the window* (a purchase day in the ``window_days`` before
``as_of``). A customer whose last purchase is older scores 1 on all three
(cell "Lost"): on a base where most buyers lapsed long ago, quintiles over
everyone collapse — with 60 % of customers at zero purchase days, a single
purchase day in a year ranks at 0.6 and scored F = 4, and R = 4 meant six to
twelve months of silence, so one-time buyers who had stopped became "Loyal"
(on the demo data 99 % of them at high churn risk, the generator's true churn
probability 0.88). Among the active, the scores rank who buys recently, often
and much.

Each score is a quintile of the percent rank among the active customers,
``percent_rank = (number of customers with a strictly worse value) / (n - 1)``
(SQL ``PERCENT_RANK``; 0 when n = 1), ``score = min(5, 1 + floor(5 * percent_rank))``,
so 5 is best. Shorter recency is better; more purchase days and more spend are
better. Ties share one score — the one of the block's worst position — which
keeps the scores deterministic and independent of row order; heavily tied data
(many one-time buyers) can leave some score values unused.

Cells
-----
Named on R and FM = ``(F + M + 1) // 2`` (mean of F and M, halves rounded up),
the common R x F(M) grid:

====  ==================  ==================  ===============  ===============  ===============
R     FM=1                FM=2                FM=3             FM=4             FM=5
====  ==================  ==================  ===============  ===============  ===============
5     New customers       Potential loyalist  Potential loyal. Champions        Champions
4     Promising           Potential loyalist  Potential loyal. Loyal            Loyal
3     About to sleep      About to sleep      Need attention   Loyal            Loyal
2     Hibernating         Hibernating         At risk          At risk          Can't lose
1     Lost                Hibernating         At risk          At risk          Can't lose
====  ==================  ==================  ===============  ===============  ===============
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.core.timeutils import as_of_params
from crm_analytics.errors import InputError
from crm_analytics.store.queries import load_query

__all__ = ["NO_PURCHASES", "RFM_SEGMENTS", "quintile_of_rank", "rfm_cell", "rfm_cell_names", "rfm_measures",
           "rfm_scores", "rfm_segments", "rfm_table"]

NO_PURCHASES = "No purchases"

# Rows R = 5..1, columns FM = 1..5 (see the module docstring).
_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New customers", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"),
    1: ("Lost", "Hibernating", "At risk", "At risk", "Can't lose"),
}

#: The named cells, from best to worst.
RFM_SEGMENTS: tuple[str, ...] = (
    "Champions", "Loyal", "Potential loyalist", "New customers", "Promising",
    "Need attention", "About to sleep", "At risk", "Can't lose", "Hibernating", "Lost",
)


def rfm_cell(r_score: int, f_score: int, m_score: int) -> str:
    """Named RFM cell of one customer (see the grid in the module docstring).

    Examples
    --------
    >>> rfm_cell(5, 5, 4), rfm_cell(1, 1, 1), rfm_cell(1, 5, 5)
    ('Champions', 'Lost', "Can't lose")
    """
    for name, value in (("r_score", r_score), ("f_score", f_score), ("m_score", m_score)):
        if value not in (1, 2, 3, 4, 5):
            raise InputError(f"rfm_cell: {name} must be an int in 1..5. Got {value!r} instead.")
    return _GRID[int(r_score)][(int(f_score) + int(m_score) + 1) // 2 - 1]


def rfm_scores(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """Quintile score 1..5 from the percent rank (ties share the lower score).

    Missing values get no score.

    Examples
    --------
    >>> rfm_scores(pd.Series([10, 20, 30, 40, 50])).tolist()
    [1, 2, 3, 4, 5]
    >>> rfm_scores(pd.Series([1, 1, 1, 2, 9]), higher_is_better=True).tolist()
    [1, 1, 1, 4, 5]
    >>> rfm_scores(pd.Series([0, 30, 400]), higher_is_better=False).tolist()
    [5, 3, 1]
    """
    goodness = values.astype(float) if higher_is_better else -values.astype(float)
    n = int(goodness.notna().sum())
    worse = goodness.rank(method="min", ascending=True) - 1.0
    score = quintile_of_rank(worse.to_numpy(dtype=float), n)
    return pd.Series(score, index=values.index).astype("Int64")


def quintile_of_rank(worse: np.ndarray, n: int) -> np.ndarray:
    """Quintile score 1..5 of values that ``worse`` of ``n`` values are strictly worse than.

    The score of :func:`rfm_scores` from the rank alone, so an engine that counts the
    ranks itself (Spark, over distinct values) scores exactly as pandas does here.

    Examples
    --------
    >>> quintile_of_rank(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 5).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    worse = np.asarray(worse, dtype=float)
    percent_rank = worse / (n - 1) if n > 1 else worse * 0.0
    return np.minimum(5.0, 1.0 + np.floor(5.0 * percent_rank))


def rfm_cell_names(r_score: pd.Series, f_score: pd.Series, m_score: pd.Series) -> np.ndarray:
    """The named cell of every row's scores (:data:`NO_PURCHASES` where a score is missing).

    Examples
    --------
    >>> scores = pd.Series([5, 1, None], dtype="Int64")
    >>> rfm_cell_names(scores, scores, scores).tolist()
    ['Champions', 'Lost', 'No purchases']
    """
    r_score = pd.Series(r_score).astype("Int64").reset_index(drop=True)
    fm = (pd.Series(f_score).astype("Int64").reset_index(drop=True)
          + pd.Series(m_score).astype("Int64").reset_index(drop=True) + 1) // 2
    names = np.full(len(r_score), NO_PURCHASES, dtype=object)
    for r, row in _GRID.items():
        for col, name in enumerate(row, start=1):
            names[((r_score == r) & (fm == col)).fillna(False).to_numpy(dtype=bool)] = name
    return names


def rfm_segments(store: Any, as_of: Any, *, window_days: int = 365) -> pd.DataFrame:
    """R, F and M scores and the named RFM cell per customer, as of a date.

    Parameters
    ----------
    store : Store
    as_of : date-like
        Inclusive: transactions on or before this day count.
    window_days : int, default 365
        Window of the frequency and monetary measures, ending on ``as_of``.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (every customer created on or before ``as_of``);
        columns ``recency_days``, ``purchase_days_<w>d``, ``net_spend_<w>d``
        (``w = window_days``), ``r_score``, ``f_score``, ``m_score`` (Int64,
        1..5, missing for customers without purchases) and ``rfm_segment``.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2", "C3"]}))
    >>> _ = store.load("transactions", pd.DataFrame({
    ...     "transaction_id": ["T1", "T2", "T3"], "customer_id": ["C1", "C1", "C2"],
    ...     "transaction_date": ["2024-03-01", "2024-03-30", "2023-01-10"], "amount": [50, 70, 20]}))
    >>> rfm_segments(store, "2024-03-31")[["r_score", "f_score", "m_score", "rfm_segment"]]
                 r_score  f_score  m_score   rfm_segment
    customer_id
    C1                 5        5        5     Champions
    C2                 1        1        1          Lost
    C3              <NA>     <NA>     <NA>  No purchases
    """
    raw = rfm_measures(store, as_of, window_days=window_days)
    out = rfm_table(raw, window_days)
    out.attrs.update({"as_of": raw.attrs["as_of"], "window_days": window_days})
    return out


def rfm_measures(store: Any, as_of: Any, *, window_days: int = 365) -> pd.DataFrame:
    """The measures behind the RFM scores per customer (``segmentation/sql/rfm.sql``).

    Index ``customer_id`` (every customer created on or before ``as_of``); columns
    ``last_purchase_date``, ``recency_days``, ``purchase_days_window`` and
    ``net_spend_window`` (the window of ``window_days`` days ending on ``as_of``).
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise InputError(
            "The 'window_days' parameter of rfm_segments must be an int in the range [1, inf). "
            f"Got {window_days!r} instead."
        )
    params = as_of_params(as_of)
    params["window_start"] = params["cutoff"] - dt.timedelta(days=window_days)
    raw = store.sql(load_query("segmentation/sql/rfm.sql"), params).set_index("customer_id")
    raw.attrs["as_of"] = str(params["as_of"])
    return raw


def _quintiles_among(values: pd.Series, column: str, higher_is_better: bool) -> pd.Series:
    """Quintile scores of the active customers' values; a lone active customer is the best."""
    scores = rfm_scores(values, higher_is_better=higher_is_better)
    if len(scores) == 1:
        scores[:] = 5
    return scores


def rfm_table(raw: pd.DataFrame, window_days: int, *, bought: pd.Series | None = None,
              scores: Any = None) -> pd.DataFrame:
    """The RFM columns of :func:`rfm_segments` from :func:`rfm_measures`' rows.

    ``bought`` marks the customers with a purchase (default: a last purchase date);
    ``scores(values, column, higher_is_better)`` scores the values of the customers
    active in the window (default: quintiles among them). An engine that ranks every
    customer elsewhere (Spark) passes its own, for rows that are a part of the whole.
    """
    scores = _quintiles_among if scores is None else scores
    bought = raw["last_purchase_date"].notna() if bought is None else bought.astype(bool)
    scored = raw[bought]
    out = pd.DataFrame(index=raw.index)
    out["recency_days"] = raw["recency_days"].astype("Int64")
    out[f"purchase_days_{window_days}d"] = raw["purchase_days_window"].astype("Int64").where(bought)
    out[f"net_spend_{window_days}d"] = raw["net_spend_window"].astype(float).where(bought)
    # Quintiles among the customers active in the window; lapsed buyers score 1 (Lost).
    active = scored[scored["purchase_days_window"] > 0]
    for column, source, better in (
        ("r_score", active["recency_days"], False),
        ("f_score", active["purchase_days_window"], True),
        ("m_score", active["net_spend_window"], True),
    ):
        values = pd.to_numeric(scores(source, column, better), errors="coerce")
        values = values.reindex(scored.index).fillna(1)
        out[column] = values.astype("Int64").reindex(raw.index)
    out["rfm_segment"] = rfm_cell_names(out["r_score"], out["f_score"], out["m_score"])
    return out
