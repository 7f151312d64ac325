"""Pareto/NBD with an analytic gradient (issue #18).

res1 is ours (``likelihoods.pareto_nbd_value_and_gradient``, ``ParetoNBDModel``);
res2 the references: lifetimes' ``ParetoNBDFitter`` likelihood and equations,
SciPy's ``hyp2f1``, central finite differences, and the parameters Fader, Hardie &
Lee published for the CDNOW sample (2,357 customers, weeks): r = 0.553,
alpha = 10.578, s = 0.606, beta = 11.669.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from crm_analytics.clv import CLVModel
from crm_analytics.clv.models import ParetoNBDModel
from crm_analytics.clv.models.hypergeometric import hyp2f1_unit_a
from crm_analytics.clv.models.likelihoods import (
    pareto_nbd_log_likelihood,
    pareto_nbd_value_and_gradient,
    prepare_pareto_nbd,
)
from crm_analytics.clv.utils import distinct_rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from lifetimes import ParetoNBDFitter
    from lifetimes.datasets import load_cdnow_summary

PUBLISHED = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
PUBLISHED_3 = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


@pytest.fixture(scope="module")
def cdnow():
    d = load_cdnow_summary()
    return tuple(d[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def scaled(cdnow):
    """CDNOW in the fit's time scale (oldest customer T = 1), with uneven weights."""
    x, t_x, T = cdnow
    scale = 1.0 / T.max()
    w = np.random.default_rng(0).integers(1, 5, x.size).astype(float)
    return x, t_x * scale, T * scale, w, scale


def _log_params(params: dict[str, float], scale: float) -> np.ndarray:
    return np.log([params["r"], params["alpha"] * scale, params["s"], params["beta"] * scale])


# Published optimum; alpha < beta and alpha > beta far apart; lifetimes' default start.
POINTS = [
    PUBLISHED_3,
    {"r": 2.0, "alpha": 4.0, "s": 1.5, "beta": 400.0},
    {"r": 0.3, "alpha": 200.0, "s": 0.2, "beta": 0.5},
    {"r": 1.105, "alpha": 1.105 * 38.86, "s": 1.105, "beta": 1.105 * 38.86},  # alpha == beta
]


@pytest.mark.parametrize("params", POINTS)
def test_log_likelihood_equals_lifetimes(cdnow, params):
    x, t_x, T = cdnow
    theta = np.array(list(params.values()))
    ours, _ = pareto_nbd_log_likelihood(theta, x, t_x, T)
    theirs = ParetoNBDFitter._conditional_log_likelihood(theta, x, t_x, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert ours.sum() == pytest.approx(theirs.sum(), rel=1e-6)


@pytest.mark.parametrize("penalizer", [0.0, 0.05])
@pytest.mark.parametrize("params", POINTS)
def test_objective_equals_lifetimes_and_gradient_equals_central_differences(scaled, params, penalizer):
    x, t_x, T, w, scale = scaled
    data = prepare_pareto_nbd(x, t_x, T, w)
    lp = _log_params(params, scale)
    value, grad = pareto_nbd_value_and_gradient(lp, penalizer, data)
    theta = np.exp(lp)
    penalty = penalizer * np.sum(theta**2)
    # lifetimes divides the weighted sum by the mean weight, we by the total weight.
    ref = ParetoNBDFitter._negative_log_likelihood(theta, x, t_x, T, w, penalizer)
    assert value == pytest.approx((ref - penalty) / x.size + penalty, rel=1e-12)
    h = 1e-5
    central = np.array([
        (pareto_nbd_value_and_gradient(lp + h * e, penalizer, data)[0]
         - pareto_nbd_value_and_gradient(lp - h * e, penalizer, data)[0]) / (2 * h)
        for e in np.eye(4)
    ])
    np.testing.assert_allclose(grad, central, rtol=1e-6, atol=1e-8)


def test_distinct_pairs_change_nothing(scaled):
    # The same histories, once as they are and once repeated: same mean, same gradient.
    x, t_x, T, w, scale = scaled
    lp = _log_params(PUBLISHED_3, scale)
    once = pareto_nbd_value_and_gradient(lp, 0.0, prepare_pareto_nbd(x, t_x, T, w))
    twice = pareto_nbd_value_and_gradient(
        lp, 0.0, prepare_pareto_nbd(*(np.concatenate([a, a]) for a in (x, t_x, T, w))))
    assert once[0] == pytest.approx(twice[0], rel=1e-13)
    np.testing.assert_allclose(once[1], twice[1], rtol=1e-11, atol=1e-14)


def test_hypergeometric_series_and_its_parameter_derivatives():
    rng = np.random.default_rng(1)
    P = rng.uniform(0.05, 60.0, 400)
    Q = rng.uniform(0.05, 40.0, 400)
    z = np.concatenate([[0.0, 1e-300], rng.uniform(0.0, 0.995, 398)])
    H, H_P, H_Q, H_z = hyp2f1_unit_a(P, Q, z)
    np.testing.assert_allclose(H, hyp2f1(1.0, P, P + Q, z), rtol=1e-12)
    # d/dz 2F1(a, b; c; z) = a b / c 2F1(a + 1, b + 1; c + 1; z)
    np.testing.assert_allclose(H_z, P / (P + Q) * hyp2f1(2.0, P + 1.0, P + Q + 1.0, z), rtol=1e-12)
    # No closed form in P and Q: SciPy's function differenced centrally (its error ~1e-9 here).
    h = 1e-5
    d_P = (hyp2f1(1.0, P + h, P + h + Q, z) - hyp2f1(1.0, P - h, P - h + Q, z)) / (2 * h)
    d_Q = (hyp2f1(1.0, P, P + Q + h, z) - hyp2f1(1.0, P, P + Q - h, z)) / (2 * h)
    np.testing.assert_allclose(H_P / H, d_P / H, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(H_Q / H, d_Q / H, rtol=1e-6, atol=1e-9)
    # Grouped arguments (shared coefficient tables) give the same numbers.
    grouped = hyp2f1_unit_a(np.array([1.5, 7.0]), np.array([0.6, 2.0]), z[:6], np.array([0, 1, 0, 1, 1, 0]))
    alone = hyp2f1_unit_a(np.array([1.5, 7.0, 1.5, 7.0, 7.0, 1.5]), np.array([0.6, 2.0, 0.6, 2.0, 2.0, 0.6]),
                          z[:6])
    np.testing.assert_allclose(np.array(grouped), np.array(alone), rtol=1e-14)


def test_series_gives_up_only_next_to_one():
    H = hyp2f1_unit_a(np.array([0.5, 0.5]), np.array([1.2, 1.2]), np.array([0.999, 1.0 - 1e-9]))[0]
    assert np.isfinite(H[0]) and H[0] == pytest.approx(hyp2f1(1.0, 0.5, 1.7, 0.999), rel=1e-12)
    assert np.isnan(H[1])


def test_fit_on_cdnow_reproduces_the_published_parameters(cdnow):
    x, t_x, T = cdnow
    _, (hx, ht, hT), counts = distinct_rows(x, t_x, T)
    model, outcome = ParetoNBDModel.fit(hx, ht, hT, counts)
    for name, value in PUBLISHED.items():
        assert model.params[name] == pytest.approx(value, rel=1e-2), name
    for name, value in PUBLISHED_3.items():
        assert model.params[name] == pytest.approx(value, rel=2e-3), name
    assert outcome.converged and not outcome.needed_fallback
    assert all(se > 0 for se in model.std_errors.values())
    # The optimum lifetimes' likelihood agrees with, and no better point nearby.
    theta = np.array(list(model.params.values()))
    ll = ParetoNBDFitter._conditional_log_likelihood(theta, x, t_x, T).sum()
    assert ll == pytest.approx(-9595.0, abs=1.0)  # Fader, Hardie & Lee's note: LL = -9595.0
    for step in np.eye(4) * 1e-3:
        nearby = ParetoNBDFitter._conditional_log_likelihood(theta * np.exp(step), x, t_x, T).sum()
        assert nearby <= ll + 1e-9


def test_predictions_equal_lifetimes_equations(cdnow):
    x, t_x, T = cdnow
    ours = ParetoNBDModel(PUBLISHED_3)
    ref = ParetoNBDFitter()
    ref.params_ = pd.Series(PUBLISHED_3)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(ours.conditional_probability_alive(x, t_x, T),
                                   ref.conditional_probability_alive(x, t_x, T), rtol=1e-9)
        for t in (1.0, 39.0, 520.0):
            np.testing.assert_allclose(
                ours.conditional_expected_purchases(t, x, t_x, T),
                ref.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T), rtol=1e-9)
        steps = list(ours.iter_conditional_expected_purchases([4.0, 8.0], x, t_x, T))
        np.testing.assert_allclose(steps[1], ref.conditional_expected_number_of_purchases_up_to_time(
            8.0, x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(ours.expected_purchases_new_customer(np.array([1.0, 39.0, 78.0])),
                               ref.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0, 78.0])),
                               rtol=1e-12)


def test_s_equal_one_uses_the_limit():
    x, t_x, T = np.array([0.0, 3.0]), np.array([0.0, 20.0]), np.array([30.0, 30.0])
    at_one = ParetoNBDModel({"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": 12.0})
    near = ParetoNBDModel({"r": 0.5, "alpha": 10.0, "s": 1.0 + 1e-7, "beta": 12.0})
    np.testing.assert_allclose(at_one.conditional_expected_purchases(52.0, x, t_x, T),
                               near.conditional_expected_purchases(52.0, x, t_x, T), rtol=1e-6)
    np.testing.assert_allclose(at_one.expected_purchases_new_customer(52.0),
                               near.expected_purchases_new_customer(52.0), rtol=1e-6)


def test_clv_model_fits_pareto_nbd_on_distinct_histories(cdnow_summary):
    model = CLVModel(purchase_model="pareto_nbd").fit(cdnow_summary)
    assert model.converged_ and model.n_histories_ < model.n_customers_
    assert "differences of the exact gradient" in model.purchase_model_.std_error_source
    value = model.clv(horizon_days=365)
    assert np.isfinite(value["clv"]).all() and (value["clv"] >= 0).all()
