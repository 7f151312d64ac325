"""The "next best action" of a customer view: a small, ordered rule table.

The rules are read top to bottom and the **first one that holds gives the action**.
Two things restrict every action, whichever rule gave it:

* a rule marked ``no_selling`` that holds (an open complaint, an overdue ticket, a
  recent detractor answer) forbids sales pitches and marketing for as long as it holds;
* a customer without marketing consent (``marketing_opt_in`` not true) gets no
  marketing: rules whose channel is ``marketing`` are skipped for them, and the
  action says so.

The table is plain data (:data:`ACTION_RULES`); the README's *Single customer view*
section lists it, and :func:`action_rules` returns it as a DataFrame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["ACTION_RULES", "HIGH_VALUE_TIERS", "ActionFacts", "ActionRule", "NextBestAction",
           "action_rules", "next_best_action"]

#: Value tiers that count as "high value" (the top 30 % by CLV).
HIGH_VALUE_TIERS: tuple[str, ...] = ("Top 10%", "Next 20%")
#: A detractor answer older than this no longer calls for service recovery.
DETRACTOR_RECENT_DAYS = 365


@dataclass(frozen=True)
class ActionFacts:
    """What the rules look at, taken from one customer view.

    Examples
    --------
    >>> ActionFacts(open_complaints=1).open_complaints
    1
    """

    open_complaints: int = 0
    open_breached: int = 0
    risk_band: str | None = None
    value_tier: str | None = None
    detractor_days_ago: int | None = None  # days since a latest NPS answer of 0-6; None: not one
    revenue_potential_code: str | None = None
    marketing_opt_in: bool | None = None


@dataclass(frozen=True)
class ActionRule:
    """One row of the rule table."""

    name: str
    when: str  # the condition, in words
    action: str  # what to do
    channel: str  # 'service', 'sales' or 'marketing' (marketing needs consent)
    no_selling: bool  # while it holds: no sales pitch, no marketing
    holds: Callable[[ActionFacts], bool] = field(repr=False, compare=False)


def _open_complaint(f: ActionFacts) -> bool:
    return f.open_complaints > 0


def _overdue_ticket(f: ActionFacts) -> bool:
    return f.open_breached > 0


def _valuable_at_risk(f: ActionFacts) -> bool:
    return f.risk_band == "high" and f.value_tier in HIGH_VALUE_TIERS


def _recent_detractor(f: ActionFacts) -> bool:
    return f.detractor_days_ago is not None and f.detractor_days_ago <= DETRACTOR_RECENT_DAYS


def _at_risk(f: ActionFacts) -> bool:
    return f.risk_band == "high"


def _growth_potential(f: ActionFacts) -> bool:
    return f.revenue_potential_code == "A" and f.risk_band in ("low", None)


def _always(f: ActionFacts) -> bool:
    return True


#: The rules, in the order they are tried; the first that holds gives the action.
ACTION_RULES: tuple[ActionRule, ...] = (
    ActionRule("resolve_complaint", "an open complaint ticket",
               "Resolve the open complaint first", "service", True, _open_complaint),
    ActionRule("escalate_overdue_ticket", "an open ticket past its SLA deadline",
               "Escalate the overdue ticket and apologise", "service", True, _overdue_ticket),
    ActionRule("retention_call", "churn risk band high and value tier Top 10% or Next 20%",
               "Retention call by the account manager", "sales", False, _valuable_at_risk),
    ActionRule("service_recovery", f"latest NPS answer 0-6 (detractor), given within "
               f"{DETRACTOR_RECENT_DAYS} days", "Service recovery: call and ask what went wrong",
               "service", True, _recent_detractor),
    ActionRule("win_back_offer", "churn risk band high", "Send a win-back offer", "marketing",
               False, _at_risk),
    ActionRule("grow", "revenue potential code A and churn risk low or not scored",
               "Offer the next purchase (cross-sell / upsell)", "marketing", False,
               _growth_potential),
    ActionRule("keep_in_programme", "otherwise", "No special action: keep in the regular programme",
               "service", False, _always),
)


@dataclass(frozen=True)
class NextBestAction:
    """The action for one customer, the rule that gave it and what not to do.

    Examples
    --------
    >>> nba = next_best_action(ActionFacts(open_complaints=1, marketing_opt_in=True))
    >>> nba.rule, nba.do_not
    ('resolve_complaint', ('no sales pitch or marketing: an open complaint ticket',))
    """

    rule: str
    action: str
    reason: str
    do_not: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.action} ({self.reason})"
        return text + "".join(f"; {d}" for d in self.do_not)

    def to_dict(self) -> dict[str, Any]:
        """The action as plain data (for JSON)."""
        return {"rule": self.rule, "action": self.action, "reason": self.reason,
                "do_not": list(self.do_not), "text": str(self)}


def next_best_action(facts: ActionFacts, rules: tuple[ActionRule, ...] = ACTION_RULES
                     ) -> NextBestAction:
    """Apply the rule table to one customer's facts.

    Parameters
    ----------
    facts : ActionFacts
        What the view found (open complaints, overdue tickets, risk, value, consent...).
    rules : tuple of ActionRule, optional
        The table to apply (default :data:`ACTION_RULES`); the last rule should always hold.

    Returns
    -------
    NextBestAction

    Examples
    --------
    >>> next_best_action(ActionFacts(risk_band="high", value_tier="Top 10%")).rule
    'retention_call'
    >>> nba = next_best_action(ActionFacts(risk_band="high", marketing_opt_in=False))
    >>> nba.rule, nba.do_not
    ('keep_in_programme', ('no marketing: no marketing consent',))
    """
    consent = facts.marketing_opt_in is True
    do_not = [f"no sales pitch or marketing: {r.when}" for r in rules if r.no_selling and r.holds(facts)]
    if not consent:
        do_not.append("no marketing: no marketing consent")
    for rule in rules:
        if rule.channel == "marketing" and not consent:
            continue
        if rule.holds(facts):
            return NextBestAction(rule.name, rule.action, rule.when, tuple(do_not))
    raise ValueError("the rule table has no rule that always holds; end it with one")


def action_rules() -> pd.DataFrame:
    """The rule table as a DataFrame, in the order the rules are tried.

    Examples
    --------
    >>> action_rules()["rule"].iloc[0]
    'resolve_complaint'
    """
    return pd.DataFrame(
        [(i + 1, r.name, r.when, r.action, r.channel, r.no_selling) for i, r in enumerate(ACTION_RULES)],
        columns=["order", "rule", "when", "action", "channel", "no_selling"],
    ).set_index("order")
