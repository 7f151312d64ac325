"""campaign_results: a planted uplift is recovered within its interval; a null campaign shows none."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.campaigns import campaign_overview, campaign_results, contact_history
from crm_analytics.dashboards.render import build_pages
from crm_analytics.errors import InputError
from crm_analytics.exports import export_segment
from crm_analytics.store import Store

N = 3000
EXPORT_AT = pd.Timestamp("2025-03-01 09:00")
BASE, UPLIFT, AMOUNT = 0.20, 0.10, 50.0


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Two campaigns on the same customers, half held out each: 'promo' raises the chance of a
    purchase in the 30 days after the export from 20% to 30% (one purchase of 50); 'null' does
    nothing. Every customer also bought once in the 30 days before (for the churn rate)."""
    rng = np.random.default_rng(11)
    ids = [f"C{i:05d}" for i in range(N)]
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({"customer_id": ids, "email": [f"{c}@x.com" for c in ids],
                                          "marketing_opt_in": True}))
    scores = pd.DataFrame({"risk_band": "high"}, index=pd.Index(ids, name="customer_id"))
    folder = tmp_path_factory.mktemp("planted")
    for campaign in ("promo", "null"):
        export_segment(store, "risk:high", folder / f"{campaign}.csv", scores=scores,
                       campaign=campaign, holdout_fraction=0.5, at=EXPORT_AT)
    promo = contact_history(store, campaign="promo").set_index("customer_id")["is_control"]
    treated = ~promo.reindex(ids).to_numpy(bool)
    p = BASE + UPLIFT * treated
    buys = rng.random(N) < p
    days_after = rng.integers(1, 30, size=N)
    after = pd.DataFrame({"customer_id": np.array(ids)[buys],
                          "transaction_date": (EXPORT_AT.normalize()
                                               + pd.to_timedelta(days_after[buys], unit="D")),
                          "amount": AMOUNT})
    before = pd.DataFrame({"customer_id": ids, "amount": 20.0,
                           "transaction_date": EXPORT_AT.normalize()
                           - pd.to_timedelta(rng.integers(1, 29, size=N), unit="D")})
    tx = pd.concat([before, after], ignore_index=True)
    tx["transaction_id"] = [f"T{i}" for i in range(len(tx))]
    store.load("transactions", tx)
    # A last purchase well after the windows, so the store's as-of date is past them.
    store.load("transactions", pd.DataFrame({"transaction_id": ["Tlast"], "customer_id": [ids[0]],
                                             "transaction_date": ["2025-06-30"], "amount": [1.0]}))
    yield store, treated, buys
    store.close()


def test_planted_uplift_is_recovered_within_its_interval(planted):
    store, treated, buys = planted
    res = campaign_results(store, "promo", window_days=30)
    assert res.skipped is None and res.treatment + res.control == N and res.immature == 0
    response = res.effect("response_rate")
    # The arms are what the holdout hash made them, and the rates are the sample's.
    assert res.treatment == int(treated.sum())
    assert response["treatment"] == pytest.approx(buys[treated].mean())
    assert response["control"] == pytest.approx(buys[~treated].mean())
    assert response["ci_low"] < UPLIFT < response["ci_high"]
    assert response["ci_low"] > 0 and response["p_value"] < 1e-6
    revenue = res.effect("revenue_per_customer")
    assert revenue["ci_low"] < UPLIFT * AMOUNT < revenue["ci_high"] and revenue["ci_low"] > 0
    assert res.incremental_revenue == pytest.approx(revenue["difference"] * res.treatment)
    low, high = res.incremental_revenue_ci
    assert low < UPLIFT * AMOUNT * res.treatment < high
    # Everyone bought before the export; churn = no purchase after = 1 - response here.
    churn = res.effect("churn_rate")
    assert churn["difference"] == pytest.approx(-response["difference"])
    assert "promo" in res.summary() and "incremental revenue" in res.summary()
    fig = res.plot_effects()
    assert list(fig.data[0].y) == ["response_rate", "revenue_per_customer", "churn_rate"]


def test_a_campaign_without_effect_shows_none(planted):
    store, *_ = planted
    res = crm.campaign_results(store, "null", window_days=30)
    for metric in ("response_rate", "revenue_per_customer", "churn_rate"):
        row = res.effect(metric)
        assert row["ci_low"] < 0 < row["ci_high"], metric
        assert row["p_value"] > 0.05, metric


def test_no_look_ahead_windows_not_over_are_left_out(planted):
    store, *_ = planted
    res = campaign_results(store, "promo", window_days=30, as_of="2025-03-20")
    assert res.treatment == res.control == 0 and res.immature == N
    assert "window is over" in res.skipped and math.isnan(res.effect("response_rate")["difference"])


def test_overview_and_dashboard_page_list_the_campaigns(planted):
    store, *_ = planted
    overview = campaign_overview(store, 30)
    assert set(overview["campaign"]) == {"promo", "null"}
    promo = overview.set_index("campaign").loc["promo"]
    assert promo["ci_low"] < UPLIFT < promo["ci_high"] and promo["treatment"] + promo["control"] == N
    pages = build_pages(pd.DataFrame(index=pd.Index([], name="customer_id")), {},
                        {"run_id": "r1", "as_of": "2025-06-30", "finished_at": "now"},
                        campaigns=overview)
    html = pages["campaigns.html"]
    assert "promo" in html and "null" in html and 'id="campaign-lift"' in html
    assert "No campaign recorded yet" in build_pages(
        pd.DataFrame(index=pd.Index([], name="customer_id")), {},
        {"run_id": "r1", "as_of": "2025-06-30", "finished_at": "now"})["campaigns.html"]


def test_hostile_input_degrades_or_raises_one_line(planted):
    store, *_ = planted
    assert "no customer of campaign 'nope'" in campaign_results(store, "nope").skipped
    for bad in ({"campaign": ""}, {"campaign": 3}, {"window_days": 0}, {"window_days": 2.5},
                {"window_days": True}, {"confidence": 1.0}):
        args = {"campaign": "promo", "window_days": 30, **bad}
        with pytest.raises(InputError) as info:
            campaign_results(store, args.pop("campaign"), **args)
        assert "\n" not in str(info.value)
    with pytest.raises(InputError):
        campaign_results(store, "promo").effect("nps")


def test_a_campaign_without_control_group_says_so(tmp_path):
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2", "C3"],
                                          "email": ["a@x.com", "b@x.com", "c@x.com"],
                                          "marketing_opt_in": True}))
    scores = pd.DataFrame({"risk_band": "low"}, index=pd.Index(["C1", "C2", "C3"], name="customer_id"))
    export_segment(store, "risk:low", tmp_path / "x.csv", scores=scores, campaign="all_in",
                   at="2025-01-01")
    res = campaign_results(store, "all_in", as_of="2025-12-31")
    assert res.skipped == "no control group: give the campaign a holdout_fraction"
    assert res.treatment == 3 and "not measured" in res.summary()


def test_a_store_that_is_not_a_store_is_one_input_error():
    from crm_analytics import campaign_results
    from crm_analytics.errors import InputError

    with pytest.raises(InputError, match="Store needs a file path .* got int 12"):
        campaign_results(12, "spring")
    with pytest.raises(InputError):
        campaign_results("/nonexistent/folder/crm.duckdb", "spring")
