"""Amounts and whole numbers are parsed exactly: text goes to DECIMAL/BIGINT, never via DOUBLE."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from crm_analytics.store import Store

TX_HEADER = "transaction_id,customer_id,transaction_date,amount,quantity\n"


@pytest.fixture
def store():
    with Store(":memory:") as s:
        s.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
        yield s


def _amounts(store: Store) -> dict[str, Decimal]:
    rows = store.sql("SELECT transaction_id, CAST(amount AS VARCHAR) AS a FROM transactions")
    return {r.transaction_id: Decimal(r.a) for r in rows.itertuples()}


def _quantities(store: Store) -> dict[str, int | None]:
    rows = store.sql("SELECT transaction_id, CAST(quantity AS VARCHAR) AS q FROM transactions")
    return {r.transaction_id: None if r.q is None else int(r.q) for r in rows.itertuples()}


def _load_csv(store, tmp_path, lines: list[str], name: str = "tx.csv"):
    path = tmp_path / name
    path.write_text(TX_HEADER + "".join(line + "\n" for line in lines))
    return store.load("transactions", path)


def _reasons(store) -> dict[int, tuple[str, str]]:
    rej = store.rejects("transactions")
    return {int(r.source_row): (r.reason_code, r.reason) for r in rej.itertuples()}


# -- amounts ------------------------------------------------------------------------------

def test_largest_amounts_round_trip_exactly_from_csv(store, tmp_path):
    rep = _load_csv(store, tmp_path, [
        "T1,C1,2024-01-01,9999999999999.9999,1",
        "T2,C1,2024-01-01,-99999999999999.9999,1",
        "T3,C1,2024-01-01,0.1,1",
        "T4,C1,2024-01-01,12345678901234.5678,1",
        "T5,C1,2024-01-01,1.5e3,1",
    ])
    assert (rep.rows_loaded, rep.rows_rejected) == (5, 0)
    assert _amounts(store) == {
        "T1": Decimal("9999999999999.9999"),
        "T2": Decimal("-99999999999999.9999"),
        "T3": Decimal("0.1"),
        "T4": Decimal("12345678901234.5678"),
        "T5": Decimal("1500"),
    }
    # Before the fix the DOUBLE detour stored 10000000000000.0000.
    assert store.sql("SELECT CAST(amount AS VARCHAR) AS a FROM transactions "
                     "WHERE transaction_id = 'T1'")["a"].item() == "9999999999999.9999"


def test_amounts_with_more_than_four_decimals_round_half_away_from_zero(store, tmp_path):
    _load_csv(store, tmp_path, [
        "T1,C1,2024-01-01,0.00005,1",
        "T2,C1,2024-01-01,-2.00005,1",
        "T3,C1,2024-01-01,1.23454,1",
        "T4,C1,2024-01-01,1.00015,1",
        "T5,C1,2024-01-01,9999999999999.99994,1",
    ])
    assert _amounts(store) == {
        "T1": Decimal("0.0001"),
        "T2": Decimal("-2.0001"),
        "T3": Decimal("1.2345"),
        "T4": Decimal("1.0002"),
        "T5": Decimal("9999999999999.9999"),
    }


def test_amounts_out_of_range_are_quarantined_as_bad_number(store, tmp_path):
    rep = _load_csv(store, tmp_path, [
        "T1,C1,2024-01-01,100000000000000,1",        # line 2: 10^14
        "T2,C1,2024-01-01,99999999999999.99995,1",   # line 3: rounds to 10^14
        "T3,C1,2024-01-01,1e300,1",                  # line 4
        "T4,C1,2024-01-01,inf,1",                    # line 5
        "T5,C1,2024-01-01,0x10,1",                   # line 6
        "T6,C1,2024-01-01,12.5,1",                   # line 7 ok
    ])
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (6, 1, 5)
    reasons = _reasons(store)
    assert {code for code, _ in reasons.values()} == {"bad_number"}
    assert reasons[2][1] == (
        "amount '100000000000000' is outside the amount range "
        "(DECIMAL(18, 4): at most 99999999999999.9999)"
    )
    assert "outside the amount range" in reasons[3][1]
    assert "outside the amount range" in reasons[4][1]
    assert reasons[5][1] == "amount 'inf' is not an amount (a number below 10^14)"
    assert reasons[6][1] == "amount '0x10' is not an amount (a number below 10^14)"


def test_dataframe_amounts_are_exact(store):
    frame = pd.DataFrame({
        "transaction_id": ["F1", "F2", "F3", "F4", "F5"],
        "customer_id": "C1",
        "transaction_date": "2024-01-01",
        "amount": [0.1, 0.30000000000000004, 123.45, 1e13, -7.0],  # float64
    })
    text = pd.DataFrame({
        "transaction_id": ["S1", "S2"], "customer_id": "C1", "transaction_date": "2024-01-01",
        "amount": ["9999999999999.9999", " 42.0001 "],
    })
    dec = pd.DataFrame({
        "transaction_id": ["D1"], "customer_id": "C1", "transaction_date": "2024-01-01",
        "amount": pd.Series([Decimal("9999999999999.9999")], dtype=object),
    })
    f32 = pd.DataFrame({
        "transaction_id": ["G1"], "customer_id": "C1", "transaction_date": "2024-01-01",
        "amount": np.array([0.1], dtype=np.float32),
    })
    for f in (frame, text, dec, f32):
        rep = store.load("transactions", f)
        assert rep.rows_rejected == 0, store.rejects("transactions")
    assert _amounts(store) == {
        "F1": Decimal("0.1"), "F2": Decimal("0.3"), "F3": Decimal("123.45"),
        "F4": Decimal("10000000000000"), "F5": Decimal("-7"),
        "S1": Decimal("9999999999999.9999"), "S2": Decimal("42.0001"),
        "D1": Decimal("9999999999999.9999"),
        "G1": Decimal("0.1"),  # a float32 0.1 is read as its own shortest text, '0.1'
    }


def test_money_totals_are_exact_sums(store, tmp_path):
    _load_csv(store, tmp_path, [f"T{i},C1,2024-01-01,0.1,1" for i in range(1000)])
    total = store.sql("SELECT CAST(sum(amount) AS VARCHAR) AS s FROM transactions")["s"].item()
    assert Decimal(total) == Decimal("100")


# -- whole numbers ------------------------------------------------------------------------

def test_integer_beyond_bigint_is_quarantined_and_the_rest_loads(store, tmp_path):
    rep = _load_csv(store, tmp_path, [
        "T1,C1,2024-01-01,1,9223372036854775808",    # line 2: 2^63
        "T2,C1,2024-01-01,1,9223372036854775807",    # line 3: 2^63 - 1
        "T3,C1,2024-01-01,1,2",
        "T4,C1,2024-01-01,1,99999999999999999999999999",
    ])
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (4, 2, 2)
    assert rep.reasons == {"bad_integer": 2}
    reasons = _reasons(store)
    assert reasons[2] == (
        "bad_integer",
        "quantity '9223372036854775808' is outside the whole-number range "
        "-9223372036854775808 to 9223372036854775807",
    )
    assert reasons[5][0] == "bad_integer"
    assert _quantities(store) == {"T2": 2**63 - 1, "T3": 2}


def test_integers_are_exact_above_two_to_the_53(store, tmp_path):
    rep = _load_csv(store, tmp_path, [
        "T1,C1,2024-01-01,1,9007199254740993",       # 2^53 + 1: a DOUBLE makes it ...992
        "T2,C1,2024-01-01,1,9007199254740993.000",
        "T3,C1,2024-01-01,1,1234567890123456789",
        "T4,C1,2024-01-01,1,9.007199254740993e15",
    ])
    assert rep.rows_rejected == 0, store.rejects("transactions")
    assert _quantities(store) == {
        "T1": 9007199254740993, "T2": 9007199254740993, "T3": 1234567890123456789,
        "T4": 9007199254740993,
    }
    with Store(":memory:") as s:
        s.load("customers", pd.DataFrame({
            "customer_id": ["C1", "C2"], "employees": ["9007199254740993", "-9223372036854775808"],
        }))
        got = s.sql("SELECT CAST(employees AS VARCHAR) AS e FROM customers ORDER BY customer_id")
        assert got["e"].tolist() == ["9007199254740993"]  # C2 is a negative_value
        assert s.rejects("customers")["reason_code"].tolist() == ["negative_value"]


@pytest.mark.parametrize(("text", "expected"), [
    ("3", 3), ("3.0", 3), ("3.", 3), ("+3", 3), ("-0.0", 0), ("007", 7), ("1e3", 1000),
    ("1.5E1", 15), (" 4 ", 4), ("2.50e1", 25),
    ("1.5", None), ("0.1e1", 1), ("1e-2", None), ("0x10", None), ("1_000", None), ("three", None),
    ("1.00000000000000001", None), ("1e30", None), ("inf", None), ("٣", None), ("1 000", None),
])
def test_whole_number_spellings(store, tmp_path, text, expected):
    rep = _load_csv(store, tmp_path, [f'T1,C1,2024-01-01,1,"{text}"'])
    if expected is None:
        assert rep.reasons == {"bad_integer": 1}
    else:
        assert rep.rows_loaded == 1, store.rejects("transactions")
        assert _quantities(store) == {"T1": expected}


def test_dataframe_integers_are_exact(store):
    frame = pd.DataFrame({
        "transaction_id": ["T1", "T2", "T3", "T4"], "customer_id": "C1",
        "transaction_date": "2024-01-01", "amount": 1,
        "quantity": pd.Series([2**63, 9007199254740993, 2**63 - 1, 3], dtype=object),
    })
    rep = store.load("transactions", frame)
    assert (rep.rows_loaded, rep.rows_rejected) == (3, 1)
    assert store.rejects("transactions")["reason_code"].tolist() == ["bad_integer"]
    assert _quantities(store) == {"T2": 9007199254740993, "T3": 2**63 - 1, "T4": 3}
    unsigned = pd.DataFrame({
        "transaction_id": ["U1"], "customer_id": "C1", "transaction_date": "2024-01-01",
        "amount": 1, "quantity": np.array([2**64 - 1], dtype=np.uint64),
    })
    assert store.load("transactions", unsigned).reasons == {"bad_integer": 1}


def test_retry_keeps_exact_values(store, tmp_path):
    """Quarantined raw text is re-typed exactly when retried."""
    with Store(":memory:") as s:
        path = tmp_path / "late.csv"
        path.write_text(TX_HEADER + "T1,C7,2024-01-01,9999999999999.9999,9007199254740993\n")
        assert s.load("transactions", path).reasons == {"unknown_customer": 1}
        s.load("customers", pd.DataFrame({"customer_id": ["C7"]}))
        assert s.retry_rejects("transactions").rows_loaded == 1
        assert _amounts(s) == {"T1": Decimal("9999999999999.9999")}
        assert _quantities(s) == {"T1": 9007199254740993}
