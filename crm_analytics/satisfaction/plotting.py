"""Plotly figures for the satisfaction module.

Every function takes the table (or fitted model) the statistics functions return and
gives back a :class:`plotly.graph_objects.Figure`; nothing is shown or written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_analytics.errors import InputError

if TYPE_CHECKING:
    from crm_analytics.satisfaction.pls import SatisfactionIndex

__all__ = ["plot_coefficients", "plot_importance_performance", "plot_nps_trend",
           "plot_path_diagram", "plot_sla_trend"]


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: required column(s) {missing} missing; found "
                         f"{list(frame.columns)}.")


def _by_group(frame: pd.DataFrame, group_col: str | None) -> list[tuple[str, pd.DataFrame]]:
    if group_col is None:
        return [("", frame)]
    return [(str(g), part) for g, part in frame.groupby(group_col, sort=True, dropna=False)]


def plot_nps_trend(nps_table: pd.DataFrame, period_col: str, *,
                   group_col: str | None = None, title: str = "Net Promoter Score") -> go.Figure:
    """NPS per period as a line with its confidence interval as a shaded band.

    Parameters
    ----------
    nps_table : DataFrame
        Output of :func:`~crm_analytics.satisfaction.nps.nps_table` grouped by period
        (and optionally ``group_col``). Cells that are not reportable are NaN and show
        as gaps, never as points.
    period_col : str
        Column for the x axis.
    group_col : str, optional
        One line per value of this column.
    title : str
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        Per group: a lower-bound trace, an upper-bound trace filled down to it, and the
        NPS line (named after the group, or ``"NPS"``).

    Examples
    --------
    >>> table = pd.DataFrame({"month": [1, 2], "nps": [10.0, 20.0],
    ...                       "ci_lower": [0.0, 12.0], "ci_upper": [20.0, 28.0]})
    >>> [t.name for t in plot_nps_trend(table, "month").data]
    ['NPS lower', 'NPS upper', 'NPS']
    """
    _require(nps_table, [period_col, "nps", "ci_lower", "ci_upper"], "plot_nps_trend")
    fig = go.Figure()
    for name, part in _by_group(nps_table.sort_values(period_col), group_col):
        label = name or "NPS"
        x = part[period_col]
        fig.add_trace(go.Scatter(x=x, y=part["ci_lower"], mode="lines", line={"width": 0},
                                 name=f"{label} lower", legendgroup=label, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=part["ci_upper"], mode="lines", line={"width": 0},
                                 fill="tonexty", name=f"{label} upper", legendgroup=label,
                                 showlegend=False, hoverinfo="skip", opacity=0.3))
        fig.add_trace(go.Scatter(x=x, y=part["nps"], mode="lines+markers", name=label,
                                 legendgroup=label))
    fig.update_layout(title=title, xaxis_title=period_col, yaxis_title="NPS",
                      yaxis_range=[-100, 100])
    return fig


def plot_importance_performance(drivers_df: pd.DataFrame, *,
                                title: str = "Importance-performance map") -> go.Figure:
    """Importance-performance map of satisfaction drivers (Martilla & James 1977).

    Parameters
    ----------
    drivers_df : DataFrame
        Output of :meth:`SatisfactionIndex.drivers`: index = construct, columns
        ``importance`` (total effect on the target) and ``performance`` (0-100).
    title : str
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One labelled scatter trace; the quadrant lines at the means of both axes are
        ``layout.shapes`` (a vertical then a horizontal line).

    Examples
    --------
    >>> drivers = pd.DataFrame({"importance": [0.5, 0.2], "performance": [60.0, 80.0]},
    ...                        index=["quality", "value"])
    >>> fig = plot_importance_performance(drivers)
    >>> list(fig.data[0].text), fig.layout.shapes[0].x0
    (['quality', 'value'], 0.35)
    """
    _require(drivers_df, ["importance", "performance"], "plot_importance_performance")
    fig = go.Figure(go.Scatter(
        x=drivers_df["importance"], y=drivers_df["performance"], mode="markers+text",
        text=[str(i) for i in drivers_df.index], textposition="top center", name="drivers"))
    fig.add_vline(x=float(drivers_df["importance"].mean()), line_dash="dash")
    fig.add_hline(y=float(drivers_df["performance"].mean()), line_dash="dash")
    fig.update_layout(title=title, xaxis_title="importance (total effect)",
                      yaxis_title="performance (index 0-100)")
    return fig


def _layers(constructs: list[str], paths: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path depth of each construct, so every arrow points rightwards."""
    layer = dict.fromkeys(constructs, 0)
    for _ in constructs:  # a DAG settles within len(constructs) relaxation passes
        for source, target in paths:
            layer[target] = max(layer[target], layer[source] + 1)
    return layer


def plot_path_diagram(model: SatisfactionIndex, *, title: str = "Path model") -> go.Figure:
    """Structural model as a layered diagram with path coefficients on the arrows.

    Parameters
    ----------
    model : SatisfactionIndex
        A fitted model.
    title : str
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces: one line trace per path (named ``"source -> target"``), a text trace
        ``"path coefficients"`` at the arrows' midpoints and a marker trace
        ``"constructs"``; the arrowheads are ``layout.annotations``.
    """
    names = list(model.path_coefficients_.index)
    layer = _layers(names, model.paths_)
    pos: dict[str, tuple[float, float]] = {}
    for depth in sorted(set(layer.values())):
        members = [c for c in names if layer[c] == depth]
        for i, c in enumerate(members):
            pos[c] = (float(depth), (len(members) - 1) / 2 - i)
    fig = go.Figure()
    mid_x, mid_y, labels = [], [], []
    for source, target in model.paths_:
        (x0, y0), (x1, y1) = pos[source], pos[target]
        coef = float(model.path_coefficients_.loc[source, target])
        fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="skip",
                                 line={"width": 1 + 4 * min(abs(coef), 1), "color": "grey"},
                                 name=f"{source} -> {target}", showlegend=False))
        # Stop the arrow short of the node marker so the head stays visible.
        fig.add_annotation(x=x0 + 0.85 * (x1 - x0), y=y0 + 0.85 * (y1 - y0), ax=x0, ay=y0,
                           xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowcolor="grey", text="")
        mid_x.append((x0 + x1) / 2)
        mid_y.append((y0 + y1) / 2)
        labels.append(f"{coef:.2f}")
    fig.add_trace(go.Scatter(x=mid_x, y=mid_y, mode="text", text=labels,
                             name="path coefficients", showlegend=False))
    r2 = model.r_squared_.reindex(names)
    hover = [f"{c}<br>index {model.index_[c]:.1f}"
             + ("" if np.isnan(r2[c]) else f"<br>R² {r2[c]:.2f}") for c in names]
    fig.add_trace(go.Scatter(
        x=[pos[c][0] for c in names], y=[pos[c][1] for c in names], mode="markers+text",
        text=names, textposition="bottom center", hovertext=hover, hoverinfo="text",
        marker={"size": 28}, name="constructs", showlegend=False))
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False)
    return fig


def plot_sla_trend(df: pd.DataFrame, period_col: str, value_col: str, *,
                   group_col: str | None = None, target: float | None = None,
                   title: str | None = None) -> go.Figure:
    """A service-level measure (e.g. share of tickets within SLA) per period.

    Parameters
    ----------
    df : DataFrame
        One row per period (and group).
    period_col, value_col : str
        Columns for the x and y axes.
    group_col : str, optional
        One line per value of this column.
    target : float, optional
        Draw the SLA target as a dashed horizontal line (a ``layout.shapes`` entry).
    title : str, optional
        Figure title; default ``value_col``.

    Returns
    -------
    plotly.graph_objects.Figure
        One line trace per group.

    Examples
    --------
    >>> df = pd.DataFrame({"week": [1, 2, 3], "within_sla": [0.9, 0.85, 0.95]})
    >>> plot_sla_trend(df, "week", "within_sla").data[0].y.tolist()
    [0.9, 0.85, 0.95]
    """
    _require(df, [period_col, value_col] + ([group_col] if group_col else []),
             "plot_sla_trend")
    fig = go.Figure()
    for name, part in _by_group(df.sort_values(period_col), group_col):
        fig.add_trace(go.Scatter(x=part[period_col], y=part[value_col], mode="lines+markers",
                                 name=name or value_col))
    if target is not None:
        fig.add_hline(y=target, line_dash="dash", annotation_text="target")
    fig.update_layout(title=title or value_col, xaxis_title=period_col, yaxis_title=value_col)
    return fig


def plot_coefficients(coefficients: pd.DataFrame, *,
                      title: str = "Coefficients") -> go.Figure:
    """Regression coefficients as points with horizontal confidence-interval bars.

    Parameters
    ----------
    coefficients : DataFrame
        Columns ``term``, ``estimate``, ``ci_lower``, ``ci_upper`` (as in
        :attr:`ServiceImpact.coefficients <crm_analytics.satisfaction.ServiceImpact>`).
    title : str
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One scatter trace ``"estimate"`` (x = estimate, y = term, error bars to the
        interval ends); the zero line is ``layout.shapes[0]``.

    Examples
    --------
    >>> coefs = pd.DataFrame({"term": ["sla_breaches"], "estimate": [-1.0],
    ...                       "ci_lower": [-1.3], "ci_upper": [-0.8]})
    >>> fig = plot_coefficients(coefs)
    >>> list(fig.data[0].y), [round(float(v), 2) for v in fig.data[0].error_x.arrayminus]
    (['sla_breaches'], [0.3])
    """
    _require(coefficients, ["term", "estimate", "ci_lower", "ci_upper"], "plot_coefficients")
    est = coefficients["estimate"].to_numpy(float)
    fig = go.Figure(go.Scatter(
        x=est, y=[str(t) for t in coefficients["term"]], mode="markers", name="estimate",
        error_x={"type": "data", "symmetric": False,
                 "array": coefficients["ci_upper"].to_numpy(float) - est,
                 "arrayminus": est - coefficients["ci_lower"].to_numpy(float)}))
    fig.add_vline(x=0, line_dash="dash")
    fig.update_layout(title=title, xaxis_title="effect on the score per unit", yaxis_title="")
    return fig
