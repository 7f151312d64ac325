"""Size segments: labels, counts, thresholds, unknown size never dropped."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.segmentation import size_segments
from crm_analytics.store import Store
from crm_analytics.store.attributes import SizeThresholds, customer_attributes


@pytest.fixture
def store():
    with Store(":memory:") as s:
        s.load("customers", pd.DataFrame({
            "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
            "customer_type": ["business", "business", "business", "consumer", "business", None,
                              "business"],
            "employees": [5000, 300, 12, None, None, None, 100],
            "annual_revenue": [None, None, 2e6, None, None, None, 9e7],
            "industry": ["Finance", None, "Retail", None, "Retail", None, "Finance"],
        }))
        yield s


def test_labels_and_counts(store):
    seg = size_segments(customer_attributes(store))
    assert seg.name == "size_segment"
    assert seg.to_dict() == {
        "C1": "Large · Finance", "C2": "Large · Industry unknown", "C3": "Small/medium",
        "C4": "Consumer", "C5": "Business (size unknown)", "C6": "Unknown size", "C7": "Large · Finance",
    }
    counts = seg.value_counts()
    assert counts["Large · Finance"] == 2 and counts["Unknown size"] == 1
    assert counts["Business (size unknown)"] == 1
    # without the customer type, every customer without a size is "Unknown size"
    assert size_segments(customer_attributes(store), by_type=False)["C5"] == "Unknown size"
    assert counts.sum() == 7  # nobody dropped


def test_thresholds_recompute_the_band_with_the_shared_rule(store):
    attrs = customer_attributes(store)
    strict = size_segments(attrs, SizeThresholds(large_employees=1000, large_revenue=1e9))
    assert strict["C2"] == "Small/medium" and strict["C7"] == "Small/medium"
    assert strict["C1"] == "Large · Finance" and strict["C5"] == "Business (size unknown)"
    # Same thresholds in SQL and in Python give the same segments.
    thresholds = SizeThresholds(large_employees=200, large_revenue=5e7)
    assert size_segments(customer_attributes(store, thresholds=thresholds)).equals(
        size_segments(attrs, thresholds))


def test_missing_band_is_unknown_and_bad_band_rejected():
    attrs = pd.DataFrame({"size_band": [None, "large"], "industry": ["  ", "Retail"]},
                         index=pd.Index(["A", "B"], name="customer_id"))
    assert size_segments(attrs).tolist() == ["Unknown size", "Large · Retail"]
    with pytest.raises(InputError, match="size_band"):
        size_segments(pd.DataFrame({"industry": ["x"]}))
    with pytest.raises(InputError, match="huge"):
        size_segments(pd.DataFrame({"size_band": ["huge"]}))


def test_synthetic_counts_match_attributes(synth):
    _, store = synth
    attrs = customer_attributes(store, "2025-05-31")
    seg = size_segments(attrs)
    assert len(seg) == len(attrs)
    large = seg.str.startswith("Large · ")
    assert large.sum() == (attrs["size_band"] == "large").sum()
    assert (seg == "Consumer").sum() == (attrs["customer_type"] == "consumer").sum()
