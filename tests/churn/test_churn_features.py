"""Churn labels and features: exact values on a hand-made store, and no look-ahead."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_analytics import churn
from crm_analytics.churn.features import (
    BTYD_FEATURES,
    FIRMOGRAPHIC_FEATURES,
    PURCHASE_FEATURES,
    SATISFACTION_FEATURES,
)
from crm_analytics.errors import InputError
from crm_analytics.store import Store

AS_OF = "2024-03-31"

TX = [
    # customer A: three purchase days (two lines on Jan 1), a refund, buys again in April
    ("A", "2024-01-01 09:00", 10.0, "Hardware", "online"),
    ("A", "2024-01-01 17:00", 5.0, "Software", "online"),
    ("A", "2024-02-10", 20.0, "Hardware", "shop"),
    ("A", "2024-03-21", 30.0, "Cloud", "online"),
    ("A", "2024-03-25", -5.0, "Cloud", "online"),
    ("A", "2024-04-10", 12.0, "Cloud", "online"),
    # B: active (bought within 365 days), never again
    ("B", "2023-05-01", 40.0, "Services", "shop"),
    ("B", "2023-06-30", 10.0, "Services", "shop"),
    # C: last purchase more than 365 days before as_of: not active
    ("C", "2022-12-01", 7.0, "Supplies", "shop"),
    # D: buys on the last minute of as_of (counts) and on the last day of the horizon
    ("D", "2024-03-31 23:59:59", 23.0, "Supplies", "online"),
    ("D", "2024-06-29 12:00", 9.0, "Supplies", "online"),
    # E: only a refund inside the lookback: not active
    ("E", "2022-01-01", 50.0, "Hardware", "shop"),
    ("E", "2024-03-01", -10.0, "Hardware", "shop"),
    # F: next purchase one day after the horizon: churned
    ("F", "2024-03-01", 15.0, "Software", "partner"),
    ("F", "2024-06-30", 15.0, "Software", "partner"),
]


@pytest.fixture(scope="module")
def hand_store(make_store) -> Store:
    tx = pd.DataFrame(TX, columns=["customer_id", "transaction_date", "amount", "product_category",
                                   "channel"])
    tx.insert(0, "transaction_id", [f"T{i}" for i in range(len(tx))])
    customers = pd.DataFrame({
        "customer_id": list("ABCDEF"),
        "customer_type": ["business", "consumer", "business", "business", "consumer", "business"],
        "employees": [1200, None, 10, None, None, 30],
        "industry": ["Finance", None, "Retail", None, None, "Retail"],
        "region": ["EMEA", "APAC", "EMEA", None, "EMEA", "Americas"],
    })
    return make_store({"customers": customers, "transactions": tx})


def test_labels_follow_the_documented_definition(hand_store):
    labels = churn.build_labels(hand_store, AS_OF, horizon_days=90)
    assert labels.to_dict() == {"A": 0, "B": 1, "D": 0, "F": 1}
    assert labels.index.name == "customer_id" and labels.name == "churned"


def test_active_days_sets_the_population(hand_store):
    assert list(churn.build_labels(hand_store, AS_OF, active_days=31).index) == ["A", "D", "F"]
    everyone = churn.build_labels(hand_store, AS_OF, active_days=3650)
    assert list(everyone.index) == ["A", "B", "C", "D", "E", "F"]  # E's old purchase counts


def test_labels_refuse_an_unobserved_window(hand_store):
    with pytest.raises(InputError, match="after the last transaction"):
        churn.build_labels(hand_store, "2024-05-31", horizon_days=90)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "90"])
def test_labels_check_horizon(hand_store, bad):
    with pytest.raises(InputError, match="The 'horizon_days' parameter of build_labels"):
        churn.build_labels(hand_store, AS_OF, horizon_days=bad)


def test_purchase_features_exact_values(hand_store):
    X = churn.build_features(hand_store, AS_OF, clv=False, satisfaction=False)
    assert list(X.index) == ["A", "B", "D", "F"]
    a = X.loc["A"]
    expected = {
        "recency_days": 10, "tenure_days": 90, "purchases_total": 3, "purchases_30d": 1,
        "purchases_90d": 2, "purchases_180d": 3, "purchases_365d": 3, "purchases_prev_90d": 1,
        "spend_total": 65, "spend_30d": 30, "spend_90d": 50, "spend_prev_90d": 15,
        "spend_per_purchase": 65 / 3, "spend_trend": 35 / 65, "frequency_trend": 1 / 3,
        "gap_median_days": 40, "gap_mean_days": 40, "overdue_ratio": 0.25,
        "categories_365d": 3, "categories_total": 3, "refunds_365d": 1, "refund_amount_365d": 5,
        "top_channel_share": 0.75, "channel_share_online": 0.75, "channel_share_shop": 0.25,
        "channel_share_partner": 0.0,
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name
    assert a["top_channel"] == "online"
    b = X.loc["B"]
    assert b["recency_days"] == (dt.date(2024, 3, 31) - dt.date(2023, 6, 30)).days
    assert b["purchases_90d"] == 0 and np.isnan(b["spend_trend"])  # nothing in either window
    assert b["gap_median_days"] == 60 and b["top_channel"] == "shop"
    d = X.loc["D"]
    assert d["recency_days"] == 0 and np.isnan(d["gap_median_days"]) and np.isnan(d["overdue_ratio"])


def test_columns_types_and_firmographics(hand_store):
    X = churn.build_features(hand_store, AS_OF, clv=False, satisfaction=False)
    channels = churn.top_channels(hand_store, AS_OF)
    assert channels == ["shop", "online", "partner"]  # purchase lines: 5, 4, 1
    assert list(X.columns) == churn.feature_names(channels=channels)
    assert list(X.columns[: len(PURCHASE_FEATURES)]) == list(PURCHASE_FEATURES)
    assert X.loc["A", "size_band"] == "large" and X.loc["B", "size_band"] == "consumer"
    assert X.loc["A", "industry"] == "Finance" and pd.isna(X.loc["D", "industry"])
    numeric = X.drop(columns=["top_channel", *FIRMOGRAPHIC_FEATURES])
    assert (numeric.dtypes == "float64").all()


def test_channels_passed_in_fix_the_columns(hand_store):
    X = churn.build_features(hand_store, AS_OF, clv=False, satisfaction=False,
                             channels=["partner", "web"])
    assert [c for c in X.columns if c.startswith("channel_share_")] == [
        "channel_share_partner", "channel_share_web"]
    assert X.loc["F", "channel_share_partner"] == 1.0 and X.loc["F", "channel_share_web"] == 0.0


@pytest.mark.filterwarnings("ignore::crm_analytics.errors.ConvergenceWarning")  # six customers
def test_optional_sources_add_their_columns(hand_store):
    X = churn.build_features(hand_store, AS_OF)
    for name in (*SATISFACTION_FEATURES, *BTYD_FEATURES):
        assert name in X.columns
    # No tickets or answers: counts are zero, scores missing.
    assert (X["sla_breaches_90d"] == 0).all() and X["latest_nps"].isna().all()
    assert X["btyd_p_alive"].between(0, 1).all()


def _rewrite_after(data, as_of: str) -> dict[str, pd.DataFrame]:
    """Every table with all data after ``as_of`` changed: deleted, altered and added."""
    cut = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    rng = np.random.default_rng(99)
    tables = {name: frame.copy() for name, frame in data.tables().items()}

    tx = tables["transactions"]
    after = tx["transaction_date"] >= cut
    tx.loc[after, "amount"] = tx.loc[after, "amount"] * 3 + 1
    tx.loc[after, "channel"] = "telepathy"
    tx.loc[after, "product_category"] = "Other"
    tx = tx[~(after & (rng.random(len(tx)) < 0.5))]
    extra = tx[tx["transaction_date"] < cut].sample(2_000, random_state=1).copy()
    extra["transaction_id"] = "NEW" + extra["transaction_id"]
    extra["transaction_date"] = cut + pd.to_timedelta(rng.integers(0, 90 * 86_400, len(extra)), "s")
    extra["amount"] = -extra["amount"].where(rng.random(len(extra)) < 0.2, -extra["amount"])
    tables["transactions"] = pd.concat([tx, extra], ignore_index=True)

    tk = tables["tickets"]
    opened_after = tk["opened_at"] >= cut
    resolved_after = ~opened_after & (tk["resolved_at"] >= cut)
    # A ticket open at as_of gets another fate: never resolved, or much later, reopened.
    tk.loc[resolved_after, "resolved_at"] = tk.loc[resolved_after, "resolved_at"] + pd.Timedelta(
        days=40)
    tk.loc[resolved_after, "reopened"] = ~tk.loc[resolved_after, "reopened"]
    first_after = ~opened_after & (tk["first_response_at"] >= cut)
    tk.loc[first_after, "first_response_at"] = tk.loc[first_after, "first_response_at"] + \
        pd.Timedelta(hours=5)
    tk.loc[opened_after, "is_complaint"] = True
    tk = tk[~(opened_after & (rng.random(len(tk)) < 0.5))]
    new_tk = tk[~opened_after.loc[tk.index]].sample(500, random_state=2).copy()
    new_tk["ticket_id"] = "NEW" + new_tk["ticket_id"]
    new_tk["opened_at"] = cut + pd.to_timedelta(rng.integers(0, 60 * 86_400, len(new_tk)), "s")
    new_tk["first_response_at"] = new_tk["opened_at"] + pd.Timedelta(hours=1)
    new_tk["resolved_at"] = new_tk["opened_at"] + pd.Timedelta(hours=200)
    new_tk["is_complaint"] = True
    tables["tickets"] = pd.concat([tk, new_tk], ignore_index=True)

    sr = tables["survey_responses"]
    later = sr["responded_at"] >= cut
    sr.loc[later, "score"] = sr.loc[later, "scale_min"]
    sr = sr[~(later & (rng.random(len(sr)) < 0.5))]
    new_sr = sr[sr["item"].isin(["nps", "csat"])].sample(1_000, random_state=3).copy()
    new_sr["response_id"] = "NEW" + new_sr["response_id"]
    new_sr["responded_at"] = cut + pd.to_timedelta(rng.integers(0, 60 * 86_400, len(new_sr)), "s")
    new_sr["score"] = new_sr["scale_min"]
    tables["survey_responses"] = pd.concat([sr, new_sr], ignore_index=True)

    cu = tables["customers"]
    newcomers = cu.sample(200, random_state=4).copy()
    newcomers["customer_id"] = "NEW" + newcomers["customer_id"]
    newcomers["email"] = "new." + newcomers["email"]
    newcomers["phone"] = None
    newcomers["created_at"] = cut + pd.Timedelta(days=3)
    tables["customers"] = pd.concat([cu, newcomers], ignore_index=True)
    buys = pd.DataFrame({
        "transaction_id": "NEWC" + newcomers["customer_id"],
        "customer_id": newcomers["customer_id"],
        "transaction_date": cut + pd.Timedelta(days=5),
        "amount": 99.0, "quantity": 1, "product_category": "Cloud", "channel": "online",
    })
    tables["transactions"] = pd.concat([tables["transactions"], buys], ignore_index=True)
    return tables


@pytest.mark.parametrize("as_of", ["2024-09-30", "2025-03-15"])
def test_nothing_after_as_of_changes_a_feature(small_data, small_store, make_store, as_of):
    rewritten = make_store(_rewrite_after(small_data, as_of))
    counts = rewritten.sql("SELECT count(*) AS n FROM transactions WHERE transaction_date >= $c",
                           {"c": pd.Timestamp(as_of) + pd.Timedelta(days=1)})["n"].iloc[0]
    assert counts > 1_000  # the rewrite really touched the future
    original = churn.build_features(small_store, as_of)
    changed = churn.build_features(rewritten, as_of)
    assert set(SATISFACTION_FEATURES) <= set(original.columns)
    assert set(BTYD_FEATURES) <= set(original.columns)
    assert original["sla_breaches_365d"].sum() > 0 and original["latest_nps"].notna().any()
    pd.testing.assert_frame_equal(original, changed)
    # ...while the labels, which look ahead by design, do change.
    labels = churn.build_labels(small_store, as_of)
    assert not labels.equals(churn.build_labels(rewritten, as_of))
