"""Exports with the contact history written vs without (the export before the history existed).

    .venv/bin/python benchmarks/export_history.py                       # 1,000,000 customers
    .venv/bin/python benchmarks/export_history.py --source clv_scale_200000_0

The store is a COPY, in /tmp, of a cached benchmark store (``benchmarks/_data/<source>/
store.duckdb``: customers from the synthetic generator, with e-mails, phones, shared
contacts and consent); the cached store itself is never opened. Every customer is
scored ``risk_band = 'high'`` so that one segment holds all of them. Paths, each timed
in this process one after the other (``--repeat`` times, the order alternating, after an
untimed warm-up export):

* **without**: ``export_segment`` with the history, the suppression list, open
  complaints and the contact policy switched off (their functions replaced by no-ops):
  what an export did before issue #15 - read contacts, consent, de-duplicate, write
  the file and its manifest atomically;
* **with, first day**: the full path: repair check, suppression list (500 entries),
  open complaints, a contact policy (caps per channel and across channels, quiet
  period, cooldown), a 10 % control group, and the contact history written in the
  commit protocol (history rows + pending export, renames, commit marker);
* **with, next day**: another campaign 24 hours later: the policy reads the previous
  day's history (one row per contact) to count every contact against the caps.

Target (issue #15): with the history <= 2x the time without.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, peak_rss_mb  # noqa: E402

POLICY = {
    "quiet_days": 1, "campaign_cooldown_days": 7,
    "caps": [{"channel": "email", "max_contacts": 2, "days": 7},
             {"channel": "any", "max_contacts": 4, "days": 30}],
    "campaigns": {"bench": {"holdout_fraction": 0.1}},
}


def _copy_store(source: str, folder: Path) -> Path:
    cached = DATA / source / "store.duckdb"
    if not cached.exists():
        raise SystemExit(f"{cached} not found: run benchmarks/clv_scale.py --n-customers 1000000 first")
    if (DATA / source / "store.duckdb.wal").exists():
        raise SystemExit(f"{cached} has a WAL file (another process is writing it); try again later")
    target = folder / "store.duckdb"
    shutil.copyfile(cached, target)  # a copy: the cached store is never opened here
    return target


def _without_history(exports):
    """Switch the history, suppression and policy steps off (restored by the returned function)."""
    from crm_analytics.campaigns import history

    saved = {
        (exports, "list_suppressed"): exports.list_suppressed,
        (exports, "complaint_suppressed"): exports.complaint_suppressed,
        (exports, "policy_skips"): exports.policy_skips,
        (history, "repair_exports"): history.repair_exports,
        (history, "record_pending"): history.record_pending,
        (history, "mark_committed"): history.mark_committed,
    }
    exports.list_suppressed = lambda store, contacts, *a, **k: pd.Series(False, index=contacts.index)
    exports.complaint_suppressed = lambda store, contacts, *a, **k: pd.Series(False, index=contacts.index)
    exports.policy_skips = lambda store, survivors, *a, **k: pd.Series(None, index=survivors.index,
                                                                         dtype=object)
    history.repair_exports = lambda store: []
    history.record_pending = lambda *a, **k: None
    history.mark_committed = lambda *a, **k: None

    def restore() -> None:
        for (module, name), value in saved.items():
            setattr(module, name, value)
    return restore


def _timed_steps(exports) -> dict[str, float]:
    """Accumulate the seconds spent in each step the history added (wrapping, not replacing)."""
    from crm_analytics.campaigns import history

    spent: dict[str, float] = {}
    targets = [(exports, "list_suppressed"), (exports, "complaint_suppressed"),
               (exports, "policy_skips"), (exports, "holdout_draw"), (history, "repair_exports"),
               (history, "contact_hash"), (history, "record_pending"), (history, "mark_committed")]
    for module, name in targets:
        function = getattr(module, name)

        def wrapped(*args, _function=function, _name=name, **kwargs):
            t = time.perf_counter()
            try:
                return _function(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - t
        setattr(module, name, wrapped)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="clv_scale_1000000_0",
                        help="cached store folder under benchmarks/_data/")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from crm_analytics import exports
    from crm_analytics.store import Store

    folder = Path(tempfile.mkdtemp(prefix="crm_bench_export_"))
    try:
        db = _copy_store(args.source, folder)
        with Store(db) as store:
            ids = store.sql("SELECT customer_id FROM customers")["customer_id"]
            n = len(ids)
            # A suppression list of 500 entries (ids, e-mails, phones), loaded like any table.
            sample = store.sql("SELECT customer_id, email, phone FROM customers USING SAMPLE 500 ROWS "
                               "(reservoir, 1)")
            sample["suppression_id"] = [f"S{i}" for i in range(len(sample))]
            sample["suppression_reason"] = ["opt-out", "bounced", "legal", "do-not-call"] * (len(sample) // 4)
            sample.loc[sample.index % 3 != 0, "customer_id"] = None
            store.load("suppressions", sample)
        scores = pd.DataFrame({"risk_band": "high"}, index=pd.Index(ids, name="customer_id"))
        scores.attrs.update({"run_id": "bench", "as_of": "2025-12-31"})
        day = pd.Timestamp("2026-01-05 09:00")
        times: dict[str, list[float]] = {"without": [], "with, first day": [], "with, next day": []}
        rows: dict[str, int] = {}
        steps: dict[str, list[dict[str, float]]] = {}
        originals = {name: getattr(exports, name)
                     for name in ("list_suppressed", "complaint_suppressed", "policy_skips",
                                  "holdout_draw")}
        from crm_analytics.campaigns import history
        history_originals = {name: getattr(history, name)
                             for name in ("repair_exports", "contact_hash", "record_pending",
                                          "mark_committed")}

        def restore_steps(module) -> None:
            for name, value in originals.items():
                setattr(module, name, value)
            for name, value in history_originals.items():
                setattr(history, name, value)
        with Store(db) as store:  # warm-up, untimed: file cache, imports, the first query plans
            exports.export_segment(store, "risk:high", folder / "warm.csv", scores=scores,
                                   campaign="warm", at=day, dry_run=True)
        for r in range(args.repeat):
            with Store(db) as store:
                store.execute("DELETE FROM contact_history")
                store.execute("DELETE FROM contact_exports")
                # Alternate which path goes first, so neither always meets a warmer cache.
                order = ["without", "with"] if r % 2 == 0 else ["with", "without"]
                for path in order:
                    if path == "without":
                        restore = _without_history(exports)
                        try:
                            t = time.perf_counter()
                            rep = exports.export_segment(store, "risk:high", folder / "without.csv",
                                                         scores=scores, campaign="bench", at=day,
                                                         holdout_fraction=0.0)
                            times["without"].append(time.perf_counter() - t)
                            rows["without"] = rep.rows
                        finally:
                            restore()
                        continue
                    store.execute("DELETE FROM contact_history")
                    store.execute("DELETE FROM contact_exports")
                    spent = _timed_steps(exports)
                    for label, at, campaign in (("with, first day", day, "bench"),
                                                ("with, next day", day + pd.Timedelta(days=1), "bench2")):
                        t = time.perf_counter()
                        rep = exports.export_segment(store, "risk:high", folder / f"with_{at:%d}.csv",
                                                     scores=scores, campaign=campaign, at=at,
                                                     policy=POLICY)
                        times[label].append(time.perf_counter() - t)
                        rows[label] = rep.rows
                        rows[label + " (history rows)"] = rep.rows + rep.control
                        rows[label + " (skipped)"] = sum(rep.skipped.values())
                        steps.setdefault(label, []).append({k: round(v, 2) for k, v in spent.items()})
                        spent.clear()
                    restore_steps(exports)
            print(f"run {r + 1} ({' first, '.join(order)} second): "
                  + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        base = statistics.median(times["without"])
        report = {
            "customers": n, "source": args.source, "repeat": args.repeat,
            "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
            "median_seconds": {k: round(statistics.median(v), 2) for k, v in times.items()},
            "ratio_to_without": {k: round(statistics.median(v) / base, 2) for k, v in times.items()},
            "rows": rows, "seconds_in_the_added_steps": steps,
            "peak_rss_mb": round(peak_rss_mb()),
            "threads": os.environ.get("CRM_ANALYTICS_THREADS", "default"),
        }
        print(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
