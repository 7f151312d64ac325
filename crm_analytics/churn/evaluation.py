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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.churn import plotting
from crm_analytics.churn.metrics import (
    GRADE_MARGIN,
    GRADE_RULE,
    METRIC_COLUMNS,
    calibration_table,
    classification_metrics,
    display_name,
    grade,
    lift_and_capture,
    model_names,
)
from crm_analytics.core.summary import Summary

__all__ = [
    "GRADE_MARGIN",
    "GRADE_RULE",
    "ChurnEvaluation",
    "calibration_table",
    "classification_metrics",
    "grade",
    "lift_and_capture",
    "model_names",
    "display_name",
    "METRIC_COLUMNS",
]

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

    def summary(self) -> Summary:
        """Metrics side by side with the baselines, the grade and the notes.

        The table is :attr:`metrics` (rows ``model``, ``recency_rule``,
        ``logistic``, ``bgnbd``); a note names each row.
        """
        cutoffs = self.training_cutoffs
        span = f"{cutoffs[0]} .. {cutoffs[-1]} ({len(cutoffs)} cutoffs)" if cutoffs else "n/a"
        facts = [
            ("evaluated at", str(self.as_of)),
            ("active customers", f"{self.n_customers:,}"),
            ("churned", f"{self.base_rate:.1%} within {self.horizon_days} days"),
            ("trained on cutoffs", span),
            ("grade", self.grade),
        ]
        legend = "; ".join(f"{name} = {display_name(name)}" for name in self.metrics.index)
        notes = [f"rows: {legend}", f"grade rule: {GRADE_RULE}", *self.notes]
        return Summary("Churn model backtest", facts, self.metrics.copy(), notes)

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (one row per model or baseline)."""
        return self.metrics.copy()

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # -- figures ---------------------------------------------------------------------------
    def plot_roc(self) -> Any:
        """ROC curves of the model and the baselines (plotly Figure)."""
        return plotting.plot_roc(self)

    def plot_precision_recall(self) -> Any:
        """Precision-recall curves of the model and the baselines (plotly Figure)."""
        return plotting.plot_precision_recall(self)

    def plot_calibration(self) -> Any:
        """Decile calibration: mean predicted against observed churn (plotly Figure)."""
        return plotting.plot_calibration(self)

    def plot_gains(self) -> Any:
        """Cumulative gains: share of churners captured against share contacted (plotly Figure)."""
        return plotting.plot_gains(self)

    def plot_feature_importance(self, top: int = 20) -> Any:
        """Permutation importance of the ``top`` features (plotly Figure)."""
        return plotting.plot_feature_importance(self.feature_importance, top=top)




def _toy_evaluation() -> Any:
    """A two-customer evaluation for the doctests."""
    import datetime as dt

    y = np.array([0, 1])
    p = np.array([0.2, 0.8])
    pred = pd.DataFrame({"churned": y, "model_probability": p, "model_score": p})
    metrics = pd.DataFrame({"roc_auc": [1.0], "pr_auc": [1.0]}, index=["model"])
    return ChurnEvaluation(
        as_of=dt.date(2024, 1, 31), horizon_days=90, training_cutoffs=[], n_customers=2,
        base_rate=0.5, metrics=metrics, calibration={"model": calibration_table(y, p, 2)},
        grade="n/a", predictions=pred, feature_importance=pd.DataFrame(),
    )
