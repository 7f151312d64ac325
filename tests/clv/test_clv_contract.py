"""CLVModel follows the package's estimator contract (crm_analytics.core.estimator)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from crm_analytics.clv import MODEL_FILE_FORMAT, MODEL_FILE_VERSION, CLVModel, EvaluationResult
from crm_analytics.core.estimator import Estimator
from crm_analytics.core.summary import Summary
from crm_analytics.errors import InputError, ModelFileError, NotFittedError

BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARETO = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}
SPEND = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def fitted(cdnow_summary):
    return CLVModel().fit(cdnow_summary)


# --------------------------------------------------------------------------- sklearn API


def test_is_an_estimator_and_clone_keeps_the_parameters():
    model = CLVModel(purchase_model="pareto_nbd", spend_model=None, penalizer=0.01,
                     spend_penalizer=0.5, time_unit="D", clv_step_days=7.0)
    assert isinstance(model, Estimator)
    copy = clone(model)
    assert copy is not model
    assert copy.get_params() == model.get_params() == {
        "purchase_model": "pareto_nbd", "spend_model": None, "penalizer": 0.01,
        "spend_penalizer": 0.5, "time_unit": "D", "clv_step_days": 7.0}
    assert clone(CLVModel()).get_params() == CLVModel().get_params()
    assert CLVModel().get_params(deep=True) == CLVModel().get_params(deep=False)


def test_clone_of_a_fitted_model_is_unfitted(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not copy.is_fitted and fitted.is_fitted
    with pytest.raises(NotFittedError):
        copy.probability_alive()


def test_set_params_returns_the_model_and_changes_only_the_named_parameter():
    model = CLVModel()
    assert model.set_params(penalizer=0.1, time_unit="D") is model
    assert model.penalizer == 0.1 and model.time_unit == "D"
    assert model.get_params()["purchase_model"] == "bgnbd"
    with pytest.raises(ValueError, match="Invalid parameter 'horizon'"):
        model.set_params(horizon=3)


def test_init_does_not_validate_and_stores_arguments_unchanged():
    model = CLVModel(purchase_model="nbd", penalizer="a lot", clv_step_days=-1)
    assert (model.purchase_model, model.penalizer, model.clv_step_days) == ("nbd", "a lot", -1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"purchase_model": "nbd"}, "The 'purchase_model' parameter of CLVModel must be one of "
                                "'bgnbd', 'pareto_nbd', 'mbgnbd'. Got 'nbd' instead."),
    ({"spend_model": "lognormal"}, "The 'spend_model' parameter of CLVModel must be one of "
                                   "'gamma_gamma', None. Got 'lognormal' instead."),
    ({"penalizer": -0.5}, "The 'penalizer' parameter of CLVModel must be a float in the range "
                          "[0, inf). Got -0.5 instead."),
    ({"penalizer": True}, "The 'penalizer' parameter of CLVModel must be a float in the range "
                          "[0, inf). Got True instead."),
    ({"spend_penalizer": float("nan")}, "The 'spend_penalizer' parameter of CLVModel must be a "
                                        "float in the range [0, inf). Got nan instead."),
    ({"time_unit": "fortnight"}, "The 'time_unit' parameter of CLVModel must be one of 'D', "
                                 "'W', 'M'. Got 'fortnight' instead."),
    ({"clv_step_days": 0}, "The 'clv_step_days' parameter of CLVModel must be a float in the "
                           "range (0, inf). Got 0 instead."),
    ({"clv_step_days": float("inf")}, "The 'clv_step_days' parameter of CLVModel must be a "
                                      "float in the range (0, inf). Got inf instead."),
])
def test_bad_parameters_raise_at_fit_with_the_one_message_shape(cdnow_summary, kwargs, message):
    model = CLVModel(**kwargs)
    with pytest.raises(InputError) as info:
        model.fit(cdnow_summary)
    assert str(info.value) == message
    assert not model.is_fitted


@pytest.mark.parametrize("call", [
    lambda m: m.expected_purchases(horizon_days=30),
    lambda m: m.probability_alive(),
    lambda m: m.expected_spend(),
    lambda m: m.clv(),
    lambda m: m.expected_purchases_new_customer(30),
    lambda m: m.summary(),
    lambda m: m.to_dict(),
    lambda m: m.save("never-written.json"),
])
def test_not_fitted_raises_not_fitted_error(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFittedError, match="This CLVModel instance is not fitted yet"):
        call(CLVModel())
    assert not (tmp_path / "never-written.json").exists()


def test_evaluate_on_an_unfitted_model_raises(cdnow_summary):
    with pytest.raises(NotFittedError):
        CLVModel().evaluate(cdnow_summary)


def test_fit_returns_self(cdnow_summary):
    model = CLVModel(spend_model=None)
    assert model.fit(cdnow_summary) is model
    assert model.is_fitted and model.n_customers_ == len(cdnow_summary) == 2357


# --------------------------------------------------------------------------- evaluate


def test_evaluate_returns_a_result_and_leaves_the_model_unchanged(fitted, cdnow_summary):
    params, ses = fitted.params_.copy(), fitted.std_errors_.copy()
    config = fitted.get_params()
    before_clv = fitted.clv(cdnow_summary)
    before_alive = fitted.probability_alive()
    keys = set(vars(fitted))
    notes, attempts = list(fitted.fit_notes_), list(fitted.convergence_)
    data = fitted.data_

    result = fitted.evaluate(cdnow_summary)

    assert isinstance(result, EvaluationResult)
    assert isinstance(result.summary(), Summary)
    holdout = cdnow_summary["frequency_holdout"].sum()
    assert result.metrics.loc["model", "actual_total"] == holdout
    assert result.metrics.loc["baseline", "actual_total"] == holdout
    assert set(vars(fitted)) == keys
    assert fitted.get_params() == config
    pd.testing.assert_series_equal(fitted.params_, params, check_exact=True)
    pd.testing.assert_series_equal(fitted.std_errors_, ses, check_exact=True)
    assert fitted.fit_notes_ == notes and fitted.convergence_ == attempts
    assert fitted.data_ is data
    pd.testing.assert_frame_equal(fitted.clv(cdnow_summary), before_clv, check_exact=True)
    pd.testing.assert_series_equal(fitted.probability_alive(), before_alive, check_exact=True)


# --------------------------------------------------------------------------- save / load


def test_save_load_round_trip_of_a_fitted_model(fitted, cdnow_summary, tmp_path):
    path = fitted.save(tmp_path / "clv.json")
    payload = json.loads(path.read_text())
    assert (payload["format"], payload["format_version"]) == (MODEL_FILE_FORMAT, MODEL_FILE_VERSION)
    assert payload["config"] == fitted.get_params()
    loaded = CLVModel.load(path)
    assert loaded.get_params() == fitted.get_params()
    pd.testing.assert_series_equal(loaded.params_, fitted.params_, check_exact=True)
    pd.testing.assert_series_equal(loaded.std_errors_, fitted.std_errors_, check_exact=True)
    for horizon in (0, 30, 365):
        pd.testing.assert_series_equal(
            loaded.expected_purchases(cdnow_summary, horizon_days=horizon),
            fitted.expected_purchases(cdnow_summary, horizon_days=horizon), check_exact=True)
    pd.testing.assert_frame_equal(loaded.clv(cdnow_summary), fitted.clv(cdnow_summary),
                                  check_exact=True)
    pd.testing.assert_frame_equal(loaded.summary().to_frame(), fitted.summary().to_frame(),
                                  check_exact=True)
    assert (loaded.n_customers_, loaded.n_histories_, loaded.n_spend_customers_) == (
        fitted.n_customers_, fitted.n_histories_, fitted.n_spend_customers_)
    assert loaded.converged_ is fitted.converged_ and loaded.data_ is None
    assert loaded.fit_info_ == fitted.fit_info_
    # Saving the loaded model again writes the same content.
    again = json.loads(loaded.save(tmp_path / "again.json").read_text())
    assert {k: v for k, v in again.items() if k != "saved_at"} == {
        k: v for k, v in payload.items() if k != "saved_at"}


@pytest.mark.parametrize(("purchase_model", "params"), [
    ("bgnbd", {**BGNBD, **SPEND}), ("pareto_nbd", PARETO), ("mbgnbd", {**BGNBD, **SPEND}),
])
def test_save_load_round_trip_of_given_parameters(cdnow_summary, tmp_path, purchase_model,
                                                  params):
    model = CLVModel.from_params(params, purchase_model=purchase_model, time_unit="W")
    loaded = CLVModel.load(model.save(tmp_path / "m.json"), purchase_model=purchase_model)
    assert loaded.params_.to_dict() == params
    assert loaded.spend_model == ("gamma_gamma" if "p" in params else None)
    pd.testing.assert_series_equal(loaded.probability_alive(cdnow_summary),
                                   model.probability_alive(cdnow_summary), check_exact=True)


def _tamper(path, edit):
    payload = json.loads(path.read_text())
    edit(payload)
    path.write_text(json.dumps(payload))  # NaN and inf are written as NaN / Infinity


def _set(*keys_value):
    *keys, value = keys_value

    def edit(payload):
        target = payload
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
    return edit


def _drop(*keys):
    def edit(payload):
        target = payload
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]
    return edit


@pytest.mark.parametrize(("edit", "message"), [
    (_set("purchase_model", "params", "alpha", -4.4),
     "The 'alpha' parameter of BG/NBD must be a float in the range (0, inf). Got -4.4 instead."),
    (_set("purchase_model", "params", "r", 0.0),
     "The 'r' parameter of BG/NBD must be a float in the range (0, inf). Got 0.0 instead."),
    (_set("purchase_model", "params", "b", float("inf")), "holds Infinity"),
    (_set("purchase_model", "params", "a", float("nan")), "holds NaN"),
    (_set("purchase_model", "params", "a", "0.8"),
     "The 'a' parameter of BG/NBD must be a float in the range (0, inf). Got '0.8' instead."),
    (_set("purchase_model", "params", "a", True), "Got True instead"),
    (_set("spend_model", "params", "q", -1.0),
     "The 'q' parameter of Gamma-Gamma must be a float in the range (0, inf). Got -1.0 instead."),
    (_set("spend_model", "params", "v", 0), "The 'v' parameter of Gamma-Gamma"),
    (_set("purchase_model", "std_errors", "r", -0.1), "The 'r' parameter of BG/NBD (std_errors)"),
    (_set("purchase_model", "params", "s", 1.0), "BG/NBD has no parameter(s) s"),
    (_drop("purchase_model", "params", "alpha"), "BG/NBD needs parameters alpha"),
    (_drop("purchase_model"), "missing key 'purchase_model'"),
    (_drop("spend_model", "name"), "missing key 'spend_model.name'"),
    (_drop("config", "time_unit"), "'config' must hold exactly"),
    (_drop("fit", "n_customers"), "missing key 'fit.n_customers'"),
    (_set("fit", "n_customers", -3), "The 'fit.n_customers' parameter"),
    (_set("fit", "n_customers", 2.5), "'fit.n_customers' must be Integral"),
    (_set("fit", "converged", "yes"), "'fit.converged' must be bool"),
    (_set("fit", "notes", [1, 2]), "'fit.notes' must be a list of str"),
    (_set("config", "penalizer", -1), "The 'penalizer' parameter of CLVModel"),
    (_set("config", "time_unit", "fortnight"), "The 'time_unit' parameter of CLVModel"),
    (_set("config", "purchase_model", "pareto_nbd"), "config purchase_model 'pareto_nbd'"),
    (_set("config", "spend_model", None), "config spend_model None"),
    (_set("spend_fallback_mean", -2.0), "The 'spend_fallback_mean' parameter"),
    (_set("config", []), "'config' must be dict"),
])
def test_load_refuses_tampered_content(fitted, tmp_path, edit, message):
    path = fitted.save(tmp_path / "clv.json")
    _tamper(path, edit)
    with pytest.raises(ModelFileError) as info:
        CLVModel.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_load_refuses_an_overflowing_number(fitted, tmp_path):
    path = fitted.save(tmp_path / "clv.json")
    text = path.read_text()
    alpha = json.loads(text)["purchase_model"]["params"]["alpha"]
    path.write_text(text.replace(f'"alpha": {alpha!r}', '"alpha": 1e999', 1))
    assert math.isinf(json.loads(path.read_text())["purchase_model"]["params"]["alpha"])
    with pytest.raises(ModelFileError, match=r"holds 1e999, not a finite number"):
        CLVModel.load(path)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda text: text[: len(text) // 2], "not a CLVModel file (not JSON"),
    (lambda text: text.replace(MODEL_FILE_FORMAT, "crm_analytics.churn.ChurnModel"),
     "format 'crm_analytics.churn.ChurnModel', expected 'crm_analytics.clv.CLVModel'"),
    (lambda text: text.replace('"format_version": 1', '"format_version": 2'),
     "format version 2; this crm_analytics"),
    (lambda text: "", "not JSON"),
])
def test_load_refuses_damaged_or_foreign_files(fitted, tmp_path, damage, message):
    path = fitted.save(tmp_path / "clv.json")
    path.write_text(damage(path.read_text()))
    with pytest.raises(ModelFileError) as info:
        CLVModel.load(path)
    assert str(path) in str(info.value) and message in str(info.value)


# --------------------------------------------------------------------------- from_params


@pytest.mark.parametrize(("params", "message"), [
    ({**BGNBD, "alpha": -1.0},
     "The 'alpha' parameter of BG/NBD must be a float in the range (0, inf). Got -1.0 instead."),
    ({**BGNBD, "r": 0}, "The 'r' parameter of BG/NBD must be a float in the range (0, inf). "
                        "Got 0 instead."),
    ({**BGNBD, "a": float("nan")}, "The 'a' parameter of BG/NBD must be a float in the range "
                                   "(0, inf). Got nan instead."),
    ({**BGNBD, "b": float("inf")}, "The 'b' parameter of BG/NBD must be a float in the range "
                                   "(0, inf). Got inf instead."),
    ({**BGNBD, "b": "2"}, "The 'b' parameter of BG/NBD must be a float in the range (0, inf). "
                          "Got '2' instead."),
    ({**BGNBD, **SPEND, "q": -3.74}, "The 'q' parameter of Gamma-Gamma must be a float in the "
                                     "range (0, inf). Got -3.74 instead."),
    ({**BGNBD, "p": 6.0}, "Gamma-Gamma needs parameters q, v"),
    ({"r": 0.2, "alpha": 4.0, "a": 0.8}, "BG/NBD needs parameters b"),
    ({**BGNBD, "beta": 1.0}, "unknown parameter(s) 'beta' for BG/NBD"),
])
def test_from_params_validates_like_load(params, message):
    with pytest.raises(InputError) as info:
        CLVModel.from_params(params)
    assert str(info.value).startswith(message)


def test_from_params_checks_the_configuration_too():
    with pytest.raises(InputError, match="The 'clv_step_days' parameter of CLVModel"):
        CLVModel.from_params(BGNBD, clv_step_days=-1)
    with pytest.raises(InputError, match="The 'purchase_model' parameter of CLVModel"):
        CLVModel.from_params(BGNBD, purchase_model="nbd")
    model = CLVModel.from_params({k: np.float64(v) for k, v in PARETO.items()},
                                 purchase_model="pareto_nbd")
    assert model.params_.to_dict() == PARETO and model.is_fitted
