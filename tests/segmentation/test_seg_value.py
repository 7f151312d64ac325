"""Value tiers: documented shares, ties, fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.segmentation import value_tiers


def test_shares_of_a_large_population():
    scores = pd.DataFrame({"clv": np.random.default_rng(0).gamma(2.0, 100.0, 1000)})
    tiers = value_tiers(scores).value_counts()
    assert tiers.to_dict() == {"Middle 40%": 400, "Bottom 30%": 300, "Next 20%": 200, "Top 10%": 100}


def test_ties_share_the_better_tier_and_missing_is_unknown():
    scores = pd.DataFrame({"clv": [100.0, 100.0, 50.0, None] + [1.0] * 16})
    tiers = value_tiers(scores)
    assert tiers.iloc[:4].tolist() == ["Top 10%", "Top 10%", "Next 20%", "Unknown"]
    assert tiers.attrs["basis"] == "clv"
    # 3 of 19 rank above the tied block: 16% < 30%, so all 16 share "Next 20%".
    assert (tiers.iloc[4:] == "Next 20%").all()


def test_fallbacks():
    potential = pd.DataFrame({"clv": [None, None], "revenue_potential": [5.0, 1.0]})
    got = value_tiers(potential)
    assert got.tolist() == ["Top 10%", "Middle 40%"] and got.attrs["basis"] == "revenue_potential"
    nothing = value_tiers(pd.DataFrame({"region": ["EMEA"]}))
    assert nothing.tolist() == ["Unknown"] and nothing.attrs["basis"] is None
    with pytest.raises(InputError, match="not in the scores"):
        value_tiers(potential, column="margin")
    with pytest.raises(InputError, match="tiers"):
        value_tiers(potential, tiers=[("Top", 0.5), ("Rest", 0.9)])


def test_same_customers_as_the_rule_top_percent():
    from crm_analytics.segmentation import define_segment, segment_members
    from crm_analytics.store import Store

    rng = np.random.default_rng(1)
    scores = pd.DataFrame({"clv": np.round(rng.gamma(1.0, 50.0, 200), 0)},
                          index=pd.Index([f"C{i:03d}" for i in range(200)], name="customer_id"))
    store = Store(":memory:")
    define_segment(store, "top ten", "clv in top 10%")
    by_rule = segment_members(store, "top ten", scores)
    by_tier = segment_members(store, "value:Top 10%", scores.assign(value_tier=value_tiers(scores)))
    assert by_rule.equals(by_tier) and len(by_rule) > 0
