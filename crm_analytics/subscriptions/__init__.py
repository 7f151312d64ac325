"""Subscriptions and cohorts: retention curves, survival by segment, contractual CLV.

For contractual businesses (telecom, SaaS, insurance, memberships), where a
customer cancels at a known moment. Everything starts from the lifetimes of
:func:`subscription_lifetimes` (one row per subscription as of a date).

Data
    :func:`subscription_lifetimes` (from the store's ``subscriptions`` table or a
    DataFrame), :func:`subscriptions_from_tenure` / :func:`subscriptions_from_attributes`
    (derived from a Telco-style table with a tenure and a churn flag), :func:`attach`
    (add segment or score columns).
Cohorts
    :func:`cohort_retention`, :func:`retention_matrix`, :func:`revenue_retention`
    (net and gross).
Survival
    :func:`kaplan_meier` (curves with bands by segment, medians, log-rank test),
    :func:`logrank_test`, :class:`CoxModel` (hazard ratios with intervals).
Contractual CLV
    :class:`ShiftedBetaGeometric` (Fader & Hardie 2007; DEL/DERL of Fader &
    Hardie 2010), :func:`fit_sbg`, :func:`subscriber_value`.
As of a date, on the store
    :func:`subscription_report` (every table the nightly run stores), :func:`subscription_count`.
Figures (plotly)
    :func:`plot_cohort_heatmap`, :func:`plot_survival`, :func:`plot_revenue_retention`,
    :func:`plot_sbg_projection`.
"""

from crm_analytics.subscriptions.cohorts import cohort_retention, retention_matrix, revenue_retention
from crm_analytics.subscriptions.data import (
    PERIODS,
    amount_per_period,
    attach,
    subscription_lifetimes,
    subscriptions_from_attributes,
    subscriptions_from_tenure,
)
from crm_analytics.subscriptions.plotting import (
    plot_cohort_heatmap,
    plot_revenue_retention,
    plot_sbg_projection,
    plot_survival,
)
from crm_analytics.subscriptions.report import SubscriptionReport, subscription_count, subscription_report
from crm_analytics.subscriptions.sbg import ShiftedBetaGeometric, survivors_to_lifetimes
from crm_analytics.subscriptions.survival import (
    CoxModel,
    KaplanMeier,
    LogRankResult,
    kaplan_meier,
    logrank_test,
    median_lifetimes,
)
from crm_analytics.subscriptions.value import SegmentModels, fit_sbg, subscriber_value

__all__ = [
    "PERIODS",
    "CoxModel",
    "KaplanMeier",
    "LogRankResult",
    "SegmentModels",
    "ShiftedBetaGeometric",
    "SubscriptionReport",
    "amount_per_period",
    "attach",
    "cohort_retention",
    "fit_sbg",
    "kaplan_meier",
    "logrank_test",
    "median_lifetimes",
    "plot_cohort_heatmap",
    "plot_revenue_retention",
    "plot_sbg_projection",
    "plot_survival",
    "retention_matrix",
    "revenue_retention",
    "subscriber_value",
    "subscription_count",
    "subscription_lifetimes",
    "subscription_report",
    "subscriptions_from_attributes",
    "subscriptions_from_tenure",
    "survivors_to_lifetimes",
]
