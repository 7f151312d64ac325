"""Plotly figures for segments: size x needs grid, treemap, profile bars.

Every function returns a :class:`plotly.graph_objects.Figure`; nothing is shown
or written, so the figures work the same in Jupyter, in tests and in the
dashboards.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crm_analytics.errors import InputError
from crm_analytics.segmentation.profiles import NO_SEGMENT

__all__ = ["plot_segment_bars", "plot_segment_treemap", "plot_size_needs_grid"]


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: required column(s) {missing} missing; found {list(frame.columns)}.")


def _labels(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), NO_SEGMENT).astype(str)


def _weights(scores: pd.DataFrame, value: str, what: str) -> tuple[pd.Series, str]:
    if value == "customers":
        return pd.Series(1.0, index=scores.index), "customers"
    _require(scores, [value], what)
    return pd.to_numeric(scores[value], errors="coerce").fillna(0.0), f"{value} (sum)"


def plot_size_needs_grid(
    scores: pd.DataFrame, value: str = "customers", *, title: str | None = None
) -> go.Figure:
    """Heatmap of size segment (rows) x needs segment (columns), the IBM two-criteria grid.

    Parameters
    ----------
    scores : DataFrame
        With ``size_segment`` and ``needs_segment_name``.
    value : str, default "customers"
        ``"customers"`` counts customers; any numeric column (e.g. ``"clv"``)
        is summed.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` trace named after ``value``; ``z`` rows follow ``y``.

    Examples
    --------
    >>> scores = pd.DataFrame({"size_segment": ["Consumer", "Consumer", "Small/medium"],
    ...                        "needs_segment_name": ["A", "B", "A"]})
    >>> fig = plot_size_needs_grid(scores)
    >>> fig.data[0].type, list(fig.data[0].y), fig.data[0].z.tolist()
    ('heatmap', ['Consumer', 'Small/medium'], [[1.0, 1.0], [1.0, 0.0]])
    """
    _require(scores, ["size_segment", "needs_segment_name"], "plot_size_needs_grid")
    weights, label = _weights(scores, value, "plot_size_needs_grid")
    grid = pd.crosstab(_labels(scores["size_segment"]), _labels(scores["needs_segment_name"]),
                       values=weights, aggfunc="sum").fillna(0.0)
    text = [[f"{v:,.0f}" for v in row] for row in grid.to_numpy()]
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(dtype=float), x=list(grid.columns), y=list(grid.index), text=text,
        texttemplate="%{text}", colorscale="Blues", name=label,
        hovertemplate="size: %{y}<br>needs: %{x}<br>" + label + ": %{z:,.0f}<extra></extra>",
    ))
    fig.update_layout(title=title or f"Size x needs segments: {label}",
                      xaxis_title="needs segment", yaxis_title="size segment",
                      yaxis={"autorange": "reversed"})
    return fig


def plot_segment_treemap(
    scores: pd.DataFrame,
    path: Sequence[str] = ("size_segment", "needs_segment_name"),
    value: str = "customers",
    *,
    color: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Treemap of nested segments (default size, then needs), sized by customers or a sum.

    Parameters
    ----------
    scores : DataFrame
    path : sequence of str
        Segment columns from outer to inner.
    value : str, default "customers"
        ``"customers"`` or a numeric column summed (e.g. ``"clv"``).
    color : str, optional
        Numeric column whose customer mean colours each box (e.g.
        ``"churn_probability"``).
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Treemap`` trace; ``ids`` are ``"All"`` and ``"All/<outer>/<inner>"``;
        each parent's value is the sum of its children (``branchvalues="total"``).

    Examples
    --------
    >>> scores = pd.DataFrame({"size_segment": ["Consumer", "Consumer", "Small/medium"],
    ...                        "needs_segment_name": ["A", "B", "A"]})
    >>> trace = plot_segment_treemap(scores).data[0]
    >>> dict(zip(trace.ids, trace.values))["All/Consumer"]
    2.0
    """
    path = list(path)
    if not path:
        raise InputError("plot_segment_treemap: path needs at least one segment column")
    _require(scores, path, "plot_segment_treemap")
    weights, label = _weights(scores, value, "plot_segment_treemap")
    frame = pd.DataFrame({c: _labels(scores[c]) for c in path}, index=scores.index)
    frame["_w"] = weights
    if color is not None:
        _require(scores, [color], "plot_segment_treemap")
        frame["_c"] = pd.to_numeric(scores[color], errors="coerce")
    ids, labels, parents, values, colors = ["All"], ["All customers"], [""], [float(weights.sum())], []
    colors.append(float(frame["_c"].mean()) if color else np.nan)
    for depth in range(1, len(path) + 1):
        level = frame.groupby(path[:depth], sort=True)
        sums = level["_w"].sum()
        means = level["_c"].mean() if color else None
        for key, total in sums.items():
            key = key if isinstance(key, tuple) else (key,)
            ids.append("All/" + "/".join(key))
            labels.append(key[-1])
            parents.append("All" + ("/" + "/".join(key[:-1]) if depth > 1 else ""))
            values.append(float(total))
            colors.append(float(means[key if len(key) > 1 else key[0]]) if color else np.nan)
    trace = go.Treemap(ids=ids, labels=labels, parents=parents, values=values,
                       branchvalues="total", name=label,
                       hovertemplate="%{label}<br>" + label + ": %{value:,.0f}<extra></extra>")
    if color:
        trace.marker = {"colors": colors, "colorscale": "RdYlGn_r", "showscale": True,
                        "colorbar": {"title": {"text": f"mean {color}"}}}
    fig = go.Figure(trace)
    fig.update_layout(title=title or f"Segments by {' > '.join(path)}: {label}")
    return fig


def plot_segment_bars(
    profile: pd.DataFrame,
    metrics: str | Sequence[str] = ("customers", "clv_sum", "churn_probability_mean"),
    *,
    title: str | None = None,
) -> go.Figure:
    """Horizontal bars of profile metrics per segment, one panel per metric.

    Parameters
    ----------
    profile : DataFrame
        :func:`~crm_analytics.segmentation.profile` output.
    metrics : str or sequence of str
        Columns to show; those the profile does not have are skipped (at least
        one must be present).
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar`` trace per metric (named after it), segments on the y axis.

    Examples
    --------
    >>> prof = pd.DataFrame({"customers": [10, 4], "clv_sum": [500.0, 80.0]},
    ...                     index=pd.Index(["A", "B"], name="segment"))
    >>> [t.name for t in plot_segment_bars(prof).data]
    ['customers', 'clv_sum']
    """
    wanted = [metrics] if isinstance(metrics, str) else list(metrics)
    shown = [m for m in wanted if m in profile.columns]
    if not shown:
        raise InputError(
            f"plot_segment_bars: none of the metrics {wanted} is in the profile; found "
            f"{list(profile.columns)}"
        )
    labels = [" / ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in profile.index]
    fig = make_subplots(rows=1, cols=len(shown), shared_yaxes=True, subplot_titles=shown)
    for i, metric in enumerate(shown, start=1):
        fig.add_trace(go.Bar(x=pd.to_numeric(profile[metric], errors="coerce"), y=labels,
                             orientation="h", name=metric), row=1, col=i)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title or "Segment profiles", showlegend=False,
                      height=max(300, 40 * len(labels) + 120))
    return fig
