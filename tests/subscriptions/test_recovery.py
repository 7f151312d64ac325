"""On synthetic subscriptions with known cancellation rates per plan, the models find them.

``generate_subscriptions`` draws each subscriber's monthly cancellation probability from
the plan's Beta(alpha, beta) (the sBG process) or gives everyone the plan's mean (a
constant hazard: proportional hazards across plans). Fixed seeds; every check is the
truth inside the fitted model's own 95% interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.datasets.synthetic.subscriptions import DEFAULT_PLANS, generate_subscriptions
from crm_analytics.subscriptions import (
    CoxModel,
    cohort_retention,
    fit_sbg,
    kaplan_meier,
    subscription_lifetimes,
)


@pytest.fixture(scope="module")
def mixed():
    data = generate_subscriptions(3000, seed=7)
    return data, subscription_lifetimes(data.subscriptions, data.as_of)


@pytest.fixture(scope="module")
def constant():
    data = generate_subscriptions(3000, seed=8, heterogeneous=False)
    return data, subscription_lifetimes(data.subscriptions, data.as_of, period="day")


def test_sbg_recovers_each_plans_beta_distribution(mixed):
    data, life = mixed
    fits = fit_sbg(life, by="plan")
    assert sorted(fits.models) == sorted(DEFAULT_PLANS) and fits.skipped == {}
    table = fits.table().set_index("segment")
    for plan, (alpha, beta, _) in DEFAULT_PLANS.items():
        row = table.loc[plan]
        assert row["alpha_ci_lower"] <= alpha <= row["alpha_ci_upper"], (plan, row)
        assert row["beta_ci_lower"] <= beta <= row["beta_ci_upper"], (plan, row)
        assert row["mean_churn_ci_lower"] <= data.mean_churn(plan) <= row["mean_churn_ci_upper"]
    # the plans are told apart: the intervals of mean churn do not overlap
    ordered = table.loc[["basic", "standard", "premium"]]
    lower, upper = ordered["mean_churn_ci_lower"].to_numpy(), ordered["mean_churn_ci_upper"].to_numpy()
    assert (lower[:-1] > upper[1:]).all()


def test_kaplan_meier_bands_cover_the_true_survival(mixed):
    data, life = mixed
    km = kaplan_meier(life, by="plan")
    for plan in DEFAULT_PLANS:
        curve = km.table[km.table["segment"] == plan].set_index("time")
        for month in (1, 3, 6, 12, 24):
            row = curve[curve.index <= month].iloc[-1]
            truth = float(data.survival(plan, month))
            assert row["ci_lower"] <= truth <= row["ci_upper"], (plan, month, truth, row)
    assert km.logrank is not None and km.logrank.p_value < 1e-10


def test_median_lifetime_interval_covers_the_truth(constant):
    data, life = constant
    km = kaplan_meier(life, by="plan")
    for plan in ("basic", "standard"):
        # exponential in months: the median is ln 2 / hazard months, in days here
        truth = np.log(2) / data.monthly_hazard(plan) * 365.25 / 12
        row = km.medians.loc[plan]
        assert row["median_ci_lower"] <= truth <= row["median_ci_upper"], (plan, truth, row)


def test_cox_recovers_the_hazard_ratios(constant):
    data, life = constant
    cox = CoxModel().fit(life, features=["plan"])
    ref = cox.reference_levels_["plan"]
    for plan in DEFAULT_PLANS:
        if plan == ref:
            continue
        truth = data.monthly_hazard(plan) / data.monthly_hazard(ref)
        row = cox.hazard_ratios_.loc[f"plan[{plan}]"]
        assert row["ci_lower"] <= truth <= row["ci_upper"], (plan, truth, row)


def test_cohort_retention_matches_the_truth_on_average(mixed):
    data, life = mixed
    table = cohort_retention(life, by="plan")
    for plan in DEFAULT_PLANS:
        part = table[(table["segment"] == plan) & (table["period"] == 6)]
        pooled = part["active"].sum() / part["eligible"].sum()
        truth = float(data.survival(plan, 6))
        n = part["eligible"].sum()
        assert abs(pooled - truth) < 3 * np.sqrt(truth * (1 - truth) / n) + 0.01, (plan, pooled, truth)


def test_generator_is_reproducible_and_checks_its_arguments():
    a = generate_subscriptions(50, seed=3).subscriptions
    b = generate_subscriptions(50, seed=3).subscriptions
    pd.testing.assert_frame_equal(a, b)
    from crm_analytics.errors import InputError

    with pytest.raises(InputError, match="n must be"):
        generate_subscriptions(0)
    with pytest.raises(InputError, match="plan 'x'"):
        generate_subscriptions(10, plans={"x": (0.0, 1.0, 5.0)})


def test_sbg_by_start_year_cohort(mixed):
    _, life = mixed
    by_year = life.assign(start_year=life["started_at"].dt.year.astype(str))
    fits = fit_sbg(by_year, by="start_year", min_subscriptions=200)
    assert sorted(fits.models) == ["2021", "2022", "2023", "2024"] and fits.skipped == {}
    churn = fits.table().set_index("segment")["mean_churn"]
    # a third of each cohort per plan: the pooled first-month churn is the plans' average
    truth = np.mean([a / (a + b) for a, b, _ in DEFAULT_PLANS.values()])
    assert (abs(churn - truth) < 0.04).all(), churn
    few = fit_sbg(by_year, by="start_year", min_subscriptions=800)
    assert "only" in few.skipped["2024"] and "needs at least 800" in few.skipped["2024"]
