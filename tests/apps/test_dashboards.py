"""Dashboards: offline, every figure rendered, numbers equal to the run's result tables,
readable (axes and headers named, money in the run's currency, tables scrolling in their card)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.dashboards import PAGES, render, write_dashboards
from crm_analytics.datasets import synthetic
from crm_analytics.store import Store
from crm_analytics.store.results import run_results

# The module fixture runs two full scoring runs (about 15-45 s): tests using it are slow.
slow = pytest.mark.slow


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.kpis: dict[str, str] = {}
        self.srcs: list[str] = []
        self.links: list[str] = []
        self.graph_divs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-kpi" in a:
            self.kpis[a["data-kpi"]] = a.get("data-value", "")
        if tag in ("script", "img", "iframe") and a.get("src"):
            self.srcs.append(a["src"])
        if tag == "link" and a.get("href"):
            self.srcs.append(a["href"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "div" and "plotly-graph-div" in (a.get("class") or ""):
            self.graph_divs += 1


def parse(path: Path) -> _Collect:
    c = _Collect()
    c.feed(path.read_text(encoding="utf-8"))
    return c


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two runs: the first with currency CHF, the second with the default (EUR)."""
    folder = tmp_path_factory.mktemp("dash")
    db = folder / "crm.duckdb"
    data = synthetic.generate(n_customers=1500, seed=5)
    with Store(db) as store:
        store.load_all(data.tables())
    first = crm.run_batch(db, as_of="2025-10-31",
                          config={"model_dir": str(folder / "models"), "currency": "CHF"})
    second = crm.run_batch(db, config={"model_dir": str(folder / "models")})
    out = folder / "site"
    index = write_dashboards(db, out)
    return {"db": db, "out": out, "index": index, "first": first, "second": second}


@slow
def test_all_pages_written_with_navigation_and_no_network(published):
    out = published["out"]
    assert (out / "plotly.min.js").stat().st_size > 1_000_000
    for name, _title in PAGES:
        page = parse(out / name)
        assert {href for href in page.links} >= {n for n, _ in PAGES}
        # nothing is fetched from anywhere but the folder itself
        assert page.srcs == ["plotly.min.js"], page.srcs
        text = (out / name).read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)


@slow
def test_overview_numbers_equal_the_run_tables(published):
    db, out = published["db"], published["out"]
    kpis = parse(out / "index.html").kpis
    overview = run_results(db)["overview"].iloc[0]
    scores = crm.latest_scores(db)
    for key in ("customers", "active_customers", "revenue_365d", "total_clv", "revenue_at_risk",
                "high_risk_customers", "nps", "satisfaction_index", "sla_compliance"):
        stored = float(overview[key])
        shown = kpis[key]
        if math.isnan(stored):
            assert shown == ""
        else:
            assert float(shown) == pytest.approx(stored, rel=1e-12), key
    # and the run tables agree with the per-customer scores
    assert float(kpis["customers"]) == len(scores)
    assert float(kpis["revenue_365d"]) == pytest.approx(scores["revenue_365d"].sum(), rel=1e-9)
    if "clv" in scores.columns:
        assert float(kpis["total_clv"]) == pytest.approx(scores["clv"].sum(), rel=1e-9)
    if "risk_band" in scores.columns:
        assert float(kpis["high_risk_customers"]) == (scores["risk_band"] == "high").sum()


@slow
def test_overview_shows_change_vs_previous_run(published):
    html = (published["out"] / "index.html").read_text()
    assert "vs previous run" in html


@slow
def test_every_expected_chart_is_present(published):
    out = published["out"]
    counts = {name: parse(out / name).graph_divs for name, _ in PAGES}
    scores = crm.latest_scores(published["db"])
    assert counts["index.html"] >= 2
    if "needs_segment_name" in scores.columns:
        assert counts["segments.html"] >= 3
    if "clv" in scores.columns:
        assert counts["value.html"] >= 2
    if "churn_probability" in scores.columns:
        assert counts["churn.html"] >= 2
    if "latest_nps" in scores.columns:
        assert counts["satisfaction.html"] >= 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@slow
@pytest.mark.browser
def test_pages_render_offline_in_chromium(published):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (Debian package `chromium`; `make test` installs it "
                    "when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    out = published["out"]
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        for name, _ in PAGES:
            page.goto((out / name).as_uri(), wait_until="load")
            page.wait_for_function("() => window.Plotly !== undefined")
            page.wait_for_timeout(300)
            state = page.evaluate("""() => Array.from(document.querySelectorAll('.plotly-graph-div'))
                .map(d => d.querySelectorAll('svg.main-svg').length)""")
            assert all(n > 0 for n in state), (name, state)
            assert len(state) == parse(out / name).graph_divs
            if name == "index.html" and os.environ.get("CRM_SCREENSHOT"):
                page.screenshot(path=os.environ["CRM_SCREENSHOT"], full_page=True)
        browser.close()
    assert problems == []


@slow
def test_dashboard_of_an_older_run_and_unknown_run(published, tmp_path):
    first = published["first"].run_id
    index = write_dashboards(published["db"], tmp_path / "old", run_id=first)
    assert first in index.read_text()
    with pytest.raises(crm.InputError):
        write_dashboards(published["db"], tmp_path / "none", run_id="no-such-run")


@slow
def test_cli_dashboard_command(published, tmp_path, capsys):
    from crm_analytics.cli import main

    assert main(["dashboard", "--db", str(published["db"]), "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "index.html").exists()
    assert "dashboards written" in capsys.readouterr().out


@slow
def test_scores_frame_is_sane(published):
    scores = crm.latest_scores(published["db"])
    assert scores.index.is_unique
    assert isinstance(scores, pd.DataFrame)


def test_customer_text_is_escaped_in_pages():
    from crm_analytics.dashboards import build_pages

    hostile = "<img src=x onerror=alert(1)>"
    scores = pd.DataFrame({
        "name": [hostile, "Ann"], "churn_probability": [0.9, 0.1], "risk_band": ["high", "low"],
        "revenue_at_risk": [100.0, 1.0], "reason_1": ["</script><script>alert(2)</script>", "x"],
        "size_band": ["large", "consumer"], "revenue_potential": [5.0, 1.0],
        "revenue_potential_code": ["A", "D"], "clv": [10.0, 2.0],
    }, index=pd.Index(["C1", "C2"], name="customer_id"))
    pages = build_pages(scores, {}, {"run_id": "r1", "as_of": "2025-01-01", "finished_at": "now"})
    for text in pages.values():
        assert hostile not in text and "<script>alert(2)" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages["churn.html"]


# --------------------------------------------------------------------------- readability: units


def _axis_titles(fig) -> dict[str, str]:
    """Title of every axis a reader sees (an axis sharing its labels with another is skipped)."""
    layout = fig.to_plotly_json()["layout"]
    out = {}
    for key in sorted(k for k in layout if re.fullmatch(r"[xy]axis\d*", k)):
        axis = layout[key]
        if axis.get("visible") is False or axis.get("showticklabels") is False:
            continue
        out[key] = (axis.get("title") or {}).get("text") or ""
    if "xaxis" not in out and "xaxis" not in layout:
        out["xaxis"] = ""
    if "yaxis" not in out and "yaxis" not in layout:
        out["yaxis"] = ""
    return out


def _small_scores(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cells = ["Champions", "Loyal", "About to sleep", "No purchases"]
    clv = rng.gamma(0.6, 200.0, n)
    clv[:5] = [50_000.0, 40_000.0, 30_000.0, 25_000.0, 20_000.0]  # a long tail
    return pd.DataFrame({
        "name": [f"Customer {i}" for i in range(n)],
        "size_band": rng.choice(["large", "small_medium", "consumer"], n),
        "size_segment": rng.choice(["Large · Retail", "Small/medium", "Consumer"], n),
        "needs_segment_name": rng.choice(["Hardware-heavy · EMEA", "Services-heavy"], n),
        "industry": "Retail",
        "rfm_segment": rng.choice(cells, n),
        "revenue_365d": rng.normal(100.0, 30.0, n),
        "clv": clv, "p_alive": rng.uniform(0, 1, n),
        "revenue_potential": clv * 1.2,
        "revenue_potential_code": rng.choice(list("ABCD"), n),
        "churn_probability": rng.uniform(0, 1, n),
        "risk_band": rng.choice(["low", "medium", "high"], n),
        "revenue_at_risk": rng.uniform(0, 500, n),
        "value_tier": rng.choice(["Top 10%", "Next 20%", "Middle 40%", "Bottom 30%"], n),
        "reason_1": "no purchase for 97 days — 4.4× the usual gap",
    }, index=pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id"))


def _small_results() -> dict[str, pd.DataFrame]:
    months = pd.date_range("2025-01-01", periods=6, freq="MS")
    return {
        "revenue_by_month": pd.DataFrame({"month": months, "revenue": [1e4, 2e4, -5e2, 3e4, 2e4, 1e4]}),
        "churn_evaluation": pd.DataFrame(
            {"roc_auc": [0.86, 0.81], "pr_auc": [0.93, 0.90], "brier": [0.13, 0.16]},
            index=["model", "recency_rule"]),
        "overview": pd.DataFrame({"customers": [400], "revenue_365d": [40_000.0],
                                  "total_clv": [80_000.0], "revenue_at_risk": [9_000.0]}),
        "service_overall": pd.DataFrame({"n_tickets": [5217], "sla_compliance": [0.76],
                                         "first_response_p50_hours": [3.99], "note": [""]}),
        "profile_rfm_segment": pd.DataFrame(
            {"customers": [595, 485], "customer_share": [0.2, 0.16], "revenue_365d": [472894.2, 1.0],
             "top_regions": ["EMEA 49% · Americas 35% · APAC 16%"] * 2},
            index=pd.Index(["Champions", "Loyal"], name="rfm_segment")),
    }


RUN = {"run_id": "r1", "as_of": "2025-06-30", "finished_at": "2025-07-01 02:30",
       "config": json.dumps({"currency": "USD", "clv_horizon_days": 365, "churn_horizon_days": 90})}


def test_rfm_chart_shows_all_eleven_cells_with_counts_and_revenue_apart():
    from crm_analytics.segmentation.rfm import RFM_SEGMENTS

    scores = _small_scores()
    scores.loc[scores["rfm_segment"] == "About to sleep", "revenue_365d"] = -10.0  # refunds only
    fig = render.fig_rfm(scores, render.Units("USD"))
    counts, revenue = fig.data
    assert list(counts.x) == list(RFM_SEGMENTS) and len(counts.x) == 11
    expected = scores["rfm_segment"].value_counts()
    assert list(counts.y) == [int(expected.get(c, 0)) for c in RFM_SEGMENTS]  # empty cells: 0
    assert counts.name == "Customers" and revenue.name.startswith("Net revenue")
    assert list(revenue.x) == list(RFM_SEGMENTS)
    assert revenue.y[RFM_SEGMENTS.index("About to sleep")] < 0  # drawn below zero, not hidden
    titles = _axis_titles(fig)
    assert titles["yaxis"] == "Customers" and "(USD)" in titles["yaxis2"]
    assert "RFM segment" in titles["xaxis2"]
    notes = " ".join(render.figure_notes(fig))
    assert "negative" in notes and "About to sleep (USD -" in notes and "refunds" in notes
    n_none = int((scores["rfm_segment"] == "No purchases").sum())
    assert f"{n_none:,} customers without any purchase" in notes


def test_clv_histogram_says_when_it_caps_the_tail():
    scores = _small_scores()
    fig = render.fig_clv_distribution(scores, render.Units("EUR"))
    top = scores["clv"].quantile(0.99)
    above = int((scores["clv"] > top).sum())
    (note,) = render.figure_notes(fig)
    assert f"99th percentile (EUR {top:,.0f})" in note and f"{above:,} customers" in note
    assert len(fig.data) == 2 and len(fig.data[1].x) == above  # the grouped last bin, its own trace
    assert sum(len(t.x) for t in fig.data) == len(scores)  # nobody is dropped
    titles = _axis_titles(fig)
    assert "CLV" in titles["xaxis"] and "(EUR)" in titles["xaxis"] and titles["yaxis"] == "Customers"
    # no long tail: nothing capped, nothing said
    even = scores.assign(clv=np.linspace(0, 100, len(scores)))
    fig = render.fig_clv_distribution(even, render.Units("EUR"))
    assert render.figure_notes(fig) == [] and len(fig.data) == 1


def test_every_figure_names_its_axes_and_money_carries_the_currency():
    scores, results, units = _small_scores(), _small_results(), render.Units("USD")
    figures = {
        "revenue": render.fig_revenue_by_month(results, units),
        "counts": render.fig_counts(scores, "size_band", "Size band"),
        "grid": render.fig_size_needs_grid(scores),
        "rfm": render.fig_rfm(scores, units),
        "clv": render.fig_clv_distribution(scores, units),
        "potential": render.fig_potential_codes(scores, units),
        "churn": render.fig_churn_distribution(scores, units),
        "quality": render.fig_model_quality(results),
    }
    for name, fig in figures.items():
        titles = _axis_titles(fig)
        assert titles and all(titles.values()), (name, titles)
    assert _axis_titles(figures["revenue"])["yaxis"] == "Net revenue (USD)"
    assert _axis_titles(figures["potential"])["yaxis"] == "Total revenue potential (USD)"
    assert "ROC AUC" in _axis_titles(figures["quality"])["yaxis"]
    assert "90 days" in _axis_titles(figures["churn"])["xaxis"]
    for name in ("revenue", "potential", "rfm", "clv"):
        hovers = " ".join(str(t.hovertemplate) for t in figures[name].data)
        assert "USD" in hovers, name


def test_pages_use_the_runs_currency_or_the_override():
    scores, results = _small_scores(), _small_results()
    pages = render.build_pages(scores, results, RUN)
    assert "amounts in USD" in pages["index.html"] and "USD 40,000" in pages["index.html"]
    assert "EUR" not in "".join(pages.values())
    pages = render.build_pages(scores, results, RUN, currency="GBP")
    assert "GBP 40,000" in pages["index.html"] and "USD" not in "".join(pages.values())
    legacy = {k: v for k, v in RUN.items() if k != "config"}  # a run from before the option
    assert "amounts in EUR" in render.build_pages(scores, results, legacy)["index.html"]
    from crm_analytics.scoring.config import RunConfig

    assert RunConfig().currency == render.DEFAULT_CURRENCY


def _header_cells(text: str) -> list[str]:
    return re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", text)


def test_tables_have_human_headers_formatted_numbers_and_no_row_numbers():
    results, units = _small_results(), render.Units("EUR")
    profile = render.table_html(results["profile_rfm_segment"], units=units)
    assert _header_cells(profile) == ["RFM segment", "Customers", "Share of customers",
                                      "Net revenue, last 365 days", "Top regions"]
    assert "EUR 472,894" in profile and "20.0%" in profile and ">595<" in profile
    assert profile.startswith('<div class="table-wrap">')
    one_row = render.table_html(results["service_overall"], units=units)
    # a one-row table is a measure | value list, without the pandas row number 0
    assert _header_cells(one_row)[:2] == ["Measure", "Value"]
    assert "Tickets" in one_row and "5,217" in one_row and "76.0%" in one_row and "4.0" in one_row
    assert ">0<" not in one_row and "Note" not in one_row  # the empty note column is left out
    evaluation = render.table_html(results["churn_evaluation"], units=units, index_name="model",
                                   values={"model": render.MODEL_NAMES})
    assert _header_cells(evaluation)[:2] == ["Model", "ROC AUC"]
    assert "Churn model (gradient boosting)" in evaluation and "0.860" in evaluation
    scores = _small_scores().head(3)[["name", "clv", "p_alive"]]
    top = render.table_html(scores, units=units)
    assert _header_cells(top) == ["Customer ID", "Name", "CLV", "P(alive)"]
    assert re.search(r"EUR \d[\d,]*\.\d\d<", top)
    for page in render.build_pages(_small_scores(), results, RUN).values():
        for header in _header_cells(page):
            assert header and not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", header), header


@slow
def test_old_run_keeps_its_currency_and_the_override_wins(published, tmp_path):
    first = published["first"].run_id
    old = write_dashboards(published["db"], tmp_path / "old", run_id=first)
    assert "amounts in CHF" in old.read_text() and "CHF " in (tmp_path / "old" / "value.html").read_text()
    latest = (published["out"] / "index.html").read_text()
    assert "amounts in EUR" in latest and "CHF" not in latest
    usd = write_dashboards(published["db"], tmp_path / "usd", currency="USD")
    assert "amounts in USD" in usd.read_text() and "EUR" not in usd.read_text()
    with pytest.raises(crm.InputError):
        write_dashboards(published["db"], tmp_path / "bad", currency="")


# --------------------------------------------------------------------------- readability: browser

_TABLES_JS = """() => Array.from(document.querySelectorAll('table')).map(t => {
  const card = t.closest('.card'), wrap = t.closest('.table-wrap');
  return {card: card ? card.querySelector('h2').textContent : null,
          cardScroll: card ? card.scrollWidth : null, cardClient: card ? card.clientWidth : null,
          cardRight: card ? card.getBoundingClientRect().right : null,
          wrapRight: wrap ? wrap.getBoundingClientRect().right : null,
          wrapClient: wrap ? wrap.clientWidth : null,
          overflowX: wrap ? getComputedStyle(wrap).overflowX : null, table: t.scrollWidth};
})"""
_AXES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(el => {
  const full = el._fullLayout || {}, user = el.layout || {};
  return Object.keys(full).filter(k => /^[xy]axis\\d*$/.test(k)).map(k => {
    const t = (user[k] || {}).title;
    return {plot: el.id, axis: k, title: String((t && (t.text !== undefined ? t.text : t)) || ''),
            shown: full[k].visible !== false && full[k].showticklabels !== false};
  });
})"""


@slow
@pytest.mark.browser
def test_pages_read_well_in_chromium_tables_scroll_axes_named(published):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (Debian package `chromium`; `make test` installs it "
                    "when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    out = published["out"]
    problems: list[str] = []
    outside: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file://", "data:", "blob:", "about:")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    scrolled = 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        for width in (1400, 800):  # a desktop, and a window narrow enough to make tables scroll
            context = browser.new_context(offline=True, viewport={"width": width, "height": 900})
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            for name, _ in PAGES:
                page.goto((out / name).as_uri(), wait_until="load")
                page.wait_for_function("() => window.Plotly !== undefined")
                page.wait_for_timeout(300)
                axes = page.evaluate(_AXES_JS)
                assert axes, name
                unnamed = [(a["plot"], a["axis"]) for a in axes if a["shown"] and not a["title"].strip()]
                assert unnamed == [], (name, unnamed)
                for t in page.evaluate(_TABLES_JS):
                    where = (name, width, t["card"])
                    assert t["wrapClient"] is not None, (where, "table outside a .table-wrap")
                    assert t["cardScroll"] <= t["cardClient"] + 1, (where, t)  # nothing cut off
                    assert t["wrapRight"] <= t["cardRight"] + 1, (where, t)
                    if t["table"] > t["wrapClient"] + 1:
                        assert t["overflowX"] in ("auto", "scroll"), (where, t)
                        scrolled += 1
                headers = page.evaluate("() => Array.from(document.querySelectorAll('th'))"
                                        ".map(th => th.textContent.trim())")
                assert all(headers), (name, "an empty header (a pandas index?)")
            context.close()
        browser.close()
    assert scrolled > 0  # at 800 px the profile tables are wider than their cards, and scroll
    assert outside == [], outside
    assert problems == []
