"""A three-customer store for the satisfaction docstring examples (values easy to check)."""

from __future__ import annotations

import pandas as pd

from crm_analytics.store import Store

CUSTOMERS = pd.DataFrame({
    "customer_id": ["C1", "C2", "C3"],
    "region": ["EMEA", "EMEA", "Americas"],
    "customer_type": ["business", "business", "consumer"],
    "industry": ["Finance", "Retail", None],
    "employees": [900, 12, None],
    "created_at": ["2023-06-01", "2023-09-01", "2024-01-15"],
})
# T1 met its SLA (4 h of 8), T2 breached (48 h of 24), T3 met it exactly (24 h of 24),
# T4 is open and past its 8 h SLA on 2024-06-20, T5 is open and still within 72 h.
TICKETS = pd.DataFrame({
    "ticket_id": ["T1", "T2", "T3", "T4", "T5"],
    "customer_id": ["C1", "C2", "C3", "C3", "C1"],
    "opened_at": ["2024-02-01 08:00", "2024-03-01 08:00", "2024-04-01 10:00",
                  "2024-06-18 09:00", "2024-06-20 20:00"],
    "first_response_at": ["2024-02-01 09:00", "2024-03-01 10:00", "2024-04-01 11:00",
                          "2024-06-18 12:00", None],
    "resolved_at": ["2024-02-01 12:00", "2024-03-03 08:00", "2024-04-02 10:00", None, None],
    "priority": ["P2", "P3", "P3", "P2", "P4"],
    "channel": ["email", "phone", "phone", "chat", "email"],
    "sla_hours": [8, 24, 24, 8, 72],
    "is_complaint": [False, True, False, True, False],
    "reopened": [False, True, False, False, False],
})
_ANSWERS = [  # customer, time, survey, item, score, scale
    ("C1", "2024-02-01", "nps", "nps", 10, (0, 10)),
    ("C1", "2024-05-10", "nps", "nps", 9, (0, 10)),
    ("C2", "2024-03-01", "nps", "nps", 6, (0, 10)),
    ("C3", "2024-04-01", "nps", "nps", 8, (0, 10)),
    ("C3", "2024-06-01", "nps", "nps", 3, (0, 10)),
    ("C1", "2024-02-03", "csat", "csat", 5, (1, 5)),
    ("C2", "2024-03-05", "csat", "csat", 2, (1, 5)),
    ("C3", "2024-04-03", "csat", "csat", 4, (1, 5)),
    ("C3", "2024-06-20", "csat", "csat", 3, (1, 5)),
    ("C1", "2024-01-10", "ecsi", "quality_1", 5, (1, 10)),
    ("C1", "2024-05-01", "ecsi", "quality_1", 7, (1, 10)),
    ("C1", "2024-05-01", "ecsi", "quality_2", 8, (1, 10)),
    ("C2", "2024-05-02", "ecsi", "quality_1", 4, (1, 10)),
]
SURVEY_RESPONSES = pd.DataFrame({
    "response_id": [f"R{k + 1}" for k in range(len(_ANSWERS))],
    "customer_id": [a[0] for a in _ANSWERS],
    "responded_at": [a[1] for a in _ANSWERS],
    "survey": [a[2] for a in _ANSWERS],
    "item": [a[3] for a in _ANSWERS],
    "score": [a[4] for a in _ANSWERS],
    "scale_min": [a[5][0] for a in _ANSWERS],
    "scale_max": [a[5][1] for a in _ANSWERS],
})


def demo_store() -> Store:
    """An in-memory store with 3 customers, 5 tickets and 13 survey answers.

    Examples
    --------
    >>> demo_store().summary()["rows"].tolist()
    [3, 0, 5, 13, 0, 0]
    """
    store = Store(":memory:")
    store.load("customers", CUSTOMERS)
    store.load("tickets", TICKETS)
    store.load("survey_responses", SURVEY_RESPONSES)
    return store
