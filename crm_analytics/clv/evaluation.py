"""Holdout evaluation of a CLV model against a naive baseline.

The summary must come from ``rfm_summary(..., calibration_end=...)`` (or carry
the same holdout columns): the model is fitted on the calibration period and
judged on the purchases of the holdout period, which it has not seen.

Naive baseline
--------------
Each customer is predicted to keep buying at their own average calibration
rate, scaled down by how many customers are still buying at all::

    baseline_i = (x_i / T_i) * d_i * R

``x_i / T_i`` is the customer's repeat purchases per time unit over their
calibration life (0 if ``T_i = 0``), ``d_i`` the holdout length
(``duration_holdout``) and ``R`` the *overall retention*: among the customers
who were already customers ``h`` time units before the calibration end
(``T >= h``, with ``h`` the median holdout length), the share who made a
repeat purchase in those last ``h`` units (``x >= 1`` and ``T - t_x <= h``).
If no customer is that old, ``R`` is the share of repeat buyers. Its value
of a customer is ``baseline_i`` times their own mean ``monetary_value`` (the
mean over repeat buyers for the others).

Metrics
-------
For the model and the baseline: total predicted vs actual holdout purchases,
per-customer MAE and RMSE, Pearson correlation, and the share of holdout
revenue (``frequency_holdout * monetary_value_holdout``) earned by the top
decile of customers ranked by predicted holdout value (expected purchases
times expected spend, undiscounted, over the holdout period).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.clv.summary import check_summary
from crm_analytics.clv.utils import distinct_rows
from crm_analytics.core.summary import Summary

__all__ = ["EvaluationResult", "evaluate_clv_model", "naive_baseline"]

#: Calibration frequencies from this value up are pooled in the conditional table.
MAX_FREQUENCY_BIN = 7


@dataclass(repr=False)
class EvaluationResult:
    """Model and baseline against the holdout period.

    Attributes
    ----------
    metrics : pandas.DataFrame
        Rows ``model`` and ``baseline``; columns ``predicted_total``,
        ``actual_total``, ``mae``, ``rmse``, ``correlation``,
        ``top_decile_revenue_share``.
    conditional : pandas.DataFrame
        Mean holdout purchases by calibration frequency (0 ... 6, "7+"):
        ``n_customers``, ``actual``, ``model``, ``baseline``.
    per_customer : pandas.DataFrame
        By ``customer_id``: ``actual``, ``model``, ``baseline``,
        ``actual_revenue``, ``model_value``, ``baseline_value``.
    baseline : dict
        ``retention`` and how it was computed.
    """

    metrics: pd.DataFrame
    conditional: pd.DataFrame
    per_customer: pd.DataFrame
    baseline: dict[str, Any]
    time_unit: str
    duration: float
    model_name: str
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (a copy)."""
        return self.metrics.copy()

    def summary(self) -> Summary:
        """Metrics as text / HTML / DataFrame, with the conditional-expectation table."""
        facts = [
            ("model", self.model_name),
            ("customers", f"{len(self.per_customer):,}"),
            ("holdout length", f"{self.duration:.4g} {self.time_unit}"),
            ("baseline", "own rate x holdout length x overall retention "
                         f"(R = {self.baseline['retention']:.3f})"),
        ]
        return Summary(
            "CLV model holdout evaluation", facts, self.metrics,
            self.notes, [("Mean holdout purchases by calibration frequency", self.conditional)],
        )

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"EvaluationResult({self.model_name}, {len(self.per_customer):,} customers: "
            f"predicted {m.loc['model', 'predicted_total']:.1f} vs actual "
            f"{m.loc['model', 'actual_total']:.0f} holdout purchases, "
            f"MAE {m.loc['model', 'mae']:.3f} (baseline {m.loc['baseline', 'mae']:.3f}))"
        )

    def plot_calibration_vs_holdout(self) -> Any:
        """Mean holdout purchases by calibration frequency: actual, model, baseline."""
        from crm_analytics.clv.plotting import plot_calibration_vs_holdout

        return plot_calibration_vs_holdout(self)


def naive_baseline(summary: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """The baseline's holdout purchases per customer and its retention (see module docstring)."""
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    d = summary["duration_holdout"].to_numpy(dtype=float)
    h = float(np.median(d))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(T > 0, x / T, 0.0)
    old = h <= T
    if old.any():
        retained = (x >= 1) & (T - t_x <= h)
        retention = float(retained[old].mean())
        how = (f"share of the {int(old.sum()):,} customers with T >= {h:.4g} who made a repeat "
               f"purchase in the last {h:.4g} units of calibration")
    else:
        retention = float((x >= 1).mean())
        how = "share of repeat buyers (no customer is older than the holdout length)"
    return rate * d * retention, {"retention": retention, "definition": how, "holdout_length": h}


def evaluate_clv_model(model: Any, summary: pd.DataFrame) -> EvaluationResult:
    """Evaluate a fitted :class:`~crm_analytics.clv.CLVModel` on a holdout summary.

    Parameters
    ----------
    model : CLVModel
        Fitted on the calibration period (typically on this same summary).
    summary : pandas.DataFrame
        RFM summary with ``frequency_holdout`` and ``duration_holdout`` (and
        ``monetary_value_holdout`` for the revenue metric).

    Returns
    -------
    EvaluationResult
    """
    model.check_fitted()
    check_summary(summary, require_holdout=True, owner="evaluate")
    notes: list[str] = []
    actual = summary["frequency_holdout"].to_numpy(dtype=float)
    d = summary["duration_holdout"].to_numpy(dtype=float)
    codes, (x, t_x, T, dd), _ = distinct_rows(
        summary["frequency"].to_numpy(dtype=float),
        summary["recency"].to_numpy(dtype=float),
        summary["T"].to_numpy(dtype=float),
        d,
    )
    predicted = model.purchase_model_.conditional_expected_purchases(dd, x, t_x, T)[codes]
    baseline, info = naive_baseline(summary)

    if "monetary_value" in summary.columns:
        spend = model.expected_spend(summary)["expected_spend"].to_numpy()
        m = summary["monetary_value"].to_numpy(dtype=float)
        own = (summary["frequency"].to_numpy() >= 1) & (m > 0)
        mean_m = float(m[own].mean()) if own.any() else float("nan")
        baseline_spend = np.where(own, m, mean_m)
    else:
        spend = baseline_spend = np.full(len(summary), np.nan)
        notes.append("no monetary_value: value ranking uses purchases only")
    if "monetary_value_holdout" in summary.columns:
        revenue = actual * summary["monetary_value_holdout"].to_numpy(dtype=float)
    else:
        revenue = actual.copy()
        notes.append("no monetary_value_holdout: 'revenue' share counts purchases")
    model_value = predicted * np.where(np.isfinite(spend), spend, 1.0)
    baseline_value = baseline * np.where(np.isfinite(baseline_spend), baseline_spend, 1.0)

    per_customer = pd.DataFrame(
        {
            "actual": actual,
            "model": predicted,
            "baseline": baseline,
            "actual_revenue": revenue,
            "model_value": model_value,
            "baseline_value": baseline_value,
        },
        index=summary.index,
    )
    metrics = pd.DataFrame(
        [_metrics(actual, predicted, revenue, model_value),
         _metrics(actual, baseline, revenue, baseline_value)],
        index=pd.Index(["model", "baseline"], name="predictor"),
    )
    freq_bin = np.minimum(summary["frequency"].to_numpy(dtype=int), MAX_FREQUENCY_BIN)
    labels = [str(i) for i in range(MAX_FREQUENCY_BIN)] + [f"{MAX_FREQUENCY_BIN}+"]
    grouped = per_customer[["actual", "model", "baseline"]].groupby(freq_bin)
    conditional = grouped.mean()
    conditional.insert(0, "n_customers", grouped.size())
    conditional.index = pd.Index([labels[i] for i in conditional.index], name="calibration_frequency")
    return EvaluationResult(
        metrics=metrics,
        conditional=conditional,
        per_customer=per_customer,
        baseline=info,
        time_unit=model.time_unit,
        duration=float(np.median(d)),
        model_name=f"{model.purchase_model_.title}"
        + (f" + {model.spend_model_.title}" if model.spend_model_ is not None else ""),
        notes=notes,
    )


def _metrics(actual: np.ndarray, predicted: np.ndarray, revenue: np.ndarray, value: np.ndarray) -> dict:
    err = predicted - actual
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (
            float(np.corrcoef(actual, predicted)[0, 1])
            if np.std(actual) > 0 and np.std(predicted) > 0
            else float("nan")
        )
    top = max(1, math.ceil(0.1 * len(value)))
    # Stable sort on -value: ties keep the summary's order, so the result is reproducible.
    order = np.argsort(-value, kind="stable")[:top]
    total = float(revenue.sum())
    return {
        "predicted_total": float(predicted.sum()),
        "actual_total": float(actual.sum()),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "correlation": corr,
        "top_decile_revenue_share": float(revenue[order].sum() / total) if total > 0 else float("nan"),
    }
