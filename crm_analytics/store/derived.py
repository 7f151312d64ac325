"""Tables derived from a canonical table, kept current by the loader in the load's transaction.

A derived table holds what a frequent query would otherwise recompute from a large
table every time: ``customer_days`` (transactions per customer and day, for every
BTYD summary) and ``contact_lookup`` (normalised e-mails and phone keys, for the
customer search). Each is defined by one ``.sql`` file selecting its rows from the
source table, with ``WHERE TRUE`` where the loader narrows it to the customers a
load touched.

The loader (:class:`~crm_analytics.store.loading.Loader`) notes the customer keys a
load touches and, after writing, recomputes their rows (:func:`sync`), or rebuilds
the table when it was not current before the load. A derived table is *current*
when the state recorded with it in ``store_meta`` -- the number of rows of its
source table and of loads into it, and a digest of its definition -- equals the
store's (so a package upgrade that changes a definition rebuilds the table at the
next load); a store written by hand,
by an older version of the package or by a migration is simply not current, and
readers fall back to the source table (:func:`is_current`), so a stale derived
table is never read. ``Store.load`` is the only writer the package knows; change a
source table by hand and its next load rebuilds the derived tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from crm_analytics.store.queries import load_query

__all__ = ["DerivedTable", "is_current", "note_keys", "rebuild", "state", "sync", "table_current"]

_KEYS = "_crm_derived_keys"


@dataclass(frozen=True)
class DerivedTable:
    """One derived table: its name, columns, source table and defining query."""

    name: str
    #: Column definitions for ``CREATE TABLE`` (constant SQL).
    columns: str
    #: The canonical table its rows come from.
    source: str
    #: The ``.sql`` file selecting its rows (``WHERE TRUE`` narrowed by the loader).
    query: str
    #: Physical order of a rebuild (so zone maps prune the lookups).
    order_by: str
    #: Called on the connection before the query runs (e.g. to register a function).
    prepare: Callable[[duckdb.DuckDBPyConnection], None] | None = None

    @property
    def meta_key(self) -> str:
        return f"{self.name}_state"

    @property
    def digest(self) -> str:
        """A digest of the definition: a table built by another definition is not current."""
        text = f"{self.columns}\n{self.order_by}\n{load_query(self.query)}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def select(self, where: str) -> str:
        """The defining query narrowed to the rows matching ``where`` (constant SQL)."""
        return load_query(self.query).replace("WHERE TRUE", f"WHERE {where}")


def state(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """The state of a source table as ``'<rows>:<loads>'`` (constant table name).

    Examples
    --------
    >>> from crm_analytics.store import Store
    >>> state(Store(":memory:").con, "transactions")
    '0:0'
    """
    return str(con.execute(
        f"SELECT (SELECT count(*) FROM {source}) || ':' || "  # noqa: S608 - a canonical table name
        "(SELECT count(*) FROM loads WHERE table_name = ?)", [source]).fetchone()[0])


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [name]
    ).fetchone()[0])


def _recorded(con: duckdb.DuckDBPyConnection, table: DerivedTable) -> str | None:
    return con.execute("SELECT max(value) FROM store_meta WHERE key = ?", [table.meta_key]).fetchone()[0]


def _stamp(table: DerivedTable, source_state: str) -> str:
    """What store_meta records: the source's state and the definition's digest."""
    return f"{source_state}|{table.digest}"


def _record(con: duckdb.DuckDBPyConnection, table: DerivedTable) -> None:
    con.execute("DELETE FROM store_meta WHERE key = ?", [table.meta_key]).fetchall()
    con.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)",
                [table.meta_key, _stamp(table, state(con, table.source))]).fetchall()


def is_current(con: duckdb.DuckDBPyConnection, table: DerivedTable) -> bool:
    """Whether ``table`` exists and reflects its source table as it is; never raises."""
    try:
        return _exists(con, table.name) and _recorded(con, table) == _stamp(table, state(con, table.source))
    except duckdb.Error:  # no store_meta / loads / source (e.g. an in-memory sample)
        return False


def table_current(store: Any, table: DerivedTable) -> bool:
    """:func:`is_current` on a :class:`~crm_analytics.store.Store`; False for anything else."""
    connection = getattr(store, "connection", None)
    if connection is None:
        return False
    with connection() as con:
        return is_current(con, table)


def rebuild(con: duckdb.DuckDBPyConnection, table: DerivedTable) -> None:
    """Recompute ``table`` from its whole source and record the state (caller's transaction)."""
    if table.prepare is not None:
        table.prepare(con)
    con.execute(f"DROP TABLE IF EXISTS {table.name}")
    con.execute(f"CREATE TABLE {table.name} ({table.columns})")
    con.execute(  # noqa: S608 - constant SQL
        f"INSERT INTO {table.name} {table.select('TRUE')} ORDER BY {table.order_by}").fetchall()
    _record(con, table)


def note_keys(con: duckdb.DuckDBPyConnection, keys_sql: str) -> None:
    """Add the customer keys selected by ``keys_sql`` (constant SQL) to the load's touched set."""
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_KEYS} (customer_key BIGINT)")
    con.execute(f"INSERT INTO {_KEYS} {keys_sql}").fetchall()  # noqa: S608 - constant SQL


def sync(con: duckdb.DuckDBPyConnection, table: DerivedTable, state_before: str) -> None:
    """After a load into ``table.source``: bring ``table`` up to date.

    Nothing when the load left the source as it was; incremental (recompute the
    rows of the touched customers) when the table was current before the load; a
    full :func:`rebuild` otherwise.
    """
    if not (_exists(con, table.name) and _recorded(con, table) == _stamp(table, state_before)):
        rebuild(con, table)
        return
    if state(con, table.source) == state_before:  # the load did not touch the source
        return
    if table.prepare is not None:
        table.prepare(con)
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_KEYS} (customer_key BIGINT)")
    touched = f"SELECT DISTINCT customer_key FROM {_KEYS}"  # noqa: S608 - constant
    con.execute(f"DELETE FROM {table.name} WHERE customer_key IN ({touched})").fetchall()  # noqa: S608
    con.execute(f"INSERT INTO {table.name} "  # noqa: S608 - constant SQL
                f"{table.select(f'customer_key IN ({touched})')} ORDER BY {table.order_by}").fetchall()
    _record(con, table)


def forget_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the load's touched set (after every derived table of the load is synced)."""
    con.execute(f"DROP TABLE IF EXISTS {_KEYS}")
