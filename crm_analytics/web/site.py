"""The dashboards the web app serves under ``/dashboards/``: written per run, kept in memory.

The pages are generated with :func:`crm_analytics.dashboards.write_dashboards` the first
time they are asked for after a new run became the latest (a few seconds for 100,000
customers), into a private temporary folder, and served from memory until the next
run. Generating per run rather than once at start-up keeps them in step with the
customer pages (both show the latest run); generating per request would redo seconds
of work for every page view.

The pages carry inline scripts (plotly's figure calls): each page's
Content-Security-Policy allows exactly those, by their SHA-256 hashes, and scripts
from the app itself (``plotly.min.js``, served beside the pages) — nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_analytics.dashboards import write_dashboards
from crm_analytics.errors import InputError
from crm_analytics.store.results import latest_run_id
from crm_analytics.web.gate import StoreGate

__all__ = ["DashboardSite", "SitePage", "page_policy"]

log = logging.getLogger(__name__)

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def page_policy(html_text: str) -> str:
    """The Content-Security-Policy of a dashboard page: its own inline scripts, by hash.

    Examples
    --------
    >>> page_policy("<script>go()</script>").split("; ")[1]
    "script-src 'self' 'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"
    """
    hashes = sorted({
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode("utf-8")).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(html_text)
    })
    # Plotly styles its figures with <style> elements and style attributes it writes itself.
    return "; ".join([
        "default-src 'none'", " ".join(["script-src", "'self'", *hashes]), "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:", "font-src 'self' data:", "connect-src 'self'", "base-uri 'none'",
        "form-action 'none'", "frame-ancestors 'none'",
    ])


def _latest(store: Any) -> str | None:
    try:
        return latest_run_id(store)
    except InputError:
        return None


@dataclass(frozen=True)
class SitePage:
    """One file of the dashboards: its bytes, media type and policy."""

    body: bytes
    media_type: str
    policy: str | None = None


@dataclass
class DashboardSite:
    """The dashboards of the latest run, generated when first needed (module docstring)."""

    gate: StoreGate
    run_id: str | None = None
    pages: dict[str, SitePage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def current(self) -> tuple[str | None, dict[str, SitePage]]:
        """(latest run id, its files by name); ``(None, {})`` without a successful run."""
        with self.gate.reading() as store:
            latest = self.gate.memo("latest_run_id", lambda: _latest(store))
        if latest is None:
            return None, {}
        if latest == self.run_id:
            return self.run_id, self.pages
        with self._lock:
            if latest != self.run_id:
                self.pages = self._build(latest)
                self.run_id = latest
        return self.run_id, self.pages

    def _build(self, run_id: str) -> dict[str, SitePage]:
        folder = Path(tempfile.mkdtemp(prefix="crm_dashboards_"))
        try:
            with self.gate.reading() as store:
                write_dashboards(store, folder, run_id=run_id)
            pages = {}
            for path in folder.iterdir():
                if path.suffix not in _TYPES or path.name.startswith("."):
                    continue
                body = path.read_bytes()
                policy = page_policy(body.decode("utf-8")) if path.suffix == ".html" else None
                pages[path.name] = SitePage(body, _TYPES[path.suffix], policy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        log.info("dashboards of run %s ready (%d files)", run_id, len(pages))
        return pages
