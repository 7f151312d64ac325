"""Property tests of exports: consent, one row per contact, no formulas, manifest = file."""

from __future__ import annotations

import hashlib
import unicodedata

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_analytics.exports import export_segment, verify_export
from crm_analytics.store import Store

FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
EMAILS = ["alice@example.com", "bob@example.org", "cy@x.de"]
PHONES = ["+49 30 1234567", "+44 20 7654321", "+1 555 0100200"]
FORMULA_NAMES = ["=cmd()", "\uff1dcmd()", "+1", "\uff0b1", "\uff0d2", "-2+3", "@SUM(1)", "\uff20SUM",
                 "\u200b=x", " \t=y", "\tTab", "\ufe62" + "5", "\u207c" + "6", "\u2212" + "7", "Ann"]
TEXT_COLUMNS = ["customer_id", "name", "email", "phone", "phone_digits", "segment", "campaign"]


def visible(text: str) -> str:
    """Independent of the package: invisible characters out, NFKC."""
    kept = "".join(c for c in text if c.isspace() or unicodedata.category(c) not in ("Cf", "Cc"))
    return unicodedata.normalize("NFKC", kept)


def email_key(value):
    if not isinstance(value, str):
        return None
    key = "".join(visible(value).split()).casefold()
    return key if "@" in key else None


def phone_key(value):
    if not isinstance(value, str):
        return None
    digits = "".join(c for c in visible(value) if c.isdecimal())
    return digits if len(digits) >= 6 else None


@st.composite
def spelling(draw, base: str) -> str:
    """``base`` in a look-alike spelling: fullwidth, upper case, zero-width, spaces."""
    text = base
    if draw(st.booleans()):
        text = text.upper()
    if draw(st.booleans()):
        text = "".join(FULLWIDTH.get(c, c) if draw(st.booleans()) else c for c in text)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(INVISIBLE)) + text[at:]
    if draw(st.booleans()):
        text = " " + text + "\u00a0"
    return text


names = st.one_of(st.sampled_from(FORMULA_NAMES),
                  st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                          max_size=5))
customer = st.fixed_dictionaries({
    "name": names,
    "email": st.one_of(st.none(), st.sampled_from(EMAILS).flatmap(spelling)),
    "phone": st.one_of(st.none(), st.sampled_from(PHONES).flatmap(spelling)),
    "marketing_opt_in": st.sampled_from([True, True, True, False, None]),
    "risk_band": st.sampled_from(["high", "low"]),
    "clv": st.one_of(st.none(), st.floats(0, 1000)),
})


def components(frame: pd.DataFrame) -> dict[str, int]:
    parent = {c: c for c in frame["customer_id"]}

    def find(c):
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    first: dict[str, str] = {}
    for row in frame.itertuples():
        for key in (("e", email_key(row.email)), ("p", phone_key(row.phone))):
            if key[1] is None:
                continue
            if key in first:
                parent[find(row.customer_id)] = find(first[key])
            else:
                first[key] = row.customer_id
    return {c: find(c) for c in parent}


def formula_start(cell: str) -> bool:
    for c in cell:
        if c in "\t\r\n":
            return True
        if c.isspace() or unicodedata.category(c) in ("Cf", "Cc"):
            continue
        return visible(c)[:1] in ("=", "+", "-", "@", "\u2212")
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(customer, min_size=1, max_size=8), raw=st.booleans(),
       fmt=st.sampled_from(["csv", "parquet"]),
       segments=st.sampled_from([["risk:high"], ["risk:low", "risk:high"], ["risk:high", "risk:low"]]))
def test_export_properties(tmp_path_factory, rows, raw, fmt, segments):
    frame = pd.DataFrame(rows)
    frame.insert(0, "customer_id", [f"C{i}" for i in range(len(frame))])
    contact = frame[["customer_id", "name", "email", "phone", "marketing_opt_in"]]
    store = Store(":memory:")
    if raw:  # stored as given (as by an older loader): the export must normalise itself
        store.con.register("_raw", contact.astype(object))
        store.execute("INSERT INTO customers (customer_id, name, email, phone, marketing_opt_in) "
                      "SELECT customer_id, name, email, phone, marketing_opt_in FROM _raw")
        store.con.unregister("_raw")
    else:
        store.load("customers", contact)
    scores = frame.set_index("customer_id")[["risk_band", "clv"]]
    out = tmp_path_factory.mktemp("export") / f"x.{fmt}"
    report = export_segment(store, segments, out, fmt, scores=scores, campaign="=Spring")

    stored = store.sql("SELECT customer_id, email, phone, marketing_opt_in FROM customers")
    group = components(stored)
    opt_in = stored.set_index("customer_id")["marketing_opt_in"].astype("boolean")
    opted_out = {group[c] for c in opt_in.index[opt_in.eq(False).fillna(False).to_numpy(bool)]}
    consent = set(opt_in.index[opt_in.eq(True).fillna(False).to_numpy(bool)])
    got = (pd.read_parquet(out) if fmt == "parquet"
           else pd.read_csv(out, dtype=str, keep_default_na=False))
    ids = got["customer_id"].tolist()
    assert all(c in consent for c in ids)
    assert not any(group[c] in opted_out for c in ids)
    assert len({group[c] for c in ids}) == len(ids)  # one row per contact (transitively)
    emails = [email_key(e) for e in got["email"] if isinstance(e, str) and e]
    phones = [k for k in (phone_key(p) for p in got["phone"] if isinstance(p, str)) if k]
    assert len(set(emails)) == len(emails) and len(set(phones)) == len(phones)
    for column in TEXT_COLUMNS:
        for cell in got[column]:
            assert not (isinstance(cell, str) and formula_start(cell)), (column, cell)
    manifest = verify_export(out)
    assert manifest["rows"] == len(got) == report.rows
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() == report.sha256
    eligible = {group[c] for c in consent if c in set(scores.index) and group[c] not in opted_out}
    members = {c for c in scores.index if scores.loc[c, "risk_band"] in [s[5:] for s in segments]}
    assert len(ids) == len({group[c] for c in members if c in consent and group[c] in eligible})
    store.close()
