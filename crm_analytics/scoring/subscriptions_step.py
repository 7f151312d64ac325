"""The ``subscriptions`` step of a scoring run: cohorts, survival and the sBG model by plan.

Runs only when the store has subscriptions started by the run's date; otherwise
it is skipped with the reason ("no subscriptions up to ..."), as the other steps
skip what the data cannot support. It writes the tables of
:func:`crm_analytics.subscriptions.subscription_report` (what the dashboard's
subscriptions page shows): ``subscription_cohorts``,
``subscription_revenue_retention``, ``subscription_survival``,
``subscription_medians``, ``subscription_sbg`` and ``subscription_value``, and
records parts it left out (too few subscriptions, a plan too young or too small
for the sBG model) as ``subscriptions.<part>`` skips.
"""

from __future__ import annotations

from crm_analytics import subscriptions as subs
from crm_analytics.scoring.context import RunContext

__all__ = ["step_subscriptions"]


def step_subscriptions(ctx: RunContext) -> None:
    """Compute the subscription tables as of the run's date (see the module notes)."""
    report = subs.subscription_report(ctx.store, ctx.as_of,
                                      annual_discount_rate=ctx.config.annual_discount_rate)
    for what, why in report.skipped.items():
        # No subscriptions at all is the normal case of a non-contractual business.
        ctx.skip(what, why, expected=what == "subscriptions" and why.startswith("no subscriptions"))
    ctx.results.update(report.tables)
    if report.metrics:
        ctx.metrics["subscriptions"] = report.metrics
