"""Backtest metrics, the calibration table and the grade (no plotting, no result object).

Grade rule (against the best baseline: the highest baseline ROC AUC and,
separately, the lowest baseline Brier score):

* **A** — ROC AUC at least ``best baseline AUC + 0.02`` *and* Brier score no worse
  than the best baseline's;
* **B** — ROC AUC within 0.02 of the best baseline (or better by 0.02 but
  with a worse Brier score);
* **C** — ROC AUC more than 0.02 below the best baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

__all__ = [
    "GRADE_MARGIN",
    "GRADE_RULE",
    "METRIC_COLUMNS",
    "calibration_table",
    "classification_metrics",
    "display_name",
    "grade",
    "lift_and_capture",
    "model_names",
]

GRADE_MARGIN = 0.02
GRADE_RULE = (
    f"A: ROC AUC >= best baseline + {GRADE_MARGIN} and Brier <= best baseline; "
    f"B: ROC AUC within {GRADE_MARGIN} of the best baseline; C: worse"
)
METRIC_COLUMNS = [
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "lift_top10",
    "capture_top10",
    "lift_top20",
    "capture_top20",
]
_LABELS = {
    "model": "churn model",
    "recency_rule": "no purchase in N days",
    "logistic": "logistic regression",
    "bgnbd": "BG/NBD",
}


def lift_and_capture(y: np.ndarray, score: np.ndarray, share: float) -> tuple[float, float]:
    """Lift and capture rate of the ``share`` of customers with the highest score.

    Lift is the churn rate in that top group over the overall churn rate;
    capture is the share of all churners found there. Ties at the boundary
    are broken by the customers' order (stable sort).

    Examples
    --------
    >>> lift_and_capture(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1]), 0.5)
    (2.0, 1.0)
    """
    y = np.asarray(y, dtype=float)
    k = max(1, int(round(share * y.size)))
    top = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k]
    total = y.sum()
    if total == 0:
        return float("nan"), float("nan")
    rate_top = y[top].mean()
    return float(rate_top / y.mean()), float(y[top].sum() / total)


def classification_metrics(
    y: np.ndarray, probability: np.ndarray, score: np.ndarray | None = None
) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier, log loss, lift and capture at 10 % and 20 %.

    ``score`` ranks customers for the ranking metrics (ROC/PR AUC, lift,
    capture); it defaults to ``probability``, which is used for Brier and log loss.

    Examples
    --------
    >>> m = classification_metrics(np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.3]))
    >>> m["roc_auc"], round(m["brier"], 3)
    (1.0, 0.075)
    """
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(probability, dtype=float), 1e-15, 1 - 1e-15)
    s = p if score is None else np.asarray(score, dtype=float)
    both = 0 < y.sum() < y.size
    out = {
        "roc_auc": float(roc_auc_score(y, s)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, s)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
    }
    for pct in (10, 20):
        lift, capture = lift_and_capture(y, s, pct / 100)
        out[f"lift_top{pct}"] = lift
        out[f"capture_top{pct}"] = capture
    return out


def calibration_table(y: np.ndarray, probability: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed churn rate, by decile of prediction.

    Bins are equal-count groups of the ranked predictions (ties kept together
    as far as ``pandas.qcut`` allows); fewer bins appear when predictions take
    few distinct values.

    Examples
    --------
    >>> t = calibration_table(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]), n_bins=2)
    >>> t[["n", "mean_predicted", "observed_rate"]].round(2).values.tolist()
    [[2.0, 0.15, 0.0], [2.0, 0.8, 1.0]]
    """
    p = np.asarray(probability, dtype=float)
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": p})
    frame["bin"] = pd.qcut(frame["p"], q=n_bins, labels=False, duplicates="drop")
    table = frame.groupby("bin").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    table["n"] = table["n"].astype(float)
    table.index = pd.Index(np.arange(1, len(table) + 1), name="bin")
    return table


def grade(metrics: pd.DataFrame, model: str = "model") -> str:
    """Grade A/B/C of ``model`` against the best baseline (see the module docstring).

    Examples
    --------
    >>> m = pd.DataFrame({"roc_auc": [0.85, 0.80], "brier": [0.10, 0.12]},
    ...                  index=["model", "logistic"])
    >>> grade(m)
    'A'
    """
    baselines = metrics.drop(index=model)
    if baselines.empty:
        return "n/a"
    auc = metrics.loc[model, "roc_auc"]
    best_auc = baselines["roc_auc"].max()
    best_brier = baselines["brier"].min()
    if auc >= best_auc + GRADE_MARGIN and metrics.loc[model, "brier"] <= best_brier:
        return "A"
    if auc >= best_auc - GRADE_MARGIN:
        return "B"
    return "C"


def model_names(predictions: pd.DataFrame) -> list[str]:
    """Model names present in a predictions frame, the model first."""
    return [c[: -len("_probability")] for c in predictions.columns if c.endswith("_probability")]


def display_name(name: str) -> str:
    """Readable name of a model or baseline."""
    return _LABELS.get(name, name)
