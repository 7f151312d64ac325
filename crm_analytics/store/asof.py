"""The one default ``as_of``: the last day the store holds data for.

Every module that accepts ``as_of=None`` (the scoring run, the CLI, CLV, churn,
satisfaction, segments, dashboards) resolves it here, so "today's run" means
the same date everywhere. ``as_of`` itself is always inclusive and means *data
complete through that day* (see :mod:`crm_analytics.core.timeutils`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from crm_analytics.core.timeutils import to_date

# The event tables and their event-time columns, in the order they are consulted.
_EVENT_COLUMNS = (
    ("transactions", "transaction_date"),
    ("tickets", "opened_at"),
    ("tickets", "first_response_at"),
    ("tickets", "resolved_at"),
    ("survey_responses", "responded_at"),
    ("subscriptions", "started_at"),
    ("subscriptions", "ended_at"),
)


def default_as_of(store: Any) -> dt.date:
    """The latest day with a transaction, ticket event, survey answer or subscription start
    or end, never later than today.

    With no events at all it is the latest ``created_at`` of a customer, and
    with no dated rows at all, today.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("transactions", pd.DataFrame({"transaction_id": ["T1"], "customer_id": ["C1"],
    ...     "transaction_date": ["2024-05-31 18:00"], "amount": [9.5]}), unknown_customers="create")
    >>> default_as_of(store)
    datetime.date(2024, 5, 31)
    """
    today = dt.date.today()
    have = set(store.tables())
    latest: list[dt.date] = []
    for table, column in _EVENT_COLUMNS:
        if table in have:
            # Identifiers are constants of this module, never user input.
            value = store.sql(f"SELECT max({column}) AS last FROM {table}")["last"].iloc[0]  # noqa: S608
            if value is not None and not pd.isna(value):
                latest.append(pd.Timestamp(value).date())
    if not latest and "customers" in have:
        value = store.sql("SELECT max(created_at) AS last FROM customers")["last"].iloc[0]
        if value is not None and not pd.isna(value):
            latest.append(pd.Timestamp(value).date())
    if not latest:
        return today
    return min(max(latest), today)


def resolve_as_of(store: Any, as_of: Any = None) -> dt.date:
    """``as_of`` parsed as a date, or :func:`default_as_of` when it is None.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> resolve_as_of(Store(":memory:"), "2024-03-31")
    datetime.date(2024, 3, 31)
    """
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return default_as_of(store)
    return to_date(as_of)
