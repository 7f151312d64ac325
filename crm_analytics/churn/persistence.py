"""Saving and loading churn models without executing code on load.

A model file is a skops archive (:func:`crm_analytics.core.persistence.write_skops`)
holding the fitted scikit-learn objects and a JSON document with everything
else: the constructor parameters, the feature list and its schema (categories,
channels, sources, the customer attributes with their kinds and levels), the
training cutoffs, the back-test metrics stored with the model, the label-window
end of its last training cutoff (the last date its training data reach), the id
of the store it was trained on (when a scoring run trained it) and the package
versions. Loading
(:func:`crm_analytics.core.persistence.read_skops`) checks that the file is a
skops archive of a sane size holding only types on :data:`TRUSTED_TYPES`
(nothing else is ever instantiated), that it is a churn model of a format
version this code reads; then this module checks that the JSON document has
every key with the right type, that the estimators are of the expected
classes, and that the features are exactly what the current feature builder
produces. Any failure raises :class:`~crm_analytics.errors.ModelFileError`
saying what differs.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import numbers
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from crm_analytics.churn.baselines import RecencyRule
from crm_analytics.churn.features import FEATURES_VERSION, feature_names
from crm_analytics.core.persistence import read_skops, write_skops
from crm_analytics.errors import InputError, ModelFileError

__all__ = ["FORMAT", "FORMAT_VERSION", "TRUSTED_TYPES", "load_model", "save_model"]

log = logging.getLogger(__name__)

FORMAT = "crm_analytics.churn.ChurnModel"
FORMAT_VERSION = 1

#: Types a churn model file may hold beyond skops' default safe set (which covers
#: the public scikit-learn estimators). Reviewed by hand: scikit-learn's private
#: calibration and tree-predictor classes and numpy dtypes; ``functools.partial``
#: appears because HistGradientBoosting keeps ``partial(check_array, ...)`` for its
#: categorical preprocessing, and the wrapped function is itself on this list.
TRUSTED_TYPES: tuple[str, ...] = (
    "functools.partial",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)

_PACKAGES = ("crm_analytics", "scikit-learn", "numpy", "pandas", "duckdb", "skops", "lifetimes")

# Fitted attributes stored as JSON (everything but the estimators).
_STATE = (
    "mode_",
    "channels_",
    "uses_clv_",
    "uses_satisfaction_",
    "categories_",
    "numeric_features_",
    "unused_features_",
    "typical_values_",
    "base_rate_",
    "n_features_in_",
    "attributes_",
)
#: Fitted state that files written before it existed lack, and its value for them
#: (such a store model is refused anyway: its features version is older).
_STATE_ADDED: dict[str, Any] = {"attributes_": {}}
#: Constructor parameters added since the format began, with the value files
#: written before them mean (a plain-table model from then still loads).
_PARAMS_ADDED: dict[str, Any] = {"attributes": True, "exclude_attributes": None}


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _frame_json(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    if frame is None:
        return None
    table = frame.reset_index()
    return {"columns": [str(c) for c in table.columns],
            "rows": _json_value(table.to_numpy(dtype=object).tolist())}


def _frame_from_json(data: dict[str, Any] | None) -> pd.DataFrame | None:
    if data is None:
        return None
    frame = pd.DataFrame(data["rows"], columns=data["columns"])
    return frame.set_index(data["columns"][0])


def save_model(model: Any, path: str | os.PathLike) -> Path:
    """Write a fitted :class:`~crm_analytics.churn.ChurnModel` to ``path`` (atomically).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    model.check_fitted()
    params = model.get_params()
    if params.get("cutoffs") is not None:
        params["cutoffs"] = [str(pd.Timestamp(c).date()) for c in params["cutoffs"]]
    meta = {
        "params": _json_value(params),
        "state": {name: _json_value(getattr(model, name)) for name in _STATE},
        "feature_names": [str(c) for c in model.feature_names_in_],
        "features_version": FEATURES_VERSION,
        "classes": _json_value(np.asarray(model.classes_)),
        "cutoffs": [c.isoformat() for c in model.cutoffs_],
        "label_window_end": (
            model.label_window_end_.isoformat() if model.label_window_end_ else None
        ),
        "recency_rule": model.recency_rule_.to_dict() if model.recency_rule_ else None,
        "training_summary": _frame_json(getattr(model, "training_summary_", None)),
        "metrics": _frame_json(getattr(model, "metrics_", None)),
        "feature_importance": _frame_json(getattr(model, "feature_importance_", None)),
        "versions": _versions(),
        "saved_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        # The store the model was trained on (set by the scoring run), so a run on
        # another store refuses it; None for a model fitted outside a run.
        "store_id": getattr(model, "store_id_", None),
    }
    estimator = copy.copy(model.estimator_)
    # The time-ordered splits are index arrays of every training row: not needed to predict.
    estimator.cv = None
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "meta": json.dumps(meta),
        "estimator": estimator,
        "logistic": model.logistic_,
    }
    path = write_skops(path, payload)
    log.info("churn model saved to %s", path)
    return path


def load_model(path: str | os.PathLike, model_class: type) -> Any:
    """Read a model written by :func:`save_model`; refuse anything else.

    Raises
    ------
    ModelFileError
        Missing, oversized, not a skops file, untrusted content, not a churn
        model, an unknown format version, damaged metadata (not JSON, a key
        missing, a value of the wrong type), estimators of the wrong class, or
        features that differ from the current builder.
    """
    path = Path(path)
    payload = read_skops(path, FORMAT, FORMAT_VERSION, TRUSTED_TYPES)
    meta = _read_meta(path, payload)
    _check_features(path, meta)
    _check_consistency(path, meta)
    try:
        model = _build_model(model_class, path, payload, meta)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ModelFileError(f"{path}: damaged churn model file ({type(exc).__name__}: "
                             f"{exc})") from None
    current = _versions()
    if meta["versions"].get("scikit-learn") != current.get("scikit-learn"):
        log.warning(
            "%s was saved with scikit-learn %s; running %s (predictions may differ slightly)",
            path, meta["versions"].get("scikit-learn"), current.get("scikit-learn"),
        )
    return model


def _build_model(cls: type, path: Path, payload: dict[str, Any], meta: dict[str, Any]) -> Any:
    """A ChurnModel from validated metadata and estimators (raises on inconsistent content)."""
    params = {**_PARAMS_ADDED, **meta["params"]}
    if params.get("cutoffs") is not None:
        params["cutoffs"] = [dt.date.fromisoformat(c) for c in params["cutoffs"]]
    if isinstance(params.get("risk_thresholds"), list):
        params["risk_thresholds"] = tuple(params["risk_thresholds"])
    expected = set(cls().get_params())
    if set(params) != expected:
        raise ModelFileError(
            f"{path}: parameters do not match this ChurnModel (missing "
            f"{sorted(expected - set(params))}, unknown {sorted(set(params) - expected)})")
    model = cls(**params)
    try:
        model._check_params()
    except InputError as exc:
        raise ModelFileError(f"{path}: damaged churn model file ({exc})") from None
    state = meta["state"]
    for name in _STATE:
        setattr(model, name, state[name] if name in state else copy.deepcopy(_STATE_ADDED[name]))
    model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
    model.classes_ = np.asarray(meta["classes"])
    model.cutoffs_ = [dt.date.fromisoformat(c) for c in meta["cutoffs"]]
    end = meta["label_window_end"]
    model.label_window_end_ = dt.date.fromisoformat(end) if end else None
    rule = meta["recency_rule"]
    model.recency_rule_ = RecencyRule(**rule) if rule else None
    estimator, logistic = payload.get("estimator"), payload.get("logistic")
    _check_estimators(path, model, estimator, logistic)
    model.estimator_ = estimator
    model.logistic_ = logistic
    summary = _frame_from_json(meta["training_summary"])
    if summary is not None:
        model.training_summary_ = summary
    metrics = _frame_from_json(meta["metrics"])
    if metrics is not None:
        model.metrics_ = metrics
    importance = _frame_from_json(meta["feature_importance"])
    if importance is not None:
        model.feature_importance_ = importance
    model.saved_versions_ = meta["versions"]
    model.saved_at_ = meta["saved_at"]
    model.store_id_ = meta.get("store_id")
    return model


def _check_estimators(path: Path, model: Any, estimator: Any, logistic: Any) -> None:
    """The calibrated boosting ensemble and (store models) the logistic baseline, nothing else."""
    def refuse(what: str, found: Any) -> ModelFileError:
        return ModelFileError(f"{path}: not a churn model file ({what} is a "
                              f"{type(found).__name__})")

    if type(estimator) is not CalibratedClassifierCV:
        raise refuse("the estimator should be a CalibratedClassifierCV but", estimator)
    members = getattr(estimator, "calibrated_classifiers_", None)
    if not isinstance(members, list) or not members:
        raise ModelFileError(f"{path}: not a churn model file (the calibrated classifier is "
                             "not fitted)")
    for member in members:
        inner = getattr(member, "estimator", None)
        if type(inner) is not HistGradientBoostingClassifier:
            raise refuse("a calibrated member should hold a HistGradientBoostingClassifier "
                         "but", inner)
    classes = np.asarray(getattr(estimator, "classes_", []))
    if classes.tolist() != np.asarray(model.classes_).tolist():
        raise ModelFileError(f"{path}: damaged churn model file (the estimator's classes "
                             f"{classes.tolist()} differ from the metadata's "
                             f"{np.asarray(model.classes_).tolist()})")
    used = len(model.feature_names_in_) - len(model.unused_features_)
    if getattr(estimator, "n_features_in_", None) != used:
        raise ModelFileError(f"{path}: damaged churn model file (the estimator takes "
                             f"{getattr(estimator, 'n_features_in_', None)} features, the "
                             f"metadata lists {used})")
    if model.mode_ == "table":
        if logistic is not None:
            raise refuse("a table model has no logistic baseline but the file holds", logistic)
        return
    if type(logistic) is not Pipeline or not isinstance(logistic.steps[-1][1], LogisticRegression):
        raise refuse("the logistic baseline should be a Pipeline ending in LogisticRegression "
                     "but", logistic)


# --------------------------------------------------------------------------- metadata checks


def _damaged(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: damaged churn model file (metadata: {what})")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_date(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _is_frame(v: Any) -> bool:
    return v is None or (
        isinstance(v, dict) and set(v) == {"columns", "rows"} and _is_str_list(v["columns"])
        and len(v["columns"]) >= 1 and isinstance(v["rows"], list)
        and all(isinstance(r, list) and len(r) == len(v["columns"]) for r in v["rows"])
    )


def _is_rule(v: Any) -> bool:
    keys = {"threshold_days", "rate_flagged", "rate_other"}
    return v is None or (isinstance(v, dict) and set(v) == keys
                         and all(_is_number(x) for x in v.values()))


_META_CHECKS: dict[str, tuple[str, Any]] = {
    "params": ("an object", lambda v: isinstance(v, dict)),
    "state": ("an object", lambda v: isinstance(v, dict)),
    "feature_names": ("a list of names", lambda v: _is_str_list(v) and len(v) > 0),
    "features_version": ("an int", _is_int),
    "classes": ("a list of two classes", lambda v: isinstance(v, list) and len(v) == 2
                and all(isinstance(c, (str, int, bool)) for c in v)),
    "cutoffs": ("a list of ISO dates", lambda v: isinstance(v, list)
                and all(_is_date(c) for c in v)),
    "label_window_end": ("an ISO date or null", lambda v: v is None or _is_date(v)),
    "recency_rule": ("null or threshold_days/rate_flagged/rate_other numbers", _is_rule),
    "training_summary": ("null or a table", _is_frame),
    "metrics": ("null or a table", _is_frame),
    "feature_importance": ("null or a table", _is_frame),
    "versions": ("an object", lambda v: isinstance(v, dict)),
    "saved_at": ("a string", lambda v: isinstance(v, str)),
}

_STATE_CHECKS: dict[str, tuple[str, Any]] = {
    "mode_": ("'store' or 'table'", lambda v: v in ("store", "table")),
    "channels_": ("a list of names", _is_str_list),
    "uses_clv_": ("a bool", lambda v: isinstance(v, bool)),
    "uses_satisfaction_": ("a bool", lambda v: isinstance(v, bool)),
    "categories_": ("an object of category lists", lambda v: isinstance(v, dict)
                    and all(isinstance(c, list) for c in v.values())),
    "numeric_features_": ("a list of names", _is_str_list),
    "unused_features_": ("a list of names", _is_str_list),
    "typical_values_": ("an object", lambda v: isinstance(v, dict)),
    "base_rate_": ("a number", _is_number),
    "n_features_in_": ("an int", _is_int),
}


def _is_attribute_schema(v: Any) -> bool:
    """``{name: {"kind": "numeric" | "categorical", "levels": [str, ...]}}``."""
    return isinstance(v, dict) and all(
        isinstance(spec, dict) and set(spec) == {"kind", "levels"}
        and spec["kind"] in ("numeric", "categorical") and _is_str_list(spec["levels"])
        and len(set(spec["levels"])) == len(spec["levels"])
        and (spec["kind"] == "categorical" or not spec["levels"])
        for spec in v.values()
    )


_STATE_ADDED_CHECKS: dict[str, tuple[str, Any]] = {
    "attributes_": ("an object {name: {kind, levels}}", _is_attribute_schema),
}


def _read_meta(path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON metadata of a model file, every key present with the right type."""
    text = payload.get("meta")
    if not isinstance(text, str):
        raise _damaged(path, f"expected JSON text, found {type(text).__name__}")
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _damaged(path, f"not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _damaged(path, f"expected an object, found {type(meta).__name__}")
    _check_keys(path, meta, _META_CHECKS, "")
    # Optional (files written before it was recorded have none): the store's id or null.
    if not (meta.get("store_id") is None or isinstance(meta["store_id"], str)):
        raise _damaged(path, f"'store_id' should be a string or null; found "
                             f"{type(meta['store_id']).__name__}")
    _check_keys(path, meta["state"], _STATE_CHECKS, "state.")
    present = {k: c for k, c in _STATE_ADDED_CHECKS.items() if k in meta["state"]}
    _check_keys(path, meta["state"], present, "state.")
    return meta


def _check_consistency(path: Path, meta: dict[str, Any]) -> None:
    """The feature schema and the cutoffs agree with the feature list and the mode."""
    names, state = meta["feature_names"], meta["state"]
    if state["n_features_in_"] != len(names) or len(set(names)) != len(names):
        raise _damaged(path, f"n_features_in_ {state['n_features_in_']} for "
                             f"{len(names)} feature names")
    listed = set(state["categories_"]) | set(state["numeric_features_"])
    if not listed <= set(names) or not set(state["unused_features_"]) <= set(names):
        raise _damaged(path, "the feature schema names columns outside the feature list")
    if state["mode_"] == "store" and (not meta["cutoffs"] or meta["label_window_end"] is None
                                      or meta["recency_rule"] is None):
        raise _damaged(path, "a store model without cutoffs, label window or recency rule")


def _check_keys(path: Path, data: dict[str, Any], checks: dict[str, tuple[str, Any]],
                prefix: str) -> None:
    for key, (rule, ok) in checks.items():
        if key not in data:
            raise _damaged(path, f"{prefix}{key!r} is missing")
        if not ok(data[key]):
            raise _damaged(path, f"{prefix}{key!r} should be {rule}; found "
                                 f"{type(data[key]).__name__} {str(data[key])[:60]!r}")


def _check_features(path: Path, meta: dict[str, Any]) -> None:
    """The saved feature list must be what the feature builder produces today."""
    saved = list(meta["feature_names"])
    state = meta["state"]
    if state["mode_"] != "store":
        return  # a plain-table model: the caller supplies the columns at predict time
    if meta["features_version"] != FEATURES_VERSION:
        raise ModelFileError(
            f"{path}: the model was built on churn features version {meta['features_version']}, "
            f"the current builder is version {FEATURES_VERSION}; refit the model"
        )
    try:
        current = feature_names(
            channels=state["channels_"], clv=state["uses_clv_"],
            satisfaction=state["uses_satisfaction_"], attributes=state.get("attributes_", {}),
        )
    except InputError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    if saved != current:
        missing = [c for c in saved if c not in current]
        new = [c for c in current if c not in saved]
        raise ModelFileError(
            f"{path}: the model's {len(saved)} features do not match the current feature "
            f"builder's {len(current)}: the builder lacks {missing or 'none'}, adds "
            f"{new or 'none'}" + ("" if missing or new else " (order differs)")
            + "; refit the model"
        )
