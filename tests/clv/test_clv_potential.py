"""revenue_potential: growth rules, annual spend, peer headroom, codes; worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from crm_analytics.clv import (
    LARGE_EMPLOYEES,
    LARGE_REVENUE,
    CLVModel,
    revenue_potential,
    rfm_summary,
    size_band,
)
from crm_analytics.store import Store

AS_OF = dt.date(2024, 12, 31)
MODEL = CLVModel.from_params({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "v": 50.0})

CUSTOMERS = pd.DataFrame({
    "customer_id": ["G1", "G2", "G3", "G4", "L1", "K1", "U1"],
    "customer_type": ["business"] * 5 + ["consumer", "business"],
    "employees": [10, 20, 30, 40, 5000, None, None],
    "industry": ["Retail"] * 5 + [None, "Retail"],
})
TRANSACTIONS = [
    ("1", "G1", "2023-06-01", 100.0), ("2", "G1", "2024-06-01", 150.0),
    ("3", "G2", "2024-10-01", 200.0),                                    # new customer
    ("4", "G3", "2022-01-01", 50.0), ("5", "G3", "2024-05-01", 80.0),    # nothing in the prior year
    ("6", "G4", "2023-03-01", 100.0), ("7", "G4", "2024-03-01", 100.0),
    ("8", "G4", "2024-11-01", -30.0),                                    # a refund nets in
    ("9", "L1", "2024-02-01", 1000.0),
    ("10", "K1", "2024-07-01", 60.0),
    ("11", "U1", "2024-08-01", 40.0),
]


@pytest.fixture(scope="module")
def potential() -> pd.DataFrame:
    with Store(":memory:") as store:
        store.load("customers", CUSTOMERS)
        store.load("transactions", pd.DataFrame(
            TRANSACTIONS, columns=["transaction_id", "customer_id", "transaction_date", "amount"]))
        return revenue_potential(store, AS_OF, model=MODEL, min_peers=2)


def tenure(first: str) -> int:
    return (AS_OF - dt.date.fromisoformat(first)).days + 1


def test_size_band_is_the_shared_definition():
    assert (LARGE_EMPLOYEES, LARGE_REVENUE) == (250, 50_000_000)
    assert size_band("business", 250, None) == "large"
    assert size_band("business", 249, 49_999_999) == "small_medium"
    assert size_band("business", None, 50_000_000) == "large"
    assert size_band("consumer", None, None) == "consumer"
    assert size_band("business", None, None) == "unknown"


def test_columns_and_index(potential):
    assert potential.index.tolist() == ["G1", "G2", "G3", "G4", "K1", "L1", "U1"]
    assert potential.index.name == "customer_id"
    for column in ("clv", "probability_alive", "revenue_last_12m", "revenue_prior_12m", "growth_rate",
                   "growth_basis", "annual_spend", "size_band", "industry", "peer_group",
                   "peer_count", "peer_annual_spend_q75", "headroom", "headroom_value",
                   "revenue_potential", "revenue_potential_code"):
        assert column in potential.columns, column
    assert potential["size_band"].to_dict() == {
        "G1": "small_medium", "G2": "small_medium", "G3": "small_medium", "G4": "small_medium",
        "K1": "consumer", "L1": "large", "U1": "unknown"}


def test_growth_rules(potential):
    g = potential
    # G1: the prior window (365 days before the last 365) holds 215 days of G1's life.
    prior_days = tenure("2023-06-01") - 365
    assert prior_days == 215
    assert g.loc["G1", "growth_rate"] == pytest.approx(150 / (100 * 365 / prior_days) - 1)
    assert g.loc["G1", "growth_basis"] == "history"
    # G4: refunds net into the revenue; 307 days in the prior window.
    assert g.loc["G4", "revenue_last_12m"] == 70.0 and g.loc["G4", "revenue_prior_12m"] == 100.0
    assert g.loc["G4", "growth_rate"] == pytest.approx(70 / (100 * 365 / (tenure("2023-03-01") - 365)) - 1)
    # G2 joined 92 days ago: no prior year to compare with.
    assert math.isnan(g.loc["G2", "growth_rate"]) and g.loc["G2", "growth_basis"] == "new_customer"
    # G3 bought nothing in the prior year: growth from zero is undefined.
    assert math.isnan(g.loc["G3", "growth_rate"]) and g.loc["G3", "growth_basis"] == "zero_base"


def test_annual_spend_and_headroom(potential):
    g = potential
    # Younger than a year: annualised over the days as a customer (at least 90).
    assert g.loc["G2", "annual_spend"] == pytest.approx(200 * 365 / tenure("2024-10-01"))
    assert g.loc["G1", "annual_spend"] == 150.0
    spends = g.loc[["G1", "G2", "G3", "G4"], "annual_spend"].to_numpy()
    q75 = np.quantile(spends, 0.75)
    for cid in ("G1", "G2", "G3", "G4"):
        assert g.loc[cid, "peer_group"] == "small_medium / Retail"
        assert g.loc[cid, "peer_count"] == 4
        assert g.loc[cid, "peer_annual_spend_q75"] == pytest.approx(q75)
        assert g.loc[cid, "headroom"] == pytest.approx(max(0.0, q75 - g.loc[cid, "annual_spend"]))
    # L1 is alone in its size band: peers fall back to all customers.
    assert g.loc["L1", "peer_group"] == "all customers" and g.loc["L1", "peer_count"] == 7
    assert g.loc["L1", "headroom"] == 0.0   # the biggest spender has no headroom
    annuity = (1 - 1.1 ** (-365 / 365.25)) / math.log(1.1)
    np.testing.assert_allclose(
        g["headroom_value"], g["probability_alive"] * g["headroom"] * annuity, rtol=1e-12)
    np.testing.assert_allclose(g["revenue_potential"], g["clv"] + g["headroom_value"], rtol=1e-12)


def test_codes_follow_the_quartile_cutoffs(potential):
    cut = potential.attrs["revenue_potential_cutoffs"]
    values = potential["revenue_potential"].to_numpy()
    assert cut == pytest.approx(dict(zip("ABC", np.quantile(values, [0.75, 0.5, 0.25]), strict=True)))
    expected = np.where(values >= cut["A"], "A", np.where(values >= cut["B"], "B",
                        np.where(values >= cut["C"], "C", "D")))
    assert potential["revenue_potential_code"].tolist() == expected.tolist()
    assert set(potential["revenue_potential_code"]) == {"A", "B", "C", "D"}


def test_on_cdnow_with_a_fitted_model(cdnow_store):
    as_of = "1997-12-31"
    summary = rfm_summary(cdnow_store, as_of)
    out = revenue_potential(cdnow_store, as_of, summary=summary)
    assert out.index.equals(summary.index) and len(out) == 2357
    assert out["size_band"].eq("unknown").all()          # CDNOW has no firmographics
    assert out["growth_basis"].eq("new_customer").all()  # all joined in 1997
    shares = out["revenue_potential_code"].value_counts(normalize=True)
    assert set(shares.index) == {"A", "B", "C", "D"} and shares["A"] == pytest.approx(0.25, abs=0.02)
    assert (out["headroom"] >= 0).all() and np.isfinite(out["revenue_potential"]).all()
