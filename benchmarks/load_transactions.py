"""Loading benchmark: 20 million generated transactions through ``Store.load``.

Prints rows per second and peak memory (RSS) of our path — every row typed,
validated, de-duplicated and checked against the customers table, rejects
quarantined, all in one transaction — next to the obvious alternative an
analyst would write by hand: ``pandas.read_csv`` plus ``to_numeric`` /
``to_datetime`` coercion and ``drop_duplicates`` (which validates less and
keeps everything in memory). Each path runs in its own process so peak RSS is
its own.

Usage::

    python benchmarks/load_transactions.py                # 20,000,000 rows
    python benchmarks/load_transactions.py --rows 2000000 # quick run
    python benchmarks/load_transactions.py --memory-limit 4GB
    python benchmarks/load_transactions.py --rows 2000000 --unordered --no-pandas
        # the loader without ordering its inserts by customer_key (to measure that cost)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def generate(rows: int, customers: int) -> tuple[Path, Path]:
    """Write the transaction CSV (and its customers) once, deterministically, with DuckDB."""
    import duckdb

    DATA.mkdir(parents=True, exist_ok=True)
    tx = DATA / f"transactions_{rows}.csv"
    cust = DATA / f"customers_{customers}.csv"
    con = duckdb.connect()
    if not cust.exists():
        con.execute(
            f"COPY (SELECT 'C' || lpad(CAST(i AS VARCHAR), 8, '0') AS customer_id, "
            f"'customer ' || CAST(i AS VARCHAR) AS name FROM range({customers}) t(i)) "
            f"TO '{cust}' (HEADER)"
        )
    if not tx.exists():
        # hash() gives deterministic pseudo-random values without a seed; ~0.1 % of
        # rows carry a defect (bad amount, unknown customer) so quarantine is exercised.
        con.execute(
            f"""
            COPY (
              SELECT 'T' || lpad(CAST(i AS VARCHAR), 9, '0') AS transaction_id,
                     CASE WHEN i % 997 = 0 THEN 'CX' || CAST(i AS VARCHAR)
                          ELSE 'C' || lpad(CAST(hash(i) % {customers} AS VARCHAR), 8, '0')
                     END AS customer_id,
                     CAST(TIMESTAMP '2023-01-01' + INTERVAL (hash(i * 7) % 94608000) SECOND AS VARCHAR)
                         AS transaction_date,
                     CASE WHEN i % 1009 = 0 THEN 'n/a'
                          ELSE CAST(round((hash(i * 13) % 50000) / 100.0 - 10, 2) AS VARCHAR)
                     END AS amount,
                     CAST(1 + hash(i * 17) % 5 AS VARCHAR) AS quantity,
                     ['Hardware', 'Software', 'Services', 'Supplies', 'Cloud']
                         [CAST(1 + hash(i * 19) % 5 AS BIGINT)] AS product_category,
                     ['online', 'field_sales', 'partner', 'phone']
                         [CAST(1 + hash(i * 23) % 4 AS BIGINT)] AS channel
              FROM range({rows}) t(i)
            ) TO '{tx}' (HEADER)
            """
        )
    return tx, cust


def run_ours(tx: str, cust: str, memory_limit: str | None, unordered: bool = False) -> dict:
    from crm_analytics import Store
    from crm_analytics.store.loading import Loader

    if unordered:
        Loader.order_inserts = False
    db = DATA / "bench_load.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    with Store(db) as store:
        if memory_limit:
            store.execute(f"SET memory_limit = '{memory_limit}'")
        t0 = time.perf_counter()
        store.load("customers", cust)
        customers_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        rep = store.load("transactions", tx)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": rep.rows_read, "loaded": rep.rows_loaded,
            "rejected": rep.rows_rejected, "duplicate": rep.rows_duplicate,
            "customers_seconds": customers_seconds}


def run_pandas(tx: str, cust: str) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    customers = pd.read_csv(cust, dtype=str)
    df = pd.read_csv(tx, dtype=str)
    df["amount"] = pd.to_numeric(df["amount"], errors="coerce")
    df["quantity"] = pd.to_numeric(df["quantity"], errors="coerce")
    df["transaction_date"] = pd.to_datetime(df["transaction_date"], errors="coerce")
    known = df["customer_id"].isin(customers["customer_id"])
    bad = df["amount"].isna() | df["transaction_date"].isna() | ~known
    good = df[~bad].drop_duplicates("transaction_id")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": len(df), "loaded": len(good), "rejected": int(bad.sum())}


def child(which: str, tx: str, cust: str, memory_limit: str | None, unordered: bool) -> None:
    out = run_ours(tx, cust, memory_limit, unordered) if which == "ours" else run_pandas(tx, cust)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 4GB")
    ap.add_argument("--unordered", action="store_true",
                    help="load without ordering the inserts by customer_key (measures that cost)")
    ap.add_argument("--no-pandas", action="store_true", help="run only our path")
    ap.add_argument("--data-dir", default=None, help="where the CSVs and the store go "
                    "(default benchmarks/_data)")
    ap.add_argument("--child", choices=("ours", "pandas"), help=argparse.SUPPRESS)
    ap.add_argument("--tx", help=argparse.SUPPRESS)
    ap.add_argument("--cust", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global DATA
    if args.data_dir:
        DATA = Path(args.data_dir)
    if args.child:
        child(args.child, args.tx, args.cust, args.memory_limit, args.unordered)
        return
    t0 = time.perf_counter()
    tx, cust = generate(args.rows, args.customers)
    print(f"data: {tx.name} ({tx.stat().st_size / 1e9:.2f} GB), generated/reused in "
          f"{time.perf_counter() - t0:.1f} s")
    results = {}
    for which in ("ours",) if args.no_pandas else ("ours", "pandas"):
        cmd = [sys.executable, __file__, "--child", which, "--tx", str(tx), "--cust", str(cust),
               "--data-dir", str(DATA)]
        if args.memory_limit:
            cmd += ["--memory-limit", args.memory_limit]
        if args.unordered:
            cmd += ["--unordered"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
    o = results["ours"]
    label = "Store.load" + (" (unordered)" if args.unordered else "")
    print(f"{'path':<34}{'seconds':>9}{'rows/s':>13}{'peak RSS MB':>13}")
    print(f"{label:<34}{o['seconds']:>9.1f}{o['rows'] / o['seconds']:>13,.0f}"
          f"{o['peak_rss_mb']:>13,.0f}")
    print(f"  (customers file first: {o['customers_seconds']:.1f} s for {args.customers:,} rows)")
    if args.no_pandas:
        return
    p = results["pandas"]
    print(f"{'pandas read_csv + coercion':<34}{p['seconds']:>9.1f}{p['rows'] / p['seconds']:>13,.0f}"
          f"{p['peak_rss_mb']:>13,.0f}")
    print(f"ratio (pandas / ours): time {p['seconds'] / o['seconds']:.2f}x, "
          f"peak memory {p['peak_rss_mb'] / o['peak_rss_mb']:.2f}x")
    print(f"ours: loaded {o['loaded']:,}, rejected {o['rejected']:,} (kept with reasons), "
          f"duplicate {o['duplicate']:,}; pandas dropped {p['rejected']:,} rows without a record")


if __name__ == "__main__":
    main()
