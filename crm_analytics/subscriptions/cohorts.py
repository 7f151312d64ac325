"""Cohort retention: of the subscribers who started in a period, how many are still subscribed.

Both tables start from the lifetimes of
:func:`~crm_analytics.subscriptions.subscription_lifetimes` (one row per
subscription as of a date), so they use only what was known then, and a cell is
computed only from the subscriptions old enough to be observed in it (``age >= k``):
the newest cohorts have short rows instead of made-up zeros.

* :func:`cohort_retention` counts subscriptions: ``active`` after ``k`` periods
  (not cancelled within its first ``k`` periods) out of ``eligible``;
* :func:`revenue_retention` follows customers' recurring revenue: per cohort of
  customers (by their first subscription), the recurring revenue ``k`` periods
  after their start against their revenue at the start. **Net** revenue
  retention counts upgrades and new subscriptions of the same customers (it can
  exceed 100%); **gross** caps each customer at their starting revenue, so it
  shows only downgrades and cancellations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError
from crm_analytics.subscriptions.data import PERIODS, add_months, complete_periods

__all__ = ["cohort_retention", "retention_matrix", "revenue_retention"]

_LIFETIME_COLUMNS = ("subscription_id", "customer_id", "cohort", "duration", "event", "age")


def _check_lifetimes(lifetimes: Any, by: str | None, what: str) -> None:
    if not isinstance(lifetimes, pd.DataFrame):
        raise InputError(f"{what}: expected the DataFrame of subscription_lifetimes(...); got "
                         f"{type(lifetimes).__name__}")
    missing = [c for c in _LIFETIME_COLUMNS if c not in lifetimes.columns]
    if missing:
        raise InputError(f"{what}: column(s) {missing} missing; pass the table of "
                         "subscription_lifetimes(...) (joined with segments by attach(...))")
    if by is not None and by not in lifetimes.columns:
        raise InputError(f"{what}: segment column {by!r} is not in the lifetimes; it has "
                         f"{list(lifetimes.columns)} (add score or attribute columns with attach(...))")


def _segments(lifetimes: pd.DataFrame, by: str | None) -> pd.Series:
    if by is None:
        return pd.Series("all", index=lifetimes.index)
    values = lifetimes[by]
    return values.astype(object).where(values.notna(), "(missing)").astype(str)


def _periods(max_periods: int | None, longest: int, what: str) -> int:
    if max_periods is None:
        return max(longest, 0)
    if isinstance(max_periods, bool) or not isinstance(max_periods, int | np.integer) or max_periods < 0:
        raise InputError(f"{what}: max_periods must be a whole number >= 0 or None; got {max_periods!r}")
    return min(int(max_periods), max(longest, 0))


def cohort_retention(lifetimes: pd.DataFrame, *, by: str | None = None,
                     max_periods: int | None = None) -> pd.DataFrame:
    """The cohort x period retention table: counts and shares, optionally by segment.

    Parameters
    ----------
    lifetimes : DataFrame
        :func:`~crm_analytics.subscriptions.subscription_lifetimes` (with any
        segment or score column added by :func:`~crm_analytics.subscriptions.attach`).
    by : str, optional
        Segment column: one table block per value (``'(missing)'`` for missing).
    max_periods : int, optional
        Last period to show (default: the oldest cohort's age).

    Returns
    -------
    DataFrame
        One row per segment, cohort and period ``k = 0, 1, ...``: ``segment,
        cohort, period, cohort_size, eligible`` (subscriptions old enough to be
        observed ``k`` periods after their start), ``active`` (of those, not
        cancelled within their first ``k`` periods), ``retention = active /
        eligible``. A cell with no eligible subscription is left out.

    Examples
    --------
    >>> life = pd.DataFrame({"subscription_id": ["S1", "S2", "S3", "S4"],
    ...     "customer_id": ["C1", "C2", "C3", "C4"], "cohort": ["2024-01"] * 3 + ["2024-02"],
    ...     "duration": [1, 3, 2, 2], "event": [True, False, False, False], "age": [3, 3, 2, 2]})
    >>> cohort_retention(life)[["cohort", "period", "eligible", "active", "retention"]]
        cohort  period  eligible  active  retention
    0  2024-01       0         3       3   1.000000
    1  2024-01       1         3       2   0.666667
    2  2024-01       2         3       2   0.666667
    3  2024-01       3         2       1   0.500000
    4  2024-02       0         1       1   1.000000
    5  2024-02       1         1       1   1.000000
    6  2024-02       2         1       1   1.000000
    """
    _check_lifetimes(lifetimes, by, "cohort_retention")
    columns = ["segment", "cohort", "period", "cohort_size", "eligible", "active", "retention"]
    if lifetimes.empty:
        return pd.DataFrame(columns=columns)
    age = lifetimes["age"].to_numpy(np.int64)
    duration = lifetimes["duration"].to_numpy(np.int64)
    event = lifetimes["event"].to_numpy(bool)
    horizon = _periods(max_periods, int(age.max()), "cohort_retention")
    k = np.arange(horizon + 1)
    eligible = age[:, None] >= k[None, :]
    # Cancelled within the first k periods: an ended subscription paid `duration` periods.
    gone = event[:, None] & (duration[:, None] <= k[None, :])
    active = eligible & ~gone
    keys = pd.DataFrame({"segment": _segments(lifetimes, by).to_numpy(),
                         "cohort": lifetimes["cohort"].astype(str).to_numpy()})
    size = keys.groupby(["segment", "cohort"]).size().rename("cohort_size")
    elig = pd.DataFrame(eligible.astype(np.int64), columns=k).groupby(
        [keys["segment"], keys["cohort"]]).sum()
    act = pd.DataFrame(active.astype(np.int64), columns=k).groupby(
        [keys["segment"], keys["cohort"]]).sum()
    table = pd.DataFrame({"eligible": elig.stack(), "active": act.stack()})
    table.index.names = ["segment", "cohort", "period"]
    table = table[table["eligible"] > 0].reset_index()
    table = table.join(size, on=["segment", "cohort"])
    table["retention"] = table["active"] / table["eligible"]
    return table[columns].sort_values(["segment", "cohort", "period"], ignore_index=True)


def retention_matrix(table: pd.DataFrame, *, value: str = "retention",
                     segment: str | None = None) -> pd.DataFrame:
    """Cohorts as rows, periods as columns (the heat-map's layout) for one segment.

    Examples
    --------
    >>> t = pd.DataFrame({"segment": "all", "cohort": ["2024-01", "2024-01", "2024-02"],
    ...                   "period": [0, 1, 0], "retention": [1.0, 0.5, 1.0]})
    >>> retention_matrix(t)
    period     0    1
    cohort
    2024-01  1.0  0.5
    2024-02  1.0  NaN
    """
    if not isinstance(table, pd.DataFrame) or not {"cohort", "period", value} <= set(table.columns):
        raise InputError(f"retention_matrix: expected the table of cohort_retention(...) or "
                         f"revenue_retention(...) with a {value!r} column")
    if "segment" in table.columns:
        segments = sorted(table["segment"].astype(str).unique())
        if segment is None:
            if len(segments) > 1:
                raise InputError(f"retention_matrix: the table has segments {segments}; choose one with "
                                 "segment=")
        elif segment not in segments:
            raise InputError(f"retention_matrix: no segment {segment!r}; the segments are {segments}")
        else:
            table = table[table["segment"].astype(str) == segment]
    return table.pivot(index="cohort", columns="period", values=value).sort_index()


def revenue_retention(lifetimes: pd.DataFrame, *, by: str | None = None,
                      max_periods: int | None = None) -> pd.DataFrame:
    """Net and gross recurring-revenue retention per customer cohort and period.

    A customer's cohort is the period of their first subscription (as of the
    lifetimes' date), and their recurring revenue at a moment is the sum of the
    ``amount_per_period`` of their subscriptions running then. At period ``k``
    the customers observed that long (``k`` periods since their start, before the
    cutoff) give ``starting_revenue`` (their revenue just after their start) and
    ``revenue`` (``k`` periods later):

    * ``net_revenue_retention = sum(revenue) / sum(starting_revenue)``;
    * ``gross_revenue_retention = sum(min(revenue, starting)) / sum(starting_revenue)``.

    ``by`` (a per-customer segment) takes each customer's value on their first
    subscription. Subscriptions without a ``recurring_amount`` count as 0.

    Examples
    --------
    >>> subs = pd.DataFrame({"subscription_id": ["S1", "S2", "S3"], "customer_id": ["C1", "C1", "C2"],
    ...     "started_at": ["2024-01-05", "2024-01-20", "2024-01-10"],
    ...     "ended_at": [None, None, "2024-02-20"], "billing_period": "month",
    ...     "recurring_amount": [10.0, 5.0, 10.0]})
    >>> from crm_analytics.subscriptions.data import subscription_lifetimes
    >>> life = subscription_lifetimes(subs, "2024-03-31")
    >>> table = revenue_retention(life)
    >>> table[["period", "customers", "starting_revenue", "revenue"]]
       period  customers  starting_revenue  revenue
    0       0          2              20.0     20.0
    1       1          2              20.0     25.0
    2       2          2              20.0     15.0
    >>> table[["net_revenue_retention", "gross_revenue_retention"]].values.tolist()
    [[1.0, 1.0], [1.25, 1.0], [0.75, 0.5]]
    """
    _check_lifetimes(lifetimes, by, "revenue_retention")
    extra = [c for c in ("started_at", "ended_at", "amount_per_period") if c not in lifetimes.columns]
    if extra:
        raise InputError(f"revenue_retention: column(s) {extra} missing; pass the table of "
                         "subscription_lifetimes(...)")
    columns = ["segment", "cohort", "period", "customers", "starting_revenue", "revenue",
               "net_revenue_retention", "gross_revenue_retention"]
    if lifetimes.empty:
        return pd.DataFrame(columns=columns)
    period = lifetimes.attrs.get("period", "month")
    as_of = lifetimes.attrs.get("as_of")
    if period not in PERIODS or as_of is None:
        raise InputError("revenue_retention: the lifetimes lost their attrs 'period'/'as_of'; pass the "
                         "table of subscription_lifetimes(...) unchanged (attach(...) keeps them)")
    cut = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    life = lifetimes.assign(_seg=_segments(lifetimes, by).to_numpy())
    first = life.sort_values(["started_at", "subscription_id"]).groupby("customer_id", sort=True).first()
    customers = pd.DataFrame({"first_start": first["started_at"], "cohort": first["cohort"].astype(str),
                              "segment": first["_seg"], "age": 0}, index=first.index)
    unit, size = PERIODS[period]
    # customer ages: the whole periods from their first start to the cutoff
    whole, _ = complete_periods(customers["first_start"], pd.Series(cut, index=customers.index), period)
    customers["age"] = whole
    longest = int(whole.max()) if len(whole) else 0
    horizon = _periods(max_periods, longest, "revenue_retention")
    rows = []
    start = customers["first_start"]
    subs = life[["customer_id", "started_at", "ended_at", "amount_per_period"]].copy()
    subs["amount_per_period"] = pd.to_numeric(subs["amount_per_period"], errors="coerce").fillna(0.0)
    subs = subs.join(customers[["first_start"]], on="customer_id")
    base = None
    for k in range(horizon + 1):
        moment_c = (add_months(start, k * int(size)) if unit == "months"
                    else start + pd.to_timedelta(k * size, unit="D"))
        observed = customers["age"] >= k
        if not observed.any():
            break
        moment = subs["customer_id"].map(moment_c)
        running = (subs["started_at"] <= moment) & (subs["ended_at"].isna() | (subs["ended_at"] > moment))
        revenue = subs["amount_per_period"].where(running, 0.0).groupby(subs["customer_id"]).sum()
        revenue = revenue.reindex(customers.index, fill_value=0.0)
        if base is None:
            base = revenue
        frame = pd.DataFrame({"segment": customers["segment"], "cohort": customers["cohort"],
                              "start": base, "now": revenue, "kept": np.minimum(revenue, base)})[observed]
        agg = frame.groupby(["segment", "cohort"]).agg(customers=("now", "size"),
                                                       starting_revenue=("start", "sum"),
                                                       revenue=("now", "sum"), kept=("kept", "sum"))
        agg["period"] = k
        rows.append(agg.reset_index())
    table = pd.concat(rows, ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["net_revenue_retention"] = np.where(table["starting_revenue"] > 0,
                                                  table["revenue"] / table["starting_revenue"], np.nan)
        table["gross_revenue_retention"] = np.where(table["starting_revenue"] > 0,
                                                    table["kept"] / table["starting_revenue"], np.nan)
    return table[columns].sort_values(["segment", "cohort", "period"], ignore_index=True)
