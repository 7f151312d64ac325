"""Run the package's registered queries on Spark, on the data contract's tables in Parquet.

A session must use the time zone UTC (DuckDB's store does): :func:`spark_session`
builds one so, and :func:`run_query` refuses another. Tables are read from a
folder holding ``<table>.parquet`` (a file or a folder of parts) per table of
the data contract; :func:`export_store` writes such a folder from a DuckDB store.

Examples
--------
A session, the tables of a store and one feature query (needs Java and pyspark):

>>> import crm_analytics as crm                                  # doctest: +SKIP
>>> from crm_analytics.spark import engine                      # doctest: +SKIP
>>> engine.export_store(crm.Store("crm.duckdb", read_only=True), "tables/")  # doctest: +SKIP
>>> spark = engine.spark_session()                              # doctest: +SKIP
>>> engine.register_tables(spark, "tables/")                    # doctest: +SKIP
>>> rfm = engine.run_query(spark, "clv/sql/rfm_summary.sql", {  # doctest: +SKIP
...     "cutoff": "2024-07-01", "as_of": "2024-06-30", "calibration_end": "2024-06-30",
...     "days_per_unit": 1.0})
>>> engine.to_pandas(rfm).head()                                # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from crm_analytics.spark.translate import contract_schema, spark_args, translate
from crm_analytics.store import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Settings every session of the package runs with (see the README's *Running on Spark*).
SESSION_CONF: dict[str, str] = {
    # DuckDB's store runs in UTC; Spark converts TIMESTAMP (with zone) values with it.
    "spark.sql.session.timeZone": "UTC",
    # Parquet timestamps written without a zone (DuckDB's TIMESTAMP) stay TIMESTAMP_NTZ.
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}


def spark_session(master: str | None = None, *, app_name: str = "crm_analytics",
                  conf: dict[str, str] | None = None) -> SparkSession:
    """A Spark session set up as the translated queries assume (UTC, naive timestamps).

    Parameters
    ----------
    master : str, optional
        ``'local[2]'``, ``'yarn'``, ...; default: what ``spark-submit`` set, else ``local[*]``.
    app_name : str, default 'crm_analytics'
    conf : dict, optional
        More settings (``{'spark.sql.shuffle.partitions': '2'}``); they cannot
        change those of :data:`SESSION_CONF`.
    """
    from pyspark.sql import SparkSession

    if master is None or master.startswith("local"):
        # Local Python workers (mapInPandas) run this interpreter, which has the package
        # and pandas; on a cluster, spark-submit's settings say which Python runs them.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None:  # else spark-submit's --master, or pyspark's local[*]
        builder = builder.master(master)
    for key, value in {**(conf or {}), **SESSION_CONF}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key, value in SESSION_CONF.items():  # an existing session gets them too
        spark.conf.set(key, value)
    return spark


def check_session(spark: SparkSession) -> None:
    """Refuse a session whose settings would change the results (e.g. another time zone)."""
    for key, value in SESSION_CONF.items():
        found = spark.conf.get(key)
        if str(found).lower() != value.lower():
            raise ValueError(
                f"Spark session has {key}={found!r}; the package's queries need {value!r} "
                "(use crm_analytics.spark.engine.spark_session, or set it)"
            )


def export_store(store: Store, folder: str | os.PathLike) -> dict[str, Path]:
    """Write the store's input tables as ``<folder>/<table>.parquet``; returns the paths.

    Every table a registered query can read is written (the data contract's four
    tables and ``customer_attributes``), in DuckDB's types: DECIMAL money,
    timestamps without a zone.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    present = set(store.tables())
    written = {}
    with store.connection() as con:
        for table in ("customers", "transactions", "tickets", "survey_responses", "customer_attributes"):
            if table in present:
                path = out / f"{table}.parquet"
                con.table(table).write_parquet(str(path))
                written[table] = path
    return written


#: The tables a Spark run reads, conformed to the data contract by :func:`register_tables`.
SCORED_TABLES = ("customers", "transactions", "tickets", "survey_responses", "customer_attributes")
_SPARK_TYPES = {"VARCHAR": "string", "TEXT": "string", "BIGINT": "bigint", "DOUBLE": "double",
                "DECIMAL(18, 4)": "decimal(18,4)", "TIMESTAMP": "timestamp_ntz", "BOOLEAN": "boolean",
                "DATE": "date"}
#: The reason column of rejected rows (see :func:`register_tables`).
REASON = "reject_reason"


def register_tables(spark: SparkSession, folder: str | os.PathLike, *,
                    rejects: dict[str, DataFrame] | None = None) -> dict[str, DataFrame]:
    """Read every known table present in ``folder``, conform it, and register it as a view.

    A table is ``<folder>/<table>.parquet`` (a file or a folder of parts) or a Delta
    table ``<folder>/<table>/`` (a folder with ``_delta_log/``), read with
    ``format("delta")`` -- which needs the delta-spark package and a session with
    its extension (``configure_spark_with_delta_pip``); without them a Delta table is
    an :class:`~crm_analytics.errors.InputError` naming the fix.

    The tables a run scores (:data:`SCORED_TABLES`) are conformed to the data
    contract, as the loader types a file: each contract column cast to its type (a
    value that does not convert is an error of its row), optional columns missing
    from the file added empty, other columns dropped, and ``customer_key`` (the
    store's integer surrogate of ``customer_id``) derived from ``customer_id`` in
    every table when one of them has none. A row with an empty required column or a
    value that does not convert is left out; with ``rejects`` given, those rows (as
    read, with :data:`REASON`) are put there per table, lazily, for the caller to keep.

    Raises
    ------
    FileNotFoundError
        No customers table in ``folder``.
    InputError
        A table lacks a required column (the message names the file and the columns).
    """
    raw: dict[str, tuple[DataFrame, Path]] = {}
    for table in contract_schema():
        parquet = Path(folder) / f"{table}.parquet"
        delta = Path(folder) / table
        if parquet.exists():
            raw[table] = (spark.read.parquet(str(parquet)), parquet)
        elif (delta / "_delta_log").is_dir():
            raw[table] = (_read_delta(spark, delta), delta)
    if "customers" not in raw:
        raise FileNotFoundError(f"{folder}: no customers.parquet (nor a Delta table customers/); "
                                "export the tables with export_store")
    # One key for a customer in every table: derived from customer_id for all of them
    # as soon as one table lacks it.
    keyed = [t for t in SCORED_TABLES if t in raw and "customer_key" in contract_schema()[t]]
    derive = any("customer_key" not in raw[t][0].columns for t in keyed)
    frames = {}
    for table, (frame, source) in raw.items():
        if table in SCORED_TABLES:
            frame, bad = _conform(frame, table, source, derive_key=derive)
            if rejects is not None:
                rejects[table] = bad
        frames[table] = frame
        frame.createOrReplaceTempView(table)
    if derive:
        _check_keys(frames["customers"], folder)
    return frames


def _conform(frame: DataFrame, table: str, source: Path, *,
             derive_key: bool) -> tuple[DataFrame, DataFrame]:
    """The contract's columns in the contract's types; and the rows that cannot be."""
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    from crm_analytics.errors import InputError
    from crm_analytics.store.schema import TABLES

    types = contract_schema()[table]
    required = set(TABLES[table].required) if table in TABLES else {"customer_id", "name"}
    present = set(frame.columns)
    missing = sorted(required - present)
    if missing:
        raise InputError(f"{source}: required column(s) {missing} missing; the data contract's "
                         f"{table} table needs {sorted(required)} (see the README's data contract)")
    columns, problems = [], []
    for name, duck_type in types.items():
        spark_type = _SPARK_TYPES.get(duck_type.upper(), "string")
        if name == "customer_key" and (derive_key or name not in present):
            columns.append(F.xxhash64(F.trim(F.col("customer_id").cast("string"))).alias(name))
            continue
        if name not in present:
            columns.append(F.lit(None).cast(spark_type).alias(name))
            continue
        raw = F.col(f"`{name}`")
        value = F.trim(raw.cast("string")) if spark_type == "string" and name in required else raw
        typed = value.try_cast(spark_type)
        columns.append(typed.alias(name))
        if name in required:
            empty = raw.isNull() | (F.trim(raw.cast("string")) == F.lit(""))
            problems.append(F.when(empty, F.lit(f"{name}: a required value is empty")))
            problems.append(F.when(~empty & typed.isNull(), F.lit(f"{name}: not a valid {spark_type}")))
        else:
            bad_value = raw.isNotNull() & typed.isNull()
            problems.append(F.when(bad_value, F.lit(f"{name}: not a valid {spark_type}")))
    checked = frame.withColumn(REASON, F.concat_ws("; ", *problems))
    good = checked.where(F.col(REASON) == F.lit("")).select(*columns)
    bad = checked.where(F.col(REASON) != F.lit(""))
    return good, bad


def _check_keys(customers: DataFrame, folder: Any) -> None:
    """Derived keys must be unique per customer (a 64-bit hash collision is not assumed away)."""
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    from crm_analytics.errors import InputError

    row = customers.agg(F.countDistinct("customer_id").alias("ids"),
                        F.countDistinct("customer_key").alias("keys")).collect()[0]
    if row["ids"] != row["keys"]:
        raise InputError(f"{folder}: two customer_ids share a hashed customer_key; add a customer_key "
                         "column (a unique integer per customer, the same in every table) to the tables")


def _read_delta(spark: SparkSession, path: Path) -> DataFrame:
    from importlib.util import find_spec

    from crm_analytics.errors import InputError

    if find_spec("delta") is None:
        raise InputError(f"{path}: a Delta table, and the delta-spark package is not installed; "
                         "pip install delta-spark (matching your Spark) or export the table as Parquet")
    try:
        return spark.read.format("delta").load(str(path))
    except Exception as exc:  # the session lacks Delta's extension or jars
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: cannot read this Delta table ({first[:200]}); start the session "
                         "with delta.configure_spark_with_delta_pip and Delta's SQL extension") from None


def run_query(spark: SparkSession, name: str, params: dict[str, Any] | None = None) -> DataFrame:
    """Run a registered query (``'clv/sql/rfm_summary.sql'``) on the registered tables."""
    check_session(spark)
    query = translate(name)
    return spark.sql(query.sql, args=spark_args(query, params or {}))


def to_pandas(frame: DataFrame) -> pd.DataFrame:
    """Collect a result as DuckDB's ``.df()`` would give it.

    Collected through Arrow, so the Python process's time zone plays no part;
    timestamps come back naive (UTC), dates as datetime64 and DECIMAL as float64, as from
    DuckDB.
    """
    table = frame.toArrow()
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            column = column.cast(pa.timestamp(field.type.unit, tz="UTC")).cast(pa.timestamp(field.type.unit))
        elif pa.types.is_date(field.type):  # DuckDB's .df() gives DATE as datetime64
            column = column.cast(pa.timestamp("us"))
        elif pa.types.is_decimal(field.type):
            column = column.cast(pa.float64())
        columns.append(column)
    return pa.table(columns, names=table.column_names).to_pandas()
