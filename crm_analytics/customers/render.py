"""The customer card: HTML (Jupyter, the web app) and text (the command line).

Every piece of customer text goes through :func:`html.escape`; the card has no
script and loads nothing from anywhere.
"""

from __future__ import annotations

import html
import math
import unicodedata
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from crm_analytics.customers.view import CustomerView

__all__ = ["CARD_CSS", "card_html", "card_text", "format_money"]

#: The card's style sheet (classes prefixed ``crm-``); inlined in Jupyter, a file in the web app.
CARD_CSS = """
.crm-card{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2933;
max-width:1100px;border:1px solid #e4e7eb;border-radius:8px;padding:14px 16px;background:#fff;
font-size:13px;line-height:1.4}
.crm-card h2{font-size:18px;margin:0 0 2px}.crm-card h3{font-size:14px;margin:14px 0 6px}
.crm-card .crm-meta{color:#616e7c;font-size:12px}
.crm-card .crm-action{margin:10px 0;padding:8px 12px;border-left:4px solid #3ebd93;background:#effcf6}
.crm-card .crm-action.crm-stop{border-color:#cf1124;background:#fff3f3}
.crm-card .crm-action ul{margin:4px 0 0;padding-left:18px}
.crm-card .crm-kpis{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.crm-card .crm-kpi{border:1px solid #e4e7eb;border-radius:6px;padding:6px 10px;min-width:120px}
.crm-card .crm-kpi .crm-label{font-size:11px;color:#616e7c;text-transform:uppercase}
.crm-card .crm-kpi .crm-value{font-size:16px;font-weight:600}
.crm-card .crm-chip{display:inline-block;background:#f0f4f8;border-radius:10px;padding:1px 8px;margin:2px}
.crm-card table{border-collapse:collapse;width:100%}
.crm-card th,.crm-card td{border-bottom:1px solid #e4e7eb;padding:3px 6px;text-align:left}
.crm-card td.crm-num{text-align:right;font-variant-numeric:tabular-nums}
.crm-card tr.crm-refund td{color:#cf1124}
.crm-card .crm-sla-breached{color:#cf1124;font-weight:600}
.crm-card .crm-sla-due_soon{color:#b44d12;font-weight:600}
.crm-card .crm-note{color:#616e7c}
.crm-card .crm-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:4px 16px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def format_money(value: Any, currency: str = "") -> str:
    """An amount with thousands separators and two decimals (``n/a`` when missing).

    Examples
    --------
    >>> format_money(1234.5, "EUR"), format_money(None)
    ('1,234.50 EUR', 'n/a')
    """
    if _missing(value):
        return "n/a"
    return f"{float(value):,.2f}" + (f" {currency}" if currency else "")


def _num(value: Any, digits: int = 2, pct: bool = False) -> str:
    if _missing(value):
        return "n/a"
    return f"{float(value):.{digits}%}" if pct else f"{float(value):,.{digits}f}"


def _day(value: Any) -> str:
    return "n/a" if _missing(value) else str(pd.Timestamp(value).date())


def _when(value: Any) -> str:
    return "" if _missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _yes_no(value: Any) -> str:
    return "unknown" if _missing(value) else ("yes" if value else "no")


# -- what both cards show ----------------------------------------------------------------------
def _headline(view: CustomerView) -> str:
    p = view.profile
    parts = [p.get("customer_type"), p.get("size_band"), p.get("industry"), p.get("region"),
             p.get("country")]
    return " · ".join(str(x) for x in parts if not _missing(x)) or "no attributes recorded"


def _facts(view: CustomerView) -> list[tuple[str, str]]:
    p, v, c = view.profile, view.value, view.currency
    tenure = ("n/a" if p.get("tenure_days") is None
              else f"{_day(p['customer_since'])} ({p['tenure_days']:,} days)")
    refunds = f"{v['refunds']:,} refunds, {format_money(v['refund_amount'], c)}"
    return [
        ("e-mail", p.get("email") or "n/a"), ("phone", p.get("phone") or "n/a"),
        ("customer since", tenure), ("marketing consent", _yes_no(p.get("marketing_opt_in"))),
        ("employees", _num(p.get("employees"), 0)),
        ("annual revenue", format_money(p.get("annual_revenue"), c)),
        ("transactions", f"{v['transactions']:,} ({refunds})"),
        ("last purchase", _day(v.get("last_purchase_at"))),
    ]


def _kpis(view: CustomerView) -> list[tuple[str, str]]:
    v, ch, c = view.value, view.churn, view.currency
    code = v.get("revenue_potential_code")
    return [
        ("revenue last 365 days", format_money(v["revenue_365d"], c)),
        ("revenue lifetime", format_money(v["revenue_lifetime"], c)),
        ("CLV", format_money(v.get("clv"), c)),
        ("revenue potential",
         format_money(v.get("revenue_potential"), c) + (f" (code {code})" if code else "")),
        ("P(alive)", _num(v.get("p_alive"), 1, pct=True)),
        ("churn risk", _num(ch.get("churn_probability"), 1, pct=True)
         + (f" ({ch['risk_band']})" if ch.get("risk_band") else "")),
    ]


def _segment_items(view: CustomerView) -> list[tuple[str, str]]:
    s = view.segments
    out = [(label, s.get(k)) for label, k in (("size", "size_segment"), ("needs", "needs_segment_name"),
                                                ("RFM", "rfm_segment"), ("value", "value_tier"))]
    out += [("custom", name) for name in s.get("custom", [])]
    return [(label, str(val)) for label, val in out if not _missing(val)]


def _satisfaction_lines(view: CustomerView) -> list[str]:
    lines = []
    for label, key in (("NPS", "nps"), ("CSAT", "csat")):
        a = view.satisfaction[key]
        if a["latest"] is None:
            lines.append(f"{label}: no answer")
            continue
        text = f"{label} {a['latest']:g} (scale {a['scale']}"
        text += f", {a['class']})" if key == "nps" and a.get("class") else ")"
        text += f" on {_day(a['answered_at'])}"
        if a["previous"] is not None:
            text += f"; before: {a['previous']:g} → {a['trend']}"
        else:
            text += f"; {a['trend']}"
        lines.append(text)
    return lines


def _ticket_line(view: CustomerView) -> str:
    t = view.ticket_summary
    return (f"{t['tickets']:,} tickets: {t['open']} open ({t['open_complaints']} complaints, "
            f"{t['open_breached']} past SLA, {t['due_soon']} due within hours), "
            f"{t['sla_breached']} SLA breaches, {t['complaints_365d']} complaints in 365 days, "
            f"{t['reopened']} reopened")


def _scores_line(view: CustomerView) -> str:
    if view.run_id is None:
        return "no scoring run"
    return f"scores: run {view.run_id} as of {view.run_as_of}"


# -- HTML ---------------------------------------------------------------------------------------
def _table(frame: pd.DataFrame, columns: list[tuple[str, str]], row_class: Any = None,
           cell_class: dict[str, Any] | None = None, empty: str = "none") -> str:
    if frame.empty:
        return f'<p class="crm-note">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(label)}</th>" for _, label in columns)
    rows = []
    for rec in frame.to_dict("records"):
        cls = f' class="{_e(row_class(rec))}"' if row_class and row_class(rec) else ""
        cells = []
        for col, _ in columns:
            value, klass = rec.get(col), ""
            if isinstance(value, float) and not _missing(value):
                klass, text = "crm-num", f"{value:,.2f}"
            elif isinstance(value, pd.Timestamp):
                text = _when(value)
            else:
                text = "" if _missing(value) else str(value)
            if cell_class and col in cell_class:
                klass = (klass + " " + cell_class[col](rec)).strip()
            cells.append(f'<td class="{_e(klass)}">{_e(text)}</td>' if klass else f"<td>{_e(text)}</td>")
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _transactions_view(view: CustomerView) -> pd.DataFrame:
    frame = view.transactions.copy()
    frame["kind"] = frame["is_refund"].map({True: "refund", False: "purchase"})
    return frame


def card_html(view: CustomerView, *, style: bool = True) -> str:
    """The view as an HTML card (escaped; no script); ``style=False`` leaves out the style sheet.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> from crm_analytics.customers import customer_view
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1"],
    ...                                           "name": ["<script>alert(1)</script>"]}))
    >>> card = card_html(customer_view(store, "C1", as_of="2024-01-31"))
    >>> "<script>" in card, "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    (False, True)
    """
    p, nba = view.profile, view.next_best_action
    stop = " crm-stop" if nba.do_not else ""
    do_not = "".join(f"<li>{_e(d)}</li>" for d in nba.do_not)
    facts = "".join(f"<div><b>{_e(k)}</b>: {_e(v)}</div>" for k, v in _facts(view))
    kpis = "".join(f'<div class="crm-kpi"><div class="crm-label">{_e(k)}</div>'
                   f'<div class="crm-value">{_e(v)}</div></div>' for k, v in _kpis(view))
    reasons = "".join(f"<li>{_e(r)}</li>" for r in view.churn.get("reasons", []))
    chips = "".join(f'<span class="crm-chip">{_e(k)}: {_e(v)}</span>' for k, v in _segment_items(view))
    years = _table(view.revenue_by_year, [("year", "year"), ("revenue", f"net revenue ({view.currency})"),
                                          ("transactions", "transactions"), ("refunds", "refunds")],
                   empty="no transactions")
    tx = _table(_transactions_view(view) if len(view.transactions) else view.transactions,
                [("transaction_date", "date"), ("transaction_id", "transaction"), ("kind", ""),
                 ("amount", f"amount ({view.currency})"), ("quantity", "qty"),
                 ("product_category", "category"), ("channel", "channel")],
                row_class=lambda r: "crm-refund" if r.get("is_refund") else "", empty="no transactions")
    tickets = _table(view.tickets, [("ticket_id", "ticket"), ("opened_at", "opened"), ("status", "status"),
                                    ("sla_status", "SLA"), ("hours_to_deadline", "hours to deadline"),
                                    ("priority", "priority"), ("category", "category"),
                                    ("is_complaint", "complaint"), ("reopened", "reopened")],
                     cell_class={"sla_status": lambda r: f"crm-sla-{r.get('sla_status')}"},
                     empty="no tickets")
    sat = "".join(f"<div>{_e(line)}</div>" for line in _satisfaction_lines(view))
    notes = "".join(f"<li>{_e(n)}</li>" for n in view.notes)
    none = '<p class="crm-note">none</p>'
    parts = [
        f"<style>{CARD_CSS}</style>" if style else "",
        f'<div class="crm-card" data-customer-id="{_e(view.customer_id)}">',
        f'<h2 class="crm-name">{_e(p.get("name") or "(no name)")}</h2>',
        f'<div class="crm-meta">{_e(view.customer_id)} · {_e(_headline(view))} · as of '
        f"{_e(view.as_of)} · {_e(_scores_line(view))}</div>",
        f'<div class="crm-action{stop}" data-rule="{_e(nba.rule)}"><b>Next best action:</b> '
        f'{_e(nba.action)} <span class="crm-note">({_e(nba.reason)})</span>'
        + (f"<ul>{do_not}</ul>" if do_not else "") + "</div>",
        f'<div class="crm-kpis">{kpis}</div>',
        f'<h3>Profile</h3><div class="crm-grid">{facts}</div>',
        "<h3>Churn reasons</h3>" + (f"<ol>{reasons}</ol>" if reasons else none),
        "<h3>Segments</h3>" + (f"<div>{chips}</div>" if chips else none),
        f"<h3>Revenue by year</h3>{years}",
        f"<h3>Recent transactions</h3>{tx}",
        f'<h3>Tickets</h3><div class="crm-note">{_e(_ticket_line(view))}</div>{tickets}',
        f"<h3>Satisfaction</h3>{sat}",
        '<h3>Contact history</h3><p class="crm-note crm-contact-history">'
        f"{_e(view.contact_history_note)}</p>" + (_table(view.contact_history.head(10), [
            ("sent_at", "exported"), ("channel", "channel"), ("campaign", "campaign"),
            ("segment", "segment"), ("status", "status")]) if len(view.contact_history) else ""),
        f'<h3>Notes</h3><ul class="crm-note">{notes}</ul>' if notes else "",
        "</div>",
    ]
    return "".join(parts)


# -- text ---------------------------------------------------------------------------------------
def _text_table(frame: pd.DataFrame, columns: list[str], empty: str) -> list[str]:
    if frame.empty:
        return [f"  {empty}"]
    shown = frame[[c for c in columns if c in frame.columns]]
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 40):
        return ["  " + line for line in shown.to_string(index=False).splitlines()]


def card_text(view: CustomerView) -> str:
    """The view as a plain-text card (what ``crm-analytics customer`` prints).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> from crm_analytics.customers import customer_view
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1"], "name": ["Ann Lee"]}))
    >>> print(card_text(customer_view(store, "C1", as_of="2024-01-31")).splitlines()[0])
    Ann Lee (C1)
    """
    p, nba = view.profile, view.next_best_action
    lines = [f"{p.get('name') or '(no name)'} ({view.customer_id})",
             f"{_headline(view)} · as of {view.as_of} · {_scores_line(view)}", "",
             f"Next best action: {nba.action} ({nba.reason})"]
    lines += [f"  - {d}" for d in nba.do_not]
    lines += ["", "Profile"] + [f"  {k:<18} {v}" for k, v in _facts(view)]
    lines += ["", "Value and risk"] + [f"  {k:<22} {v}" for k, v in _kpis(view)]
    reasons = view.churn.get("reasons", [])
    lines += [f"  churn reason {i}: {r}" for i, r in enumerate(reasons, 1)]
    lines += ["", "Segments"] + ([f"  {k:<8} {v}" for k, v in _segment_items(view)] or ["  none"])
    lines += ["", "Revenue by year"] + _text_table(view.revenue_by_year,
                                                   ["year", "revenue", "transactions", "refunds"],
                                                   "no transactions")
    tx = _transactions_view(view) if len(view.transactions) else view.transactions
    lines += ["", f"Recent transactions (newest first, at most {len(view.transactions)})"]
    lines += _text_table(tx, ["transaction_date", "transaction_id", "kind", "amount", "quantity",
                              "product_category", "channel"], "no transactions")
    lines += ["", "Tickets", f"  {_ticket_line(view)}"]
    lines += _text_table(view.tickets, ["ticket_id", "opened_at", "status", "sla_status",
                                        "hours_to_deadline", "priority", "category", "is_complaint",
                                        "reopened"], "no tickets")
    lines += ["", "Satisfaction"] + [f"  {s}" for s in _satisfaction_lines(view)]
    lines += ["", f"Contact history: {view.contact_history_note}"]
    if len(view.contact_history):
        lines += _text_table(view.contact_history.head(10),
                             ["sent_at", "channel", "campaign", "segment", "status"], "")
    if view.notes:
        lines += ["", "Notes"] + [f"  - {n}" for n in view.notes]
    return _printable("\n".join(lines))


def _printable(text: str) -> str:
    """Control characters (an escape sequence in a name...) shown as U+FFFD, line breaks kept."""
    return "".join(ch if ch == "\n" or unicodedata.category(ch) != "Cc" else "\ufffd" for ch in text)
