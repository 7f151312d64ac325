"""The read-only web app: customer search and card, a JSON API, the dashboards.

Routes
------
``/``                          search page (``?q=``: id, e-mail, phone or name)
``/customers/{id}``            the customer card (``?as_of=YYYY-MM-DD``)
``/api/customers/{id}``        the card as JSON (:meth:`CustomerView.to_dict`; 404 if unknown)
``/api/search?q=``             search results as JSON (``&limit=``, ``&by=id|email|phone|name``)
``/dashboards/``               the dashboards of the latest run (see :mod:`.site`)
``/static/app.css``            the one style sheet

Security
--------
* The store is read through read-only snapshots, private copies of the file
  (:class:`~crm_analytics.web.gate.StoreGate`); nothing is ever written to it.
* :func:`serve` binds 127.0.0.1 by default and refuses any other address without an
  access token. With a token, **every** request must carry it: ``Authorization: Bearer
  <token>``, or the cookie set after opening ``/?token=<token>`` once (the app then
  redirects to the same page without the token in the address). Tokens are compared
  in constant time (:func:`hmac.compare_digest`).
* Without a token the app answers only requests addressed to ``127.0.0.1``,
  ``localhost`` or ``[::1]`` (the ``Host`` header), so a web page cannot reach it
  through a DNS name pointing at the loopback address.
* Customer text is HTML-escaped everywhere; pages have no script at all and load
  nothing from another origin. Every response carries a Content-Security-Policy
  (pages: ``default-src 'none'; style-src 'self'; ...``; dashboards: their own
  inline scripts by hash), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer``, ``X-Frame-Options: DENY`` and ``Cache-Control: no-store``.

Runs
----
Customer pages show the latest successful run (:class:`ShownRun`). When a new run
commits, the custom segments of its customers are computed in a child process of
lower priority (seconds for a million customers); meanwhile pages keep showing the run shown before,
all of it: scores and segments of one run, never a mix. A date (``?as_of=``) or the
app's first pages, with no run ready yet, wait for them.

Workers
-------
:func:`serve` runs ``workers`` processes (default :func:`default_workers`: one per core,
at most two) on one socket, so requests are not queued behind one Python interpreter.
Each reads its own snapshot of the store (:class:`~crm_analytics.web.gate.StoreGate`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_analytics.core.timeutils import to_date
from crm_analytics.customers import (
    CustomerView,
    UnknownCustomerError,
    ViewContext,
    customer_view,
    find_customers,
    view_context,
)
from crm_analytics.errors import InputError, StoreBusyError
from crm_analytics.store import Store
from crm_analytics.web import pages
from crm_analytics.web.gate import StoreGate
from crm_analytics.web.site import DashboardSite

__all__ = ["ENV_TOKEN", "LOOPBACK_HOSTS", "MAX_WORKERS", "MIN_TOKEN_CHARS", "PAGE_POLICY", "ShownRun",
           "app_from_environment", "check_bind", "create_app", "default_workers", "serve"]

log = logging.getLogger(__name__)

#: Environment variable holding the access token (``--token`` wins).
ENV_TOKEN = "CRM_ANALYTICS_TOKEN"
# How serve() tells its worker processes the store.
_ENV_DB = "CRM_ANALYTICS_WEB_DB"
#: Most worker processes :func:`serve` starts (a worker holds its own caches and connections).
MAX_WORKERS = 16
MIN_TOKEN_CHARS = 16
#: Host names (``Host`` header, without the port) answered without a token.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
#: The Content-Security-Policy of every response but the dashboards.
PAGE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
_COOKIE = "crm_analytics_session"
_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token, or with a short token.

    Examples
    --------
    >>> check_bind("127.0.0.1", None)
    >>> check_bind("0.0.0.0", None)
    Traceback (most recent call last):
    ...
    crm_analytics.errors.InputError: --host 0.0.0.0 is not a loopback address: ...
    """
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise InputError(f"the access token has {len(token)} characters; use at least {MIN_TOKEN_CHARS} "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe())')")
    if not _is_loopback(host) and token is None:
        raise InputError(f"--host {host} is not a loopback address: serving customer data to the "
                         f"network needs an access token (--token or ${ENV_TOKEN}); or keep the "
                         "default --host 127.0.0.1")


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without the port (``[::1]:8000`` -> ``[::1]``).

    Examples
    --------
    >>> _host_name("127.0.0.1:8000"), _host_name("[::1]:80"), _host_name("localhost")
    ('127.0.0.1', '[::1]', 'localhost')
    """
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _session_value(token: str) -> str:
    # The cookie holds a value derived from the token, not the token itself.
    return hmac.new(token.encode(), b"crm_analytics web session", hashlib.sha256).hexdigest()


class _Guard:
    """ASGI middleware: host check, token check on every request, security headers."""

    def __init__(self, app: ASGIApp, token: str | None, check_host: bool) -> None:
        self.app, self.token, self.check_host = app, token, check_host
        self.session = _session_value(token) if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is None and self.token is not None and "token" in request.query_params:
            refusal = self._login(request)
        if refusal is not None:
            await self._with_headers(refusal)(scope, receive, send)
            return
        await self._with_headers(self.app)(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        if self.check_host and _host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
            return _error(request, 400, "this server answers only requests to 127.0.0.1 or localhost")
        if self.token is None:
            return None
        given = request.headers.get("authorization", "")
        if given.lower().startswith("bearer ") and hmac.compare_digest(
                given[7:].strip().encode(), self.token.encode()):
            return None
        cookie = request.cookies.get(_COOKIE, "")
        assert self.session is not None
        if cookie and hmac.compare_digest(cookie.encode(), self.session.encode()):
            return None
        if "token" in request.query_params:
            return None  # checked by _login
        message = "an access token is needed: open /?token=<token> once, or send Authorization: Bearer"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=401,
                                headers={"www-authenticate": "Bearer"})
        return HTMLResponse(pages.token_page(message), status_code=401)

    def _login(self, request: Request) -> Response:
        assert self.token is not None and self.session is not None
        given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return _error(request, 401, "wrong access token")
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(_COOKIE, self.session, httponly=True, samesite="strict", path="/")
        return response

    @staticmethod
    def _with_headers(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableHeaders(scope=message)
                    for name, value in _SECURITY_HEADERS.items():
                        headers.setdefault(name, value)
                    headers.setdefault("content-security-policy", PAGE_POLICY)
                await send(message)

            await app(scope, receive, send_with_headers)
        return wrapped


def _error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return HTMLResponse(pages.error_page(status, message), status_code=status)


def _guarded(endpoint: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    """Run a blocking endpoint in a worker thread; turn the package's errors into responses."""
    async def handler(request: Request) -> Response:
        try:
            return await run_in_threadpool(endpoint, request)
        except UnknownCustomerError as exc:
            return _error(request, 404, str(exc))
        except InputError as exc:
            return _error(request, 400, str(exc))
        except StoreBusyError as exc:
            response = _error(request, 503, f"the store is busy, try again: {exc}")
            response.headers["retry-after"] = "5"
            return response
        except Exception:  # the detail goes to the log, not to the client
            log.exception("error answering %s", request.url.path)
            return _error(request, 500, "internal error (see the server's log)")
    return handler


def _json_value(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "20")
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"limit {raw!r} is not a whole number") from None


class _SegmentsPendingError(Exception):
    """The custom segments of the run to show are still being computed (in the background)."""

    def __init__(self, done: threading.Event) -> None:
        super().__init__("custom segments still being computed")
        self.done = done


class ShownRun:
    """Which run the customer pages show (module docstring, *Runs*).

    The latest successful run once the custom segments of its customers are computed;
    until then the run shown before. :meth:`context` raises ``_SegmentsPendingError`` when
    there is none ready (the app's first pages, a date whose run was not shown yet).
    """

    def __init__(self) -> None:
        self.run_id: str | None = None  # the run of the pages without a date, shown last
        self._lock = threading.Lock()

    def context(self, store: Store, as_of: Any) -> tuple[ViewContext, threading.Event | None]:
        """The context of the views as of ``as_of`` (None: the latest day), and, when it is
        the run shown before, the event set once the latest run is ready to take over."""
        latest = view_context(store, as_of, wait_for_segments=False)
        if latest.ready:
            if as_of is None:
                with self._lock:
                    self.run_id = latest.run_id
            return latest, None
        with self._lock:
            before = self.run_id
        if as_of is None and before is not None and before != latest.run_id:
            try:
                kept = view_context(store, run_id=before, wait_for_segments=False)
            except InputError:  # no longer there (its scores pruned): wait for the new run
                kept = None
            if kept is not None and kept.ready:
                return kept, latest.pending
        assert latest.pending is not None
        raise _SegmentsPendingError(latest.pending)


def create_app(db: str | os.PathLike, *, token: str | None = None, check_host: bool | None = None,
               gate: StoreGate | None = None) -> Starlette:
    """The web app over a store file, read-only (module docstring).

    Parameters
    ----------
    db : str or Path
        The store file.
    token : str, optional
        Access token every request must carry (see the module docstring).
    check_host : bool, optional
        Answer only requests addressed to a loopback name; default: when there is no token.
    gate : StoreGate, optional
        How the store is read (default: a :class:`StoreGate` with its defaults, closed when
        the app shuts down; a gate handed in is left to the caller).

    Returns
    -------
    Starlette
        An ASGI app (run it with uvicorn, or test it with ``starlette.testclient``).

    Examples
    --------
    >>> import os, tempfile
    >>> from starlette.testclient import TestClient
    >>> from crm_analytics import Store
    >>> path = os.path.join(tempfile.mkdtemp(), "crm.duckdb")
    >>> Store(path).close()
    >>> with TestClient(create_app(path), base_url="http://127.0.0.1") as client:
    ...     client.get("/api/customers/C404").status_code
    404
    """
    gate_given = gate
    gate = gate or StoreGate(db)
    site = DashboardSite(gate)
    shown = ShownRun()
    check = (token is None) if check_host is None else check_host

    def search(request: Request) -> Response:
        query = request.query_params.get("q", "")
        if not query.strip():
            return HTMLResponse(pages.search_page())
        try:
            with gate.reading() as store:
                results = find_customers(store, query, limit=_limit(request))
        except InputError as exc:
            return HTMLResponse(pages.search_page(query, error=str(exc)), status_code=400)
        return HTMLResponse(pages.search_page(query, results))

    def view_of(request: Request) -> CustomerView:
        raw = request.query_params.get("as_of") or None
        as_of = None if raw is None else to_date(raw)
        deadline = time.monotonic() + gate.busy_timeout
        while True:
            with gate.reading() as store:
                try:
                    # The date, the run and the custom segments, worked out once per snapshot
                    # of the store; again once a newer run's segments are ready.
                    key = ("view", as_of)
                    context, newer = gate.memo(key, lambda: shown.context(store, as_of))
                    if newer is not None and newer.is_set():
                        gate.forget(key)
                        context, newer = gate.memo(key, lambda: shown.context(store, as_of))
                except _SegmentsPendingError as pending:
                    done = pending.done
                else:
                    return customer_view(store, request.path_params["customer_id"], context=context)
            # Waited for outside the gate: the file is not held meanwhile.
            if not done.wait(max(0.0, deadline - time.monotonic())):
                raise StoreBusyError("the custom segments of the latest run are still being computed")

    def customer(request: Request) -> Response:
        return HTMLResponse(pages.customer_page(view_of(request)))

    def api_customer(request: Request) -> Response:
        return JSONResponse(view_of(request).to_dict())

    def api_search(request: Request) -> Response:
        query = request.query_params.get("q", "")
        by = request.query_params.get("by") or None
        with gate.reading() as store:
            found = find_customers(store, query, limit=_limit(request), by=by)
        records = [{"customer_id": cid, **{k: _json_value(v) for k, v in row.items()}}
                   for cid, row in found.iterrows()]
        return JSONResponse({"query": query, "by": by, "results": records})

    def dashboards(request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        run_id, files = site.current()
        if run_id is None:
            return _error(request, 404, "no dashboards yet: no successful scoring run "
                                        "(crm-analytics score)")
        page = files.get(name)
        if page is None:
            return _error(request, 404, f"no dashboard page {name!r}")
        headers = {"content-security-policy": page.policy} if page.policy else {}
        headers["cache-control"] = "no-cache"
        return Response(page.body, media_type=page.media_type, headers=headers)

    def stylesheet(request: Request) -> Response:
        return Response(pages.APP_CSS, media_type="text/css; charset=utf-8",
                        headers={"cache-control": "no-cache"})

    def dashboards_root(request: Request) -> Response:
        return RedirectResponse("/dashboards/", status_code=307)

    routes = [
        Route("/", _guarded(search)),
        Route("/customers/{customer_id:path}", _guarded(customer)),
        Route("/api/customers/{customer_id:path}", _guarded(api_customer)),
        Route("/api/search", _guarded(api_search)),
        Route("/dashboards", _guarded(dashboards_root)),
        Route("/dashboards/", _guarded(dashboards)),
        Route("/dashboards/{name}", _guarded(dashboards)),
        Route("/static/app.css", _guarded(stylesheet)),
    ]

    own_gate = gate_given is None

    def warm_up() -> None:
        # Imports, and the custom-segment members of the latest run started (in the
        # background, not holding the gate), before the first request.
        try:
            with gate.reading() as store:
                shown.context(store, None)
        except _SegmentsPendingError:
            pass
        except Exception:  # the first request will say what is wrong
            log.debug("warm-up failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=warm_up, name="crm-web-warm-up", daemon=True).start()
        try:
            yield
        finally:
            if own_gate:  # a gate handed in belongs to the caller
                gate.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gate = gate
    app.state.site = site
    app.add_middleware(_Guard, token=token, check_host=check)
    return app


def _check_port(host: str, port: int) -> None:
    """Refuse a port that cannot be bound, in one line, before the store is opened."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose another "
                             "--port (or stop what is using it)") from None


def default_workers() -> int:
    """Worker processes :func:`serve` starts by default: one per core, at most two.

    Two on two cores answered twice the requests of one at the same latency (the
    benchmark in ``benchmarks/customer_view.py``); more than the cores only queue.
    """
    return max(1, min(2, os.cpu_count() or 1))


def _check_workers(workers: Any) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise InputError(f"The 'workers' parameter of serve must be an int in the range "
                         f"[1, {MAX_WORKERS}]. Got {workers!r} instead.")
    return workers


def app_from_environment() -> Starlette:
    """The app of one worker process of :func:`serve` (a uvicorn factory).

    The store and the token come from the environment :func:`serve` set.
    """
    db = os.environ.get(_ENV_DB)
    if not db:
        raise InputError(f"${_ENV_DB} is not set: start the app with crm_analytics.web.serve")
    return create_app(db, token=os.environ.get(ENV_TOKEN) or None)


def serve(db: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          *, workers: int | None = None, log_level: str = "warning",
          ready: Callable[[str], Any] | None = None) -> None:
    """Serve the web app with uvicorn until interrupted.

    Parameters
    ----------
    db : str or Path
        The store file (opened read-only).
    host : str, default '127.0.0.1'
        Address to bind; anything but a loopback address needs ``token``.
    port : int, default 8000
    token : str, optional
        Access token (default ``$CRM_ANALYTICS_TOKEN``); at least 16 characters.
    workers : int, optional
        Worker processes (default :func:`default_workers`). With more than one, the
        store and the token reach them through this process's environment
        (``$CRM_ANALYTICS_TOKEN`` is set to the token).
    log_level : str, default 'warning'
        uvicorn's log level. Requests are not logged (the addresses hold customer ids).
    ready : callable, optional
        Called with the app's address once the store has been checked.
    """
    import uvicorn

    token = token if token is not None else (os.environ.get(ENV_TOKEN) or None)
    check_bind(host, token)
    n = _check_workers(workers)
    _check_port(host, port)
    options = {"host": host, "port": port, "log_level": log_level, "access_log": False,
               "proxy_headers": False, "server_header": False, "timeout_graceful_shutdown": 5}
    if n == 1:
        app = create_app(db, token=token)
        _announce(ready, host, port)
        try:
            uvicorn.run(app, **options)
        finally:
            app.state.gate.close()
        return
    Store(db, read_only=True)  # a file that is not a store is refused here, in one line
    os.environ[_ENV_DB] = os.fspath(db)
    if token is None:
        os.environ.pop(ENV_TOKEN, None)
    else:
        os.environ[ENV_TOKEN] = token
    _announce(ready, host, port)
    uvicorn.run("crm_analytics.web.app:app_from_environment", factory=True, workers=n, **options)


def _announce(ready: Callable[[str], Any] | None, host: str, port: int) -> None:
    if ready is not None:
        shown = f"[{host}]" if ":" in host else host
        ready(f"http://{shown}:{port}/")
