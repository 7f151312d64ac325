"""The read-only web app through Starlette's TestClient: pages, JSON API, token, escaping, headers."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from crm_analytics.cli import main
from crm_analytics.customers import customer_view
from crm_analytics.store import Store
from crm_analytics.web import check_bind, create_app
from crm_analytics.web.gate import StoreGate
from tests.customers.scored import AS_OF, EMPTY, HOSTILE, HOSTILE_NAME, TICKETS_ONLY, scored_store

TOKEN = "s3cret-token-of-24-chars"
LOCAL = "http://127.0.0.1"

# Every test here uses the shared scored store (built once per session, 10-20 s).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored():
    return scored_store()


@pytest.fixture(scope="module")
def gate(scored):
    gate = StoreGate(scored.path)
    yield gate
    gate.close()


@pytest.fixture(scope="module")
def client(gate, scored):
    with TestClient(create_app(scored.path, gate=gate), base_url=LOCAL) as c:
        yield c


@pytest.fixture(scope="module")
def guarded(gate, scored):
    with TestClient(create_app(scored.path, token=TOKEN, gate=gate), base_url="http://crm.example:8000",
                    follow_redirects=False) as c:
        yield c


def test_search_page_lists_matches_linking_to_their_cards(client):
    page = client.get("/", params={"q": "ZOE.ANGSTROM@example.org "})
    assert page.status_code == 200
    assert '<a class="customer-link" href="/customers/Z-EMPTY">Z-EMPTY</a>' in page.text
    assert client.get("/").status_code == 200
    bad = client.get("/", params={"q": "12-34", "limit": "0"})
    assert bad.status_code == 400 and "limit" in bad.text


def test_customer_page_shows_the_card(client, scored):
    page = client.get(f"/customers/{TICKETS_ONLY}", params={"as_of": AS_OF})
    assert page.status_code == 200
    assert 'data-customer-id="Z-TICKETS"' in page.text and 'data-rule="resolve_complaint"' in page.text
    assert '<link rel="stylesheet" href="/static/app.css">' in page.text
    assert "<script" not in page.text and "<style" not in page.text  # CSP: no inline anything
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_api_customer_equals_the_view(client, scored):
    got = client.get(f"/api/customers/{TICKETS_ONLY}", params={"as_of": AS_OF})
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    with Store(scored.path, read_only=True) as store:
        expected = json.loads(json.dumps(customer_view(store, TICKETS_ONLY, AS_OF).to_dict()))
    assert got.json() == expected


def test_api_search(client):
    got = client.get("/api/search", params={"q": "(030) 123 45 67"})
    assert got.status_code == 200
    data = got.json()
    assert data["results"][0]["customer_id"] == EMPTY and data["results"][0]["matched_on"] == "phone"
    assert client.get("/api/search", params={"q": "x", "by": "fax"}).status_code == 400
    assert client.get("/api/search", params={"q": "nobody@nowhere.example"}).json()["results"] == []


def test_unknown_customer_is_404_and_bad_input_400(client):
    missing = client.get("/api/customers/NO-SUCH")
    assert missing.status_code == 404 and "no customer 'NO-SUCH'" in missing.json()["error"]
    assert client.get("/customers/NO-SUCH").status_code == 404
    assert client.get(f"/api/customers/{EMPTY}", params={"as_of": "yesterday-ish"}).status_code == 400


def test_hostile_name_is_text_everywhere(client):
    for page in (client.get(f"/customers/{HOSTILE}"), client.get("/", params={"q": "onerror"})):
        assert page.status_code == 200
        assert "<script>" not in page.text and "<img" not in page.text
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page.text
    data = client.get(f"/api/customers/{HOSTILE}").json()
    assert data["profile"]["name"] == HOSTILE_NAME  # JSON carries the data as it is


def test_security_headers_on_every_response(client):
    for path in ("/", f"/customers/{EMPTY}", f"/api/customers/{EMPTY}", "/api/customers/NO",
                 "/static/app.css"):
        headers = client.get(path).headers
        assert headers["content-security-policy"].startswith("default-src 'none'"), path
        assert "script-src" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store" or path == "/static/app.css"


def test_without_token_only_loopback_host_names_are_answered(gate, scored):
    with TestClient(create_app(scored.path, gate=gate), base_url="http://evil.example") as c:
        assert c.get("/api/search", params={"q": "zoe"}).status_code == 400
    for host in ("http://localhost:8000", "http://[::1]:8000"):
        with TestClient(create_app(scored.path, gate=gate), base_url=host) as c:
            assert c.get("/").status_code == 200, host


def test_token_is_checked_on_every_request(guarded):
    for path in ("/", f"/customers/{EMPTY}", f"/api/customers/{EMPTY}", "/api/search?q=zoe",
                 "/dashboards/", "/static/app.css"):
        refused = guarded.get(path)
        assert refused.status_code == 401, path
        assert "Zoë" not in refused.text
    assert guarded.get(f"/api/customers/{EMPTY}", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}
                       ).status_code == 401
    ok = guarded.get(f"/api/customers/{EMPTY}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["customer_id"] == EMPTY


def test_token_in_the_address_once_sets_a_session_cookie(guarded):
    wrong = guarded.get("/", params={"token": "nope"})
    assert wrong.status_code == 401
    login = guarded.get("/", params={"q": "zoe", "token": TOKEN})
    assert login.status_code == 303 and login.headers["location"] == "/?q=zoe"
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and TOKEN not in cookie
    page = guarded.get("/?q=zoe")  # the client keeps the cookie
    assert page.status_code == 200 and "Z-EMPTY" in page.text
    guarded.cookies.clear()
    assert guarded.get("/?q=zoe").status_code == 401


def test_non_loopback_host_needs_a_token(capsys, scored, monkeypatch):
    monkeypatch.delenv("CRM_ANALYTICS_TOKEN", raising=False)
    for host in ("0.0.0.0", "192.168.1.10", "crm.example.com"):
        with pytest.raises(Exception, match="not a loopback address"):
            check_bind(host, None)
        assert main(["serve", "--db", str(scored.path), "--host", host]) == 2
    assert "needs an access token" in capsys.readouterr().err
    check_bind("0.0.0.0", TOKEN)
    check_bind("::1", None)
    assert main(["serve", "--db", str(scored.path), "--token", "short"]) == 2


def test_dashboards_are_served_with_their_scripts_allowed_by_hash(client):
    index = client.get("/dashboards/")
    assert index.status_code == 200 and "plotly.min.js" in index.text
    policy = index.headers["content-security-policy"]
    hashes = re.findall(r"'sha256-[^']+'", policy)
    assert hashes and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    bodies = re.findall(r"<script(?![^>]*src=)[^>]*>(.*?)</script>", index.text, re.DOTALL)
    assert len(hashes) == len(set(bodies)) > 1
    js = client.get("/dashboards/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/dashboards/../crm.duckdb").status_code == 404
    assert client.get("/dashboards/nope.html").status_code == 404


def test_a_port_in_use_is_refused_in_one_line(scored, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--db", str(scored.path), "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err


def test_pages_keep_the_run_shown_before_while_a_new_runs_segments_are_computed(monkeypatch):
    import threading

    from crm_analytics.errors import InputError
    from crm_analytics.web import app as web_app

    def context(run_id, ready=True):
        return web_app.ViewContext(as_of=None, run={"run_id": run_id}, thresholds={}, nps_item="nps",
                                   csat_item="csat", currency="EUR", segment_members={}, segment_notes=(),
                                   pending=None if ready else threading.Event())

    state = {"latest": context("R1"), "kept": context("R1")}

    def fake(store, as_of=None, *, run_id=None, wait_for_segments=True):
        if run_id is None:
            return state["latest"]
        if isinstance(state["kept"], Exception):
            raise state["kept"]
        return state["kept"]

    monkeypatch.setattr(web_app, "view_context", fake)
    shown = web_app.ShownRun()
    got, newer = shown.context(None, None)
    assert got.run_id == "R1" and newer is None and shown.run_id == "R1"
    state["latest"] = context("R2", ready=False)  # a new run committed; its segments not ready
    got, newer = shown.context(None, None)
    assert got.run_id == "R1" and newer is state["latest"].pending  # R1, all of it, meanwhile
    state["kept"] = InputError("run 'R1' has no scores left")
    with pytest.raises(Exception, match="still being computed"):  # nothing ready to show: wait
        shown.context(None, None)
    state["latest"] = context("R2")
    got, newer = shown.context(None, None)
    assert got.run_id == "R2" and newer is None and shown.run_id == "R2"


def test_workers_are_checked(monkeypatch):
    from crm_analytics.web import app as web_app

    assert 1 <= web_app.default_workers() <= 2
    for bad in (0, 17, 1.5, True):
        with pytest.raises(Exception, match="'workers' parameter of serve"):
            web_app.serve("nowhere.duckdb", workers=bad)
    with pytest.raises(SystemExit) as exited:  # argparse: a usage error
        main(["serve", "--db", "nowhere.duckdb", "--workers", "0"])
    assert exited.value.code == 2


def test_serve_with_two_workers(scored, tmp_path):
    import http.client
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "crm_analytics.cli", "serve", "--db", str(scored.path),
                               "--port", str(port), "--workers", "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert "serving http://127.0.0.1" in server.stdout.readline()
        deadline, got = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", f"/api/customers/{EMPTY}")
                response = conn.getresponse()
                got = (response.status, json.loads(response.read()))
                break
            except OSError:
                time.sleep(0.2)
        assert got is not None and got[0] == 200 and got[1]["customer_id"] == EMPTY
    finally:
        server.terminate()
        assert server.wait(timeout=30) is not None
