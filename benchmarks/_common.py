"""What the scale benchmarks share: the synthetic store they run on, child processes, peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "_data"


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def run_child(script: str, args: list[str]) -> tuple[dict, float, float]:
    """Run ``script`` as a child; return its JSON report, wall seconds and peak RSS (MiB)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, script, *args], stdout=subprocess.PIPE, text=True,
                          check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed with exit code {proc.returncode}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report, wall, report["peak_rss_mb"]


def prepare_store(name: str, n_customers: int, seed: int, fresh: bool,
                  params: dict[str, Any] | None = None) -> tuple[Path, dict]:
    """Generate the Parquet files and load them into a Store file, or reuse them.

    The folder is ``_data/<name>_<n_customers>_<seed>``; a cached store is reused
    only if it was made with the same generator ``params``.
    """
    from crm_analytics.datasets.synthetic import generate_transactions_parquet
    from crm_analytics.store import Store

    data = DATA / f"{name}_{n_customers}_{seed}"
    meta_path = data / "meta.json"
    if not fresh and meta_path.exists() and (data / "store.duckdb").exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("params") == params:
            meta["cached"] = True
            # Opened once for writing: a store of an older schema version migrates here,
            # not in the timed (read-only) child, and a store loaded before the loader
            # kept its derived tables (customer_days, contact_lookup) gets them, as a load
            # by this version would leave them.
            with Store(data / "store.duckdb") as store:
                from crm_analytics.store import derived
                from crm_analytics.store.loading import DERIVED_TABLES

                for table in DERIVED_TABLES:
                    if not derived.table_current(store, table):
                        with store.transaction() as con:
                            derived.rebuild(con, table)
            return data, meta
    data.mkdir(parents=True, exist_ok=True)
    for leftover in ("store.duckdb", "store.duckdb.wal"):
        (data / leftover).unlink(missing_ok=True)
    t = time.perf_counter()
    files = generate_transactions_parquet(data, n_customers=n_customers, seed=seed, params=params)
    generate_s = time.perf_counter() - t
    print(f"generated {files.n_customers:,} customers, {files.n_transactions:,} transactions "
          f"in {generate_s:.1f} s", flush=True)
    t = time.perf_counter()
    with Store(data / "store.duckdb") as store:
        customers = store.load("customers", files.customers)
        transactions = store.load("transactions", files.transactions)
    load_s = time.perf_counter() - t
    meta = {"params": params, "n_customers": files.n_customers,
            "n_transactions": files.n_transactions, "generate_seconds": generate_s,
            "load_seconds": load_s,
            "rows_loaded": customers.rows_loaded + transactions.rows_loaded,
            "rows_rejected": customers.rows_rejected + transactions.rows_rejected, "cached": False}
    meta_path.write_text(json.dumps(meta, indent=1))
    return data, meta
