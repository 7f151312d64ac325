"""``customer_days``: the transactions summed per customer and day, kept current by the loader.

Every BTYD summary starts by collapsing the transactions into purchase occasions,
one per customer and day (``clv/sql/rfm_summary.sql``). On a million customers
that GROUP BY (21.6 million rows into 17 million customer-days) is most of the
summary's time, and the nightly run repeats it. The store therefore keeps its
result as a derived table (:mod:`crm_analytics.store.derived`), maintained by the
loader in the same transaction as the load that changes the transactions:

``customer_days (customer_key BIGINT, day DATE, amount DECIMAL(38, 4), has_sale BOOLEAN)``
    one row per customer and day with at least one transaction: the sum of the
    day's amounts and whether any amount is >= 0 (a sale; a day of refunds only
    is not a purchase occasion). Exactly ``store/sql/customer_days.sql``.

A load recomputes the days of the customers it touched (inserted rows; for an
upsert also the old and new customer of every changed row), or rebuilds the
table when it was not current before the load; readers use it only while it is
current (:func:`table_current`) and otherwise read the transactions.

What it costs (1,000,000 customers, 21.6 M rows, benchmarks/rfm_groupby.py):
the full build 4.3 s, a 60,000-row nightly append +0.6 s; the RFM summary
reading it instead of the transactions 2.6 s -> 0.9 s.
"""

from __future__ import annotations

from typing import Any

import duckdb

from crm_analytics.store import derived

__all__ = ["CUSTOMER_DAYS", "TABLE", "is_current", "rebuild", "table_current"]

#: The table's name.
TABLE = "customer_days"
CUSTOMER_DAYS = derived.DerivedTable(
    name=TABLE,
    columns="customer_key BIGINT, day DATE, amount DECIMAL(38, 4), has_sale BOOLEAN",
    source="transactions",
    query="store/sql/customer_days.sql",
    order_by="customer_key, day",
)


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``customer_days`` exists and reflects the transactions as they are.

    Never raises: a store without the table, without ``store_meta`` or ``loads``
    (e.g. an in-memory sample) is simply not current.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics.store import Store
    >>> store = Store(":memory:")
    >>> is_current(store.con)
    False
    >>> tx = pd.DataFrame({"transaction_id": ["T1"], "customer_id": ["A"],
    ...                    "transaction_date": ["2024-01-01"], "amount": [5.0]})
    >>> _ = store.load("transactions", tx, unknown_customers="create")
    >>> is_current(store.con)
    True
    >>> store.con.execute("DELETE FROM transactions")  # doctest: +ELLIPSIS
    <...>
    >>> is_current(store.con)
    False
    """
    return derived.is_current(con, CUSTOMER_DAYS)


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute ``customer_days`` from all transactions and record the state."""
    derived.rebuild(con, CUSTOMER_DAYS)


def table_current(store: Any) -> bool:
    """:func:`is_current` for a :class:`~crm_analytics.store.Store`; False for anything else."""
    return derived.table_current(store, CUSTOMER_DAYS)
