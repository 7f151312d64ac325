"""Rendering of the dashboard pages (HTML strings) and their atomic publication.

Readability rules every page follows (tested in ``tests/apps/test_dashboards.py``):

* every chart axis names its measure and unit ("Net revenue (EUR)", "Customers",
  "ROC AUC"); money carries the run's currency (:class:`Units`);
* tables show human headers (the score-column registry's labels, :data:`RESULT_COLUMNS`
  for the result tables), formatted numbers (thousands separators, money, shares
  as %), no pandas index unless it is a label (a segment, a customer id), one-row
  tables as "measure | value" lists, and scroll sideways inside their card;
* a chart that leaves data out or caps them says so in a note under it.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from crm_analytics.campaigns.results import campaign_overview, overview_html, plot_overview
from crm_analytics.dashboards.forecast_page import forecast_cards
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
    ("campaigns.html", "Campaigns"),
]
#: Pages shown only when the run has their result table: (file, title, table).
OPTIONAL_PAGES: list[tuple[str, str, str]] = [
    ("subscriptions.html", "Subscriptions", "subscription_cohorts"),
    ("forecast.html", "Forecast", "forecast"),
]
PLOTLY_FILE = "plotly.min.js"
#: Currency shown when neither the run's config nor ``write_dashboards(currency=...)`` names
#: one (runs written before the ``currency`` option). The same as ``RunConfig.currency``.
DEFAULT_CURRENCY = "EUR"
# Figures are drawn while the page is still being laid out; once it is, fit them
# to their cards (and again whenever the window changes size).
RESIZE_JS = (
    "window.addEventListener('load',function(){document.querySelectorAll('.plotly-graph-div')"
    ".forEach(function(d){Plotly.Plots.resize(d);});});"
)

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}
nav{background:#1f2933;padding:0 24px;display:flex;flex-wrap:wrap;gap:4px;align-items:center}
nav a{color:#cbd2d9;text-decoration:none;padding:14px 12px;display:inline-block}
nav a.current{color:#fff;border-bottom:3px solid #3ebd93}
nav .brand{color:#fff;font-weight:600;margin-right:16px}
main{padding:20px 24px;max-width:1400px}
h1{font-size:22px;margin:4px 0 2px}
.meta{color:#616e7c;font-size:13px;margin-bottom:16px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px;margin-bottom:18px}
.kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .label{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.04em}
.kpi .value{font-size:24px;font-weight:600;margin-top:4px;white-space:nowrap}
.kpi .sub{font-size:12px;color:#616e7c;margin-top:2px}
.kpi .delta{font-size:12px;color:#616e7c;margin-top:2px}
.kpi .delta.up{color:#199473}.kpi .delta.down{color:#cf1124}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(560px,100%),1fr));gap:16px}
.card.wide{grid-column:1/-1}
.card{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.08);
min-width:0;overflow:hidden}
.card h2{font-size:15px;margin:2px 4px 8px}
.note{color:#616e7c;font-size:13px;padding:4px 8px}
.skipped{background:#fffbea;border-left:4px solid #f0b429;border-radius:8px;padding:10px 14px;
margin-bottom:18px;font-size:13px}.skipped ul{margin:4px 0 0;padding-left:18px}
.table-wrap{overflow-x:auto;max-width:100%}
table.data{border-collapse:collapse;font-size:13px;width:100%}
table.data th,table.data td{border-bottom:1px solid #e4e7eb;padding:5px 8px;text-align:left;
vertical-align:top}
table.data th{background:#f5f7fa;vertical-align:bottom;font-weight:600;min-width:4em}
table.data td.num,table.data th.num{text-align:right;font-variant-numeric:tabular-nums}
table.data td{white-space:nowrap}
table.data td.wrap{white-space:normal;min-width:16em}
table.data.measures{width:auto;min-width:50%}
"""


# -- units and formatting -----------------------------------------------------------------------
@dataclass(frozen=True)
class Units:
    """What the numbers of one run are in: its currency and horizons (from the run's config)."""

    currency: str = DEFAULT_CURRENCY
    clv_horizon_days: int = 365
    churn_horizon_days: int = 90

    @classmethod
    def of_run(cls, run: dict[str, Any], currency: str | None = None) -> Units:
        """The units stored with ``run`` (its ``config``); ``currency`` overrides the stored one.

        Examples
        --------
        >>> Units.of_run({"config": '{"currency": "CHF", "clv_horizon_days": 730}'})
        Units(currency='CHF', clv_horizon_days=730, churn_horizon_days=90)
        >>> Units.of_run({"config": "{}"}, currency="USD").currency
        'USD'
        """
        config = run.get("config")
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError:
                config = {}
        config = config if isinstance(config, dict) else {}

        def whole(key: str, default: int) -> int:
            try:
                return int(config.get(key) or default)
            except (TypeError, ValueError):
                return default

        chosen = (currency if currency is not None else config.get("currency")) or DEFAULT_CURRENCY
        return cls(str(chosen).strip() or DEFAULT_CURRENCY, whole("clv_horizon_days", 365),
                   whole("churn_horizon_days", 90))

    def money(self, value: Any, digits: int = 0) -> str:
        """``"EUR 1,234"`` (``digits`` decimals); ``"n/a"`` for a missing value.

        Examples
        --------
        >>> Units("EUR").money(1234.5), Units("USD").money(-28.17, 2)
        ('EUR 1,234', 'USD -28.17')
        """
        if _missing(value):
            return "n/a"
        return f"{self.currency} {float(value):,.{digits}f}"

    def axis(self, measure: str) -> str:
        """An axis title for a money measure: ``"Net revenue (EUR)"``."""
        return f"{measure} ({self.currency})"


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, (float, np.floating)) and math.isnan(value))
    except TypeError:
        return False


def _num(value: Any, *, digits: int = 0, pct: bool = False) -> str:
    if _missing(value):
        return "n/a"
    if pct:
        return f"{float(value):.1%}"
    return f"{float(value):,.{digits}f}"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def kpi(key: str, label: str, value: Any, shown: str, delta: str = "", direction: str = "",
        sub: str = "") -> str:
    """A headline number; ``data-value`` holds the exact stored value."""
    raw = "" if _missing(value) else repr(
        float(value) if isinstance(value, (int, float, np.number)) else value)
    cls = f"delta {direction}".strip()
    sub_html = f'<div class="sub">{_esc(sub)}</div>' if sub else ""
    return (
        f'<div class="kpi" data-kpi="{_esc(key)}" data-value="{_esc(raw)}">'
        f'<div class="label">{_esc(label)}</div><div class="value">{_esc(shown)}</div>{sub_html}'
        f'<div class="{cls}">{_esc(delta)}</div></div>'
    )


def _delta(now: Any, before: Any, *, pct: bool = False, higher_is_better: bool = True,
           currency: str | None = None) -> tuple[str, str]:
    try:
        now_f, before_f = float(now), float(before)
    except (TypeError, ValueError):
        return "", ""
    if math.isnan(now_f) or math.isnan(before_f):
        return "", ""
    diff = now_f - before_f
    if diff == 0:
        return "no change vs previous run", ""
    if pct:
        text = f"{diff * 100:+.1f} points"
    elif currency:
        text = f"{'+' if diff > 0 else '-'}{currency} {abs(diff):,.0f}"
    else:
        text = f"{diff:+,.0f}" if abs(diff) >= 10 else f"{diff:+,.2f}"
    good = (diff > 0) == higher_is_better
    return f"{text} vs previous run", "up" if good else "down"


# -- tables -------------------------------------------------------------------------------------
#: Headers and formats of the result-table columns (``run_results``); score columns use the
#: registry's labels (:data:`crm_analytics.store.score_columns.SCORE_COLUMNS`). Kinds:
#: ``money0``/``money2`` (currency, whole units / cents), ``pct`` (a share), ``int``,
#: ``num1``/``num2``/``num3`` (decimals), ``bool``, ``date``, ``text``.
RESULT_COLUMNS: dict[str, tuple[str, str]] = {
    # segment profiles
    "customers": ("Customers", "int"),
    "customer_share": ("Share of customers", "pct"),
    "revenue_365d": ("Net revenue, last 365 days", "money0"),
    "revenue_share": ("Share of revenue", "pct"),
    "clv_sum": ("Total CLV", "money0"),
    "clv_mean": ("Mean CLV", "money2"),
    "revenue_potential_sum": ("Total revenue potential", "money0"),
    "churn_probability_mean": ("Mean churn probability", "pct"),
    "high_risk_share": ("Share at high churn risk", "pct"),
    "revenue_at_risk": ("Revenue at risk", "money0"),
    "nps": ("NPS", "num1"),
    "nps_n": ("NPS answers", "int"),
    "csat_mean": ("Mean CSAT", "num2"),
    "complaints_per_customer": ("Complaints per customer", "num2"),
    "top_regions": ("Top regions", "text"),
    "top_categories": ("Top categories", "text"),
    # churn back-test
    "roc_auc": ("ROC AUC", "num3"),
    "pr_auc": ("PR AUC", "num3"),
    "brier": ("Brier score (lower is better)", "num3"),
    "log_loss": ("Log loss (lower is better)", "num3"),
    "lift_top10": ("Lift, top 10%", "num2"),
    "capture_top10": ("Churners caught, top 10%", "pct"),
    "lift_top20": ("Lift, top 20%", "num2"),
    "capture_top20": ("Churners caught, top 20%", "pct"),
    # NPS
    "n": ("Answers", "int"),
    "n_missing": ("Missing answers", "int"),
    "promoter_share": ("Promoters", "pct"),
    "passive_share": ("Passives", "pct"),
    "detractor_share": ("Detractors", "pct"),
    "std_error": ("Standard error (NPS points)", "num2"),
    "ci_lower": ("95% interval, lower", "num1"),
    "ci_upper": ("95% interval, upper", "num1"),
    "reportable": ("Reportable (enough answers)", "bool"),
    "note": ("Note", "text"),
    # service quality
    "n_tickets": ("Tickets", "int"),
    "n_resolved": ("Resolved", "int"),
    "n_open": ("Open", "int"),
    "n_sla_met": ("Within SLA", "int"),
    "n_sla_breached": ("SLA breached", "int"),
    "n_sla_pending": ("SLA pending (open, not yet due)", "int"),
    "n_no_sla": ("Without SLA", "int"),
    "sla_compliance": ("SLA compliance", "pct"),
    "n_responded": ("Responded", "int"),
    "first_response_p50_hours": ("First response, median (hours)", "num1"),
    "first_response_p90_hours": ("First response, 90th percentile (hours)", "num1"),
    "resolution_p50_hours": ("Resolution, median (hours)", "num1"),
    "resolution_p90_hours": ("Resolution, 90th percentile (hours)", "num1"),
    "n_reopened": ("Reopened", "int"),
    "reopen_rate": ("Reopen rate", "pct"),
    "n_complaints": ("Complaints", "int"),
    "n_customers": ("Customers", "int"),
    "complaints_per_100_customers": ("Complaints per 100 customers", "num1"),
    "backlog": ("Backlog (open tickets)", "int"),
    # satisfaction index, drivers
    "index": ("Index (0-100)", "num1"),
    "importance": ("Importance (total effect)", "num3"),
    "performance": ("Performance (0-100)", "num1"),
    "quadrant": ("Quadrant", "text"),
    # index names that are labels
    "customer_id": ("Customer ID", "text"),
    "model": ("Model", "text"),
    "construct": ("Construct", "text"),
    "month": ("Month", "date"),
    # subscriptions (crm_analytics.subscriptions.subscription_report)
    "segment": ("Segment", "text"),
    "subscriptions": ("Subscriptions", "int"),
    "cancelled": ("Cancelled", "int"),
    "median": ("Median lifetime (periods)", "num1"),
    "median_ci_lower": ("Median, 95% interval lower", "num1"),
    "median_ci_upper": ("Median, 95% interval upper", "num1"),
    "alpha": ("sBG alpha", "num3"),
    "beta": ("sBG beta", "num3"),
    "mean_churn": ("Churn in period 1 (sBG)", "pct"),
    "mean_churn_ci_lower": ("Churn, 95% interval lower", "pct"),
    "mean_churn_ci_upper": ("Churn, 95% interval upper", "pct"),
    "expected_discounted_lifetime": ("Discounted expected lifetime (periods)", "num2"),
    "active_subscriptions": ("Active subscriptions", "int"),
    "mean_p_renew_next": ("Next renewal, mean probability", "pct"),
    "mean_remaining_periods": ("Expected further periods (3 years ahead), mean", "num1"),
    "residual_value": ("Residual value (DERL x amount)", "money0"),
}
#: Formats of the numeric score columns (labels come from the registry).
SCORE_KINDS: dict[str, str] = {
    **dict.fromkeys(("revenue_365d", "revenue_lifetime", "monetary_value", "clv", "expected_spend",
                     "revenue_last_12m", "revenue_prior_12m", "annual_spend",
                     "peer_annual_spend_q75", "headroom", "headroom_value", "revenue_potential",
                     "revenue_at_risk", "net_spend_365d", "annual_revenue"), "money2"),
    **dict.fromkeys(("p_alive", "churn_probability", "growth_rate"), "pct"),
    **dict.fromkeys(("employees", "transactions_365d", "frequency", "peer_count", "complaints_365d",
                     "sla_breaches_365d", "open_tickets", "recency_days", "purchase_days_365d",
                     "r_score", "f_score", "m_score", "needs_segment", "latest_nps"), "int"),
    **dict.fromkeys(("recency_weeks", "tenure_weeks", "expected_purchases", "csat_mean_180d"),
                    "num2"),
    **dict.fromkeys(("created_at", "last_purchase_at"), "date"),
}
#: Names of the churn back-test's models, as a reader knows them.
MODEL_NAMES = {
    "model": "Churn model (gradient boosting)",
    "recency_rule": "Recency rule (no purchase in N days)",
    "logistic": "Logistic regression",
    "bgnbd": "BG/NBD purchase model",
}
_LABELS = {c.name: c.label for c in SCORE_COLUMNS}
_MONEY = ("money0", "money2")


def column_spec(name: Any) -> tuple[str, str]:
    """``(header, kind)`` of a column: result-table map, then the score registry, else humanised.

    Examples
    --------
    >>> column_spec("clv"), column_spec("customer_share"), column_spec("odd_thing")
    (('CLV', 'money2'), ('Share of customers', 'pct'), ('Odd thing', 'text'))
    """
    key = str(name)
    if key in RESULT_COLUMNS:
        return RESULT_COLUMNS[key]
    if key in _LABELS:
        return _LABELS[key], SCORE_KINDS.get(key, "text")
    text = key.replace("_", " ").strip()
    return (text[:1].upper() + text[1:]) or key, "text"


def format_value(value: Any, kind: str, units: Units) -> str:
    """One cell as shown: money with the currency, shares as %, thousands separators.

    Examples
    --------
    >>> u = Units("EUR")
    >>> format_value(1234.567, "money2", u), format_value(0.1234, "pct", u), format_value(1e6, "int", u)
    ('EUR 1,234.57', '12.3%', '1,000,000')
    """
    if _missing(value):
        return "–"
    if kind in _MONEY:
        return units.money(value, 0 if kind == "money0" else 2)
    if kind == "pct":
        return _num(value, pct=True)
    if kind == "int":
        return _num(value)
    if kind in ("num1", "num2", "num3"):
        return _num(value, digits=int(kind[-1]))
    if kind == "bool":
        return "yes" if bool(value) else "no"
    if kind == "date":
        try:
            return str(pd.Timestamp(value).date())
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _is_numeric_kind(kind: str) -> bool:
    return kind in (*_MONEY, "pct", "int", "num1", "num2", "num3")


def _with_label_index(frame: pd.DataFrame, index_name: str | None = None) -> tuple[pd.DataFrame, bool]:
    """The index as a first column when it is a label (a name); a plain row number is dropped.

    Returns the frame and whether its first column is that label.
    """
    idx = frame.index
    if isinstance(idx, pd.RangeIndex) or (idx.name is None and pd.api.types.is_integer_dtype(idx)):
        return frame.reset_index(drop=True), False
    name = idx.name if idx.name is not None else (index_name or "label")
    out = frame.copy()
    out.index.name = name if name not in out.columns else f"{name} "
    return out.reset_index(), True


def table_html(frame: pd.DataFrame | None, *, units: Units | None = None, max_rows: int = 30,
               values: dict[str, dict[str, str]] | None = None,
               headers: dict[str, str] | None = None, index_name: str | None = None) -> str:
    """A table in its scrolling wrapper: human headers, formatted numbers, no row numbers.

    A one-row table is shown as a "Measure | Value" list. ``values`` renames the
    values of a column (``{"model": MODEL_NAMES}``); ``headers`` overrides headers;
    ``index_name`` names an unnamed label index. Columns with no value at all are left out.
    """
    units = units or Units()
    if frame is None or frame.empty:
        return '<div class="note">no rows</div>'
    shown, labelled = _with_label_index(frame, index_name)
    shown = shown[[c for c in shown.columns
                   if not shown[c].map(lambda v: _missing(v) or v == "").all()]]
    specs = {c: column_spec(c) for c in shown.columns}
    if headers:
        specs = {c: (headers.get(str(c), h), k) for c, (h, k) in specs.items()}
    rename = values or {}

    def cell(col: Any, value: Any) -> tuple[str, bool]:
        kind = specs[col][1]
        if str(col) in rename and not _missing(value):
            return rename[str(col)].get(str(value), str(value)), False
        return format_value(value, kind, units), _is_numeric_kind(kind)

    if len(frame) == 1 and len(shown.columns) > 2:
        row = shown.iloc[0]
        body = "".join(
            f'<tr><th scope="row">{_esc(specs[c][0])}</th>'
            f'<td class="{"num" if num else ""}">{_esc(text)}</td></tr>'
            for c in shown.columns for text, num in [cell(c, row[c])])
        return (f'<div class="table-wrap"><table class="data measures"><thead><tr>'
                f'<th scope="col">Measure</th><th scope="col" class="num">Value</th></tr></thead>'
                f"<tbody>{body}</tbody></table></div>")
    part = shown.head(max_rows)
    numeric = {c: _is_numeric_kind(specs[c][1]) and str(c) not in rename for c in part.columns}
    head = "".join(f'<th scope="col" class="{"num" if numeric[c] else ""}">{_esc(specs[c][0])}</th>'
                   for c in part.columns)
    # long free text (churn reasons) wraps; everything else stays on one line and the table scrolls
    wrap = {c for c in part.columns if specs[c][1] == "text" and c != (part.columns[0] if labelled
            else None) and part[c].map(lambda v: len(str(v)) if not _missing(v) else 0).max() > 40}
    rows = []
    for _, r in part.iterrows():
        cells = "".join(f'<td class="{"num" if num else "wrap" if c in wrap else ""}">{_esc(text)}</td>'
                        for c in part.columns for text, num in [cell(c, r[c])])
        rows.append(f"<tr>{cells}</tr>")
    more = (f'<div class="note">showing {len(part):,} of {len(frame):,} rows</div>'
            if len(frame) > len(part) else "")
    return (f'<div class="table-wrap"><table class="data"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{more}')


# -- page frame ---------------------------------------------------------------------------------
def figure_html(fig: go.Figure | None, div_id: str, note: str = "not available in this run",
                *, height: int = 360) -> str:
    """A figure filling its card; notes the figure carries (``layout.meta["notes"]``) below it."""
    if fig is None:
        return f'<div class="note">{_esc(note)}</div>'
    notes = figure_notes(fig)
    # The card carries the title; the figure fills the card's width.
    fig.update_layout(title=None, margin=dict(l=60, r=20, t=30, b=60), height=height,
                      template="plotly_white", autosize=True,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       default_width="100%", default_height=f"{height}px",
                       config={"displaylogo": False, "responsive": True})
    return body + "".join(f'<div class="note figure-note">{_esc(n)}</div>' for n in notes)


def figure_notes(fig: go.Figure) -> list[str]:
    """The notes a figure carries for its reader (what it caps, leaves out or explains)."""
    meta = fig.layout.meta
    return list(meta.get("notes", [])) if isinstance(meta, dict) else []


def _add_note(fig: go.Figure, text: str) -> None:
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    fig.update_layout(meta={**meta, "notes": [*meta.get("notes", []), text]})


def card(title: str, body: str, *, wide: bool = False) -> str:
    cls = "card wide" if wide else "card"
    return f'<div class="{cls}"><h2>{_esc(title)}</h2>{body}</div>'


def page(title: str, current: str, run: dict[str, Any], body: str, units: Units | None = None,
         nav: list[tuple[str, str]] | None = None) -> str:
    links = "".join(
        f'<a href="{f}" class="{"current" if f == current else ""}">{_esc(t)}</a>'
        for f, t in (nav or PAGES)
    )
    as_of = pd.Timestamp(run.get("as_of")).date() if run.get("as_of") is not None else "?"
    finished = run.get("finished_at")
    finished_text = (pd.Timestamp(finished).strftime("%Y-%m-%d %H:%M")
                     if finished is not None and not isinstance(finished, str) else finished)
    money = f" · amounts in {_esc(units.currency)}" if units else ""
    meta = (f"run {_esc(run.get('run_id'))} · data as of {_esc(as_of)} · "
            f"finished {_esc(finished_text)} UTC{money}")
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
def _bar(x: Any, y: Any, *, x_title: str, y_title: str, **kw: Any) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(x), y=list(y), **kw))
    fig.update_layout(xaxis_title=x_title, yaxis_title=y_title)
    return fig


def fig_revenue_by_month(results: dict[str, pd.DataFrame], units: Units | None = None
                         ) -> go.Figure | None:
    units = units or Units()
    r = results.get("revenue_by_month")
    if r is None or r.empty:
        return None
    months = pd.to_datetime(r["month"]).dt.strftime("%Y-%m")
    return _bar(months, r["revenue"], x_title="Month", y_title=units.axis("Net revenue"),
                marker_color="#3ebd93", name="Net revenue",
                hovertemplate=f"%{{x}}: {units.currency} %{{y:,.2f}}<extra></extra>")


def fig_counts(
    scores: pd.DataFrame, column: str, x_title: str, order: Iterable[str] | None = None,
    missing: str = "(none)",
) -> go.Figure | None:
    """Customers per value of ``column`` (every value in ``order`` shown, empty ones as 0)."""
    if column not in scores.columns:
        return None
    counts = scores[column].fillna(missing).astype(str).value_counts()
    if order is not None:
        order = list(order)
        counts = counts.reindex(order + [i for i in counts.index if i not in order], fill_value=0)
    return _bar(counts.index.astype(str), counts.values, x_title=x_title, y_title="Customers",
                marker_color="#2186eb", text=[f"{v:,}" for v in counts.values],
                textposition="outside", textangle=0, cliponaxis=False, name="Customers",
                hovertemplate="%{x}: %{y:,} customers<extra></extra>")


def fig_size_needs_grid(scores: pd.DataFrame) -> go.Figure | None:
    row = "size_segment" if "size_segment" in scores.columns else "size_band"
    col = "needs_segment_name" if "needs_segment_name" in scores.columns else None
    if row not in scores.columns or col is None:
        return None
    # needs names are long: they read best along the y axis
    grid = pd.crosstab(scores[col].fillna("(no needs segment)"), scores[row].fillna("(none)"))
    fig = go.Figure(go.Heatmap(z=grid.values, x=list(grid.columns.astype(str)),
                               y=list(grid.index.astype(str)), colorscale="Blues",
                               colorbar=dict(title=dict(text="Customers")),
                               text=grid.values, texttemplate="%{text:,}", hovertemplate=
                               "%{y} × %{x}: %{z:,} customers<extra></extra>"))
    fig.update_layout(xaxis_title=_LABELS.get(row, row), yaxis_title="Needs segment",
                      xaxis_tickangle=-35, yaxis_autorange="reversed")
    return fig


def _rfm_cells() -> tuple[tuple[str, ...], str]:
    from crm_analytics.segmentation.rfm import NO_PURCHASES, RFM_SEGMENTS

    return RFM_SEGMENTS, NO_PURCHASES


def fig_rfm(scores: pd.DataFrame, units: Units | None = None) -> go.Figure | None:
    """Customers (top) and their net revenue over 365 days (bottom) in every named RFM cell.

    All eleven cells are shown, best first, empty ones as 0. Customers without a
    purchase have no cell; a note counts them. Net revenue subtracts refunds, so a
    cell whose customers mostly returned goods bought earlier can be negative: drawn
    below zero and explained in a note.
    """
    units = units or Units()
    if "rfm_segment" not in scores.columns:
        return None
    cells, no_purchases = _rfm_cells()
    revenue_col = next((c for c in ("revenue_365d", "net_spend_365d") if c in scores.columns), None)
    revenue = (scores[revenue_col].fillna(0.0) if revenue_col
               else pd.Series(np.nan, index=scores.index))
    g = (pd.DataFrame({"segment": scores["rfm_segment"].astype("object"), "revenue": revenue})
         .groupby("segment", dropna=True)
         .agg(customers=("segment", "size"), revenue=("revenue", "sum")))
    others = [s for s in g.index if s not in cells and s != no_purchases]
    shown = g.reindex(list(cells) + others).fillna({"customers": 0, "revenue": 0.0})
    x = [str(s) for s in shown.index]
    customers = shown["customers"].astype(int).tolist()
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.5, 0.5])
    fig.add_trace(go.Bar(x=x, y=customers, name="Customers", marker_color="#2186eb",
                         text=[f"{v:,}" for v in customers], textposition="outside",
                         textangle=0, cliponaxis=False,
                         hovertemplate="%{x}: %{y:,} customers<extra></extra>"), row=1, col=1)
    if revenue_col:
        rev = shown["revenue"].astype(float).tolist()
        fig.add_trace(go.Bar(
            x=x, y=rev, name="Net revenue, last 365 days",
            marker_color=["#cf1124" if v < 0 else "#3ebd93" for v in rev],
            hovertemplate=f"%{{x}}: net revenue (365 days) {units.currency} %{{y:,.2f}}<extra></extra>",
        ), row=2, col=1)
    fig.update_yaxes(title_text="Customers", row=1, col=1)
    fig.update_yaxes(title_text=units.axis("Net revenue, 365 d"), row=2, col=1)
    fig.update_xaxes(title_text="RFM segment (best to worst)", row=2, col=1)
    fig.update_layout(showlegend=False, bargap=0.25)
    if no_purchases in g.index:
        n = int(g.loc[no_purchases, "customers"])
        _add_note(fig, f"{n:,} customers without any purchase have no RFM cell and are not shown.")
    if revenue_col:
        negative = shown[shown["revenue"] < 0]
        if not negative.empty:
            where = ", ".join(f"{s} ({units.money(v, 2)})" for s, v in negative["revenue"].items())
            _add_note(fig, f"Net revenue subtracts refunds, so it is negative (red) where refunds in "
                           f"the last 365 days exceed purchases: {where} — customers whose purchases "
                           f"are older than a year but who returned goods since.")
    else:
        _add_note(fig, "Revenue is not available in this run; only customer counts are shown.")
    return fig


def fig_clv_distribution(scores: pd.DataFrame, units: Units | None = None, *,
                         cap_quantile: float = 0.99, nbins: int = 50) -> go.Figure | None:
    """Histogram of CLV; a long tail above the 99th percentile is grouped in a last bin, said so."""
    units = units or Units()
    if "clv" not in scores.columns or scores["clv"].dropna().empty:
        return None
    clv = scores["clv"].dropna().astype(float)
    top = float(clv.quantile(cap_quantile))
    low = min(0.0, float(clv.min()))
    above = clv[clv > top]
    capped = not above.empty and float(clv.max()) > top + 0.1 * (top - low) and top > low
    end = top if capped else float(clv.max())
    size = (end - low) / nbins if end > low else 1.0
    bins = dict(start=low, end=end + size, size=size)
    measure = f"CLV, next {units.clv_horizon_days} days, discounted"
    fig = go.Figure(go.Histogram(
        x=list(clv[clv <= end]), xbins=bins, marker_color="#2186eb", name="Customers",
        hovertemplate=f"CLV {units.currency} %{{x}}: %{{y:,}} customers<extra></extra>"))
    if capped:
        pct = f"{cap_quantile * 100:g}th percentile"
        fig.add_trace(go.Histogram(
            x=[top + size / 2] * len(above), xbins=bins, marker_color="#f0b429",
            name=f"above the {pct}",
            hovertemplate=(f"above {units.money(top)} (up to {units.money(float(clv.max()))}): "
                           "%{y:,} customers<extra></extra>")))
        fig.update_layout(barmode="stack", showlegend=True)
        _add_note(fig, f"Values above the {pct} ({units.money(top)}) are grouped in the last bin "
                       f"(orange): {len(above):,} customers, up to {units.money(float(clv.max()))}.")
    fig.update_layout(xaxis_title=units.axis(measure), yaxis_title="Customers")
    return fig


def fig_potential_codes(scores: pd.DataFrame, units: Units | None = None) -> go.Figure | None:
    units = units or Units()
    if "revenue_potential_code" not in scores.columns or "revenue_potential" not in scores.columns:
        return None
    g = scores.groupby("revenue_potential_code", observed=True).agg(
        customers=("revenue_potential_code", "size"), potential=("revenue_potential", "sum"),
    ).sort_index()
    return _bar(g.index, g["potential"], x_title="Revenue-potential code (A = top quartile)",
                y_title=units.axis("Total revenue potential"), marker_color="#f0b429",
                text=[f"{n:,} customers" for n in g["customers"]], textposition="auto",
                name="Revenue potential",
                hovertemplate=f"code %{{x}}: {units.currency} %{{y:,.0f}}<extra></extra>")


def fig_churn_distribution(scores: pd.DataFrame, units: Units | None = None) -> go.Figure | None:
    units = units or Units()
    if "churn_probability" not in scores.columns or scores["churn_probability"].dropna().empty:
        return None
    fig = go.Figure()
    colors = {"low": "#3ebd93", "medium": "#f0b429", "high": "#cf1124"}
    band = scores.get("risk_band", pd.Series("all", index=scores.index))
    for name in ["low", "medium", "high"] if "risk_band" in scores.columns else ["all"]:
        vals = scores.loc[band == name, "churn_probability"].dropna()
        fig.add_trace(go.Histogram(x=list(vals), name=f"{name} risk" if name != "all" else "customers",
                                   xbins=dict(start=0, end=1, size=0.025),
                                   marker_color=colors.get(name, "#2186eb"),
                                   hovertemplate="%{x}: %{y:,} customers<extra></extra>"))
    fig.update_layout(barmode="stack",
                      xaxis_title=f"Churn probability within {units.churn_horizon_days} days",
                      yaxis_title="Customers", xaxis_tickformat=".0%")
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
    labels = [MODEL_NAMES.get(n, n) for n in names]
    values = frame[metric].astype(float).tolist()
    fig = _bar(labels, values, x_title="Model (back-test on a later cutoff)",
               y_title="ROC AUC (0.5 = chance, 1 = perfect)",
               marker_color=["#2186eb" if n == "model" else "#9aa5b1" for n in names],
               text=[f"{v:.3f}" for v in values], textposition="auto", name="ROC AUC",
               hovertemplate="%{x}: ROC AUC %{y:.3f}<extra></extra>")
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
    fig = _satisfaction_plot("plot_nps_trend", nps, period) if period else None
    if fig is not None:
        fig.update_layout(xaxis_title="Month", yaxis_title="NPS (-100 to 100), with 95% interval",
                          showlegend=False)
        if "reportable" in nps.columns and not nps["reportable"].astype(bool).all():
            n = int((~nps["reportable"].astype(bool)).sum())
            _add_note(fig, f"{n} month(s) with too few answers to report are left as gaps.")
    return fig


def fig_drivers(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    drivers = results.get("satisfaction_drivers")
    if drivers is None or drivers.empty:
        return None
    fig = _satisfaction_plot("plot_importance_performance", drivers)
    if fig is not None:
        fig.update_layout(xaxis_title="Importance (total effect on satisfaction)",
                          yaxis_title="Performance (index 0-100)", showlegend=False)
        _add_note(fig, "Dashed lines: the means. Bottom right (important, low performance) is "
                       "where to concentrate.")
    return fig


def fig_sla_trend(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    svc = results.get("service_by_month")
    if svc is None or svc.empty or "sla_compliance" not in svc.columns:
        return None
    period = next((c for c in ("period", "month") if c in svc.columns), None)
    fig = _satisfaction_plot("plot_sla_trend", svc, period, "sla_compliance") if period else None
    if fig is not None:
        fig.update_layout(xaxis_title="Month", yaxis_title="SLA compliance (tickets within SLA)",
                          yaxis_tickformat=".0%", showlegend=False)
        fig.update_traces(name="SLA compliance", hovertemplate="%{x}: %{y:.1%}<extra></extra>")
    return fig


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
              skipped: dict[str, str] | None = None, units: Units | None = None) -> str:
    units = units or Units()
    ov = results.get("overview")
    row = ov.iloc[0].to_dict() if ov is not None and not ov.empty else {}
    prev = previous.iloc[0].to_dict() if previous is not None and not previous.empty else {}

    def card_for(key: str, label: str, *, pct: bool = False, digits: int = 0, money: bool = False,
                 higher_is_better: bool = True, sub: str = "") -> str:
        value = row.get(key, float("nan"))
        shown = units.money(value) if money else _num(value, digits=digits, pct=pct)
        delta, direction = _delta(value, prev.get(key), pct=pct, higher_is_better=higher_is_better,
                                  currency=units.currency if money else None)
        return kpi(key, label, value, shown, delta, direction, sub)

    nps_ci = ""
    if not _missing(row.get("nps_ci_lower", float("nan"))):
        nps_ci = (f"95% interval {row['nps_ci_lower']:.1f} to {row['nps_ci_upper']:.1f}, "
                  f"n = {int(row.get('nps_n', 0)):,}")
    cards = [
        card_for("customers", "Customers"),
        card_for("active_customers", "Active (bought in 365 days)"),
        card_for("revenue_365d", "Net revenue, last 365 days", money=True),
        card_for("total_clv", f"Total CLV, next {units.clv_horizon_days} days", money=True),
        card_for("revenue_at_risk", "Revenue at risk (churn × CLV)", money=True,
                 higher_is_better=False),
        card_for("high_risk_customers", "Customers at high churn risk", higher_is_better=False),
        card_for("nps", "NPS (-100 to 100)", digits=1, sub=nps_ci),
        card_for("satisfaction_index", "Satisfaction index (0-100)", digits=1),
        card_for("sla_compliance", "SLA compliance", pct=True),
    ]
    charts = [
        card("Net revenue by month", figure_html(fig_revenue_by_month(results, units),
                                                 "revenue-by-month")),
        card("Customers by size band", figure_html(
            fig_counts(scores, "size_band", "Size band",
                       ["large", "small_medium", "consumer", "unknown"]), "size-band")),
        card("Customers by churn risk", figure_html(
            fig_counts(scores, "risk_band", "Churn risk band", ["low", "medium", "high"],
                       missing="not scored (inactive)"), "risk-band")),
        card("Revenue-potential codes", figure_html(fig_potential_codes(scores, units),
                                                    "potential-codes")),
    ]
    return (f'{_skipped_html(skipped or {})}<div class="kpis">{"".join(cards)}</div>'
            f'<div class="grid">{"".join(charts)}</div>')


def _value_tier_order() -> list[str]:
    from crm_analytics.segmentation.value import DEFAULT_TIERS

    return [name for name, _ in DEFAULT_TIERS]


def _segments(scores: pd.DataFrame, results: dict[str, pd.DataFrame], units: Units | None = None
              ) -> str:
    units = units or Units()
    tiers = _value_tier_order() if "value_tier" in scores.columns else None
    parts = [
        card("Customers by size × needs segment",
             figure_html(fig_size_needs_grid(scores), "size-needs-grid", height=440)),
        card("RFM segments: customers and net revenue",
             figure_html(fig_rfm(scores, units), "rfm-segments", height=440)),
        card("Customers by value tier (CLV)", figure_html(
            fig_counts(scores, "value_tier", "Value tier (by CLV)", tiers), "value-tiers")),
        card("Customers by size segment", figure_html(
            fig_counts(scores, "size_segment", "Size segment"), "size-segments")),
    ]
    for key, title in (("profile_needs_segment_name", "Needs segment profiles"),
                       ("profile_size_segment", "Size segment profiles"),
                       ("profile_rfm_segment", "RFM segment profiles")):
        if key in results:
            parts.append(card(title, table_html(results[key], units=units), wide=True))
    return f'<div class="grid">{"".join(parts)}</div>'


def _value(scores: pd.DataFrame, units: Units | None = None) -> str:
    units = units or Units()
    parts = [
        card("CLV distribution", figure_html(fig_clv_distribution(scores, units), "clv-distribution")),
        card("Revenue potential by code", figure_html(fig_potential_codes(scores, units),
                                                      "value-potential-codes")),
    ]
    cols = [c for c in ("name", "size_band", "industry", "clv", "revenue_potential",
                        "revenue_potential_code", "p_alive") if c in scores.columns]
    if "revenue_potential" in scores.columns:
        top = scores.sort_values("revenue_potential", ascending=False)[cols]
        parts.append(card("Top 25 customers by revenue potential",
                          table_html(top, units=units, max_rows=25), wide=True))
    return f'<div class="grid">{"".join(parts)}</div>'


def _churn(scores: pd.DataFrame, results: dict[str, pd.DataFrame], units: Units | None = None) -> str:
    units = units or Units()
    parts = [
        card("Churn probability by risk band",
             figure_html(fig_churn_distribution(scores, units), "churn-distribution")),
        card("Churn model vs baselines (ROC AUC)",
             figure_html(fig_model_quality(results), "model-quality")),
    ]
    if "churn_probability" in scores.columns:
        key = "revenue_at_risk" if "revenue_at_risk" in scores.columns else "churn_probability"
        cols = [c for c in ("name", "churn_probability", "risk_band", "revenue_at_risk", "clv",
                            "reason_1", "reason_2", "reason_3") if c in scores.columns]
        top = scores[scores.get("risk_band", "high") == "high"].sort_values(key, ascending=False)
        parts.append(card("Top 25 high-risk customers by revenue at risk",
                          table_html(top[cols], units=units, max_rows=25), wide=True))
    if "churn_evaluation" in results:
        parts.append(card("Back-test metrics (later cutoff than training)",
                          table_html(results["churn_evaluation"], units=units, index_name="model",
                                     values={"model": MODEL_NAMES}), wide=True))
    return f'<div class="grid">{"".join(parts)}</div>'


def _satisfaction(results: dict[str, pd.DataFrame], units: Units | None = None) -> str:
    units = units or Units()
    parts = [
        card("NPS by month", figure_html(fig_nps_trend(results), "nps-trend")),
        card("Satisfaction drivers", figure_html(fig_drivers(results), "driver-map")),
        card("SLA compliance by month", figure_html(fig_sla_trend(results), "sla-trend")),
    ]
    for key, title in (("service_overall", "Service quality"), ("nps_overall", "NPS"),
                       ("satisfaction_index", "Satisfaction index by construct")):
        if key in results:
            parts.append(card(title, table_html(results[key], units=units)))
    return f'<div class="grid">{"".join(parts)}</div>'


def _campaigns(campaigns: pd.DataFrame | None) -> str:
    """The Campaigns page: content from :mod:`crm_analytics.campaigns.results`."""
    frame = campaigns if campaigns is not None else pd.DataFrame()
    return ('<div class="grid">'
            + card("Response lift by campaign", figure_html(plot_overview(frame), "campaign-lift"),
                   wide=True)
            + card("Campaigns", overview_html(frame), wide=True) + "</div>")


def fig_subscription_cohorts(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    table = results.get("subscription_cohorts")
    if table is None or table.empty:
        return None
    from crm_analytics.subscriptions import plot_cohort_heatmap

    return plot_cohort_heatmap(table, period_label="Periods since start (months)")


def fig_subscription_survival(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    table = results.get("subscription_survival")
    if table is None or table.empty:
        return None
    from crm_analytics.subscriptions import KaplanMeier, plot_survival

    km = KaplanMeier(table, pd.DataFrame(), by="plan", alpha=0.05)
    fig = plot_survival(km, period_label="Periods since start (months)")
    _add_note(fig, "Kaplan-Meier estimate by plan; shaded: 95% pointwise bands.")
    return fig


def fig_subscription_revenue(results: dict[str, pd.DataFrame]) -> go.Figure | None:
    table = results.get("subscription_revenue_retention")
    if table is None or table.empty:
        return None
    from crm_analytics.subscriptions import plot_revenue_retention

    return plot_revenue_retention(table, period_label="Periods since start (months)")


def _subscriptions(results: dict[str, pd.DataFrame], units: Units | None = None) -> str:
    units = units or Units()
    parts = [
        card("Retention by cohort (share of each start month still subscribed)",
             figure_html(fig_subscription_cohorts(results), "subscription-cohorts", height=520), wide=True),
        card("Subscriptions still active, by plan",
             figure_html(fig_subscription_survival(results), "subscription-survival")),
        card("Recurring revenue retention (net and gross)",
             figure_html(fig_subscription_revenue(results), "subscription-revenue")),
    ]
    for key, title in (("subscription_medians", "Median lifetime by plan"),
                       ("subscription_sbg", "Shifted-beta-geometric model by plan"),
                       ("subscription_value", "Value of the active subscribers")):
        if key in results:
            parts.append(card(title, table_html(results[key], units=units), wide=True))
    return f'<div class="grid">{"".join(parts)}</div>'


def _forecast(results: dict[str, pd.DataFrame], units: Units) -> str:
    """The forecast page: its cards (:mod:`.forecast_page`) laid out like the other pages."""
    parts = []
    for title, content, div_id, wide in forecast_cards(results, units.axis("Revenue")):
        if isinstance(content, go.Figure):
            body = figure_html(content, div_id)
        elif isinstance(content, pd.DataFrame):
            body = table_html(content, units=units)
        else:
            body = f'<div class="note">{_esc(content)}</div>'
        parts.append(card(title, body, wide=wide))
    return f'<div class="grid">{"".join(parts)}</div>'


def build_pages(
    scores: pd.DataFrame, results: dict[str, pd.DataFrame], run: dict[str, Any],
    previous_overview: pd.DataFrame | None = None, *, currency: str | None = None,
    campaigns: pd.DataFrame | None = None,
) -> dict[str, str]:
    """HTML of every page, by file name.

    Money is shown in ``currency``, else the currency stored with the run (its
    ``config``), else :data:`DEFAULT_CURRENCY`. ``campaigns``: the campaigns
    page's rows (:func:`crm_analytics.campaigns.campaign_overview`).
    """
    units = Units.of_run(run, currency)
    bodies = {
        "index.html": _overview(scores, results, previous_overview, run_skipped(run), units),
        "segments.html": _segments(scores, results, units),
        "value.html": _value(scores, units),
        "churn.html": _churn(scores, results, units),
        "satisfaction.html": _satisfaction(results, units),
        "campaigns.html": _campaigns(campaigns),
    }
    nav = list(PAGES)
    for name, title, table in OPTIONAL_PAGES:  # shown only when the run has their tables
        if table in results and name == "subscriptions.html":
            bodies[name] = _subscriptions(results, units)
            nav.append((name, title))
        if table in results and name == "forecast.html":
            bodies[name] = _forecast(results, units)
            nav.append((name, title))
    return {f: page(t, f, run, bodies[f], units, nav) for f, t in nav}


def _previous_run(store: Store, run: dict[str, Any]) -> str | None:
    got = store.sql(
        "SELECT run_id FROM runs WHERE status = 'succeeded' AND finished_at < ? "
        "ORDER BY finished_at DESC LIMIT 1", [run["finished_at"]],
    )
    return None if got.empty else str(got["run_id"].iloc[0])


def write_dashboards(store: Store | str | os.PathLike, out_dir: str | os.PathLike, *,
                     run_id: str | None = None, currency: str | None = None) -> Path:
    """Write the dashboard pages of a run (default: the latest) into ``out_dir``.

    Money is labelled with the run's ``currency`` option (stored with the run;
    ``EUR`` for runs that predate the option); ``currency`` overrides it.
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
    ['campaigns.html', 'churn.html', 'index.html', 'plotly.min.js', 'satisfaction.html',
     'segments.html', 'value.html']
    """
    if currency is not None and not (isinstance(currency, str) and 1 <= len(currency.strip()) <= 8):
        raise InputError(f"currency must be a currency code such as 'EUR' or 'USD'; got {currency!r}")
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
        campaigns = campaign_overview(s, as_of=run.get("as_of"))
    pages = build_pages(scores, results, run, previous, currency=currency, campaigns=campaigns)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {PLOTLY_FILE: get_plotlyjs(), **pages}
    for name, text in files.items():
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; pages are meant to be served and shared
        os.replace(tmp, out / name)
    for name, _title, _table in OPTIONAL_PAGES:  # left by an earlier run that had the page
        if name not in pages:
            (out / name).unlink(missing_ok=True)
    log.info("dashboards of run %s written to %s", rid, out)
    return (out / "index.html").resolve()
