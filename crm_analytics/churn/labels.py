"""Churn labels for non-contractual customers.

Definition
----------
A customer is **active** at ``as_of`` when they made at least one purchase in the
``active_days`` days ending on ``as_of`` (``as_of`` included; a purchase is a
transaction with ``amount >= 0``, refunds are negative). An active customer has
**churned** (label 1) when they make no purchase in the ``horizon_days`` days
after ``as_of``, i.e. in ``(as_of, as_of + horizon_days]``. Customers who are
not active at ``as_of`` are not labelled: they left already and belong to
win-back, not to churn prevention.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd

from crm_analytics.core.timeutils import cutoff as as_of_cutoff
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError
from crm_analytics.store.queries import load_query

__all__ = ["build_labels", "check_positive_int", "label_window_end"]

log = logging.getLogger(__name__)


def check_positive_int(name: str, value: Any, owner: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise the scikit-learn style error.

    Examples
    --------
    >>> check_positive_int("horizon_days", 90, "build_labels")
    90
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(
            f"The {name!r} parameter of {owner} must be an int in the range [1, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


def label_window_end(as_of: Any, horizon_days: int) -> dt.date:
    """Last day of the label window of ``as_of``: ``as_of + horizon_days``.

    Examples
    --------
    >>> label_window_end("1997-12-31", 90)
    datetime.date(1998, 3, 31)
    """
    return to_date(as_of) + dt.timedelta(days=horizon_days)


def active_from(as_of: Any, active_days: int) -> dt.date:
    """First day of the activity lookback: ``as_of - active_days + 1``."""
    return to_date(as_of) - dt.timedelta(days=active_days - 1)


def build_labels(
    store: Any, as_of: Any, *, horizon_days: int = 90, active_days: int = 365,
    data_through: Any = None,
) -> pd.Series:
    """Churn label of every customer active at ``as_of``.

    Parameters
    ----------
    store : crm_analytics.Store
    as_of : date-like
        Inclusive cut-off day; the label window is ``(as_of, as_of + horizon_days]``.
    horizon_days : int, default 90
        Length of the label window.
    active_days : int, default 365
        A customer is active when they bought in the ``active_days`` days ending on
        ``as_of``; only active customers get a label.
    data_through : date-like, optional
        The last day the store's data are complete through (a scoring run's
        ``as_of``, whether or not that day had a transaction): the label window
        must end on or before it. Default: the day of the last transaction.

    Returns
    -------
    pandas.Series
        ``churned`` (int 0/1) indexed by ``customer_id``, sorted.

    Raises
    ------
    InputError
        The label window ends after ``data_through`` (default: the last
        transaction in the store), so the labels could not be observed yet.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> tx = pd.DataFrame({"transaction_id": ["T1", "T2", "T3", "T4"],
    ...                    "customer_id": ["A", "A", "B", "C"],
    ...                    "transaction_date": ["2024-01-10", "2024-02-20", "2024-01-15", "2024-04-30"],
    ...                    "amount": [10.0, 12.0, 8.0, 5.0]})
    >>> _ = store.load("transactions", tx, unknown_customers="create")
    >>> build_labels(store, "2024-01-31", horizon_days=60).to_dict()
    {'A': 0, 'B': 1}
    """
    horizon_days = check_positive_int("horizon_days", horizon_days, "build_labels")
    active_days = check_positive_int("active_days", active_days, "build_labels")
    as_of = to_date(as_of)
    window_end = label_window_end(as_of, horizon_days)
    check_label_window_observed(store, window_end, what=f"labels as of {as_of}",
                                data_through=data_through)
    cut = as_of_cutoff(as_of)
    params = {
        "active_from": active_from(as_of, active_days),
        "cutoff": cut,
        "horizon_cutoff": cut + dt.timedelta(days=horizon_days),
    }
    frame = store.sql(load_query("churn/sql/labels.sql"), params)
    labels = pd.Series(
        frame["churned"].to_numpy(dtype="int64"),
        index=pd.Index(frame["customer_id"].astype(str), name="customer_id"),
        name="churned",
    )
    log.info("labels as of %s: %d active customers, %.1f%% churned", as_of, len(labels),
             100 * labels.mean() if len(labels) else float("nan"))
    return labels


def check_label_window_observed(
    store: Any, window_end: dt.date, *, what: str, data_through: Any = None
) -> None:
    """Raise if the label window ending on ``window_end`` is not observed yet.

    With ``data_through`` (the day the data are complete through, e.g. a run's
    ``as_of``), the window must end on or before that day — whether or not the
    day itself had a transaction. Without it, the store must hold a
    transaction on or after ``window_end``. Without data up to the end of the
    label window, every customer would look churned; a silent wrong label is
    worse than a clear error.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> check_label_window_observed(Store(":memory:"), dt.date(2024, 3, 31), what="labels",
    ...                             data_through="2024-03-31")
    """
    if data_through is not None:
        through = to_date(data_through, "data_through")
        if window_end > through:
            raise InputError(
                f"{what}: the label window ends on {window_end}, after {through}, the last day "
                "the data are complete through; choose an earlier date or a shorter horizon_days"
            )
        return
    span = store.sql(load_query("churn/sql/data_span.sql"))
    last = span["last_transaction"].iloc[0]
    if pd.isna(last):
        raise InputError(f"{what}: the store has no transactions")
    last_day = pd.Timestamp(last).date()
    if last_day < window_end:
        raise InputError(
            f"{what}: the label window ends on {window_end}, after the last transaction in the "
            f"store ({last_day}); choose an earlier date or a shorter horizon_days"
        )
