"""``customer_days``: the transactions summed per customer and day, kept current by the loader.

Every BTYD summary starts by collapsing the transactions into purchase occasions,
one per customer and day (``clv/sql/rfm_summary.sql``). On a million customers
that GROUP BY (21.6 million rows into 17 million customer-days) is most of the
summary's time, and the nightly run repeats it. The store therefore keeps its
result as a table, maintained by :class:`~crm_analytics.store.loading.Loader` in
the same transaction as the load that changes the transactions:

``customer_days (customer_key BIGINT, day DATE, amount DECIMAL(38, 4), has_sale BOOLEAN)``
    one row per customer and day with at least one transaction: the sum of the
    day's amounts and whether any amount is >= 0 (a sale; a day of refunds only
    is not a purchase occasion). Exactly ``store/sql/customer_days.sql``.

A load recomputes the days of the customers it touched (inserted rows; for an
upsert also the old and new customer of every changed row), or rebuilds the table
when it was not current before the load. The table is *current* when the state
recorded with it in ``store_meta`` -- the number of transaction rows and of
transaction loads -- equals the store's; a store written by hand, an older
version of the package or a migration is simply not current, and readers fall
back to the transactions (:func:`is_current`), so a stale table is never read.
``Store.load`` is the only writer the package knows; change ``transactions`` by
hand and the next load rebuilds the table.

What it costs (1,000,000 customers, 21.6 M rows, benchmarks/rfm_groupby.py):
the full build about 4 s; the RFM summary reading it instead of the
transactions 4.0 s -> 0.8 s.
"""

from __future__ import annotations

from typing import Any

import duckdb

from crm_analytics.store.queries import load_query

__all__ = ["META_KEY", "TABLE", "is_current", "note_keys", "rebuild", "state", "sync", "table_current"]

#: The table's name.
TABLE = "customer_days"
#: The store_meta key recording the state of ``transactions`` the table reflects.
META_KEY = "customer_days_state"

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(customer_key BIGINT, day DATE, amount DECIMAL(38, 4), has_sale BOOLEAN)"
)
_STATE = (
    "SELECT (SELECT count(*) FROM transactions) || ':' || "
    "(SELECT count(*) FROM loads WHERE table_name = 'transactions')"
)


def _days_of(where: str) -> str:
    """The customer-day aggregate of the transactions matching ``where`` (constant SQL)."""
    return load_query("store/sql/customer_days.sql").replace("WHERE TRUE", f"WHERE {where}")


def state(con: duckdb.DuckDBPyConnection) -> str:
    """The state of ``transactions`` as ``'<rows>:<loads>'``.

    Examples
    --------
    >>> from crm_analytics.store import Store
    >>> store = Store(":memory:")
    >>> state(store.con)
    '0:0'
    """
    return str(con.execute(_STATE).fetchone()[0])


def _recorded(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT max(value) FROM store_meta WHERE key = ?", [META_KEY]).fetchone()
    return None if row is None else row[0]


def _record(con: duckdb.DuckDBPyConnection, value: str) -> None:
    con.execute("DELETE FROM store_meta WHERE key = ?", [META_KEY])
    con.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", [META_KEY, value])


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
    try:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [TABLE]
        ).fetchone()[0]
        return bool(exists) and _recorded(con) == state(con)
    except duckdb.Error:
        return False


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute ``customer_days`` from all transactions and record the state.

    Run inside the caller's transaction (the loader's, or a writer's).
    """
    con.execute(f"DROP TABLE IF EXISTS {TABLE}")
    con.execute(_DDL)
    con.execute(f"INSERT INTO {TABLE} {_days_of('TRUE')} ORDER BY customer_key, day")  # noqa: S608
    _record(con, state(con))


def note_keys(con: duckdb.DuckDBPyConnection, keys_sql: str) -> None:
    """Add the customer keys selected by ``keys_sql`` (constant SQL) to the load's touched set."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS _crm_day_keys (customer_key BIGINT)")
    con.execute(f"INSERT INTO _crm_day_keys {keys_sql}")  # noqa: S608 - constant SQL


def sync(con: duckdb.DuckDBPyConnection, state_before: str) -> None:
    """After a load into ``transactions``: bring ``customer_days`` up to date.

    Incremental (recompute the touched customers' days) when the table was
    current before the load, a full :func:`rebuild` otherwise.
    """
    try:
        was_current = _recorded(con) == state_before and bool(con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [TABLE]
        ).fetchone()[0])
        if not was_current:
            rebuild(con)
            return
        con.execute("CREATE TEMP TABLE IF NOT EXISTS _crm_day_keys (customer_key BIGINT)")
        touched = "SELECT DISTINCT customer_key FROM _crm_day_keys"
        con.execute(f"DELETE FROM {TABLE} WHERE customer_key IN ({touched})")  # noqa: S608
        con.execute(
            f"INSERT INTO {TABLE} "  # noqa: S608 - constant SQL
            f"{_days_of(f'customer_key IN ({touched})')} ORDER BY customer_key, day"
        )
        _record(con, state(con))
    finally:
        con.execute("DROP TABLE IF EXISTS _crm_day_keys")


def table_current(store: Any) -> bool:
    """:func:`is_current` for a :class:`~crm_analytics.store.Store`; False for anything else."""
    connection = getattr(store, "connection", None)
    if connection is None:
        return False
    with connection() as con:
        return is_current(con)
