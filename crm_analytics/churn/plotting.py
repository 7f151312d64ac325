"""Plotly figures of a churn backtest: ROC, precision-recall, calibration, gains, importance.

Every function returns a :class:`plotly.graph_objects.Figure` with one trace
per model (the churn model first, then the baselines).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import precision_recall_curve, roc_curve

from crm_analytics.churn.metrics import display_name, model_names

__all__ = [
    "plot_calibration",
    "plot_feature_importance",
    "plot_gains",
    "plot_precision_recall",
    "plot_roc",
]

# Curves are thinned to this many points: enough for the eye, small HTML.
_MAX_POINTS = 400


def _thin(*arrays: np.ndarray) -> list[np.ndarray]:
    n = len(arrays[0])
    if n <= _MAX_POINTS:
        return list(arrays)
    keep = np.unique(np.linspace(0, n - 1, _MAX_POINTS).round().astype(int))
    return [a[keep] for a in arrays]


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def plot_roc(evaluation: Any) -> go.Figure:
    """ROC curve per model, AUC in the legend.

    Examples
    --------
    >>> from crm_analytics.churn.evaluation import _toy_evaluation
    >>> ev = _toy_evaluation()
    >>> [t.name for t in plot_roc(ev).data]
    ['churn model (AUC 1.000)', 'chance']
    """
    pred = evaluation.predictions
    y = pred["churned"].to_numpy()
    fig = go.Figure()
    for name in model_names(pred):
        fpr, tpr, _ = roc_curve(y, pred[f"{name}_score"].to_numpy())
        fpr, tpr = _thin(fpr, tpr)
        auc = evaluation.metrics.loc[name, "roc_auc"]
        fig.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{display_name(name)} (AUC {auc:.3f})")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                    line={"dash": "dot", "color": "grey"})
    return _layout(fig, f"ROC at {evaluation.as_of}", "false positive rate", "true positive rate")


def plot_precision_recall(evaluation: Any) -> go.Figure:
    """Precision against recall per model, PR AUC in the legend."""
    pred = evaluation.predictions
    y = pred["churned"].to_numpy()
    fig = go.Figure()
    for name in model_names(pred):
        precision, recall, _ = precision_recall_curve(y, pred[f"{name}_score"].to_numpy())
        recall, precision = _thin(recall, precision)
        ap = evaluation.metrics.loc[name, "pr_auc"]
        fig.add_scatter(x=recall, y=precision, mode="lines",
                        name=f"{display_name(name)} (AP {ap:.3f})")
    fig.add_scatter(x=[0, 1], y=[evaluation.base_rate] * 2, mode="lines", name="base rate",
                    line={"dash": "dot", "color": "grey"})
    return _layout(fig, f"Precision-recall at {evaluation.as_of}", "recall", "precision")


def plot_calibration(evaluation: Any) -> go.Figure:
    """Mean predicted probability against observed churn rate, by decile, per model."""
    fig = go.Figure()
    for name, table in evaluation.calibration.items():
        fig.add_scatter(
            x=table["mean_predicted"], y=table["observed_rate"], mode="lines+markers",
            name=display_name(name), customdata=table["n"],
            hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>n %{customdata:.0f}",
        )
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                    line={"dash": "dot", "color": "grey"})
    return _layout(fig, f"Calibration at {evaluation.as_of}", "mean predicted churn probability",
                   "observed churn rate")


def plot_gains(evaluation: Any) -> go.Figure:
    """Cumulative gains: share of churners found when contacting the top x % by risk."""
    pred = evaluation.predictions
    y = pred["churned"].to_numpy(dtype=float)
    total = max(y.sum(), 1.0)
    contacted = np.arange(1, y.size + 1) / y.size
    fig = go.Figure()
    for name in model_names(pred):
        order = np.argsort(-pred[f"{name}_score"].to_numpy(), kind="stable")
        found = np.cumsum(y[order]) / total
        x, g = _thin(contacted, found)
        fig.add_scatter(x=np.r_[0, x], y=np.r_[0, g], mode="lines", name=display_name(name))
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                    line={"dash": "dot", "color": "grey"})
    return _layout(fig, f"Cumulative gains at {evaluation.as_of}", "share of customers contacted",
                   "share of churners found")


def plot_feature_importance(importance: pd.DataFrame, top: int = 20) -> go.Figure:
    """Horizontal bars of permutation importance (drop in ROC AUC), largest on top.

    Examples
    --------
    >>> imp = pd.DataFrame({"importance_mean": [0.1, 0.02], "importance_std": [0.01, 0.0]},
    ...                    index=pd.Index(["recency_days", "tenure_days"], name="feature"))
    >>> list(plot_feature_importance(imp).data[0].y)
    ['tenure_days', 'recency_days']
    """
    shown = importance.sort_values("importance_mean", ascending=False).head(top).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=shown["importance_mean"], y=list(shown.index), orientation="h",
            error_x={"type": "data", "array": shown["importance_std"]}, name="importance",
        )
    )
    fig.update_layout(height=max(300, 22 * len(shown) + 120))
    return _layout(fig, "Permutation importance (drop in ROC AUC)", "importance", "feature")
