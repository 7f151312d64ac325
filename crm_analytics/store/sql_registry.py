"""The registry of the package's SQL files, read from their machine-readable headers.

Every ``.sql`` file of the package starts with three header lines, above its prose
header::

    -- @params cutoff:TIMESTAMP as_of:DATE calibration_end:DATE days_per_unit:DOUBLE
    -- @grain customer_id
    -- @engines duckdb spark

``@params``
    The bound parameters (``$name`` in the body) with their DuckDB types
    (``DATE``, ``TIMESTAMP``, ``DOUBLE``, ``VARCHAR``, ``BIGINT``, ``INTEGER``,
    ``BOOLEAN``, a list type such as ``VARCHAR[]``); ``(none)`` for a query
    without parameters. A file that includes a fragment (``-- @include``) declares
    the fragment's parameters too: the declaration is exactly the set of ``$name``
    the expanded body uses (checked by ``tests/spark/test_sql_registry.py``).
``@grain``
    What one output row is: the columns that identify it (``customer_id``;
    ``customer_id product_category``), or ``(one row)`` for a query returning a
    single row, ``(no rows)`` for a statement run for its effect and
    ``(fragment)`` for an expression included by other files.
``@engines``
    ``duckdb`` always; ``spark`` too when the query reads only the data contract's
    tables and must give the same rows on Spark (translated by
    ``crm_analytics.spark``). Queries of the interactive customer view, the
    rule editor and the result tables stay DuckDB-only.

The Spark translation types each parameter from ``@params`` and compares rows on
``@grain``; a new ``.sql`` file marked ``spark`` is picked up by the translation
snapshots and the Spark equality tests without further registration.

Examples
--------
>>> spec = query_spec("clv/sql/rfm_summary.sql")
>>> spec.params["calibration_end"], spec.grain, "spark" in spec.engines
('DATE', ('customer_id',), True)
>>> "clv/sql/rfm_summary.sql" in {s.name for s in spark_queries()}
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from crm_analytics.store.queries import load_query

#: Engines a query can declare.
ENGINES = ("duckdb", "spark")
#: Grains that are not column lists.
SPECIAL_GRAINS = {"(one row)": "one_row", "(no rows)": "statement", "(fragment)": "fragment"}

_TYPE = re.compile(r"^(DATE|TIMESTAMP|DOUBLE|VARCHAR|BIGINT|INTEGER|BOOLEAN|DECIMAL\(\d+,\s*\d+\))(\[\])?$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_PARAM_USE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_HEADER = re.compile(r"^--\s*@(params|grain|engines)\b[ \t]*(.*)$")


class SqlHeaderError(ValueError):
    """A ``.sql`` file's machine-readable header is missing or malformed."""


@dataclass(frozen=True)
class QuerySpec:
    """One SQL file of the package and what its header declares.

    Attributes
    ----------
    name : str
        Path below ``crm_analytics/``, as :func:`~crm_analytics.store.queries.load_query` takes it.
    params : dict of str to str
        Parameter name -> DuckDB type, in declared order.
    grain : tuple of str
        The columns identifying an output row (empty for the special kinds).
    kind : str
        ``'rows'``, ``'one_row'``, ``'statement'`` or ``'fragment'``.
    engines : frozenset of str
        Engines the query must run on: ``{'duckdb'}`` or ``{'duckdb', 'spark'}``.
    """

    name: str
    params: dict[str, str]
    grain: tuple[str, ...]
    kind: str
    engines: frozenset[str]

    @property
    def text(self) -> str:
        """The query text with fragments included (as DuckDB runs it)."""
        return load_query(self.name)

    def used_params(self) -> set[str]:
        """The ``$name`` parameters the body uses (comments ignored, fragments included).

        Examples
        --------
        >>> sorted(query_spec("store/sql/customer_revenue.sql").used_params())
        ['cutoff', 'start']
        """
        body = "\n".join(line.split("--", 1)[0] for line in self.text.splitlines())
        return set(_PARAM_USE.findall(body))


def parse_header(text: str, name: str = "<query>") -> QuerySpec:
    """Read the ``@params``, ``@grain`` and ``@engines`` lines at the top of a query.

    Raises
    ------
    SqlHeaderError
        Naming the file and what is wrong, when a line is missing, repeated or malformed.

    Examples
    --------
    >>> spec = parse_header('''-- @params as_of:DATE cutoff:TIMESTAMP
    ... -- @grain customer_id
    ... -- @engines duckdb spark
    ... SELECT 1''', "x.sql")
    >>> spec.params, spec.grain, spec.kind
    ({'as_of': 'DATE', 'cutoff': 'TIMESTAMP'}, ('customer_id',), 'rows')
    >>> parse_header("SELECT 1", "y.sql")
    Traceback (most recent call last):
    ...
    crm_analytics.store.sql_registry.SqlHeaderError: y.sql: line 1 must be '-- @params ...' (got 'SELECT 1')
    """
    lines = text.splitlines()
    fields: dict[str, str] = {}
    for number, key in enumerate(("params", "grain", "engines"), start=1):
        line = lines[number - 1].strip() if len(lines) >= number else ""
        match = _HEADER.match(line)
        if match is None or match.group(1) != key:
            raise SqlHeaderError(f"{name}: line {number} must be '-- @{key} ...' (got {line!r})")
        fields[key] = match.group(2).strip()
    return QuerySpec(
        name=name,
        params=_parse_params(fields["params"], name),
        **_parse_grain(fields["grain"], name),
        engines=_parse_engines(fields["engines"], name),
    )


def _parse_params(value: str, name: str) -> dict[str, str]:
    if value == "(none)":
        return {}
    if not value:
        raise SqlHeaderError(f"{name}: @params is empty; write '-- @params (none)' for a query without any")
    params: dict[str, str] = {}
    for item in value.split():
        param, sep, sql_type = item.partition(":")
        if not sep or not _NAME.match(param) or not _TYPE.match(sql_type):
            raise SqlHeaderError(
                f"{name}: @params item {item!r} must be name:TYPE with a lower-case name and a "
                "DuckDB type (DATE, TIMESTAMP, DOUBLE, VARCHAR, BIGINT, INTEGER, BOOLEAN, DECIMAL(p,s), T[])"
            )
        if param in params:
            raise SqlHeaderError(f"{name}: @params declares {param!r} twice")
        params[param] = sql_type
    return params


def _parse_grain(value: str, name: str) -> dict[str, object]:
    if value in SPECIAL_GRAINS:
        return {"grain": (), "kind": SPECIAL_GRAINS[value]}
    columns = tuple(value.split())
    if not columns or not all(_NAME.match(c) for c in columns):
        raise SqlHeaderError(
            f"{name}: @grain must list lower-case output columns or be one of {', '.join(SPECIAL_GRAINS)}"
            f" (got {value!r})"
        )
    return {"grain": columns, "kind": "rows"}


def _parse_engines(value: str, name: str) -> frozenset[str]:
    engines = value.split()
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or "duckdb" not in engines:
        raise SqlHeaderError(
            f"{name}: @engines must list 'duckdb' and optionally 'spark' (got {value!r})"
        )
    return frozenset(engines)


def query_names() -> list[str]:
    """Every ``.sql`` file of the package, as ``'<subpackage>/sql/<file>.sql'``, sorted.

    Examples
    --------
    >>> "store/sql/table_counts.sql" in query_names()
    True
    """
    root = resources.files("crm_analytics")
    names = []
    for package in root.iterdir():
        folder = package.joinpath("sql")
        if package.is_dir() and folder.is_dir():
            names += [f"{package.name}/sql/{f.name}" for f in folder.iterdir() if f.name.endswith(".sql")]
    return sorted(names)


@cache
def query_spec(name: str) -> QuerySpec:
    """The parsed header of one query file (``'clv/sql/rfm_summary.sql'``)."""
    path = resources.files("crm_analytics").joinpath(name)
    if not path.is_file():
        raise FileNotFoundError(f"no query file crm_analytics/{name}")
    return parse_header(path.read_text(encoding="utf-8"), name)


def registry() -> dict[str, QuerySpec]:
    """Every query file of the package with its header, by name."""
    return {name: query_spec(name) for name in query_names()}


def spark_queries() -> list[QuerySpec]:
    """The queries that must give the same rows on Spark as on DuckDB, sorted by name."""
    return [s for s in registry().values() if "spark" in s.engines and s.kind != "fragment"]
