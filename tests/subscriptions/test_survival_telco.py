"""Kaplan-Meier, log-rank and Cox on IBM's Telco data, against an independent numpy implementation.

The package computes with statsmodels (``SurvfuncRight``, ``survdiff``, ``PHReg``);
the reference is ``_reference.py``: the textbook formulas in plain numpy (no
statsmodels, no package code), itself checked on small cases computed by hand
below. Telco: ``tenure`` in months, ``Churn`` Yes/No, by ``Contract``; 7,043
customers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_analytics.errors import InputError, NotFittedError
from crm_analytics.subscriptions import (
    CoxModel,
    kaplan_meier,
    logrank_test,
    subscription_lifetimes,
    subscriptions_from_tenure,
)

from . import _reference as ref


def _telco_path() -> Path:
    name = "telco_customer_churn.csv"
    for folder in (os.environ.get("CRM_ANALYTICS_DATASETS", ""),
                   Path(__file__).resolve().parents[2].parent / "shared" / "datasets",
                   "/work/shared/datasets"):
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    return Path(name)


TELCO = _telco_path()
needs_telco = pytest.mark.skipif(not TELCO.is_file(), reason=f"Telco data not found ({TELCO}); set "
                                 "CRM_ANALYTICS_DATASETS to the shared datasets folder")


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    data = pd.read_csv(TELCO)
    data["event"] = data["Churn"].eq("Yes")
    return data


# --------------------------------------------------------------------------- the reference, by hand
# Six subjects. a: 1, 3, 4+; b: 2, 3, 5+ (+: censored).
#   t  n  d   S                       Greenwood v = sum d / (n (n - d))
#   1  6  1   5/6                     1/30
#   2  5  1   5/6 * 4/5 = 2/3         1/30 + 1/20
#   3  4  2   2/3 * 2/4 = 1/3         1/30 + 1/20 + 2/8 = 1/3
#   4  2  0   1/3 ;  5  1  0   1/3    (censorings: S and v unchanged)
# se S(3) = S sqrt(v) = 1/sqrt(27) = 0.19245009; log(-log) band at 3 with z = 1.959964:
# (1/3) ** exp(-/+ z sqrt(1/3) / log(1/3)) = 0.04608224, 0.67556436. Median: 3 (S first <= 1/2).
# Log-rank, group a: t=1: n=6, n_a=3, d=1, E_a=1/2, V=(1*5/5)(1/2)(1/2)=1/4;
# t=2: n=5, n_a=2, d=1, E_a=2/5, V=(1*4/4)(2/5)(3/5)=6/25; t=3: n=4, n_a=2, d=2, E_a=1,
# V=(2*2/3)(1/2)(1/2)=1/3. O_a - E_a = 2 - 19/10 = 1/10, V = 247/300, chi2 = 0.01 / V = 3/247.
HAND = pd.DataFrame({"duration": [1, 3, 4, 2, 3, 5], "event": [1, 1, 0, 1, 1, 0],
                     "g": ["a", "a", "a", "b", "b", "b"]})


def test_reference_kaplan_meier_by_hand():
    r = ref.kaplan_meier(HAND["duration"], HAND["event"])
    assert r["time"].tolist() == [1, 2, 3, 4, 5]
    assert r["at_risk"].tolist() == [6, 5, 4, 2, 1] and r["events"].tolist() == [1, 1, 2, 0, 0]
    assert np.allclose(r["survival"], [5 / 6, 2 / 3, 1 / 3, 1 / 3, 1 / 3], rtol=0, atol=1e-15)
    assert r["std_error"][2] == pytest.approx(1 / np.sqrt(27), rel=1e-12)
    assert r["ci_lower"][2] == pytest.approx(0.046082243412045115, rel=1e-12)
    assert r["ci_upper"][2] == pytest.approx(0.6755643579693008, rel=1e-12)
    # and the package agrees with the reference
    km = kaplan_meier(HAND).table.set_index("time")
    for col in ("survival", "std_error", "ci_lower", "ci_upper"):
        assert np.allclose(km.loc[[1.0, 2.0, 3.0], col], r[col][:3], rtol=0, atol=1e-12)
    assert kaplan_meier(HAND).medians.loc["all", "median"] == 3


def test_reference_logrank_by_hand():
    chi2, df, p = ref.logrank(HAND["duration"], HAND["event"], HAND["g"])
    assert chi2 == pytest.approx(3 / 247, rel=1e-12) and df == 1
    assert p == pytest.approx(0.9122446131268519, rel=1e-9)  # chi2(1) survival at 3/247
    ours = logrank_test(HAND, by="g")
    assert ours.statistic == pytest.approx(chi2, rel=1e-12) and ours.p_value == pytest.approx(p, rel=1e-12)
    # k groups: which group is dropped from U' V^- U does not matter ("a" renamed "z": last, dropped)
    three = HAND.assign(g=["a", "a", "c", "b", "c", "b"])
    stat = ref.logrank(three["duration"], three["event"], three["g"])[0]
    renamed = three["g"].replace({"a": "z"})
    assert ref.logrank(three["duration"], three["event"], renamed)[0] == pytest.approx(stat, rel=1e-12)
    assert logrank_test(three, by="g").statistic == pytest.approx(stat, rel=1e-12)


def test_reference_cox_by_hand():
    # No ties: x = 1 dies at 1, x = 0 dies at 2, x = 1 censored at 3. With u = exp(b):
    # l = b - log(2u + 1) - log(1 + u); score 0 at 2u^2 = 1, b = -log(2) / 2; information
    # 2u / (2u + 1)^2 + u / (1 + u)^2 = 6 sqrt(2) - 8, se = 1 / sqrt(6 sqrt(2) - 8) = 1.4355.
    x, t, e = np.array([[1.0], [0.0], [1.0]]), np.array([1.0, 2.0, 3.0]), np.array([1, 1, 0])
    for ties in ("breslow", "efron"):
        fit = ref.cox(x, t, e, ties)
        assert fit["coef"][0] == pytest.approx(-np.log(2) / 2, abs=1e-10)
        assert fit["std_error"][0] == pytest.approx(1 / np.sqrt(6 * np.sqrt(2) - 8), rel=1e-9)
    # A tie: x = 1 and x = 0 both die at 1, x = 1 censored at 2. Risk-set sum 2u + 1, the
    # events' sum u + 1. Breslow: l = b - 2 log(2u + 1), u = 1/2, b = -log 2. Efron:
    # l = b - log(2u + 1) - log((2u + 1) - (u + 1)/2), u^2 = 1/6, b = -log(6) / 2.
    t = np.array([1.0, 1.0, 2.0])
    assert ref.cox(x, t, e, "breslow")["coef"][0] == pytest.approx(-np.log(2), abs=1e-10)
    assert ref.cox(x, t, e, "efron")["coef"][0] == pytest.approx(-np.log(6) / 2, abs=1e-10)


# --------------------------------------------------------------------------- Telco against the reference
@needs_telco
def test_kaplan_meier_by_contract_equals_reference(telco):
    km = kaplan_meier(telco, duration="tenure", event="event", by="Contract")
    assert list(km.medians.index) == ["Month-to-month", "One year", "Two year"]
    worst = 0.0
    for contract, part in telco.groupby("Contract"):
        r = pd.DataFrame(ref.kaplan_meier(part["tenure"], part["event"])).set_index("time")
        ours = km.table[km.table["segment"] == contract].set_index("time")
        # every distinct time (events and censorings): our step function there
        step = ours["survival"].reindex(r.index, method="ffill").to_numpy()
        worst = max(worst, np.abs(step - r["survival"].to_numpy()).max())
        both = ours.index.intersection(r.index)
        # our table: time 0 (survival 1) and every event time
        assert set(both) - {0.0} == set(r.index[r["events"] > 0])
        for col in ("std_error", "ci_lower", "ci_upper"):
            worst = max(worst, np.abs(ours.loc[both, col].to_numpy() - r.loc[both, col].to_numpy()).max())
        assert (ours.loc[both, "at_risk"].to_numpy() == r.loc[both, "at_risk"].to_numpy()).all()
        below = r.index[r["survival"] <= 0.5]
        median = km.medians.loc[contract, "median"]
        if len(below):
            assert median == below[0]
        else:
            assert np.isnan(median)
    assert worst < 1e-9
    assert km.medians.loc["Month-to-month", "median"] == 35
    assert km.medians.loc["Month-to-month", "cancelled"] == 1655


@needs_telco
def test_logrank_by_contract_equals_reference(telco):
    ours = logrank_test(telco, duration="tenure", event="event", by="Contract")
    chi2, df, p = ref.logrank(telco["tenure"], telco["event"], telco["Contract"])
    assert ours.statistic == pytest.approx(chi2, abs=1e-9, rel=1e-12)
    assert ours.df == df == 2
    assert ours.p_value == pytest.approx(p, abs=1e-9)
    # two contracts only: the two-sample test
    two = telco[telco["Contract"] != "Two year"]
    chi2_two = ref.logrank(two["tenure"], two["event"], two["Contract"])[0]
    assert logrank_test(two, duration="tenure", event="event", by="Contract").statistic == pytest.approx(
        chi2_two, abs=1e-9, rel=1e-12)


@needs_telco
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_hazard_ratios_equal_reference(telco, ties):
    cox = CoxModel(ties=ties).fit(telco, duration="tenure", event="event",
                                  features=["Contract", "MonthlyCharges", "SeniorCitizen"])
    assert cox.reference_levels_ == {"Contract": "Month-to-month"}
    x = np.column_stack([telco["Contract"].eq("One year"), telco["Contract"].eq("Two year"),
                         telco["MonthlyCharges"], telco["SeniorCitizen"]]).astype(float)
    r = ref.cox(x, telco["tenure"], telco["event"], ties)
    ours = cox.hazard_ratios_
    assert np.allclose(ours["coef"].to_numpy(), r["coef"], rtol=0, atol=1e-6)
    assert cox.log_likelihood_ == pytest.approx(r["loglik"], abs=1e-6)
    assert np.allclose(ours["std_error"].to_numpy(), r["std_error"], rtol=1e-4, atol=0)
    z = 1.959963984540054
    ci = np.exp(np.column_stack([r["coef"] - z * r["std_error"], r["coef"] + z * r["std_error"]]))
    assert np.allclose(ours[["ci_lower", "ci_upper"]].to_numpy(), ci, rtol=1e-4, atol=0)
    # longer contracts leave far less: one year about a tenth of the month-to-month hazard
    assert ours.loc["Contract[One year]", "ci_upper"] < 0.2
    assert ours.loc["Contract[Two year]", "hazard_ratio"] < ours.loc["Contract[One year]", "hazard_ratio"]


@needs_telco
def test_telco_derived_subscriptions_give_back_tenure_and_churn(telco):
    subs = subscriptions_from_tenure(telco, "2024-06-30", customer_id="customerID", churn="Churn",
                                     plan="Contract", amount="MonthlyCharges")
    life = subscription_lifetimes(subs, "2024-06-30")
    assert (life["duration"].to_numpy() == telco["tenure"].to_numpy()).all()
    assert (life["event"].to_numpy() == telco["event"].to_numpy()).all()
    km_direct = kaplan_meier(telco, duration="tenure", event="event", by="Contract")
    km_derived = kaplan_meier(life, by="plan")
    assert np.array_equal(km_direct.table["survival"].to_numpy(), km_derived.table["survival"].to_numpy())


def test_kaplan_meier_hand_case():
    # times 1, 2, 2+, 3, 4+: S(1) = 4/5, S(2) = 4/5 * 3/4, S(3) = 0.6 * 1/2
    data = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    km = kaplan_meier(data)
    table = km.table.set_index("time")
    assert table["survival"].round(12).tolist() == [1.0, 0.8, 0.6, 0.3]
    assert table["at_risk"].tolist() == [5, 5, 4, 2]
    # Greenwood: var(S(2)) = S^2 (1/(5*4) + 1/(4*3))
    assert table.loc[2.0, "std_error"] == pytest.approx(0.6 * np.sqrt(1 / 20 + 1 / 12), rel=1e-12)
    # log(-log) band: S ** exp(+/- z sqrt(v) / log S), inside (0, 1), around S
    v = 1 / 20 + 1 / 12
    z = 1.959963984540054
    lower = 0.6 ** np.exp(-z * np.sqrt(v) / np.log(0.6))
    assert table.loc[2.0, "ci_lower"] == pytest.approx(lower, rel=1e-12)
    assert table.loc[2.0, "ci_lower"] < 0.6 < table.loc[2.0, "ci_upper"] < 1
    assert km.medians.loc["all", "median"] == 3
    assert km.survival_at(2.5).iloc[0] == pytest.approx(0.6)


def test_logrank_hand_case():
    # a: events at 1, 2; b: event at 3, censored at 4. Observed - expected for a:
    # t=1: 4 at risk (2 a), E_a = 0.5; t=2: 3 at risk (1 a), E_a = 1/3; t=3: only b at risk.
    data = pd.DataFrame({"duration": [1, 2, 3, 4], "event": [1, 1, 1, 0], "g": ["a", "a", "b", "b"]})
    o_minus_e = 2 - (0.5 + 1 / 3)
    var = 0.5 * 0.5 + (1 / 3) * (2 / 3)  # hypergeometric variances, one event each time
    assert logrank_test(data, by="g").statistic == pytest.approx(o_minus_e ** 2 / var, rel=1e-12)


@pytest.mark.parametrize(("data", "kwargs", "message"), [
    (pd.DataFrame({"duration": [], "event": []}), {}, "no rows"),
    (pd.DataFrame({"duration": [1, -2], "event": [1, 0]}), {}, "row 1.*duration >= 0"),
    (pd.DataFrame({"duration": [1, np.nan], "event": [1, 0]}), {}, "row 1.*duration >= 0"),
    (pd.DataFrame({"duration": [1, 2], "event": [1, "maybe"]}), {}, "row 1.*not an event flag"),
    (pd.DataFrame({"duration": [1, 2], "event": [1, 0]}), {"by": "plan"}, r"column\(s\) \['plan'\]"),
    (pd.DataFrame({"duration": [1, 2], "event": [1, 0]}), {"alpha": 2}, "alpha"),
    ([1, 2, 3], {}, "must be a DataFrame"),
])
def test_hostile_input_to_kaplan_meier(data, kwargs, message):
    with pytest.raises(InputError, match=message):
        kaplan_meier(data, **kwargs)


def test_one_segment_and_missing_segments():
    data = pd.DataFrame({"duration": [1, 2, 3], "event": [1, 0, 1], "plan": ["a", None, "a"]})
    km = kaplan_meier(data, by="plan")
    assert list(km.medians.index) == ["(missing)", "a"] and km.logrank is not None
    one = kaplan_meier(data.fillna("a"), by="plan")
    assert one.logrank is None and "only one segment" in one.notes[-1]
    with pytest.raises(InputError, match="only one segment"):
        logrank_test(data.fillna("a"), by="plan")


def test_cox_errors():
    data = pd.DataFrame({"duration": [1, 2, 3, 4], "event": [1, 0, 1, 1], "k": 1.0, "x": [1, 2, None, 4]})
    with pytest.raises(NotFittedError):
        CoxModel().relative_hazard(data)
    with pytest.raises(InputError, match="do not vary"):
        CoxModel().fit(data, features=["k", "duration"])
    with pytest.raises(InputError, match="feature x row 2"):
        CoxModel().fit(data, features=["x"])
    with pytest.raises(InputError, match="not in the data"):
        CoxModel().fit(data, features=["nope"])
    with pytest.raises(InputError, match="'ties'"):
        CoxModel(ties="exact").fit(data, features=["x"])
