"""Custom segment rules: grammar, semantics, built-ins, and hostile input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.segmentation import (
    RuleError,
    compile_rule,
    define_segment,
    delete_segment,
    get_segment,
    list_segments,
    parse_rule,
    segment_members,
)
from crm_analytics.store import Store


def _new_store() -> Store:
    s = Store(":memory:")
    s.load("customers", pd.DataFrame({"customer_id": [f"C{i}" for i in range(1, 11)]}))
    return s


@pytest.fixture(scope="module")
def store():
    """Shared by the read-mostly tests (a store takes a fraction of a second to create)."""
    with _new_store() as s:
        yield s


@pytest.fixture
def fresh_store():
    with _new_store() as s:
        yield s


@pytest.fixture
def scores():
    return pd.DataFrame({
        "clv": [900.0, 800.0, 700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0, np.nan],
        "churn_probability": [0.9, 0.1, 0.7, 0.2, 0.8, 0.3, 0.6, 0.4, 0.5, 0.5],
        "risk_band": ["high", "low", "high", "low", "high", "low", "medium", "medium", "medium", None],
        "region": ["EMEA", "EMEA", "APAC", "EMEA", "Americas", "EMEA", "EMEA", "APAC", "EMEA", "EMEA"],
        "marketing_opt_in": [True, False, True, True, None, True, True, False, True, True],
        "created_at": pd.to_datetime(["2023-01-05"] * 5 + ["2024-06-01"] * 5),
        "needs_segment": [1, 2, 3, 1, 2, 3, 1, 2, 3, 4],
        "needs_segment_name": ["Hardware-heavy"] * 3 + ["Cloud-heavy"] * 7,
        "size_segment": ["Large · Finance"] * 4 + ["Consumer"] * 6,
        "rfm_segment": ["Champions"] * 2 + ["Lost"] * 8,
        "email": [f"c{i}@x.com" for i in range(1, 11)],
    }, index=pd.Index([f"C{i}" for i in range(1, 11)], name="customer_id"))


def members(store, scores, rule):
    define_segment(store, "probe", rule, scores=scores)
    return segment_members(store, "probe", scores).tolist()


@pytest.mark.parametrize(("rule", "expected"), [
    ("risk_band = 'high'", ["C1", "C3", "C5"]),
    ("risk_band != 'high'", ["C2", "C4", "C6", "C7", "C8", "C9"]),  # NULL is never selected
    ("clv > 650", ["C1", "C2", "C3"]),
    ("clv >= 700 and churn_probability < 0.8", ["C2", "C3"]),
    ("clv <= 200 or region = 'APAC'", ["C3", "C8", "C9"]),
    ("region in ('APAC', 'Americas')", ["C3", "C5", "C8"]),
    ("region not in ('EMEA')", ["C3", "C5", "C8"]),
    ("clv in top 20%", ["C1", "C2"]),  # 9 customers with a CLV: ranks 1 and 2 have < 20 % above
    ("clv in bottom 30%", ["C7", "C8", "C9"]),
    ("not clv in top 20%", ["C3", "C4", "C5", "C6", "C7", "C8", "C9"]),
    ("clv not in top 20%", ["C3", "C4", "C5", "C6", "C7", "C8", "C9"]),
    ("clv is null", ["C10"]),
    ("risk_band is not null and not (risk_band = 'low' or risk_band = 'medium')", ["C1", "C3", "C5"]),
    ("marketing_opt_in = true and churn_probability >= 0.5", ["C1", "C3", "C7", "C9", "C10"]),
    ("marketing_opt_in = false", ["C2", "C8"]),
    ("created_at >= '2024-01-01' and clv > 250", ["C6", "C7"]),
    ("needs_segment = 3", ["C3", "C6", "C9"]),
    ("churn_probability > -1 and clv < 1e3", [f"C{i}" for i in range(1, 10)]),
    ("RISK_BAND = 'high' AND Region = 'EMEA'", ["C1"]),  # keywords and columns ignore case
    ("((((risk_band = 'high'))))", ["C1", "C3", "C5"]),
    ("risk_band = 'high' and clv in top 20% and region = 'EMEA'", ["C1"]),
])
def test_rule_semantics(store, scores, rule, expected):
    assert members(store, scores, rule) == sorted(expected)  # sorted as text: C10 < C2


def test_values_are_plain_data(store, scores):
    tricky = scores.copy()
    tricky.loc["C1", "region"] = "O'Brien; DROP TABLE customers; --"
    tricky.loc["C2", "region"] = "Ελλάδα"
    assert members(store, tricky, "region = 'O''Brien; DROP TABLE customers; --'") == ["C1"]
    assert members(store, tricky, "region = 'Ελλάδα'") == ["C2"]
    assert members(store, tricky, "region = ''' OR ''1''=''1'") == []
    compiled = compile_rule("region = 'O''Brien; DROP TABLE customers; --'", tricky)
    assert "DROP" not in compiled.sql and "region" not in compiled.sql
    assert compiled.params["p0"] == "O'Brien; DROP TABLE customers; --"
    assert len(store.table("customers")) == 10


@pytest.mark.parametrize(("rule", "position", "message"), [
    ("risk_band = 'high'; DROP TABLE customers", 19, "unexpected character ';'"),
    ("clv > 1 -- comment", 9, "comments are not allowed"),
    ("clv > 1 /* x */", 9, "comments are not allowed"),
    ("__import__('os').system('rm -rf /')", 17, "unexpected character '.'"),
    ("__import__('os')", 11, "expected an operator"),
    ("clv > 1 or 1=1", 12, "expected a column name"),
    ("' OR '1'='1", 1, "expected a column name"),
    ("risk_band = \"high\"", 13, "single quotes"),
    ("risk_band == 'high'", 11, "use = for equal"),
    ("risk_band <> 'high'", 11, "use = for equal"),
    ("risk_band = 'high", 13, "without a closing quote"),
    ("clv >", 6, "expected a value"),
    ("clv in top 0%", 12, "percentage must be in (0, 100]"),
    ("clv in top 120%", 12, "percentage must be in (0, 100]"),
    ("clv in top 20", 14, "'%'"),
    ("clv in ()", 9, "expected a value"),
    ("", 1, "the rule is empty"),
    ("clv > 1 and", 12, "expected a column name"),
    ("(clv > 1", 9, "expected ')'"),
    ("clv > 1)", 8, "expected and, or or the end"),
    ("clv is 5", 8, "expected null"),
    ("\uff43lv > 1", 1, "unexpected character"),  # fullwidth c
    ("clv\u200b > 1", 4, "U+200B"),  # zero-width space
    ("clv \uff1e 1", 5, "unexpected character"),  # fullwidth >
    ("risk_band = \u2018high\u2019", 13, "unexpected character"),  # curly quotes
    ("risk_band = 'hi\x00gh'", 16, "control character U+0000"),
    ("risk_band = 'a\u202egh'", 15, "control character U+202E"),  # right-to-left override
    ("clv > 1 # x", 9, "comments are not allowed"),
    ("clv > 1 UNION SELECT * FROM customers", 22, "unexpected character '*'"),
    ("clv > 1 UNION SELECT 1", 9, "expected and, or or the end"),
    ("clv > (SELECT 1)", 7, "expected a value"),
    ("clv > abs(-1)", 7, "expected a value"),
])
def test_syntax_errors_show_position_and_grammar(rule, position, message):
    with pytest.raises(RuleError) as info:
        parse_rule(rule)
    text = str(info.value)
    assert message in text
    assert f"at position {position}:" in text
    assert "column in top 20%" in text and "Example:" in text  # what is allowed
    assert isinstance(info.value, InputError)


@pytest.mark.parametrize(("rule", "message"), [
    ("margin > 5", "unknown column 'margin'"),
    ("email = 'c1@x.com'", "unknown column 'email'"),  # contact details are not rule columns
    ("clv > 'high'", "clv holds number values; compare it like: clv > 100"),
    ("risk_band > 'high'", "risk_band holds text values"),
    ("risk_band in top 10%", "risk_band holds text values; 'in top' needs numbers"),
    ("marketing_opt_in = 'yes'", "marketing_opt_in holds boolean values"),
    ("created_at > 'last tuesday'", "is not a date"),
    ("region = 5", "region holds text values"),
])
def test_semantic_errors(store, scores, rule, message):
    with pytest.raises(RuleError, match="rule error") as info:
        compile_rule(rule, scores)
    assert message in str(info.value)


def test_limits():
    deep = "(" * 40 + "clv > 1" + ")" * 40
    with pytest.raises(RuleError, match="nested"):
        parse_rule(deep)
    with pytest.raises(RuleError, match="more than 100 conditions"):
        parse_rule(" or ".join(["clv > 1"] * 101))
    with pytest.raises(RuleError, match="at most 2000 characters"):
        parse_rule("clv > 1 and " * 200 + "clv > 1")
    with pytest.raises(RuleError, match="must be text"):
        parse_rule(None)  # type: ignore[arg-type]


HOSTILE_NAMES = [
    "x'; DROP TABLE customers; --",
    "__import__('os')",
    "a;b",
    "-- comment",
    "=HYPERLINK(\"http://evil\")",
    "=1+1",
    "../../etc/passwd",
    "",
    " leading space",
    "trailing space ",
    "a" * 65,
    "caf\u00e9",
    "a\u200bb",
    "line\nbreak",
    "tab\there",
    "quote\"name",
    "semi;colon",
    "back\\slash",
    "percent%",
    "\u0430dmin",  # Cyrillic a
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_segment_names_are_rejected(store, scores, name):
    before = list_segments(store)["name"].tolist()
    # A name with ':' is read as a built-in kind:value and rejected as an unknown kind.
    rejected = "invalid segment name|unknown built-in segment kind"
    with pytest.raises(RuleError, match=rejected):
        define_segment(store, name, "clv > 1")
    with pytest.raises(RuleError, match=rejected):
        segment_members(store, name, scores)
    assert list_segments(store)["name"].tolist() == before
    assert len(store.table("customers")) == 10


@pytest.mark.parametrize("name", ["size:' OR 1=1 --", "needs:x'); DROP TABLE customers; --",
                                  "rfm:Champions' OR '1'='1", "risk:high; DELETE FROM customers"])
def test_hostile_builtin_values_are_plain_data(store, scores, name):
    with pytest.raises(InputError, match="segments are"):
        segment_members(store, name, scores)
    assert len(store.table("customers")) == 10


def test_builtin_segments(store, scores):
    assert segment_members(store, "size:Large · Finance", scores).tolist() == ["C1", "C2", "C3", "C4"]
    assert segment_members(store, "size: large · finance ", scores).tolist() == ["C1", "C2", "C3", "C4"]
    assert segment_members(store, "needs:Hardware-heavy", scores).tolist() == ["C1", "C2", "C3"]
    assert segment_members(store, "needs:3", scores).tolist() == ["C3", "C6", "C9"]
    assert segment_members(store, "rfm:Champions", scores).tolist() == ["C1", "C2"]
    assert segment_members(store, "RISK:high", scores).tolist() == ["C1", "C3", "C5"]
    # A closed vocabulary may be empty today without being an error.
    assert segment_members(store, "rfm:At risk", scores).tolist() == []
    with pytest.raises(InputError, match="the rfm segments are: Champions"):
        segment_members(store, "rfm:Champs", scores)
    with pytest.raises(InputError, match="needs the column value_tier"):
        segment_members(store, "value:Top 10%", scores)
    with pytest.raises(RuleError, match="unknown built-in segment kind 'colour'"):
        segment_members(store, "colour:red", scores)
    assert get_segment(store, "size:O'Neil").definition == "size_segment = 'O''Neil'"
    with pytest.raises(InputError, match="no needs segment 9 in these scores; the ids are: 1, 2, 3, 4"):
        segment_members(store, "needs:9", scores)


def test_define_upsert_list_delete(fresh_store, scores):
    store = fresh_store
    first = define_segment(store, "EMEA risk", "risk_band = 'high'", description="v1")
    second = define_segment(store, "emea RISK", "risk_band = 'high' and region = 'EMEA'")
    listed = list_segments(store)
    assert listed["name"].tolist() == ["emea RISK"]  # one row per name, ignoring case
    assert listed["rule"].iloc[0] == "risk_band = 'high' and region = 'EMEA'"
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    assert segment_members(store, "Emea Risk", scores).tolist() == ["C1"]
    with pytest.raises(RuleError, match="unknown column 'colour'"):
        define_segment(store, "bad", "colour = 'red'")
    define_segment(store, "custom col", "colour = 'red'", scores=scores.assign(colour="red"))
    assert delete_segment(store, "EMEA risk") and not delete_segment(store, "EMEA risk")
    with pytest.raises(InputError, match="no segment called 'EMEA risk'; custom segments: custom col"):
        segment_members(store, "EMEA risk", scores)


def test_rule_text_with_hostile_content_is_stored_verbatim(store):
    rule = "region = 'x''); DROP TABLE customers; --'"
    define_segment(store, "odd", rule)
    assert get_segment(store, "odd").definition == rule
    assert len(store.table("customers")) == 10


def test_empty_scores_and_lazy_latest_scores(fresh_store, scores, monkeypatch):
    store = fresh_store
    define_segment(store, "high", "risk_band = 'high'")
    assert segment_members(store, "high", scores.iloc[:0]).tolist() == []
    import crm_analytics.segmentation.rules as rules

    monkeypatch.setattr(rules, "latest_scores", lambda s: scores)
    assert segment_members(store, "high").tolist() == ["C1", "C3", "C5"]


def test_define_inside_a_callers_transaction(fresh_store):
    # The pipeline runs its hooks inside one transaction; writes must not open another.
    with fresh_store.transaction():
        define_segment(fresh_store, "in tx", "clv > 1")
    assert list_segments(fresh_store)["name"].tolist() == ["in tx"]


# --------------------------------------------------------------------------- score column registry

from crm_analytics.segmentation.rules import _PRIVATE_COLUMNS  # noqa: E402
from crm_analytics.store.score_columns import SCORE_COLUMNS  # noqa: E402

_VALUE_OF_TYPE = {"DOUBLE": "> 0", "BIGINT": "> 0", "VARCHAR": "= 'x'", "BOOLEAN": "= true",
                  "TIMESTAMP": ">= '2024-01-01'"}
_DTYPE_OF_TYPE = {"DOUBLE": "float64", "BIGINT": "Int64", "VARCHAR": "string", "BOOLEAN": "boolean",
                  "TIMESTAMP": "datetime64[ns]"}


@pytest.mark.parametrize("column", SCORE_COLUMNS, ids=lambda c: c.name)
def test_a_rule_on_every_registry_column_is_accepted(fresh_store, column):
    rule = f"{column.name} {_VALUE_OF_TYPE[column.sql_type]}"
    if column.name in _PRIVATE_COLUMNS:  # contact details (name): never a rule column
        with pytest.raises(RuleError, match=f"unknown column '{column.name}' \\(contact details"):
            define_segment(fresh_store, "probe", rule)
        return
    define_segment(fresh_store, "probe", rule)  # accepted at definition time, without scores
    # ... and the value has the right type for the column as a run stores it
    index = pd.Index(["C1", "C2"], name="customer_id")
    scores = pd.DataFrame({column.name: pd.Series([None, None], index=index,
                                                  dtype=_DTYPE_OF_TYPE[column.sql_type])})
    assert segment_members(fresh_store, "probe", scores).tolist() == []


@pytest.mark.parametrize(("rule", "message"), [
    ("recency < 10", "unknown column 'recency'; did you mean 'recency_weeks' or 'recency_days'?"),
    ("churn_probabilty > 0.5", "unknown column 'churn_probabilty'; did you mean 'churn_probability'?"),
    ("T > 3", "unknown column 'T'"),
    ("xyzzy = 'red'", "unknown column 'xyzzy'; the columns are: annual_revenue"),
    ("email = 'a@x.com'", "unknown column 'email' (contact details cannot be used in rules)"),
])
def test_a_rule_on_a_column_outside_the_registry_is_refused_when_defined(fresh_store, rule, message):
    with pytest.raises(RuleError) as info:
        define_segment(fresh_store, "probe", rule)
    assert message in str(info.value)
    assert list_segments(fresh_store).empty


def test_rules_on_real_score_columns_are_accepted(fresh_store):
    define_segment(fresh_store, "earners", "revenue_365d > 0")
    define_segment(fresh_store, "reason x", "reason_1 = 'x'")
    define_segment(fresh_store, "both", "recency_weeks < 10 and recency_days < 70")
    assert sorted(list_segments(fresh_store)["name"]) == ["both", "earners", "reason x"]
