"""SQL expressions that cleanse and type one raw text column.

The loader stages every input as text, then turns each column into its
canonical type with the expressions below. Identifiers come from
:mod:`crm_analytics.store.schema` (never from user input); user-supplied values such
as date formats are bound parameters.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from crm_analytics.store.schema import FALSE_TOKENS, NULL_TOKENS, TRUE_TOKENS, Column

# Formats tried after ISO 8601 when a date column is not ISO. Only unambiguous
# ones: 01/02/2024 could be January or February, so '%d/%m/%Y' and '%m/%d/%Y'
# must be asked for with ``date_format=``.
DEFAULT_DATE_FORMATS = ["%Y%m%d", "%Y/%m/%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S.%f"]

# Characters trimmed from both ends of every value (space, tab, CR, LF, NBSP).
_TRIM_CHARS = " \t\r\n\u00a0"
_TRIM_CODES = "(9, 10, 13, 32, 160)"
# Null spellings are short: testing the length first skips the IN list for most values.
_MAX_NULL_TOKEN = max(len(t) for t in NULL_TOKENS)


def q(identifier: str) -> str:
    """Quote an SQL identifier (doubling embedded quotes).

    Examples
    --------
    >>> q('amount')
    '"amount"'
    >>> q('we"ird')
    '"we""ird"'
    """
    return '"' + identifier.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote a string literal that comes from this package's own constants."""
    return "'" + text.replace("'", "''") + "'"


def _in_list(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def clean_text(expr: str) -> str:
    """Trim whitespace and turn empty strings and null spellings into NULL.

    ``trim`` with a character set is slow, so it only runs on values that start
    or end with one of those characters (measured: 2.5x faster on 20M rows).
    """
    trimmed = (
        f"CASE WHEN ascii({expr}) IN {_TRIM_CODES} OR ascii(right({expr}, 1)) IN {_TRIM_CODES} "
        f"THEN trim({expr}, {lit(_TRIM_CHARS)}) ELSE {expr} END"
    )
    return (
        f"CASE WHEN length({expr}) <= {_MAX_NULL_TOKEN + 8} AND ({trimmed}) IN "
        f"{_in_list(NULL_TOKENS)} THEN NULL ELSE {trimmed} END"
    )


def typed(column: Column, clean: str) -> str:
    """Expression converting the cleaned text ``clean`` to the column's type (NULL if invalid)."""
    kind = column.kind
    if kind in ("id", "text", "phone"):
        return clean
    if kind == "email":
        return f"lower({clean})"
    if kind == "country":
        return (
            f"coalesce((SELECT k.alpha2 FROM _crm_countries k WHERE k.key = upper({clean})), "
            f"{clean})"
        )
    if kind == "category":
        assert column.allowed is not None
        whens = " ".join(
            f"WHEN {lit(k)} THEN {lit(v)}" for k, v in sorted(column.allowed.items())
        )
        return f"CASE lower({clean}) {whens} END"
    if kind == "number":
        return f"CASE WHEN isfinite(TRY_CAST({clean} AS DOUBLE)) THEN TRY_CAST({clean} AS DOUBLE) END"
    if kind == "money":
        # Rounded to 4 decimals; beyond DECIMAL(18, 4)'s range it is not a usable amount.
        d = f"TRY_CAST({clean} AS DOUBLE)"
        return f"CASE WHEN isfinite({d}) THEN TRY_CAST({d} AS DECIMAL(18, 4)) END"
    if kind == "int":
        d = f"TRY_CAST({clean} AS DOUBLE)"
        return f"CASE WHEN isfinite({d}) AND {d} = trunc({d}) THEN CAST({d} AS BIGINT) END"
    if kind == "timestamp":
        return (
            f"coalesce(TRY_CAST(TRY_CAST({clean} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP), "
            f"try_strptime({clean}, $date_formats))"
        )
    if kind == "bool":
        return (
            f"CASE WHEN lower({clean}) IN {_in_list(TRUE_TOKENS)} THEN TRUE "
            f"WHEN lower({clean}) IN {_in_list(FALSE_TOKENS)} THEN FALSE END"
        )
    raise ValueError(f"unknown column kind {kind!r}")


def invalid_message(column: Column, raw: str) -> tuple[str, str]:
    """(reason_code, SQL message expression) for a value that did not convert."""
    shown = f"'''' || left({raw}, 60) || ''''"
    name = column.name
    messages = {
        "number": ("bad_number", f"{lit(name + ' ')} || {shown} || ' is not a number'"),
        "money": (
            "bad_number",
            f"{lit(name + ' ')} || {shown} || ' is not an amount (a number below 10^14)'",
        ),
        "int": ("bad_integer", f"{lit(name + ' ')} || {shown} || ' is not a whole number'"),
        "timestamp": (
            "bad_date",
            f"{lit(name + ' ')} || {shown} || "
            "' is not a date (use YYYY-MM-DD [HH:MM:SS] or pass date_format=)'",
        ),
        "bool": ("bad_boolean", f"{lit(name + ' ')} || {shown} || ' is not yes/no/true/false/1/0'"),
        "category": (
            "bad_category",
            f"{lit(name + ' ')} || {shown} || "
            + lit(" is not one of " + "/".join(sorted(set((column.allowed or {}).values()))))
        ),
    }
    return messages[column.kind]


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$"


@lru_cache(maxsize=1)
def country_rows() -> list[tuple[str, str]]:
    """(lookup key, alpha-2) pairs: alpha-2, alpha-3 and names, upper-cased."""
    text = resources.files("crm_analytics").joinpath("store/data/countries.csv").read_text("utf-8")
    pairs: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        a2 = row["alpha2"]
        for key in [a2, row["alpha3"], *row["names"].split("|")]:
            pairs.setdefault(key.strip().upper(), a2)
    return sorted(pairs.items())


@lru_cache(maxsize=1)
def country_regions() -> dict[str, str]:
    """Alpha-2 code -> broad sales region (EMEA, Americas, APAC).

    Examples
    --------
    >>> country_regions()["DE"], country_regions()["BR"], country_regions()["JP"]
    ('EMEA', 'Americas', 'APAC')
    """
    text = resources.files("crm_analytics").joinpath("store/data/countries.csv").read_text("utf-8")
    return {row["alpha2"]: row["region"] for row in csv.DictReader(text.splitlines())}
