"""Backtest metrics, the calibration table, the grade and the evaluation result object.

Grade rule (against the best baseline: the highest baseline ROC AUC and,
separately, the lowest baseline Brier score):

* **A** — ROC AUC at least ``best baseline AUC + 0.02`` *and* Brier score no worse
  than the best baseline's;
* **B** — ROC AUC within 0.02 of the best baseline (or better by 0.02 but
  with a worse Brier score);
* **C** — ROC AUC more than 0.02 below the best baseline.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

__all__ = [
    "GRADE_MARGIN",
    "GRADE_RULE",
    "ChurnEvaluation",
    "EvaluationSummary",
    "calibration_table",
    "classification_metrics",
    "grade",
    "lift_and_capture",
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


@dataclass
class EvaluationSummary:
    """Printable, HTML-renderable summary of a :class:`ChurnEvaluation`."""

    title: str
    lines: list[str]
    table: pd.DataFrame

    def __str__(self) -> str:
        shown = self.table.copy()
        shown.index = [_LABELS.get(i, i) for i in shown.index]
        body = shown.to_string(float_format=lambda v: f"{v:.3f}")
        return "\n".join([self.title, "=" * len(self.title), *self.lines, "", body])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        shown = self.table.copy()
        shown.index = [_LABELS.get(i, i) for i in shown.index]
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        return (
            f"<h4>{html.escape(self.title)}</h4><ul>{items}</ul>"
            + shown.to_html(float_format=lambda v: f"{v:.3f}")
        )

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (one row per model or baseline)."""
        return self.table.copy()


@dataclass
class ChurnEvaluation:
    """Result of :meth:`ChurnModel.evaluate`: a time-based backtest at one cutoff.

    Attributes
    ----------
    as_of : datetime.date
        Evaluation cutoff; labels are purchases in ``(as_of, as_of + horizon_days]``.
    horizon_days : int
    training_cutoffs : list of datetime.date
    n_customers : int
        Customers active at ``as_of`` (the evaluated population).
    base_rate : float
        Observed churn rate of that population.
    metrics : pandas.DataFrame
        One row per model (``model`` and each baseline), columns ``roc_auc``,
        ``pr_auc``, ``brier``, ``log_loss``, ``lift_top10``, ``capture_top10``,
        ``lift_top20``, ``capture_top20``.
    calibration : dict of pandas.DataFrame
        Decile calibration table per model.
    grade : str
        A/B/C against the best baseline (:data:`GRADE_RULE`).
    predictions : pandas.DataFrame
        Per customer: ``churned`` and, per model, ``<name>_probability`` and
        ``<name>_score`` (the ranking score).
    feature_importance : pandas.DataFrame
        Permutation importance on this evaluation set (ROC AUC drop).
    notes : list of str
        Choices made (e.g. the recency rule's N) and baselines left out.
    """

    as_of: dt.date
    horizon_days: int
    training_cutoffs: list[dt.date]
    n_customers: int
    base_rate: float
    metrics: pd.DataFrame
    calibration: dict[str, pd.DataFrame]
    grade: str
    predictions: pd.DataFrame
    feature_importance: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        auc = self.metrics.loc["model", "roc_auc"]
        return (
            f"ChurnEvaluation(as_of={self.as_of}, n_customers={self.n_customers}, "
            f"base_rate={self.base_rate:.3f}, roc_auc={auc:.3f}, grade={self.grade!r})"
        )

    def summary(self) -> EvaluationSummary:
        """Metrics side by side with the baselines, the grade and the notes."""
        cutoffs = self.training_cutoffs
        span = f"{cutoffs[0]} .. {cutoffs[-1]} ({len(cutoffs)} cutoffs)" if cutoffs else "n/a"
        lines = [
            f"evaluated at {self.as_of}: {self.n_customers:,} active customers, "
            f"{self.base_rate:.1%} churned within {self.horizon_days} days",
            f"trained on cutoffs {span}",
            f"grade {self.grade} ({GRADE_RULE})",
            *self.notes,
        ]
        return EvaluationSummary("Churn model backtest", lines, self.metrics.copy())

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (one row per model or baseline)."""
        return self.metrics.copy()

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # -- figures ---------------------------------------------------------------------------
    def plot_roc(self) -> Any:
        """ROC curves of the model and the baselines (plotly Figure)."""
        from crm_analytics.churn.plotting import plot_roc

        return plot_roc(self)

    def plot_precision_recall(self) -> Any:
        """Precision-recall curves of the model and the baselines (plotly Figure)."""
        from crm_analytics.churn.plotting import plot_precision_recall

        return plot_precision_recall(self)

    def plot_calibration(self) -> Any:
        """Decile calibration: mean predicted against observed churn (plotly Figure)."""
        from crm_analytics.churn.plotting import plot_calibration

        return plot_calibration(self)

    def plot_gains(self) -> Any:
        """Cumulative gains: share of churners captured against share contacted (plotly Figure)."""
        from crm_analytics.churn.plotting import plot_gains

        return plot_gains(self)

    def plot_feature_importance(self, top: int = 20) -> Any:
        """Permutation importance of the ``top`` features (plotly Figure)."""
        from crm_analytics.churn.plotting import plot_feature_importance

        return plot_feature_importance(self.feature_importance, top=top)


def model_names(predictions: pd.DataFrame) -> list[str]:
    """Model names present in a predictions frame, the model first."""
    return [c[: -len("_probability")] for c in predictions.columns if c.endswith("_probability")]


def display_name(name: str) -> str:
    """Readable name of a model or baseline."""
    return _LABELS.get(name, name)
