"""Revenue potential: which customers sales should approach, and why.

In IBM's CRM programme every customer carried a revenue-potential code that
told sales whom to approach; opportunity teams derived a growth rate from past
revenue. Here the potential combines three views, each kept as a column:

*Predicted CLV* (``clv``)
    What the customer is expected to spend over the horizon if nothing
    changes (:meth:`CLVModel.clv`, discounted).
*Headroom against comparable customers* (``headroom``)
    Peers are customers of the same size band and industry (see
    :func:`crm_analytics.store.attributes.size_band`). ``headroom = max(0,
    peer_annual_spend_q75 - annual_spend)``: what the customer would add per
    year by spending like the upper quartile of their peers. A peer group with
    fewer than ``min_peers`` customers falls back to the size band across
    industries, then to all customers (``peer_group`` says which).
*Growth rate of past revenue* (``growth_rate``)
    Net revenue of the last 365 days against the 365 days before, both as
    annual rates: ``growth = revenue_last_12m / prior_annual - 1`` with
    ``prior_annual = revenue_prior_12m * 365 / prior_days`` and ``prior_days``
    the days of the prior window the customer was already a customer. Rules:
    fewer than 90 such days -> NaN, ``growth_basis = "new_customer"``; prior
    annual revenue <= 0 -> NaN, ``"zero_base"``; otherwise ``"history"``.
    Growth explains and tracks; it is *not* in the numeric potential, because
    the CLV already extrapolates each customer's recent purchase rate.

The numeric potential is::

    revenue_potential = clv + headroom_value
    headroom_value    = probability_alive * headroom * annuity(horizon, rate)
    annuity           = (1 - (1 + rate) ** -H) / ln(1 + rate)   (H = horizon in years; = H if rate = 0)

i.e. the predicted CLV plus the headroom earned evenly over the horizon,
discounted like the CLV and weighted by the probability that the customer is
still active to earn it. ``annual_spend = revenue_last_12m * 365 /
max(90, min(365, tenure_days))`` annualises customers younger than a year
without blowing up the very newest.

Codes: ``A`` for a potential at or above the 75th percentile of all scored
customers, ``B`` at or above the median, ``C`` at or above the 25th
percentile, ``D`` below (ties at a cut-off get the higher code). The cut-offs
are in ``result.attrs["revenue_potential_cutoffs"]``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.clv.model import DAYS_PER_YEAR, CLVModel
from crm_analytics.clv.summary import rfm_summary
from crm_analytics.core.timeutils import as_of_params, to_date
from crm_analytics.errors import InputError
from crm_analytics.store.attributes import (
    DEFAULT_THRESHOLDS,
    SIZE_BANDS,
    SizeThresholds,
    customer_attributes,
    size_band,
)
from crm_analytics.store.queries import load_query

__all__ = [
    "LARGE_EMPLOYEES",
    "LARGE_REVENUE",
    "MIN_PEERS",
    "POTENTIAL_CODES",
    "SIZE_BANDS",
    "revenue_potential",
    "size_band",
]

#: A business customer with at least this many employees is "large" (shared with segmentation).
LARGE_EMPLOYEES: int = DEFAULT_THRESHOLDS.large_employees
#: ... or with at least this annual revenue.
LARGE_REVENUE: float = DEFAULT_THRESHOLDS.large_revenue
#: Smallest peer group whose upper quartile is trusted.
MIN_PEERS = 20
#: Codes from the highest potential quartile to the lowest.
POTENTIAL_CODES = ("A", "B", "C", "D")

_WINDOW_DAYS = 365
_MIN_HISTORY_DAYS = 90
_NO_INDUSTRY = "(none)"


def revenue_potential(
    store: Any,
    as_of: Any,
    *,
    model: CLVModel | None = None,
    summary: pd.DataFrame | None = None,
    horizon_days: float = 365,
    annual_discount_rate: float = 0.1,
    purchase_model: str = "bgnbd",
    time_unit: str = "W",
    thresholds: SizeThresholds | None = None,
    min_peers: int = MIN_PEERS,
) -> pd.DataFrame:
    """Revenue potential, its A/B/C/D code and the components that explain it.

    Parameters
    ----------
    store : crm_analytics.Store
    as_of : date-like
        Last day observed (inclusive).
    model : CLVModel, optional
        A fitted model; default ``CLVModel(purchase_model, time_unit=time_unit)``
        fitted on ``summary``.
    summary : pandas.DataFrame, optional
        RFM summary as of ``as_of``; default ``rfm_summary(store, as_of)`` in
        the model's time unit.
    horizon_days, annual_discount_rate : float
        CLV horizon and discounting (see :meth:`CLVModel.clv`).
    purchase_model, time_unit : str
        Used only when ``model`` is None.
    thresholds : SizeThresholds, optional
        Size band thresholds (default ``LARGE_EMPLOYEES`` / ``LARGE_REVENUE``).
    min_peers : int, default 20
        Smallest peer group used as is.

    Returns
    -------
    pandas.DataFrame
        One row per customer of the summary, by ``customer_id``: ``clv``,
        ``probability_alive``, ``revenue_last_12m``, ``revenue_prior_12m``,
        ``growth_rate``, ``growth_basis``, ``annual_spend``, ``size_band``,
        ``industry``, ``peer_group``, ``peer_count``,
        ``peer_annual_spend_q75``, ``headroom``, ``headroom_value``,
        ``revenue_potential``, ``revenue_potential_code``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics.store import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({
    ...     "customer_id": ["A", "B", "C"], "customer_type": ["business"] * 3,
    ...     "employees": [10, 20, 30], "industry": ["Retail"] * 3}))
    >>> _ = store.load("transactions", pd.DataFrame({
    ...     "transaction_id": ["1", "2", "3", "4", "5"], "customer_id": ["A", "A", "B", "B", "C"],
    ...     "transaction_date": ["2024-01-02", "2024-03-01", "2024-01-05", "2024-02-01", "2024-02-10"],
    ...     "amount": [100.0, 120.0, 40.0, 60.0, 30.0]}))
    >>> model = CLVModel.from_params({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5,
    ...                               "p": 6.0, "q": 4.0, "v": 50.0})
    >>> out = revenue_potential(store, "2024-03-31", model=model, min_peers=1)
    >>> out[["clv", "headroom", "revenue_potential", "revenue_potential_code"]].round(1)
                   clv  headroom  revenue_potential revenue_potential_code
    customer_id
    A            211.8       0.0              211.8                      D
    B            110.6     243.3              234.5                      B
    C            132.7     527.2              635.3                      A

    A already spends the most of its peers (no headroom); C spends far below them.
    """
    as_of_day = to_date(as_of, "as_of")
    if isinstance(min_peers, bool) or not isinstance(min_peers, (int, np.integer)) or min_peers < 1:
        raise InputError(
            f"The 'min_peers' parameter of revenue_potential must be an int in the range [1, inf). "
            f"Got {min_peers!r} instead."
        )
    thresholds = thresholds or DEFAULT_THRESHOLDS
    if summary is None:
        summary = rfm_summary(store, as_of_day, time_unit=model.time_unit if model else time_unit)
    if model is None:
        model = CLVModel(purchase_model=purchase_model, time_unit=time_unit).fit(summary)
    value = model.clv(summary, horizon_days=horizon_days, annual_discount_rate=annual_discount_rate)
    out = pd.DataFrame(index=summary.index)
    out["clv"] = value["clv"]
    out["probability_alive"] = model.probability_alive(summary)

    history = _revenue_history(store, as_of_day).reindex(summary.index)
    tenure = history["tenure_days"].to_numpy(dtype=float)
    last = history["revenue_last_12m"].fillna(0.0).to_numpy(dtype=float)
    prior = history["revenue_prior_12m"].fillna(0.0).to_numpy(dtype=float)
    out["revenue_last_12m"] = last
    out["revenue_prior_12m"] = prior
    growth, basis = _growth(last, prior, tenure)
    out["growth_rate"] = growth
    out["growth_basis"] = pd.array(basis, dtype="str")
    active_days = np.clip(np.nan_to_num(tenure, nan=_WINDOW_DAYS), _MIN_HISTORY_DAYS, _WINDOW_DAYS)
    out["annual_spend"] = last * _WINDOW_DAYS / active_days

    attrs = customer_attributes(store, as_of_day, thresholds)
    attrs = attrs.reindex(summary.index)
    bands = attrs["size_band"].astype(object).where(attrs["size_band"].notna(), "unknown")
    out["size_band"] = pd.array(bands.to_numpy(), dtype="str")
    out["industry"] = attrs["industry"]
    _peers(out, min_peers)
    out["headroom"] = np.maximum(0.0, out["peer_annual_spend_q75"] - out["annual_spend"])
    years = float(horizon_days) / DAYS_PER_YEAR
    out["headroom_value"] = out["probability_alive"] * out["headroom"] * _annuity(
        years, float(annual_discount_rate)
    )
    out["revenue_potential"] = out["clv"] + out["headroom_value"]
    codes, cutoffs = _codes(out["revenue_potential"].to_numpy(dtype=float))
    out["revenue_potential_code"] = pd.array(codes, dtype="str")
    out.attrs["revenue_potential_cutoffs"] = cutoffs
    out.attrs["as_of"] = as_of_day.isoformat()
    return out


def _revenue_history(store: Any, as_of_day: dt.date) -> pd.DataFrame:
    cutoff = as_of_params(as_of_day)["cutoff"]
    frame = store.sql(
        load_query("clv/sql/revenue_history.sql"),
        {
            "as_of": as_of_day,
            "cutoff": cutoff,
            "last_start": cutoff - dt.timedelta(days=_WINDOW_DAYS),
            "prior_start": cutoff - dt.timedelta(days=2 * _WINDOW_DAYS),
        },
    )
    frame = frame.set_index("customer_id")
    frame.index = frame.index.astype(str)
    return frame


def _growth(last: np.ndarray, prior: np.ndarray, tenure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Annualised growth of net revenue, last 365 days vs the 365 before (see module doc)."""
    prior_days = np.clip(np.nan_to_num(tenure, nan=0.0) - _WINDOW_DAYS, 0, _WINDOW_DAYS)
    with np.errstate(divide="ignore", invalid="ignore"):
        prior_annual = prior * _WINDOW_DAYS / prior_days
        growth = last / prior_annual - 1.0
    new = prior_days < _MIN_HISTORY_DAYS
    zero = ~new & ~(prior_annual > 0)
    growth = np.where(new | zero, np.nan, growth)
    basis = np.where(new, "new_customer", np.where(zero, "zero_base", "history"))
    return growth, basis


def _peers(out: pd.DataFrame, min_peers: int) -> None:
    """Add peer_group, peer_count and peer_annual_spend_q75 (upper quartile of peers' annual spend)."""
    industry = out["industry"].astype(object).where(out["industry"].notna(), _NO_INDUSTRY)
    band = out["size_band"].astype(object)
    levels = [
        (band + " / " + industry, "size band and industry"),
        (band + " / all industries", "size band"),
        (pd.Series("all customers", index=out.index, dtype=object), "all"),
    ]
    group = pd.Series(np.nan, index=out.index, dtype=object)
    count = pd.Series(np.nan, index=out.index, dtype=float)
    q75 = pd.Series(np.nan, index=out.index, dtype=float)
    spend = out["annual_spend"]
    for i, (key, _) in enumerate(levels):
        grouped = spend.groupby(key.to_numpy(), sort=False)
        sizes = key.map(grouped.size())
        quartile = key.map(grouped.quantile(0.75))
        last_level = i == len(levels) - 1
        take = group.isna() & ((sizes >= min_peers) | last_level)
        group[take] = key[take]
        count[take] = sizes[take]
        q75[take] = quartile[take]
    out["peer_group"] = pd.array(group.to_numpy(), dtype="str")
    out["peer_count"] = count.astype("int64")
    out["peer_annual_spend_q75"] = q75.astype(float)


def _annuity(years: float, rate: float) -> float:
    """Present value of 1 a year paid continuously for ``years`` at an effective annual ``rate``."""
    if years <= 0:
        return 0.0
    if rate == 0:
        return years
    return (1.0 - (1.0 + rate) ** (-years)) / math.log1p(rate)


def _codes(potential: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """A/B/C/D by the 75th, 50th and 25th percentiles of the potential."""
    finite = potential[np.isfinite(potential)]
    if finite.size == 0:
        return np.full(potential.size, "D", dtype=object), {}
    q75, q50, q25 = np.quantile(finite, [0.75, 0.5, 0.25])
    codes = np.select(
        [potential >= q75, potential >= q50, potential >= q25], ["A", "B", "C"], default="D"
    ).astype(object)
    return codes, {"A": float(q75), "B": float(q50), "C": float(q25)}
