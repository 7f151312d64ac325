"""Where a run finds its churn model: reuse a fresh saved one, or train and back-test.

The model file lives in ``config.model_dir`` (default ``models/`` beside the
store). It is never a pickle: the churn module saves it in a format that does
not execute code on load. A model older than ``model_max_age_days``, one whose
features no longer match, or ``retrain=True`` triggers a refit. A new model is
written to its final place only when the run commits, so a failed run leaves
the previous model in place.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from crm_analytics import churn
from crm_analytics.errors import ModelFileError
from crm_analytics.scoring.context import RunContext

log = logging.getLogger(__name__)

MODEL_FILE = "churn_model.skops"


def model_dir(ctx: RunContext) -> Path:
    """The folder of saved models for this run's store."""
    if ctx.config.model_dir:
        return Path(ctx.config.model_dir)
    if ctx.store.path == ":memory:":
        return Path(os.environ.get("TMPDIR", "/tmp")) / "crm_analytics_models"
    return Path(ctx.store.path).resolve().parent / "models"


def _last_cutoffs(evaluate_at: dt.date, horizon: int, months: int) -> list[dt.date]:
    """The ``months`` latest month-end cutoffs whose label windows end by ``evaluate_at``."""
    start = pd.Timestamp(evaluate_at) - pd.Timedelta(days=horizon) - pd.DateOffset(months=months)
    return churn.training_cutoffs(start, evaluate_at, horizon_days=horizon)[-months:]


def churn_model_for_run(ctx: RunContext) -> Any | None:
    """Return a churn model valid for ``ctx.as_of``: the saved one if fresh, else a new one."""
    cfg = ctx.config
    horizon = cfg.churn_horizon_days
    folder = model_dir(ctx)
    path = folder / MODEL_FILE
    if path.exists() and not cfg.retrain:
        try:
            model = churn.ChurnModel.load(path)
            age = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - _trained_at(model)).days
            if age <= cfg.model_max_age_days and getattr(model, "horizon_days", horizon) == horizon:
                ctx.metrics["churn_model"] = {"source": str(path), "age_days": age, "retrained": False}
                # The back-test saved with the model describes the model in use.
                backtest = getattr(model, "metrics_", None)
                if isinstance(backtest, pd.DataFrame):
                    ctx.results["churn_evaluation"] = backtest
                    ctx.metrics["churn_backtest"] = _evaluation_metrics(backtest)
                importance = getattr(model, "feature_importance_", None)
                if isinstance(importance, pd.DataFrame):
                    ctx.results["churn_feature_importance"] = importance
                return model
            ctx.notes.append(f"churn model {path} is {age} days old; refit")
        except ModelFileError as exc:
            ctx.notes.append(f"saved churn model not usable ({exc}); refit")
    months = cfg.churn_training_months
    deploy_cutoffs = _last_cutoffs(ctx.as_of, horizon, months)
    # The back-test evaluates one horizon earlier, where the labels are known.
    backtest_at = (pd.Timestamp(ctx.as_of) - pd.Timedelta(days=horizon)).date()
    backtest_cutoffs = _last_cutoffs(backtest_at, horizon, months)
    if len(backtest_cutoffs) < 2:
        ctx.notes.append("churn skipped: less than two months of history before the back-test cutoff")
        return None
    params = {"horizon_days": horizon, "active_days": cfg.churn_active_days,
              "random_state": cfg.seed}
    # Honest metrics: the same procedure, trained one horizon earlier and
    # evaluated on the latest cutoff whose labels are known.
    backtest = churn.ChurnModel(**params).fit(ctx.store, cutoffs=backtest_cutoffs,
                                              evaluate_at=backtest_at)
    evaluation = backtest.evaluate(ctx.store, backtest_at)
    model = churn.ChurnModel(**params).fit(ctx.store, cutoffs=deploy_cutoffs, evaluate_at=ctx.as_of)
    # The deployed model carries the back-test of its procedure as its metrics
    # (evaluate leaves models unchanged: the run stores the result on the model
    # it saves, so a reused model reports the same back-test).
    model.metrics_ = evaluation.metrics
    model.feature_importance_ = evaluation.feature_importance
    ctx.results["churn_feature_importance"] = evaluation.feature_importance
    table = _evaluation_table(evaluation)
    ctx.results["churn_evaluation"] = table
    ctx.metrics["churn_backtest"] = _evaluation_metrics(table)
    ctx.metrics["churn_model"] = {
        "source": str(path), "retrained": True, "backtest_at": str(backtest_at),
        "training_cutoffs": [str(c) for c in deploy_cutoffs],
    }
    tmp = folder / f".{MODEL_FILE}.{ctx.run_id}.tmp"

    def publish(_writer: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        model.save(tmp)
        os.replace(tmp, path)

    ctx.on_commit.append(publish)
    return model


def _trained_at(model: Any) -> dt.datetime:
    value = getattr(model, "saved_at_", None)
    if value is None:
        return dt.datetime.min
    ts = pd.Timestamp(value)
    return (ts.tz_convert(None) if ts.tzinfo else ts).to_pydatetime()


def _evaluation_table(evaluation: Any) -> pd.DataFrame:
    for attr in ("to_frame", "metrics_frame"):
        fn = getattr(evaluation, attr, None)
        if callable(fn):
            frame = fn()
            if isinstance(frame, pd.DataFrame):
                return frame
    if isinstance(evaluation, pd.DataFrame):
        return evaluation
    return pd.DataFrame(evaluation)


def _evaluation_metrics(evaluation: Any) -> dict[str, Any]:
    frame = _evaluation_table(evaluation)
    try:
        return json.loads(frame.to_json(orient="index", default_handler=str))
    except (TypeError, ValueError):
        return {}
