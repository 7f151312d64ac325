"""Custom segments: named rules over customer scores, and the built-in segments.

Rule grammar
------------
A rule is a condition on one customer's scores. It is read by a small
hand-written tokenizer and recursive-descent parser (no ``eval``, no SQL text
from the user), then compiled to SQL whose every value is a bound parameter::

    rule       := or_expr
    or_expr    := and_expr ( "or" and_expr )*
    and_expr   := not_expr ( "and" not_expr )*
    not_expr   := "not" not_expr | "(" or_expr ")" | condition
    condition  := column op value                       op: = != < <= > >=
                | column [ "not" ] "in" "(" value ( "," value )* ")"
                | column [ "not" ] "in" ( "top" | "bottom" ) number "%"
                | column "is" [ "not" ] "null"
    value      := 'text' (a quote inside is written '') | number | true | false

Keywords are case-insensitive. ``column`` is a score or attribute column
(``clv``, ``risk_band``, ``region``, ...: every column of
:mod:`crm_analytics.store.score_columns`, see :data:`KNOWN_COLUMNS`); contact
details (name, e-mail, phone) cannot be used. Text columns take ``=``, ``!=``
and ``in``; numbers every operator and ``in top N%`` / ``in bottom N%``;
true/false columns ``=`` and ``!=``; dates (``created_at``) compare with a
``'YYYY-MM-DD'`` text. ``column in top 20%`` holds for the customers of whom
fewer than 20 % of all customers with a value rank higher (ties together).
A condition on a missing value is neither true nor false (SQL logic), so it
never selects the customer — not even under ``not``; use ``is null`` to select
missing values.

Examples::

    risk_band = 'high' and clv in top 20% and region = 'EMEA'
    churn_probability >= 0.5 and not (size_segment in ('Consumer', 'Unknown size'))
    nps_class = 'detractor' or complaints_365d > 2
    latest_nps is null and marketing_opt_in = true

Built-in segments
-----------------
Exportable by name without a definition: ``size:<size segment>`` (e.g.
``size:Large · Finance``), ``needs:<segment name or id>``, ``rfm:<cell>``
(e.g. ``rfm:Champions``), ``value:<tier>`` (e.g. ``value:Top 10%``) and
``risk:<band>`` (``risk:high``). The part after the colon is matched as plain
data against the segment column (case and surrounding spaces ignored).

Custom segment names match ``^[A-Za-z0-9][A-Za-z0-9 _\\-\\.]{0,63}$`` (letters,
digits, space, ``_ - .``; at most 64 characters) and are unique ignoring case.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError
from crm_analytics.segmentation.rfm import NO_PURCHASES, RFM_SEGMENTS
from crm_analytics.segmentation.value import DEFAULT_TIERS, UNKNOWN_TIER
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import latest_scores
from crm_analytics.store.score_columns import did_you_mean, score_column_names

__all__ = [
    "BUILTIN_KINDS",
    "ATTRIBUTE_PREFIX",
    "KNOWN_COLUMNS",
    "attribute_columns",
    "with_attributes",
    "CompiledRule",
    "Rule",
    "RuleError",
    "SegmentDefinition",
    "compile_rule",
    "define_segment",
    "delete_segment",
    "get_segment",
    "list_segments",
    "parse_rule",
    "segment_members",
]

# Contact details identify a person; rules select on behaviour and scores only.
_PRIVATE_COLUMNS = frozenset({"name", "email", "phone", "customer_id", "run_id"})
#: Columns a rule may use without a scores frame at hand: the score columns a run
#: writes (the registry, :mod:`crm_analytics.store.score_columns`) but contact details.
KNOWN_COLUMNS: tuple[str, ...] = tuple(c for c in score_column_names() if c not in _PRIVATE_COLUMNS)

#: Built-in segment kinds: prefix -> (column, closed vocabulary or None).
BUILTIN_KINDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "size": ("size_segment", None),
    "needs": ("needs_segment_name", None),
    "rfm": ("rfm_segment", (*RFM_SEGMENTS, NO_PURCHASES)),
    "value": ("value_tier", (*(name for name, _ in DEFAULT_TIERS), UNKNOWN_TIER)),
    "risk": ("risk_band", ("low", "medium", "high")),
}

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _\-\.]{0,63}$")
TABLE = "segment_definitions"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (name VARCHAR, rule VARCHAR, description VARCHAR, "
    "created_at TIMESTAMP, updated_at TIMESTAMP)"
)
MAX_RULE_LENGTH = 2000
MAX_DEPTH = 32
MAX_CONDITIONS = 100

_HELP = (
    "A rule is one or more conditions joined by and / or / not and parentheses:\n"
    "  column = 'text'   column != 'text'   column < 10   <=   >   >=\n"
    "  column in ('a', 'b')   column not in ('a', 'b')\n"
    "  column in top 20%   column in bottom 10%\n"
    "  column is null   column is not null\n"
    "Text in single quotes ('' for a quote), numbers like 42 or -0.5, true/false.\n"
    "Example: risk_band = 'high' and clv in top 20% and region = 'EMEA'"
)


class RuleError(InputError):
    """A segment rule or name outside the grammar; ``position`` is 0-based (or None)."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


def _fail(text: str, position: int, problem: str) -> RuleError:
    shown = text.replace("\n", " ").replace("\t", " ")
    caret = " " * position + "^"
    return RuleError(
        f"rule error at position {position + 1}: {problem}\n  {shown}\n  {caret}\n{_HELP}", position
    )


# --------------------------------------------------------------------------- tokenizer

_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "top", "bottom", "true", "false"})
_OPERATORS = ("<=", ">=", "!=", "=", "<", ">")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, keyword, op, string, number, '(', ')', ',', '%', '-', end
    value: Any
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if text.startswith("--", i) or text.startswith("/*", i) or ch == "#":
            raise _fail(text, i, "comments are not allowed in a rule")
        if ch == "'":
            i = _read_string(text, i, tokens)
            continue
        if ch == '"' or ch == "`":
            raise _fail(text, i, "text values go in single quotes, e.g. region = 'EMEA'")
        if ch in "(),%-":
            tokens.append(_Token(ch, ch, i))
            i += 1
            continue
        if text.startswith("==", i) or text.startswith("<>", i):
            raise _fail(text, i, "use = for equal and != for not equal")
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(_Token("op", op, i))
            i += len(op)
            continue
        m = _NUMBER.match(text, i) if ch.isascii() and ch.isdigit() else None
        if m:
            tokens.append(_Token("number", float(m.group()), i))
            i = m.end()
            continue
        m = _IDENT.match(text, i) if ch.isascii() else None
        if m:
            word = m.group()
            kind = "keyword" if word.lower() in _KEYWORDS else "ident"
            tokens.append(_Token(kind, word.lower() if kind == "keyword" else word, i))
            i = m.end()
            continue
        printable = ch if ch.isprintable() else f"U+{ord(ch):04X}"
        raise _fail(text, i, f"unexpected character {printable!r}")
    tokens.append(_Token("end", None, n))
    return tokens


def _read_string(text: str, start: int, tokens: list[_Token]) -> int:
    i, parts = start + 1, []
    while i < len(text):
        if text[i] == "'":
            if text.startswith("''", i):
                parts.append("'")
                i += 2
                continue
            tokens.append(_Token("string", "".join(parts), start))
            return i + 1
        if not text[i].isprintable() and text[i] not in " \t":
            raise _fail(text, i, f"control character U+{ord(text[i]):04X} inside a text value")
        parts.append(text[i])
        i += 1
    raise _fail(text, start, "text value without a closing quote (')")


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Condition:
    """One comparison: ``column op value``, ``in`` a list, ``in top/bottom``, ``is null``."""

    column: str
    op: str  # = != < <= > >= in not_in top bottom is_null is_not_null
    values: tuple[Any, ...] = ()
    position: int = 0


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of two or more parts, or ``not`` of one."""

    op: str
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Rule:
    """A parsed rule: its text, its syntax tree and the columns it uses."""

    text: str
    tree: Any
    columns: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return self.text


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.conditions = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def keyword(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def expect(self, kind: str, what: str) -> _Token:
        if self.tok.kind != kind:
            raise self.error(f"expected {what}")
        return self.take()

    def error(self, expected: str) -> RuleError:
        tok = self.tok
        found = "the end of the rule" if tok.kind == "end" else repr(
            self.text[tok.position:tok.position + 20].split()[0] if tok.kind != "string" else tok.value)
        return _fail(self.text, tok.position, f"{expected}, found {found}")

    def parse(self) -> Any:
        if self.tok.kind == "end":
            raise _fail(self.text, 0, "the rule is empty")
        tree = self.or_expr(0)
        if self.tok.kind != "end":
            raise self.error("expected and, or or the end of the rule")
        return tree

    def or_expr(self, depth: int) -> Any:
        parts = [self.and_expr(depth)]
        while self.keyword("or"):
            self.take()
            parts.append(self.and_expr(depth))
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_expr(self, depth: int) -> Any:
        parts = [self.not_expr(depth)]
        while self.keyword("and"):
            self.take()
            parts.append(self.not_expr(depth))
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_expr(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _fail(self.text, self.tok.position, f"more than {MAX_DEPTH} nested not / parentheses")
        if self.keyword("not"):
            self.take()
            return BoolOp("not", (self.not_expr(depth + 1),))
        if self.tok.kind == "(":
            self.take()
            inner = self.or_expr(depth + 1)
            self.expect(")", "')'")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _fail(self.text, self.tok.position, f"more than {MAX_CONDITIONS} conditions")
        if self.tok.kind != "ident":
            raise self.error("expected a column name (letters, digits and _)")
        col = self.take()
        if self.tok.kind == "op":
            op = self.take().value
            return Condition(col.value, op, (self.value(),), col.position)
        if self.keyword("is"):
            self.take()
            negated = self.keyword("not")
            if negated:
                self.take()
            if not self.keyword("null"):
                raise self.error("expected null after is / is not")
            self.take()
            return Condition(col.value, "is_not_null" if negated else "is_null", (), col.position)
        negated = self.keyword("not")
        if negated:
            self.take()
        if not self.keyword("in"):
            raise self.error("expected an operator (= != < <= > >), in, not in or is [not] null")
        self.take()
        if self.keyword("top", "bottom"):
            direction = self.take().value
            number = self.expect("number", "a percentage such as 20")
            if not 0 < number.value <= 100:
                raise _fail(self.text, number.position, "the percentage must be in (0, 100]")
            self.expect("%", "'%' after the percentage")
            cond = Condition(col.value, direction, (number.value,), col.position)
            return BoolOp("not", (cond,)) if negated else cond
        self.expect("(", "'(' to start a list, or top / bottom")
        values = [self.value()]
        while self.tok.kind == ",":
            self.take()
            values.append(self.value())
        self.expect(")", "',' or ')' to close the list")
        return Condition(col.value, "not_in" if negated else "in", tuple(values), col.position)

    def value(self) -> Any:
        tok = self.tok
        if tok.kind == "string":
            self.take()
            return tok.value
        if tok.kind == "-":
            self.take()
            return -self.expect("number", "a number after '-'").value
        if tok.kind == "number":
            self.take()
            return tok.value
        if self.keyword("true", "false"):
            self.take()
            return tok.value == "true"
        raise self.error("expected a value: 'text' in single quotes, a number, true or false")


def _conditions(tree: Any) -> Iterable[Condition]:
    if isinstance(tree, Condition):
        yield tree
    else:
        for part in tree.parts:
            yield from _conditions(part)


def parse_rule(text: str) -> Rule:
    """Parse a rule (see the module docstring for the grammar).

    Raises
    ------
    RuleError
        Anything outside the grammar, with the position and what is allowed.

    Examples
    --------
    >>> parse_rule("risk_band = 'high' and clv in top 20%").columns
    ('risk_band', 'clv')
    >>> parse_rule("clv > 1; DROP TABLE customers")
    Traceback (most recent call last):
    ...
    crm_analytics.segmentation.rules.RuleError: rule error at position 8: unexpected character ';'
    ...
    """
    if not isinstance(text, str):
        raise RuleError(f"a rule must be text. Got {type(text).__name__} instead.\n{_HELP}")
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(f"a rule has at most {MAX_RULE_LENGTH} characters; this one has {len(text)}")
    tree = _Parser(text).parse()
    columns = tuple(dict.fromkeys(c.column for c in _conditions(tree)))
    return Rule(text=text, tree=tree, columns=columns)


# --------------------------------------------------------------------------- compiling

_TEXT_OPS = {"=", "!=", "in", "not_in", "is_null", "is_not_null"}
_BOOL_OPS = {"=", "!=", "is_null", "is_not_null"}
_SQL_CAST = {"number": "DOUBLE", "text": "VARCHAR", "boolean": "BOOLEAN", "date": "TIMESTAMP"}


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if series.dtype == object:
        present = series.dropna()
        if len(present) and present.map(lambda v: isinstance(v, (bool, np.bool_))).all():
            return "boolean"
    return "text"


def _unknown_column(name: str, allowed: list[str]) -> str:
    """``unknown column 'x'`` with the closest allowed names, else all of them."""
    if name.lower() in _PRIVATE_COLUMNS:
        return f"unknown column {name!r} (contact details cannot be used in rules)"
    hint = did_you_mean(name, allowed) or "; the columns are: " + (", ".join(sorted(allowed)) or "(none)")
    return f"unknown column {name!r}{hint}"


def _resolve_column(name: str, allowed: list[str]) -> str | None:
    if name in allowed:
        return name
    folded = [c for c in allowed if c.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


#: Rules name a customer attribute (an extra column of the customers file, kept in
#: the store's ``customer_attributes``) as ``attr_<name>``, e.g. ``attr_contract``.
ATTRIBUTE_PREFIX = "attr_"


def attribute_columns(store: Any) -> list[str]:
    """The customer attributes a rule may use, as ``attr_<name>`` columns.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1"], "Contract": ["Two year"]}))
    >>> attribute_columns(store)
    ['attr_contract']
    """
    if not store.has_table("customer_attributes"):
        return []
    names = store.sql("SELECT DISTINCT name FROM customer_attributes ORDER BY name")["name"]
    return [ATTRIBUTE_PREFIX + str(n) for n in names]


def with_attributes(store: Any, scores: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``scores`` plus the ``attr_<name>`` columns among ``columns`` that it lacks.

    Values are the attribute text; an attribute whose every value reads as a
    number becomes numeric, so ``attr_tenure > 12`` compares numbers.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"], "Tenure": ["3", "40"]}))
    >>> scores = pd.DataFrame({"clv": [1.0, 2.0]}, index=pd.Index(["C1", "C2"], name="customer_id"))
    >>> with_attributes(store, scores, ["attr_tenure"])["attr_tenure"].tolist()
    [3, 40]
    """
    have = {str(c).lower() for c in scores.columns}
    wanted = list(dict.fromkeys(
        c.lower() for c in columns
        if c.lower().startswith(ATTRIBUTE_PREFIX) and c.lower() not in have))
    if not wanted or not store.has_table("customer_attributes"):
        return scores
    out = scores.copy()
    ids = out.index.astype(str)
    for column in wanted:
        rows = store.sql("SELECT customer_id, value FROM customer_attributes WHERE name = ?",
                         [column[len(ATTRIBUTE_PREFIX):]])
        values = rows.set_index("customer_id")["value"]
        numbers = pd.to_numeric(values, errors="coerce")
        if len(values) and numbers.notna().all():
            values = numbers
        out[column] = values.reindex(ids).to_numpy()
    return out


@dataclass(frozen=True)
class CompiledRule:
    """SQL over a ``scores`` CTE built from bound column arrays, and its parameters."""

    rule: Rule
    sql: str
    params: dict[str, Any]
    columns: dict[str, str]  # rule column -> scores column


def compile_rule(rule: Rule | str, scores: pd.DataFrame) -> CompiledRule:
    """Compile a rule to a query selecting ``customer_id`` from ``scores``.

    The SQL text holds only generated aliases (``c0``, ``c1``...) and parameter
    names; column data and literals are bound parameters.

    Examples
    --------
    >>> scores = pd.DataFrame({"clv": [5.0, 50.0]}, index=pd.Index(["C1", "C2"], name="customer_id"))
    >>> compiled = compile_rule("clv > 10", scores)
    >>> "clv" in compiled.sql, compiled.params["p0"]
    (False, 10.0)
    """
    rule = parse_rule(rule) if isinstance(rule, str) else rule
    allowed = [str(c) for c in scores.columns if str(c) not in _PRIVATE_COLUMNS]
    resolved: dict[str, str] = {}  # column as written in the rule -> scores column
    alias_of: dict[str, str] = {}  # scores column -> generated SQL alias
    for cond in _conditions(rule.tree):
        column = _resolve_column(cond.column, allowed)
        if column is None:
            raise _fail(rule.text, cond.position, _unknown_column(cond.column, allowed))
        resolved[cond.column] = column
        alias_of.setdefault(column, f"c{len(alias_of)}")
    params: dict[str, Any] = {"ids": [str(i) for i in scores.index]}
    selects, ranks = ["CAST(unnest($ids) AS VARCHAR) AS customer_id"], []
    kinds: dict[str, str] = {}
    for column, alias in alias_of.items():
        kinds[alias] = _kind(scores[column])
        params[alias] = _column_values(scores[column], kinds[alias])
        selects.append(f"CAST(unnest(${alias}) AS {_SQL_CAST[kinds[alias]]}) AS {alias}")
    aliases = {written: alias_of[column] for written, column in resolved.items()}
    builder = _SqlBuilder(rule, aliases, kinds, params, ranks)
    where = builder.build(rule.tree)
    rank_sql = "".join(f", {r}" for r in dict.fromkeys(ranks))
    # Only generated aliases and parameter names reach the SQL text (see the docstring).
    sql = (
        f"WITH scores AS (SELECT {', '.join(selects)}), "  # noqa: S608
        f"ranked AS (SELECT *{rank_sql} FROM scores) "
        f"SELECT customer_id FROM ranked WHERE {where} ORDER BY customer_id"
    )
    return CompiledRule(rule=rule, sql=sql, params=params, columns=resolved)


def _column_values(series: pd.Series, kind: str) -> list[Any]:
    if kind == "date":
        values = pd.to_datetime(series, errors="coerce", utc=True).dt.tz_localize(None)
        return [None if pd.isna(v) else v.to_pydatetime() for v in values]
    if kind == "number":
        values = pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
        return [None if np.isnan(v) else float(v) for v in values]
    if kind == "boolean":
        return [None if pd.isna(v) else bool(v) for v in series.astype(object)]
    return [None if pd.isna(v) else str(v) for v in series.astype(object)]


class _SqlBuilder:
    def __init__(self, rule: Rule, aliases: dict[str, str], kinds: dict[str, str],
                 params: dict[str, Any], ranks: list[str]):
        self.rule, self.aliases, self.kinds, self.params, self.ranks = rule, aliases, kinds, params, ranks
        self.n = 0

    def bind(self, value: Any) -> str:
        name = f"p{self.n}"
        self.n += 1
        self.params[name] = value
        return f"${name}"

    def build(self, tree: Any) -> str:
        if isinstance(tree, BoolOp):
            if tree.op == "not":
                return f"(NOT {self.build(tree.parts[0])})"
            joiner = " AND " if tree.op == "and" else " OR "
            return "(" + joiner.join(self.build(p) for p in tree.parts) + ")"
        return self.condition(tree)

    def literal(self, cond: Condition, kind: str, value: Any) -> Any:
        ok = {
            "number": isinstance(value, float),
            "text": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "date": isinstance(value, str),
        }[kind]
        if not ok:
            example = {"number": f"{cond.column} > 100", "text": f"{cond.column} = 'EMEA'",
                       "boolean": f"{cond.column} = true",
                       "date": f"{cond.column} >= '2024-01-01'"}[kind]
            raise _fail(self.rule.text, cond.position,
                        f"{cond.column} holds {kind} values; compare it like: {example}")
        if kind == "date":
            try:
                return pd.Timestamp(value).to_pydatetime()
            except (ValueError, TypeError):
                raise _fail(self.rule.text, cond.position,
                            f"{value!r} is not a date; write dates as 'YYYY-MM-DD'") from None
        return value

    def condition(self, cond: Condition) -> str:
        alias, kind = self.aliases[cond.column], self.kinds[self.aliases[cond.column]]
        if cond.op == "is_null":
            return f"({alias} IS NULL)"
        if cond.op == "is_not_null":
            return f"({alias} IS NOT NULL)"
        allowed_ops = {"text": _TEXT_OPS, "boolean": _BOOL_OPS}.get(kind)
        if allowed_ops is not None and cond.op not in allowed_ops:
            shown = {"top": "in top", "bottom": "in bottom", "not_in": "not in"}.get(cond.op, cond.op)
            raise _fail(self.rule.text, cond.position,
                        f"{cond.column} holds {kind} values; '{shown}' needs numbers. "
                        f"Use {', '.join(sorted(o for o in allowed_ops if '_' not in o))}"
                        + (" or in (...)" if kind == "text" else ""))
        if cond.op in ("top", "bottom"):
            order = "DESC" if cond.op == "top" else "ASC"
            share = f"{alias}_{cond.op}"
            # Generated alias and a fixed keyword only: no rule text reaches the SQL.
            rank = f"RANK() OVER (ORDER BY {alias} {order} NULLS LAST)"
            count = f"(SELECT COUNT({alias}) FROM scores)"  # noqa: S608
            self.ranks.append(
                f"CASE WHEN {alias} IS NULL THEN NULL ELSE ({rank} - 1) * 1.0 / {count} END AS {share}"
            )
            return f"({share} < {self.bind(cond.values[0] / 100.0)})"
        if cond.op in ("in", "not_in"):
            marks = ", ".join(self.bind(self.literal(cond, kind, v)) for v in cond.values)
            return f"({alias} {'NOT IN' if cond.op == 'not_in' else 'IN'} ({marks}))"
        return f"({alias} {cond.op} {self.bind(self.literal(cond, kind, cond.values[0]))})"


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentDefinition:
    """A segment by name: a custom rule or a built-in ``kind:value``."""

    name: str
    kind: str  # "custom" or a BUILTIN_KINDS prefix
    definition: str  # the rule text, or e.g. "size_segment = 'Large · Finance'"
    description: str = ""
    created_at: Any = None
    updated_at: Any = None

    @property
    def is_builtin(self) -> bool:
        return self.kind != "custom"


def check_segment_name(name: Any) -> str:
    """Return ``name`` if it is a valid custom segment name, else raise :class:`RuleError`.

    Examples
    --------
    >>> check_segment_name("EMEA high risk")
    'EMEA high risk'
    >>> check_segment_name("x'; DROP TABLE customers; --")
    Traceback (most recent call last):
    ...
    crm_analytics.segmentation.rules.RuleError: invalid segment name "x'; DROP TABLE customers; --": ...
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name != name.strip():
        raise RuleError(
            f"invalid segment name {name!r}: use 1-64 characters, letters A-Z a-z, digits, space, "
            "_ - and ., starting with a letter or digit (e.g. 'EMEA high risk'); built-in "
            "segments are named kind:value, e.g. 'rfm:Champions'"
        )
    return name


def _builtin(name: str) -> tuple[str, str] | None:
    kind, sep, value = name.partition(":")
    if not sep:
        return None
    kind = kind.strip().lower()
    if kind not in BUILTIN_KINDS:
        raise RuleError(
            f"unknown built-in segment kind {kind!r} in {name!r}; use one of "
            f"{', '.join(k + ':<value>' for k in BUILTIN_KINDS)} (e.g. 'size:Large · Finance', "
            "'needs:3', 'rfm:Champions', 'value:Top 10%', 'risk:high')"
        )
    return kind, value.strip()


def define_segment(
    store: Any, name: str, rule: str, *, description: str = "",
    scores: pd.DataFrame | None = None,
) -> SegmentDefinition:
    """Save (or replace) a named custom segment.

    The rule is checked now: its syntax, and its columns against the score
    columns (:data:`KNOWN_COLUMNS`, from :mod:`crm_analytics.store.score_columns`)
    plus the columns of ``scores`` when given; an unknown column is refused with
    the closest names (``unknown column 'recency'; did you mean 'recency_weeks'
    or 'recency_days'?``).

    Parameters
    ----------
    store : Store
        A writable store; the table ``segment_definitions`` is created if needed.
    name : str
        See :func:`check_segment_name`. Upsert by name, ignoring case.
    rule : str
        See the module docstring.
    description : str, optional
    scores : DataFrame, optional
        Scores whose columns may be used besides :data:`KNOWN_COLUMNS`.

    Returns
    -------
    SegmentDefinition

    Examples
    --------
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> define_segment(store, "EMEA at risk", "risk_band = 'high' and region = 'EMEA'").definition
    "risk_band = 'high' and region = 'EMEA'"
    >>> list_segments(store)["name"].tolist()
    ['EMEA at risk']
    """
    check_segment_name(name)
    parsed = parse_rule(rule)
    extra = [str(c) for c in scores.columns] if scores is not None else []
    extra += attribute_columns(store)
    allowed = [c for c in dict.fromkeys([*KNOWN_COLUMNS, *extra]) if c not in _PRIVATE_COLUMNS]
    for cond in _conditions(parsed.tree):
        if _resolve_column(cond.column, allowed) is None:
            raise _fail(rule, cond.position, _unknown_column(cond.column, allowed))
    if not isinstance(description, str) or len(description) > 1000:
        raise InputError("description must be text of at most 1000 characters")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.execute(_DDL)
    # One MERGE statement: atomic alone and inside a caller's transaction alike.
    store.execute(load_query("segmentation/sql/upsert_segment_definition.sql"),
                  {"name": name, "rule": rule, "description": description, "now": now})
    return get_segment(store, name)


def delete_segment(store: Any, name: str) -> bool:
    """Delete a custom segment; True if it existed.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = define_segment(store, "Big spenders", "clv in top 10%")
    >>> delete_segment(store, "Big spenders"), delete_segment(store, "Big spenders")
    (True, False)
    """
    check_segment_name(name)
    if not store.has_table(TABLE):
        return False
    found = not store.sql(load_query("segmentation/sql/segment_definition.sql"), {"name": name}).empty
    store.execute(f"DELETE FROM {TABLE} WHERE lower(name) = lower(?)", [name])  # noqa: S608 - constant
    return found


def list_segments(store: Any) -> pd.DataFrame:
    """The custom segments: ``name``, ``rule``, ``description``, ``created_at``, ``updated_at``.

    Built-in segments (``size:``, ``needs:``, ``rfm:``, ``value:``, ``risk:``) need
    no definition and are not listed.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = define_segment(store, "EMEA at risk", "risk_band = 'high' and region = 'EMEA'")
    >>> list_segments(store)[["name", "rule"]].to_dict("records")
    [{'name': 'EMEA at risk', 'rule': "risk_band = 'high' and region = 'EMEA'"}]
    """
    columns = ["name", "rule", "description", "created_at", "updated_at"]
    if not store.has_table(TABLE):
        return pd.DataFrame(columns=columns)
    return store.sql(load_query("segmentation/sql/segment_definitions.sql"))[columns]


def get_segment(store: Any, name: str) -> SegmentDefinition:
    """The definition of a custom or built-in segment (raises if unknown).

    Examples
    --------
    >>> from crm_analytics import Store
    >>> get_segment(Store(":memory:"), "rfm:Champions").description
    'built-in rfm segment'
    """
    if not isinstance(name, str):
        raise RuleError(f"a segment name must be text. Got {type(name).__name__} instead.")
    builtin = _builtin(name)
    if builtin is not None:
        kind, value = builtin
        column = BUILTIN_KINDS[kind][0]
        if not value:
            raise RuleError(f"built-in segment {name!r} needs a value after ':', e.g. 'rfm:Champions'")
        shown = value.replace("'", "''")
        desc = f"built-in {kind} segment"
        if kind == "needs" and value.isdigit():
            return SegmentDefinition(name, kind, f"needs_segment = {int(value)}", desc)
        return SegmentDefinition(name, kind, f"{column} = '{shown}'", desc)
    check_segment_name(name)
    rows = pd.DataFrame()
    if store.has_table(TABLE):
        rows = store.sql(load_query("segmentation/sql/segment_definition.sql"), {"name": name})
    if rows.empty:
        known = list_segments(store)["name"].tolist()
        raise InputError(
            f"no segment called {name!r}; custom segments: {', '.join(known) or '(none)'}; "
            "built-in: size:<segment>, needs:<name or id>, rfm:<cell>, value:<tier>, risk:<band>"
        )
    row = rows.iloc[0]
    return SegmentDefinition(str(row["name"]), "custom", str(row["rule"]),
                             str(row["description"] or ""), row["created_at"], row["updated_at"])


def segment_members(
    store: Any, name: str, scores: pd.DataFrame | None = None
) -> pd.Index:
    """Customer ids in a custom or built-in segment, sorted.

    Parameters
    ----------
    store : Store
    name : str
        A custom segment name or a built-in ``kind:value`` (module docstring).
    scores : DataFrame, optional
        One row per customer (index ``customer_id``). Default: the latest
        successful run (``crm_analytics.scoring.run.latest_scores``).

    Returns
    -------
    Index
        ``customer_id`` values.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> scores = pd.DataFrame({"clv": [10.0, 900.0, 50.0], "risk_band": ["high", "high", "low"]},
    ...                       index=pd.Index(["C1", "C2", "C3"], name="customer_id"))
    >>> _ = define_segment(store, "valuable at risk", "risk_band = 'high' and clv in top 50%")
    >>> segment_members(store, "valuable at risk", scores).tolist()
    ['C2']
    >>> segment_members(store, "risk:high", scores).tolist()
    ['C1', 'C2']
    """
    definition = get_segment(store, name)
    if scores is None:
        scores = latest_scores(store)
    if definition.is_builtin:
        return _builtin_members(definition, scores)
    written = [cond.column for cond in _conditions(parse_rule(definition.definition).tree)]
    scores = with_attributes(store, scores, written)
    compiled = compile_rule(definition.definition, scores)
    ids = store.sql(compiled.sql, compiled.params)["customer_id"]
    return pd.Index(ids.astype(str).tolist(), name="customer_id", dtype=object)


def _builtin_members(definition: SegmentDefinition, scores: pd.DataFrame) -> pd.Index:
    kind, value = _builtin(definition.name)  # type: ignore[misc]
    column, vocabulary = BUILTIN_KINDS[kind]
    if kind == "needs" and value.isdigit():
        column = "needs_segment"
    if column not in scores.columns:
        raise InputError(
            f"segment {definition.name!r} needs the column {column} in the scores, which this "
            "run does not have (the step that computes it did not run)"
        )
    if column == "needs_segment":
        ids = pd.to_numeric(scores[column], errors="coerce")
        hit = ids == int(value)
        if not hit.any():
            known = ", ".join(str(int(i)) for i in sorted(ids.dropna().unique())) or "(none)"
            raise InputError(f"no needs segment {int(value)} in these scores; the ids are: {known}")
    else:
        present = scores[column].dropna().astype(str)
        key = value.casefold()
        hit = scores[column].astype(object).map(
            lambda v: isinstance(v, str) and v.strip().casefold() == key).astype(bool)
        allowed = vocabulary or tuple(sorted(present.unique()))
        if not hit.any() and key not in {a.casefold() for a in allowed}:
            raise InputError(
                f"no {kind} segment {value!r}; the {kind} segments are: {', '.join(allowed) or '(none)'}"
            )
    ids = scores.index[hit.fillna(False).to_numpy(dtype=bool)]
    return pd.Index(sorted(str(i) for i in ids), name="customer_id", dtype=object)
