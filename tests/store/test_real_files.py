"""Real files as analysts get them: delimiters, header lines, no key, extra columns."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from crm_analytics.errors import InputError, MissingColumnsError, SourceError
from crm_analytics.store import Store

TELCO = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "telco_customer_churn.csv"


@pytest.fixture
def store():
    s = Store(":memory:")
    s.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"]}))
    return s


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


TX_ROWS = [("T1", "C1", "2024-01-05", "10.50"), ("T2", "C2", "2024-02-01", "7")]


def _text(sep: str, header: bool) -> str:
    lines = [sep.join(r) for r in TX_ROWS]
    if header:
        lines.insert(0, sep.join(["transaction_id", "customer_id", "transaction_date", "amount"]))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("sep", [",", ";", "\t", "|", "   "])
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("explicit", [True, False])
def test_delimiters_and_header_lines(store, tmp_path, sep, header, explicit):
    path = _write(tmp_path, "tx.txt", _text(sep, header))
    delimiter = {"   ": "whitespace", "\t": "\\t"}.get(sep, sep) if explicit else None
    names = None if header else ["transaction_id", "customer_id", "transaction_date", "amount"]
    rep = store.load("transactions", path, delimiter=delimiter, column_names=names,
                     header=header if explicit else None)
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (2, 2, 0)
    got = store.sql("SELECT transaction_id, CAST(amount AS VARCHAR) a FROM transactions ORDER BY 1")
    assert got.values.tolist() == [["T1", "10.5000"], ["T2", "7.0000"]]


def test_whitespace_runs_line_numbers_and_malformed_lines(store, tmp_path):
    path = _write(tmp_path, "tx.txt",
                  " T1  C1 20240105   10.50\r\n\r\n T2 C2 20240201 7 extra\r\n\tT3\tC1  20240301 1\r\n")
    rep = store.load("transactions", path, delimiter="whitespace", header=False,
                     column_names="transaction_id,customer_id,transaction_date,amount")
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (3, 2, 1)
    rej = store.rejects("transactions")
    assert rej.loc[0, "reason_code"] == "malformed_row" and rej.loc[0, "source_row"] == 3
    assert "5 whitespace-separated field(s), expected 4" in rej.loc[0, "reason"]


def test_whitespace_is_sniffed_and_header_line_recognised(store, tmp_path):
    path = _write(tmp_path, "tx.txt", " transaction_id customer_id  date amount\n T1 C1 20240105 3\n")
    rep = store.load("transactions", path, column_map={"date": "transaction_date"})
    assert (rep.rows_read, rep.rows_loaded) == (1, 1)


def test_column_names_replace_a_header_line(store, tmp_path):
    path = _write(tmp_path, "tx.csv", "a,b,c,d\nT1,C1,2024-01-05,1\n")
    rep = store.load("transactions", path, header=True,
                     column_names=["transaction_id", "customer_id", "transaction_date", "amount"])
    assert (rep.rows_read, rep.rows_loaded) == (1, 1)


def test_one_column_of_blanks_error_names_the_layout(store, tmp_path):
    # Ragged widths: not sniffed as whitespace, so read as one column.
    path = _write(tmp_path, "tx.txt", "00001 19970101 1 11.77\n00002 19970112 1\n")
    with pytest.raises(MissingColumnsError) as err:
        store.load("transactions", path, header=True)
    msg = str(err.value)
    assert "tx.txt" in msg and "has 1 column '00001 19970101 1 11.77'" in msg
    assert "delimiter='whitespace'" in msg


def test_no_header_without_names_is_a_clear_error(store, tmp_path):
    path = _write(tmp_path, "tx.csv", _text(",", header=False).replace("T", "1"))
    with pytest.raises(InputError, match=r"tx.csv: has no header line .*column_names"):
        store.load("transactions", path)


def test_ambiguous_header_and_delimiter_are_clear_errors(store, tmp_path):
    path = _write(tmp_path, "tx.csv", "Alice,Berlin,x\nBob,Paris,y\n")
    with pytest.raises(InputError, match=r"cannot tell whether line 1 .* --no-header"):
        store.load("customers", path, column_names=["customer_id", "name", "city"])
    path = _write(tmp_path, "amb.csv", "a,b;c,d;e\nx;y,z\n")
    with pytest.raises(SourceError, match=r"cannot tell the delimiter.*delimiter="):
        store.load("customers", path)
    with pytest.raises(InputError, match="one character"):
        store.load("customers", path, delimiter="::")
    with pytest.raises(InputError, match="column_names has 2 name"):
        store.load("customers", _write(tmp_path, "c.csv", "C7,Ann,x\n"), header=False,
                   column_names=["customer_id", "name"])


@pytest.mark.parametrize("header", ["Order No", "order_no", "ORDER NO", " Order No"])
def test_map_key_matches_after_normalisation(store, tmp_path, header):
    path = _write(tmp_path, "orders.csv",
                  f"{header},Customer ID,Transaction Date,Amount\nT1,C1,2024-01-05,10.5\n")
    rep = store.load("transactions", path, column_map={"Order No": "transaction_id"})
    assert rep.rows_loaded == 1


def test_unmatched_map_key_is_named(store, tmp_path):
    path = _write(tmp_path, "orders.csv",
                  "Order Nr,customer_id,transaction_date,amount\nT1,C1,2024-01-05,1\n")
    with pytest.raises(MissingColumnsError, match=r"key\(s\) 'Order No' match no column"):
        store.load("transactions", path, column_map={"Order No": "transaction_id"})


def test_row_key_is_stable_across_loads_paths_and_keeps_repeated_rows(tmp_path):
    store = Store(":memory:")
    text = "C1 20240105 1 10.00\nC1 20240105 1 10.00\nC2 20240106 2 5.25\n"
    first = _write(tmp_path, "a.txt", text)
    names = ["customer_id", "transaction_date", "quantity", "amount"]
    opts = dict(delimiter="whitespace", header=False, column_names=names, key="row",
                unknown_customers="create")
    rep = store.load("transactions", first, **opts)
    assert (rep.rows_loaded, rep.customers_created) == (3, 2)  # identical lines both kept
    keys = sorted(store.table("transactions")["transaction_id"])
    copy = tmp_path / "sub"
    copy.mkdir()
    again = store.load("transactions", _write(copy, "renamed.txt", text), **opts)
    assert (again.rows_read, again.rows_loaded, again.rows_duplicate) == (3, 0, 3)
    assert sorted(store.table("transactions")["transaction_id"]) == keys
    assert len(store.rejects()) == 0
    with pytest.raises(InputError, match="has a transaction_id column"):
        store.load("transactions", pd.DataFrame({"transaction_id": ["X"], "customer_id": ["C1"],
                                                 "transaction_date": ["2024-01-01"],
                                                 "amount": [1]}), key="row")


def test_extra_customer_columns_are_kept_as_attributes(tmp_path):
    store = Store(":memory:")
    path = _write(tmp_path, "c.csv", "Customer ID,Contract,Monthly Charges,Note\n"
                  "C1,Month-to-month,29.85, \nC2,Two year,56.95,vip\n")
    rep = store.load("customers", path)
    assert rep.attribute_columns == ["Contract", "Monthly Charges", "Note"]
    attrs = store.table("customer_attributes").sort_values(["customer_id", "name"])
    assert attrs.values.tolist() == [
        ["C1", "contract", "Month-to-month"], ["C1", "monthly_charges", "29.85"],
        ["C2", "contract", "Two year"], ["C2", "monthly_charges", "56.95"], ["C2", "note", "vip"],
    ]
    store.load("customers", path)  # the same file again changes nothing
    assert len(store.table("customer_attributes")) == 5
    changed = _write(tmp_path, "c2.csv", "Customer ID,Contract\nC1,One year\n")
    store.load("customers", changed, mode="upsert")
    got = store.sql("SELECT value FROM customer_attributes WHERE customer_id = 'C1' AND name = 'contract'")
    assert got["value"].tolist() == ["One year"]


def _lifetimes_datasets() -> Path:
    lifetimes = pytest.importorskip("lifetimes")
    return Path(os.path.dirname(lifetimes.__file__)) / "datasets"


def test_cdnow_sample_has_no_header_and_five_columns():
    path = _lifetimes_datasets() / "CDNOW_sample.txt"
    store = Store(":memory:")
    rep = store.load("transactions", str(path), delimiter="whitespace",
                     column_names=["customer_id", "sample_id", "transaction_date", "quantity",
                                   "amount"], key="row", unknown_customers="create")
    assert (rep.rows_read, rep.rows_loaded, rep.customers_created) == (6919, 6919, 2357)


@pytest.mark.skipif(not TELCO.exists(), reason=f"{TELCO} not present (shared datasets folder)")
def test_telco_customers_keep_their_twenty_other_columns():
    store = Store(":memory:")
    rep = store.load("customers", str(TELCO), column_map={"customerID": "customer_id"})
    assert (rep.rows_read, rep.rows_loaded) == (7043, 7043)
    assert len(rep.attribute_columns) == 20
    got = store.sql("SELECT count(DISTINCT name) n, count(DISTINCT customer_id) c FROM customer_attributes")
    assert got.values.tolist() == [[20, 7043]]
    m2m = store.sql("SELECT count(*) n FROM customer_attributes WHERE name = 'contract' "
                    "AND value = 'Month-to-month'")["n"].iloc[0]
    assert m2m == 3875
