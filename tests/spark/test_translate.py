"""The Spark translation: snapshots of every registered query, and each rule's text.

No Spark needed (sqlglot only). Regenerate the snapshots after a deliberate change
with ``python -m crm_analytics.spark.translate tests/spark/snapshots`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sqlglot", reason="sqlglot not installed: pip install -e '.[spark]'")

import sqlglot  # noqa: E402

from crm_analytics.spark.translate import (  # noqa: E402
    SQLGLOT_VERSION,
    SparkExplicitNulls,
    UntranslatableQueryError,
    snapshot_path,
    translate,
    translate_tree,
)
from crm_analytics.store.sql_registry import registry, spark_queries  # noqa: E402

SNAPSHOTS = Path(__file__).parent / "snapshots"
REGENERATE = "python -m crm_analytics.spark.translate tests/spark/snapshots"


def spark_sql(text: str, params: dict[str, str] | None = None) -> str:
    return translate_tree(text, params or {}).sql(dialect=SparkExplicitNulls)


def test_sqlglot_is_the_pinned_version():
    assert sqlglot.__version__ == SQLGLOT_VERSION, (
        f"sqlglot {sqlglot.__version__} installed, snapshots made with {SQLGLOT_VERSION}: "
        f"pin it, or regenerate ({REGENERATE}), review the diff and run the Spark equality tests"
    )


@pytest.mark.parametrize("name", [s.name for s in spark_queries()])
def test_generated_spark_sql_matches_its_snapshot(name):
    path = snapshot_path(SNAPSHOTS, name)
    assert path.exists(), f"no snapshot for {name}: run {REGENERATE}"
    assert translate(name).sql == path.read_text(encoding="utf-8"), (
        f"the Spark SQL of {name} changed: review, then run {REGENERATE}"
    )


def test_no_stale_snapshots():
    expected = {snapshot_path(SNAPSHOTS, s.name) for s in spark_queries()}
    assert set(SNAPSHOTS.glob("*/*.sql")) == expected


@pytest.mark.parametrize("name", [s.name for s in spark_queries()])
def test_no_approximate_percentile_and_no_duckdb_only_syntax(name):
    sql = translate(name).sql
    for banned in ("PERCENTILE_APPROX", "PERCENTILE_CONT", "EPOCH", "$", " TIMESTAMP)", "APPROX"):
        assert banned not in sql, f"{name}: {banned!r} in the Spark SQL"


@pytest.mark.parametrize("name", sorted(n for n, s in registry().items() if "spark" not in s.engines))
def test_duckdb_only_queries_are_refused(name):
    with pytest.raises(UntranslatableQueryError, match="DuckDB only"):
        translate(name)


@pytest.mark.parametrize(
    ("duckdb", "params", "spark"),
    [
        # DATE - DATE is an INTERVAL in Spark, whole days in DuckDB.
        ("SELECT $a - $b AS d", {"a": "DATE", "b": "DATE"},
         "SELECT DATEDIFF(CAST(:a AS DATE), CAST(:b AS DATE)) AS d"),
        # EXTRACT(EPOCH ...) does not exist in Spark; exact microseconds, no time zone.
        ("SELECT EXTRACT(EPOCH FROM ($a - $b)) AS s", {"a": "TIMESTAMP", "b": "TIMESTAMP"},
         "SELECT (CAST(TIMESTAMPDIFF(MICROSECOND, CAST(:b AS TIMESTAMP_NTZ), CAST(:a AS TIMESTAMP_NTZ))"
         " AS DOUBLE) / CAST(1000000 AS DOUBLE)) AS s"),
        # Exact percentile, not sqlglot's PERCENTILE_APPROX.
        ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY quantity) AS m FROM transactions", {},
         "SELECT PERCENTILE(transactions.quantity, 0.5) AS m FROM transactions AS transactions"),
        # AVG and division in DOUBLE, as DuckDB computes them (Spark keeps DECIMAL digits).
        ("SELECT AVG(amount) AS a FROM transactions", {},
         "SELECT AVG(CAST(transactions.amount AS DOUBLE)) AS a FROM transactions AS transactions"),
        ("SELECT amount / 3 AS q FROM transactions", {},
         "SELECT CAST(transactions.amount AS DOUBLE) / CAST(3 AS DOUBLE) AS q "
         "FROM transactions AS transactions"),
        # A divisor that may be 0 gives DuckDB's inf / NaN instead of Spark's error or NULL.
        ("SELECT amount / quantity AS q FROM transactions", {},
         "SELECT (CASE WHEN CAST(transactions.quantity AS DOUBLE) = 0 "
         "THEN CAST(transactions.amount AS DOUBLE) * CAST('Infinity' AS DOUBLE) "
         "ELSE CAST(transactions.amount AS DOUBLE) / CAST(transactions.quantity AS DOUBLE) END) AS q "
         "FROM transactions AS transactions"),
        # DuckDB rounds when casting to an integer (DOUBLE half to even, DECIMAL half away
        # from zero; 2.7 is a DECIMAL literal); Spark truncates.
        ("SELECT CAST($d AS BIGINT) AS i", {"d": "DOUBLE"},
         "SELECT CAST(BROUND(CAST(:d AS DOUBLE), 0) AS BIGINT) AS i"),
        ("SELECT CAST(2.7 AS BIGINT) AS i, CAST(2.7e0 AS BIGINT) AS j", {},
         "SELECT CAST(ROUND(2.7, 0) AS BIGINT) AS i, CAST(BROUND(2.7e0, 0) AS BIGINT) AS j"),
        ("SELECT CAST(amount AS BIGINT) AS i FROM transactions", {},
         "SELECT CAST(ROUND(transactions.amount, 0) AS BIGINT) AS i FROM transactions AS transactions"),
        # NULLs sort last in DuckDB, first in Spark (ascending): explicit everywhere.
        ("SELECT channel FROM transactions ORDER BY channel, amount DESC", {},
         "SELECT transactions.channel AS channel FROM transactions AS transactions "
         "ORDER BY channel NULLS LAST, transactions.amount DESC NULLS LAST"),
        # Naive timestamps: TIMESTAMP_NTZ, parameters as text cast in SQL.
        ("SELECT CAST($c AS TIMESTAMP) AS c", {"c": "DATE"},
         "SELECT CAST(CAST(:c AS DATE) AS TIMESTAMP_NTZ) AS c"),
        # sqlglot's qualifier lower-cases aliases: the spelling is restored.
        ("SELECT amount AS T FROM transactions", {},
         "SELECT transactions.amount AS `T` FROM transactions AS transactions"),
        # DuckDB-only aggregates with Spark equivalents.
        ("SELECT MIN_BY(amount, transaction_date) AS m FROM transactions", {},
         "SELECT MIN_BY(transactions.amount, transactions.transaction_date) AS m "
         "FROM transactions AS transactions"),
    ],
)
def test_each_rule(duckdb, params, spark):
    assert spark_sql(duckdb, params) == spark


@pytest.mark.parametrize(
    ("duckdb", "message"),
    [
        ("SELECT EXTRACT(EPOCH FROM opened_at) AS e FROM tickets", "difference of two timestamps"),
        ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY sla_hours DESC) AS m FROM tickets",
         "one ascending sort key"),
        ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS m FROM transactions",
         "cast the argument to DOUBLE"),
        ("SELECT $undeclared AS u", "not declared in @params"),
    ],
)
def test_what_no_rule_covers_is_refused(duckdb, message):
    with pytest.raises(UntranslatableQueryError, match=message):
        translate_tree(duckdb, {})
