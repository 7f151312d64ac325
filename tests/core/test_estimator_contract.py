"""One contract, checked on every estimator of the package.

For CLVModel, ChurnModel, NeedsSegmenter and SatisfactionIndex: ``clone``
works and keeps the parameters; use before ``fit`` raises NotFittedError;
``fit`` returns the estimator; the prediction method returns one type;
``evaluate`` (where there is one) leaves the model as it was; ``summary()``
is a Summary; ``save``/``load`` round-trips to identical outputs and refuses
a file of another model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from crm_analytics import churn, clv, satisfaction, segmentation
from crm_analytics.core.estimator import Estimator
from crm_analytics.core.summary import Summary
from crm_analytics.datasets import synthetic
from crm_analytics.errors import ModelFileError, NotFittedError
from crm_analytics.store import Store

AS_OF = "2025-09-30"


@dataclass
class Case:
    make: Callable[[], Estimator]
    fit: Callable[[Estimator], Estimator]
    output: Callable[[Estimator], Any]          # the model's prediction on fixed data
    output_type: type
    evaluate: Callable[[Estimator], Any] | None
    suffix: str


@pytest.fixture(scope="module")
def store() -> Store:
    s = Store(":memory:")
    s.load_all(synthetic.generate(n_customers=800, seed=21).tables())
    return s


@pytest.fixture(scope="module")
def cases(store) -> dict[str, Case]:
    summary = clv.rfm_summary(store, AS_OF)
    holdout = clv.rfm_summary(store, AS_OF, calibration_end="2025-03-31")
    cutoffs = churn.training_cutoffs("2024-12-31", "2025-06-30", horizon_days=90)
    training = churn.training_set(store, cutoffs, horizon_days=90)
    features = training.drop(columns=["cutoff", "churned"])
    needs = segmentation.needs_features(store, AS_OF)
    responses = satisfaction.survey_wide(store, AS_OF).responses
    return {
        "CLVModel": Case(
            make=lambda: clv.CLVModel(purchase_model="bgnbd"),
            fit=lambda m: m.fit(summary),
            output=lambda m: m.expected_purchases(summary, horizon_days=90),
            output_type=pd.Series,
            evaluate=lambda m: m.evaluate(holdout),
            suffix=".json",
        ),
        "ChurnModel": Case(
            make=lambda: churn.ChurnModel(horizon_days=90, random_state=0),
            fit=lambda m: m.fit(training),
            output=lambda m: m.predict(features),
            output_type=pd.Series,
            evaluate=lambda m: m.evaluate(store, "2025-06-30", n_repeats=1),
            suffix=".skops",
        ),
        "NeedsSegmenter": Case(
            make=lambda: segmentation.NeedsSegmenter(n_segments=4, random_state=0),
            fit=lambda m: m.fit(needs),
            output=lambda m: m.predict(needs),
            output_type=pd.Series,
            evaluate=None,
            suffix=".skops",
        ),
        "SatisfactionIndex": Case(
            make=lambda: satisfaction.SatisfactionIndex(n_boot=0),
            fit=lambda m: m.fit(responses),
            output=lambda m: m.transform(responses),
            output_type=pd.DataFrame,
            evaluate=None,
            suffix=".json",
        ),
    }


NAMES = ["CLVModel", "ChurnModel", "NeedsSegmenter", "SatisfactionIndex"]


def _equal(a: Any, b: Any) -> bool:
    """Deep equality of fitted state (frames, arrays, estimators by their parameters)."""
    if isinstance(a, (pd.DataFrame, pd.Series)):
        return type(a) is type(b) and a.equals(b)
    if isinstance(a, np.ndarray):
        if not (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype):
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return all(_equal(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        same = type(a) is type(b) and len(a) == len(b)
        return same and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    if hasattr(a, "get_params") and hasattr(a, "__dict__"):
        return type(a) is type(b) and _equal(vars(a), vars(b))
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return type(a) is type(b) and _equal(vars(a), vars(b))
    if isinstance(a, np.random.Generator):
        return isinstance(b, np.random.Generator) and _equal(a.bit_generator.state, b.bit_generator.state)
    if type(a) is type(b) and type(a).__eq__ is object.__eq__:
        return True  # an opaque compiled object (e.g. a loss function): nothing to compare
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


@pytest.fixture(scope="module")
def fitted(cases) -> dict[str, Estimator]:
    return {name: case.fit(case.make()) for name, case in cases.items()}


@pytest.mark.parametrize("name", NAMES)
def test_clone_keeps_parameters_and_is_unfitted(cases, fitted, name):
    model = fitted[name]
    twin = clone(model)
    assert type(twin) is type(model)
    assert _equal(twin.get_params(deep=True), model.get_params(deep=True))
    assert not twin.is_fitted and model.is_fitted
    params = twin.get_params()
    key = next(iter(params))
    assert twin.set_params(**{key: params[key]}) is twin


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error_before_fit(cases, name, tmp_path):
    case = cases[name]
    model = case.make()
    with pytest.raises(NotFittedError, match=f"This {name} instance is not fitted yet"):
        case.output(model)
    with pytest.raises(NotFittedError):
        model.save(tmp_path / f"m{case.suffix}")
    with pytest.raises(NotFittedError):
        model.summary()


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_the_estimator_and_output_has_one_type(cases, name):
    case = cases[name]
    model = case.make()
    assert case.fit(model) is model
    out = case.output(model)
    assert type(out) is case.output_type
    assert len(out) > 0


@pytest.mark.parametrize("name", NAMES)
def test_summary_is_the_one_summary_class(fitted, name):
    s = fitted[name].summary()
    assert isinstance(s, Summary)
    assert str(s).strip() and "<" in s._repr_html_()
    assert isinstance(s.to_frame(), pd.DataFrame)


@pytest.mark.parametrize("name", [n for n in NAMES if n in ("CLVModel", "ChurnModel")])
def test_evaluate_leaves_the_model_as_it_was(cases, name):
    case = cases[name]
    model = case.fit(case.make())
    state = copy.deepcopy(vars(model))
    before = case.output(model)
    result = case.evaluate(model)
    assert result is not None and result is not model
    assert vars(model).keys() == state.keys()
    changed = [k for k in state if not _equal(state[k], vars(model)[k])]
    assert changed == []
    assert _equal(case.output(model), before)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_and_refusal_of_another_model(cases, fitted, name, tmp_path):
    case = cases[name]
    model = fitted[name]
    path = tmp_path / f"model{case.suffix}"
    model.save(path)
    again = type(model).load(path)
    assert again.is_fitted
    assert _equal(again.get_params(), model.get_params())
    a, b = case.output(model), case.output(again)
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    else:
        pd.testing.assert_series_equal(a, b, check_exact=True)
    # a file written by another model of the same format family is refused
    others = [n for n in NAMES if n != name and cases[n].suffix == case.suffix]
    for other in others:
        other_path = tmp_path / f"other{case.suffix}"
        fitted[other].save(other_path)
        with pytest.raises(ModelFileError, match=f"not a {name} file|outside the {name}'s trusted list"):
            type(model).load(other_path)


@pytest.mark.parametrize("name", NAMES)
def test_a_damaged_file_is_refused_with_the_model_file_error(cases, fitted, name, tmp_path):
    case = cases[name]
    path = tmp_path / f"model{case.suffix}"
    fitted[name].save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        type(fitted[name]).load(path)
