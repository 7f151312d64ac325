"""Plotly figures of CLV models: the frequency/recency matrices, calibration vs
holdout, and the tracking plot of cumulative repeat transactions.

Every function returns a ``plotly.graph_objects.Figure``; nothing is shown or
written here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crm_analytics.clv.summary import DAYS_PER_UNIT
from crm_analytics.core.timeutils import as_of_params, to_date
from crm_analytics.store.queries import load_query

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "plot_calibration_vs_holdout",
    "plot_cumulative_transactions",
    "plot_expected_purchases_matrix",
    "plot_probability_alive_matrix",
]

def _go() -> Any:
    # plotly is imported when a figure is drawn, not when crm_analytics.clv is imported
    # (a nightly scoring job draws none).
    import plotly.graph_objects

    return plotly.graph_objects


_UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}
# Cells per axis at most: a matrix is read by eye, not cell by cell.
_MAX_CELLS = 120


def _grid(model: Any, max_frequency: int | None, max_recency: float | None) -> tuple[np.ndarray, np.ndarray]:
    summary = getattr(model, "data_", None)
    if max_frequency is None:
        max_frequency = int(summary["frequency"].quantile(0.99)) if summary is not None else 20
    if max_recency is None:
        max_recency = float(summary["T"].max()) if summary is not None else 52.0
    max_frequency = max(int(max_frequency), 1)
    max_recency = max(float(max_recency), 1.0)
    step = max(1, -(-(max_frequency + 1) // _MAX_CELLS))
    frequency = np.arange(0, max_frequency + 1, step)
    n_rec = min(_MAX_CELLS, int(np.ceil(max_recency)) + 1)
    recency = np.linspace(0.0, max_recency, n_rec)
    return frequency.astype(float), recency


def _matrix(model: Any, fn: Any, max_frequency: int | None, max_recency: float | None) -> tuple:
    model.check_fitted()
    frequency, recency = _grid(model, max_frequency, max_recency)
    x, t_x = np.meshgrid(frequency, recency, indexing="ij")
    T = np.full(x.shape, recency[-1])
    values = fn(x.ravel(), t_x.ravel(), T.ravel()).reshape(x.shape)
    # No purchase history has frequency 0 and recency > 0.
    values[0, 1:] = np.nan
    return frequency, recency, values


def plot_expected_purchases_matrix(
    model: Any,
    *,
    horizon_days: float = 365,
    max_frequency: int | None = None,
    max_recency: float | None = None,
) -> go.Figure:
    """Expected repeat purchases in the next ``horizon_days`` by frequency and recency.

    Every cell is a customer with ``T = max_recency`` (default the oldest
    fitted customer) and the cell's frequency and recency, as in Fader, Hardie
    & Lee's (2005) iso-value plots. The impossible cells (frequency 0,
    recency > 0) are blank.

    Examples
    --------
    >>> from crm_analytics.clv import CLVModel
    >>> m = CLVModel.from_params({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43})
    >>> fig = plot_expected_purchases_matrix(m, max_frequency=5, max_recency=10)
    >>> fig.data[0].type, len(fig.data[0].y)
    ('heatmap', 6)
    """
    go = _go()
    t = horizon_days / DAYS_PER_UNIT[model.time_unit]
    frequency, recency, values = _matrix(
        model,
        lambda x, t_x, T: model.purchase_model_.conditional_expected_purchases(t, x, t_x, T),
        max_frequency,
        max_recency,
    )
    unit = _UNIT_NAMES[model.time_unit]
    fig = go.Figure(
        go.Heatmap(
            x=recency, y=frequency, z=values, colorscale="Viridis",
            colorbar={"title": "expected<br>purchases"},
            hovertemplate="recency %{x:.1f}<br>frequency %{y}<br>expected %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Expected purchases in the next {horizon_days:g} days "
        f"({model.purchase_model_.title}, T = {recency[-1]:.0f} {unit})",
        xaxis_title=f"recency ({unit} from first to last purchase)",
        yaxis_title="frequency (repeat purchases)",
    )
    return fig


def plot_probability_alive_matrix(
    model: Any, *, max_frequency: int | None = None, max_recency: float | None = None
) -> go.Figure:
    """P(alive) by frequency and recency for customers with ``T = max_recency``.

    Examples
    --------
    >>> from crm_analytics.clv import CLVModel
    >>> m = CLVModel.from_params({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43})
    >>> fig = plot_probability_alive_matrix(m, max_frequency=5, max_recency=10)
    >>> float(np.nanmax(fig.data[0].z)) <= 1.0
    True
    """
    go = _go()
    frequency, recency, values = _matrix(
        model, model.purchase_model_.conditional_probability_alive, max_frequency, max_recency
    )
    unit = _UNIT_NAMES[model.time_unit]
    fig = go.Figure(
        go.Heatmap(
            x=recency, y=frequency, z=np.clip(values, 0.0, 1.0), zmin=0.0, zmax=1.0,
            colorscale="RdYlGn", colorbar={"title": "P(alive)"},
            hovertemplate="recency %{x:.1f}<br>frequency %{y}<br>P(alive) %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Probability alive ({model.purchase_model_.title}, T = {recency[-1]:.0f} {unit})",
        xaxis_title=f"recency ({unit} from first to last purchase)",
        yaxis_title="frequency (repeat purchases)",
    )
    return fig


def plot_calibration_vs_holdout(evaluation: Any) -> go.Figure:
    """Mean holdout purchases by calibration frequency: actual, model and naive baseline.

    ``evaluation`` is the result of :meth:`CLVModel.evaluate`.
    """
    go = _go()
    table = evaluation.conditional
    x = list(table.index.astype(str))
    fig = go.Figure()
    styles = {"actual": {"color": "black"}, "model": {"color": "#1f77b4"},
              "baseline": {"color": "#ff7f0e", "dash": "dot"}}
    for column in ("actual", "model", "baseline"):
        fig.add_trace(
            go.Scatter(
                x=x, y=table[column].to_numpy(), mode="lines+markers", name=column,
                line=styles[column], customdata=table["n_customers"].to_numpy(),
                hovertemplate="frequency %{x}<br>%{y:.2f} purchases<br>%{customdata} customers"
                "<extra>" + column + "</extra>",
            )
        )
    fig.update_layout(
        title=f"Calibration vs holdout: mean purchases in {evaluation.duration:.4g} "
        f"{_UNIT_NAMES.get(evaluation.time_unit, evaluation.time_unit)}",
        xaxis_title="repeat purchases in the calibration period",
        yaxis_title="mean repeat purchases in the holdout period",
    )
    return fig


def daily_purchases(store: Any, as_of: Any, cohort_end: Any) -> pd.DataFrame:
    """New customers and repeat purchase occasions per day for the cohort acquired by ``cohort_end``.

    Runs ``clv/sql/daily_purchases.sql``; returns every day from the cohort's first
    purchase to ``as_of`` (zeros on quiet days), indexed by ``day``.
    """
    as_of_day = to_date(as_of)
    frame = store.sql(
        load_query("clv/sql/daily_purchases.sql"),
        {"cutoff": as_of_params(as_of_day)["cutoff"], "cohort_end": to_date(cohort_end, "cohort_end")},
    )
    if frame.empty:
        return pd.DataFrame({"new_customers": [], "repeat_purchases": []},
                            index=pd.DatetimeIndex([], name="day"))
    frame["day"] = pd.to_datetime(frame["day"])
    days = pd.date_range(frame["day"].min(), pd.Timestamp(as_of_day), freq="D", name="day")
    return frame.set_index("day").reindex(days, fill_value=0).astype("int64")


def plot_cumulative_transactions(
    model: Any, store: Any, as_of: Any, *, cohort_end: Any = None, calibration_end: Any = None
) -> go.Figure:
    """Cumulative repeat transactions over time, actual vs model (the "tracking plot").

    Actual: repeat purchase occasions per day of the customers acquired by
    ``cohort_end``, counted in SQL. Model: each day's new customers are
    expected to make ``E[X(t)]`` repeat purchases within ``t`` of their
    first purchase (the purchase model's unconditional expectation, e.g.
    FHL 2005 eq. 9), summed over the cohort -- a convolution of daily
    acquisitions with ``E[X(t)]``.

    Parameters
    ----------
    model : CLVModel
    store : crm_analytics.Store
    as_of : date-like
        Last day plotted.
    cohort_end : date-like, optional
        Default the calibration end of the fitted summary, else its as-of date,
        else ``as_of``.
    calibration_end : date-like, optional
        Drawn as a vertical line (default as ``cohort_end``).
    """
    go = _go()
    model.check_fitted()
    info = getattr(model, "fit_info_", {}) or {}
    cohort_end = cohort_end or info.get("calibration_end") or info.get("as_of") or as_of
    calibration_end = calibration_end or info.get("calibration_end") or cohort_end
    daily = daily_purchases(store, as_of, cohort_end)
    n = len(daily)
    expected_new = model.expected_purchases_new_customer(np.arange(n, dtype=float))
    expected = np.convolve(daily["new_customers"].to_numpy(dtype=float), expected_new)[:n]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=daily.index, y=daily["repeat_purchases"].cumsum().to_numpy(),
                             mode="lines", name="actual", line={"color": "black"}))
    fig.add_trace(go.Scatter(x=daily.index, y=expected, mode="lines", name="model",
                             line={"color": "#1f77b4", "dash": "dash"}))
    if calibration_end is not None and n:
        x = pd.Timestamp(to_date(calibration_end, "calibration_end"))
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper",
                      line={"color": "grey", "dash": "dot"})
        fig.add_annotation(x=x, y=1, yref="paper", text="calibration end", showarrow=False,
                           xanchor="left", yanchor="bottom")
    fig.update_layout(
        title=f"Cumulative repeat transactions ({model.purchase_model_.title}), actual vs model",
        xaxis_title="day", yaxis_title="cumulative repeat transactions",
    )
    return fig
