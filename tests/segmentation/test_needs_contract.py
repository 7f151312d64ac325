"""NeedsSegmenter follows the estimator contract: params, NotFittedError, predict, summary, save/load."""

from __future__ import annotations

import functools
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.linear_model import LogisticRegression

from crm_analytics.core.estimator import Estimator
from crm_analytics.core.summary import Summary
from crm_analytics.errors import InputError, ModelFileError, NotFittedError
from crm_analytics.segmentation import NeedsSegmenter, load_profiles, needs_features, save_profiles
from crm_analytics.segmentation.needs import FORMAT, FORMAT_VERSION, TRUSTED_TYPES
from crm_analytics.store import Store

AS_OF = "2025-05-31"  # as in conftest.py
MESSAGE = re.compile(r"^The '(\w+)' parameter of NeedsSegmenter must be .+\. Got .+ instead\.$")


@pytest.fixture(scope="module")
def features(synth):
    _, store = synth
    return needs_features(store, AS_OF)


@pytest.fixture(scope="module")
def fitted(features):
    return NeedsSegmenter(random_state=0).fit(features)


@pytest.fixture(scope="module")
def aligned(features, fitted):
    """Fixed k=5 against renumbered previous ids: non-contiguous ids, one new segment."""
    previous = fitted.centroids_.rename(index={1: 7, 2: 3, 3: 12, 4: 5})
    return NeedsSegmenter(5, random_state=0, weights={"region": 0.3}).fit(features, previous=previous)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("needs") / "needs.skops")


def _small():
    return pd.DataFrame({"spend_share_A": [1.0, 0.9, 0.0, 0.1] * 5,
                         "spend_share_B": [0.0, 0.1, 1.0, 0.9] * 5},
                        index=pd.Index([f"C{i}" for i in range(20)], name="customer_id"))


# --------------------------------------------------------------------------- parameters


def test_is_an_estimator_and_clone_keeps_params():
    model = NeedsSegmenter(3, random_state=5, weights={"region": 0.1}, n_threads=None, k_max=6)
    assert isinstance(model, Estimator)
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    assert twin.get_params()["weights"] == {"region": 0.1} and twin.weights is not model.weights
    assert not twin.is_fitted


def test_clone_of_a_fitted_model_is_unfitted(fitted):
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params()
    assert fitted.is_fitted and not twin.is_fitted
    with pytest.raises(NotFittedError):
        twin.predict(_small())


def test_set_params():
    model = NeedsSegmenter()
    assert model.set_params(n_segments=2, min_purchases=1, keep_names=False) is model
    params = model.get_params()
    assert (params["n_segments"], params["min_purchases"], params["keep_names"]) == (2, 1, False)
    with pytest.raises(ValueError, match="colour"):
        model.set_params(colour=1)
    model.fit(_small())
    assert model.n_segments_ == 2


@pytest.mark.parametrize(("params", "name"), [
    ({"n_segments": 0}, "n_segments"),
    ({"n_segments": "many"}, "n_segments"),
    ({"n_segments": 2.5}, "n_segments"),
    ({"random_state": -1}, "random_state"),
    ({"random_state": None}, "random_state"),
    ({"min_purchases": 0}, "min_purchases"),
    ({"k_min": 1}, "k_min"),
    ({"k_min": 5, "k_max": 3}, "k_max"),
    ({"sample_size": 5}, "sample_size"),
    ({"silhouette_tolerance": 1.0}, "silhouette_tolerance"),
    ({"silhouette_tolerance": float("nan")}, "silhouette_tolerance"),
    ({"n_init": 0}, "n_init"),
    ({"keep_names": "yes"}, "keep_names"),
    ({"n_threads": 0}, "n_threads"),
    ({"weights": {"colour": 1.0}}, "weights"),
    ({"weights": {"region": -1}}, "weights"),
    ({"weights": {"region": float("inf")}}, "weights"),
    ({"weights": [("region", 1.0)]}, "weights"),
    ({"weights": dict.fromkeys(["spend_share", "channel_share", "service", "cadence", "region"],
                               0.0)}, "weights"),
])
def test_bad_params_raise_input_error_at_fit_with_one_message_shape(params, name):
    model = NeedsSegmenter(**params)  # __init__ only stores
    assert all(model.get_params()[k] is v for k, v in params.items())
    with pytest.raises(InputError) as info:
        model.fit(_small())
    message = str(info.value)
    assert MESSAGE.match(message), message
    assert MESSAGE.match(message).group(1) == name
    assert f"Got {params[name]!r} instead." in message
    assert not model.is_fitted


def test_whole_float_counts_are_accepted_as_ints():
    model = NeedsSegmenter(2.0, n_init=3.0).fit(_small())
    assert model.n_segments_ == 2 and model.get_params()["n_segments"] == 2.0


# --------------------------------------------------------------------------- fitting state


def test_not_fitted_error_before_fit(tmp_path):
    model = NeedsSegmenter()
    for use in (lambda: model.predict(_small()), model.summary, lambda: model.save(tmp_path / "m"),
                model.assign, lambda: save_profiles(Store(":memory:"), model, run_id="r"),
                lambda: NeedsSegmenter(2).fit(_small(), previous=model)):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            use()
    assert not (tmp_path / "m").exists()


def test_fit_returns_self_and_fit_predict_gives_labels():
    model = NeedsSegmenter(2)
    assert model.fit(_small()) is model
    labels = NeedsSegmenter(2).fit_predict(_small())
    assert labels.equals(model.labels_)
    assert labels.tolist() == [1, 1, 2, 2] * 5 or labels.tolist() == [2, 2, 1, 1] * 5


def test_a_failed_fit_leaves_the_model_as_it_was(fitted, features):
    model = NeedsSegmenter(random_state=0).fit(features)
    before = model.labels_.copy(), dict(model.names_), model.kmeans_
    with pytest.raises(InputError, match="previous must be"):
        model.fit(features, previous=[1, 2, 3])
    with pytest.raises(InputError, match="no needs feature columns"):
        model.fit(pd.DataFrame({"x": np.arange(100.0)}))
    assert model.labels_.equals(before[0]) and model.names_ == before[1]
    assert model.kmeans_ is before[2]
    assert model.labels_.equals(fitted.labels_)


def test_predict_and_summary_leave_the_model_as_it_was(fitted, features):
    state = {k: v for k, v in vars(fitted).items() if k.endswith("_")}
    fitted.predict(features.head(10))
    fitted.summary()
    fitted.assign(features.head(10))
    assert {k: v for k, v in vars(fitted).items() if k.endswith("_")}.keys() == state.keys()
    assert all(getattr(fitted, k) is v for k, v in state.items())


# --------------------------------------------------------------------------- predict


def test_predict_returns_a_series_indexed_by_customer_for_any_input(fitted, features):
    head = features.head(5)
    expected = fitted.labels_.head(5)
    columns = list(fitted.feature_names_in_)

    def check(got, index):
        assert isinstance(got, pd.Series)
        assert got.name == "needs_segment" and got.dtype == "int64"
        assert got.index.name == "customer_id" and got.index.tolist() == list(index)

    got = fitted.predict(head)
    check(got, head.index)
    assert got.tolist() == expected.tolist()
    # An unnamed index is named customer_id.
    got = fitted.predict(head.reset_index(drop=True))
    check(got, range(5))
    assert got.tolist() == expected.tolist()
    # One customer: a one-row frame or a Series {feature: value}.
    check(fitted.predict(head.iloc[[2]]), [head.index[2]])
    got = fitted.predict(head.iloc[2])
    check(got, [head.index[2]])
    assert got.tolist() == [expected.iloc[2]]
    # Rows of values in the order of feature_names_in_ (2-D, or 1-D for one customer).
    values = head[columns].to_numpy()
    got = fitted.predict(values)
    check(got, range(5))
    assert got.tolist() == expected.tolist()
    assert fitted.predict(values[0].tolist()).tolist() == [expected.iloc[0]]
    # No customers: an empty Series of the same type.
    check(fitted.predict(head.iloc[:0]), [])
    check(fitted.predict(pd.DataFrame()), [])
    check(fitted.predict(np.empty((0, len(columns)))), [])


def test_predict_refuses_what_is_not_features(fitted):
    with pytest.raises(InputError, match="must be a DataFrame"):
        fitted.predict("C1")
    with pytest.raises(InputError, match="must be a DataFrame"):
        fitted.predict(np.ones((3, 2)))
    with pytest.raises(InputError, match="none of the model's feature columns"):
        fitted.predict(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(InputError, match="none of the model's feature columns"):
        fitted.predict(pd.DataFrame(index=["C1", "C2"]))


# --------------------------------------------------------------------------- summary


def test_summary(fitted):
    report = fitted.summary()
    assert isinstance(report, Summary)
    facts = dict(report.facts)
    assert facts["segments (k)"] == "4"
    assert facts["silhouette"] == f"{fitted.silhouette_[4]:.3f}"
    assert facts["customers labelled"] == f"{len(fitted.labels_):,}"
    sizes = fitted.labels_.value_counts().sort_index()
    assert facts["sizes"] == ", ".join(f"{i}: {n:,}" for i, n in sizes.items())
    table = report.to_frame()
    pd.testing.assert_frame_equal(table, fitted.profiles_)
    assert table["name"].to_dict() == fitted.names_
    assert dict(report.extra_tables)["Silhouette by k"]["silhouette"].to_dict() == fitted.silhouette_
    text = str(report)
    assert all(name in text for name in fitted.names_.values())
    assert "Needs segments" in report._repr_html_()


def test_summary_of_an_aligned_fixed_k_model(aligned):
    facts = dict(aligned.summary().facts)
    assert facts["segments (k)"] == "5" and facts["k chosen by"] == "fixed n_segments"
    report = aligned.summary()
    assert "Alignment to the previous run" in dict(report.extra_tables)
    assert report.notes == ["4 segment(s) keep their previous id; new: [13]"]


# --------------------------------------------------------------------------- save / load


def test_trusted_types_are_what_skops_reports(saved, aligned, tmp_path):
    assert TRUSTED_TYPES == ()
    assert sio.get_untrusted_types(file=saved) == []
    assert sio.get_untrusted_types(file=aligned.save(tmp_path / "a.skops")) == []


@pytest.mark.parametrize("which", ["fitted", "aligned"])
def test_save_load_round_trip(which, request, features, tmp_path):
    model = request.getfixturevalue(which)
    path = model.save(tmp_path / "sub" / "needs.skops")
    assert path.is_file()
    loaded = NeedsSegmenter.load(path)
    assert type(loaded) is NeedsSegmenter and loaded.is_fitted
    assert loaded.get_params() == model.get_params()
    assert loaded.predict(features).equals(model.predict(features))
    assert loaded.predict(features).tolist() == model.labels_.tolist()
    assert loaded.names_ == model.names_
    assert loaded.cluster_ids_ == model.cluster_ids_ and loaded.silhouette_ == model.silhouette_
    assert loaded.weights_ == model.weights_ and loaded.n_segments_ == model.n_segments_
    assert loaded.n_fit_customers_ == model.n_fit_customers_
    assert list(loaded.feature_names_in_) == list(model.feature_names_in_)
    for name in ("profiles_", "centroids_", "alignment_"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(model, name), check_exact=True)
    pd.testing.assert_series_equal(loaded.mean_, model.mean_, check_exact=True)
    pd.testing.assert_series_equal(loaded.scale_, model.scale_, check_exact=True)
    assert str(loaded.summary()) == str(model.summary())
    # Training labels are not in the file: assign needs the features.
    assert not hasattr(loaded, "labels_")
    with pytest.raises(InputError, match="pass the features"):
        loaded.assign()
    assert loaded.assign(features.head(3))["needs_segment_name"].tolist() == \
        model.assign(features.head(3))["needs_segment_name"].tolist()


def test_a_loaded_model_serves_as_previous_and_for_save_profiles(saved, fitted, features):
    loaded = NeedsSegmenter.load(saved)
    again = NeedsSegmenter(random_state=0).fit(features, previous=loaded)
    assert again.labels_.equals(fitted.labels_) and again.names_ == fitted.names_
    store = Store(":memory:")
    assert save_profiles(store, loaded, run_id="r1") == 4
    pd.testing.assert_frame_equal(load_profiles(store), fitted.centroids_, check_dtype=False,
                                  check_names=False, check_like=True, check_exact=False, rtol=1e-12)


def test_save_checks_current_params(tmp_path):
    model = NeedsSegmenter(2).fit(_small()).set_params(n_init=0)
    with pytest.raises(InputError, match=MESSAGE):
        model.save(tmp_path / "m.skops")
    assert not (tmp_path / "m.skops").exists()


def _rewrite(source, target, change):
    payload = sio.load(source, trusted=sio.get_untrusted_types(file=source))
    change(payload)
    sio.dump(payload, target)
    return target


def _meta(change):
    def apply(payload):
        meta = json.loads(payload["meta"])
        change(meta)
        payload["meta"] = json.dumps(meta)
    return apply


def _set(key, value):
    return lambda payload: payload.__setitem__(key, value)


def _other_kmeans(payload):
    payload["kmeans"] = KMeans(4, n_init=1, random_state=0).fit(np.random.default_rng(0).random((20, 3)))


def _minibatch(payload):
    km = payload["kmeans"]
    other = MiniBatchKMeans(km.n_clusters, n_init=1, random_state=0, init=km.cluster_centers_)
    payload["kmeans"] = other.fit(km.cluster_centers_)


TAMPERED = {
    "meta not JSON": _set("meta", "{not json"),
    "meta a JSON list": _set("meta", "[]"),
    "meta not text": _set("meta", 3),
    "meta with NaN": lambda p: p.__setitem__("meta", p["meta"].replace(
        '"n_fit_customers": ', '"n_fit_customers": NaN, "x": ')),
    "meta lacks names": _meta(lambda m: m.pop("names")),
    "unknown parameter": _meta(lambda m: m["params"].__setitem__("colour", 1)),
    "bad parameter": _meta(lambda m: m["params"].__setitem__("n_segments", 0)),
    "feature names not str": _meta(lambda m: m["feature_names"].__setitem__(0, 1)),
    "names of other ids": _meta(lambda m: m.__setitem__("names", [[9, "x"]] + m["names"][1:])),
    "name not str": _meta(lambda m: m["names"][0].__setitem__(1, 5)),
    "cluster ids repeated": _meta(lambda m: m["cluster_ids"][1].__setitem__(1, m["cluster_ids"][0][1])),
    "k differs": _meta(lambda m: m.__setitem__("n_segments", 3)),
    "profiles lack a column": _meta(lambda m: m["profiles"]["columns"].pop()),
    "profiles with a str size": _meta(lambda m: m["profiles"]["data"][0].__setitem__(1, "820")),
    "centroids not a table": _meta(lambda m: m.__setitem__("centroids", [1, 2])),
    "alignment with a bool": _meta(lambda m: m["alignment"]["data"][0].__setitem__(1, True)),
    "weights of a bool": _meta(lambda m: m["weights"].__setitem__("region", True)),
    "kmeans missing": lambda p: p.pop("kmeans"),
    "another estimator": _set("kmeans", LogisticRegression()),
    "another k-means class": _minibatch,
    "kmeans of other features": _other_kmeans,
    "scaler of another shape": lambda p: p["scaler"].__setitem__("mean", np.zeros(3)),
    "scale of zero": lambda p: p["scaler"].__setitem__("scale", np.zeros_like(p["scaler"]["scale"])),
    "scaler not a dict": _set("scaler", [1.0]),
    "another format": _set("format", "crm_analytics.churn.ChurnModel"),
    "another format version": _set("format_version", FORMAT_VERSION + 1),
    "an untrusted type": _set("extra", functools.partial(print)),
}


# What the error names, per tampering (the file's path always comes first).
REASONS = {
    "meta not JSON": "'meta' is not JSON", "meta a JSON list": "JSON list, not an object",
    "meta not text": "'meta' is int", "meta with NaN": "holds NaN",
    "meta lacks names": "lacks ['names']", "unknown parameter": "unexpected keyword argument",
    "bad parameter": "The 'n_segments' parameter of NeedsSegmenter",
    "feature names not str": "'feature_names'", "names of other ids": "'names' do not name",
    "name not str": "'name' is int", "cluster ids repeated": "'cluster_ids'",
    "k differs": "does not hold 3 finite centres", "profiles lack a column": "'profiles' has columns",
    "profiles with a str size": "'n_customers' does not hold int",
    "centroids not a table": "'centroids' is not a split table",
    "alignment with a bool": "'distance' does not hold float", "weights of a bool": "'weights'",
    "kmeans missing": "'kmeans' is NoneType", "another estimator": "'kmeans' is LogisticRegression",
    "another k-means class": "'kmeans' is MiniBatchKMeans",
    "kmeans of other features": "does not hold 4 finite centres of",
    "scaler of another shape": "scaler 'mean' is not", "scale of zero": "scale that is not > 0",
    "scaler not a dict": "'scaler' is list", "another format": "format 'crm_analytics.churn",
    "another format version": "format version 2", "an untrusted type": "builtins.print, functools.partial",
}


def test_every_tampering_has_a_reason():
    assert set(REASONS) == set(TAMPERED)


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_files_raise_model_file_error(case, saved, tmp_path):
    path = _rewrite(saved, tmp_path / "tampered.skops", TAMPERED[case])
    with pytest.raises(ModelFileError) as info:
        NeedsSegmenter.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and REASONS[case] in message, message


def test_the_untampered_rewrite_loads(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "same.skops", lambda payload: None)
    assert NeedsSegmenter.load(path).names_ == NeedsSegmenter.load(saved).names_


def test_files_that_are_not_models_raise_model_file_error(saved, tmp_path):
    with pytest.raises(ModelFileError, match="no such"):
        NeedsSegmenter.load(tmp_path / "missing.skops")
    text = tmp_path / "text.skops"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not a skops archive"):
        NeedsSegmenter.load(text)
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ModelFileError):
        NeedsSegmenter.load(truncated)
    with zipfile.ZipFile(saved) as archive:
        assert "schema.json" in archive.namelist()
    payload = sio.load(saved, trusted=[])
    assert payload["format"] == FORMAT and payload["format_version"] == FORMAT_VERSION
    assert "labels_" not in vars(payload["kmeans"])
