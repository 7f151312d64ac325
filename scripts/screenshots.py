"""Screenshots of every dashboard page, for the README: ``docs/dashboard_<page>.png``.

Builds a demo store from synthetic data (two runs, so the overview shows the change
against the previous run), writes the dashboards and photographs each page in
headless Chromium with the network off (every request but ``file://`` is refused,
so a page that tried to reach the internet would show it).

    .venv/bin/python scripts/screenshots.py              # into docs/
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --customers 1500
    .venv/bin/python scripts/screenshots.py --store crm.duckdb --out /tmp/shots   # a real store

Needs Debian's ``chromium`` (``apt-get install chromium``; ``tests/ensure_chromium.py``)
and playwright (in the dev dependencies). Takes about a minute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

#: Page file -> screenshot name; the README embeds these.
SHOTS = {
    "index.html": "dashboard_overview.png",
    "segments.html": "dashboard_segments.png",
    "value.html": "dashboard_value.png",
    "churn.html": "dashboard_churn.png",
    "satisfaction.html": "dashboard_satisfaction.png",
}


def build_site(folder: Path, *, customers: int, seed: int) -> Path:
    """Generate, load and score a demo store (two runs); return the dashboards' folder."""
    import crm_analytics as crm
    from crm_analytics.dashboards import write_dashboards
    from crm_analytics.datasets import synthetic
    from crm_analytics.store import Store

    db = folder / "crm.duckdb"
    data = synthetic.generate(n_customers=customers, seed=seed, dirty_fraction=0.02)
    with Store(db) as store:
        store.load_all(data.tables())
        last = store.sql("SELECT max(transaction_date)::DATE AS d FROM transactions")["d"].iloc[0]
    config = {"model_dir": str(folder / "models"), "currency": "EUR"}
    earlier = (dt.date.fromisoformat(str(last)[:10]) - dt.timedelta(days=61)).isoformat()
    crm.run_batch(db, as_of=earlier, config=config)  # the "previous run" of the overview
    crm.run_batch(db, config=config)
    out = folder / "site"
    write_dashboards(db, out)
    return out


def shoot(site: Path, out: Path, *, width: int, height: int, max_height: int,
          executable: str) -> list[Path]:
    """One PNG per page (full page, at most ``max_height`` pixels tall)."""
    from playwright.sync_api import sync_playwright

    written: list[Path] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        context = browser.new_context(offline=True, viewport={"width": width, "height": height},
                                      device_scale_factor=1)
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            "file://") else (problems.append(f"blocked {route.request.url}"), route.abort())[1])
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        for name, png in SHOTS.items():
            page.goto((site / name).as_uri(), wait_until="load")
            page.wait_for_function("() => window.Plotly !== undefined")
            page.wait_for_timeout(600)  # the resize on load, then the plots settle
            full = page.evaluate("() => document.documentElement.scrollHeight")
            target = out / png
            page.screenshot(path=str(target), full_page=True,
                            clip={"x": 0, "y": 0, "width": width, "height": min(full, max_height)})
            written.append(target)
        browser.close()
    if problems:
        raise SystemExit("the pages did not render cleanly:\n  " + "\n  ".join(problems))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs",
                        help="folder for the PNG files (default: docs/)")
    parser.add_argument("--customers", type=int, default=3000, help="demo customers (3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=1280, help="viewport width in px (1280)")
    parser.add_argument("--height", type=int, default=900, help="viewport height in px (900)")
    parser.add_argument("--max-height", type=int, default=1300,
                        help="cut taller pages at this many px (1300)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which(
        "chromium-browser"), help="Chromium executable (default: chromium on PATH)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="also keep the demo store and pages in this folder")
    parser.add_argument("--store", type=Path, default=None,
                        help="photograph the latest run of this store instead of a new demo store")
    args = parser.parse_args(argv)
    if not args.chromium:
        print("chromium not found: apt-get install chromium (or --chromium PATH)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crm-shots-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.store:
            from crm_analytics.dashboards import write_dashboards

            site = write_dashboards(args.store, folder / "site").parent
        else:
            site = build_site(folder, customers=args.customers, seed=args.seed)
        for path in shoot(site, args.out, width=args.width, height=args.height,
                          max_height=args.max_height, executable=args.chromium):
            print(f"{path}  {path.stat().st_size / 1024:,.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
