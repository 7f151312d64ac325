"""CLVModel: CLV discounting by hand, spend policy, persistence, convergence fallbacks,
parameter checks, and the fast likelihoods against lifetimes' autograd ones."""

from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from crm_analytics.clv import CLVModel, rfm_summary
from crm_analytics.clv.models import BetaGeoModel
from crm_analytics.clv.models.likelihoods import (
    bgnbd_value_and_gradient,
    gamma_gamma_value_and_gradient,
    mbgnbd_value_and_gradient,
    prepare_gamma_gamma,
    prepare_purchases,
)
from crm_analytics.errors import ConvergenceWarning, InputError, ModelFileError, NotFittedError

with warnings.catch_warnings():
    from autograd import value_and_grad
    from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter

PARAMS = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "v": 15.0}


def summary_of(rows: dict[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    out = pd.DataFrame.from_dict(rows, orient="index",
                                 columns=["frequency", "recency", "T", "monetary_value"])
    out.index.name = "customer_id"
    return out


@pytest.fixture
def hand() -> pd.DataFrame:
    return summary_of({
        "one_time": (0, 0.0, 30.0, 0.0),
        "regular": (4, 25.0, 30.0, 20.0),
        "refunder": (2, 10.0, 30.0, -5.0),   # net refunds exceed the sales
        "zero": (1, 5.0, 30.0, 0.0),
    })


# --------------------------------------------------------------------------- CLV by hand


def test_clv_without_discount_is_purchases_times_spend(hand):
    model = CLVModel.from_params(PARAMS)
    value = model.clv(hand, horizon_days=365, annual_discount_rate=0.0)
    purchases = model.expected_purchases(hand, horizon_days=365)
    spend = model.expected_spend(hand)["expected_spend"]
    np.testing.assert_allclose(value["clv"], purchases * spend, rtol=1e-12)
    np.testing.assert_allclose(value["expected_purchases"], purchases, rtol=1e-12)


def test_clv_discounts_each_step_from_its_end(hand):
    # Steps of 100 days over 250: ends 100, 200 and 250 (the last step is partial).
    model = CLVModel.from_params(PARAMS, clv_step_days=100)
    spend = model.expected_spend(hand)["expected_spend"].to_numpy()
    cum = [np.zeros(len(hand))] + [
        model.expected_purchases(hand, horizon_days=d).to_numpy() for d in (100, 200, 250)
    ]
    by_hand = sum(
        (cum[k + 1] - cum[k]) / 1.08 ** (end / 365.25) for k, end in enumerate((100, 200, 250))
    ) * spend
    got = model.clv(hand, horizon_days=250, annual_discount_rate=0.08)["clv"].to_numpy()
    np.testing.assert_allclose(got, by_hand, rtol=1e-12)


def test_clv_monthly_steps_are_calendar_months_not_30_days(hand):
    model = CLVModel.from_params(PARAMS)  # steps of 365.25 / 12 days
    month = 365.25 / 12
    one_step = model.clv(hand, horizon_days=month, annual_discount_rate=0.1)["clv"]
    purchases = model.expected_purchases(hand, horizon_days=month)
    spend = model.expected_spend(hand)["expected_spend"]
    np.testing.assert_allclose(one_step, purchases * spend / 1.1 ** (1 / 12), rtol=1e-12)
    assert model.clv(hand, horizon_days=0)["clv"].eq(0).all()


def test_spend_policy_flags(hand):
    model = CLVModel.from_params(PARAMS)
    spend = model.expected_spend(hand)
    population = 6.0 * 15.0 / (4.0 - 1.0)
    assert spend.loc["one_time", "spend_basis"] == "population_mean"
    assert spend.loc["refunder", "spend_basis"] == "population_mean"
    assert spend.loc["zero", "spend_basis"] == "population_mean"
    assert spend.loc["regular", "spend_basis"] == "customer"
    for name in ("one_time", "refunder", "zero"):
        assert spend.loc[name, "expected_spend"] == pytest.approx(population)
    # Fader & Hardie (2013) eq. 5 by hand: weight p x / (p x + q - 1) on the own mean.
    weight = 6 * 4 / (6 * 4 + 4 - 1)
    assert spend.loc["regular", "expected_spend"] == pytest.approx(
        weight * 20.0 + (1 - weight) * population)
    value = model.clv(hand)
    assert value["spend_basis"].tolist() == spend["spend_basis"].tolist()
    assert np.isfinite(value["clv"]).all()


def test_policy_on_a_store_with_refunds(toy_store):
    summary = rfm_summary(toy_store, "2024-01-31")
    spend = CLVModel.from_params(PARAMS).expected_spend(summary)
    # B bought once and refunded everything later; F's repeat day nets negative;
    # C (refunds only) is no customer of the summary at all.
    assert spend.loc["B", "spend_basis"] == "population_mean"
    assert spend.loc["F", "spend_basis"] == "population_mean"
    assert spend.loc["A", "spend_basis"] == "customer"
    assert "C" not in spend.index


def test_no_spend_model():
    summary = summary_of({"a": (0, 0.0, 10.0, 0.0), "b": (1, 2.0, 10.0, 5.0)})
    model = CLVModel.from_params({k: PARAMS[k] for k in ("r", "alpha", "a", "b")})
    value = model.clv(summary)
    assert value["spend_basis"].eq("unavailable").all() and value["clv"].isna().all()
    assert np.isfinite(value["expected_purchases"]).all()


# --------------------------------------------------------------------------- persistence


def test_save_load_round_trip_reproduces_predictions_exactly(cdnow_summary, tmp_path):
    model = CLVModel(purchase_model="bgnbd").fit(cdnow_summary)
    path = model.save(tmp_path / "models" / "clv.json")
    payload = json.loads(path.read_text())
    assert payload["format"] == "crm_analytics.clv.CLVModel" and payload["format_version"] == 1
    assert payload["config"]["purchase_model"] == "bgnbd" and "package_version" in payload
    loaded = CLVModel.load(path, purchase_model="bgnbd")
    pd.testing.assert_series_equal(loaded.params_, model.params_, check_exact=True)
    pd.testing.assert_series_equal(loaded.std_errors_, model.std_errors_, check_exact=True)
    pd.testing.assert_frame_equal(loaded.clv(cdnow_summary), model.clv(cdnow_summary), check_exact=True)
    pd.testing.assert_series_equal(loaded.probability_alive(cdnow_summary),
                                   model.probability_alive(cdnow_summary), check_exact=True)
    assert loaded.fit_notes_ == model.fit_notes_ and loaded.n_histories_ == model.n_histories_
    with pytest.raises(InputError, match="pass data"):
        loaded.clv()


def test_load_refuses_other_files(cdnow_summary, tmp_path):
    good = CLVModel().fit(cdnow_summary).save(tmp_path / "clv.json")
    payload = json.loads(good.read_text())
    cases = {
        "missing.json": None,
        "binary.json": b"\x80\x81 not json",
        "churn.json": {"format": "crm_analytics.churn.ChurnModel", "format_version": 1},
        "list.json": [1, 2],
        "future.json": {**payload, "format_version": 99},
        "damaged.json": {k: v for k, v in payload.items() if k != "purchase_model"},
    }
    messages = {
        "missing.json": "no such CLVModel file",
        "binary.json": "not a CLVModel file",
        "churn.json": "not a CLVModel file .*crm_analytics.churn.ChurnModel",
        "list.json": "not a CLVModel file",
        "future.json": "format version 99.*reads version 1",
        "damaged.json": "damaged CLV model file",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(json.dumps(content))
        with pytest.raises(ModelFileError, match=messages[name]) as info:
            CLVModel.load(path)
        assert str(path) in str(info.value)
    with pytest.raises(ModelFileError, match="holds a 'bgnbd' model, expected purchase_model='pareto_nbd'"):
        CLVModel.load(good, purchase_model="pareto_nbd")


# --------------------------------------------------------------------------- convergence


@pytest.mark.parametrize("purchase_model", ["bgnbd", "pareto_nbd", "mbgnbd"])
def test_degenerate_data_warn_and_record_but_never_raise(purchase_model):
    n = 40
    ids = pd.Index([f"C{i}" for i in range(n)], name="customer_id")
    nobody_returns = pd.DataFrame({"frequency": 0.0, "recency": 0.0, "T": np.linspace(1, 40, n),
                                   "monetary_value": 0.0}, index=ids)
    all_identical = pd.DataFrame({"frequency": 1.0, "recency": 3.0, "T": 10.0,
                                  "monetary_value": 20.0}, index=ids)
    for summary in (nobody_returns, all_identical):
        with pytest.warns(ConvergenceWarning) as record:
            model = CLVModel(purchase_model=purchase_model).fit(summary)
        # The warning points at the caller, not at our internals.
        assert record[0].filename == __file__
        assert len(model.convergence_) > 1
        assert any("penalizer" in note or "no attempt" in note for note in model.fit_notes_)
        assert {"model", "start", "penalizer", "accepted", "message"} <= set(model.convergence_[0])
        value = model.clv()
        assert np.isfinite(model.expected_purchases(horizon_days=90)).all()
        assert value.index.equals(ids)
    # Nobody returned: no repeat spend to fit, flagged rather than raised.
    with pytest.warns(ConvergenceWarning) as record:
        model_zero = CLVModel(purchase_model=purchase_model).fit(nobody_returns)
    assert any("gamma_gamma: not fitted" in str(w.message) for w in record)
    assert model_zero.clv()["spend_basis"].eq("unavailable").all()


def test_fit_leaves_global_state_alone(cdnow_summary, capsys):
    filters, errors = list(warnings.filters), np.geterr()
    model = CLVModel(purchase_model="pareto_nbd").fit(cdnow_summary)
    model.clv()
    assert warnings.filters == filters and np.geterr() == errors
    assert capsys.readouterr().out == ""
    assert not any(type(v).__module__.startswith("lifetimes") for v in vars(model).values())


# --------------------------------------------------------------------------- parameters


def test_init_stores_and_fit_checks_parameters(cdnow_summary):
    model = CLVModel(purchase_model="nbd", penalizer=-1)  # no error yet: sklearn contract
    assert model.get_params()["purchase_model"] == "nbd"
    with pytest.raises(InputError, match=r"The 'purchase_model' parameter of CLVModel must be one "
                                         r"of 'bgnbd', 'pareto_nbd', 'mbgnbd'. Got 'nbd' instead."):
        model.fit(cdnow_summary)
    with pytest.raises(InputError, match=r"The 'penalizer' parameter of CLVModel must be a float in "
                                         r"the range \[0, inf\). Got -1 instead."):
        CLVModel(penalizer=-1).fit(cdnow_summary)
    with pytest.raises(InputError, match="The 'time_unit' parameter of CLVModel"):
        CLVModel(time_unit="fortnight").fit(cdnow_summary)
    with pytest.raises(InputError, match="time unit 'W' but CLVModel"):
        CLVModel(time_unit="D").fit(cdnow_summary)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        CLVModel().clv()
    fitted = CLVModel().fit(cdnow_summary)
    with pytest.raises(InputError, match="horizon_days must be a number of days >= 0"):
        fitted.expected_purchases(horizon_days=-1)
    with pytest.raises(InputError, match="annual_discount_rate must be a number >= 0"):
        fitted.clv(annual_discount_rate="10%")
    assert repr(CLVModel()).startswith("CLVModel(purchase_model='bgnbd'")


# --------------------------------------------------------------------------- internals


@pytest.fixture(scope="module")
def histories(cdnow_summary):
    s = cdnow_summary
    x, t_x, T = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    weights = np.random.default_rng(0).integers(1, 5, x.size).astype(float)
    return x, t_x / T.max(), T / T.max(), weights


@pytest.mark.parametrize("penalizer", [0.0, 0.05])
@pytest.mark.parametrize("log_params", [np.full(4, 0.1), np.log([0.5, 2.0, 0.7, 3.0]),
                                        np.log([2.0, 0.1, 1.5, 0.8])])
def test_purchase_likelihoods_equal_lifetimes(histories, log_params, penalizer):
    prepared = prepare_purchases(*histories)
    for ours, theirs in ((bgnbd_value_and_gradient, BetaGeoFitter),
                         (mbgnbd_value_and_gradient, ModifiedBetaGeoFitter)):
        value, grad = ours(log_params, penalizer, prepared)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ref_value, ref_grad = value_and_grad(theirs._negative_log_likelihood)(
                log_params, *histories, penalizer)
        assert value == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)


def test_gamma_gamma_likelihood_equals_lifetimes(cdnow_summary):
    repeat = cdnow_summary[cdnow_summary["frequency"] > 0]
    x, m = repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy() / 30.0
    w = np.ones(x.size)
    prepared = prepare_gamma_gamma(x, m, w)
    for log_params in (np.full(3, 0.1), np.log([5.0, 3.0, 0.6])):
        value, grad = gamma_gamma_value_and_gradient(log_params, 0.01, prepared)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_value, ref_grad = value_and_grad(GammaGammaFitter._negative_log_likelihood)(
                log_params, x, m, w, 0.01)
        assert value == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-9)


def test_bgnbd_conditional_expectation_equals_lifetimes_including_overflow():
    model = BetaGeoModel({"r": 0.5, "alpha": 1.0, "a": 0.9, "b": 3.0})
    ref = BetaGeoFitter()
    ref.params_ = pd.Series(model.params)
    x = np.array([0.0, 1.0, 5.0, 40.0, 150.0])
    t_x = np.array([0.0, 10.0, 50.0, 90.0, 99.0])
    T = np.full(5, 100.0)
    for t in (1.0, 52.0, 1000.0):
        with np.errstate(all="ignore"):
            expected = ref.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
        np.testing.assert_allclose(model.conditional_expected_purchases(t, x, t_x, T), expected,
                                   rtol=1e-9)


def test_warm_start_on_many_histories_reaches_the_same_optimum(cdnow_summary, monkeypatch):
    # Force the subsample warm start on CDNOW and compare with the cold fit.
    from crm_analytics.clv.models import base

    s = cdnow_summary
    x, t_x, T = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    n = x.size
    cold, _ = BetaGeoModel.fit(x, t_x, T, np.ones(n))
    monkeypatch.setattr(base, "WARM_START_ABOVE", 1000)
    monkeypatch.setattr(base, "WARM_START_SIZE", 800)
    warm, outcome = BetaGeoModel.fit(x, t_x, T, np.ones(n))
    assert outcome.attempts[0].start.startswith("warm") and outcome.converged
    for name in cold.params:
        assert warm.params[name] == pytest.approx(cold.params[name], rel=1e-4)


def test_module_docstrings_cite_the_papers():
    text = {name: (sys.modules[name].__doc__ or "") for name in (
        "crm_analytics.clv.models.bgnbd", "crm_analytics.clv.models.pareto_nbd",
        "crm_analytics.clv.models.mbgnbd", "crm_analytics.clv.models.gamma_gamma")}
    assert "Fader, Hardie & Lee (2005)" in text["crm_analytics.clv.models.bgnbd"]
    assert "Schmittlein, Morrison & Colombo (1987)" in text["crm_analytics.clv.models.pareto_nbd"]
    assert "Batislam" in text["crm_analytics.clv.models.mbgnbd"]
    assert "Fader & Hardie (2013)" in text["crm_analytics.clv.models.gamma_gamma"]
    assert math.isclose(365.25 / 12, 30.4375)


def test_mbgnbd_and_gamma_gamma_predictions_equal_lifetimes(cdnow_summary):
    from crm_analytics.clv.models import GammaGammaModel, ModifiedBetaGeoModel

    s = cdnow_summary
    x, t_x, T = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    model = ModifiedBetaGeoModel({"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6})
    ref = ModifiedBetaGeoFitter()
    ref.params_ = pd.Series(model.params)
    for t in (1.0, 39.0, 500.0):
        np.testing.assert_allclose(model.conditional_expected_purchases(t, x, t_x, T),
                                   ref.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T),
                                   rtol=1e-9)
    # Horizons that differ by customer (holdout lengths) give the same as one at a time.
    t_each = np.where(x > 2, 10.0, 39.0)
    both = model.conditional_expected_purchases(t_each, x, t_x, T)
    np.testing.assert_allclose(both[x > 2], model.conditional_expected_purchases(10.0, x, t_x, T)[x > 2])
    gg = GammaGammaModel({"p": 6.25, "q": 3.74, "v": 15.44})
    ref_gg = GammaGammaFitter()
    ref_gg.params_ = pd.Series(gg.params)
    m = s["monetary_value"].to_numpy()
    np.testing.assert_allclose(gg.conditional_expected_spend(x, m),
                               ref_gg.conditional_expected_average_profit(x, m), rtol=1e-12)
