"""Lifetimes as of a date, the cohort and revenue retention tables: hand-computed cases and hostile input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.subscriptions import (
    attach,
    cohort_retention,
    plot_cohort_heatmap,
    plot_revenue_retention,
    retention_matrix,
    revenue_retention,
    subscription_lifetimes,
    subscriptions_from_tenure,
)

SUBS = pd.DataFrame({
    "subscription_id": ["S1", "S2", "S3", "S4", "S5", "S6"],
    "customer_id": ["C1", "C2", "C3", "C4", "C1", "C5"],
    "plan": ["basic", "basic", "pro", "pro", "pro", "basic"],
    "started_at": ["2024-01-10", "2024-01-20", "2024-01-31", "2024-02-15", "2024-03-01", "2024-05-05"],
    "ended_at": ["2024-02-05", None, "2024-04-30", "2024-08-01", None, None],
    "billing_period": ["month", "monthly", "month", "year", "month", "month"],
    "recurring_amount": [10.0, 10.0, 30.0, 240.0, 20.0, 10.0],
})
AS_OF = "2024-05-31"


@pytest.fixture(scope="module")
def life():
    return subscription_lifetimes(SUBS, AS_OF)


def test_lifetimes_by_hand(life):
    got = life.set_index("subscription_id")
    # S1: 2024-01-10 -> 02-05, ended within its first month: paid 1 period
    # S2: active, 01-20 -> cutoff 06-01: 4 whole months (05-20 <= 06-01 < 06-20)
    # S3: 01-31 -> 04-30: 01-31 + 3 months = 04-30 exactly: 3 periods, no partial one
    # S4: ends after as_of: not known yet, active; 02-15 -> 06-01: 3 whole months
    assert got["duration"].to_dict() == {"S1": 1, "S2": 4, "S3": 3, "S4": 3, "S5": 3, "S6": 0}
    assert got["event"].to_dict() == {"S1": True, "S2": False, "S3": True, "S4": False, "S5": False,
                                      "S6": False}
    assert got["age"].to_dict() == {"S1": 4, "S2": 4, "S3": 4, "S4": 3, "S5": 3, "S6": 0}
    assert got.loc["S4", "ended_at"] is pd.NaT or pd.isna(got.loc["S4", "ended_at"])
    assert got["cohort"].to_dict()["S4"] == "2024-02"
    # a yearly 240 is 20 per month
    assert got.loc["S4", "amount_per_period"] == pytest.approx(20.0)
    assert got.loc["S2", "billing_period"] == "month"


def test_no_look_ahead(life):
    early = subscription_lifetimes(SUBS, "2024-02-29")
    assert set(early["subscription_id"]) == {"S1", "S2", "S3", "S4"}  # S5, S6 not started yet
    got = early.set_index("subscription_id")
    assert not got.loc["S3", "event"] and got.loc["S3", "duration"] == 1  # its end is in the future
    # later data never change an earlier as-of table
    more = pd.concat([SUBS, pd.DataFrame({"subscription_id": ["S9"], "customer_id": ["C9"],
                                          "started_at": ["2024-03-01"], "billing_period": ["month"]})])
    pd.testing.assert_frame_equal(subscription_lifetimes(more, "2024-02-29"), early)


def test_cohort_table_by_hand(life):
    table = cohort_retention(life, by="plan").set_index(["segment", "cohort", "period"])
    # basic, 2024-01: S1 (cancelled in period 1), S2 (active, age 4)
    basic = table.loc[("basic", "2024-01")]
    assert basic["eligible"].tolist() == [2, 2, 2, 2, 2]
    assert basic["active"].tolist() == [2, 1, 1, 1, 1]
    assert basic["retention"].tolist() == [1.0, 0.5, 0.5, 0.5, 0.5]
    # pro, 2024-01: S3 paid 3 periods: active after 0, 1, 2 periods, not after 3
    assert table.loc[("pro", "2024-01"), "active"].tolist() == [1, 1, 1, 0, 0]
    # basic 2024-05: S6 is observed only at period 0
    assert table.loc[("basic", "2024-05")].index.tolist() == [0]
    assert (table["cohort_size"] >= table["eligible"]).all()
    matrix = retention_matrix(cohort_retention(life, by="plan"), segment="basic")
    assert matrix.loc["2024-01", 1] == 0.5 and np.isnan(matrix.loc["2024-05", 1])


def test_revenue_retention_by_hand(life):
    table = revenue_retention(life).set_index(["cohort", "period"])
    # customer C1 (cohort 2024-01): S1 10/month from 01-10 to 02-05, S5 20/month from 03-01.
    # C2: 10 from 01-20; C3: 30 from 01-31 to 04-30. Period 1 (a month after each start):
    # C1 at 02-10: 0; C2 at 02-20: 10; C3 at 02-29: 30 -> 40 of 50, gross min(.,start) also 40.
    jan = table.loc["2024-01"]
    assert jan.loc[0, "starting_revenue"] == 50 and jan.loc[0, "customers"] == 3
    assert jan.loc[1, "revenue"] == 40
    # period 2: C1 at 03-10: 20 (upgrade), C2 10, C3 30 -> 60: net 120%, gross (10 + 10 + 30) / 50
    assert jan.loc[2, "net_revenue_retention"] == pytest.approx(60 / 50)
    assert jan.loc[2, "gross_revenue_retention"] == pytest.approx(50 / 50)
    # period 4: C3 ended 04-30 (at 05-31 nothing), C1 20, C2 10 -> 30
    assert jan.loc[4, "revenue"] == 30 and jan.loc[4, "gross_revenue_retention"] == pytest.approx(20 / 50)


def test_segments_from_scores_and_attributes(life):
    scores = pd.DataFrame({"risk_band": ["high", "low"]}, index=pd.Index(["C1", "C2"], name="customer_id"))
    joined = attach(life, scores, "risk_band")
    assert joined.attrs == life.attrs
    table = cohort_retention(joined, by="risk_band")
    assert set(table["segment"]) == {"high", "low", "(missing)"}
    with pytest.raises(InputError, match="already in the lifetimes"):
        attach(joined, scores)
    with pytest.raises(InputError, match="not in the table"):
        attach(life, scores, "nope")


def test_telco_style_derivation_round_trips():
    frame = pd.DataFrame({"id": ["A", "B", "C", "D"], "tenure": [0, 1, 4, 72],
                          "Churn": ["No", "Yes", "yes", "0"], "Contract": ["m", "m", "y", "y"]})
    for as_of in ("2024-06-30", "2024-03-31", "2023-02-28"):  # month ends clip start dates
        subs = subscriptions_from_tenure(frame, as_of, customer_id="id", churn="Churn", plan="Contract")
        life = subscription_lifetimes(subs, as_of)
        assert life["duration"].tolist() == [0, 1, 4, 72]
        assert life["event"].tolist() == [False, True, True, False]
        assert (life["ended_at"].dropna() <= pd.Timestamp(as_of)).all()
    with pytest.raises(InputError, match="column tenure row 1.*whole number"):
        subscriptions_from_tenure(frame.assign(tenure=[1, -1, 2, 3]), "2024-06-30", customer_id="id",
                                  churn="Churn")
    with pytest.raises(InputError, match="column Churn row 0.*not a churn flag"):
        subscriptions_from_tenure(frame.assign(Churn="maybe"), "2024-06-30", customer_id="id",
                                  churn="Churn")
    with pytest.raises(InputError, match=r"column\(s\) \['customer_id'\] missing"):
        subscriptions_from_tenure(frame, "2024-06-30", churn="Churn")


@pytest.mark.parametrize(("change", "message"), [
    ({"started_at": ["2024-01-10", "soon", None, None, None, None]}, "row 1 column started_at"),
    ({"ended_at": ["2023-01-01", None, None, None, None, None]}, "end before they start.*S1"),
    ({"billing_period": ["month", "fortnight", "month", "month", "month", "month"]},
     "row 1 column billing_period: 'fortnight'"),
    ({"recurring_amount": [10, -1, 1, 1, 1, 1]}, "row 1 column recurring_amount"),
    ({"subscription_id": ["S1", "S1", "S3", "S4", "S5", "S6"]}, "duplicate.*S1"),
])
def test_bad_frames_are_one_clear_error(change, message):
    bad = SUBS.copy()
    for col, values in change.items():
        bad[col] = values
    with pytest.raises(InputError, match=message):
        subscription_lifetimes(bad, AS_OF)


def test_hostile_input():
    with pytest.raises(InputError, match="period must be one of"):
        subscription_lifetimes(SUBS, AS_OF, period="fortnight")
    with pytest.raises(InputError, match=r"required column\(s\) \['billing_period'\]"):
        subscription_lifetimes(SUBS.drop(columns="billing_period"), AS_OF)
    with pytest.raises(InputError, match="expected a Store or a DataFrame"):
        subscription_lifetimes([1, 2], AS_OF)
    life = subscription_lifetimes(SUBS, AS_OF)
    with pytest.raises(InputError, match="segment column 'nope'"):
        cohort_retention(life, by="nope")
    with pytest.raises(InputError, match="max_periods"):
        cohort_retention(life, max_periods=-1)
    with pytest.raises(InputError, match="missing"):
        cohort_retention(life.drop(columns="age"))
    # empty: empty tables, not errors
    empty = subscription_lifetimes(SUBS, "2023-01-01")
    assert empty.empty and cohort_retention(empty).empty and revenue_retention(empty).empty
    # one customer, one subscription
    one = subscription_lifetimes(SUBS.head(1), AS_OF)
    assert cohort_retention(one)["active"].tolist() == [1, 0, 0, 0, 0]
    with pytest.raises(InputError, match="choose one with segment="):
        retention_matrix(cohort_retention(life, by="plan"))


def test_figures(life):
    table = cohort_retention(life, by="plan")
    fig = plot_cohort_heatmap(table, segment="basic")
    heat = fig.data[0]
    assert heat.type == "heatmap" and list(heat.y) == ["2024-01", "2024-05"]
    assert heat.z[0][1] == 0.5 and fig.layout.xaxis.title.text == "Months since start"
    small = plot_cohort_heatmap(table, segment="pro", max_cohorts=1)
    assert "Latest 1 of 3 cohorts shown." in small.layout.meta["notes"]
    rev = plot_revenue_retention(revenue_retention(life))
    assert [t.name for t in rev.data] == ["Net revenue retention", "Gross revenue retention"]
    assert rev.data[0].y[0] == pytest.approx(1.0)
