"""The one definition of "as of" used everywhere.

``as_of`` is a calendar date and is *inclusive*: everything that happened on or
before that day counts, nothing after it. In SQL this is ``ts < $cutoff`` with
``cutoff = as_of + 1 day`` at midnight (UTC, like every stored timestamp).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from crm_analytics.errors import InputError


def to_date(value: Any, name: str = "as_of") -> dt.date:
    """Parse a date given as str, date, datetime or pandas Timestamp.

    Examples
    --------
    >>> to_date("2024-03-31")
    datetime.date(2024, 3, 31)
    """
    if value is None:
        raise InputError(f"{name} is required (a date such as '2024-03-31')")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{name} {value!r} is not a date; use YYYY-MM-DD") from None
    if pd.isna(ts):
        raise InputError(f"{name} {value!r} is not a date; use YYYY-MM-DD")
    return ts.date()


def cutoff(as_of: Any) -> dt.datetime:
    """The exclusive upper bound for timestamps counted as of ``as_of``.

    Examples
    --------
    >>> cutoff("2024-03-31")
    datetime.datetime(2024, 4, 1, 0, 0)
    """
    d = to_date(as_of)
    return dt.datetime.combine(d + dt.timedelta(days=1), dt.time())


def as_of_params(as_of: Any) -> dict[str, Any]:
    """Bound parameters ``$as_of`` (DATE) and ``$cutoff`` (TIMESTAMP) for a query.

    Examples
    --------
    >>> as_of_params("2024-03-31")["cutoff"]
    datetime.datetime(2024, 4, 1, 0, 0)
    """
    d = to_date(as_of)
    return {"as_of": d, "cutoff": cutoff(d)}
