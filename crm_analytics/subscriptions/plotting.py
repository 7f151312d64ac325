"""Plotly figures for subscriptions: the cohort heat-map, survival curves, revenue retention, sBG.

Every function takes a table (or result) the statistics functions return and
gives back a :class:`plotly.graph_objects.Figure`; nothing is shown or written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_analytics.errors import InputError

if TYPE_CHECKING:
    from crm_analytics.subscriptions.sbg import ShiftedBetaGeometric
    from crm_analytics.subscriptions.survival import KaplanMeier

__all__ = ["plot_cohort_heatmap", "plot_revenue_retention", "plot_sbg_projection", "plot_survival"]

_COLOURS = ["#2186eb", "#e8590c", "#2f9e44", "#ae3ec9", "#f0b429", "#0b7285", "#c92a2a", "#5c7cfa"]


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def plot_cohort_heatmap(table: pd.DataFrame, *, value: str = "retention", segment: str | None = None,
                        period_label: str = "Months since start", max_cohorts: int | None = 36,
                        title: str = "Retention by cohort") -> go.Figure:
    """Cohorts (rows) x periods since start (columns), coloured by the share still active.

    Parameters
    ----------
    table : DataFrame
        :func:`~crm_analytics.subscriptions.cohort_retention` (or
        :func:`~crm_analytics.subscriptions.revenue_retention` with
        ``value='net_revenue_retention'``).
    value : str
        The column to colour by (a share).
    segment : str, optional
        Which segment's block to show when the table has several.
    max_cohorts : int, optional
        Show only the latest cohorts (a note says how many were left out).

    Examples
    --------
    >>> t = pd.DataFrame({"segment": "all", "cohort": ["2024-01", "2024-01", "2024-02"],
    ...                   "period": [0, 1, 0], "eligible": [4, 4, 2], "active": [4, 2, 2],
    ...                   "retention": [1.0, 0.5, 1.0]})
    >>> fig = plot_cohort_heatmap(t)
    >>> fig.data[0].type, list(fig.data[0].y), fig.data[0].z[0][1]
    ('heatmap', ['2024-01', '2024-02'], 0.5)
    """
    from crm_analytics.subscriptions.cohorts import retention_matrix

    matrix = retention_matrix(table, value=value, segment=segment)
    notes = []
    if max_cohorts is not None and len(matrix) > max_cohorts:
        notes.append(f"Latest {max_cohorts} of {len(matrix)} cohorts shown.")
        matrix = matrix.iloc[-max_cohorts:]
    counts = None
    if "eligible" in table.columns and "active" in table.columns:
        sub = table if segment is None or "segment" not in table.columns else table[
            table["segment"].astype(str) == segment]
        counts = sub.pivot(index="cohort", columns="period", values="active").reindex(
            index=matrix.index, columns=matrix.columns)
        eligible = sub.pivot(index="cohort", columns="period", values="eligible").reindex(
            index=matrix.index, columns=matrix.columns)
    z = matrix.to_numpy(float)
    text = np.where(np.isnan(z), "", np.char.mod("%.0f%%", np.nan_to_num(z) * 100))
    custom = None
    hover = "cohort %{y}, period %{x}: %{z:.1%}<extra></extra>"
    if counts is not None:
        custom = np.dstack([counts.to_numpy(float), eligible.to_numpy(float)])
        hover = ("cohort %{y}, period %{x}: %{z:.1%} (%{customdata[0]:.0f} of "
                 "%{customdata[1]:.0f} observed)<extra></extra>")
    fig = go.Figure(go.Heatmap(
        z=z.tolist(), x=[int(c) for c in matrix.columns], y=[str(i) for i in matrix.index],
        colorscale="Blues", zmin=0, zmax=max(1.0, float(np.nanmax(z)) if np.isfinite(z).any() else 1.0),
        text=text.tolist(), texttemplate="%{text}", customdata=custom, hovertemplate=hover,
        colorbar=dict(title="Share", tickformat=".0%"),
    ))
    fig.update_layout(title=title, xaxis_title=period_label, yaxis_title="Cohort (start)",
                      yaxis=dict(autorange="reversed", type="category"))
    if notes:
        fig.update_layout(meta={"notes": notes})
    return fig


def plot_survival(km: KaplanMeier, *, bands: bool = True, period_label: str = "Months since start",
                  title: str = "Subscriptions still active") -> go.Figure:
    """Kaplan-Meier step curves per segment with their confidence bands as shaded areas.

    Examples
    --------
    >>> from crm_analytics.subscriptions.survival import kaplan_meier
    >>> data = pd.DataFrame({"duration": [1, 2, 3, 4], "event": [1, 1, 0, 1], "plan": list("aabb")})
    >>> fig = plot_survival(kaplan_meier(data, by="plan"))
    >>> [t.name for t in fig.data if t.showlegend is not False]
    ['a', 'b']
    """
    table = getattr(km, "table", None)
    if not isinstance(table, pd.DataFrame) or not {"segment", "time", "survival"} <= set(table.columns):
        raise InputError("plot_survival: expected the result of kaplan_meier(...)")
    fig = go.Figure()
    for i, (seg, part) in enumerate(table.groupby("segment", sort=False)):
        colour = _COLOURS[i % len(_COLOURS)]
        if bands and {"ci_lower", "ci_upper"} <= set(part.columns):
            fig.add_trace(go.Scatter(x=part["time"], y=part["ci_upper"], mode="lines", line_shape="hv",
                                     line=dict(width=0), showlegend=False, hoverinfo="skip",
                                     legendgroup=str(seg)))
            fig.add_trace(go.Scatter(x=part["time"], y=part["ci_lower"], mode="lines", line_shape="hv",
                                     line=dict(width=0), fill="tonexty", fillcolor=_rgba(colour, 0.18),
                                     showlegend=False, hoverinfo="skip", legendgroup=str(seg)))
        fig.add_trace(go.Scatter(
            x=part["time"], y=part["survival"], mode="lines", line_shape="hv", name=str(seg),
            line=dict(color=colour, width=2), legendgroup=str(seg),
            hovertemplate=f"{seg}: %{{y:.1%}} after %{{x}}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=period_label, yaxis_title="Share still subscribed",
                      yaxis=dict(tickformat=".0%", range=[0, 1.02]))
    logrank = getattr(km, "logrank", None)
    if logrank is not None:
        fig.update_layout(meta={"notes": [f"Log-rank test of equal survival: {logrank}. Shaded: "
                                          f"{1 - km.alpha:.0%} pointwise bands."]})
    return fig


def plot_revenue_retention(table: pd.DataFrame, *, segment: str | None = None,
                           period_label: str = "Months since start",
                           title: str = "Recurring revenue retention") -> go.Figure:
    """Net and gross revenue retention by period, pooled over cohorts (revenue-weighted).

    Examples
    --------
    >>> t = pd.DataFrame({"segment": "all", "cohort": ["a", "a", "b"], "period": [0, 1, 0],
    ...     "starting_revenue": [10.0, 10.0, 5.0], "revenue": [10.0, 12.0, 5.0], "kept": [0, 0, 0],
    ...     "net_revenue_retention": [1.0, 1.2, 1.0], "gross_revenue_retention": [1.0, 0.9, 1.0]})
    >>> fig = plot_revenue_retention(t)
    >>> [t.name for t in fig.data], list(fig.data[0].y)
    (['Net revenue retention', 'Gross revenue retention'], [1.0, 1.2])
    """
    need = {"period", "starting_revenue", "revenue", "gross_revenue_retention"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise InputError("plot_revenue_retention: expected the table of revenue_retention(...)")
    if segment is not None and "segment" in table.columns:
        table = table[table["segment"].astype(str) == segment]
    kept = table["gross_revenue_retention"] * table["starting_revenue"]
    pooled = pd.DataFrame({"start": table["starting_revenue"], "now": table["revenue"], "kept": kept,
                           "period": table["period"]}).groupby("period").sum()
    start = pooled["start"].replace(0, np.nan)
    fig = go.Figure([
        go.Scatter(x=pooled.index.tolist(), y=(pooled["now"] / start).tolist(), mode="lines+markers",
                   name="Net revenue retention", hovertemplate="period %{x}: %{y:.1%}<extra></extra>"),
        go.Scatter(x=pooled.index.tolist(), y=(pooled["kept"] / start).tolist(), mode="lines+markers",
                   name="Gross revenue retention", hovertemplate="period %{x}: %{y:.1%}<extra></extra>"),
    ])
    fig.update_layout(title=title, xaxis_title=period_label,
                      yaxis_title="Recurring revenue vs. at start", yaxis_tickformat=".0%")
    return fig


def plot_sbg_projection(model: ShiftedBetaGeometric, periods: int, *,
                        observed: Any = None, period_label: str = "Period",
                        title: str = "Survival: sBG projection") -> go.Figure:
    """The fitted model's survival curve over ``periods``, with observed survival if given.

    ``observed`` is a sequence of survival shares for periods ``0, 1, ...`` (e.g.
    a cohort's row of the retention table, or a Kaplan-Meier curve at whole periods).

    Examples
    --------
    >>> from crm_analytics.subscriptions.sbg import ShiftedBetaGeometric
    >>> m = ShiftedBetaGeometric(); m.alpha_, m.beta_ = 1.0, 1.0
    >>> fig = plot_sbg_projection(m, 3, observed=[1.0, 0.55])
    >>> [t.name for t in fig.data], [round(v, 3) for v in fig.data[0].y]
    (['sBG model', 'Observed'], [1.0, 0.5, 0.333, 0.25])
    """
    proj = model.project(periods)
    fig = go.Figure(go.Scatter(x=proj.index.tolist(), y=proj["survival"].tolist(), mode="lines",
                               name="sBG model", line=dict(color=_COLOURS[0], width=2)))
    if observed is not None:
        obs = np.asarray(observed, dtype=float)
        fig.add_trace(go.Scatter(x=list(range(len(obs))), y=obs.tolist(), mode="markers",
                                 name="Observed", marker=dict(color=_COLOURS[1], size=8)))
    fig.update_layout(title=title, xaxis_title=period_label, yaxis_title="Share still subscribed",
                      yaxis=dict(tickformat=".0%", range=[0, 1.02]))
    return fig
