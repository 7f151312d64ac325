"""The HTML pages of the web app: search, customer card, errors. No script, nothing external.

Every value that comes from the store or the request is escaped with
:func:`html.escape`; links to customers are percent-encoded.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

import pandas as pd

from crm_analytics.customers import CARD_CSS, CustomerView, card_html

__all__ = ["APP_CSS", "customer_page", "customer_url", "error_page", "search_page", "token_page"]

APP_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}
nav{background:#1f2933;padding:0 24px;display:flex;gap:4px;align-items:center}
nav a{color:#cbd2d9;text-decoration:none;padding:14px 12px;display:inline-block}
nav .brand{color:#fff;font-weight:600;margin-right:16px}
main{padding:20px 24px;max-width:1150px}
h1{font-size:22px;margin:4px 0 12px}
form.search input[type=search]{font-size:16px;padding:6px 10px;width:min(520px,70vw)}
form.search button{font-size:16px;padding:6px 14px}
.hint{color:#616e7c;font-size:13px;margin:6px 0 14px}
.error{background:#fff3f3;border-left:4px solid #cf1124;padding:8px 12px;margin:10px 0}
table.results{border-collapse:collapse;background:#fff;width:100%;font-size:14px}
table.results th,table.results td{border-bottom:1px solid #e4e7eb;padding:6px 8px;text-align:left}
""" + CARD_CSS

_NAV = ('<nav><span class="brand">crm_analytics</span><a href="/">Customers</a>'
        '<a href="/dashboards/">Dashboards</a></nav>')


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def customer_url(customer_id: str) -> str:
    """The page of a customer (the id percent-encoded, slashes included).

    Examples
    --------
    >>> customer_url("C/1 <x>")
    '/customers/C%2F1%20%3Cx%3E'
    """
    return "/customers/" + quote(str(customer_id), safe="")


def _layout(title: str, body: str) -> str:
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(title)} · crm_analytics</title><link rel="stylesheet" href="/static/app.css">'
            f"</head><body>{_NAV}<main>{body}</main></body></html>")


def _search_form(query: str) -> str:
    return ('<form class="search" method="get" action="/" role="search">'
            f'<input type="search" name="q" value="{_e(query)}" autofocus '
            'placeholder="id, e-mail, phone or name" aria-label="search customers">'
            ' <button type="submit">Search</button></form>'
            '<div class="hint">Any formatting of a phone number; e-mails in any case; names '
            "without accents, in any order.</div>")


def search_page(query: str = "", results: pd.DataFrame | None = None, error: str | None = None) -> str:
    """The search page, with the results of ``query`` (a frame from ``find_customers``)."""
    parts = ["<h1>Find a customer</h1>", _search_form(query)]
    if error:
        parts.append(f'<div class="error">{_e(error)}</div>')
    elif results is not None:
        if results.empty:
            parts.append(f"<p>No customer matches {_e(query)!s}.</p>")
        else:
            rows = "".join(
                f'<tr><td><a class="customer-link" href="{_e(customer_url(cid))}">{_e(cid)}</a></td>'
                f"<td>{_e(r['name'])}</td><td>{_e(r['email'])}</td><td>{_e(r['phone'])}</td>"
                f"<td>{_e(r['customer_type'])}</td><td>{_e(r['region'])}</td>"
                f"<td>{_e(r['matched_on'])}: {_e(r['match'])}</td></tr>"
                for cid, r in results.fillna("").iterrows()
            )
            parts.append('<table class="results"><thead><tr><th>customer</th><th>name</th>'
                         "<th>e-mail</th><th>phone</th><th>type</th><th>region</th><th>match</th>"
                         f"</tr></thead><tbody>{rows}</tbody></table>")
    return _layout("Customers", "".join(parts))


def customer_page(view: CustomerView) -> str:
    """The card of one customer, under the search form."""
    title = view.profile.get("name") or view.customer_id
    return _layout(str(title), _search_form("") + card_html(view, style=False))


def error_page(status: int, message: str) -> str:
    """A page saying what went wrong (escaped), with the search form."""
    return _layout(f"Error {status}", f'<h1>Error {status}</h1><div class="error">{_e(message)}</div>'
                   + _search_form(""))


def token_page(message: str) -> str:
    """The page asking for the access token."""
    return _layout("Access token", f'<h1>Access token needed</h1><div class="error">{_e(message)}</div>'
                   '<form method="get" action="/"><input type="password" name="token" '
                   'aria-label="access token" autocomplete="off"> <button type="submit">Open</button></form>')
