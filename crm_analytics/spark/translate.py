"""Translate the package's DuckDB queries to Spark SQL: sqlglot plus the package's own rules.

The ``.sql`` files stay the only definition of every feature; this module
generates their Spark SQL. sqlglot alone translates 15 of the 24 queries
correctly: the rest fail on Spark or -- worse -- give *silently different*
numbers. Each rule below fixes one of those differences, named after what it
fixes; ``tests/spark/test_translate.py`` checks each rule on a minimal query and
``tests/spark/snapshots/`` keeps the generated SQL of every registered query, so
an sqlglot upgrade cannot change the results unnoticed.

=====================  ==========================================================
rule                   why
=====================  ==========================================================
typed parameters       ``$name`` becomes ``CAST(:name AS <declared type>)``; dates
                       and timestamps travel as ISO text (:func:`spark_args`), so
                       the Python process's time zone never touches them
naive timestamps       DuckDB's ``TIMESTAMP`` has no time zone: Spark's is
                       ``TIMESTAMP_NTZ`` (``TIMESTAMP`` would be local time);
                       ``date_trunc`` is cast back to ``TIMESTAMP_NTZ``
case of aliases        sqlglot's qualifier lower-cases identifiers (``T`` became
                       ``t``): their spelling is restored, quoted, afterwards
DATE - DATE            an INTERVAL in Spark; whole days in DuckDB: ``DATEDIFF``
EXTRACT(EPOCH ...)     not in Spark; of a difference of timestamps:
                       ``TIMESTAMPDIFF(MICROSECOND, b, a) / 1e6`` (exact, no zone)
percentile_cont        sqlglot emits ``PERCENTILE_APPROX`` (median gaps off by up
                       to 473 days): exact ``PERCENTILE(x, q)`` instead (refused
                       for a DECIMAL, which DuckDB interpolates in its own scale)
division               DuckDB's ``/`` divides in DOUBLE (Spark keeps
                       ``DECIMAL / n`` at 6 decimals): both sides cast to DOUBLE;
                       a divisor that may be 0 gives DuckDB's +-inf / NaN (Spark 4
                       raises, 3.5 returns NULL)
AVG                    ``AVG(decimal)`` is DOUBLE in DuckDB, 8 decimals in Spark:
                       ``AVG(CAST(x AS DOUBLE))``
CAST(x AS BIGINT)      DuckDB rounds (DOUBLE half to even, DECIMAL half away from
                       zero), Spark truncates: ``BROUND`` / ``ROUND`` first
NULL ordering          DuckDB sorts NULLs last in both directions, Spark first
                       when ascending: every ORDER BY (windows too) says
                       ``NULLS LAST`` (or ``NULLS FIRST``) explicitly
DuckDB-only functions  ``MIN_BY``/``MAX_BY``, ``TRY_CAST``, ``FILTER``, ``||`` and
                       ``IS NOT DISTINCT FROM`` have Spark equivalents that
                       sqlglot emits; a query using a function with no rule here
                       (``strip_accents``, ``regexp_matches``, list functions,
                       ``unnest``, ``hash``) stays DuckDB-only (``@engines``)
=====================  ==========================================================

Examples
--------
>>> query = translate("store/sql/customer_revenue.sql")
>>> "CAST(:cutoff AS TIMESTAMP_NTZ)" in query.sql
True
>>> spark_args(query, {"cutoff": "2024-01-01", "start": "2023-01-01"})
{'cutoff': '2024-01-01 00:00:00', 'start': '2023-01-01 00:00:00'}
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from crm_analytics.store.schema import CUSTOMER_KEY, SYSTEM_DDL, TABLES
from crm_analytics.store.sql_registry import QuerySpec, query_spec, spark_queries

#: The sqlglot version the snapshots were generated with (also pinned in pyproject's
#: ``spark`` extra); another version must reproduce them byte for byte.
SQLGLOT_VERSION = "30.30.0"

_INT_TYPES = {exp.DataType.Type.BIGINT, exp.DataType.Type.INT, exp.DataType.Type.SMALLINT,
              exp.DataType.Type.TINYINT}
_FLOAT_TYPES = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}


class SparkExplicitNulls(Spark):
    """Spark's dialect, writing the NULL order of every sort key explicitly.

    sqlglot writes ``NULLS LAST`` only where Spark's default differs from the
    source's; spelling it out keeps the generated SQL readable on its own and
    independent of that logic.
    """

    class Generator(Spark.Generator):
        def ordered_sql(self, expression: exp.Ordered) -> str:
            this = self.sql(expression, "this")
            desc = " DESC" if expression.args.get("desc") else ""
            nulls = " NULLS FIRST" if expression.args.get("nulls_first") else " NULLS LAST"
            return f"{this}{desc}{nulls}"


class UntranslatableQueryError(ValueError):
    """A query uses something the rules cannot translate to Spark faithfully."""


@dataclass(frozen=True)
class SparkQuery:
    """A query translated to Spark SQL.

    Attributes
    ----------
    name : str
        The source file (``'clv/sql/rfm_summary.sql'``).
    sql : str
        Spark SQL with named parameter markers (``:cutoff``).
    params : dict of str to str
        The declared DuckDB type of each parameter.
    grain : tuple of str
        The columns identifying an output row (from the header).
    """

    name: str
    sql: str
    params: dict[str, str]
    grain: tuple[str, ...]


@cache
def contract_schema() -> dict[str, dict[str, str]]:
    """Column types of every table a query can read, as DuckDB type names.

    Built from :mod:`crm_analytics.store.schema`: the canonical tables (their
    contract columns and ``customer_key``) and every system table.

    Examples
    --------
    >>> schema = contract_schema()
    >>> schema["transactions"]["amount"], schema["transactions"]["customer_key"]
    ('DECIMAL(18, 4)', 'BIGINT')
    >>> schema["customer_attributes"]["value"]  # sqlglot spells DuckDB's VARCHAR so
    'TEXT'
    """
    schema = {
        name: {**{c.name: c.sql_type for c in table.columns}, CUSTOMER_KEY: "BIGINT"}
        for name, table in TABLES.items()
    }
    for ddl in SYSTEM_DDL:
        create = sqlglot.parse_one(ddl, read="duckdb")
        table = create.find(exp.Table)
        schema[table.name] = {
            col.name: col.args["kind"].sql("duckdb") for col in create.find_all(exp.ColumnDef)
        }
    return schema


def translate(query: str | QuerySpec, *, pretty: bool = True) -> SparkQuery:
    """Translate a registered query to Spark SQL.

    Parameters
    ----------
    query : str or QuerySpec
        A query's name (``'clv/sql/rfm_summary.sql'``) or its spec.
    pretty : bool, default True
        Indent the generated SQL (as the snapshots keep it).

    Raises
    ------
    UntranslatableQueryError
        When the query is not marked ``@engines duckdb spark``, or uses a
        construct no rule covers.

    Examples
    --------
    >>> sql = translate("clv/sql/rfm_summary.sql", pretty=False).sql
    >>> "PERCENTILE_APPROX" in sql, "DATEDIFF(" in sql, "AS `T`" in sql
    (False, True, True)
    """
    spec = query if isinstance(query, QuerySpec) else query_spec(query)
    if "spark" not in spec.engines or spec.kind in ("fragment", "statement"):
        raise UntranslatableQueryError(
            f"{spec.name} is not marked '-- @engines duckdb spark'; it runs on DuckDB only"
        )
    tree = translate_tree(spec.text, spec.params, name=spec.name)
    body = tree.sql(dialect=SparkExplicitNulls, pretty=pretty, comments=False)
    head = (f"-- Generated from crm_analytics/{spec.name} by crm_analytics.spark.translate "
            f"(sqlglot {sqlglot.__version__}); do not edit.\n")
    return SparkQuery(name=spec.name, sql=head + body + "\n", params=dict(spec.params), grain=spec.grain)


def translate_tree(text: str, params: dict[str, str], *, name: str = "<query>") -> exp.Expression:
    """Parse DuckDB SQL and apply every rule; returns the tree to generate Spark SQL from.

    Examples
    --------
    >>> tree = translate_tree("SELECT $d - DATE '2020-01-01' AS days_", {"d": "DATE"})
    >>> tree.sql(dialect=SparkExplicitNulls)
    "SELECT DATEDIFF(CAST(:d AS DATE), CAST('2020-01-01' AS DATE)) AS days_"
    """
    tree = sqlglot.parse_one(text, read="duckdb")
    tree = _typed_parameters(tree, params, name)
    spelled = _spellings(tree)
    schema = contract_schema()
    tree = qualify(tree, schema=schema, dialect="duckdb", validate_qualify_columns=False,
                   quote_identifiers=False, identify=False)
    tree = _restore_case(tree, spelled)
    tree = annotate_types(tree, schema=schema, dialect="duckdb")
    # Rules that read DuckDB's types run first, on the annotated tree.
    for rule in (_integer_casts, _date_differences, _epoch_of_differences, _exact_percentiles,
                 _average_in_double, _division_in_double, _naive_timestamps):
        tree = rule(tree, name)
    return tree


def _typed_parameters(tree: exp.Expression, params: dict[str, str], name: str) -> exp.Expression:
    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in params:
                raise UntranslatableQueryError(f"{name}: ${node.name} is not declared in @params")
            declared = exp.DataType.build(params[node.name], dialect="duckdb")
            return exp.cast(exp.Placeholder(this=node.name), declared)
        return node

    return tree.transform(rule, copy=False)


def _spellings(tree: exp.Expression) -> dict[str, str]:
    """Identifiers spelled with capitals, by their lower-case form (``{'t': 'T'}``)."""
    return {i.name.lower(): i.name for i in tree.find_all(exp.Identifier) if i.name != i.name.lower()}


def _restore_case(tree: exp.Expression, spelled: dict[str, str]) -> exp.Expression:
    # sqlglot's qualifier lower-cases identifiers, quoted or not (DuckDB and Spark
    # resolve names ignoring case), so the output column T would come out as t.
    # Spark resolves names ignoring case too: restoring the spelling everywhere is safe.
    for ident in tree.find_all(exp.Identifier):
        if ident.name in spelled:
            ident.set("this", spelled[ident.name])
            ident.set("quoted", True)
    return tree


def _type(node: exp.Expression) -> exp.DataType.Type | None:
    if isinstance(node, exp.Paren):
        return _type(node.this)
    if isinstance(node, exp.Extract) and node.name.upper() == "EPOCH":
        return exp.DataType.Type.DOUBLE  # DuckDB's type; sqlglot does not know it
    if isinstance(node, exp.Cast):
        return node.to.this
    if isinstance(node, exp.Literal) and not node.is_string:
        # DuckDB reads 2.5 as DECIMAL (sqlglot says DOUBLE); 2.5e0 is a DOUBLE.
        text = node.this.lower()
        if "e" in text:
            return exp.DataType.Type.DOUBLE
        return exp.DataType.Type.DECIMAL if "." in text else exp.DataType.Type.INT
    return node.type.this if node.type is not None else None


def _integer_casts(tree: exp.Expression, name: str) -> exp.Expression:
    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Cast) and node.to.this in _INT_TYPES:
            source = _type(node.this)
            if source in _FLOAT_TYPES:  # DuckDB: round half to even
                node.set("this", exp.func("BROUND", node.this, exp.Literal.number(0)))
            elif source == exp.DataType.Type.DECIMAL:  # DuckDB: round half away from zero
                node.set("this", exp.func("ROUND", node.this, exp.Literal.number(0)))
        return node

    return tree.transform(rule, copy=False)


def _is(node: exp.Expression, *types: exp.DataType.Type) -> bool:
    return _type(node) in types


def _date_differences(tree: exp.Expression, name: str) -> exp.Expression:
    date = exp.DataType.Type.DATE

    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Sub) and _is(node.this, date) and _is(node.expression, date):
            diff = exp.Anonymous(this="DATEDIFF", expressions=[node.this, node.expression])
            diff.type = exp.DataType.build("BIGINT")
            return diff
        return node

    return tree.transform(rule, copy=False)


def _epoch_of_differences(tree: exp.Expression, name: str) -> exp.Expression:
    stamps = (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)

    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Extract) and node.name.upper() == "EPOCH":
            diff = node.expression.unnest()
            if not (isinstance(diff, exp.Sub) and _is(diff.this, *stamps) and _is(diff.expression, *stamps)):
                raise UntranslatableQueryError(
                    f"{name}: EXTRACT(EPOCH FROM ...) is translated only for a difference of two "
                    f"timestamps (got {diff.sql('duckdb')})"
                )
            micros = exp.Anonymous(this="TIMESTAMPDIFF",
                                   expressions=[exp.var("MICROSECOND"), diff.expression, diff.this])
            seconds = exp.Div(this=exp.cast(micros, "DOUBLE"), expression=exp.Literal.number(1000000))
            seconds.type = exp.DataType.build("DOUBLE")
            return exp.paren(seconds, copy=False)
        return node

    return tree.transform(rule, copy=False)


def _exact_percentiles(tree: exp.Expression, name: str) -> exp.Expression:
    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
            order = node.expression.expressions
            if len(order) != 1 or order[0].args.get("desc"):
                raise UntranslatableQueryError(
                    f"{name}: percentile_cont is translated for one ascending sort key only"
                )
            if _type(order[0].this) == exp.DataType.Type.DECIMAL:
                # DuckDB interpolates DECIMALs in their own scale (209.6349, not 209.63495).
                raise UntranslatableQueryError(
                    f"{name}: percentile_cont of a DECIMAL keeps its scale in DuckDB; "
                    "cast the argument to DOUBLE in the query"
                )
            out = exp.Anonymous(this="PERCENTILE", expressions=[order[0].this, node.this.this])
            out.type = exp.DataType.build("DOUBLE")
            return out
        loose = isinstance(node, (exp.PercentileCont, exp.ApproxQuantile))
        if loose and not isinstance(node.parent, exp.WithinGroup):
            raise UntranslatableQueryError(f"{name}: {node.sql('duckdb')} has no exact translation")
        return node

    return tree.transform(rule, copy=False)


def _double(node: exp.Expression) -> exp.Expression:
    if _is(node, *_FLOAT_TYPES):
        return node
    out = exp.cast(node, "DOUBLE")
    out.type = exp.DataType.build("DOUBLE")
    return out


def _average_in_double(tree: exp.Expression, name: str) -> exp.Expression:
    for avg in list(tree.find_all(exp.Avg)):
        avg.set("this", _double(avg.this))
    return tree


def _never_zero(node: exp.Expression) -> bool:
    node = node.unnest()
    if isinstance(node, exp.Literal) and not node.is_string:
        return float(node.this) != 0
    if isinstance(node, exp.Nullif):  # NULLIF(x, 0) is NULL, never 0
        other = node.expression
        return isinstance(other, exp.Literal) and not other.is_string and float(other.this) == 0
    return False


def _division_in_double(tree: exp.Expression, name: str) -> exp.Expression:
    def rule(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Div):
            return node
        numerator, divisor = _double(node.this), _double(node.expression)
        quotient = exp.Div(this=numerator, expression=divisor)
        if _never_zero(node.expression):
            return quotient
        # DuckDB: x / 0 is +inf, -inf or NaN (0 / 0) -- the sign of x times infinity.
        infinity = exp.cast(exp.Literal.string("Infinity"), "DOUBLE")
        return exp.paren(exp.Case(
            ifs=[exp.If(this=exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)),
                        true=exp.Mul(this=numerator.copy(), expression=infinity))],
            default=quotient,
        ), copy=False)

    return tree.transform(rule, copy=False)


def _naive_timestamps(tree: exp.Expression, name: str) -> exp.Expression:
    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.TIMESTAMP:
            return exp.DataType.build("TIMESTAMP_NTZ", dialect="spark")
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)) and not isinstance(node.parent, exp.Cast):
            return exp.cast(node, exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))
        return node

    return tree.transform(rule, copy=False)


def spark_args(query: SparkQuery, values: dict[str, Any]) -> dict[str, Any]:
    """The values of a query's parameters as Spark binds them, by the declared types.

    Dates and timestamps become ISO text, cast in the SQL to ``DATE`` /
    ``TIMESTAMP_NTZ``: PySpark would convert a naive ``datetime`` with the
    Python process's time zone. Numbers become Python numbers; ``None`` stays NULL.

    Raises
    ------
    ValueError
        For a missing or unexpected parameter, or a time-zone-aware timestamp
        (DuckDB's TIMESTAMP is naive: convert to UTC and drop the zone first).

    Examples
    --------
    >>> import datetime as dt
    >>> q = SparkQuery("x.sql", "SELECT 1", {"as_of": "DATE", "n": "DOUBLE"}, ())
    >>> spark_args(q, {"as_of": dt.datetime(2024, 3, 1, 0, 0), "n": 7})
    {'as_of': '2024-03-01', 'n': 7.0}
    """
    missing, extra = set(query.params) - set(values), set(values) - set(query.params)
    if missing or extra:
        raise ValueError(
            f"{query.name}: parameters missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return {name: _bind(query.name, name, sql_type, values[name]) for name, sql_type in query.params.items()}


def _bind(query: str, name: str, sql_type: str, value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        value = value.item()
    if sql_type in ("DATE", "TIMESTAMP"):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            raise ValueError(f"{query}: ${name} = {value!r} has a time zone; pass naive UTC time")
        if sql_type == "DATE":
            return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
        if not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        return value.isoformat(sep=" ")
    if sql_type == "DOUBLE" or sql_type.startswith("DECIMAL"):
        return float(value)
    if sql_type in ("BIGINT", "INTEGER"):
        return int(value)
    if sql_type == "BOOLEAN":
        return bool(value)
    return value


def snapshot_path(folder: str | Path, name: str) -> Path:
    """The snapshot of a query: ``clv/sql/rfm_summary.sql`` -> ``<folder>/clv/rfm_summary.sql``."""
    package, _, file = name.split("/")
    return Path(folder) / package / file


def write_snapshots(folder: str | Path) -> list[Path]:
    """Write the Spark SQL of every registered query below ``folder`` (old snapshots removed).

    Run ``python -m crm_analytics.spark.translate tests/spark/snapshots`` after a
    change to a query, a rule or the sqlglot pin, and review the diff.
    """
    folder = Path(folder)
    for old in folder.glob("*/*.sql"):
        old.unlink()
    written = []
    for spec in spark_queries():
        path = snapshot_path(folder, spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(translate(spec).sql, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m crm_analytics.spark.translate FOLDER``: regenerate the snapshots."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m crm_analytics.spark.translate",
                                     description="Write the Spark SQL of every registered query.")
    parser.add_argument("folder", help="e.g. tests/spark/snapshots")
    args = parser.parse_args(argv)
    written = write_snapshots(args.folder)
    sys.stdout.write(f"wrote {len(written)} Spark queries to {args.folder}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
