"""Validated, idempotent, atomic loading of source rows into a canonical table.

The batch is staged as text in DuckDB, then typed, checked, ranked and matched
against the target in one set-based statement, and split into loaded rows,
rejected rows (kept in ``quarantine`` with the reason, the source and the
source row) and duplicates. The transaction log never passes through pandas.
The caller runs everything inside one transaction: a load that fails midway
leaves nothing of itself behind.

Row accounting always holds: ``rows_read = rows_loaded + rows_rejected + rows_duplicate``.
SQL here is built from identifiers in :mod:`crm_analytics.store.schema`; every value
that comes from the caller (paths, names, formats, constants) is a bound parameter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from crm_analytics.errors import InputError, MissingColumnsError, SourceError
from crm_analytics.store import derived
from crm_analytics.store.cleansing import (
    DEFAULT_DATE_FORMATS,
    EMAIL_PATTERN,
    clean_text,
    invalid_message,
    lit,
    q,
    register_functions,
    typed,
)
from crm_analytics.store.contact_lookup import CONTACT_LOOKUP
from crm_analytics.store.customer_days import CUSTOMER_DAYS
from crm_analytics.store.schema import CUSTOMER_KEY, CUSTOMER_KEY_SEQUENCE, CUSTOMERS, Table
from crm_analytics.store.sources import (
    WHITESPACE,
    Source,
    sample_lines,
    sniff_header,
    sniff_layout_delimiter,
    split_line,
)

log = logging.getLogger(__name__)

#: The tables the loader keeps derived from the canonical ones (crm_analytics.store.derived).
DERIVED_TABLES = (CUSTOMER_DAYS, CONTACT_LOOKUP)

CONVERTED_KINDS = ("number", "money", "int", "timestamp", "bool", "category")
# Lines DuckDB could not split: they have no columns to re-validate.
STRUCTURAL_CODES = ("malformed_row", "bad_encoding")


@dataclass
class LoadReport:
    """What one ``Store.load`` (or ``retry_rejects``) did.

    ``rows_read == rows_loaded + rows_rejected + rows_duplicate`` always holds.
    ``rows_updated`` (upserts) is part of ``rows_loaded``; ``reasons`` counts
    rejected and conflicting rows by reason code. ``ignored_columns`` are the
    source columns outside the contract; for customers they are kept in
    ``customer_attributes`` and listed again in ``attribute_columns``.
    """

    table: str
    sources: list[str]
    mode: str
    load_id: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_updated: int = 0
    customers_created: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    attribute_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        """True when read = loaded + rejected + duplicate."""
        return self.rows_read == self.rows_loaded + self.rows_rejected + self.rows_duplicate

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (for logs and JSON)."""
        return dict(self.__dict__)

    def __repr__(self) -> str:
        src = self.sources[0] if len(self.sources) == 1 else f"{len(self.sources)} sources"
        lines = [
            f"LoadReport({self.table} <- {src}, mode={self.mode})",
            f"  read {self.rows_read:,} = loaded {self.rows_loaded:,} + rejected "
            f"{self.rows_rejected:,} + duplicate {self.rows_duplicate:,}",
        ]
        if self.rows_updated:
            lines.append(f"  updated {self.rows_updated:,} existing rows (upsert)")
        if self.customers_created:
            lines.append(
                f"  created {self.customers_created:,} customers (unknown_customers='create')"
            )
        if self.reasons:
            ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            parts = ", ".join(f"{k} {v:,}" for k, v in ranked)
            lines.append(f"  reasons: {parts}  (see store.rejects({self.table!r}))")
        if self.attribute_columns:
            lines.append(
                f"  kept as attributes ({len(self.attribute_columns)}, see "
                f"customer_attributes): {', '.join(self.attribute_columns)}"
            )
        dropped = [c for c in self.ignored_columns if c not in self.attribute_columns]
        if dropped:
            lines.append(f"  ignored columns: {', '.join(dropped)}")
        lines.append(f"  {self.seconds:.2f} s")
        return "\n".join(lines)


def normalise_name(name: str) -> str:
    """Header spelling -> canonical spelling: 'Customer ID' -> 'customer_id'.

    Examples
    --------
    >>> normalise_name(" Transaction-Date ")
    'transaction_date'
    """
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def map_columns(
    found: list[str], table: Table, column_map: dict[str, str] | None,
    constants: dict[str, Any], source: str,
) -> tuple[dict[str, str], list[str]]:
    """Return ({canonical: source column}, ignored source columns) or raise.

    Examples
    --------
    >>> from crm_analytics.store.schema import CUSTOMERS
    >>> map_columns(["Customer ID", "Mail", "x"], CUSTOMERS, {"Mail": "email"}, {}, "c.csv")
    ({'email': 'Mail', 'customer_id': 'Customer ID'}, ['x'])
    """
    column_map = dict(column_map or {})
    canonical = table.column_names
    for src, dst in column_map.items():
        if dst not in canonical:
            raise InputError(
                f"column_map maps {src!r} to {dst!r}, which is not a column of {table.name}; "
                f"its columns are: {', '.join(canonical)}"
            )
    mapping: dict[str, str] = {}
    # A map key names a source column exactly or after normalisation: 'Order No'
    # also matches 'order_no', 'ORDER NO' or ' Order No' (a header with blanks).
    by_norm: dict[str, str] = {}
    for col in found:
        by_norm.setdefault(normalise_name(col), col)
    mapped: set[str] = set()
    for src, dst in column_map.items():
        col = src if src in found else by_norm.get(normalise_name(src))
        if col is not None:
            mapping[dst] = col
            mapped.add(col)
    for col in found:
        norm = normalise_name(col)
        if col in mapped or norm not in canonical or norm in mapping:
            continue
        mapping[norm] = col
    missing = [c for c in table.required if c not in mapping and c not in constants]
    if missing:
        example = ", ".join(f"'<your column>': '{m}'" for m in missing[:2])
        unmatched = [k for k in column_map if k not in found
                     and normalise_name(k) not in by_norm]
        note = (f" (column_map key(s) {', '.join(map(repr, unmatched))} match no column)"
                if unmatched else "")
        raise MissingColumnsError(
            f"{source}: missing required column(s) {', '.join(missing)} for table "
            f"'{table.name}'; found columns: {', '.join(map(str, found)) or '(none)'}{note}. "
            f"Rename them or pass column_map={{{example}}}",
            missing=missing,
            found=[str(f) for f in found],
        )
    used = set(mapping.values())
    return mapping, [str(c) for c in found if c not in used]


def _params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the named parameters the statement uses (DuckDB rejects unused ones)."""
    return {k: v for k, v in params.items() if re.search(r"\$" + k + r"\b", sql)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return re.sub(r"^[A-Za-z ]+Error: ", "", first)


def check_delimiter(delimiter: str | None) -> str | None:
    """A delimiter option as the reader needs it: one character, or 'whitespace'.

    Examples
    --------
    >>> [check_delimiter(d) for d in (";", "tab", "WHITESPACE")]
    [';', '\\t', 'whitespace']
    """
    if delimiter is None:
        return None
    if not isinstance(delimiter, str):
        raise InputError(f"delimiter must be text; got {type(delimiter).__name__}")
    aliases = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
               "space": " ", WHITESPACE: WHITESPACE}
    value = aliases.get(delimiter.lower(), delimiter)
    if value != WHITESPACE and len(value) != 1:
        raise InputError(
            f"delimiter must be one character (e.g. ',', ';', '|'), '\\t' or 'whitespace' "
            f"(runs of spaces/tabs); got {delimiter!r}"
        )
    if value in ('"', "\n", "\r", "\x00"):
        raise InputError(f"delimiter {delimiter!r} cannot separate fields; pick another character")
    return value


def check_column_names(names: list[str] | str | None) -> list[str] | None:
    """``column_names`` as a list of distinct, non-empty names (a string: comma-separated)."""
    if names is None:
        return None
    if isinstance(names, str):
        names = names.split(",")
    out = [str(n).strip() for n in names]
    if not out or any(not n for n in out):
        raise InputError(f"column_names must be non-empty names, one per column; got {names!r}")
    dupes = sorted({n for n in out if out.count(n) > 1})
    if dupes:
        raise InputError(f"column_names repeats {', '.join(dupes)}; give each column its own name")
    return out


def _layout(delim: str | None, rows: list[list[str]]) -> str:
    width = len(rows[0]) if rows else 0
    how = {None: "as one column", WHITESPACE: "as whitespace-separated",
           "\t": "tab-separated"}.get(delim, f"separated by {delim!r}")
    return f"{width} field(s) {how}" if delim else "as one column"


def _suggest_names(width: int, table: Any) -> list[str]:
    return (table.required + [c for c in table.column_names if c not in table.required])[:width]


def _layout_hint(src: Source, delim: str | None, rows: list[list[str]]) -> str:
    """Why the columns may not match: the file's layout, and the option that fixes it."""
    lines = sample_lines(src.head)
    if not lines:
        return ""
    first = lines[0].strip()
    if rows and len(rows[0]) == 1:
        if len(first.split()) >= 2:
            return (f". The file has 1 column {first[:60]!r} — it looks whitespace-separated: "
                    "pass delimiter='whitespace' (CLI --delimiter whitespace)")
        return (f". The file was read as 1 column ({first[:60]!r}); if its fields are separated "
                "by another character, pass delimiter= (CLI --delimiter)")
    if sniff_header(rows, set()) is False:
        return (f". Line 1 ({first[:60]!r}) looks like data, not a header: pass header=False and "
                "column_names=[...] (CLI --no-header --columns a,b,c)")
    return ""


class Loader:
    """One load into one table, on a connection whose transaction the caller owns."""

    #: Insert each batch ordered by (customer_key, date), so that per-customer queries
    #: read few row groups. Off only to measure what it costs (load_transactions.py).
    order_inserts: bool = True

    def __init__(
        self, con: duckdb.DuckDBPyConnection, table: Table, *, mode: str = "append",
        date_format: str | list[str] | None = None, constants: dict[str, Any] | None = None,
        unknown_customers: str = "reject", encoding: str | None = None,
        delimiter: str | None = None, header: bool | None = None,
        column_names: list[str] | str | None = None, key: str | None = None,
    ):
        if mode not in ("append", "upsert"):
            raise InputError(f"mode must be 'append' or 'upsert'; got {mode!r}")
        if unknown_customers not in ("reject", "create"):
            raise InputError(
                f"unknown_customers must be 'reject' or 'create'; got {unknown_customers!r}"
            )
        constants = dict(constants or {})
        for name in constants:
            if name not in table.column_names:
                raise InputError(
                    f"constants names {name!r}, which is not a column of {table.name}; "
                    f"its columns are: {', '.join(table.column_names)}"
                )
        formats = [date_format] if isinstance(date_format, str) else list(date_format or [])
        self.delimiter = check_delimiter(delimiter)
        if header not in (None, True, False):
            raise InputError(f"header must be True, False or None (sniff); got {header!r}")
        self.header = header
        self.column_names = check_column_names(column_names)
        if key not in (None, "row"):
            raise InputError(f"key must be 'row' (derive the key from the row) or None; got {key!r}")
        if key == "row" and not table.references_customers:
            raise InputError(
                f"key='row' derives a key for rows that have none; {table.name} needs its own "
                f"{table.key} column"
            )
        self.key = key
        self.con = con
        register_functions(con)  # contact normalisation (NFKC) used by typed() for e-mail/phone
        self.table = table
        self.mode = mode
        self.constants = constants
        self.unknown_customers = unknown_customers
        self.encoding = encoding
        self.load_id = uuid.uuid4().hex[:12]
        self.params: dict[str, Any] = {
            "date_formats": formats + DEFAULT_DATE_FORMATS,
            "now": datetime.now(UTC).replace(tzinfo=None),
            "load_id": self.load_id,
            "table": table.name,
        }
        self.present: set[str] = {table.key}
        self.ignored: list[str] = []
        # Columns of a customers source outside the contract, kept in customer_attributes.
        self.attrs = table is CUSTOMERS
        self.attr_names: list[str] = []
        self.attr_columns: list[str] = []
        self.source_names: list[str] = []
        self.created = 0
        self._column_map: dict[str, str] | None = None

    # -- helpers -------------------------------------------------------------------------
    def sql(self, statement: str, params: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        merged = {**self.params, **(params or {})}
        t0 = time.perf_counter()
        cur = self.con.execute(statement, _params(statement, merged))
        log.debug("%.2fs %s", time.perf_counter() - t0, " ".join(statement.split())[:90])
        return cur

    def scalar(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        return self.sql(statement, params).fetchone()[0]

    @property
    def cols(self) -> list[str]:
        return self.table.column_names

    # -- staging -------------------------------------------------------------------------
    def create_staging(self) -> None:
        col_defs = ", ".join(f"{q(c)} VARCHAR" for c in self.cols)
        attrs = ", _attrs MAP(VARCHAR, VARCHAR)" if self.attrs else ""
        self.sql(
            "CREATE OR REPLACE TEMP TABLE _crm_raw "
            f"(_src_no INTEGER, _source VARCHAR, _row BIGINT, {col_defs}{attrs})"
        )
        self.sql(
            "CREATE OR REPLACE TEMP TABLE _crm_bad (_source VARCHAR, _row BIGINT, "
            "reason_code VARCHAR, reason VARCHAR, raw VARCHAR)"
        )

    def _select_list(
        self, mapping: dict[str, str], extra: list[str] | None = None,
        ref: dict[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The staged columns as SQL; ``ref`` gives the expression of a source
        column (positional reads), else the quoted name; ``extra`` are the source
        columns kept as attributes (customers)."""
        ref = ref or {}
        exprs, params = [], {}
        for i, c in enumerate(self.cols):
            if c in mapping:
                exprs.append(f"CAST({ref.get(mapping[c], q(mapping[c]))} AS VARCHAR)")
            elif c in self.constants:
                exprs.append(f"CAST($const_{i} AS VARCHAR)")
                params[f"const_{i}"] = str(self.constants[c])
            else:
                exprs.append("CAST(NULL AS VARCHAR)")
        if self.attrs:
            keys, values = [], []
            for j, col in enumerate(extra or []):
                name = normalise_name(col) or f"column_{j + 1}"
                if name in keys:  # two headers with one normalised name: the first wins
                    continue
                params[f"attr_{j}"] = name
                keys.append(name)
                values.append(f"CAST({ref.get(col, q(col))} AS VARCHAR)")
            if keys:
                exprs.append(
                    "map([" + ", ".join(f"$attr_{j}" for j, col in enumerate(extra or [])
                                        if f"attr_{j}" in params) + "], ["
                    + ", ".join(values) + "])"
                )
                self.attr_names.extend(k for k in keys if k not in self.attr_names)
            else:
                exprs.append("CAST(NULL AS MAP(VARCHAR, VARCHAR))")
        return ", ".join(exprs), params

    def _register_mapping(self, found: list[str], name: str) -> dict[str, str]:
        return self._mapping_and_extra(found, name)[0]

    def _mapping_and_extra(self, found: list[str], name: str) -> tuple[dict[str, str], list[str]]:
        """({canonical: source column}, source columns kept as attributes)."""
        present = dict(self.constants)
        if self.key == "row":
            present[self.table.key] = None
        mapping, ignored = map_columns(found, self.table, self._column_map, present, name)
        if self.key == "row" and self.table.key in mapping:
            raise InputError(
                f"{name}: has a {self.table.key} column ({mapping[self.table.key]!r}); "
                "load it without key='row' (CLI --key row) to use it"
            )
        self.present.update(mapping)
        self.present.update(self.constants)
        # ignored_columns keeps listing every column outside the contract (as before);
        # for customers they are also kept, as attributes (attribute_columns).
        self.ignored.extend(c for c in ignored if c not in self.ignored)
        if self.attrs:
            self.attr_columns.extend(c for c in ignored if c not in self.attr_columns)
            return mapping, ignored
        return mapping, []

    def stage(self, sources: list[Source], column_map: dict[str, str] | None) -> None:
        self._column_map = column_map
        self.create_staging()
        for no, src in enumerate(sources):
            self.source_names.append(src.name)
            if src.kind == "frame":
                self._stage_frame(no, src)
            elif src.kind == "parquet":
                self._stage_parquet(no, src)
            else:
                self._stage_csv(no, src)

    def _stage_frame(self, no: int, src: Source) -> None:
        frame = src.frame
        assert frame is not None
        found = [str(c) for c in frame.columns]
        if len(set(found)) != len(found):
            dupes = sorted({c for c in found if found.count(c) > 1})
            raise InputError(f"{src.name}: repeated column name(s) {', '.join(dupes)}")
        mapping, extra = self._mapping_and_extra(found, src.name)
        # The position column is explicit so that source rows are exact.
        view = frame.set_axis(found, axis=1).reset_index(drop=True)
        view = view.assign(__crm_pos=range(len(view)))
        for canonical, col in mapping.items():
            # pandas turns an id column with gaps into floats (101 -> 101.0); the id is 101.
            if self.table.column(canonical).kind == "id" and pd.api.types.is_float_dtype(view[col]):
                values = view[col].dropna()
                if np.isfinite(values).all() and (values == np.floor(values)).all():
                    view[col] = view[col].astype("Int64")
        select, params = self._select_list(mapping, extra)
        # Every value is staged as DuckDB's text of it: floats as their shortest
        # round-trip text (as Python's repr: 0.1 stays '0.1'), Python ints and
        # Decimals exactly, so typing the text afterwards never loses digits.
        try:
            self.con.register("_crm_frame", view)
            self.sql(
                f"INSERT INTO _crm_raw SELECT $no, $name, __crm_pos, {select} FROM _crm_frame",
                {"no": no, "name": src.name, **params},
            )
        except duckdb.Error as exc:
            raise SourceError(
                f"{src.name}: a column cannot be read as values ({_first_line(exc)}); "
                "convert the DataFrame's columns to text or numbers first"
            ) from None
        finally:
            with contextlib.suppress(duckdb.Error):
                self.con.unregister("_crm_frame")

    def _stage_parquet(self, no: int, src: Source) -> None:
        try:
            found = [
                r[0] for r in self.sql(
                    "DESCRIBE SELECT * FROM read_parquet($path)", {"path": src.scan_path}
                ).fetchall()
            ]
        except duckdb.Error as exc:
            raise SourceError(f"{src.name}: cannot be read as Parquet ({_first_line(exc)})") from None
        mapping, extra = self._mapping_and_extra(found, src.name)
        select, params = self._select_list(mapping, extra)
        self.sql(
            f"INSERT INTO _crm_raw SELECT $no, $name, file_row_number, {select} "
            "FROM read_parquet($path, file_row_number=true)",
            {"no": no, "name": src.name, "path": src.scan_path, **params},
        )

    def _known_names(self) -> set[str]:
        known = set(self.cols)
        known.update(normalise_name(k) for k in (self._column_map or {}))
        known.update(normalise_name(k) for k in self.column_names or [])
        known.discard("")
        return known

    def _stage_csv(self, no: int, src: Source) -> None:
        """Stage a CSV/text file: sniff (or take) its delimiter and header line."""
        lines = sample_lines(src.head, self.encoding)
        known = self._known_names()
        delim = self.delimiter or sniff_layout_delimiter(lines, known) or src.delimiter
        rows = [split_line(ln, delim) if delim else [ln] for ln in lines]
        header = self.header
        if header is None:
            header = sniff_header(rows, known) if rows else True
            if header is None:
                if self.column_names:
                    raise InputError(
                        f"{src.name}: cannot tell whether line 1 ({lines[0][:60]!r}) is a header "
                        "or data; pass header=True or header=False (CLI --header / --no-header)"
                    )
                header = True
        if not header and not self.column_names:
            raise InputError(
                f"{src.name}: has no header line (line 1 is data: {lines[0][:60]!r}, read "
                f"{_layout(delim, rows)}); name its columns with column_names=[...] "
                "(CLI --columns a,b,c), e.g. "
                f"column_names={_suggest_names(len(rows[0]) if rows else 1, self.table)}"
            )
        if delim == WHITESPACE or self.column_names:
            names = self.column_names or (rows[0] if rows else [])
            width = len(rows[0]) if rows else len(names)
            if len(names) != width:
                raise InputError(
                    f"{src.name}: column_names has {len(names)} name(s) but line 1 has {width} "
                    f"field(s) ({_layout(delim, rows)}: {', '.join(map(repr, rows[0][:8]))}); "
                    "give one name per column"
                )
            if delim == WHITESPACE:
                self._stage_whitespace(no, src, names, header=header)
            else:
                self._stage_positional(no, src, delim, names, header=header)
            return
        try:
            self._stage_csv_header(no, src, delim)
        except MissingColumnsError as exc:
            raise MissingColumnsError(
                str(exc) + _layout_hint(src, delim, rows), missing=exc.missing, found=exc.found,
            ) from None

    def _csv_options(self, delim: str | None) -> tuple[str, dict[str, Any]]:
        # Quoting is RFC 4180's (double quotes, doubled to escape). DuckDB's sniffer
        # may otherwise pick the apostrophe as the quote character and turn a name
        # such as ''  or 'Bob' into something else (found by the loader property test).
        opts = "all_varchar=true, store_rejects=true, quote='\"', escape='\"'"
        if delim:
            opts += ", delim=$delim"
        if self.encoding:
            opts += ", encoding=$encoding"
        return opts, {"encoding": self.encoding, "delim": delim}

    def _stage_positional(
        self, no: int, src: Source, delim: str | None, names: list[str], *, header: bool,
    ) -> None:
        """A CSV file read by position: the columns get our own names (_c0, _c1, ...)."""
        mapping, extra = self._mapping_and_extra(names, src.name)
        ref = {name: q(f"_c{i}") for i, name in enumerate(names)}
        select, params = self._select_list(mapping, extra, ref)
        opts, p = self._csv_options(delim)
        self.sql("DROP TABLE IF EXISTS _crm_csv_rej")
        self.sql("DROP TABLE IF EXISTS _crm_csv_scan")
        try:
            self.sql(
                f"INSERT INTO _crm_raw SELECT $no, $name, row_number() OVER () + $skip, {select} "
                f"FROM read_csv($path, {opts}, header=$header, names=$names, "
                "rejects_table='_crm_csv_rej', rejects_scan='_crm_csv_scan')",
                {"no": no, "name": src.name, "path": src.scan_path, "skip": int(header),
                 "header": header, "names": [f"_c{i}" for i in range(len(names))], **p, **params},
            )
        except duckdb.Error as exc:
            raise SourceError(f"{src.name}: cannot be read as CSV ({_first_line(exc)})") from None
        self._divert_csv_rejects(no, src)

    def _stage_whitespace(self, no: int, src: Source, names: list[str], *, header: bool) -> None:
        """A file whose fields are separated by runs of blanks (CDNOW and friends).

        DuckDB's CSV reader splits on one delimiter, so each line is read whole
        and split in SQL (set-based: no Python per row). A line with another
        number of fields is quarantined as ``malformed_row``; blank lines are
        skipped (as the CSV reader does); line numbers stay the file's.
        """
        mapping, extra = self._mapping_and_extra(names, src.name)
        ref = {name: f"_f[{i + 1}]" for i, name in enumerate(names)}
        select, params = self._select_list(mapping, extra, ref)
        enc = ", encoding=$encoding" if self.encoding else ""
        try:
            self.sql(
                "CREATE OR REPLACE TEMP TABLE _crm_lines AS "
                "SELECT _line, _text, regexp_split_to_array(trim(_text, $blanks), '[ \t]+') AS _f "
                "FROM (SELECT row_number() OVER () AS _line, line AS _text "
                f"      FROM read_csv($path, header=false, columns={{'line': 'VARCHAR'}}, "
                f"                    delim=$nul, quote='', escape='', auto_detect=false{enc})) "
                "WHERE _line > $skip AND trim(coalesce(_text, ''), $blanks) <> ''",
                {"path": src.scan_path, "nul": "\x00", "skip": int(header),
                 "blanks": " \t\r\u00a0", "encoding": self.encoding},
            )
        except duckdb.Error as exc:
            raise SourceError(
                f"{src.name}: cannot be read as whitespace-separated text ({_first_line(exc)})"
            ) from None
        self.sql(
            f"INSERT INTO _crm_raw SELECT $no, $name, _line, {select} FROM _crm_lines "
            "WHERE len(_f) = $width",
            {"no": no, "name": src.name, "width": len(names), **params},
        )
        self.sql(
            "INSERT INTO _crm_bad SELECT $name, _line, 'malformed_row', "
            "'line has ' || len(_f) || ' whitespace-separated field(s), expected ' || $width, "
            "to_json(struct_pack(line := _text)) FROM _crm_lines WHERE len(_f) <> $width",
            {"name": src.name, "width": len(names)},
        )
        self.sql("DROP TABLE _crm_lines")

    def _stage_csv_header(self, no: int, src: Source, delim: str | None) -> None:
        opts, p = self._csv_options(delim)
        opts += ", header=true"
        p["path"] = src.scan_path
        try:
            # store_rejects also while sniffing: a few ragged lines must not mislead it.
            found = [
                r[0] for r in self.sql(
                    f"DESCRIBE SELECT * FROM read_csv($path, {opts}, "
                    "rejects_table='_crm_csv_rej0', rejects_scan='_crm_csv_scan0')", p,
                ).fetchall()
            ]
        except duckdb.Error as exc:
            raise SourceError(f"{src.name}: cannot be read as CSV ({_first_line(exc)})") from None
        mapping, extra = self._mapping_and_extra(found, src.name)
        select, params = self._select_list(mapping, extra)
        self.sql("DROP TABLE IF EXISTS _crm_csv_rej")
        self.sql("DROP TABLE IF EXISTS _crm_csv_scan")
        try:
            # row_number() OVER () is order-preserving (a streaming window); rows are
            # numbered as lines, the header being line 1. Lines DuckDB cannot split
            # go to the rejects table and are accounted for below.
            self.sql(
                f"INSERT INTO _crm_raw SELECT $no, $name, row_number() OVER () + 1, {select} "
                f"FROM read_csv($path, {opts}, "
                "rejects_table='_crm_csv_rej', rejects_scan='_crm_csv_scan')",
                {"no": no, "name": src.name, **p, **params},
            )
        except duckdb.Error as exc:
            raise SourceError(f"{src.name}: cannot be read as CSV ({_first_line(exc)})") from None
        self._divert_csv_rejects(no, src)

    def _divert_csv_rejects(self, no: int, src: Source) -> None:
        """Account for the lines DuckDB could not split (they go to ``_crm_bad``)."""
        if not self.scalar("SELECT count(*) FROM _crm_csv_rej"):
            return
        self.sql(
            """
            INSERT INTO _crm_bad
            SELECT $name, line,
                   CASE WHEN bool_or(error_type = 'INVALID ENCODING') THEN 'bad_encoding'
                        ELSE 'malformed_row' END,
                   CASE WHEN bool_or(error_type = 'INVALID ENCODING')
                        THEN 'line is not valid UTF-8 (re-save the file as UTF-8 or pass encoding=)'
                        ELSE 'line cannot be split into the header''s columns: '
                             || first(error_message ORDER BY column_idx) END,
                   to_json(struct_pack(line := first(csv_line)))
            FROM _crm_csv_rej GROUP BY line
            """,
            {"name": src.name},
        )
        # Every diverted line before a row shifts its line number by one.
        self.sql(
            """
            UPDATE _crm_raw SET _row = _row + (
                SELECT count(*) FROM (
                    SELECT line - 1 - row_number() OVER (ORDER BY line) AS good_before
                    FROM (SELECT DISTINCT line FROM _crm_csv_rej)
                ) r WHERE r.good_before < _crm_raw._row - 1)
            WHERE _src_no = $no
            """,
            {"no": no},
        )

    def stage_from_quarantine(self) -> None:
        """Stage the table's retryable rejects from their stored raw values."""
        self.create_staging()
        cols = ", ".join(f"json_extract_string(raw, {lit('$.' + c)})" for c in self.cols)
        where = (
            "table_name = $table AND kind = 'rejected' AND reason_code NOT IN "
            + "(" + ", ".join(lit(c) for c in STRUCTURAL_CODES) + ")"
        )
        if self.attrs:  # attributes kept with a rejected customer come back with it
            cols += (", CASE WHEN json_exists(raw, '$._attributes') THEN "
                     "CAST(json_extract(raw, '$._attributes') AS MAP(VARCHAR, VARCHAR)) END")
        self.sql(
            f"INSERT INTO _crm_raw SELECT 0, source, source_row, {cols} "  # noqa: S608
            f"FROM quarantine WHERE {where}"
        )
        # Retried rows leave the quarantine; those still failing return with fresh reasons.
        self.sql(f"DELETE FROM quarantine WHERE {where}")  # noqa: S608
        counts = self.sql(
            "SELECT " + ", ".join(f"count({q(c)})" for c in self.cols) + " FROM _crm_raw"  # noqa: S608
        ).fetchone()
        self.present.update(c for c, n in zip(self.cols, counts, strict=True) if n)
        if self.attrs:
            self.attr_names = [r[0] for r in self.sql(
                "SELECT DISTINCT unnest(map_keys(_attrs)) FROM _crm_raw ORDER BY 1").fetchall()]
        self.source_names = [
            r[0] for r in self.sql("SELECT DISTINCT _source FROM _crm_raw ORDER BY 1").fetchall()
        ]

    def derive_keys(self) -> None:
        """``key='row'``: give each staged row a key derived from its own values.

        The key is ``'r'`` + the first 20 hex digits of the MD5 of the row's
        values as read (the mapped columns, as JSON) + ``'-'`` + the occurrence
        of that identical row in its file (1 for the first). It depends only on
        the file's content: loading the file again, from another path or name,
        yields the same keys (all duplicates: nothing changes), while repeated
        identical lines in one file stay separate rows. An identical row in two
        different files gets the same key (the second counts as a duplicate).
        """
        key = q(self.table.key)
        values = "to_json([" + ", ".join(q(c) for c in self.cols if c != self.table.key) + "])"
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE _crm_raw AS
            SELECT * REPLACE ('r' || left(md5(_h), 20) || '-' || CAST(row_number() OVER (
                       PARTITION BY _source, _h ORDER BY _row) AS VARCHAR) AS {key})
            FROM (SELECT *, CAST({values} AS VARCHAR) AS _h FROM _crm_raw)
            """  # noqa: S608 - identifiers from schema.py
        )
        self.sql("ALTER TABLE _crm_raw DROP COLUMN _h")
        self.present.add(self.table.key)

    # -- validation ----------------------------------------------------------------------
    def checks(self) -> list[tuple[str, str, str]]:
        """(reason_code, condition, message expression), most specific first.

        Conditions see typed values as ``"col"`` and cleaned text as ``"col__c"``.
        """
        t = self.table
        out: list[tuple[str, str, str]] = [
            ("missing_key", f"{q(t.key)} IS NULL", lit(f"missing {t.key}"))
        ]
        for c in t.columns:
            name, clean = q(c.name), q(c.name + "__c")
            prefix = lit(c.name + " ")
            if c.required and c.name != t.key:
                out.append(("missing_value", f"{clean} IS NULL", lit(f"{c.name} is empty")))
            if c.kind in CONVERTED_KINDS:
                code, msg = invalid_message(c, clean)
                out.append((code, f"{clean} IS NOT NULL AND {name} IS NULL", msg))
            if c.nonnegative:
                out.append((
                    "negative_value", f"{name} < 0",
                    f"{prefix} || CAST({name} AS VARCHAR) || ' is negative'",
                ))
            if c.kind == "timestamp" and not c.future_ok:
                out.append((
                    "future_date", f"{name} > $now",
                    f"{prefix} || CAST({name} AS VARCHAR) || ' is in the future'",
                ))
            if c.kind == "email":
                out.append((
                    "bad_email",
                    f"{name} IS NOT NULL AND NOT regexp_full_match({name}, {lit(EMAIL_PATTERN)})",
                    f"{prefix} || '''' || left({clean}, 60) || ''' is not a valid address'",
                ))
        pairs = {
            "resolved_before_opened": ("resolved_at", "opened_at", "before"),
            "responded_before_opened": ("first_response_at", "opened_at", "before"),
            "until_before_from": ("valid_until", "valid_from", "before"),
            "ended_before_started": ("ended_at", "started_at", "before"),
        }
        if "missing_contact" in t.checks:  # a suppression must name whom it suppresses
            present = [c for c in ("customer_id", "email", "phone") if c in self.cols]
            out.append((
                "missing_contact",
                " AND ".join(f"{q(c + '__c')} IS NULL" for c in present) or "TRUE",
                lit("no customer_id, email or phone: a suppression must name at least one"),
            ))
        for code, (late, early, word) in pairs.items():
            if code in t.checks:
                out.append((
                    code, f"{q(late)} < {q(early)}",
                    f"{lit(late + ' ')} || CAST({q(late)} AS VARCHAR) || "
                    f"{lit(f' is {word} {early} ')} || CAST({q(early)} AS VARCHAR)",
                ))
        if "bad_scale" in t.checks:
            out.append((
                "bad_scale", '"scale_min" >= "scale_max"',
                "'scale_min ' || CAST(\"scale_min\" AS VARCHAR) || ' is not below scale_max ' "
                "|| CAST(\"scale_max\" AS VARCHAR)",
            ))
        if "score_out_of_scale" in t.checks:
            out.append((
                "score_out_of_scale",
                '"scale_min" < "scale_max" AND ("score" < "scale_min" OR "score" > "scale_max")',
                "'score ' || CAST(\"score\" AS VARCHAR) || ' is outside the scale ' || "
                "CAST(\"scale_min\" AS VARCHAR) || '-' || CAST(\"scale_max\" AS VARCHAR)",
            ))
        return out

    def validate(self) -> None:
        """Type, check, rank and match the staged rows in one set-based pass.

        Produces ``_crm_stage``: one row per staged row with its typed values, the
        reason it is rejected (if any), its raw text as JSON (rejects only), its
        rank among the valid rows sharing its key (1 unless ``_dup``: the key repeats
        among the batch's valid rows; only those are ranked, in a second statement), its
        customer's key (``_customer_key``), and whether its key already exists in
        the target. The raw staging table is dropped right after, so at most two
        copies of a batch are held at any time.
        """
        t = self.table
        key, target = q(t.key), q(t.name)
        raw_as = ", ".join(f"{q(c)} AS {q(c + '__r')}" for c in self.cols)
        cleaned = ", ".join(f"{clean_text(q(c))} AS {q(c + '__c')}" for c in self.cols)
        typed_cols = ", ".join(f"{typed(t.column(c), q(c + '__c'))} AS {q(c)}" for c in self.cols)
        checks = self.checks()
        joins, extra, keyed = "", "FALSE AS _unknown", ""
        if t.references_customers:
            # The customer's surrogate key comes with the check that it exists.
            joins += " LEFT JOIN customers k ON k.customer_id = t.customer_id"
            extra = ("(t.customer_id IS NOT NULL AND k.customer_id IS NULL) AS _unknown, "
                     f"k.{CUSTOMER_KEY} AS _customer_key")
            keyed = ", _customer_key"
            if self.unknown_customers == "reject":
                checks.append((
                    "unknown_customer", "_unknown",
                    "'customer_id ''' || customer_id || ''' is not in customers (load that "
                    f"customer, then store.retry_rejects(''{t.name}''))'",
                ))
        out = [q(c) for c in self.cols]
        if t is CUSTOMERS:
            # A region left empty is derived from a recognised country (EMEA/Americas/APAC).
            joins += " LEFT JOIN _crm_regions rg ON rg.alpha2 = t.country"
            extra += ", rg.region AS _rg_region"
            out[self.cols.index("region")] = 'coalesce("region", _rg_region) AS "region"'
        code = "coalesce(" + ", ".join(f"CASE WHEN {c} THEN {lit(k)} END" for k, c, _ in checks) + ")"
        reason = (
            "nullif(concat_ws('; ', "
            + ", ".join(f"CASE WHEN {c} THEN {m} END" for _, c, m in checks)
            + "), '')"
        )
        raw_json = "to_json(struct_pack(" + ", ".join(
            f"{q(c)} := {q(c + '__r')}" for c in self.cols
        ) + "))"
        order = "DESC" if self.mode == "upsert" else "ASC"
        attrs = ""
        if self.attrs:
            attrs = ", _attrs"
            if self.attr_names:  # the attributes read are part of the raw values of a reject
                raw_json = raw_json[:-2] + ", _attributes := _attrs))"
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE _crm_stage AS
            WITH c AS (SELECT _src_no, _source, _row{attrs}, {raw_as}, {cleaned} FROM _crm_raw),
                 t AS (SELECT *, {typed_cols} FROM c),
                 u AS (SELECT t.*, {extra} FROM t{joins}),
                 r AS (SELECT *, {code} AS reason_code, {reason} AS reason FROM u),
                 v AS (SELECT _src_no, _source, _row, {", ".join(out)}, reason_code, reason,
                              _unknown{keyed}{attrs},
                              CASE WHEN reason_code IS NOT NULL THEN {raw_json} END AS _raw
                       FROM r)
            SELECT v.*,
                   CASE WHEN v.reason_code IS NULL THEN 1 END AS _rank,
                   FALSE AS _dup,
                   tg.{key} IS NOT NULL AS _exists,
                   CASE WHEN tg.{key} IS NOT NULL THEN {self._same('v', 'tg')} END AS _same,
                   CASE WHEN tg.{key} IS NOT NULL THEN {self._diff('v', 'tg')} END AS _diff
            FROM v LEFT JOIN {target} tg ON v.reason_code IS NULL AND tg.{key} = v.{key}
            """  # noqa: S608 - identifiers from schema.py, values bound
        )
        self.sql("DROP TABLE _crm_raw")
        # Only the valid rows of keys that repeat in the batch are ranked (and marked
        # _dup): a window over the whole batch, every column as payload, took a third
        # of the load; finding the repeated keys is one narrow GROUP BY.
        self.sql(
            f"""
            UPDATE _crm_stage SET _rank = w._r, _dup = TRUE
            FROM (SELECT rowid AS _id, row_number() OVER (
                      PARTITION BY {key} ORDER BY _src_no {order}, _row {order}) AS _r
                  FROM _crm_stage
                  WHERE reason_code IS NULL AND {key} IN (
                      SELECT {key} FROM _crm_stage WHERE reason_code IS NULL
                      GROUP BY 1 HAVING count(*) > 1)) w
            WHERE _crm_stage.rowid = w._id
            """  # noqa: S608 - identifiers from schema.py
        )
        if t.references_customers and self.unknown_customers == "create":
            self.create_customers()

    def create_customers(self) -> None:
        """``unknown_customers='create'``: a bare customer, with a new key, for each unknown id.

        The new keys are kept in ``_crm_created`` for :meth:`write`.
        """
        self.sql(
            "CREATE OR REPLACE TEMP TABLE _crm_created AS SELECT DISTINCT customer_id "
            "FROM _crm_stage WHERE reason_code IS NULL AND _unknown"
        )
        n = int(self.scalar("SELECT count(*) FROM _crm_created"))
        if not n:
            return
        base = self.allocate_customer_keys(n)
        self.sql(
            "CREATE OR REPLACE TEMP TABLE _crm_created AS SELECT customer_id, "
            f"$base + row_number() OVER (ORDER BY customer_id) AS {CUSTOMER_KEY} FROM _crm_created",
            {"base": base},
        )
        self.created = int(self.scalar(
            f"INSERT INTO customers (customer_id, {CUSTOMER_KEY}) "
            f"SELECT customer_id, {CUSTOMER_KEY} FROM _crm_created ORDER BY {CUSTOMER_KEY}"
        ))

    def allocate_customer_keys(self, n: int) -> int:
        """Reserve ``n`` new customer keys; return ``base``: the keys are base + 1 .. base + n.

        The keys come from the sequence (consecutive: the store is the only writer
        of its file), so a key is never handed out twice, even after its customer
        row was deleted. Should keys have been written by hand beyond the sequence,
        it is moved past them first.
        """
        seq = f"nextval('{CUSTOMER_KEY_SEQUENCE}')"
        last = int(self.scalar(f"SELECT max({seq}) FROM range($n)", {"n": n}))
        high = int(self.scalar(f"SELECT coalesce(max({CUSTOMER_KEY}), 0) FROM customers"))
        if high > last - n:
            last = int(self.scalar(f"SELECT max({seq}) FROM range($n)", {"n": high - last + n}))
        return last - n

    # -- duplicates and writing -----------------------------------------------------------
    def _compared(self) -> list[str]:
        return [c for c in self.cols if c in self.present and c != self.table.key]

    def _same(self, a: str, b: str) -> str:
        cols = self._compared()
        if not cols:
            return "TRUE"
        return " AND ".join(f"{a}.{q(c)} IS NOT DISTINCT FROM {b}.{q(c)}" for c in cols)

    def _diff(self, a: str, b: str) -> str:
        parts = [
            f"CASE WHEN {a}.{q(c)} IS DISTINCT FROM {b}.{q(c)} THEN {lit(c)} END"
            for c in self._compared()
        ]
        return "concat_ws(', ', " + ", ".join(parts) + ")" if parts else "''"

    def _typed_json(self, alias: str) -> str:
        return "to_json(struct_pack(" + ", ".join(
            f"{q(c)} := CAST({alias}.{q(c)} AS VARCHAR)" for c in self.cols
        ) + "))"

    def quarantine(self) -> None:
        """Collect rejects and conflicting duplicates; add the new ones to ``quarantine``."""
        key = q(self.table.key)
        verb = "superseded by" if self.mode == "upsert" else "repeats"
        after_key = lit("' " + verb + " line ")
        dup_reason = (
            f"{lit(self.table.key + ' ')} || '''' || d.{key} || {after_key} || "
            f"CAST(w._row AS VARCHAR) || ' of ' || w._source || ' with other values (' || "
            f"{self._diff('d', 'w')} || ')'"
        )
        existing = ""
        if self.mode == "append":
            existing = (
                "UNION ALL "
                f"SELECT 'duplicate', 'duplicate_conflict', {lit(self.table.key + ' ')} || '''' "
                f"|| m.{key} || ''' is already loaded with other values (' || m._diff || "
                "'); load with mode=''upsert'' to update it', "
                f"m._source, m._row, m.{key}, {self._typed_json('m')} "
                "FROM _crm_stage m WHERE m._rank = 1 AND m._exists AND NOT m._same"
            )
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE _crm_q AS
            SELECT 'rejected' AS kind, reason_code, reason, _source, _row,
                   {key} AS record_key, _raw AS raw
            FROM _crm_stage WHERE reason_code IS NOT NULL
            UNION ALL
            SELECT 'rejected', reason_code, reason, _source, _row, NULL, raw FROM _crm_bad
            UNION ALL
            SELECT 'duplicate', 'duplicate_conflict', {dup_reason}, d._source, d._row, d.{key},
                   {self._typed_json('d')}
            FROM _crm_stage d JOIN _crm_stage w ON w.{key} = d.{key} AND w._rank = 1 AND w._dup
            WHERE d._dup AND d._rank > 1 AND NOT ({self._same('d', 'w')})
            {existing}
            """  # noqa: S608
        )
        # Loading the same file twice must not grow the quarantine.
        self.sql(
            """
            INSERT INTO quarantine (load_id, table_name, kind, reason_code, reason, source,
                                    source_row, record_key, raw, rejected_at)
            SELECT $load_id, $table, n.kind, n.reason_code, n.reason, n._source, n._row,
                   n.record_key, n.raw, $now
            FROM _crm_q n
            WHERE NOT EXISTS (
                SELECT 1 FROM quarantine x
                WHERE x.table_name = $table AND x.source = n._source
                  AND x.source_row IS NOT DISTINCT FROM n._row AND x.raw = n.raw)
            """
        )

    def _keyed_stage(self) -> str:
        """The staged rows with ``_customer_key`` filled in for the customers just created."""
        if not self.created:
            return "_crm_stage"
        return (
            f"(SELECT s.* REPLACE (coalesce(s._customer_key, n.{CUSTOMER_KEY}) AS _customer_key) "
            "FROM _crm_stage s LEFT JOIN _crm_created n "
            "ON s._unknown AND n.customer_id = s.customer_id)"
        )

    def write(self) -> tuple[int, int]:
        """Insert new keys; in upsert mode update changed ones. Returns (inserted, updated).

        New customers get new customer keys (in customer_id order); rows of the
        other tables carry their customer's key. A batch is inserted ordered by
        (customer_key, date) (see :attr:`order_inserts`).
        """
        t = self.table
        key, target = q(t.key), q(t.name)
        cols = ", ".join(q(c) for c in self.cols)
        new = "_rank = 1 AND NOT _exists"
        params: dict[str, Any] = {}
        if t.references_customers:
            stage, customer_key = self._keyed_stage(), "_customer_key"
        else:
            stage = "_crm_stage"
            n = int(self.scalar(f"SELECT count(*) FROM _crm_stage WHERE {new}"))  # noqa: S608
            params["base"] = self.allocate_customer_keys(n) if n else 0
            customer_key = "$base + row_number() OVER (ORDER BY customer_id)"
        order = ""
        if self.order_inserts:
            order = " ORDER BY " + ", ".join(q(c) for c in t.order_by)
        if t.references_customers:  # customers whose derived rows change (store.derived)
            derived.note_keys(
                self.con, f"SELECT DISTINCT {customer_key} FROM {stage} WHERE {new}")  # noqa: S608
            if self.mode == "upsert":  # a changed row's new customer and its old one
                changed_rows = (f"FROM {stage} m JOIN {target} o ON o.{key} = m.{key} "
                                "WHERE m._rank = 1 AND m._exists AND NOT m._same")
                derived.note_keys(self.con, f"SELECT m._customer_key {changed_rows}")
                derived.note_keys(self.con, f"SELECT o.{CUSTOMER_KEY} {changed_rows}")
        # DuckDB's INSERT and UPDATE return the number of rows they wrote.
        inserted = self.scalar(
            f"INSERT INTO {target} ({cols}, {CUSTOMER_KEY}) SELECT * FROM ("  # noqa: S608
            f"SELECT {cols}, {customer_key} AS {CUSTOMER_KEY} FROM {stage} WHERE {new}){order}",
            params,
        )
        updated = 0
        changed = self._compared()
        sets = ", ".join(f"{q(c)} = m.{q(c)}" for c in changed)
        if t.references_customers and "customer_id" in changed:  # a row moved to another customer
            sets += f", {CUSTOMER_KEY} = m._customer_key"
        if self.mode == "upsert" and sets:
            updated = self.scalar(
                f"UPDATE {target} SET {sets} FROM {stage} m "  # noqa: S608
                f"WHERE m._rank = 1 AND m._exists AND NOT m._same AND {target}.{key} = m.{key}"
            )
        if not t.references_customers:  # the customers inserted or changed (keys now assigned)
            derived.note_keys(self.con, (
                f"SELECT c.{CUSTOMER_KEY} FROM {target} c JOIN _crm_stage m "  # noqa: S608
                "ON c.customer_id = m.customer_id WHERE m._rank = 1 AND (NOT m._exists OR NOT m._same)"))
        if self.attrs and self.attr_names:
            self.write_attributes()
        return int(inserted), int(updated)

    def write_attributes(self) -> None:
        """Keep a customers source's columns outside the contract in ``customer_attributes``.

        One row per (customer_id, name, value): name = the normalised column name,
        value = the text as read (trimmed; empty and null spellings are not stored).
        New customers get theirs; ``mode='upsert'`` replaces the named attributes of
        every customer in the source. ``append`` leaves existing customers' attributes
        alone, so loading the same file twice changes nothing.
        """
        rows = "_rank = 1 AND NOT _exists" if self.mode == "append" else "_rank = 1"
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE _crm_attr AS
            SELECT customer_id, name, {clean_text("value")} AS value
            FROM (SELECT customer_id, unnest(map_keys(_attrs)) AS name,
                         unnest(map_values(_attrs)) AS value
                  FROM _crm_stage WHERE {rows} AND _attrs IS NOT NULL)
            """  # noqa: S608 - constant SQL
        )
        self.sql(
            "DELETE FROM customer_attributes a WHERE EXISTS (SELECT 1 FROM _crm_attr n "
            "WHERE n.customer_id = a.customer_id AND n.name = a.name)"
        )
        self.sql(
            "INSERT INTO customer_attributes (customer_id, name, value) "
            "SELECT customer_id, name, value FROM _crm_attr WHERE value IS NOT NULL"
        )
        self.sql("DROP TABLE _crm_attr")

    def report(self) -> LoadReport:
        rows_read, rows_rejected, rows_duplicate = self.sql(
            """
            SELECT (SELECT count(*) FROM _crm_stage) + (SELECT count(*) FROM _crm_bad),
                   (SELECT count(*) FILTER (WHERE reason_code IS NOT NULL) FROM _crm_stage)
                     + (SELECT count(*) FROM _crm_bad),
                   (SELECT count(*) FILTER (WHERE _rank > 1 OR (_rank = 1 AND _exists
                        AND (_same OR $mode = 'append'))) FROM _crm_stage)
            """,
            {"mode": self.mode},
        ).fetchone()
        reasons = self.sql(
            "SELECT reason_code, count(*) FROM _crm_q GROUP BY 1 ORDER BY 1"
        ).fetchall()
        return LoadReport(
            table=self.table.name,
            sources=self.source_names,
            mode=self.mode,
            load_id=self.load_id,
            rows_read=int(rows_read),
            rows_rejected=int(rows_rejected),
            rows_duplicate=int(rows_duplicate),
            reasons={k: int(v) for k, v in reasons},
            ignored_columns=self.ignored,
            attribute_columns=self.attr_columns,
            customers_created=self.created,
        )

    def drop_staging(self) -> None:
        for name in ("_crm_raw", "_crm_bad", "_crm_stage", "_crm_q", "_crm_csv_rej", "_crm_lines",
                     "_crm_csv_scan", "_crm_csv_rej0", "_crm_csv_scan0", "_crm_created"):
            self.sql(f"DROP TABLE IF EXISTS {name}")

    def run(self, sources: list[Source] | None, column_map: dict[str, str] | None, *,
            from_quarantine: bool = False) -> LoadReport:
        """Stage, validate, split and write; the caller owns the transaction."""
        started = time.perf_counter()
        # The state of each derived table's source before the load (see Loader.sync_derived).
        self.derived_before = {d.name: derived.state(self.con, d.source) for d in DERIVED_TABLES}
        if from_quarantine:
            self.stage_from_quarantine()
        else:
            assert sources is not None
            self.stage(sources, column_map)
            if self.key == "row":
                self.derive_keys()
        self.validate()
        self.quarantine()
        inserted, updated = self.write()
        rep = self.report()
        rep.rows_loaded = inserted + updated
        rep.rows_updated = updated
        if not rep.balanced:
            raise RuntimeError(
                f"row accounting broken for {self.table.name}: read {rep.rows_read}, loaded "
                f"{rep.rows_loaded}, rejected {rep.rows_rejected}, duplicate {rep.rows_duplicate}"
            )
        rep.seconds = round(time.perf_counter() - started, 3)
        self.sql(
            """
            INSERT INTO loads (load_id, table_name, sources, mode, loaded_at, rows_read,
                               rows_loaded, rows_rejected, rows_duplicate, rows_updated, seconds)
            VALUES ($load_id, $table, $sources, $mode, $now, $read, $loaded, $rejected, $dup,
                    $updated, $seconds)
            """,
            {
                "sources": json.dumps(rep.sources), "mode": self.mode, "read": rep.rows_read,
                "loaded": rep.rows_loaded, "rejected": rep.rows_rejected,
                "dup": rep.rows_duplicate, "updated": rep.rows_updated, "seconds": rep.seconds,
            },
        )
        self.sync_derived()
        self.drop_staging()
        return rep

    def sync_derived(self) -> None:
        """Bring every derived table up to date with this load (crm_analytics.store.derived)."""
        try:
            for table in DERIVED_TABLES:
                derived.sync(self.con, table, self.derived_before[table.name])
        finally:
            derived.forget_keys(self.con)
