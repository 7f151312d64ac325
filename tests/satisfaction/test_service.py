"""Service quality from tickets and its link to satisfaction (satisfaction.service).

``service_quality`` is checked against values worked out by hand on a nine-ticket
fixture; ``service_impact`` against the synthetic generator's planted breach effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from crm_analytics import satisfaction as sat
from crm_analytics.errors import DataQualityWarning, InputError
from crm_analytics.store.attributes import SizeThresholds

# Four customers: A and C are businesses, B and D consumers; D arrives in March.
CUSTOMERS = pd.DataFrame({
    "customer_id": ["A", "B", "C", "D"],
    "region": ["EMEA", "EMEA", "APAC", "APAC"],
    "customer_type": ["business", "consumer", "business", "consumer"],
    "employees": [20, None, 400, None],
    "created_at": ["2024-01-01", "2024-01-15", "2024-02-10", "2024-03-05"],
})
# As of 2024-03-10 (cutoff 2024-03-11 00:00), per ticket:
#   K1 Jan  4 h of  8: met, reopened        K2 Jan 48 h of 24: breached, complaint
#   K3 Jan 48 h of 72: met (open at 1 Feb)  K4 Feb  4 h of  4: met exactly, complaint
#   K5 Feb 144 h of 24: breached (open at 1 Mar)
#   K6 Mar resolved 12 Mar: open at as_of and past its deadline (9 Mar 08:00): breached
#   K7 Mar deadline 11 Mar 02:00 after the cutoff: pending; first response after as_of
#   K8 Mar no SLA, complaint                K9 opened after as_of: not counted
TICKETS = pd.DataFrame({
    "ticket_id": ["K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8", "K9"],
    "customer_id": ["A", "A", "B", "C", "B", "C", "A", "B", "A"],
    "opened_at": ["2024-01-05 10:00", "2024-01-20 09:00", "2024-01-31 20:00",
                  "2024-02-15 08:00", "2024-02-28 12:00", "2024-03-08 08:00",
                  "2024-03-10 18:00", "2024-03-09 10:00", "2024-03-12 09:00"],
    "first_response_at": ["2024-01-05 10:30", "2024-01-20 11:00", "2024-02-01 08:00",
                          "2024-02-15 09:00", "2024-02-28 13:00", "2024-03-08 16:00",
                          "2024-03-11 09:00", "2024-03-09 10:30", None],
    "resolved_at": ["2024-01-05 14:00", "2024-01-22 09:00", "2024-02-02 20:00",
                    "2024-02-15 12:00", "2024-03-05 12:00", "2024-03-12 08:00", None,
                    "2024-03-09 11:00", None],
    "priority": ["P2", "P3", "P4", "P1", "P3", "P3", "P2", "P4", "P2"],
    "channel": ["email", "phone", "email", "chat", "phone", "portal", "email", "chat", "email"],
    "sla_hours": [8, 24, 72, 4, 24, 24, 8, None, 8],
    "is_complaint": [False, True, False, True, False, False, False, True, False],
    "reopened": [True, False, False, False, False, False, False, False, False],
})
AS_OF = "2024-03-10"


@pytest.fixture(scope="module")
def tickets_store(make_store):
    return make_store({"customers": CUSTOMERS, "tickets": TICKETS})


def test_monthly_service_quality_matches_hand_computation(tickets_store):
    table = sat.service_quality(tickets_store, AS_OF, period="month", min_n=1)
    table = table.set_index(table["month"].dt.strftime("%Y-%m"))
    assert list(table.index) == ["2024-01", "2024-02", "2024-03"]
    expected = {
        #            Jan    Feb    Mar
        "n_tickets": [3, 2, 3],
        "n_resolved": [3, 2, 1],
        "n_open": [0, 0, 2],
        "n_sla_met": [2, 1, 0],
        "n_sla_breached": [1, 1, 1],
        "n_sla_pending": [0, 0, 1],
        "n_no_sla": [0, 0, 1],
        "sla_compliance": [2 / 3, 1 / 2, 0.0],
        "n_responded": [3, 2, 2],
        # percentile_cont: position q * (n - 1) in the sorted values, linear in between.
        "first_response_p50_hours": [2.0, 1.0, 4.25],  # [0.5, 2, 12], [1, 1], [0.5, 8]
        "first_response_p90_hours": [2 + 0.8 * 10, 1.0, 0.5 + 0.9 * 7.5],
        "resolution_p50_hours": [48.0, 74.0, 1.0],  # [4, 48, 48], [4, 144], [1]
        "resolution_p90_hours": [48.0, 4 + 0.9 * 140, 1.0],
        "n_reopened": [1, 0, 0],
        "reopen_rate": [1 / 3, 0.0, 0.0],
        "n_complaints": [1, 1, 1],
        "n_customers": [2, 3, 4],  # on record at 1 Feb, 1 Mar and the cutoff
        "complaints_per_100_customers": [50.0, 100 / 3, 25.0],
        "backlog": [1, 1, 2],  # K3 at 1 Feb, K5 at 1 Mar, K6 and K7 at the cutoff
    }
    for column, values in expected.items():
        np.testing.assert_allclose(table[column].to_numpy(float), values, rtol=1e-12,
                                   err_msg=column)
    assert table["reportable"].all() and (table["note"] == "").all()


def test_whole_period_by_priority_and_region(tickets_store):
    total = sat.service_quality(tickets_store, AS_OF, period=None, min_n=1).iloc[0]
    assert (total["n_tickets"], total["n_sla_met"], total["n_sla_breached"]) == (8, 3, 3)
    assert total["sla_compliance"] == 0.5 and total["backlog"] == 2
    assert total["reopen_rate"] == pytest.approx(1 / 6)
    assert total["complaints_per_100_customers"] == 75.0
    by_priority = sat.service_quality(tickets_store, AS_OF, by="priority", period=None,
                                      min_n=1).set_index("priority")
    assert by_priority.loc["P3", "n_tickets"] == 3 and by_priority.loc["P3", "n_sla_met"] == 0
    assert by_priority.loc["P3", "sla_compliance"] == 0.0
    # Ticket dimensions do not split the denominator: all four customers.
    assert by_priority.loc["P3", "complaints_per_100_customers"] == 25.0
    assert list(by_priority["n_customers"]) == [4, 4, 4, 4]
    by_region = sat.service_quality(tickets_store, AS_OF, by=["region", "size_band"],
                                    period=None, min_n=1)
    apac = by_region[by_region["region"] == "APAC"].set_index("size_band")
    # C is large (400 employees): K4 met, K6 breached; D has no tickets.
    assert apac.loc["large", "sla_compliance"] == 0.5 and apac.loc["large", "n_customers"] == 1
    emea = by_region[by_region["region"] == "EMEA"].set_index("size_band")
    assert emea.loc["small_medium", "n_tickets"] == 3  # K1, K2, K7 of A
    assert emea.loc["consumer", "complaints_per_100_customers"] == 100.0  # K8 of B
    smaller = SizeThresholds(large_employees=10)
    bands = sat.service_quality(tickets_store, AS_OF, by="size_band", period=None, min_n=1,
                                thresholds=smaller)
    assert "small_medium" not in set(bands["size_band"])


def test_nothing_after_as_of_counts(tickets_store, make_store):
    later = sat.service_quality(tickets_store, "2024-03-12", period=None, min_n=1).iloc[0]
    # K6 is now resolved (96 h: breached); K7 and K9 (opened on the 12th, 8 h SLA) are open
    # past their deadlines.
    assert (later["n_tickets"], later["n_sla_breached"], later["n_sla_pending"]) == (9, 5, 0)
    assert later["n_responded"] == 8
    # Rewriting everything after the cutoff changes nothing as of AS_OF.
    rewritten = TICKETS.copy()
    rewritten.loc[rewritten["ticket_id"] == "K6", "resolved_at"] = "2024-04-30 08:00"
    rewritten.loc[rewritten["ticket_id"] == "K7", "resolved_at"] = "2024-03-11 01:00"
    rewritten.loc[rewritten["ticket_id"] == "K9", "opened_at"] = "2024-03-11 00:00"
    other = make_store({"customers": CUSTOMERS, "tickets": rewritten})
    pd.testing.assert_frame_equal(sat.service_quality(other, AS_OF, min_n=1),
                                  sat.service_quality(tickets_store, AS_OF, min_n=1))


def test_small_cells_keep_counts_but_not_rates(tickets_store):
    with pytest.warns(DataQualityWarning, match=r"3 of 3 cell\(s\) have fewer than min_n=10 "
                                                r"tickets .* month=2024-01-01 with n_tickets=3"):
        table = sat.service_quality(tickets_store, AS_OF)
    assert list(table["n_tickets"]) == [3, 2, 3]
    assert table["sla_compliance"].isna().all() and not table["reportable"].any()
    assert table["note"].iloc[0] == "n_tickets=3 < min_n=10: rates not reportable"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"by": "colour"}, r"'by' parameter must name up to 3 of \['region'"),
    ({"by": ["region", "region"]}, "distinct"),
    ({"period": "week"}, r"'period' parameter must be one of \['month', 'quarter', 'year'\]"),
    ({"min_n": 0}, r"'min_n' parameter must be an int"),
    ({"as_of": "2023-12-31"}, "no tickets opened on or before 2023-12-31"),
    ({"as_of": "not a date"}, "is not a date"),
])
def test_service_quality_errors(tickets_store, kwargs, match):
    with pytest.raises(InputError, match=match):
        sat.service_quality(tickets_store, **kwargs)


def test_service_quality_needs_a_store():
    with pytest.raises(InputError, match="needs a crm_analytics.Store"):
        sat.service_quality(TICKETS)


def test_sla_trend_figure_from_the_table(tickets_store):
    table = sat.service_quality(tickets_store, AS_OF, min_n=1)
    fig = sat.plot_sla_trend(table, "month", "sla_compliance", target=0.9)
    assert list(fig.data[0].y) == pytest.approx([2 / 3, 0.5, 0.0])


# --- the link to satisfaction --------------------------------------------------------------
def clipped_mean(mean: float, sd: float, low: int, high: int) -> float:
    """E[clip(round(mean + sd * z), low, high)] for z ~ N(0, 1)."""
    k = np.arange(low, high + 1)
    upper = np.where(k == high, np.inf, k + 0.5)
    lower = np.where(k == low, -np.inf, k - 0.5)
    return float((k * (norm.cdf((upper - mean) / sd) - norm.cdf((lower - mean) / sd))).sum())


def test_csat_breach_effect_is_recovered(synthetic_store, synthetic_data):
    prm = synthetic_data.truth.params
    res = sat.service_impact(synthetic_store, outcome="csat", terms=["last_ticket_breached"])
    row = res.coefficients.set_index("term").loc["last_ticket_breached"]
    # The generator rounds and clips to 1-5, which shrinks the -1.5 effect to the difference
    # of two clipped normal means: -1.43. Sampling error of the estimate is about 0.03.
    expected = (clipped_mean(prm["csat_mean"] + prm["csat_breach_effect"], prm["csat_sd"], 1, 5)
                - clipped_mean(prm["csat_mean"], prm["csat_sd"], 1, 5))
    assert expected == pytest.approx(-1.43, abs=0.01)
    assert row["estimate"] == pytest.approx(expected, abs=0.1)
    assert row["estimate"] == pytest.approx(prm["csat_breach_effect"], abs=0.15)
    assert row["ci_lower"] < expected < row["ci_upper"]
    assert 0.02 < row["std_error"] < 0.05 and row["p_value"] < 1e-10
    assert res.cov_type == "HC3" and res.n == len(res.data) and res.n_customers > 1000
    # The default terms add resolution time and complaints, which the generator ignores.
    full = sat.service_impact(synthetic_store, outcome="csat").coefficients.set_index("term")
    assert full.loc["last_ticket_breached", "estimate"] == pytest.approx(expected, abs=0.1)
    assert abs(full.loc["complaints", "estimate"]) < 0.1


def test_nps_breach_effect_is_recovered_within_customers(synthetic_store, synthetic_data):
    prm = synthetic_data.truth.params
    # Mirror the generator: breached tickets resolved in [answer - 180 days, answer).
    assert "resolved in [responded_at - nps_breach_window_days" in prm["nps_breach_definition"]
    window = int(prm["nps_breach_window_days"])
    res = sat.service_impact(synthetic_store, outcome="nps", terms=["sla_breaches"],
                             window_days=window, customer_effects=True)
    row = res.coefficients.set_index("term").loc["sla_breaches"]
    # Clipping at 10 shrinks the effect to about -0.92 for well-served customers and -1.0
    # for poorly served ones; the within-customer standard error is about 0.11, so 0.3 is
    # close to three of them.
    assert row["estimate"] == pytest.approx(prm["nps_breach_effect"], abs=0.3)
    assert row["ci_lower"] < prm["nps_breach_effect"] < row["ci_upper"]
    assert res.cov_type == "cluster" and res.customer_effects
    assert list(res.coefficients["term"]) == ["sla_breaches"]  # no intercept within customers
    # Pooled over customers, the poorly served group's lower NPS (5.6 vs 8.3) is mixed in.
    pooled = sat.service_impact(synthetic_store, outcome="nps", terms=["sla_breaches"],
                                window_days=window)
    assert pooled.coefficients.set_index("term").loc["sla_breaches", "estimate"] < -1.5


def test_service_impact_hand_case_summary_and_figure(demo):
    res = sat.service_impact(demo, outcome="csat", terms=["last_ticket_breached"],
                             cov_type="HC1")
    # CSAT 5, 2, 4, 3 after tickets met, breached, met, met (the last one's latest ticket
    # resolved is T3; T4 is still open): OLS = group means 4 and 2 - 4.
    x = np.array([0.0, 1.0, 0.0, 0.0])
    y = np.array([5.0, 2.0, 4.0, 3.0])
    design = np.column_stack([np.ones(4), x])
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    resid = y - design @ beta
    bread = np.linalg.inv(design.T @ design)
    hc1 = bread @ (design.T * resid**2) @ design @ bread * 4 / (4 - 2)
    coefs = res.coefficients
    assert list(coefs.columns) == ["term", "estimate", "std_error", "ci_lower", "ci_upper",
                                   "p_value"]
    np.testing.assert_allclose(coefs["estimate"], beta, atol=1e-12)
    np.testing.assert_allclose(coefs["std_error"], np.sqrt(np.diag(hc1)), atol=1e-12)
    assert res.r_squared == pytest.approx(1 - (resid**2).sum() / ((y - y.mean())**2).sum())
    assert list(res.data["last_ticket_breached"]) == [0, 1, 0, 0]
    summary = res.summary()
    assert "last_ticket_breached" in str(summary) and "<table" in summary._repr_html_()
    pd.testing.assert_frame_equal(summary.to_frame(), coefs)
    assert "ServiceImpact(outcome='csat', n=4" in repr(res)
    fig = res.plot_coefficients()
    assert list(fig.data[0].y) == ["last_ticket_breached"]
    assert fig.data[0].x[0] == pytest.approx(-2.0)


def test_service_impact_messages(demo):
    with pytest.raises(InputError, match=r"'outcome' parameter must be one of \['nps', 'csat'\]"):
        sat.service_impact(demo, outcome="ces")
    with pytest.raises(InputError, match=r"'terms' parameter must list some of"):
        sat.service_impact(demo, terms=["mood"])
    with pytest.raises(InputError, match=r"no answers to survey item 'csat' up to 2024-01-31; "
                                         r"found survey 'ecsi': quality_1 \(1\)"):
        sat.service_impact(demo, "2024-01-31")
    with pytest.raises(InputError, match="customer_effects=True needs customers with two"):
        sat.service_impact(demo, "2024-04-30", customer_effects=True)
    with pytest.warns(DataQualityWarning, match=r"\['complaints'\] do not vary over the answers"):
        res = sat.service_impact(demo, outcome="nps", terms=["tickets_resolved", "complaints"])
    assert list(res.coefficients["term"]) == ["intercept", "tickets_resolved"]
    with pytest.warns(DataQualityWarning), pytest.raises(InputError, match="no term varies"):
        sat.service_impact(demo, outcome="nps", terms=["sla_breaches"])
