"""Dashboards: offline, every figure rendered, numbers equal to the run's result tables."""

from __future__ import annotations

import math
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.dashboards import PAGES, write_dashboards
from crm_analytics.datasets import synthetic
from crm_analytics.store import Store
from crm_analytics.store.results import run_results

# Each module fixture runs a full scoring run (about 15-45 s).
pytestmark = pytest.mark.slow


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
    folder = tmp_path_factory.mktemp("dash")
    db = folder / "crm.duckdb"
    data = synthetic.generate(n_customers=1500, seed=5)
    with Store(db) as store:
        store.load_all(data.tables())
    first = crm.run_batch(db, as_of="2025-10-31", config={"model_dir": str(folder / "models")})
    second = crm.run_batch(db, config={"model_dir": str(folder / "models")})
    out = folder / "site"
    index = write_dashboards(db, out)
    return {"db": db, "out": out, "index": index, "first": first, "second": second}


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


def test_overview_shows_change_vs_previous_run(published):
    html = (published["out"] / "index.html").read_text()
    assert "vs previous run" in html


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


def test_dashboard_of_an_older_run_and_unknown_run(published, tmp_path):
    first = published["first"].run_id
    index = write_dashboards(published["db"], tmp_path / "old", run_id=first)
    assert first in index.read_text()
    with pytest.raises(crm.InputError):
        write_dashboards(published["db"], tmp_path / "none", run_id="no-such-run")


def test_cli_dashboard_command(published, tmp_path, capsys):
    from crm_analytics.cli import main

    assert main(["dashboard", "--db", str(published["db"]), "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "index.html").exists()
    assert "dashboards written" in capsys.readouterr().out


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
