"""Saving and loading churn models without executing code on load.

A model file is a skops archive holding the fitted scikit-learn objects and a
JSON document with everything else: the constructor parameters, the feature
list and its schema (categories, channels, sources), the training cutoffs,
the latest backtest metrics and the package versions. Loading checks, in
order, that the file is a skops archive, that it holds only types on
:data:`TRUSTED_TYPES` (nothing else is ever instantiated), that it is a churn
model of a format version this code reads, and that its features are exactly
what the current feature builder produces. Any failure raises
:class:`~crm_analytics.errors.ModelFileError` saying what differs.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from crm_analytics.churn.baselines import RecencyRule
from crm_analytics.churn.features import FEATURES_VERSION, feature_names
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
)


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
    import skops.io as sio

    check_is_fitted(model, "estimator_")
    path = Path(path)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename, so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sio.dump(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("churn model saved to %s", path)
    return path


def load_model(path: str | os.PathLike) -> Any:
    """Read a model written by :func:`save_model`; refuse anything else.

    Raises
    ------
    ModelFileError
        Not a skops file, untrusted content, not a churn model, an unknown
        format version, or features that differ from the current builder.
    """
    import skops.io as sio

    from crm_analytics.churn.model import ChurnModel

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelFileError(
            f"{path}: not a churn model file (not a skops archive: {exc})"
        ) from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ModelFileError(
            f"{path}: refusing to load: the file contains types outside the churn model's "
            f"trusted list: {', '.join(unknown)}"
        )
    try:
        payload = sio.load(path, trusted=sorted(set(untrusted)))
    except Exception as exc:
        raise ModelFileError(f"{path}: the model file is damaged ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ModelFileError(f"{path}: not a churn model file (format {found!r}, expected {FORMAT!r})")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: churn model format version {payload.get('format_version')!r}; this "
            f"version of crm_analytics reads version {FORMAT_VERSION}; refit and save the model"
        )
    meta = json.loads(payload["meta"])
    _check_features(path, meta)

    params = dict(meta["params"])
    if params.get("cutoffs") is not None:
        params["cutoffs"] = [dt.date.fromisoformat(c) for c in params["cutoffs"]]
    params["risk_thresholds"] = tuple(params["risk_thresholds"])
    try:
        model = ChurnModel(**params)
    except TypeError as exc:
        raise ModelFileError(f"{path}: parameters do not match this ChurnModel ({exc})") from None
    state = meta["state"]
    for name in _STATE:
        setattr(model, name, state[name])
    model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
    model.classes_ = np.asarray(meta["classes"])
    model.cutoffs_ = [dt.date.fromisoformat(c) for c in meta["cutoffs"]]
    end = meta["label_window_end"]
    model.label_window_end_ = dt.date.fromisoformat(end) if end else None
    rule = meta["recency_rule"]
    model.recency_rule_ = RecencyRule(**rule) if rule else None
    model.estimator_ = payload["estimator"]
    model.logistic_ = payload["logistic"]
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
    current = _versions()
    if meta["versions"].get("scikit-learn") != current.get("scikit-learn"):
        log.warning(
            "%s was saved with scikit-learn %s; running %s (predictions may differ slightly)",
            path, meta["versions"].get("scikit-learn"), current.get("scikit-learn"),
        )
    return model


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
            satisfaction=state["uses_satisfaction_"],
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
