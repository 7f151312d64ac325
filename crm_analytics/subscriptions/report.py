"""Everything about subscriptions as of one date, as the tables the nightly run stores.

:func:`subscription_report` is what the scoring run's ``subscriptions`` step
calls (and what an analyst can call on a store): cohort retention, revenue
retention, Kaplan-Meier curves and medians by plan with the log-rank test, the
sBG model by plan, and the value of the active subscribers. Parts the data
cannot support (too few subscriptions, a single plan, no cancellation yet) are
left out with their reason in ``skipped``, never failing the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.core.timeutils import cutoff, to_date
from crm_analytics.store import Store, load_query
from crm_analytics.subscriptions.cohorts import cohort_retention, revenue_retention
from crm_analytics.subscriptions.data import subscription_lifetimes
from crm_analytics.subscriptions.survival import kaplan_meier
from crm_analytics.subscriptions.value import fit_sbg, subscriber_value

__all__ = ["MIN_SUBSCRIPTIONS", "SubscriptionReport", "subscription_count", "subscription_report"]

#: Fewest subscriptions the survival and sBG parts are computed on.
MIN_SUBSCRIPTIONS = 20
#: Latest cohorts and periods kept in the stored cohort tables (they grow with history).
MAX_COHORTS = 36


def subscription_count(store: Store, as_of: Any) -> int:
    """Subscriptions started on or before ``as_of`` (0 when the store has no subscriptions table).

    Examples
    --------
    >>> subscription_count(Store(":memory:"), "2024-06-30")
    0
    """
    if "subscriptions" not in store.tables():
        return 0
    got = store.sql(load_query("subscriptions/sql/subscription_count.sql"), {"cutoff": cutoff(as_of)})
    return int(got["n_subscriptions"].iloc[0])


@dataclass
class SubscriptionReport:
    """The result tables (by name), headline metrics and skipped parts of :func:`subscription_report`."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _latest_cohorts(table: pd.DataFrame, limit: int) -> pd.DataFrame:
    keep = sorted(table["cohort"].astype(str).unique())[-limit:]
    return table[table["cohort"].astype(str).isin(keep) & (table["period"] <= limit)].reset_index(drop=True)


def subscription_report(store: Store, as_of: Any, *, by: str = "plan", annual_discount_rate: float = 0.10,
                        period: str = "month") -> SubscriptionReport:
    """Cohorts, revenue retention, survival by ``by`` and the sBG model, as of a date.

    Tables (each a DataFrame, stored by the nightly run under these names):
    ``subscription_cohorts`` (:func:`cohort_retention`, all subscriptions, the
    latest 36 cohorts), ``subscription_revenue_retention`` (:func:`revenue_retention`),
    ``subscription_survival`` (Kaplan-Meier by ``by``), ``subscription_medians``,
    ``subscription_sbg`` (:meth:`SegmentModels.table`) and ``subscription_value``
    (residual value of the active subscribers, summed per segment).

    Examples
    --------
    >>> store = Store(":memory:")
    >>> report = subscription_report(store, "2024-06-30")
    >>> report.skipped
    {'subscriptions': 'no subscriptions up to 2024-06-30'}
    """
    day = to_date(as_of)
    n = subscription_count(store, day)
    report = SubscriptionReport()
    if n == 0:
        report.skipped["subscriptions"] = f"no subscriptions up to {day}"
        return report
    life = subscription_lifetimes(store, day, period=period)
    monthly_rate = (1 + float(annual_discount_rate)) ** (1 / 12) - 1
    rate = {"day": (1 + annual_discount_rate) ** (1 / 365.25) - 1, "week": (1 + annual_discount_rate)
            ** (7 / 365.25) - 1, "month": monthly_rate, "quarter": (1 + annual_discount_rate) ** 0.25 - 1,
            "year": float(annual_discount_rate)}[period]
    cohorts = cohort_retention(life)
    report.tables["subscription_cohorts"] = _latest_cohorts(cohorts, MAX_COHORTS)
    revenue = revenue_retention(life)
    report.tables["subscription_revenue_retention"] = _latest_cohorts(revenue, MAX_COHORTS)
    active = int((~life["event"]).sum())
    report.metrics = {
        "subscriptions": int(len(life)), "active": active, "cancelled": int(life["event"].sum()),
        "period": period, "by": by,
        "recurring_revenue": float(life.loc[~life["event"], "amount_per_period"].fillna(0).sum()),
    }
    if len(life) < MIN_SUBSCRIPTIONS:
        reason = f"only {len(life)} subscriptions up to {day}; needs at least {MIN_SUBSCRIPTIONS}"
        report.skipped["subscriptions.survival"] = reason
        report.skipped["subscriptions.sbg"] = reason
        return report
    segment = by if by in life.columns and life[by].notna().any() else None
    if segment is None:
        report.skipped["subscriptions.segments"] = f"no {by} recorded: survival and sBG for all together"
    km = kaplan_meier(life, by=segment)
    report.tables["subscription_survival"] = km.table
    report.tables["subscription_medians"] = km.medians.reset_index()
    if km.logrank is not None:
        report.metrics["logrank"] = km.logrank.to_dict()
    fits = fit_sbg(life, by=segment)
    for name, why in fits.skipped.items():
        report.skipped[f"subscriptions.sbg.{name}"] = why
    if fits.notes:
        report.metrics["sbg_notes"] = dict(fits.notes)
    if fits.models:
        report.tables["subscription_sbg"] = fits.table(discount_rate=rate)
        value = subscriber_value(life, fits, discount_rate=rate)
        per = value.groupby("segment").agg(active_subscriptions=("renewals", "size"),
                                           mean_p_renew_next=("p_renew_next", "mean"),
                                           mean_remaining_periods=("expected_remaining_periods", "mean"),
                                           residual_value=("residual_value", "sum")).reset_index()
        report.tables["subscription_value"] = per
        report.metrics["residual_value"] = float(np.nansum(value["residual_value"]))
    return report
