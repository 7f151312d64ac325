"""Rendering of the dashboard pages (HTML strings) and their atomic publication."""

from __future__ import annotations

import html
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from crm_analytics.errors import InputError
from crm_analytics.store import Store
from crm_analytics.store.results import latest_run_id, latest_scores, reading, run_results
from crm_analytics.store.score_columns import SCORE_COLUMNS

log = logging.getLogger(__name__)

PAGES: list[tuple[str, str]] = [
    ("index.html", "Overview"),
    ("segments.html", "Segments"),
    ("value.html", "Value"),
    ("churn.html", "Churn"),
    ("satisfaction.html", "Satisfaction & service"),
]
PLOTLY_FILE = "plotly.min.js"
# Figures are drawn while the page is still being laid out; once it is, fit them
# to their cards (and again whenever the window changes size).
RESIZE_JS = (
    "window.addEventListener('load',function(){document.querySelectorAll('.plotly-graph-div')"
    ".forEach(function(d){Plotly.Plots.resize(d);});});"
)

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}
nav{background:#1f2933;padding:0 24px;display:flex;gap:4px;align-items:center}
nav a{color:#cbd2d9;text-decoration:none;padding:14px 12px;display:inline-block}
nav a.current{color:#fff;border-bottom:3px solid #3ebd93}
nav .brand{color:#fff;font-weight:600;margin-right:16px}
main{padding:20px 24px;max-width:1400px}
h1{font-size:22px;margin:4px 0 2px}
.meta{color:#616e7c;font-size:13px;margin-bottom:16px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px;margin-bottom:18px}
.kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .label{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.04em}
.kpi .value{font-size:24px;font-weight:600;margin-top:4px}
.kpi .delta{font-size:12px;color:#616e7c;margin-top:2px}
.kpi .delta.up{color:#199473}.kpi .delta.down{color:#cf1124}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
.card.wide{grid-column:1/-1}
.card{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.08);overflow:auto}
.card h2{font-size:15px;margin:2px 4px 8px}
.note{color:#616e7c;font-size:13px;padding:8px}
.skipped{background:#fffbea;border-left:4px solid #f0b429;border-radius:8px;padding:10px 14px;
margin-bottom:18px;font-size:13px}.skipped ul{margin:4px 0 0;padding-left:18px}
table.data{border-collapse:collapse;font-size:13px;width:100%}
table.data th,table.data td{border-bottom:1px solid #e4e7eb;padding:5px 8px;text-align:left}
table.data th{background:#f5f7fa;position:sticky;top:0}
"""


# -- small formatting helpers ------------------------------------------------------------------
def _num(value: Any, *, digits: int = 0, money: bool = False, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if pct:
        return f"{value:.1%}"
    text = f"{value:,.{digits}f}"
    return text


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def kpi(key: str, label: str, value: Any, shown: str, delta: str = "", direction: str = "") -> str:
    """A headline number; ``data-value`` holds the exact stored value."""
    raw = "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(
        float(value) if isinstance(value, (int, float, np.number)) else value)
    cls = f"delta {direction}".strip()
    return (
        f'<div class="kpi" data-kpi="{_esc(key)}" data-value="{_esc(raw)}">'
        f'<div class="label">{_esc(label)}</div><div class="value">{_esc(shown)}</div>'
        f'<div class="{cls}">{_esc(delta)}</div></div>'
    )


def _delta(now: Any, before: Any, *, pct: bool = False, higher_is_better: bool = True) -> tuple[str, str]:
    try:
        now_f, before_f = float(now), float(before)
    except (TypeError, ValueError):
        return "", ""
    if math.isnan(now_f) or math.isnan(before_f):
        return "", ""
    diff = now_f - before_f
    if diff == 0:
        return "no change vs previous run", ""
    text = f"{diff:+.1%}" if pct else f"{diff:+,.0f}" if abs(diff) >= 10 else f"{diff:+,.2f}"
    good = (diff > 0) == higher_is_better
    return f"{text} vs previous run", "up" if good else "down"


def figure_html(fig: go.Figure | None, div_id: str, note: str = "not available in this run") -> str:
    if fig is None:
        return f'<div class="note">{_esc(note)}</div>'
    # The card carries the title; the figure fills the card's width.
    fig.update_layout(title=None, margin=dict(l=50, r=20, t=20, b=50), height=360,
                      template="plotly_white", autosize=True)
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       default_width="100%", default_height="360px",
                       config={"displaylogo": False, "responsive": True})


def card(title: str, body: str, *, wide: bool = False) -> str:
    cls = "card wide" if wide else "card"
    return f'<div class="{cls}"><h2>{_esc(title)}</h2>{body}</div>'


def table_html(frame: pd.DataFrame | None, *, max_rows: int = 30, float_digits: int = 2) -> str:
    if frame is None or frame.empty:
        return '<div class="note">no rows</div>'
    shown = frame.head(max_rows).copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:,.{float_digits}f}")
    return shown.to_html(classes="data", border=0, escape=True, na_rep="")


_LABELS = {c.name: c.label for c in SCORE_COLUMNS}


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Score columns under their short labels (``crm_analytics.store.score_columns``)."""
    return frame.rename(columns=lambda c: _LABELS.get(c, c))


def page(title: str, current: str, run: dict[str, Any], body: str) -> str:
    links = "".join(
        f'<a href="{f}" class="{"current" if f == current else ""}">{_esc(t)}</a>' for f, t in PAGES
    )
    as_of = pd.Timestamp(run.get("as_of")).date() if run.get("as_of") is not None else "?"
    meta = (f"run {_esc(run.get('run_id'))} · as of {_esc(as_of)} · "
            f"finished {_esc(run.get('finished_at'))} UTC")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_esc(title)} · crm_analytics</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style><script src=\"{PLOTLY_FILE}\"></script></head><body>"
        f'<nav><span class="brand">crm_analytics</span>{links}</nav>'
        f'<main><h1>{_esc(title)}</h1><div class="meta">{meta}</div>{body}</main>'
        f"<script>{RESIZE_JS}</script></body></html>"
    )


# -- figures -----------------------------------------------------------------------------------
def _bar(x: Any, y: Any, title: str, **kw: Any) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(x), y=list(y), **kw))
    fig.update_layout(title=title)
    return fig


def fig_revenue_by_month(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    r = results.get("revenue_by_month")
    if r is None or r.empty:
        return None
    return _bar(pd.to_datetime(r["month"]).dt.strftime("%Y-%m"), r["revenue"], "Net revenue by month",
                marker_color="#3ebd93")


def fig_counts(
    scores: pd.DataFrame, column: str, title: str, order: list[str] | None = None,
    missing: str = "(none)",
) -> go.Figure | None:
    if column not in scores.columns:
        return None
    counts = scores[column].fillna(missing).value_counts()
    if order:
        counts = counts.reindex([o for o in order if o in counts.index] +
                                [i for i in counts.index if i not in order])
    return _bar(counts.index.astype(str), counts.values, title, marker_color="#2186eb")


def fig_size_needs_grid(scores: pd.DataFrame) -> go.Figure | None:
    row = "size_segment" if "size_segment" in scores.columns else "size_band"
    col = "needs_segment_name" if "needs_segment_name" in scores.columns else None
    if row not in scores.columns or col is None:
        return None
    grid = pd.crosstab(scores[row].fillna("(none)"), scores[col].fillna("(none)"))
    fig = go.Figure(go.Heatmap(z=grid.values, x=list(grid.columns.astype(str)),
                               y=list(grid.index.astype(str)), colorscale="Blues",
                               text=grid.values, texttemplate="%{text}", hovertemplate=
                               "%{y} × %{x}: %{z} customers<extra></extra>"))
    fig.update_layout(title="Customers by size × needs segment")
    return fig


def fig_rfm(scores: pd.DataFrame) -> go.Figure | None:
    if "rfm_segment" not in scores.columns:
        return None
    revenue = scores["revenue_365d"] if "revenue_365d" in scores.columns else pd.Series(0.0, scores.index)
    g = (pd.DataFrame({"segment": scores["rfm_segment"], "revenue": revenue})
         .groupby("segment", observed=True)
         .agg(customers=("segment", "size"), revenue=("revenue", "sum"))
         .sort_values("customers", ascending=False))
    fig = go.Figure(go.Bar(
        x=list(g.index), y=list(g["customers"]), marker_color="#2186eb",
        text=[f"{v:,.0f}" for v in g["revenue"]], textposition="auto",
        hovertemplate="%{x}: %{y:,} customers, net revenue (365 d) %{text}<extra></extra>",
    ))
    fig.update_layout(title="RFM segments (label: net revenue, last 365 days)", yaxis_title="customers")
    return fig


def fig_clv_distribution(scores: pd.DataFrame) -> go.Figure | None:
    if "clv" not in scores.columns or scores["clv"].dropna().empty:
        return None
    clv = scores["clv"].dropna()
    top = float(clv.quantile(0.99))
    fig = go.Figure(go.Histogram(x=list(clv.clip(upper=top)), nbinsx=50, marker_color="#2186eb"))
    fig.update_layout(title=f"CLV distribution (capped at the 99th percentile, {top:,.0f})",
                      xaxis_title="CLV", yaxis_title="customers")
    return fig


def fig_potential_codes(scores: pd.DataFrame) -> go.Figure | None:
    if "revenue_potential_code" not in scores.columns or "revenue_potential" not in scores.columns:
        return None
    g = scores.groupby("revenue_potential_code", observed=True).agg(
        customers=("revenue_potential_code", "size"), potential=("revenue_potential", "sum"),
    ).sort_index()
    fig = go.Figure(go.Bar(
        x=list(g.index), y=list(g["potential"]), marker_color="#f0b429",
        text=[f"{n:,} customers" for n in g["customers"]], textposition="auto",
        hovertemplate="code %{x}: revenue potential %{y:,.0f}<extra></extra>",
    ))
    fig.update_layout(title="Revenue potential by code", yaxis_title="total revenue potential")
    return fig


def fig_churn_distribution(scores: pd.DataFrame) -> go.Figure | None:
    if "churn_probability" not in scores.columns or scores["churn_probability"].dropna().empty:
        return None
    fig = go.Figure()
    colors = {"low": "#3ebd93", "medium": "#f0b429", "high": "#cf1124"}
    band = scores.get("risk_band", pd.Series("all", index=scores.index))
    for name in ["low", "medium", "high"] if "risk_band" in scores.columns else ["all"]:
        vals = scores.loc[band == name, "churn_probability"].dropna()
        fig.add_trace(go.Histogram(x=list(vals), name=name, xbins=dict(start=0, end=1, size=0.025),
                                   marker_color=colors.get(name, "#2186eb")))
    fig.update_layout(title="Churn probability by risk band", barmode="stack",
                      xaxis_title="churn probability", yaxis_title="customers")
    return fig


def fig_model_quality(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    ev = results.get("churn_evaluation")
    if ev is None or ev.empty:
        return None
    frame = ev.copy()
    metric = next((c for c in frame.columns if str(c).lower() in ("roc_auc", "auc")), None)
    if metric is None:
        return None
    names = frame.index.astype(str) if "model" not in frame.columns else frame["model"].astype(str)
    fig = _bar(names, frame[metric], "Churn model vs baselines (ROC AUC, back-test)",
               marker_color="#2186eb")
    fig.update_yaxes(range=[0.5, 1])
    return fig


def _satisfaction_plot(name: str, *args: Any) -> go.Figure | None:
    try:
        from crm_analytics.satisfaction import plotting
    except ImportError:
        return None
    fn: Callable[..., go.Figure] | None = getattr(plotting, name, None)
    if fn is None:
        return None
    try:
        return fn(*args)
    except Exception as exc:  # a figure that cannot be drawn must not sink the other pages
        log.warning("figure %s not drawn: %s", name, exc)
        return None


def fig_nps_trend(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    nps = results.get("nps_by_month")
    if nps is None or nps.empty:
        return None
    period = next((c for c in ("period", "month") if c in nps.columns), None)
    return _satisfaction_plot("plot_nps_trend", nps, period) if period else None


def fig_drivers(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    drivers = results.get("satisfaction_drivers")
    if drivers is None or drivers.empty:
        return None
    return _satisfaction_plot("plot_importance_performance", drivers)


def fig_sla_trend(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    svc = results.get("service_by_month")
    if svc is None or svc.empty or "sla_compliance" not in svc.columns:
        return None
    period = next((c for c in ("period", "month") if c in svc.columns), None)
    return _satisfaction_plot("plot_sla_trend", svc, period, "sla_compliance") if period else None


# -- pages -------------------------------------------------------------------------------------
def run_skipped(run: dict[str, Any]) -> dict[str, str]:
    """What a run skipped and why (``metrics["skipped"]`` of its ``runs`` row); {} if nothing.

    Examples
    --------
    >>> run_skipped({"metrics": '{"skipped": {"churn": "no transactions"}}'})
    {'churn': 'no transactions'}
    """
    metrics = run.get("metrics")
    if isinstance(metrics, str):
        try:
            metrics = json.loads(metrics)
        except ValueError:
            return {}
    skipped = metrics.get("skipped") if isinstance(metrics, dict) else None
    return {str(k): str(v) for k, v in skipped.items()} if isinstance(skipped, dict) else {}


def _skipped_html(skipped: dict[str, str]) -> str:
    if not skipped:
        return ""
    items = "".join(f"<li><b>{_esc(what)}</b>: {_esc(why)}</li>" for what, why in skipped.items())
    return (f'<div class="skipped" id="skipped"><b>Not computed in this run</b> (the data do not '
            f"support it yet; everything else is scored)<ul>{items}</ul></div>")


def _overview(scores: pd.DataFrame, results: dict[str, pd.DataFrame], previous: pd.DataFrame | None,
              skipped: dict[str, str] | None = None) -> str:
    ov = results.get("overview")
    row = ov.iloc[0].to_dict() if ov is not None and not ov.empty else {}
    prev = previous.iloc[0].to_dict() if previous is not None and not previous.empty else {}

    def card_for(key: str, label: str, *, pct: bool = False, digits: int = 0,
                 higher_is_better: bool = True, suffix: str = "") -> str:
        value = row.get(key, float("nan"))
        shown = _num(value, digits=digits, pct=pct) + suffix
        delta, direction = _delta(value, prev.get(key), pct=pct, higher_is_better=higher_is_better)
        return kpi(key, label, value, shown, delta, direction)

    nps_ci = ""
    if not math.isnan(float(row.get("nps_ci_lower", float("nan")))):
        nps_ci = (f" (95% CI {row['nps_ci_lower']:.1f} to {row['nps_ci_upper']:.1f}, "
                  f"n={int(row.get('nps_n', 0)):,})")
    cards = [
        card_for("customers", "Customers"),
        card_for("active_customers", "Active (bought in 365 d)"),
        card_for("revenue_365d", "Net revenue, last 365 days"),
        card_for("total_clv", "Total CLV (horizon)"),
        card_for("revenue_at_risk", "Revenue at risk", higher_is_better=False),
        card_for("high_risk_customers", "High churn risk", higher_is_better=False),
        card_for("nps", "NPS", digits=1, suffix=nps_ci),
        card_for("satisfaction_index", "Satisfaction index (0-100)", digits=1),
        card_for("sla_compliance", "SLA compliance", pct=True),
    ]
    charts = [
        card("Net revenue by month", figure_html(fig_revenue_by_month(results), "revenue-by-month")),
        card("Customers by size band", figure_html(
            fig_counts(scores, "size_band", "Customers by size band",
                       ["large", "small_medium", "consumer", "unknown"]), "size-band")),
        card("Customers by churn risk", figure_html(
            fig_counts(scores, "risk_band", "Customers by churn risk band", ["low", "medium", "high"],
                       missing="not scored (inactive)"), "risk-band")),
        card("Revenue-potential codes", figure_html(fig_potential_codes(scores), "potential-codes")),
    ]
    return (f'{_skipped_html(skipped or {})}<div class="kpis">{"".join(cards)}</div>'
            f'<div class="grid">{"".join(charts)}</div>')


def _segments(scores: pd.DataFrame, results: dict[str, pd.DataFrame]) -> str:
    parts = [
        card("Size × needs", figure_html(fig_size_needs_grid(scores), "size-needs-grid")),
        card("RFM segments", figure_html(fig_rfm(scores), "rfm-segments")),
        card("Value tiers", figure_html(
            fig_counts(scores, "value_tier", "Customers by value tier"), "value-tiers")),
        card("Size segments", figure_html(
            fig_counts(scores, "size_segment", "Customers by size segment"), "size-segments")),
    ]
    for key, title in (("profile_needs_segment_name", "Needs segment profiles"),
                       ("profile_size_segment", "Size segment profiles"),
                       ("profile_rfm_segment", "RFM segment profiles")):
        if key in results:
            parts.append(card(title, table_html(results[key]), wide=True))
    return f'<div class="grid">{"".join(parts)}</div>'


def _value(scores: pd.DataFrame) -> str:
    parts = [
        card("CLV distribution", figure_html(fig_clv_distribution(scores), "clv-distribution")),
        card("Revenue-potential codes", figure_html(fig_potential_codes(scores), "value-potential-codes")),
    ]
    cols = [c for c in ("name", "size_band", "industry", "clv", "revenue_potential",
                        "revenue_potential_code", "p_alive") if c in scores.columns]
    if "revenue_potential" in scores.columns:
        top = scores.sort_values("revenue_potential", ascending=False)[cols].head(25)
        parts.append(card("Top 25 customers by revenue potential", table_html(_labelled(top)), wide=True))
    return f'<div class="grid">{"".join(parts)}</div>'


def _churn(scores: pd.DataFrame, results: dict[str, pd.DataFrame]) -> str:
    parts = [
        card("Churn risk distribution", figure_html(fig_churn_distribution(scores), "churn-distribution")),
        card("Model quality vs baselines", figure_html(fig_model_quality(results), "model-quality")),
    ]
    if "churn_probability" in scores.columns:
        key = "revenue_at_risk" if "revenue_at_risk" in scores.columns else "churn_probability"
        cols = [c for c in ("name", "churn_probability", "risk_band", "revenue_at_risk", "clv",
                            "reason_1", "reason_2", "reason_3") if c in scores.columns]
        top = scores[scores.get("risk_band", "high") == "high"].sort_values(key, ascending=False)
        parts.append(card("Top 25 at-risk customers", table_html(_labelled(top[cols]), max_rows=25),
                          wide=True))
    if "churn_evaluation" in results:
        parts.append(card("Back-test metrics", table_html(results["churn_evaluation"], float_digits=3),
                          wide=True))
    return f'<div class="grid">{"".join(parts)}</div>'


def _satisfaction(results: dict[str, pd.DataFrame]) -> str:
    parts = [
        card("NPS by month", figure_html(fig_nps_trend(results), "nps-trend")),
        card("Satisfaction drivers", figure_html(fig_drivers(results), "driver-map")),
        card("SLA compliance by month", figure_html(fig_sla_trend(results), "sla-trend")),
    ]
    for key, title in (("service_overall", "Service quality"), ("nps_overall", "NPS"),
                       ("satisfaction_index", "Satisfaction index by construct")):
        if key in results:
            parts.append(card(title, table_html(results[key])))
    return f'<div class="grid">{"".join(parts)}</div>'


def build_pages(
    scores: pd.DataFrame, results: dict[str, pd.DataFrame], run: dict[str, Any],
    previous_overview: pd.DataFrame | None = None,
) -> dict[str, str]:
    """HTML of every page, by file name."""
    bodies = {
        "index.html": _overview(scores, results, previous_overview, run_skipped(run)),
        "segments.html": _segments(scores, results),
        "value.html": _value(scores),
        "churn.html": _churn(scores, results),
        "satisfaction.html": _satisfaction(results),
    }
    return {f: page(t, f, run, bodies[f]) for f, t in PAGES}


def _previous_run(store: Store, run: dict[str, Any]) -> str | None:
    got = store.sql(
        "SELECT run_id FROM runs WHERE status = 'succeeded' AND finished_at < ? "
        "ORDER BY finished_at DESC LIMIT 1", [run["finished_at"]],
    )
    return None if got.empty else str(got["run_id"].iloc[0])


def write_dashboards(store: Store | str | os.PathLike, out_dir: str | os.PathLike, *,
                     run_id: str | None = None) -> Path:
    """Write the dashboard pages of a run (default: the latest) into ``out_dir``.

    Files are written beside their final names and renamed into place, so a
    reader never sees a half-written page. Returns the path of ``index.html``.

    Examples
    --------
    >>> import tempfile
    >>> from crm_analytics import Store, run_batch
    >>> from crm_analytics.datasets import synthetic
    >>> store = Store(":memory:")
    >>> _ = store.load_all(synthetic.generate(n_customers=200, seed=1).tables())
    >>> _ = run_batch(store, config={"steps": ["inputs", "attributes"]})
    >>> index = write_dashboards(store, tempfile.mkdtemp())
    >>> sorted(p.name for p in index.parent.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['churn.html', 'index.html', 'plotly.min.js', 'satisfaction.html', 'segments.html',
     'value.html']
    """
    with reading(store) as s:
        rid = run_id or latest_run_id(s)
        results = run_results(s, rid)
        meta = results.pop("_run")
        if meta.empty:
            raise InputError(f"no run {rid!r} in {s.path}")
        run = meta.iloc[0].to_dict()
        scores = latest_scores(s, run_id=rid)
        prev_id = _previous_run(s, run)
        previous = run_results(s, prev_id).get("overview") if prev_id else None
    pages = build_pages(scores, results, run, previous)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {PLOTLY_FILE: get_plotlyjs(), **pages}
    for name, text in files.items():
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; pages are meant to be served and shared
        os.replace(tmp, out / name)
    log.info("dashboards of run %s written to %s", rid, out)
    return (out / "index.html").resolve()
