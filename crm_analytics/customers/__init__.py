"""The single customer view and customer search, for the people on the phone.

* :func:`customer_view` — everything about one customer as of a date, in one call:
  profile, value, churn, segments, recent transactions, tickets with their SLA
  status, satisfaction, contact history (not recorded yet) and a next best action
  (:mod:`~crm_analytics.customers.actions`, an ordered rule table);
* :func:`find_customers` — by customer_id, e-mail, phone or name, ranked.

An application of the scored store, at the layer of ``dashboards`` and
``exports``: it reads the canonical tables and the result tables through the
store, and computes nothing a run has not computed.

>>> from crm_analytics.customers import ACTION_RULES
>>> ACTION_RULES[0].name
'resolve_complaint'
"""

from crm_analytics.customers.actions import (
    ACTION_RULES,
    ActionFacts,
    ActionRule,
    NextBestAction,
    action_rules,
    next_best_action,
)
from crm_analytics.customers.render import CARD_CSS, card_html, card_text
from crm_analytics.customers.search import SEARCH_KINDS, find_customers, search_kind
from crm_analytics.customers.view import (
    PARTS,
    CustomerView,
    UnknownCustomerError,
    ViewContext,
    customer_view,
    view_context,
)

__all__ = [
    "ACTION_RULES",
    "CARD_CSS",
    "PARTS",
    "SEARCH_KINDS",
    "ActionFacts",
    "ActionRule",
    "CustomerView",
    "NextBestAction",
    "UnknownCustomerError",
    "ViewContext",
    "action_rules",
    "card_html",
    "card_text",
    "customer_view",
    "find_customers",
    "next_best_action",
    "search_kind",
    "view_context",
]
