"""The web app in headless Chromium: search, open a customer, see the card; nothing leaves 127.0.0.1.

Served by uvicorn on a free loopback port in a thread of the test process. Skips
without Debian's ``chromium`` or without playwright, like the dashboards' browser tests.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import uvicorn

from crm_analytics.web import create_app
from tests.customers.scored import EMPTY, EMPTY_NAME, HOSTILE, HOSTILE_NAME, scored_store

# The shared scored store (10-20 s to build) and a browser: slow.
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def base_url():
    scored = scored_store()
    app = create_app(scored.path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.gate.close()


def test_search_open_customer_card_no_errors_nothing_leaves_the_machine(base_url):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (Debian package `chromium`; `make test` installs it "
                    "when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    problems: list[str] = []
    outside: list[str] = []
    dialogs: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith((base_url + "/", "data:", "blob:", "about:")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        page.goto(base_url + "/", wait_until="load")
        page.fill("input[name=q]", "zoe angstrom")  # no accents, lower case
        page.press("input[name=q]", "Enter")
        page.wait_for_selector("a.customer-link")
        page.click(f"a.customer-link[href='/customers/{EMPTY}']")
        page.wait_for_selector(".crm-card")
        assert page.inner_text(".crm-card h2") == EMPTY_NAME
        assert "Next best action" in page.inner_text(".crm-action")
        assert page.inner_text(".crm-contact-history") == "not recorded yet"
        styled = page.evaluate("() => getComputedStyle(document.querySelector('.crm-card')).borderRadius")
        assert styled == "8px"  # the style sheet loaded under the CSP

        page.goto(f"{base_url}/customers/{HOSTILE}", wait_until="load")
        assert page.inner_text(".crm-card h2") == HOSTILE_NAME  # shown as text
        assert page.evaluate("() => document.querySelectorAll('.crm-card img, .crm-card script').length") == 0

        page.goto(base_url + "/dashboards/", wait_until="load")
        page.wait_for_function("() => window.Plotly !== undefined")
        page.wait_for_timeout(300)
        drawn = page.evaluate("""() => Array.from(document.querySelectorAll('.plotly-graph-div'))
            .map(d => d.querySelectorAll('svg.main-svg').length)""")
        assert drawn and all(n > 0 for n in drawn), drawn  # the CSP lets the figures draw
        browser.close()
    assert outside == []
    assert dialogs == []
    assert problems == []
