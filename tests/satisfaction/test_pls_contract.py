"""SatisfactionIndex follows the package's estimator contract (crm_analytics.core.estimator)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from crm_analytics.core.estimator import Estimator
from crm_analytics.core.summary import Summary
from crm_analytics.errors import InputError, ModelFileError, NotFittedError
from crm_analytics.satisfaction.pls import MODEL_FILE_FORMAT, MODEL_FILE_VERSION, SatisfactionIndex

SMALL = {"quality": ["quality_1", "quality_2", "quality_3"],
         "value": ["value_1", "value_2"],
         "satisfaction": ["satisfaction_1", "satisfaction_2", "satisfaction_3"]}
PATHS = [("quality", "value"), ("quality", "satisfaction"), ("value", "satisfaction")]


def survey(n=150, seed=0):
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n)
    value = 0.5 * quality + 0.8 * rng.normal(size=n)
    satisfaction = 0.4 * quality + 0.4 * value + 0.7 * rng.normal(size=n)
    latent = {"quality": quality, "value": value, "satisfaction": satisfaction}
    return pd.DataFrame({
        item: np.clip(np.round(5.5 + 2 * (latent[c] + 0.6 * rng.normal(size=n))), 1, 10)
        for c, items in SMALL.items() for item in items})


def model(**kwargs):
    return SatisfactionIndex(SMALL, PATHS, **{"scale": (1, 10), **kwargs})


@pytest.fixture(scope="module")
def fitted():
    return model().fit(survey())


@pytest.fixture(scope="module")
def boot():
    return model(n_boot=30, random_state=3).fit(survey())


# --------------------------------------------------------------------------- sklearn API


def test_is_an_estimator_and_clone_keeps_the_parameters():
    m = model(mode={"value": "B"}, scheme="centroid", target="satisfaction", n_boot=5,
              level=0.9, random_state=7, min_n=40, min_group_n=10, tol=1e-6, max_iter=50)
    assert isinstance(m, Estimator)
    copy = clone(m)
    assert copy is not m and copy.get_params() == m.get_params()
    assert copy.get_params()["mode"] == {"value": "B"} and copy.get_params()["level"] == 0.9
    assert clone(SatisfactionIndex()).get_params() == SatisfactionIndex().get_params()


def test_set_params_and_fit_returns_self():
    m = model()
    assert m.set_params(scheme="factorial", max_iter=100) is m
    assert (m.scheme, m.max_iter) == ("factorial", 100)
    data = survey()
    assert m.fit(data) is m
    assert m.is_fitted and m.n_obs_ == len(data) == 150


@pytest.mark.parametrize("call", [
    lambda m: m.transform(survey()),
    lambda m: m.drivers(),
    lambda m: m.summary(),
    lambda m: m.save("never-written.json"),
])
def test_not_fitted_raises_not_fitted_error(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFittedError, match="This SatisfactionIndex instance is not fitted yet"):
        call(model())
    assert not (tmp_path / "never-written.json").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scheme": "mode"}, "The 'scheme' parameter of SatisfactionIndex must be one of 'path', "
                         "'centroid', 'factorial'. Got 'mode' instead."),
    ({"n_boot": -1}, "The 'n_boot' parameter of SatisfactionIndex must be an int in the range "
                     "[0, inf). Got -1 instead."),
    ({"n_boot": 2.0}, "The 'n_boot' parameter of SatisfactionIndex must be an int in the range "
                      "[0, inf). Got 2.0 instead."),
    ({"max_iter": 0}, "The 'max_iter' parameter of SatisfactionIndex must be an int in the "
                      "range [1, inf). Got 0 instead."),
    ({"min_group_n": True}, "The 'min_group_n' parameter of SatisfactionIndex must be an int "
                            "in the range [1, inf). Got True instead."),
    ({"min_n": 0}, "The 'min_n' parameter of SatisfactionIndex must be an int in the range "
                   "[1, inf) or None. Got 0 instead."),
    ({"random_state": "seed"}, "The 'random_state' parameter of SatisfactionIndex must be an "
                               "int in the range [0, inf) or None. Got 'seed' instead."),
    ({"level": 1.0}, "The 'level' parameter of SatisfactionIndex must be a float in the range "
                     "(0, 1). Got 1.0 instead."),
    ({"tol": 0}, "The 'tol' parameter of SatisfactionIndex must be a float in the range "
                 "(0, inf). Got 0 instead."),
    ({"target": "loyalty"}, "The 'target' parameter of SatisfactionIndex must be one of the "
                            "constructs ['quality', 'value', 'satisfaction']. Got 'loyalty' "
                            "instead."),
    ({"mode": "C"}, "The 'mode' parameter of SatisfactionIndex must be 'A', 'B' or a mapping "
                    "{construct: 'A' or 'B'}. Got 'C' instead."),
    ({"scale": (10, 1)}, "The 'scale' parameter of SatisfactionIndex must be (min, max) with "
                         "min < max. Got (10, 1) instead."),
])
def test_bad_parameters_raise_at_fit_with_the_one_message_shape(kwargs, message):
    m = model(**kwargs)  # no error yet: __init__ only stores
    with pytest.raises(InputError) as info:
        m.fit(survey())
    assert str(info.value) == message
    assert not m.is_fitted


def test_transform_always_returns_a_frame(fitted):
    data = survey(seed=5)
    scores = fitted.transform(data)
    assert isinstance(scores, pd.DataFrame)
    assert list(scores.columns) == list(SMALL) and scores.index.equals(data.index)
    one = fitted.transform(data.head(1))
    assert isinstance(one, pd.DataFrame) and one.shape == (1, 3)
    with pytest.raises(InputError, match="responses must be a DataFrame"):
        fitted.transform(data.to_numpy())


def test_summary_is_the_package_summary(boot):
    report = boot.summary()
    assert isinstance(report, Summary)
    table = report.to_frame()
    assert list(table.index) == list(SMALL)
    assert table["index"].to_dict() == boot.index_.to_dict()
    paths = dict(report.extra_tables)["Paths"]
    assert [tuple(r) for r in paths[["source", "target"]].to_numpy()] == PATHS
    assert paths["coefficient"].tolist() == [boot.path_coefficients_.loc[a, b] for a, b in PATHS]
    assert ("respondents", "150") in list(report.facts)
    assert "satisfaction index" in str(report) and "<table" in report._repr_html_()


# --------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("which", ["fitted", "boot"])
def test_save_load_round_trip(which, request, tmp_path):
    original = request.getfixturevalue(which)
    path = original.save(tmp_path / "index.json")
    payload = json.loads(path.read_text())
    assert (payload["format"], payload["format_version"]) == (MODEL_FILE_FORMAT, MODEL_FILE_VERSION)
    loaded = SatisfactionIndex.load(path)
    assert loaded.get_params() == original.get_params()
    data = survey(seed=9)
    pd.testing.assert_frame_equal(loaded.transform(data), original.transform(data),
                                  check_exact=True)
    pd.testing.assert_frame_equal(loaded.drivers(), original.drivers(), check_exact=True)
    pd.testing.assert_series_equal(loaded.index_, original.index_, check_exact=True)
    for name in ("path_coefficients_", "total_effects_", "reliability_", "scale_"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(original, name),
                                      check_exact=True)
    for name in ("outer_weights_", "index_weights_", "loadings_", "r_squared_"):
        pd.testing.assert_series_equal(getattr(loaded, name), getattr(original, name),
                                       check_exact=True)
    if original.bootstrap_ is None:
        assert loaded.bootstrap_ is None
    else:
        pd.testing.assert_frame_equal(loaded.bootstrap_, original.bootstrap_, check_exact=True)
    a, b = loaded.summary(), original.summary()
    assert str(a) == str(b) and a.facts == b.facts
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_exact=True)
    pd.testing.assert_frame_equal(a.extra_tables[0][1], b.extra_tables[0][1], check_exact=True)
    assert loaded.paths_ == original.paths_
    assert (loaded.n_obs_, loaded.n_dropped_, loaded.n_iter_, loaded.converged_) == (
        original.n_obs_, original.n_dropped_, original.n_iter_, original.converged_)
    assert loaded.scores_ is None and loaded.index_by_group_ is None


def test_round_trip_keeps_mapping_parameters(tmp_path):
    scale = {item: (1, 10) for items in SMALL.values() for item in items}
    original = model(mode={"value": "B"}, scale=scale).fit(survey())
    loaded = SatisfactionIndex.load(original.save(tmp_path / "m.json"))
    assert loaded.get_params() == original.get_params()
    assert loaded.reliability_.loc["value", "mode"] == "B"
    pd.testing.assert_frame_equal(loaded.transform(survey()), original.transform(survey()),
                                  check_exact=True)


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


def _cell(table, row, col, value):
    def edit(payload):
        payload["state"][table]["data"][row][col] = value
    return edit


@pytest.mark.parametrize(("edit", "message"), [
    (_set("state", "index", [50.0, 60.0]), "'state.index' must hold 3 finite numbers"),
    (_set("state", "index", [50.0, float("nan"), 60.0]), "holds NaN"),
    (_set("state", "loadings", [0.9] * 7 + [float("inf")]), "holds Infinity"),
    (_set("state", "index_weights", [1.0] * 8), "'state.index_weights' must sum to 1"),
    (_set("state", "scale_max", [1.0] * 8), "'state.scale_min' must be below 'state.scale_max'"),
    (_cell("path_coefficients", 2, 0, 0.3), "'state.path_coefficients' is not 0 where there is"),
    (_cell("path_coefficients", 0, 2, 0.99), "'state.total_effects' do not follow"),
    (_cell("total_effects", 0, 2, "0.5"), "'state.total_effects' must be a 3 x 3 table"),
    (_set("state", "path_coefficients", "columns", ["a", "b", "c"]),
     "'state.path_coefficients' must have rows"),
    (_set("state", "r_squared", "index", ["satisfaction"]), "'state.r_squared' must have rows"),
    (_cell("reliability", 0, 0, 5), "'state.reliability' rows must be"),
    (_set("state", "items", ["x"]), "do not match the parameters"),
    (_set("state", "n_obs", 0), "The 'state.n_obs' parameter"),
    (_set("state", "n_iter", "3"), "'state.n_iter' must be of type Integral"),
    (_set("state", "converged", 1), "'state.converged' must be of type bool"),
    (_drop("state", "total_effects"), "missing key 'state.total_effects'"),
    (_drop("state"), "missing key 'state'"),
    (_drop("params", "tol"), "'params' must hold exactly"),
    (_set("params", "level", 1.5), "The 'level' parameter of SatisfactionIndex"),
    (_set("params", "target", "loyalty"), "The 'target' parameter of SatisfactionIndex"),
    (_set("params", "n_boot", 10), "'state.bootstrap' must be present exactly when n_boot > 0"),
])
def test_load_refuses_tampered_content(fitted, tmp_path, edit, message):
    path = fitted.save(tmp_path / "index.json")
    _tamper(path, edit)
    with pytest.raises(ModelFileError) as info:
        SatisfactionIndex.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_load_refuses_tampered_bootstrap(boot, tmp_path):
    path = boot.save(tmp_path / "index.json")
    _tamper(path, lambda p: p["state"]["bootstrap"]["data"].pop())
    with pytest.raises(ModelFileError, match=r"'state.bootstrap' must be a 16 x 5 table"):
        SatisfactionIndex.load(path)
    path = boot.save(tmp_path / "index.json")
    _tamper(path, lambda p: p["state"]["bootstrap"]["index"].pop())
    with pytest.raises(ModelFileError, match="'state.bootstrap' must have rows"):
        SatisfactionIndex.load(path)
    path = boot.save(tmp_path / "index.json")
    _tamper(path, _cell("bootstrap", 0, 1, -float("inf")))
    with pytest.raises(ModelFileError, match="holds -Infinity"):
        SatisfactionIndex.load(path)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda text: text[: len(text) // 2], "not a SatisfactionIndex file (not JSON"),
    (lambda text: text.replace(MODEL_FILE_FORMAT, "crm_analytics.clv.CLVModel"),
     "format 'crm_analytics.clv.CLVModel', expected 'crm_analytics.satisfaction"),
    (lambda text: text.replace('"format_version": 1', '"format_version": 0'),
     "format version 0; this crm_analytics"),
])
def test_load_refuses_damaged_or_foreign_files(fitted, tmp_path, damage, message):
    path = fitted.save(tmp_path / "index.json")
    path.write_text(damage(path.read_text()))
    with pytest.raises(ModelFileError) as info:
        SatisfactionIndex.load(path)
    assert str(path) in str(info.value) and message in str(info.value)
    with pytest.raises(ModelFileError, match="no such SatisfactionIndex file"):
        SatisfactionIndex.load(tmp_path / "missing.json")
