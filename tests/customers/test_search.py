"""Customer search: by id, e-mail, phone (any formatting) and name (case and accents ignored)."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_analytics.customers import find_customers, search_kind
from crm_analytics.errors import InputError
from crm_analytics.store import Store
from tests.customers.scored import EMPTY, EMPTY_NAME, HOSTILE, TICKETS_ONLY, scored_store

# Tests on the shared scored store (built once per session, 10-20 s): slow.
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def scored():
    return scored_store()


@pytest.fixture(scope="module")
def store(scored):
    with Store(scored.path, read_only=True) as s, s.session():
        yield s


@pytest.mark.parametrize("query", [
    "+49 30 1234567", "+49 (30) 123-45-67", "0049 30 1234567", "+49-30-1234567", "4930 1234 567",
    "030 1234567", "(030) 123 45 67",  # the national form: same number, other prefix
    "+４９ ３０ １２３４５６７",  # fullwidth digits, as a phone keyboard may send them
])
@slow
def test_phone_in_any_format_finds_the_customer(store, query):
    found = find_customers(store, query)
    assert found.index[0] == EMPTY, found
    assert found["matched_on"].iloc[0] == "phone"
    assert found["match"].iloc[0] == ("same number" if not query.startswith(("030", "(030)"))
                                      else "same number, other prefix")


@slow
def test_phone_of_every_synthetic_customer_in_another_format(store, scored):
    customers = scored.tables["customers"]
    digits_of = customers["phone"].fillna("").map(lambda p: "".join(c for c in p if c.isdigit()))
    for phone, digits in zip(customers["phone"].head(40), digits_of.head(40), strict=True):
        if not digits:
            continue
        reformatted = "00" + " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))
        found = find_customers(store, reformatted, by="phone")
        expected = set(customers.loc[digits_of == digits, "customer_id"])  # planted shared phones too
        assert expected and expected <= set(found.index), (phone, reformatted)


@slow
def test_email_in_upper_case_with_spaces(store):
    found = find_customers(store, "   ZOE.ANGSTROM@EXAMPLE.ORG \t")
    assert found.index.tolist()[:1] == [EMPTY]
    assert found[["matched_on", "match"]].iloc[0].tolist() == ["email", "exact"]
    partial = find_customers(store, "ZOE.ANGSTROM@", by="email")
    assert partial["match"].iloc[0] == "address prefix"


@slow
def test_name_without_accents_any_case_partial_and_ranked(store):
    for query in ("zoe angstrom", "ANGSTROM", "muller zoe", "Zoë Ångström-Müller", "angst"):
        found = find_customers(store, query)
        assert EMPTY in found.index, query
    exact = find_customers(store, "zoe angstrom-muller")
    assert exact.index[0] == EMPTY and exact["match"].iloc[0] == "exact"
    assert exact["name"].iloc[0] == EMPTY_NAME


@slow
def test_name_ranking_puts_whole_and_leading_matches_first(store, scored):
    customers = scored.tables["customers"]
    last = customers["name"].dropna().str.split().str[-1].value_counts().index[0]  # a common name
    found = find_customers(store, last, limit=50)
    assert len(found) > 1
    assert found["rank"].tolist() == list(range(1, len(found) + 1))
    order = {"exact": 0, "name prefix": 1, "word prefix": 2, "partial": 3}
    qualities = found["match"].map(order).tolist()
    assert qualities == sorted(qualities)
    holds = customers.set_index("customer_id").loc[found.index, "name"].str.lower().str.contains(last.lower())
    assert holds.all()


@slow
def test_id_search_exact_first_and_other_case(store):
    found = find_customers(store, TICKETS_ONLY)
    assert found.index[0] == TICKETS_ONLY and found["match"].iloc[0] == "exact"
    assert find_customers(store, "z-tickets").index[0] == TICKETS_ONLY
    prefix = find_customers(store, "C00001", by="id", limit=5)
    assert len(prefix) == 5 and all(i.startswith("C00001") for i in prefix.index)


@slow
@pytest.mark.parametrize("query", ["' OR 1=1 --", "%", "_", "x'); DROP TABLE customers; --", "\\", "$1"])
def test_user_input_never_reaches_the_sql(store, query):
    found = find_customers(store, query)
    assert found.empty, found
    assert int(store.sql("SELECT count(*) AS n FROM customers")["n"].iloc[0]) > 300


@slow
def test_hostile_name_comes_back_as_data(store):
    found = find_customers(store, "onerror")
    assert found.index.tolist() == [HOSTILE]


@slow
def test_bad_searches_are_refused_in_one_line(store):
    for query, kwargs, message in [("", {}, "needs some text"), ("x" * 201, {}, "too long"),
                                   ("ann", {"limit": 0}, "'limit' parameter"),
                                   ("ann", {"by": "fax"}, "'by' parameter"),
                                   ("12-34", {"by": "phone"}, "at least 6 digits")]:
        with pytest.raises(InputError, match=message):
            find_customers(store, query, **kwargs)


@slow
def test_nothing_found_is_an_empty_frame_with_the_columns(store):
    found = find_customers(store, "nobody-at-all@nowhere.example")
    assert found.empty and "match" in found.columns and found.index.name == "customer_id"


def test_search_kind():
    assert [search_kind(q) for q in ("a@b.c", "+1 202 555 0143", "C000123", "12-34", "Ann")] == [
        "email", "phone", "name", "name", "name"]


def test_phone_written_in_another_script_is_found():
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({"customer_id": ["A1", "A2"], "name": ["Amal", "Other"],
                                          "phone": ["+٩٧١ ٤ ٣٢١ ٥٦٧٨", "+971 4 111 2222"]}))
    assert find_customers(store, "+971 4 321 5678").index.tolist() == ["A1"]
