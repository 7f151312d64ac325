"""Saving and loading: identical predictions, and clear refusals of foreign or stale files."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from crm_analytics import churn
from crm_analytics.churn import persistence
from crm_analytics.errors import ModelFileError


@pytest.fixture(scope="module")
def evaluated(small_model, small_store):
    """A copy of the small model carrying its back-test, as the nightly run stores it."""
    evaluation = small_model.evaluate(small_store, "2025-08-31", n_repeats=1)
    model = copy.deepcopy(small_model)
    model.metrics_ = evaluation.metrics
    model.feature_importance_ = evaluation.feature_importance
    return model


@pytest.fixture(scope="module")
def saved(evaluated, tmp_path_factory):
    path = tmp_path_factory.mktemp("churn") / "model.skops"
    assert evaluated.save(path) == path
    return path


def test_round_trip_gives_identical_predictions(saved, evaluated, small_store):
    loaded = churn.ChurnModel.load(saved)
    assert loaded.get_params() == evaluated.get_params()
    assert loaded.cutoffs_ == evaluated.cutoffs_
    assert list(loaded.feature_names_in_) == list(evaluated.feature_names_in_)
    pd.testing.assert_frame_equal(loaded.metrics_, evaluated.metrics_, check_names=False)
    pd.testing.assert_frame_equal(loaded.feature_importance_, evaluated.feature_importance_)
    assert loaded.saved_versions_["scikit-learn"]
    before = churn.score(evaluated, small_store, "2025-08-31")
    after = churn.score(loaded, small_store, "2025-08-31")
    pd.testing.assert_frame_equal(before, after)
    # The baselines come back too: a reloaded model can be evaluated again.
    again = loaded.evaluate(small_store, "2025-08-31", n_repeats=1)
    pd.testing.assert_frame_equal(again.metrics, evaluated.metrics_, check_names=False)


def test_plain_table_model_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"tenure": rng.integers(1, 72, 400), "plan": rng.choice(["a", "b"], 400)})
    y = (rng.random(400) < np.where(X["plan"] == "a", 0.6, 0.2)).astype(int)
    model = churn.ChurnModel(max_iter=20, calibration="sigmoid").fit(X, y)
    model.save(tmp_path / "table.skops")
    loaded = churn.ChurnModel.load(tmp_path / "table.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def _rewrite(path, out, change):
    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    meta = json.loads(payload["meta"])
    change(payload, meta)
    payload["meta"] = json.dumps(meta)
    sio.dump(payload, out)
    return out


def test_features_that_differ_from_the_builder_are_refused(saved, tmp_path):
    def drop_feature(payload, meta):
        meta["feature_names"].remove("overdue_ratio")

    stale = _rewrite(saved, tmp_path / "stale.skops", drop_feature)
    with pytest.raises(ModelFileError, match=r"do not match the current feature builder.*"
                                             r"the builder lacks none, adds \['overdue_ratio'\]"):
        churn.ChurnModel.load(stale)

    def old_version(payload, meta):
        meta["features_version"] = 0

    with pytest.raises(ModelFileError, match="churn features version 0"):
        churn.ChurnModel.load(_rewrite(saved, tmp_path / "old.skops", old_version))


def test_builder_change_is_detected(saved, monkeypatch):
    real = persistence.feature_names
    monkeypatch.setattr(persistence, "feature_names",
                        lambda **kw: [*real(**kw), "new_feature"])
    with pytest.raises(ModelFileError, match=r"adds \['new_feature'\]"):
        churn.ChurnModel.load(saved)


def test_foreign_files_are_refused(tmp_path, saved):
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError, match="not a skops archive"):
        churn.ChurnModel.load(junk)
    with pytest.raises(ModelFileError, match="no such ChurnModel file"):
        churn.ChurnModel.load(tmp_path / "missing.skops")
    other = tmp_path / "other.skops"
    sio.dump({"format": "someone.else", "x": [1, 2]}, other)
    with pytest.raises(ModelFileError, match=r"not a ChurnModel file \(format 'someone.else'"):
        churn.ChurnModel.load(other)

    def wrong_format_version(payload, meta):
        payload["format_version"] = 99

    with pytest.raises(ModelFileError, match="format version 99"):
        churn.ChurnModel.load(_rewrite(saved, tmp_path / "v99.skops", wrong_format_version))


def test_untrusted_content_is_never_loaded(tmp_path):
    path = tmp_path / "evil.skops"
    sio.dump({"format": persistence.FORMAT, "payload": pd.Timedelta}, path)
    with pytest.raises(ModelFileError, match="outside the ChurnModel's trusted list"):
        churn.ChurnModel.load(path)
