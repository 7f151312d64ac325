"""The registry of score columns agrees with the store's DDL, the README and a real run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from crm_analytics.errors import InputError
from crm_analytics.store import Store
from crm_analytics.store.score_columns import (
    SCORE_COLUMNS,
    SQL_TYPES,
    STEPS,
    ScoreColumn,
    customer_scores_ddl,
    missing_score_columns_ddl,
    score_column,
    score_column_names,
    score_columns_markdown,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def _described(store: Store) -> list[tuple[str, str]]:
    d = store.sql("DESCRIBE customer_scores")
    return list(zip(d["column_name"], d["column_type"], strict=True))


def test_registry_is_well_formed():
    names = score_column_names()
    assert len(names) == len(set(names)) == len(SCORE_COLUMNS)
    assert "run_id" not in names and "customer_id" not in names
    for c in SCORE_COLUMNS:
        assert isinstance(c, ScoreColumn)
        assert c.sql_type in SQL_TYPES and c.step in STEPS
        assert c.description and "\n" not in c.description
        assert c.label and len(c.label) <= 40
    # the steps appear in run order
    order = [STEPS.index(c.step) for c in SCORE_COLUMNS]
    assert order == sorted(order)
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCORE_COLUMNS[0].name = "x"  # type: ignore[misc]


def test_score_column_lookup_and_did_you_mean():
    assert score_column("revenue_365d").sql_type == "DOUBLE"
    assert score_column("reason_1").step == "churn"
    with pytest.raises(InputError, match=r"did you mean 'recency_weeks' or 'recency_days'\?"):
        score_column("recency")
    with pytest.raises(InputError, match=r"did you mean 'churn_probability'\?"):
        score_column("churn_probabilty")
    with pytest.raises(InputError, match="unknown score column 'zzz'; the score columns are listed"):
        score_column("zzz")


def test_fresh_store_ddl_is_the_registry():
    with Store(":memory:") as store:
        got = _described(store)
    assert got[:2] == [("run_id", "VARCHAR"), ("customer_id", "VARCHAR")]
    assert got[2:] == [(c.name, c.sql_type) for c in SCORE_COLUMNS]
    assert "customer_scores" in customer_scores_ddl()


def test_missing_columns_of_an_old_store_are_added_from_the_registry_only():
    from crm_analytics.scoring.run import ensure_result_tables

    with Store(":memory:") as store:
        store.execute("DROP TABLE customer_scores")
        store.execute("CREATE TABLE customer_scores (run_id VARCHAR, customer_id VARCHAR, "
                      "clv DOUBLE, retired_column VARCHAR)")
        ensure_result_tables(store)
        got = dict(_described(store))
    assert got.pop("retired_column") == "VARCHAR"  # left alone, never added nor dropped
    assert {k: v for k, v in got.items() if k not in ("run_id", "customer_id")} == {
        c.name: c.sql_type for c in SCORE_COLUMNS}
    assert missing_score_columns_ddl(["run_id", "customer_id", *score_column_names()]) == []


def test_readme_holds_the_generated_table_in_the_scoring_section():
    text = README.read_text(encoding="utf-8")
    table = score_columns_markdown()
    assert text.count(table) == 1, "README is stale: paste score_columns_markdown() under ### Score columns"
    at = text.index(table)
    scoring = text.index("## Scoring: the nightly job")
    heading = text.index("### Score columns", scoring)
    configuration = text.index("### Configuration", scoring)
    assert scoring < heading < at < configuration
    assert len(table.splitlines()) == len(SCORE_COLUMNS) + 2
