"""Customer attributes (extra columns of the customers file) in segment rules."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.segmentation import define_segment, segment_members
from crm_analytics.segmentation.rules import attribute_columns
from crm_analytics.store import Store


@pytest.fixture
def store() -> Store:
    s = Store(":memory:")
    s.load("customers", pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4"],
        "Contract": ["Month-to-month", "Two year", "Month-to-month", None],
        "Tenure Months": ["3", "40", "12", "7"],
    }))
    return s


@pytest.fixture
def scores() -> pd.DataFrame:
    return pd.DataFrame({"risk_band": ["high", "low", "high", "high"]},
                        index=pd.Index(["C1", "C2", "C3", "C4"], name="customer_id"))


def test_attributes_are_offered_as_attr_columns(store):
    assert attribute_columns(store) == ["attr_contract", "attr_tenure_months"]


def test_rule_on_a_text_attribute(store, scores):
    define_segment(store, "monthly at risk", "attr_contract = 'Month-to-month' and risk_band = 'high'")
    assert segment_members(store, "monthly at risk", scores).tolist() == ["C1", "C3"]


def test_numeric_attribute_compares_as_a_number(store, scores):
    define_segment(store, "new", "attr_tenure_months < 10")
    # as text, '12' < '7' would hold; as numbers only 3 and 7 are below 10
    assert segment_members(store, "new", scores).tolist() == ["C1", "C4"]


def test_missing_attribute_is_null(store, scores):
    define_segment(store, "no contract", "attr_contract is null")
    assert segment_members(store, "no contract", scores).tolist() == ["C4"]


def test_unknown_attribute_is_refused_when_defined(store):
    with pytest.raises(InputError, match="unknown column 'attr_contrakt'.*attr_contract"):
        define_segment(store, "typo", "attr_contrakt = 'Two year'")
