"""The shifted-beta-geometric model against Fader & Hardie's published fits, and its value formulas.

Reference: Fader & Hardie (2007), "How to project customer retention", J. Interactive
Marketing 21(1). Survivors out of 1000 over years 0..7 (their Table 1); the model is
fitted on years 1-7 as in the paper. Published estimates: high end alpha = 0.668,
beta = 3.806 (LL -1611.2); regular alpha = 0.704, beta = 1.182 (LL -1680.3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from crm_analytics.errors import ConvergenceWarning, InputError, ModelFileError, NotFittedError
from crm_analytics.subscriptions import (
    ShiftedBetaGeometric,
    fit_sbg,
    subscriber_value,
    survivors_to_lifetimes,
)

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
# Years 8-12 of the same table: the paper holds them out and compares its projection
# with them (the sBG tracks them closely); used here only for a loose check.
REGULAR_LATER = [223, 207, 194, 183, 173]
HIGH_END_LATER = [468, 445, 427, 409, 394]


def _fit(survivors):
    return ShiftedBetaGeometric().fit(survivors_to_lifetimes(survivors), weight="weight")


@pytest.fixture(scope="module")
def regular():
    return _fit(REGULAR)


@pytest.fixture(scope="module")
def high_end():
    return _fit(HIGH_END)


@pytest.mark.parametrize(("name", "alpha", "beta", "ll"), [
    ("regular", 0.704, 1.182, -1680.3), ("high_end", 0.668, 3.806, -1611.2)])
def test_parameters_reproduce_fader_hardie_2007(name, alpha, beta, ll, request):
    model = request.getfixturevalue(name)
    assert round(model.alpha_, 3) == alpha
    assert round(model.beta_, 3) == beta
    assert round(model.log_likelihood_, 1) == ll
    assert model.n_subscriptions_ == 1000
    # the intervals cover the estimates and are ordered
    p = model.params_
    assert (p["ci_lower"] < p["estimate"]).all() and (p["estimate"] < p["ci_upper"]).all()


@pytest.mark.parametrize(("name", "alpha", "beta", "observed", "later"), [
    ("regular", 0.704, 1.182, REGULAR, REGULAR_LATER),
    ("high_end", 0.668, 3.806, HIGH_END, HIGH_END_LATER)])
def test_projected_retention_matches_the_paper(name, alpha, beta, observed, later, request):
    model = request.getfixturevalue(name)
    t = np.arange(13)
    ours = model.survival(t)
    # the projection from the published (rounded) parameters, eq. 6 written out
    published = np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))
    assert np.abs(ours - published).max() < 1e-3
    # retention rates (eq. 8) rise with tenure: (beta + t - 1) / (alpha + beta + t - 1)
    r = model.retention_rate(t[1:])
    assert np.allclose(r, (beta + t[1:] - 1) / (alpha + beta + t[1:] - 1), atol=1e-3)
    assert np.all(np.diff(r) > 0)
    # in-sample fit within 2.5 points of the observed survival, out of sample within 5%
    assert np.abs(ours[:8] * 1000 - np.array(observed)).max() < 25
    assert np.abs(ours[8:] * 1000 / np.array(later) - 1).max() < 0.05
    # survival telescopes into the retention rates
    assert np.allclose(ours[1:], np.cumprod(r))


def test_churn_probabilities_and_survival_agree(regular):
    t = np.arange(1, 30)
    assert np.allclose(regular.churn_probability(t), regular.survival(t - 1) - regular.survival(t))


def test_derl_hypergeometric_equals_the_direct_sum(high_end):
    d = 0.1
    for renewals in (0, 1, 4, 10):
        k = np.arange(2_000)  # terms below 1.1^-2000 do not count
        direct = np.sum(high_end.survival(renewals + 1 + k) / high_end.survival(renewals) / (1 + d) ** k)
        assert high_end.derl(renewals, d)[()] == pytest.approx(direct, rel=1e-10)


def test_del_and_derl_identity(regular):
    # DEL = 1 + DERL(0) / (1 + d): the first payment, then a just-acquired subscriber's residual
    for d in (0.05, 0.1, 0.25):
        assert regular.discounted_expected_lifetime(d) == pytest.approx(1 + regular.derl(0, d)[()] / (1 + d),
                                                                         rel=1e-12)


def test_derl_hand_case():
    # alpha = beta = 1: S(t) = 1 / (1 + t); DEL(d) = (1 + d) ln((1 + d) / d)
    m = ShiftedBetaGeometric()
    m.alpha_, m.beta_ = 1.0, 1.0
    for d in (0.1, 0.5):
        assert m.discounted_expected_lifetime(d) == pytest.approx((1 + d) * np.log((1 + d) / d), rel=1e-12)


def test_derl_without_heterogeneity_is_the_geometric_sum():
    # alpha, beta large with alpha / (alpha + beta) = 0.2: every subscriber renews with r = 0.8,
    # so DERL = r / (1 - r / (1 + d)) and the expected further periods r / (1 - r)
    m = ShiftedBetaGeometric()
    m.alpha_, m.beta_ = 2e5, 8e5
    r, d = 0.8, 0.1
    assert m.derl(3, d)[()] == pytest.approx(r / (1 - r / (1 + d)), rel=1e-4)
    assert m.expected_remaining_lifetime(3)[()] == pytest.approx(r / (1 - r), rel=1e-4)
    assert m.expected_remaining_lifetime(3, horizon=2)[()] == pytest.approx(r + r * r, rel=1e-4)


def test_undiscounted_lifetime_diverges_when_alpha_is_at_most_one(regular):
    assert regular.expected_lifetime() == np.inf
    assert np.isinf(regular.derl(2, 0.0)).all()
    m = ShiftedBetaGeometric()
    m.alpha_, m.beta_ = 3.0, 2.0
    assert m.expected_lifetime() == pytest.approx(2.0)  # (alpha + beta - 1) / (alpha - 1)
    # with d = 0, DERL(0) is the closed form (c - 1) / (c - 1 - b) times r(1): the direct sum
    k = np.arange(200_000)
    direct = np.sum(m.survival(1 + k) / m.survival(0))
    assert m.derl(0, 0.0)[()] == pytest.approx(direct, rel=1e-4)


def test_subscriber_value_uses_each_segments_model(regular, high_end):
    models = fit_sbg(pd.concat([_rows(REGULAR, "regular"), _rows(HIGH_END, "high end")],
                               ignore_index=True), by="segment")
    assert set(models.models) == {"regular", "high end"} and models.skipped == models.notes == {}
    life = pd.DataFrame({"subscription_id": ["A", "B", "C"], "customer_id": ["1", "2", "3"],
                         "segment": ["regular", "high end", "gone"], "duration": [7, 7, 2],
                         "event": [False, False, False], "amount_per_period": [100.0, 100.0, 5.0]})
    value = subscriber_value(life, models, discount_rate=0.1)
    assert value.loc["A", "derl"] == pytest.approx(regular.derl(7, 0.1)[()], rel=1e-6)
    assert value.loc["B", "residual_value"] == pytest.approx(100 * high_end.derl(7, 0.1)[()], rel=1e-6)
    assert value.loc["A", "p_renew_next"] == pytest.approx(regular.retention_rate(8)[()], rel=1e-6)
    assert np.isnan(value.loc["C", "derl"])  # no model for that segment: no number made up


def _rows(survivors, segment):
    agg = survivors_to_lifetimes(survivors)
    rows = agg.loc[agg.index.repeat(agg["weight"].astype(int))].drop(columns="weight")
    return rows.assign(segment=segment).reset_index(drop=True)


def test_fit_sbg_skips_what_it_cannot_fit():
    young = pd.DataFrame({"duration": [1] * 40 + [0] * 10, "event": [True] * 20 + [False] * 30,
                          "plan": "young"})
    small = _rows(REGULAR, "small").head(5)
    calm = pd.DataFrame({"duration": [3] * 40, "event": False, "plan": "calm"})
    fits = fit_sbg(pd.concat([young, small.rename(columns={"segment": "plan"}), calm]), by="plan")
    assert fits.models == {}
    assert "only 5 subscriptions" in fits.skipped["small"]
    assert "beyond its first period" in fits.skipped["young"]
    assert "no cancellations" in fits.skipped["calm"]


@pytest.mark.parametrize(("data", "message"), [
    (pd.DataFrame({"duration": [1, 2], "event": [True, "x"]}), "must be True/False"),
    (pd.DataFrame({"duration": [1, np.nan], "event": [True, False]}), "row 1.*not a whole number"),
    (pd.DataFrame({"duration": [1.5, 2], "event": [True, False]}), "row 0.*not a whole number"),
    (pd.DataFrame({"duration": [1, 2]}), r"required column\(s\) \['event'\] missing"),
    (pd.DataFrame({"duration": [], "event": []}), "no cancellations"),
    ("not a frame", "must be a DataFrame"),
])
def test_bad_input_is_one_clear_error(data, message):
    with pytest.raises(InputError, match=message):
        ShiftedBetaGeometric().fit(data)


def test_instant_cancellations_are_left_out_with_a_note():
    data = pd.concat([_rows(REGULAR, "r"), pd.DataFrame({"duration": [0] * 3, "event": True})])
    model = ShiftedBetaGeometric().fit(data)
    assert round(model.alpha_, 3) == 0.704 and "3 subscription(s) ended in the period" in model.fit_notes_[0]


def test_no_heterogeneity_warns():
    rng = np.random.default_rng(1)
    t = rng.geometric(0.3, size=4000)
    data = pd.DataFrame({"duration": np.minimum(t, 12), "event": t <= 12})
    with pytest.warns(ConvergenceWarning, match="extreme"):
        model = ShiftedBetaGeometric().fit(data)
    assert model.survival(1)[()] == pytest.approx(0.7, abs=0.02)


def test_not_fitted_save_load_and_periods(tmp_path, high_end):
    with pytest.raises(NotFittedError):
        ShiftedBetaGeometric().survival(1)
    with pytest.raises(InputError, match="whole numbers >= 1"):
        high_end.retention_rate(0)
    with pytest.raises(InputError, match="discount_rate"):
        high_end.derl(1, -0.1)
    path = high_end.save(tmp_path / "sbg.json")
    again = ShiftedBetaGeometric.load(path)
    assert again.survival(5)[()] == high_end.survival(5)[()]
    assert again.params_.equals(high_end.params_)
    (tmp_path / "other.json").write_text('{"format": "x", "format_version": 1}')
    with pytest.raises(ModelFileError):
        ShiftedBetaGeometric.load(tmp_path / "other.json")
    assert "alpha" in str(high_end.summary()) and "Shifted-beta-geometric" in str(high_end.summary())


def test_the_series_fallback_equals_scipys_hyp2f1():
    from scipy.special import hyp2f1

    from crm_analytics.subscriptions.sbg import _hyp2f1_series

    b = np.array([0.5, 3.8, 40.0])
    c = b + np.array([0.7, 0.7, 5.0])
    for z in (0.5, 1 / 1.01):
        assert np.allclose(_hyp2f1_series(b, c, z), hyp2f1(1.0, b, c, z), rtol=1e-12)


def test_fit_sbg_keeps_a_constant_churn_segment_with_its_note():
    rng = np.random.default_rng(2)
    t = rng.geometric(0.1, size=3000)
    flat = pd.DataFrame({"duration": np.minimum(t, 24), "event": t <= 24, "plan": "flat"})
    fits = fit_sbg(pd.concat([flat, _rows(HIGH_END, "high end").rename(columns={"segment": "plan"})]),
                   by="plan")
    assert set(fits.models) == {"flat", "high end"}
    assert "extreme" in fits.notes["flat"] and "high end" not in fits.notes
    row = fits.table().set_index("segment").loc["flat"]
    assert row["mean_churn_ci_lower"] <= 0.1 <= row["mean_churn_ci_upper"]
    assert "extreme" in row["note"]
    # the value formulas still work in that limit (the series replaces SciPy's 2F1)
    derl = fits.models["flat"].derl(5, 0.01)[()]
    assert derl == pytest.approx(0.9 / (1 - 0.9 / 1.01), rel=0.05)
