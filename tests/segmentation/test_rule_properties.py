"""Property tests of the rule language: a rule is accepted or refused with InputError, nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_analytics.errors import InputError
from crm_analytics.segmentation.rules import compile_rule, define_segment, segment_members
from crm_analytics.store import Store
from crm_analytics.store.score_columns import score_column_names

COLUMNS = list(score_column_names())
NASTY = ["x'; DROP TABLE customers; --", "1); DELETE FROM customers; --", "' OR 1=1 --", ";", "''",
         "$p0", "?", "\\", "%", "\u200b", "ＥＭＥＡ", "/* */", "\n", "é", "\x00", "unnest($ids)"]

PUBLIC = [c for c in COLUMNS if c not in {"name", "email", "phone", "customer_id", "run_id"}]
column = st.one_of(st.sampled_from(PUBLIC), st.sampled_from(PUBLIC), st.sampled_from(PUBLIC),
                   st.sampled_from(["CLV", "Region", "nope", "name", "email", "run_id", "c0", "p0"]))
text_value = st.one_of(st.sampled_from(NASTY), st.text(max_size=8))
literal = st.one_of(
    text_value.map(lambda t: "'" + t.replace("'", "''") + "'"),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: repr(abs(f))),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from(["true", "false", "TRUE", "null", "'2024-01-01'", "'2024-13-45'", "1e309"]),
)
comparison = st.builds(lambda c, o, v: f"{c} {o} {v}", column,
                       st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "==", "<>"]), literal)
in_list = st.builds(lambda c, n, vs: f"{c} {n}in ({', '.join(vs)})", column,
                    st.sampled_from(["", "not "]), st.lists(literal, min_size=1, max_size=3))
top = st.builds(lambda c, n, d, p: f"{c} {n}in {d} {p}%", column, st.sampled_from(["", "not "]),
                st.sampled_from(["top", "bottom", "TOP"]),
                st.sampled_from(["0", "0.5", "20", "100", "101", "1e2", "-5"]))
is_null = st.builds(lambda c, n: f"{c} is {n}null", column, st.sampled_from(["", "not "]))
condition = st.one_of(comparison, in_list, top, is_null)
rule = st.recursive(
    condition,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"{a} OR {b}", inner, inner),
        inner.map(lambda a: f"not {a}"),
        inner.map(lambda a: f"({a})"),
    ),
    max_leaves=6,
)
garbage = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["(", ")", "and", "or", "not", "in", "top", "%", "'", ",", "-", "is",
                              "null", "clv", "risk_band", "=", "1", ";", "--", "\"x\""]),
             max_size=12).map(" ".join),
)
# A rule string, sometimes with a piece of garbage spliced in.
rules = st.one_of(rule, garbage, st.builds(lambda r, g: r + " " + g, rule, garbage))


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(3)
    n = 40
    ids = pd.Index([f"C{i:03d}" for i in range(n)], name="customer_id")
    scores = pd.DataFrame(index=ids)
    for name in COLUMNS:
        pick = sum(map(ord, name)) % 4
        if pick == 0:
            values = pd.Series(rng.normal(100, 50, n), index=ids)
            values[rng.random(n) < 0.2] = np.nan
        elif pick == 1:
            values = pd.Series(rng.choice(["EMEA", "APAC", "high", None], n), index=ids, dtype=object)
        elif pick == 2:
            values = pd.Series(rng.random(n) < 0.5, index=ids)
        else:
            values = pd.Series(pd.date_range("2024-01-01", periods=n, freq="D"), index=ids)
        scores[name] = values
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({"customer_id": list(ids), "email": "a@x.com"}))
    return store, scores


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    tables = store.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
                       "AND table_name <> 'segment_definitions' ORDER BY 1")["table_name"]
    return {t: store.sql(f'SELECT * FROM "{t}"') for t in tables}  # noqa: S608 - catalog names


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=rules)
def test_a_rule_is_accepted_or_refused_with_input_error(world, text):
    store, scores = world
    before = snapshot(store)
    try:
        compiled = compile_rule(text, scores)
    except InputError:
        compiled = None
    try:
        definition = define_segment(store, "Prop rule", text, scores=scores)
    except InputError:
        definition = None
    if definition is not None:
        try:
            members = segment_members(store, "Prop rule", scores)
        except InputError:
            assert compiled is None  # refused at compile time only when the rule cannot compile
        else:
            assert compiled is not None
            assert set(members) <= set(scores.index)
            assert list(members) == sorted(members)
    after = snapshot(store)
    assert before.keys() == after.keys()
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name])
