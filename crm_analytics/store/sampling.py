"""A uniform, seeded sample of a store's customers, with every row of theirs, in memory.

Training a churn model on a million customers does not need a million
examples per cutoff; it needs a representative few tens of thousands, and the
cost (memory and time) of building their features should not grow with the
store. :func:`sample_customers` copies a uniform random share of the customers
-- chosen by a seeded hash of ``customer_id``, so the same seed picks the same
customers in every run and on every engine -- together with all their
transactions, tickets, survey answers and attributes into a private in-memory
:class:`~crm_analytics.store.Store`. Every per-customer query (features,
labels, BTYD summaries) then runs unchanged on the sample, and because the
sample is uniform over *all* customers, anything fitted on it (e.g. the BG/NBD
parameters behind the churn model's BTYD features) estimates the same
population quantity as on the full store.
"""

from __future__ import annotations

from typing import Any

from crm_analytics.errors import InputError
from crm_analytics.store.schema import TABLES

__all__ = ["PER_CUSTOMER_TABLES", "SAMPLE_BUCKETS", "customer_part", "sample_customers", "store_from_arrow"]

#: Resolution of the hash sample: a customer is kept when ``hash(customer_id, seed)``
#: modulo this falls below ``fraction * SAMPLE_BUCKETS``.
SAMPLE_BUCKETS = 1_000_000

#: Every per-customer input table (the contract's and the loader's attribute table).
PER_CUSTOMER_TABLES: tuple[str, ...] = (*TABLES, "customer_attributes")
_PER_CUSTOMER = PER_CUSTOMER_TABLES

_SELECT = "SELECT * FROM {table} WHERE hash(customer_id, $seed) % $buckets < $keep"
_PART = "SELECT * FROM {table} WHERE hash(customer_id, $seed) % $parts = $part"


def customer_part(store: Any, part: int, parts: int, seed: int = 0) -> Any:
    """An in-memory store with one of ``parts`` disjoint hash parts of the customers.

    The parts ``0 .. parts - 1`` of one ``seed`` cover every customer exactly
    once: a large population is processed part by part in bounded memory
    (e.g. scored in batches) with every per-customer query unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics.store import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": [f"C{i}" for i in range(100)]}))
    >>> sizes = [len(customer_part(store, k, 3).table("customers")) for k in range(3)]
    >>> sum(sizes), min(sizes) > 15
    (100, True)
    """
    for name, value, low in (("parts", parts, 1), ("part", part, 0), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"customer_part: {name} must be a whole number >= {low}; got {value!r}")
    if part >= parts:
        raise InputError(f"customer_part: part must be below parts ({parts}); got {part}")
    return _copy(store, _PART, {"seed": seed, "parts": parts, "part": part})


def sample_customers(store: Any, fraction: float, seed: int = 0) -> Any:
    """An in-memory store with a uniform share ``fraction`` of the customers and all their rows.

    Parameters
    ----------
    store : crm_analytics.Store
        The store to sample (read-only stores work).
    fraction : float
        Share of customers kept, in (0, 1]; 1 copies everything.
    seed : int, default 0
        Seed of the hash: the same seed keeps the same customers.

    Returns
    -------
    crm_analytics.Store
        A ``:memory:`` store holding the sampled customers and every row of the
        per-customer tables (customers, transactions, tickets, survey answers,
        customer attributes) that belongs to them. Rows are copied as stored
        (already validated); nothing is re-checked or quarantined.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics.store import Store
    >>> store = Store(":memory:")
    >>> ids = [f"C{i}" for i in range(1000)]
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ids}))
    >>> sample = sample_customers(store, 0.1, seed=1)
    >>> 70 < len(sample.table("customers")) < 130
    True
    >>> sample_customers(store, 0.1, seed=1).table("customers").equals(sample.table("customers"))
    True
    """
    try:
        fraction = float(fraction)
    except (TypeError, ValueError):
        raise InputError(f"sample_customers: fraction must be a number in (0, 1]; got {fraction!r}") from None
    if not 0.0 < fraction <= 1.0:
        raise InputError(f"sample_customers: fraction must be in (0, 1]; got {fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"sample_customers: seed must be a whole number >= 0; got {seed!r}")
    params = {"seed": seed, "buckets": SAMPLE_BUCKETS, "keep": round(fraction * SAMPLE_BUCKETS)}
    return _copy(store, _SELECT, params)


def store_from_arrow(tables: dict[str, Any], *, memory_limit: str | None = None,
                     threads: int | None = 1) -> Any:
    """A ``:memory:`` store holding the given rows of the per-customer tables.

    What a worker that holds some customers with every row of theirs (a hash part,
    a Spark partition) needs to run the package's per-customer queries unchanged.

    Parameters
    ----------
    tables : dict of str to pyarrow.Table
        Rows per table of :data:`PER_CUSTOMER_TABLES`, with the store's column names
        (a subset of them: a column not given is empty, except ``customer_key``, which
        is numbered as the loader numbers it when no table gives it). Other names are
        refused.
    memory_limit, threads
        As for :class:`~crm_analytics.store.Store` (default one thread: a worker
        is one task among many).

    Returns
    -------
    crm_analytics.Store
        Rows are inserted as given (already validated); nothing is re-checked.

    Examples
    --------
    >>> import pyarrow as pa
    >>> store = store_from_arrow({
    ...     "customers": pa.table({"customer_id": ["A", "B"]}),
    ...     "transactions": pa.table({"transaction_id": ["T1"], "customer_id": ["A"],
    ...                               "transaction_date": pa.array([0], pa.timestamp("us")),
    ...                               "amount": [12.5]})})
    >>> store.sql("SELECT customer_id, customer_key FROM transactions").values.tolist()
    [['A', 1]]
    """
    from crm_analytics.store.store import Store

    unknown = sorted(set(tables) - set(PER_CUSTOMER_TABLES))
    if unknown:
        raise InputError(f"store_from_arrow: {unknown} are not per-customer tables; "
                         f"expected some of {list(PER_CUSTOMER_TABLES)}")
    store = Store(":memory:", memory_limit=memory_limit, threads=threads)
    try:
        for table in PER_CUSTOMER_TABLES:
            if table in tables:
                _insert(store, table, tables[table])
        _number_customers(store)
    except BaseException:
        store.close()
        raise
    return store


def _insert(store: Any, table: str, rows: Any) -> None:
    store.con.register("_part_rows", rows)
    try:
        # The table names are the package's own constants.
        store.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _part_rows")  # noqa: S608
    finally:
        store.con.unregister("_part_rows")


def _number_customers(store: Any) -> None:
    """Give rows without a ``customer_key`` their customer's (as the loader does)."""
    for table in ("transactions", "tickets", "survey_responses"):
        # Constant table names; the key comes from the customers table itself.
        store.con.execute(
            f"UPDATE {table} SET customer_key = c.customer_key FROM customers AS c "  # noqa: S608
            f"WHERE {table}.customer_key IS NULL AND {table}.customer_id = c.customer_id")


def _copy(store: Any, select: str, params: dict[str, Any]) -> Any:
    """A ``:memory:`` store holding the rows ``select`` picks from every per-customer table."""
    from crm_analytics.store.store import Store

    sample = Store(":memory:", memory_limit=store.memory_limit, threads=store.threads)
    present = set(store.tables())
    try:
        with store.connection() as source:
            for table in _PER_CUSTOMER:
                if table not in present:
                    continue
                # The table names are the package's own constants; the values are bound.
                relation = source.sql(select.format(table=table), params=params)  # noqa: S608
                # Straight from the relation: no extra copy (to_arrow_table from DuckDB 1.4 on).
                fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
                _insert(sample, table, fetch())  # one table in memory at a time
    except BaseException:
        sample.close()
        raise
    return sample
