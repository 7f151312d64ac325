"""E-mail and phone normalisation: one normal form at load (set-based) and in Python."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_analytics.store import Store
from crm_analytics.store.cleansing import (
    contact_digits,
    normalize_contact,
    normalize_email,
)

FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\x01"]


def fullwidth(text: str) -> str:
    return "".join(FULLWIDTH.get(c, c) for c in text)


@pytest.mark.parametrize("variant", [
    fullwidth("alice@example.com"),
    *(f"ali{z}ce@example.com" for z in INVISIBLE),
    "\ufeffalice@example.com\u2060",
    "alice@example\u200b.com",
    " alice@example.com\u3000",
])
def test_lookalike_e_mails_normalise_to_one(variant):
    assert normalize_contact(variant) == "alice@example.com"
    assert normalize_email(variant.upper()) == "alice@example.com"


def test_phone_normal_form_and_digits():
    assert normalize_contact("+49\u200b 30 1234") == "+49 30 1234"
    assert normalize_contact(fullwidth("+49 30 1234")) == "+49 30 1234"
    assert normalize_contact("+49\u00a0\u00a030\t\t1234") == "+49 30 1234"
    assert normalize_contact("\ufe62" + "49 30 1234") == "+49 30 1234"  # small plus sign
    assert contact_digits(fullwidth("+49 (30) 1234")) == "49301234"
    assert contact_digits("\u0664\u0669 \u0663\u0660") == "4930"  # Arabic-Indic digits
    assert contact_digits("\u200b") == "" and normalize_contact("\u200b\u200d") == ""


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=100, deadline=None)
@given(text)
def test_normal_form_is_idempotent_and_clean(value):
    once = normalize_contact(value)
    assert normalize_contact(once) == once
    assert unicodedata.is_normalized("NFKC", once)
    assert once == " ".join(once.split())
    assert not any(unicodedata.category(c) in ("Cf", "Cc") for c in once)
    assert normalize_email(normalize_email(value)) == normalize_email(value)


def test_loader_normalises_e_mail_and_phone_before_validation():
    store = Store(":memory:")
    report = store.load("customers", pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
        "email": [fullwidth("Alice@Example.com"), "ali\u200bce@example.com", "\u2060\ufeff",
                  "bad\u200b@x", "ok@x.com", "a\u00adb@x.com", "x y@x.com"],
        "phone": ["+49\u200b 30 1234", fullwidth("+49 30 1234"), "\u200b", None,
                  "+1\t\t555\u00a0\u00a01234", "\ufe62" + "1 555", "+49 30 1234"],
    }))
    got = store.sql("SELECT customer_id, email, phone FROM customers ORDER BY 1")
    rows = {r.customer_id: (r.email, r.phone) for r in got.itertuples()}
    assert rows["C1"] == ("alice@example.com", "+49 30 1234")
    assert rows["C2"] == ("alice@example.com", "+49 30 1234")
    assert pd.isna(rows["C3"][0]) and pd.isna(rows["C3"][1])  # invisible only: empty
    assert rows["C5"] == ("ok@x.com", "+1 555 1234")
    assert rows["C6"] == ("ab@x.com", "+1 555")
    # Invalid after normalisation: still rejected, with the reason.
    rejects = store.rejects("customers")
    assert report.rows_rejected == 2 and set(rejects["record_key"]) == {"C4", "C7"}
    assert set(rejects["reason_code"]) == {"bad_email"}


def test_loader_and_python_agree():
    values = ["\u200b" + fullwidth("Bob") + "@x.com", "B\u00adob@X.com", " bob@x.com ",
              "\uff42ob@x.com\u200d", "+44\u2060 20 " + fullwidth("7654321")]
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(len(values))],
        "email": values[:-1] + [None], "phone": values,
    }))
    got = store.sql("SELECT customer_id, email, phone FROM customers ORDER BY 1")
    for i, row in enumerate(got.itertuples()):
        if i < len(values) - 1:
            assert row.email == normalize_contact(values[i]).lower()
        assert row.phone == normalize_contact(values[i])
