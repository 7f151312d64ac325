"""Where a run finds its churn model: reuse a fresh saved one, or train and back-test.

Models belong to their store. Every store gets a random ``store_id``, recorded
once in its ``store_meta`` table (in the run's final write transaction); the
model file lives in ``config.model_dir`` (default ``models/<store_id>/`` beside
the store file, or a temporary folder of its own for a ``:memory:`` store) and
records that id: a model of another store is refused (refit). It is never a
pickle: the churn module saves it in a format that does not execute code on
load, and a damaged file is refit with a note, never a failed run.

A model older than ``model_max_age_days``, one whose horizon or activity
window no longer match, or ``retrain=True`` triggers a refit; so does a model
whose training data reach beyond the run's ``as_of`` (a backfill must not use
the future). A new model is written to its final place only when the run
commits, so a failed run leaves the previous model in place, and a backfill's
model never replaces a cached model trained on later data.

The run's ``as_of`` means *data complete through that day*: the back-test is
evaluated at ``as_of - churn_horizon_days`` (its label window ends on
``as_of``) after training on the monthly cutoffs before it, and the deployed
model is trained on the latest cutoffs whose label windows end by ``as_of``.
Too little history for that is a skip with its reason, not a failure.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from crm_analytics import churn
from crm_analytics.errors import ModelFileError
from crm_analytics.scoring.context import RunContext

log = logging.getLogger(__name__)

MODEL_FILE = "churn_model.skops"
#: ``churn_active_days = "auto"``: this many median gaps between purchase days, in whole
#: 30-day months, at least ``AUTO_MIN_HORIZONS`` churn horizons and at most ``AUTO_MAX_DAYS``.
AUTO_GAPS = 4
AUTO_MIN_HORIZONS = 2
AUTO_MAX_DAYS = 730
#: Baselines in order of simplicity (a tie goes to the simpler one).
BASELINES = ("recency_rule", "bgnbd", "logistic")

#: Customers the median gap of ``churn_active_days = "auto"`` is estimated on, at most
#: (a seeded hash sample beyond): a median of 200,000 customers' gaps is exact to a
#: day, and the per-customer medians of a million customers exhausted DuckDB's memory.
AUTO_GAP_CUSTOMERS = 200_000

_GAP_SQL = """
WITH days AS (
    SELECT DISTINCT customer_id, CAST(transaction_date AS DATE) AS day
    FROM transactions
    WHERE amount > 0 AND transaction_date < $cutoff AND hash(customer_id) % 1000000 < $keep
), gaps AS (
    SELECT customer_id,
           day - LAG(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap
    FROM days
), per_customer AS (
    SELECT customer_id, MEDIAN(gap) AS gap FROM gaps WHERE gap IS NOT NULL GROUP BY customer_id
)
SELECT MEDIAN(gap) AS median_gap, COUNT(*) AS customers FROM per_customer
"""


def auto_active_days(store: Any, as_of: Any, horizon_days: int) -> tuple[int, str]:
    """The activity window of ``churn_active_days = "auto"`` and how it was chosen.

    ``AUTO_GAPS`` (4) times the median, over repeat buyers, of each customer's
    median gap between purchase days (data up to ``as_of``), rounded up to whole
    30 days, then bounded to ``[AUTO_MIN_HORIZONS * horizon_days, AUTO_MAX_DAYS]``
    (180..730 days with the 90-day horizon): a customer silent for four usual
    gaps has left already (win-back, not churn prevention), and the window is
    never shorter than two horizons nor longer than two years. Without repeat
    buyers the window is 365 days. Stores with more than
    :data:`AUTO_GAP_CUSTOMERS` buyers estimate the median on a seeded hash
    sample of that many.
    """
    from crm_analytics.core.timeutils import as_of_params

    low = AUTO_MIN_HORIZONS * horizon_days
    cutoff = as_of_params(as_of)["cutoff"]
    n = int(store.sql("SELECT count(DISTINCT customer_id) AS n FROM transactions "
                      "WHERE transaction_date < $cutoff", {"cutoff": cutoff})["n"].iloc[0])
    keep = 1_000_000 if n <= AUTO_GAP_CUSTOMERS else int(1_000_000 * AUTO_GAP_CUSTOMERS / n)
    row = store.sql(_GAP_SQL, {"cutoff": cutoff, "keep": keep}).iloc[0]
    gap = row["median_gap"]
    if gap is None or pd.isna(gap) or int(row["customers"]) == 0:
        days = min(max(365, low), AUTO_MAX_DAYS)
        return days, f"auto: no repeat buyers up to {as_of}, {days} days"
    raw = AUTO_GAPS * float(gap)
    days = int(min(max(30 * -(-raw // 30), low), max(AUTO_MAX_DAYS, low)))
    return days, (f"auto: {AUTO_GAPS} x the median gap between purchase days ({float(gap):.0f} "
                  f"days, {int(row['customers']):,} repeat buyers) = {raw:.0f}, in whole months, "
                  f"bounded to [{low}, {max(AUTO_MAX_DAYS, low)}] -> {days} days")


def active_days(ctx: RunContext) -> int:
    """The run's churn activity window: ``churn_active_days``, or derived from the data (auto)."""
    known = ctx.artifacts.get("churn_active_days")
    if known:
        return int(known)
    cfg = ctx.config
    if cfg.churn_active_days == "auto":
        days, how = auto_active_days(ctx.store, ctx.as_of, cfg.churn_horizon_days)
    else:
        days, how = int(cfg.churn_active_days), "set in the configuration"
    ctx.artifacts["churn_active_days"] = days
    ctx.metrics["churn_population"] = {
        "active_days": days, "horizon_days": cfg.churn_horizon_days, "how": how,
        "horizon_how": "churn_horizon_days (configuration)",
    }
    return days


def choose_scorer(metrics: Any, margin: float) -> tuple[str, str]:
    """Which scorer a run uses, given the back-test table: ``"model"`` or a baseline.

    The churn model scores when its back-test ROC AUC beats every baseline's by
    at least ``margin``; otherwise the best baseline (highest AUC; a tie goes
    to the simpler one, :data:`BASELINES` order) scores. Returns the name and a
    sentence saying why.
    """
    if not isinstance(metrics, pd.DataFrame) or "roc_auc" not in metrics.columns \
            or "model" not in metrics.index:
        return "model", "no back-test to compare with"
    auc = pd.to_numeric(metrics["roc_auc"], errors="coerce")
    present = [b for b in BASELINES if b in auc.index and pd.notna(auc[b])]
    if not present or pd.isna(auc["model"]):
        return "model", "no baseline in the back-test"
    best = max(present, key=lambda b: (round(float(auc[b]), 4), -BASELINES.index(b)))
    lead = float(auc["model"]) - float(auc[best])
    from crm_analytics.churn.metrics import display_name

    if lead >= margin:
        return "model", (f"churn model back-test ROC AUC {auc['model']:.3f} beats the best "
                         f"baseline ({display_name(best)}, {auc[best]:.3f}) by {lead:+.3f}")
    return best, (f"a baseline is as good as the churn model: {display_name(best)} has back-test "
                  f"ROC AUC {auc[best]:.3f}, the model {auc['model']:.3f} (needs a lead of "
                  f"{margin:.3f}); scoring with {display_name(best)}")


def record_scorer(ctx: RunContext, metrics: Any) -> str:
    """Choose the run's scorer from the back-test, record it in metrics and notes."""
    name, why = choose_scorer(metrics, ctx.config.churn_fallback_margin)
    ctx.metrics["churn_scorer"] = {"scorer": name, "why": why,
                                   "margin": ctx.config.churn_fallback_margin}
    if name != "model":
        ctx.notes.append(why)
    ctx.artifacts["churn_scorer"] = name
    return name
_STORE_ID_SQL = "SELECT min(value) AS store_id FROM store_meta WHERE key = 'store_id'"


def read_store_id(store: Any) -> str | None:
    """The id recorded in the store's ``store_meta`` (None: none yet)."""
    if "store_meta" not in store.tables():
        return None
    value = store.sql(_STORE_ID_SQL)["store_id"].iloc[0]
    return None if value is None or pd.isna(value) else str(value)


def record_store_id(writer: Any, store_id: str) -> None:
    """Record ``store_id`` in ``store_meta`` unless the store has one (a write store)."""
    writer.execute("CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR, value VARCHAR)")
    writer.execute(
        "INSERT INTO store_meta SELECT 'store_id', ? "
        "WHERE NOT EXISTS (SELECT 1 FROM store_meta WHERE key = 'store_id')",
        [store_id],
    )


def store_id(ctx: RunContext) -> str:
    """The run's store id: the recorded one, or a new one recorded when the run commits."""
    known = ctx.artifacts.get("store_id")
    if known:
        return str(known)
    value = read_store_id(ctx.store)
    if value is None:
        value = uuid.uuid4().hex
        new = value
        ctx.on_commit.append(lambda writer: record_store_id(writer, new))
    ctx.artifacts["store_id"] = value
    return value


def model_dir(ctx: RunContext) -> Path:
    """The folder of saved models for this run's store.

    ``config.model_dir`` if set; else ``models/<store_id>/`` beside the store
    file, or ``<temp dir>/crm_analytics_models/<store_id>/`` for a ``:memory:``
    store (its own folder: the id is random per store).
    """
    if ctx.config.model_dir:
        return Path(ctx.config.model_dir)
    sid = store_id(ctx)
    if str(ctx.store.path) == ":memory:":
        return Path(tempfile.gettempdir()) / "crm_analytics_models" / sid
    return Path(ctx.store.path).resolve().parent / "models" / sid


def _last_cutoffs(evaluate_at: dt.date, horizon: int, months: int) -> list[dt.date]:
    """The ``months`` latest month-end cutoffs whose label windows end by ``evaluate_at``."""
    start = pd.Timestamp(evaluate_at) - pd.Timedelta(days=horizon) - pd.DateOffset(months=months)
    return churn.training_cutoffs(start, evaluate_at, horizon_days=horizon)[-months:]


def _why_not_reuse(model: Any, ctx: RunContext, path: Path) -> str | None:
    """Why a saved model of this store cannot score this run (None: it can)."""
    cfg = ctx.config
    age = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - _trained_at(model)).days
    if age > cfg.model_max_age_days:
        return f"churn model {path} is {age} days old; refit"
    if getattr(model, "horizon_days", None) != cfg.churn_horizon_days:
        return (f"churn model {path} has horizon_days {getattr(model, 'horizon_days', None)}, "
                f"the run {cfg.churn_horizon_days}; refit")
    if getattr(model, "active_days", None) != active_days(ctx):
        return (f"churn model {path} has active_days {getattr(model, 'active_days', None)}, "
                f"the run {active_days(ctx)}; refit")
    if getattr(model, "risk_thresholds", None) != "auto":
        return (f"churn model {path} has fixed risk thresholds {model.risk_thresholds}; "
                "refit with bands calibrated to the base rate")
    end = getattr(model, "label_window_end_", None)
    if end is None or end > ctx.as_of:
        return (f"churn model {path} was trained on data through {end}, after as_of "
                f"{ctx.as_of}; refit as of {ctx.as_of} (a backfill must not use later data)")
    return None


def _reuse(ctx: RunContext, model: Any, path: Path) -> Any:
    age = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - _trained_at(model)).days
    ctx.metrics["churn_model"] = {
        "source": str(path), "age_days": age, "retrained": False,
        "training_cutoffs": [str(c) for c in model.cutoffs_],
        "label_window_end": str(model.label_window_end_), "store_id": store_id(ctx),
    }
    # The back-test saved with the model describes the model in use.
    backtest = getattr(model, "metrics_", None)
    if isinstance(backtest, pd.DataFrame):
        ctx.results["churn_evaluation"] = backtest
        ctx.metrics["churn_backtest"] = _evaluation_metrics(backtest)
    record_scorer(ctx, backtest)
    importance = getattr(model, "feature_importance_", None)
    if isinstance(importance, pd.DataFrame):
        ctx.results["churn_feature_importance"] = importance
    return model


def _cached(ctx: RunContext, path: Path) -> Any | None:
    """The model saved at ``path`` if it is a readable model of this store, else None (noted)."""
    if not path.exists():
        return None
    try:
        model = churn.ChurnModel.load(path)
    except ModelFileError as exc:
        ctx.notes.append(f"warning: saved churn model not usable ({exc}); refit")
        log.warning("saved churn model not usable (%s); refit", exc)
        return None
    owner = getattr(model, "store_id_", None)
    if owner != store_id(ctx):
        whose = f"another store ({owner})" if owner else "no recorded store"
        ctx.notes.append(f"churn model {path} belongs to {whose}, not this one "
                         f"({store_id(ctx)}); refit")
        return None
    return model


def _labels(ctx: RunContext, cutoffs: list[dt.date]) -> dict[dt.date, pd.Series]:
    """Churn labels (customers active at each cutoff) with the run's horizon and activity window."""
    cfg = ctx.config
    return {c: churn.build_labels(ctx.store, c, horizon_days=cfg.churn_horizon_days,
                                  active_days=active_days(ctx), data_through=ctx.as_of)
            for c in cutoffs}


def _classes(labels: pd.Series) -> str:
    if labels.empty:
        return "no active customers"
    return f"only {'churned' if int(labels.iloc[0]) == 1 else 'retained'} customers"


def _fit_problem(labels: dict[dt.date, pd.Series], cutoffs: list[dt.date], calibration: int,
                 what: str) -> str | None:
    """Why the churn model cannot be fitted on ``cutoffs`` (None: it can).

    Needs two cutoffs or more, and both classes (churned and retained) in the
    examples every forward-chained calibration split trains on.
    """
    if len(cutoffs) < 2:
        return None  # the caller words this one
    n_cal = min(calibration, len(cutoffs) - 1)
    for k in range(len(cutoffs) - n_cal, len(cutoffs)):
        before = pd.concat([labels[c] for c in cutoffs[:k]])
        if before.nunique() < 2:
            return (f"the {what} cutoffs up to {cutoffs[k - 1]} have {_classes(before)}; "
                    "too little history to train the churn model")
    return None


def churn_model_for_run(ctx: RunContext) -> Any | None:
    """Return a churn model valid for ``ctx.as_of``: the saved one if fresh, else a new one.

    None when the data cannot support a model: the reason is in ``ctx.skipped["churn"]``.
    """
    cfg = ctx.config
    horizon = cfg.churn_horizon_days
    sid = store_id(ctx)
    folder = model_dir(ctx)
    path = folder / MODEL_FILE
    cached = _cached(ctx, path)
    if cached is not None:
        why = _why_not_reuse(cached, ctx, path)
        if why is None and not cfg.retrain:
            return _reuse(ctx, cached, path)
        if why is not None:
            ctx.notes.append(why)
    months = cfg.churn_training_months
    # The back-test evaluates one horizon earlier: its label window ends on as_of.
    backtest_at = (pd.Timestamp(ctx.as_of) - pd.Timedelta(days=horizon)).date()
    candidates = sorted(set(_last_cutoffs(backtest_at, horizon, months))
                        | set(_last_cutoffs(ctx.as_of, horizon, months)) | {backtest_at})
    labels = _labels(ctx, candidates)
    # Cutoffs before the store's history begins have nobody to learn from.
    backtest_cutoffs = [c for c in _last_cutoffs(backtest_at, horizon, months) if len(labels[c])]
    deploy_cutoffs = [c for c in _last_cutoffs(ctx.as_of, horizon, months) if len(labels[c])]
    # Risk bands calibrated to the churn base rate (see ChurnModel's risk_thresholds).
    params = {"horizon_days": horizon, "active_days": active_days(ctx),
              "random_state": cfg.seed, "risk_thresholds": "auto",
              "max_examples_per_cutoff": cfg.churn_max_examples}
    calibration = churn.ChurnModel(**params).calibration_cutoffs
    if months < 2:
        ctx.skip("churn", f"churn_training_months is {months}; the churn model needs at least "
                          "two monthly training cutoffs")
        return None
    if len(backtest_cutoffs) < 2:
        ctx.skip("churn", f"less than two months of purchase history before the back-test cutoff "
                          f"{backtest_at} (as_of - {horizon} days): "
                          f"{len(backtest_cutoffs)} usable monthly cutoff(s)")
        return None
    problem = (_fit_problem(labels, backtest_cutoffs, calibration, "back-test training")
               or _fit_problem(labels, deploy_cutoffs, calibration, "training"))
    if problem is None and labels[backtest_at].nunique() < 2:
        problem = (f"the back-test cutoff {backtest_at} has {_classes(labels[backtest_at])}; "
                   "the back-test cannot be scored")
    if problem is not None:
        ctx.skip("churn", problem)
        return None
    # Honest metrics: the same procedure, trained one horizon earlier and
    # evaluated on the latest cutoff whose labels are known (by as_of).
    # One training set over both fits' cutoffs (they share most of them), so each
    # cutoff's features are built once; the channels are those of the back-test's
    # last cutoff, so the back-test model sees nothing after its own training data.
    training = churn.training_set(
        ctx.store, sorted(set(backtest_cutoffs) | set(deploy_cutoffs)),
        horizon_days=horizon, active_days=params["active_days"],
        max_examples_per_cutoff=cfg.churn_max_examples, random_state=cfg.seed,
        evaluate_at=ctx.as_of, data_through=ctx.as_of,
        channels=churn.top_channels(ctx.store, backtest_cutoffs[-1]),
    )
    backtest = churn.ChurnModel(**params).fit(churn.select_cutoffs(training, backtest_cutoffs))
    evaluation = backtest.evaluate(ctx.store, backtest_at, data_through=ctx.as_of,
                                   max_examples=cfg.churn_max_examples)
    model = churn.ChurnModel(**params).fit(churn.select_cutoffs(training, deploy_cutoffs))
    del training
    model.store_id_ = sid
    # The deployed model carries the back-test of its procedure as its metrics
    # (evaluate leaves models unchanged: the run stores the result on the model
    # it saves, so a reused model reports the same back-test).
    model.metrics_ = evaluation.metrics
    model.feature_importance_ = evaluation.feature_importance
    ctx.results["churn_feature_importance"] = evaluation.feature_importance
    table = _evaluation_table(evaluation)
    ctx.results["churn_evaluation"] = table
    ctx.metrics["churn_backtest"] = _evaluation_metrics(table)
    ctx.metrics["churn_base_rate"] = float(evaluation.base_rate)
    record_scorer(ctx, evaluation.metrics)
    # A backfill's model never replaces a cached model trained on later data.
    newer = cached is not None and cached.label_window_end_ > model.label_window_end_
    ctx.metrics["churn_model"] = {
        "source": str(path), "retrained": True, "backtest_at": str(backtest_at),
        "training_cutoffs": [str(c) for c in deploy_cutoffs],
        "label_window_end": str(model.label_window_end_), "store_id": sid, "saved": not newer,
        "training_examples": int(model.training_summary_["n_examples"].sum()),
        "sample": dict(model.training_sample_),
    }
    if newer:
        ctx.notes.append(f"churn model trained as of {ctx.as_of} not saved: {path} holds one "
                         f"trained on data through {cached.label_window_end_}")
        return model
    tmp = folder / f".{MODEL_FILE}.{ctx.run_id}.tmp"

    def publish(_writer: Any) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
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
