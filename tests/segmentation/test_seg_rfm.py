"""RFM: scores and cells against a hand-computed case."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.segmentation import RFM_SEGMENTS, rfm_cell, rfm_scores, rfm_segments
from crm_analytics.store import Store


@pytest.fixture
def store():
    with Store(":memory:") as s:
        s.load("customers", pd.DataFrame({
            "customer_id": ["A", "B", "C", "D", "E", "F", "G"],
            "created_at": ["2023-01-01"] * 6 + ["2024-05-01"],  # G: created after as_of
        }))
        tx = [
            # A: bought on as_of, 4 purchase days in the window (two lines on 03-31), 400 net
            ("A", "2024-03-31 09:00", 100), ("A", "2024-03-31 17:00", 50), ("A", "2024-02-01", 100),
            ("A", "2024-01-01", 100), ("A", "2023-12-01", 50),
            # B: 10 days ago, 3 purchase days, 300 gross - 60 refund = 240 net
            ("B", "2024-03-21", 100), ("B", "2024-03-01", 100), ("B", "2023-06-01", 100),
            ("B", "2024-03-25", -60),
            # C: 59 days ago (2024-02-01; 2024 is a leap year), 2 purchase days, 90
            ("C", "2024-02-01", 45), ("C", "2023-09-01", 45),
            # D: 200 days ago, 1 purchase day, 20; an old purchase outside the window
            ("D", "2023-09-13", 20), ("D", "2022-01-01", 999),
            # E: 500 days ago: no purchase in the window
            ("E", "2022-11-17", 70),
            # F: a refund only (no purchase) -> not scored
            ("F", "2024-01-10", -5),
            # after as_of: ignored
            ("A", "2024-04-01", 1000),
        ]
        s.load("transactions", pd.DataFrame({
            "transaction_id": [f"T{i}" for i in range(len(tx))],
            "customer_id": [t[0] for t in tx], "transaction_date": [t[1] for t in tx],
            "amount": [t[2] for t in tx]}))
        yield s


def test_hand_computed_case(store):
    out = rfm_segments(store, "2024-03-31")
    assert list(out.index) == ["A", "B", "C", "D", "E", "F"]  # G created after as_of
    assert out["recency_days"].tolist()[:5] == [0, 10, 59, 200, 500]
    assert out["purchase_days_365d"].tolist()[:5] == [4, 3, 2, 1, 0]
    assert out["net_spend_365d"].tolist()[:5] == pytest.approx([400.0, 240.0, 90.0, 20.0, 0.0])
    # Quintiles among the 4 customers active in the window (E's last purchase is older:
    # 1, "Lost"): percent ranks 1, 2/3, 1/3, 0 -> 5, 4, 2, 1.
    for col in ("r_score", "f_score", "m_score"):
        assert out[col].tolist()[:5] == [5, 4, 2, 1, 1]
    assert out["rfm_segment"].tolist() == [
        "Champions", "Loyal", "Hibernating", "Lost", "Lost", "No purchases"]
    assert out.loc["F", ["r_score", "f_score", "m_score"]].isna().all()


def test_window_days_changes_frequency_and_names(store):
    out = rfm_segments(store, "2024-03-31", window_days=90)
    assert "purchase_days_90d" in out.columns
    assert out.loc["A", "purchase_days_90d"] == 2  # 03-31 and 02-01
    with pytest.raises(InputError, match="window_days"):
        rfm_segments(store, "2024-03-31", window_days=0)


def test_ties_share_the_lower_score_and_order_does_not_matter():
    values = pd.Series([1, 1, 1, 1, 2, 3, 3, 8, 9, 10], index=list("abcdefghij"))
    scores = rfm_scores(values)
    assert scores.tolist() == [1, 1, 1, 1, 3, 3, 3, 4, 5, 5]
    shuffled = values.sample(frac=1, random_state=3)
    assert rfm_scores(shuffled).reindex(values.index).equals(scores)


def test_grid_is_complete_and_named():
    cells = {rfm_cell(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert cells == set(RFM_SEGMENTS)
    assert rfm_cell(5, 1, 1) == "New customers" and rfm_cell(4, 1, 1) == "Promising"
    assert rfm_cell(2, 5, 5) == "Can't lose" and rfm_cell(1, 3, 4) == "At risk"
    assert rfm_cell(3, 1, 2) == "About to sleep" and rfm_cell(4, 3, 2) == "Potential loyalist"
    with pytest.raises(InputError, match="r_score"):
        rfm_cell(0, 1, 1)


def test_synthetic_every_customer_has_a_cell(synth):
    _, store = synth
    out = rfm_segments(store, "2025-05-31")
    assert out["rfm_segment"].notna().all()
    assert set(out["rfm_segment"]) <= set(RFM_SEGMENTS) | {"No purchases"}
    scored = out["r_score"].notna()
    assert out.loc[scored, ["r_score", "f_score", "m_score"]].isin([1, 2, 3, 4, 5]).all().all()
