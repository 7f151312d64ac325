"""Property-based tests of the loader on hostile CSV files (hypothesis).

Every example writes a small customers file and a small transactions file mixing
valid rows, bad numbers/dates/e-mails, huge integers, exotic Unicode, quotes,
commas and newlines inside fields, empty fields and duplicate keys (exact and
conflicting), loads both into a fresh in-memory store, and checks against an
oracle that knows what each generated field should become:

* rows read = rows written = loaded + rejected + duplicate, with the exact split;
* the loaded rows are exactly the first valid row of each key, every value equal
  to its source value after the documented cleansing (ids and text trimmed, null
  spellings missing, e-mails lower-cased, amounts exact as Decimal rounded to 4
  decimals half away from zero, integers exact, dates to UTC);
* loading the same files again changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_analytics.store import Store
from crm_analytics.store.schema import NULL_TOKENS

TRIM = " \t\r\n\u00a0"
INT_MAX = 2**63 - 1


def clean(text: str) -> str | None:
    """The loader's text cleansing, in Python (short values only: see clean_text)."""
    trimmed = text.strip(TRIM)
    return None if trimmed in NULL_TOKENS else trimmed


@dataclass(frozen=True)
class Field:
    text: str          # what the CSV holds
    ok: bool           # the loader accepts it
    value: Any = None  # the typed value it must be stored as (None: NULL)


@st.composite
def padded(draw: st.DrawFn, core: str) -> str:
    pad = st.sampled_from(["", "", " ", "  ", "\t", "\u00a0", " \u00a0"])
    return draw(pad) + core + draw(pad)


@st.composite
def key_field(draw: st.DrawFn, pool: list[str]) -> Field:
    if draw(st.integers(0, 12)) == 0:
        return Field(draw(st.sampled_from(["", "  ", "NULL", "nan", "N/A"])), False)
    core = draw(st.sampled_from(pool))
    return Field(draw(padded(core)), True, core)


@st.composite
def amount_field(draw: st.DrawFn) -> Field:
    kind = draw(st.sampled_from(["exact", "exact", "exact", "round", "exp", "bad", "huge", "empty"]))
    if kind == "exact":
        d = Decimal(draw(st.integers(-(10**18) + 1, 10**18 - 1))).scaleb(-4)
        return Field(draw(padded(str(d))), True, d)
    if kind == "round":  # more than 4 decimals: rounded half away from zero
        d = Decimal(draw(st.integers(-(10**15), 10**15))).scaleb(-draw(st.integers(5, 8)))
        return Field(str(d), True, d.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
    if kind == "exp":
        mantissa = draw(st.integers(-99999, 99999))
        exponent = draw(st.integers(-4, 8))
        d = Decimal(mantissa).scaleb(exponent)
        return Field(f"{mantissa}e{exponent}", True, d)
    if kind == "bad":
        return Field(draw(st.sampled_from(
            ["abc", "12,50", "1.2.3", "--1", "0x1F", "inf", "-Infinity", "€5", "5 €", "1e400"]
        )), False)
    if kind == "huge":
        return Field(draw(st.sampled_from(
            ["1" + "0" * 14, "-" + "9" * 15, "99999999999999.99995", str(2**70), "1e15"]
        )), False)
    return Field(draw(st.sampled_from(["", " "])), False)  # amount is required


@st.composite
def int_field(draw: st.DrawFn) -> Field:
    kind = draw(st.sampled_from(["ok", "ok", "big", "zero_fraction", "empty", "negative",
                                 "fraction", "huge", "text"]))
    if kind == "ok":
        n = draw(st.integers(0, 10**6))
        return Field(draw(padded(str(n))), True, n)
    if kind == "big":  # exact above 2^53, up to 2^63 - 1
        n = draw(st.integers(2**53, INT_MAX))
        return Field(str(n), True, n)
    if kind == "zero_fraction":
        n = draw(st.integers(0, 10**12))
        return Field(f"{n}.0", True, n)
    if kind == "empty":
        return Field(draw(st.sampled_from(["", "NULL", " "])), True, None)
    if kind == "negative":
        return Field(str(draw(st.integers(-(2**63), -1))), False)
    if kind == "fraction":
        return Field(draw(st.sampled_from(["1.5", "0.25", "3.0001"])), False)
    if kind == "huge":
        n = draw(st.integers(2**63, 2**80))
        return Field(draw(st.sampled_from([str(n), str(-n - 1)])), False)
    return Field(draw(st.sampled_from(["three", "0x10", "1,000", "½"])), False)


@st.composite
def date_field(draw: st.DrawFn) -> Field:
    kind = draw(st.sampled_from(["ok", "ok", "ok", "tz", "bad", "future", "empty"]))
    day = draw(st.dates(dt.date(2000, 1, 1), dt.date(2024, 12, 31)))
    stamp = dt.datetime.combine(day, dt.time())
    if kind == "ok":
        fmt = draw(st.sampled_from(["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%Y/%m/%d"]))
        return Field(draw(padded(day.strftime(fmt))), True, stamp)
    if kind == "tz":
        hour = draw(st.integers(0, 23))
        local = stamp.replace(hour=hour)
        return Field(local.strftime("%Y-%m-%dT%H:%M:%S") + "+02:00", True,
                     local - dt.timedelta(hours=2))
    if kind == "bad":
        return Field(draw(st.sampled_from(["2024-02-30", "someday", "31/12/2024", "2024-13-01"])),
                     False)
    if kind == "future":
        return Field("2099-01-01", False)
    return Field("", False)  # transaction_date is required


# Free text: any Unicode but NUL and surrogates; quotes, commas and newlines included.
free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=8,
) | st.sampled_from(['a,b', 'say "hi"', "two\nlines", "x\r\ny", "'quoted'", "Ünïcødé ✓", "日本語"])


@st.composite
def text_field(draw: st.DrawFn) -> Field:
    text = draw(free_text)
    return Field(text, True, clean(text))


@st.composite
def email_field(draw: st.DrawFn) -> Field:
    kind = draw(st.sampled_from(["ok", "ok", "bad", "empty"]))
    if kind == "ok":
        address = draw(st.sampled_from(["ann", "Bob.Smith", "x_y+tag"])) + "@" + draw(
            st.sampled_from(["Example.COM", "mail.co.uk", "b2b.example.org"]))
        return Field(draw(padded(address)), True, address.lower())
    if kind == "bad":
        return Field(draw(st.sampled_from(["no-at-sign", "a@b", "a b@c.com", "@x.com", "a@@b.com"])),
                     False)
    return Field("", True, None)


CUSTOMER_COLUMNS = ["customer_id", "name", "email", "employees"]
TX_COLUMNS = ["transaction_id", "customer_id", "transaction_date", "amount", "quantity",
              "product_category"]
CUSTOMER_IDS = ["C1", "C2", "c2", "Ç3", "顧客", "C,4", 'C"5', "C\n6"]
TX_IDS = ["T1", "T2", "t2", "Ü-3", "日本", "a,b", 'q"uote', "x\ny", "T'5"]


@st.composite
def customer_rows(draw: st.DrawFn) -> list[dict[str, Field]]:
    row = st.fixed_dictionaries({
        "customer_id": key_field(CUSTOMER_IDS), "name": text_field(), "email": email_field(),
        "employees": int_field(),
    })
    return draw(st.lists(row, min_size=1, max_size=10))


@st.composite
def transaction_rows(draw: st.DrawFn) -> list[dict[str, Field]]:
    row = st.fixed_dictionaries({
        "transaction_id": key_field(TX_IDS),
        "customer_id": key_field([*CUSTOMER_IDS, "C9-unknown"]),
        "transaction_date": date_field(), "amount": amount_field(), "quantity": int_field(),
        "product_category": text_field(),
    })
    return draw(st.lists(row, min_size=1, max_size=12))


def write_csv(path: Path, rows: list[dict[str, Field]], columns: list[str], newline: str) -> None:
    """A well-formed CSV file: fields with commas, quotes or line breaks are quoted.

    Python's csv module quotes a field holding a line-break character only if that
    character is in its line terminator: with '\n' line ends a bare '\r' would be
    written unquoted (an ambiguous file), so such files are quoted throughout.
    """
    texts = [row[c].text for row in rows for c in columns]
    quoting = csv.QUOTE_ALL if newline == "\n" and any("\r" in t for t in texts) else csv.QUOTE_MINIMAL
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline, quoting=quoting)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[c].text for c in columns])
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def oracle(rows: list[dict[str, Field]], key: str, valid: Any) -> tuple[dict[str, dict], int, int]:
    """(expected table by key, rejected, duplicate) for an append into an empty table."""
    table: dict[str, dict] = {}
    rejected = duplicate = 0
    for row in rows:
        if not valid(row):
            rejected += 1
        elif row[key].value in table:
            duplicate += 1
        else:
            table[row[key].value] = {c: f.value for c, f in row.items()}
    return table, rejected, duplicate


def stored(store: Store, table: str, key: str, cols: list[str]) -> dict[str, dict]:
    select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in cols)
    frame = store.sql(f"SELECT {select} FROM {table}")  # noqa: S608 - test constants
    return {r[key]: r for r in frame.astype(object).where(frame.notna(), None).to_dict("records")}


def typed(kind: str, text: str | None) -> Any:
    if text is None:
        return None
    if kind == "money":
        return Decimal(text)
    if kind == "int":
        return int(text)
    if kind == "timestamp":
        return dt.datetime.fromisoformat(text)
    return text


def check_table(store: Store, table: str, key: str, kinds: dict[str, str],
                expected: dict[str, dict]) -> None:
    got = stored(store, table, key, list(kinds))
    assert set(got) == set(expected)
    for k, row in expected.items():
        for col, kind in kinds.items():
            assert typed(kind, got[k][col]) == row[col], (k, col, got[k][col], row[col])


def counts(store: Store) -> tuple[int, ...]:
    return tuple(
        int(store.sql(f"SELECT count(*) AS n FROM {t}")["n"].item())  # noqa: S608
        for t in ("customers", "transactions", "quarantine")
    )


# database=None: no example database written into the working tree.
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(customers=customer_rows(), transactions=transaction_rows(),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_hostile_csv_files_load_exactly_and_idempotently(customers, transactions, newline):
    with tempfile.TemporaryDirectory() as tmp, Store(":memory:") as store:
        cust_path, tx_path = Path(tmp) / "customers.csv", Path(tmp) / "transactions.csv"
        write_csv(cust_path, customers, CUSTOMER_COLUMNS, newline)
        write_csv(tx_path, transactions, TX_COLUMNS, newline)

        exp_c, rej_c, dup_c = oracle(
            customers, "customer_id", lambda r: all(f.ok for f in r.values()))
        rep = store.load("customers", cust_path)
        assert rep.rows_read == len(customers)
        assert rep.balanced
        assert (rep.rows_loaded, rep.rows_rejected, rep.rows_duplicate) == (
            len(exp_c), rej_c, dup_c), store.rejects()
        check_table(store, "customers", "customer_id",
                    {"customer_id": "id", "name": "text", "email": "text", "employees": "int"},
                    exp_c)

        exp_t, rej_t, dup_t = oracle(
            transactions, "transaction_id",
            lambda r: all(f.ok for f in r.values()) and r["customer_id"].value in exp_c)
        rep = store.load("transactions", tx_path)
        assert rep.rows_read == len(transactions)
        assert rep.balanced
        assert (rep.rows_loaded, rep.rows_rejected, rep.rows_duplicate) == (
            len(exp_t), rej_t, dup_t), store.rejects()
        check_table(store, "transactions", "transaction_id",
                    {"transaction_id": "id", "customer_id": "id", "transaction_date": "timestamp",
                     "amount": "money", "quantity": "int", "product_category": "text"},
                    exp_t)

        # Loading the same files again changes nothing.
        before = counts(store)
        again_c = store.load("customers", cust_path)
        again_t = store.load("transactions", tx_path)
        assert again_c.rows_read == len(customers) and again_c.rows_loaded == 0
        assert again_t.rows_read == len(transactions) and again_t.rows_loaded == 0
        assert again_c.balanced and again_t.balanced
        assert counts(store) == before
        check_table(store, "transactions", "transaction_id",
                    {"amount": "money", "quantity": "int", "transaction_id": "id"}, exp_t)
