"""Every query registered for Spark gives DuckDB's rows on local Spark, to 1e-9.

Parametrised over the query registry (``-- @engines duckdb spark``), so a new query
is covered without touching this file (it may need an example value for a new
parameter name in ``conftest.EXAMPLE_PARAMS``). Each query also runs with the
Python process in New York time: parameters and results must not move.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from crm_analytics.store.sql_registry import spark_queries
from tests.spark.conftest import EXAMPLE_PARAMS

# `slow` too: a plain `pytest` stays quick; `make test` (and CI) runs them.
pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
]

TOLERANCE = 1e-9
PER_CUSTOMER = [s.name for s in spark_queries() if s.grain[:1] == ("customer_id",)]
CASES = [pytest.param(s.name, "UTC", id=f"{s.name}-UTC") for s in spark_queries()] + [
    pytest.param(name, "America/New_York", id=f"{name}-New_York") for name in PER_CUSTOMER
]


@pytest.fixture
def process_time_zone(monkeypatch):
    """Set the Python process's time zone (``TZ`` and ``time.tzset``) for one test."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def assert_same_rows(duck: pd.DataFrame, spark: pd.DataFrame, key: list[str], label: str) -> None:
    """Equal columns and rows (in ``key`` order); numbers to TOLERANCE, NULLs equal NULLs."""
    assert list(spark.columns) == list(duck.columns), f"{label}: columns differ"
    assert len(spark) == len(duck), f"{label}: {len(spark)} rows on Spark, {len(duck)} on DuckDB"
    key = key or list(duck.columns)
    duck = duck.sort_values(key, na_position="last", kind="stable").reset_index(drop=True)
    spark = spark.sort_values(key, na_position="last", kind="stable").reset_index(drop=True)
    for column in duck.columns:
        a, b = duck[column], spark[column]
        numeric = (pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
                   and not pd.api.types.is_bool_dtype(a))
        if numeric:
            same = np.isclose(a.astype(float), b.astype(float), rtol=TOLERANCE, atol=TOLERANCE,
                              equal_nan=True)
        else:
            x = a.astype(object).where(a.notna(), None)
            y = b.astype(object).where(b.notna(), None)
            same = np.array([p == q for p, q in zip(x, y, strict=True)])
        if not same.all():
            rows = np.flatnonzero(~same)[:3]
            raise AssertionError(
                f"{label}: column {column} differs in {(~same).sum()} rows, e.g. DuckDB "
                f"{a.iloc[rows].tolist()} vs Spark {b.iloc[rows].tolist()} ({a.dtype} / {b.dtype})"
            )


@pytest.mark.parametrize(("name", "zone"), CASES)
def test_spark_gives_duckdbs_rows(name, zone, spark, spark_tables, duck_store, process_time_zone):
    from crm_analytics.spark import engine
    from crm_analytics.store.sql_registry import query_spec

    spec = query_spec(name)
    missing = sorted(set(spec.params) - set(EXAMPLE_PARAMS))
    assert not missing, f"add example values for {missing} to tests/spark/conftest.py EXAMPLE_PARAMS"
    params = {p: EXAMPLE_PARAMS[p] for p in spec.params}
    expected = duck_store.sql(spec.text, params)
    process_time_zone(zone)
    got = engine.to_pandas(engine.run_query(spark, name, params))
    assert len(expected) > 0, f"{name}: the test data give no rows; the comparison would prove nothing"
    assert_same_rows(expected, got, list(spec.grain), f"{name} ({zone})")


def _run_both(spark, duck_store, text: str, types: dict[str, str], values: dict[str, object]):
    from crm_analytics.spark import engine
    from crm_analytics.spark.translate import SparkExplicitNulls, SparkQuery, spark_args, translate_tree

    query = SparkQuery("rule.sql", translate_tree(text, types).sql(dialect=SparkExplicitNulls), types, ())
    got = engine.to_pandas(spark.sql(query.sql, args=spark_args(query, values)))
    return duck_store.sql(text, values), got


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_each_pitfall_on_spark(zone, spark, spark_tables, duck_store, process_time_zone):
    process_time_zone(zone)
    text = """
        SELECT CAST(2.5 AS BIGINT) AS decimal_rounds, CAST(CAST(2.5 AS DOUBLE) AS BIGINT) AS double_rounds,
               CAST(-2.7 AS BIGINT) AS negative_rounds,
               1.0 / 0 AS plus_inf, -1 / 0 AS minus_inf, 7 / 2 AS float_division,
               $day - DATE '2024-02-01' AS days,
               EXTRACT(EPOCH FROM ($moment - TIMESTAMP '2024-01-01 00:00:00')) AS seconds,
               CAST($moment AS TIMESTAMP) AS moment, CAST($day AS TIMESTAMP) AS midnight,
               1 AS T
    """
    values = {"day": dt.date(2024, 3, 1), "moment": dt.datetime(2024, 3, 10, 2, 30, 0, 500000)}
    duck, got = _run_both(spark, duck_store, text, {"day": "DATE", "moment": "TIMESTAMP"}, values)
    # 2024-03-10 02:30 does not exist in New York (DST): converted with the process's zone it would move.
    assert got["moment"].iloc[0] == pd.Timestamp("2024-03-10 02:30:00.5")
    assert got["seconds"].iloc[0] == 5970600.5 and got["days"].iloc[0] == 29
    assert np.isinf(got["plus_inf"].iloc[0]) and got["decimal_rounds"].iloc[0] == 3
    assert_same_rows(duck, got, [], f"pitfalls ({zone})")


def test_aggregates_and_null_order_on_spark(spark, spark_tables, duck_store):
    text = """
        SELECT customer_type,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(amount AS DOUBLE)) AS median_amount,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY quantity) AS p90_quantity,
               AVG(amount) AS mean_amount, SUM(amount) / COUNT(*) AS mean_by_division,
               CAST(0.0 AS DOUBLE) / 0 AS not_a_number
        FROM transactions JOIN customers USING (customer_id)
        GROUP BY customer_type
    """
    duck, got = _run_both(spark, duck_store, text, {}, {})
    assert_same_rows(duck, got, ["customer_type"], "aggregates")
    ordered = "SELECT customer_id, industry FROM customers ORDER BY industry, customer_id DESC"
    duck, got = _run_both(spark, duck_store, ordered, {}, {})
    assert duck["industry"].isna().any(), "the test needs NULLs to order"
    assert got["customer_id"].tolist() == duck["customer_id"].tolist()  # NULLs last, as DuckDB


def test_session_must_use_utc(spark):
    from crm_analytics.spark import engine

    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        with pytest.raises(ValueError, match="spark.sql.session.timeZone"):
            engine.run_query(spark, "churn/sql/data_span.sql", {})
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
