"""Per-customer work on Spark with the package's unchanged DuckDB code: one shuffle, a store per task.

Every per-customer quantity of a run (churn features and scores, the RFM measures,
the needs features, the size segment, the CLV scores) depends on one customer's own
rows and on parameters fitted once for everybody. So instead of translating each of
those queries and joining their results (a shuffle per query), the run

1. brings every row of a customer -- from customers, transactions, tickets, survey
   answers and attributes -- into the same Spark partition with **one** hash
   repartitioning on ``customer_id`` (:func:`by_customer`), and
2. turns each partition into a private in-memory DuckDB store
   (:func:`crm_analytics.store.sampling.store_from_arrow`) on which a task runs the
   package's own functions, exactly as the nightly run does on a hash part of a large
   store (:func:`crm_analytics.store.sampling.customer_part`), in ``mapInArrow``
   (:func:`map_stores`).

Memory per task is one partition's rows (choose the partition count so that a
partition holds a few hundred thousand customers at most; see the README's capacity
plan).

Examples
--------
Needs Java and pyspark:

>>> from crm_analytics.spark import engine, partitions          # doctest: +SKIP
>>> spark = engine.spark_session()                              # doctest: +SKIP
>>> frames = engine.register_tables(spark, "tables/")           # doctest: +SKIP
>>> rows = partitions.by_customer(frames, 8)                     # doctest: +SKIP
>>> counts = partitions.map_stores(rows, lambda store: store.sql(
...     "SELECT customer_id, count(*) AS n FROM transactions GROUP BY ALL"),
...     "customer_id string, n long")                            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import reduce
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm_analytics.errors import InputError
from crm_analytics.spark.engine import SCORED_TABLES
from crm_analytics.store.sampling import store_from_arrow

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

__all__ = ["TABLE_COLUMN", "by_customer", "map_stores", "split_tables"]

#: The column of :func:`by_customer`'s frame naming the table a row comes from.
TABLE_COLUMN = "_table"
_KEY = "_customer"
_SEP = "__"


def by_customer(frames: dict[str, DataFrame], partitions: int) -> DataFrame:
    """Every per-customer table's rows in one frame, hash-partitioned by ``customer_id``.

    Parameters
    ----------
    frames : dict of str to pyspark.sql.DataFrame
        Tables of :data:`~crm_analytics.spark.engine.SCORED_TABLES` (others
        are ignored), e.g. :func:`crm_analytics.spark.engine.register_tables`'s result;
        ``customers`` is required.
    partitions : int
        Spark partitions (tasks) of the result; all rows of a customer land in one.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; one row per input row: :data:`TABLE_COLUMN`, then ``<table>__<column>``
        for every column of every table (null in the rows of other tables).
    """
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise InputError(f"by_customer: partitions must be a whole number >= 1; got {partitions!r}")
    if "customers" not in frames:
        raise InputError("by_customer: the customers table is required")
    parts = []
    for table in SCORED_TABLES:
        frame = frames.get(table)
        if frame is None:
            continue
        if "customer_id" not in frame.columns:
            raise InputError(f"{table}: no customer_id column; the data contract requires it")
        parts.append(frame.select(
            F.lit(table).alias(TABLE_COLUMN), F.col("customer_id").alias(_KEY),
            *[F.col(f"`{c}`").alias(f"{table}{_SEP}{c}") for c in frame.columns]))
    union = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts)
    return union.repartition(partitions, _KEY).drop(_KEY)


def split_tables(rows: pa.Table) -> dict[str, pa.Table]:
    """The per-table parts of a batch of :func:`by_customer` rows, with their own column names.

    Examples
    --------
    >>> import pyarrow as pa
    >>> rows = pa.table({"_table": ["customers", "transactions"], "customers__customer_id": ["A", None],
    ...                  "transactions__customer_id": [None, "A"], "transactions__amount": [None, 3.0]})
    >>> {k: v.to_pylist() for k, v in split_tables(rows).items()}
    {'customers': [{'customer_id': 'A'}], 'transactions': [{'customer_id': 'A', 'amount': 3.0}]}
    """
    import pyarrow.compute as pc

    out = {}
    tables = rows.column(TABLE_COLUMN)
    for table in pc.unique(tables).to_pylist():
        prefix = f"{table}{_SEP}"
        names = [n for n in rows.column_names if n.startswith(prefix)]
        part = rows.filter(pc.equal(tables, table)).select(names)
        out[table] = part.rename_columns([n[len(prefix):] for n in names])
    return out


def map_stores(frame: DataFrame, task: Callable[[Any], pd.DataFrame], schema: str) -> DataFrame:
    """Run ``task(store)`` on an in-memory store per partition of :func:`by_customer`'s frame.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        From :func:`by_customer`.
    task : callable
        Takes a :class:`~crm_analytics.store.Store` holding the partition's customers
        with all their rows and returns a DataFrame with the columns of ``schema``
        (a column it lacks is null). It is shipped to the executors: it must be
        picklable and capture only small, trusted values.
    schema : str
        Spark DDL of the result (``"customer_id string, n long"``).

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; the rows every task returned.
    """
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructType

    struct = StructType.fromDDL(schema)
    arrow_schema = to_arrow_schema(struct)
    names = [f.name for f in struct.fields]

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = [b for b in batches if b.num_rows]
        if not batches:
            return
        store = store_from_arrow(split_tables(pa.Table.from_batches(batches)))
        try:
            result = task(store)
        finally:
            store.close()
        result = result.reindex(columns=names)
        yield from pa.Table.from_pandas(result, schema=arrow_schema, preserve_index=False).to_batches()

    return frame.mapInArrow(run, struct)
