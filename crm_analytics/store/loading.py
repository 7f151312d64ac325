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
from crm_analytics.store.schema import CUSTOMERS, Table
from crm_analytics.store.sources import Source

log = logging.getLogger(__name__)

CONVERTED_KINDS = ("number", "money", "int", "timestamp", "bool", "category")
# Lines DuckDB could not split: they have no columns to re-validate.
STRUCTURAL_CODES = ("malformed_row", "bad_encoding")


@dataclass
class LoadReport:
    """What one ``Store.load`` (or ``retry_rejects``) did.

    ``rows_read == rows_loaded + rows_rejected + rows_duplicate`` always holds.
    ``rows_updated`` (upserts) is part of ``rows_loaded``; ``reasons`` counts
    rejected and conflicting rows by reason code.
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
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
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
    for src, dst in column_map.items():
        if src in found:
            mapping[dst] = src
    for col in found:
        norm = normalise_name(col)
        if col in column_map or norm not in canonical or norm in mapping:
            continue
        mapping[norm] = col
    missing = [c for c in table.required if c not in mapping and c not in constants]
    if missing:
        example = ", ".join(f"'<your column>': '{m}'" for m in missing[:2])
        raise MissingColumnsError(
            f"{source}: missing required column(s) {', '.join(missing)} for table "
            f"'{table.name}'; found columns: {', '.join(map(str, found)) or '(none)'}. "
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


class Loader:
    """One load into one table, on a connection whose transaction the caller owns."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, table: Table, *, mode: str = "append",
        date_format: str | list[str] | None = None, constants: dict[str, Any] | None = None,
        unknown_customers: str = "reject", encoding: str | None = None,
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
        self.sql(
            "CREATE OR REPLACE TEMP TABLE _crm_raw "
            f"(_src_no INTEGER, _source VARCHAR, _row BIGINT, {col_defs})"
        )
        self.sql(
            "CREATE OR REPLACE TEMP TABLE _crm_bad (_source VARCHAR, _row BIGINT, "
            "reason_code VARCHAR, reason VARCHAR, raw VARCHAR)"
        )

    def _select_list(self, mapping: dict[str, str]) -> tuple[str, dict[str, Any]]:
        exprs, params = [], {}
        for i, c in enumerate(self.cols):
            if c in mapping:
                exprs.append(f"CAST({q(mapping[c])} AS VARCHAR)")
            elif c in self.constants:
                exprs.append(f"CAST($const_{i} AS VARCHAR)")
                params[f"const_{i}"] = str(self.constants[c])
            else:
                exprs.append("CAST(NULL AS VARCHAR)")
        return ", ".join(exprs), params

    def _register_mapping(self, found: list[str], name: str) -> dict[str, str]:
        mapping, ignored = map_columns(found, self.table, self._column_map, self.constants, name)
        self.present.update(mapping)
        self.present.update(self.constants)
        self.ignored.extend(c for c in ignored if c not in self.ignored)
        return mapping

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
        mapping = self._register_mapping(found, src.name)
        # The position column is explicit so that source rows are exact.
        view = frame.set_axis(found, axis=1).reset_index(drop=True)
        view = view.assign(__crm_pos=range(len(view)))
        for canonical, col in mapping.items():
            # pandas turns an id column with gaps into floats (101 -> 101.0); the id is 101.
            if self.table.column(canonical).kind == "id" and pd.api.types.is_float_dtype(view[col]):
                values = view[col].dropna()
                if np.isfinite(values).all() and (values == np.floor(values)).all():
                    view[col] = view[col].astype("Int64")
        select, params = self._select_list(mapping)
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
        mapping = self._register_mapping(found, src.name)
        select, params = self._select_list(mapping)
        self.sql(
            f"INSERT INTO _crm_raw SELECT $no, $name, file_row_number, {select} "
            "FROM read_parquet($path, file_row_number=true)",
            {"no": no, "name": src.name, "path": src.scan_path, **params},
        )

    def _stage_csv(self, no: int, src: Source) -> None:
        opts = "all_varchar=true, header=true, store_rejects=true"
        if src.delimiter:
            opts += ", delim=$delim"
        if self.encoding:
            opts += ", encoding=$encoding"
        p = {"path": src.scan_path, "encoding": self.encoding, "delim": src.delimiter}
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
        mapping = self._register_mapping(found, src.name)
        select, params = self._select_list(mapping)
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
        self.source_names = [
            r[0] for r in self.sql("SELECT DISTINCT _source FROM _crm_raw ORDER BY 1").fetchall()
        ]

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
            if c.kind == "timestamp":
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
        }
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
        rank among the valid rows sharing its key, and whether that key already
        exists in the target. The raw staging table is dropped right after, so at
        most two copies of a batch are held at any time.
        """
        t = self.table
        key, target = q(t.key), q(t.name)
        raw_as = ", ".join(f"{q(c)} AS {q(c + '__r')}" for c in self.cols)
        cleaned = ", ".join(f"{clean_text(q(c))} AS {q(c + '__c')}" for c in self.cols)
        typed_cols = ", ".join(f"{typed(t.column(c), q(c + '__c'))} AS {q(c)}" for c in self.cols)
        checks = self.checks()
        joins, extra = "", "FALSE AS _unknown"
        if t.references_customers:
            joins += " LEFT JOIN customers k ON k.customer_id = t.customer_id"
            extra = "(t.customer_id IS NOT NULL AND k.customer_id IS NULL) AS _unknown"
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
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE _crm_stage AS
            WITH c AS (SELECT _src_no, _source, _row, {raw_as}, {cleaned} FROM _crm_raw),
                 t AS (SELECT *, {typed_cols} FROM c),
                 u AS (SELECT t.*, {extra} FROM t{joins}),
                 r AS (SELECT *, {code} AS reason_code, {reason} AS reason FROM u),
                 v AS (SELECT _src_no, _source, _row, {", ".join(out)}, reason_code, reason,
                              _unknown,
                              CASE WHEN reason_code IS NOT NULL THEN {raw_json} END AS _raw
                       FROM r)
            SELECT v.*,
                   CASE WHEN v.reason_code IS NULL THEN row_number() OVER (
                       PARTITION BY v.{key}, v.reason_code IS NULL
                       ORDER BY v._src_no {order}, v._row {order}) END AS _rank,
                   tg.{key} IS NOT NULL AS _exists,
                   CASE WHEN tg.{key} IS NOT NULL THEN {self._same('v', 'tg')} END AS _same,
                   CASE WHEN tg.{key} IS NOT NULL THEN {self._diff('v', 'tg')} END AS _diff
            FROM v LEFT JOIN {target} tg ON v.reason_code IS NULL AND tg.{key} = v.{key}
            """  # noqa: S608 - identifiers from schema.py, values bound
        )
        self.sql("DROP TABLE _crm_raw")
        if t.references_customers and self.unknown_customers == "create":
            self.created = int(self.scalar(
                "INSERT INTO customers (customer_id) SELECT DISTINCT customer_id FROM _crm_stage "
                "WHERE reason_code IS NULL AND _unknown"
            ))

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
            FROM _crm_stage d JOIN _crm_stage w ON w.{key} = d.{key} AND w._rank = 1
            WHERE d._rank > 1 AND NOT ({self._same('d', 'w')})
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

    def write(self) -> tuple[int, int]:
        """Insert new keys; in upsert mode update changed ones. Returns (inserted, updated)."""
        key, target = q(self.table.key), q(self.table.name)
        cols = ", ".join(q(c) for c in self.cols)
        # DuckDB's INSERT and UPDATE return the number of rows they wrote.
        inserted = self.scalar(
            f"INSERT INTO {target} ({cols}) "  # noqa: S608
            f"SELECT {cols} FROM _crm_stage WHERE _rank = 1 AND NOT _exists"
        )
        updated = 0
        sets = ", ".join(f"{q(c)} = m.{q(c)}" for c in self._compared())
        if self.mode == "upsert" and sets:
            updated = self.scalar(
                f"UPDATE {target} SET {sets} FROM _crm_stage m "  # noqa: S608
                f"WHERE m._rank = 1 AND m._exists AND NOT m._same AND {target}.{key} = m.{key}"
            )
        return int(inserted), int(updated)

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
            customers_created=self.created,
        )

    def drop_staging(self) -> None:
        for name in ("_crm_raw", "_crm_bad", "_crm_stage", "_crm_q", "_crm_csv_rej",
                     "_crm_csv_scan", "_crm_csv_rej0", "_crm_csv_scan0"):
            self.sql(f"DROP TABLE IF EXISTS {name}")

    def run(self, sources: list[Source] | None, column_map: dict[str, str] | None, *,
            from_quarantine: bool = False) -> LoadReport:
        """Stage, validate, split and write; the caller owns the transaction."""
        started = time.perf_counter()
        if from_quarantine:
            self.stage_from_quarantine()
        else:
            assert sources is not None
            self.stage(sources, column_map)
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
        self.drop_staging()
        return rep
