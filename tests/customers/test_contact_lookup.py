"""The contact lookup table: kept equal to its definition through customer loads and upserts,
and a search through it returns exactly what the scan of the customers returns."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from crm_analytics.customers import find_customers
from crm_analytics.customers import search as search_module
from crm_analytics.store import Store, contact_lookup
from crm_analytics.store.cleansing import register_functions
from crm_analytics.store.queries import load_query

PHONES = [
    "+49 30 1234567", "030 1234567", "0049-30-123 4567", "+1 (202) 555-0143", "202 555 0143",
    "+44 20 7946 0958", "020 7946 0958", "+４９ ３０ ７６５４３２１", "+٩٧١ ٤ ٣٢١ ٥٦٧٨", "+971 4 321 5678",
    "555-0143", "123456", "0123456", "+33 1 23 45 67 89", "01 23 45 67 89", None, "", "n/a",
    "+49 30 1234567",  # shared with the first customer
]


def _customers(seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(300):
        phone = PHONES[i % len(PHONES)] if i < 60 else (
            f"+{rng.choice(['1', '44', '49', '33'])} {rng.randint(10, 999)} {rng.randint(1000, 9999999)}")
        rows.append({"customer_id": f"C{i:04d}" if i % 50 else f"c{i:04d}ß", "name": f"Name {i}",
                     "email": None if i % 17 == 0 else f"User{i % 250}.{rng.choice('abc')}@Example.ORG",
                     "phone": phone})
    return pd.DataFrame(rows)


def _from_scratch(store: Store) -> pd.DataFrame:
    with store.connection() as con:
        register_functions(con)  # the SQL function the phone keys use
        return con.execute(f"SELECT * FROM ({load_query('store/sql/contact_lookup.sql')}) "
                           "ORDER BY kind, key, customer_key").df()


def _kept(store: Store) -> pd.DataFrame:
    return store.sql("SELECT kind, key, customer_key FROM contact_lookup ORDER BY kind, key, customer_key")


@pytest.fixture(scope="module")
def store():
    with Store(":memory:") as s:
        s.load("customers", _customers(1))
        yield s


def test_loads_and_upserts_keep_the_table_exact(store):
    assert contact_lookup.table_current(store)
    pd.testing.assert_frame_equal(_kept(store), _from_scratch(store))
    phones = set(store.sql("SELECT key FROM contact_lookup WHERE kind = 'phone'")["key"])
    assert "765432103" in phones  # '030 1234567': digits 0301234567, leading 0 dropped, reversed
    assert "76543210394" in phones  # '+49 30 1234567'
    assert "87651234179" in phones  # '+٩٧١ ٤ ٣٢١ ٥٦٧٨': Arabic-Indic digits read as digits
    # Upsert: new e-mails and phones for some, removed for others; new customers.
    changed = _customers(1).iloc[40:120].copy()
    changed["email"] = [None if i % 3 == 0 else f"new{i}@x.org" for i in range(len(changed))]
    changed["phone"] = [None if i % 4 == 0 else f"+49 89 {1000000 + i}" for i in range(len(changed))]
    extra = pd.DataFrame({"customer_id": ["N1", "N2"], "email": ["n1@x.org", None],
                          "phone": [None, "0800 111 222"]})
    store.load("customers", pd.concat([changed, extra]), mode="upsert")
    assert contact_lookup.table_current(store)
    pd.testing.assert_frame_equal(_kept(store), _from_scratch(store))
    # Customers created by a transactions load have no contacts, and the table stays current.
    store.load("transactions", pd.DataFrame({
        "transaction_id": ["T1"], "customer_id": ["NEWBIE"], "transaction_date": ["2024-01-01"],
        "amount": [1.0]}), unknown_customers="create")
    assert contact_lookup.table_current(store)
    pd.testing.assert_frame_equal(_kept(store), _from_scratch(store))


def _queries(store: Store) -> list[tuple[str, str]]:
    rng = random.Random(5)
    phones = store.sql("SELECT phone FROM customers WHERE phone IS NOT NULL")["phone"].tolist()
    out = [(q, "phone") for q in ["+49 30 1234567", "030 1234567", "4930 1234 567", "1234567",
                                  "00 1 202 555 0143", "555 0143", "123456", "0123456",
                                  "+971 4 321 5678", "+49 30 7654321", "99 99 99 99 99"]]
    for phone in rng.sample(phones, 40):
        digits = "".join(c for c in phone if c.isdigit())
        if len(digits) >= 6:
            out.append(("00 " + " ".join(digits[i:i + 2] for i in range(0, len(digits), 2)), "phone"))
            out.append((digits[-7:], "phone"))
    emails = store.sql("SELECT email FROM customers WHERE email IS NOT NULL")["email"].tolist()
    for email in rng.sample(emails, 30):
        out += [(email.upper(), "email"), (email[: rng.randint(1, len(email))], "email")]
    ids = store.sql("SELECT customer_id FROM customers")["customer_id"].tolist()
    for cid in rng.sample(ids, 20):
        out += [(cid, "id"), (cid.lower(), "id"), (cid[:3], "id"), (cid[:2], "id")]
    return out + [("nobody@nowhere.org", "email"), ("USER1", "email"), ("c00", "id"), ("ZZZ", "id")]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as None and columns as objects (the two paths differ only in dtypes)."""
    return frame.astype(object).where(frame.notna(), None)


def test_search_through_the_table_equals_the_scan(store, monkeypatch):
    queries = _queries(store)
    assert len(queries) > 100
    fast = [find_customers(store, q, by=kind, limit=50) for q, kind in queries]
    monkeypatch.setattr(search_module.contact_lookup, "table_current", lambda s: False)
    slow = [find_customers(store, q, by=kind, limit=50) for q, kind in queries]
    found = 0
    for (q, _), a, b in zip(queries, fast, slow, strict=True):
        pd.testing.assert_frame_equal(_plain(a), _plain(b), obj=q)
        found += len(a) > 0
    assert found > 80  # the queries do find customers


def test_a_hand_written_customer_makes_the_search_scan():
    with Store(":memory:") as store:
        store.load("customers", _customers(2).head(50))
        store.execute("INSERT INTO customers (customer_id, phone, customer_key) "
                      "VALUES ('HAND', '+49 30 1234567', 9999)")
        assert not contact_lookup.table_current(store)
        assert "HAND" in find_customers(store, "030 1234567").index  # the scan sees it
