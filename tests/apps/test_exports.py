"""Marketing exports: consent, one row per contact, priority, formula safety, atomic files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_analytics.datasets import synthetic
from crm_analytics.errors import InputError
from crm_analytics.exports import (
    ExportIntegrityError,
    email_key,
    export_segment,
    neutralize_formula,
    phone_key,
    verify_export,
)
from crm_analytics.segmentation import define_segment, segment_members, size_segments
from crm_analytics.store import Store
from crm_analytics.store.attributes import customer_attributes

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
TEXT_COLUMNS = ["customer_id", "name", "email", "phone", "phone_digits", "segment"]


def read_export(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # keep_default_na=False: an empty cell stays '', nothing is re-typed behind our back.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_of(path: Path) -> dict:
    return json.loads(Path(str(path) + ".manifest.json").read_text(encoding="utf-8"))


def formula_cells(frame: pd.DataFrame) -> list[str]:
    """Cells a spreadsheet would evaluate: text starting (after spaces) with a trigger."""
    bad = []
    for column in frame.columns:
        for value in frame[column].astype(object):
            if not isinstance(value, str) or not value:
                continue
            try:
                float(value)  # a number cell (e.g. -0.5) is data, not a formula
                continue
            except ValueError:
                pass
            if value.lstrip(" ").startswith(FORMULA_START):
                bad.append(f"{column}={value!r}")
    return bad


# --------------------------------------------------------------------------- hand-made case


@pytest.fixture
def hand():
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({
        "customer_id": ["C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10", "C11"],
        # The loader trims " =lead" to "=lead".
        "name": ["=cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@SUM(1)", "\tTab", " =lead", "Plain",
                 "Olga", "Piet", "Quinn", "Rita"],
        "email": ["a@x.com", "A@X.COM ", "c@x.com", "d@x.com", "e@x.com", "-f@x.com", None,
                  "h@x.com", "i@x.com", "j@x.com", "k@x.com"],
        "phone": ["+49 30 1111111", "+44 20 2222222", "0049 30 1111111", "+1 555 3333333",
                  "+1 555 4444444", "=1+1", "+49 (30) 111-1111", "+31 6 5555555", "+31 6 6666666",
                  "+33 1 7777777", "+33 1 7777777"],
        "marketing_opt_in": [True, True, True, True, None, True, True, False, True, True, True],
    }))
    # Contacts: C01-C02 share an e-mail, C01-C03-C07 share a phone (two spellings) -> one
    # contact {C01, C02, C03, C07}; C10-C11 share a phone; C08 opted out; C05 consent NULL.
    scores = pd.DataFrame({
        "clv": [100.0, 300.0, 200.0, 50.0, 500.0, 10.0, np.nan, 80.0, 90.0, 60.0, 60.0],
        "churn_probability": [0.9, 0.2, 0.7, 0.1, 0.5, -0.0, 0.3, 0.8, 0.6, 0.4, 0.4],
        "risk_band": ["high", "low", "high", "low", "medium", "low", "low", "high", "medium", "low",
                      "low"],
        "region": ["EMEA"] * 11,
    }, index=pd.Index([f"C{i:02d}" for i in range(1, 12)], name="customer_id"))
    scores.attrs.update({"run_id": "20250531T010000-abc123", "as_of": "2025-05-31"})
    yield store, scores
    store.close()


def test_normalisation_helpers():
    assert email_key(pd.Series([" A@X.COM ", "a@x.com", "", None])).tolist() == [
        "a@x.com", "a@x.com", None, None]
    assert phone_key(pd.Series(["+49 30 1111111", "0049 30 1111111", "+49 (30) 111-1111",
                                "030 1111111", "n/a", "123"])).tolist() == [
        "+49301111111", "+49301111111", "+49301111111", "0301111111", None, None]
    for text in ("=1", "+1", "-1", "@a", "\tx", "\rx", "\nx", "  =x"):
        assert neutralize_formula(text) == "'" + text
    assert neutralize_formula("a=b") == "a=b" and neutralize_formula(-1.5) == -1.5


def test_hand_case_consent_dedup_priority_and_survivors(hand, tmp_path):
    store, scores = hand
    define_segment(store, "risky", "risk_band = 'high'")
    report = export_segment(store, ["risky", "risk:low", "risk:medium"], tmp_path / "c.csv",
                            scores=scores, campaign="Spring")
    got = read_export(tmp_path / "c.csv").set_index("customer_id")
    # {C01,C02,C03,C07} is one contact; C01 and C03 are in "risky", the first segment, so
    # the survivor is the one of them with the higher CLV: C03 (200 > 100), not C02 (300, low).
    assert list(got.index) == ["C03", "C04", "C06", "C10", "C09"]
    assert got.loc["C03", "segment"] == "risky" and got.loc["C09", "segment"] == "risk:medium"
    # C10/C11 share a phone and a CLV: the lower customer_id survives.
    assert "C11" not in got.index
    assert report.suppressed_no_consent == 2  # C08 (FALSE), C05 (NULL)
    assert report.suppressed_contact_opt_out == 0
    assert report.merged_duplicates == 4  # C01, C02, C07 into C03; C11 into C10
    assert report.members == 11 == (report.rows + report.suppressed_no_consent
                                    + report.suppressed_contact_opt_out + report.merged_duplicates)
    assert report.segment_counts == {"risky": 1, "risk:low": 3, "risk:medium": 1}
    assert got["campaign"].eq("Spring").all()
    assert list(got.columns) == ["name", "email", "phone", "phone_digits", "segment", "campaign",
                                 "clv", "churn_probability", "risk_band"]
    assert got.loc["C03", "phone_digits"] == "49301111111"


def test_explicit_opt_out_suppresses_the_whole_contact(hand, tmp_path):
    store, scores = hand
    store.load("customers", pd.DataFrame({"customer_id": ["C12"], "email": ["I@x.com"],
                                          "marketing_opt_in": [False]}))
    report = export_segment(store, "risk:medium", tmp_path / "m.csv", scores=scores)
    # C09 consented but shares i@x.com with C12, who opted out; C05 has no consent.
    assert report.rows == 0 and report.suppressed_contact_opt_out == 1
    assert report.suppressed_no_consent == 1


def test_every_text_cell_is_formula_safe_csv_and_parquet(hand, tmp_path):
    store, scores = hand
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"all.{fmt}"
        export_segment(store, ["risk:low", "risk:high", "risk:medium"], out, fmt, scores=scores)
        got = read_export(out).set_index("customer_id", drop=False)
        assert formula_cells(got) == []
        assert got.loc["C06", "name"] == "'=lead" and got.loc["C06", "email"] == "'-f@x.com"
        assert got.loc["C06", "phone"] == "'=1+1" and got.loc["C04", "name"] == "'@SUM(1)"
        assert got.loc["C04", "phone"] == "'+1 555 3333333"
        assert got.loc["C04", "phone_digits"] == "15553333333"


def test_manifest_matches_the_file(hand, tmp_path):
    store, scores = hand
    define_segment(store, "risky", "risk_band = 'high'", description="churn risk")
    out = tmp_path / "sub" / "campaign.csv"
    report = export_segment(store, ["risky", "risk:low"], out, scores=scores)
    manifest = manifest_of(out)
    frame = read_export(out)
    assert manifest["rows"] == len(frame) == report.rows
    assert manifest["sha256"] == sha256(out) == report.sha256
    assert manifest["segment_counts"] == frame["segment"].value_counts().to_dict()
    assert [s["rows"] for s in manifest["segments"]] == [
        int((frame["segment"] == s).sum()) for s in ("risky", "risk:low")]
    assert manifest["segments"][0] == {"name": "risky", "kind": "custom",
                                       "definition": "risk_band = 'high'",
                                       "description": "churn risk", "priority": 1, "rows": 1}
    assert manifest["segments"][1]["definition"] == "risk_band = 'low'"
    assert manifest["run_id"] == "20250531T010000-abc123" and manifest["as_of"] == "2025-05-31"
    assert manifest["suppressed_no_consent"] == report.suppressed_no_consent
    assert manifest["merged_duplicates"] == report.merged_duplicates
    assert manifest["package_version"] and manifest["created_at"]
    assert manifest["file"] == "campaign.csv" and manifest["format"] == "csv"
    assert report.manifest_path == Path(str(out) + ".manifest.json")
    assert "<table>" in report._repr_html_() and "contacts written" in report.summary()


def test_atomic_write_keeps_the_previous_export(hand, tmp_path, monkeypatch):
    store, scores = hand
    out = tmp_path / "a.csv"
    export_segment(store, "risk:low", out, scores=scores)
    before, manifest_before = out.read_bytes(), manifest_of(out)

    def broken_to_csv(self, path, *args, **kwargs):
        Path(path).write_text("customer_id,name\nC1,partial")  # half a file, then the disk fails
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError, match="disk full"):
        export_segment(store, "risk:high", out, scores=scores)
    monkeypatch.undo()
    assert out.read_bytes() == before and manifest_of(out) == manifest_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.csv.manifest.json"]
    # A failure at the rename leaves no temporary file either, and no new file.
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("rename failed")))
    with pytest.raises(OSError, match="rename failed"):
        export_segment(store, "risk:high", tmp_path / "b.csv", scores=scores)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.csv.manifest.json"]


def test_input_errors(hand, tmp_path):
    store, scores = hand
    with pytest.raises(InputError, match="listed twice"):
        export_segment(store, ["risk:low", "RISK:low"], tmp_path / "x.csv", scores=scores)
    with pytest.raises(InputError, match="format must be one of"):
        export_segment(store, "risk:low", tmp_path / "x.xlsx", "xlsx", scores=scores)
    with pytest.raises(InputError, match="no segment called 'nope'"):
        export_segment(store, "nope", tmp_path / "x.csv", scores=scores)
    with pytest.raises(InputError, match="invalid segment name"):
        export_segment(store, "x'; DROP TABLE customers; --", tmp_path / "x.csv", scores=scores)
    with pytest.raises(InputError, match="is a directory"):
        export_segment(store, "risk:low", tmp_path, scores=scores)
    with pytest.raises(InputError, match=r"columns \['email'\] cannot be exported"):
        export_segment(store, "risk:low", tmp_path / "x.csv", scores=scores, columns=["email"])
    with pytest.raises(InputError, match="at least one segment"):
        export_segment(store, [], tmp_path / "x.csv", scores=scores)
    assert not (tmp_path / "x.csv").exists() and len(store.table("customers")) == 11


def test_chosen_columns_and_lazy_scores(hand, tmp_path, monkeypatch):
    store, scores = hand
    import crm_analytics.exports as exports

    monkeypatch.setattr(exports, "latest_scores", lambda s: scores)
    report = export_segment(store, "risk:low", tmp_path / "l.parquet", "parquet",
                            columns=["region", "clv"])
    got = read_export(tmp_path / "l.parquet")
    assert list(got.columns) == ["customer_id", "name", "email", "phone", "phone_digits", "segment",
                                 "region", "clv"]
    assert report.run_id == "20250531T010000-abc123"


# --------------------------------------------------------------------------- synthetic data


@pytest.fixture(scope="module")
def synthetic_store():
    data = synthetic.generate(n_customers=1500, seed=11,
                              params={"shared_contact_rate": 0.06, "marketing_opt_in_rate": 0.7})
    store = Store(":memory:")
    store.load_all(data.tables())
    attrs = customer_attributes(store, "2025-05-31")
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({
        "size_segment": size_segments(attrs),
        "clv": np.round(rng.gamma(1.5, 400.0, len(attrs)), 2),
        "churn_probability": rng.uniform(0, 1, len(attrs)),
        "region": attrs["region"],
    }, index=attrs.index)
    scores["risk_band"] = pd.cut(scores["churn_probability"], [0, 0.3, 0.6, 1.0],
                                 labels=["low", "medium", "high"], include_lowest=True).astype(str)
    yield data, store, scores
    store.close()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_synthetic_export_guarantees(synthetic_store, tmp_path, fmt):
    data, store, scores = synthetic_store
    define_segment(store, "EMEA high risk", "risk_band = 'high' and region = 'EMEA'")
    out = tmp_path / f"campaign.{fmt}"
    segments = ["EMEA high risk", "size:Consumer", "size:Small/medium"]
    report = export_segment(store, segments, out, fmt, scores=scores)
    got = read_export(out)
    customers = store.table("customers").set_index("customer_id")

    # Zero customers without consent.
    assert customers.loc[got["customer_id"], "marketing_opt_in"].eq(True).all()
    # Zero repeated e-mails or phones (normalised), and no planted shared pair both present.
    assert not email_key(customers.loc[got["customer_id"], "email"]).dropna().duplicated().any()
    assert not phone_key(customers.loc[got["customer_id"], "phone"]).dropna().duplicated().any()
    shared = data.truth.shared_contacts
    exported = set(got["customer_id"])
    assert not any(a in exported and b in exported
                   for a, b in zip(shared["customer_id_a"], shared["customer_id_b"], strict=True))
    # Zero formula-leading cells (phones start with '+', so every one is neutralised).
    assert formula_cells(got) == []
    assert got["phone"].str.startswith("'+").all()
    # One segment per contact, in priority order; counts agree everywhere.
    assert got["customer_id"].is_unique
    manifest = manifest_of(out)
    assert manifest["rows"] == len(got) == report.rows > 100
    assert manifest["segment_counts"] == {s: int((got["segment"] == s).sum()) for s in segments}
    assert manifest["sha256"] == sha256(out)
    assert report.suppressed_no_consent > 0 and report.merged_duplicates > 0
    members = set().union(*(segment_members(store, s, scores) for s in segments))
    assert report.members == len(members)
    emea_high = set(scores.index[(scores["risk_band"] == "high") & (scores["region"] == "EMEA")])
    assert set(got.loc[got["segment"] == "EMEA high risk", "customer_id"]) <= emea_high
    # Deterministic: the same export twice gives the same bytes (the manifest differs in time only).
    again = tmp_path / f"again.{fmt}"
    export_segment(store, segments, again, fmt, scores=scores)
    if fmt == "csv":
        assert again.read_bytes() == out.read_bytes()
    else:
        pd.testing.assert_frame_equal(read_export(again), got)


# --------------------------------------------------------------------------- score column registry


def test_exportable_columns_come_from_the_registry(hand, tmp_path):
    from crm_analytics.exports import EXPORTABLE_COLUMNS, KEY_SCORE_COLUMNS
    from crm_analytics.store.score_columns import SCORE_COLUMNS

    assert tuple(c.name for c in SCORE_COLUMNS if c.exportable) == EXPORTABLE_COLUMNS
    assert set(KEY_SCORE_COLUMNS) <= set(EXPORTABLE_COLUMNS)
    assert "name" not in EXPORTABLE_COLUMNS and "marketing_opt_in" not in EXPORTABLE_COLUMNS
    store, scores = hand
    # a column the scores have but the registry does not list is not exported
    with pytest.raises(InputError, match=r"columns \['colour'\] cannot be exported; score columns: \["):
        export_segment(store, "risk:low", tmp_path / "x.csv", scores=scores.assign(colour="red"),
                       columns=["colour"])
    with pytest.raises(InputError, match=r"columns \['marketing_opt_in'\] cannot be exported"):
        export_segment(store, "risk:low", tmp_path / "x.csv",
                       scores=scores.assign(marketing_opt_in=True), columns=["marketing_opt_in"])
    report = export_segment(store, "risk:low", tmp_path / "ok.csv", scores=scores.assign(revenue_365d=1.0),
                            columns=["revenue_365d", "region"])
    assert report.columns[-2:] == ["revenue_365d", "region"]


# --------------------------------------------------------------------------- look-alike contacts


FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}


def fullwidth(text: str) -> str:
    return "".join(FULLWIDTH.get(c, c) for c in text)


def lookalike_store(raw: bool) -> tuple[Store, pd.DataFrame]:
    """C1 opted out; C2-C6 share its e-mail or phone in look-alike spellings."""
    rows = [
        ("C1", "Alice", "alice@example.com", "+49 30 1234567", False),
        ("C2", "Alice 2", fullwidth("alice@example.com"), None, True),
        ("C3", "Alice 3", "ali\u200bce@example.com", None, True),
        ("C4", "Alice 4", "\ufeffALICE@example.com\u2060", None, True),
        ("C5", "Bob", "bob@example.com", "+49\u200b 30 1234567", True),
        ("C6", "Cy", "cy@example.com", fullwidth("+49 30 1234567"), True),
        ("C7", "Dee", "dee@example.com", "+49 30 7654321", True),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "name", "email", "phone", "marketing_opt_in"])
    store = Store(":memory:")
    if raw:  # values stored before the loader normalised them: the export normalises itself
        store.con.register("_raw_customers", frame)
        store.execute("INSERT INTO customers (customer_id, name, email, phone, marketing_opt_in) "
                      "SELECT customer_id, name, email, phone, marketing_opt_in FROM _raw_customers")
        store.con.unregister("_raw_customers")
    else:
        report = store.load("customers", frame)
        assert report.rows_rejected == 0
    scores = pd.DataFrame({"risk_band": ["high"] * len(frame)},
                          index=pd.Index(frame["customer_id"], name="customer_id"))
    return store, scores


@pytest.mark.parametrize("raw", [False, True], ids=["loaded", "stored-raw"])
def test_look_alike_contacts_of_an_opt_out_are_suppressed(raw, tmp_path):
    store, scores = lookalike_store(raw)
    report = export_segment(store, "risk:high", tmp_path / "x.csv", scores=scores)
    got = read_export(report.path)
    assert got["customer_id"].tolist() == ["C7"]
    assert report.suppressed_contact_opt_out == 5 and report.suppressed_no_consent == 1


def test_look_alike_contacts_are_one_contact_and_written_normalised(tmp_path):
    store, scores = lookalike_store(raw=True)
    store.execute("UPDATE customers SET marketing_opt_in = TRUE")
    report = export_segment(store, "risk:high", tmp_path / "x.csv", scores=scores)
    got = read_export(report.path)
    # C1-C6 are one contact (e-mail and phone look-alikes); C7 another.
    assert report.rows == 2 and report.merged_duplicates == 5
    assert got["customer_id"].tolist() == ["C1", "C7"]
    assert got["email"].tolist() == ["alice@example.com", "dee@example.com"]
    assert got["phone"].tolist() == ["'+49 30 1234567", "'+49 30 7654321"]
    assert got["phone_digits"].tolist() == ["49301234567", "49307654321"]
    assert email_key(pd.Series([fullwidth("A@X.COM"), "a\u200d@x.com"])).tolist() == ["a@x.com"] * 2
    assert phone_key(pd.Series(["\ufe62" + "49 30 1111111", fullwidth("0049 30 1111111")])).tolist() == [
        "+49301111111", "+49301111111"]


@pytest.mark.parametrize("text", [
    "\uff1dcmd()", "\uff0b1", "\uff0d2", "\uff20SUM(1)", "\ufe62" + "1", "\ufe63" + "2", "\u2212" + "3",
    "\ufe66" + "1+1", "\ufe6b" + "x", "\u207a" + "1", "\u207b" + "1", "\u207c" + "1",
    "\u200b=cmd()", "\ufeff+1", " \u2060 -2", "\u00a0@x", "\u3000\uff1dx", "\u200b\tTab", "\u00ad\rx",
])
def test_look_alike_formula_starts_are_neutralised(text):
    assert neutralize_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["Anna", "a=b", "\u00e9=1", "'=x", "\u2010dash", "", "\u200b"])
def test_harmless_text_is_left_alone(text):
    assert neutralize_formula(text) == text


def test_look_alike_formulas_in_the_file(tmp_path):
    store = Store(":memory:")
    names = ["\uff1dcmd()", "\uff0b1", "\uff0d2", "\uff20SUM", "\u200b=x", "\u2212" + "3", "Plain"]
    ids = [f"C{i}" for i in range(len(names))]
    store.load("customers", pd.DataFrame({
        "customer_id": ids, "name": names, "email": [f"c{i}@x.com" for i in range(len(names))],
        "phone": [fullwidth("+49 30 123456") + str(i) for i in range(len(names))],
        "marketing_opt_in": True}))
    scores = pd.DataFrame({"risk_band": "high"}, index=pd.Index(ids, name="customer_id"))
    for fmt in ("csv", "parquet"):
        report = export_segment(store, "risk:high", tmp_path / f"x.{fmt}", fmt, scores=scores)
        got = read_export(report.path).set_index("customer_id")
        assert got["name"].tolist() == ["'" + n for n in names[:-1]] + ["Plain"]
        assert got["phone"].str.startswith("'+49 30 123456").all()


# --------------------------------------------------------------------------- file and manifest together


def test_crash_between_the_renames_is_detected_and_repaired(hand, tmp_path, monkeypatch):
    store, scores = hand
    out = tmp_path / "a.csv"
    export_segment(store, "risk:low", out, scores=scores)
    assert verify_export(out)["rows"] == len(read_export(out))
    real_replace, calls = os.replace, []

    def replace_then_crash(src, dst):
        calls.append(dst)
        if len(calls) > 1:
            raise OSError("killed")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_crash)
    with pytest.raises(OSError, match="killed"):
        export_segment(store, "risk:high", out, scores=scores)
    monkeypatch.undo()
    # The manifest went first (and could not be put back): it names a file that is not there.
    assert Path(calls[0]).name == "a.csv.manifest.json"
    with pytest.raises(ExportIntegrityError, match="does not match its manifest") as err:
        verify_export(out)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.csv.manifest.json"]
    # The next export replaces both.
    report = export_segment(store, "risk:high", out, scores=scores)
    manifest = verify_export(out)
    assert manifest["sha256"] == sha256(out) == report.sha256
    assert manifest["rows"] == len(read_export(out)) == report.rows


def test_failed_data_rename_puts_the_previous_manifest_back(hand, tmp_path, monkeypatch):
    store, scores = hand
    out = tmp_path / "a.csv"
    export_segment(store, "risk:low", out, scores=scores)
    before, manifest_before = out.read_bytes(), manifest_of(out)
    real_replace, calls = os.replace, []

    def second_rename_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="rename failed"):
        export_segment(store, "risk:high", out, scores=scores)
    monkeypatch.undo()
    assert out.read_bytes() == before and manifest_of(out) == manifest_before
    assert verify_export(out) == manifest_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.csv.manifest.json"]


KILLED_EXPORT = """
import os, sys
import pandas as pd
from crm_analytics.store import Store
from crm_analytics.exports import export_segment
store = Store(":memory:")
store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["a@x.com", "b@x.com"],
                                      "marketing_opt_in": [True, True]}))
scores = pd.DataFrame({"risk_band": ["high", "low"]}, index=pd.Index(["C1", "C2"], name="customer_id"))
out = sys.argv[1]
export_segment(store, "risk:high", out, scores=scores)
real_replace, calls = os.replace, []
def replace_then_die(src, dst):
    calls.append(dst)
    if len(calls) > 1:
        os._exit(9)  # killed: no exception handler, no clean-up
    return real_replace(src, dst)
os.replace = replace_then_die
export_segment(store, "risk:low", out, scores=scores)
"""


def test_export_killed_between_the_renames(hand, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "k.csv"
    proc = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(out)], capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.returncode == 9, proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "k.csv" in names and "k.csv.manifest.json" in names
    assert any(n.startswith(".k.csv.") and n.endswith(".tmp") for n in names)  # the unrenamed data
    with pytest.raises(ExportIntegrityError, match="does not match its manifest"):
        verify_export(out)
    store, scores = hand
    report = export_segment(store, "risk:high", out, scores=scores)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.csv", "k.csv.manifest.json"]
    assert verify_export(out)["sha256"] == report.sha256 == sha256(out)


def test_verify_export_reports_each_problem_in_one_line(hand, tmp_path):
    store, scores = hand
    out = tmp_path / "v.parquet"
    report = export_segment(store, "risk:high", out, "parquet", scores=scores)
    assert verify_export(str(out))["rows"] == report.rows
    manifest = Path(str(out) + ".manifest.json")
    saved = manifest.read_bytes()
    manifest.unlink()
    with pytest.raises(ExportIntegrityError, match="has no manifest"):
        verify_export(out)
    manifest.write_bytes(saved)
    out.write_bytes(out.read_bytes() + b"x")
    with pytest.raises(ExportIntegrityError, match="does not match its manifest"):
        verify_export(out)
    out.unlink()
    with pytest.raises(ExportIntegrityError, match="is missing but its manifest"):
        verify_export(out)
    manifest.write_text("{not json", encoding="utf-8")
    with pytest.raises(ExportIntegrityError, match="cannot be read"):
        verify_export(out)
    manifest.unlink()
    with pytest.raises(ExportIntegrityError, match="no export at"):
        verify_export(out)
    with pytest.raises(InputError, match="must be a file path"):
        verify_export(42)
    # A changed row count with a matching sha256 (a hand-edited manifest) is reported too.
    report = export_segment(store, "risk:high", out, "parquet", scores=scores)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["rows"] += 1
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ExportIntegrityError, match=f"has {report.rows} rows but its manifest says"):
        verify_export(out)


# --------------------------------------------------------------------------- rounding


def test_money_rounds_to_cents_probabilities_to_4_counts_to_integers(hand, tmp_path):
    store, scores = hand
    scores = scores.assign(clv=1234.567891234567, churn_probability=0.123456789,
                           revenue_at_risk=152.41579036, frequency=3.0, tenure_weeks=52.142857142857,
                           risk_band="low")
    scores.loc["C06", ["clv", "frequency"]] = [-0.0012, np.nan]
    cols = ["clv", "churn_probability", "revenue_at_risk", "frequency", "tenure_weeks"]
    export_segment(store, "risk:low", tmp_path / "r.csv", scores=scores, columns=cols)
    text = (tmp_path / "r.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].endswith(",clv,churn_probability,revenue_at_risk,frequency,tenure_weeks")
    rows = {line.split(",", 1)[0]: line for line in lines[1:]}
    assert rows["C01"].endswith(",1234.57,0.1235,152.42,3,52.1429")
    assert rows["C06"].endswith(",0.0,0.1235,152.42,,52.1429")  # no -0.0; a missing count stays empty
    assert "1234.5678" not in text and "0.12345" not in text and "3.0," not in text
    export_segment(store, "risk:low", tmp_path / "r.parquet", "parquet", scores=scores, columns=cols)
    got = pd.read_parquet(tmp_path / "r.parquet").set_index("customer_id")
    assert got.loc["C01", "clv"] == 1234.57 and got.loc["C01", "frequency"] == 3


def test_line_breaks_inside_a_cell_become_spaces(tmp_path):
    # Found by the export property test: a bare CR in a name was written unquoted
    # and split the row in two for every CSV reader.
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({"customer_id": ["C0", "C1"], "name": ["0\r0", "a\u2028b\nc"],
                                          "marketing_opt_in": [True, True]}))
    scores = pd.DataFrame({"risk_band": ["high", "high"], "clv": [1.0, 2.0]},
                          index=pd.Index(["C0", "C1"], name="customer_id"))
    out = tmp_path / "x.csv"
    export_segment(store, "risk:high", out, "csv", scores=scores)
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[1].startswith("C0,0 0,") and lines[2].startswith("C1,a b c,")
    assert len([ln for ln in lines if ln]) == 3
