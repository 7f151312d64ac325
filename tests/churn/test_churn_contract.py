"""ChurnModel follows the package's estimator contract (crm_analytics.core.estimator)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from crm_analytics import churn
from crm_analytics.core.estimator import Estimator
from crm_analytics.core.summary import Summary
from crm_analytics.errors import InputError, ModelFileError, NotFittedError

CUTOFFS = ["2025-03-31", "2025-04-30", "2025-05-31"]
EVALUATE_AT = "2025-08-31"


def _table(n: int = 600, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"tenure": rng.integers(1, 72, n),
                      "plan": rng.choice(["a", "b", "c"], n)},
                     index=pd.Index([f"K{i:04d}" for i in range(n)], name="customer_id"))
    y = (rng.random(n) < np.where(X["plan"] == "a", 0.6, 0.2)).astype(int)
    return X, y


@pytest.fixture(scope="module")
def training(small_store) -> pd.DataFrame:
    return churn.training_set(small_store, CUTOFFS, evaluate_at=EVALUATE_AT)


@pytest.fixture(scope="module")
def table_model():
    X, y = _table()
    return churn.ChurnModel(max_iter=20).fit(X, y), X


def test_clone_keeps_params_and_init_only_stores_them():
    model = churn.ChurnModel(horizon_days=60, max_iter=7, cutoffs=["2025-01-31"],
                             risk_thresholds=(0.1, 0.4), random_state=3)
    assert isinstance(model, Estimator)
    twin = clone(model)
    assert twin is not model
    assert twin.get_params() == model.get_params()
    assert twin.get_params()["horizon_days"] == 60 and twin.get_params()["max_iter"] == 7
    assert twin.risk_thresholds == (0.1, 0.4) and twin.cutoffs == ["2025-01-31"]
    # Bad values are stored as given and refused by fit, not by __init__.
    bad = churn.ChurnModel(max_iter=0, horizon_days=2.5)
    assert bad.max_iter == 0 and bad.horizon_days == 2.5
    X, y = _table()
    with pytest.raises(InputError, match=r"The 'horizon_days' parameter of ChurnModel must be an "
                                         r"int in the range \[1, inf\)\. Got 2\.5 instead\."):
        bad.fit(X, y)
    with pytest.raises(InputError, match=r"The 'random_state' parameter of ChurnModel must be an "
                                         r"int in the range \[0, inf\) or None\. Got -1 instead\."):
        churn.ChurnModel(random_state=-1).fit(X, y)


def test_not_fitted_error_before_fit(small_store, tmp_path):
    model = churn.ChurnModel()
    X, _ = _table(20)
    assert not model.is_fitted
    calls = [
        lambda: model.predict(X),
        lambda: model.predict_proba(X),
        lambda: model.explain(X),
        lambda: churn.score(model, small_store, EVALUATE_AT),
        lambda: model.evaluate(small_store, EVALUATE_AT),
        lambda: model.save(tmp_path / "m.skops"),
        lambda: model.summary(),
    ]
    for call in calls:
        with pytest.raises(NotFittedError, match="This ChurnModel instance is not fitted yet; "
                                                 r"call fit\(\.\.\.\) first\."):
            call()
    assert not (tmp_path / "m.skops").exists()


def test_fit_returns_self_on_every_input(table_model, training, small_store):
    X, y = _table()
    model = churn.ChurnModel(max_iter=20)
    assert model.fit(X, y) is model and model.is_fitted
    store_model = churn.ChurnModel(max_iter=5)
    assert store_model.fit(training) is store_model
    assert store_model.fit(small_store, cutoffs=CUTOFFS[:2]) is store_model
    assert [str(c) for c in store_model.cutoffs_] == CUTOFFS[:2]


def test_training_set_frame(training, small_store):
    info = training.attrs[churn.model.TRAINING_SET_ATTRS]
    assert [str(c) for c in info["cutoffs"]] == CUTOFFS
    assert info["horizon_days"] == 90 and info["active_days"] == 365
    assert list(training.columns[-2:]) == ["cutoff", "churned"]
    assert list(training.columns[:-2]) == churn.feature_names(
        channels=info["channels"], clv=info["clv"], satisfaction=info["satisfaction"])
    # Each block is exactly build_features / build_labels as of its cutoff.
    for cutoff in CUTOFFS:
        block = training[training["cutoff"] == pd.Timestamp(cutoff)]
        labels = churn.build_labels(small_store, cutoff)
        assert block.index.equals(labels.index)
        np.testing.assert_array_equal(block["churned"].to_numpy(), labels.to_numpy())
    first = churn.build_features(small_store, CUTOFFS[0], channels=info["channels"])
    block = training[training["cutoff"] == pd.Timestamp(CUTOFFS[0])].drop(
        columns=["cutoff", "churned"])
    pd.testing.assert_frame_equal(block, first)
    with pytest.raises(InputError, match="label window ends on 2025-08-29, after evaluate_at "
                                         "2025-08-28"):
        churn.training_set(small_store, CUTOFFS, evaluate_at="2025-08-28")
    with pytest.raises(InputError, match="The 'horizon_days' parameter of training_set"):
        churn.training_set(small_store, CUTOFFS, horizon_days=0)


def test_fit_on_training_set_equals_fit_on_store(training, small_model, small_store):
    model = churn.ChurnModel(max_iter=20).fit(training)
    np.testing.assert_array_equal(model.predict_proba(training),
                                  small_model.predict_proba(training))
    pd.testing.assert_frame_equal(model.training_summary_, small_model.training_summary_)
    assert model.cutoffs_ == small_model.cutoffs_ and model.channels_ == small_model.channels_
    pd.testing.assert_frame_equal(churn.score(model, small_store, EVALUATE_AT, reasons=False),
                                  churn.score(small_model, small_store, EVALUATE_AT,
                                              reasons=False))


def test_fit_refuses_inconsistent_training_input(training):
    with pytest.raises(InputError, match="built with horizon_days=90 but the model has "
                                         "horizon_days=60"):
        churn.ChurnModel(horizon_days=60).fit(training)
    with pytest.raises(InputError, match="call fit\\(training\\) without y"):
        churn.ChurnModel().fit(training, training["churned"])
    bare = pd.DataFrame(training.to_numpy(), columns=training.columns, index=training.index)
    with pytest.raises(InputError, match="not the description churn.training_set attaches"):
        churn.ChurnModel().fit(bare)


def test_predict_returns_a_series_indexed_like_x(table_model, small_model, training):
    model, X = table_model
    _, y = _table()
    array_model = churn.ChurnModel(max_iter=5).fit(X.to_numpy(), y)
    cases = [
        (model, X),
        (array_model, X.to_numpy()),
        (model, X.iloc[[5, 1, 3]]),
        (small_model, training),
        (small_model, training.drop(columns=["cutoff", "churned"]).iloc[::7]),
    ]
    for fitted, data in cases:
        predicted = fitted.predict(data)
        proba = fitted.predict_proba(data)
        assert isinstance(predicted, pd.Series) and predicted.name == "churned"
        assert isinstance(proba, np.ndarray) and proba.shape == (len(data), 2)
        expected_index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(len(data))
        assert predicted.index.equals(expected_index)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(predicted.to_numpy(), (proba[:, 1] >= 0.5).astype(int))


def _state(model: churn.ChurnModel) -> dict:
    return copy.deepcopy(vars(model))


def _assert_same_state(before: dict, after: dict) -> None:
    assert list(before) == list(after)
    for name, value in before.items():
        other = after[name]
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, other)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other)
        elif hasattr(value, "get_params"):  # fitted scikit-learn objects: same params and type
            assert type(value) is type(other) and value is not None
        else:
            assert value == other, name


def test_evaluate_leaves_the_model_unchanged(small_store, small_model, training):
    model = copy.deepcopy(small_model)
    state = _state(model)
    ids = {name: id(value) for name, value in vars(model).items()}
    proba = model.predict_proba(training)
    evaluation = model.evaluate(small_store, EVALUATE_AT, n_repeats=1)
    assert isinstance(evaluation, churn.ChurnEvaluation)
    for name in ("metrics_", "feature_importance_", "evaluation_"):
        assert not hasattr(model, name)
    _assert_same_state(state, _state(model))
    assert {name: id(value) for name, value in vars(model).items()} == ids
    np.testing.assert_array_equal(model.predict_proba(training), proba)
    # Same result twice: evaluation depends on the model and the data only.
    again = model.evaluate(small_store, EVALUATE_AT, n_repeats=1)
    pd.testing.assert_frame_equal(again.metrics, evaluation.metrics)
    pd.testing.assert_frame_equal(again.feature_importance, evaluation.feature_importance)


def test_summaries_are_summary_objects(small_model, small_store):
    report = small_model.summary()
    assert isinstance(report, Summary) and report.title == "Churn model"
    assert dict(report.facts)["training cutoffs"] == "2025-03-31 .. 2025-05-31 (3)"
    pd.testing.assert_frame_equal(report.to_frame(), small_model.training_summary_)
    evaluation = small_model.evaluate(small_store, EVALUATE_AT, n_repeats=1)
    report = evaluation.summary()
    assert isinstance(report, Summary)
    pd.testing.assert_frame_equal(report.to_frame(), evaluation.metrics)
    assert dict(report.facts)["active customers"] == f"{evaluation.n_customers:,}"


def test_save_load_round_trip_identical_probabilities(small_model, small_store, training,
                                                      table_model, tmp_path):
    path = small_model.save(tmp_path / "store.skops")
    loaded = churn.ChurnModel.load(path)
    assert loaded.is_fitted and loaded.get_params() == small_model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(training), small_model.predict_proba(training))
    pd.testing.assert_series_equal(loaded.predict(training), small_model.predict(training))
    pd.testing.assert_frame_equal(churn.score(loaded, small_store, EVALUATE_AT),
                                  churn.score(small_model, small_store, EVALUATE_AT))
    model, X = table_model
    loaded = churn.ChurnModel.load(model.save(tmp_path / "table.skops"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


# ------------------------------------------------------------------------------ tampered files


@pytest.fixture(scope="module")
def model_file(small_model, tmp_path_factory):
    return small_model.save(tmp_path_factory.mktemp("contract") / "model.skops")


def _tamper(source, out, change):
    payload = sio.load(source, trusted=sio.get_untrusted_types(file=source))
    change(payload)
    sio.dump(payload, out)
    return out


def _meta(change):
    def apply(payload):
        meta = json.loads(payload["meta"])
        change(meta)
        payload["meta"] = json.dumps(meta)
    return apply


def _set(key, value):
    return _meta(lambda meta: meta.__setitem__(key, value))


def _set_state(key, value):
    return _meta(lambda meta: meta["state"].__setitem__(key, value))


@pytest.mark.parametrize("change, message", [
    (lambda p: p.__setitem__("meta", "{not json"), r"metadata: not JSON"),
    (lambda p: p.__setitem__("meta", 42), r"metadata: expected JSON text, found int"),
    (lambda p: p.__setitem__("meta", "[1, 2]"), r"metadata: expected an object, found list"),
    (_meta(lambda m: m.pop("cutoffs")), r"metadata: 'cutoffs' is missing"),
    (_meta(lambda m: m["state"].pop("channels_")), r"metadata: state\.'channels_' is missing"),
    (_set("cutoffs", "2025-03-31"), r"'cutoffs' should be a list of ISO dates; found str"),
    (_set("cutoffs", ["yesterday"]), r"'cutoffs' should be a list of ISO dates"),
    (_set("feature_names", {"a": 1}), r"'feature_names' should be a list of names; found dict"),
    (_set("recency_rule", {"threshold_days": "x"}), r"'recency_rule' should be null or"),
    (_set("metrics", {"columns": ["a"], "rows": [[1, 2]]}), r"'metrics' should be null or a table"),
    (_set("label_window_end", None), r"a store model without cutoffs, label window"),
    (_set_state("uses_clv_", "yes"), r"state\.'uses_clv_' should be a bool; found str"),
    (_set_state("mode_", "cloud"), r"state\.'mode_' should be 'store' or 'table'"),
    (_set_state("n_features_in_", 3), r"n_features_in_ 3 for 48 feature names"),
    (_meta(lambda m: m["params"].pop("max_iter")), r"parameters do not match this ChurnModel "
                                                   r"\(missing \['max_iter'\], unknown \[\]\)"),
    (_meta(lambda m: m["params"].__setitem__("max_iter", -4)),
     r"The 'max_iter' parameter of ChurnModel must be"),
    (_meta(lambda m: m.__setitem__("classes", [0, 2])), r"the estimator's classes \[0, 1\] "
                                                        r"differ from the metadata's \[0, 2\]"),
    (lambda p: p.__setitem__("estimator", LogisticRegression().fit([[0], [1]], [0, 1])),
     r"the estimator should be a CalibratedClassifierCV but is a LogisticRegression"),
    (lambda p: p.__setitem__("logistic", LogisticRegression()),
     r"the logistic baseline should be a Pipeline ending in LogisticRegression but is a "
     r"LogisticRegression"),
    (lambda p: p.pop("estimator"), r"should be a CalibratedClassifierCV but is a NoneType"),
])
def test_tampered_files_raise_model_file_error(model_file, tmp_path, change, message):
    bad = _tamper(model_file, tmp_path / "bad.skops", change)
    with pytest.raises(ModelFileError, match=message):
        churn.ChurnModel.load(bad)


def test_wrong_estimator_inside_the_calibration_is_refused(model_file, tmp_path):
    def swap(payload):
        payload["estimator"].calibrated_classifiers_[0].estimator = LogisticRegression()

    bad = _tamper(model_file, tmp_path / "inner.skops", swap)
    with pytest.raises(ModelFileError, match="a calibrated member should hold a "
                                             "HistGradientBoostingClassifier but is a LogisticRegression"):
        churn.ChurnModel.load(bad)


def test_not_a_zip_and_oversized_archives_are_refused(tmp_path, monkeypatch, model_file):
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"PK\x03\x04 but not really a zip")
    with pytest.raises(ModelFileError, match="not a ChurnModel file \\(not a skops archive"):
        churn.ChurnModel.load(junk)
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(model_file.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="not a skops archive"):
        churn.ChurnModel.load(truncated)
    import crm_analytics.core.persistence as core_persistence

    monkeypatch.setattr(core_persistence, "MAX_MODEL_BYTES", 1_000)
    with pytest.raises(ModelFileError, match="larger than any ChurnModel file"):
        churn.ChurnModel.load(model_file)
