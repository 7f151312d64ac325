"""What the customer view's storage layout costs at load time, on the 1M customer-view store.

    .venv/bin/python benchmarks/layout_cost.py                      # 1,000,000 customers
    .venv/bin/python benchmarks/layout_cost.py --n-customers 100000

The single customer view and the search rest on two things the loader does
(README, *Single customer view*, "Speed and what it rests on"):

* transactions, tickets and answers are stored **ordered by (customer_key, date)**, so
  a per-customer query reads one row group;
* the derived tables ``contact_lookup`` (e-mail, reversed phone digits, upper-cased id
  per customer, sorted) and ``customer_days`` are kept **in the load's transaction**.

On a copy of the cached store (``benchmarks/_data/customer_view_<n>_0``, built by
``customer_view.py``) this times, each once:

1. a full rebuild of ``contact_lookup`` and of ``customer_days`` (what the first load
   of a store, or an older store's next load, pays);
2. a customers load of ``--changed`` existing customers with new phone numbers and
   e-mails, split into the time spent keeping the derived tables (``derived.sync``)
   and the rest of the load;
3. a transactions load of ``--transactions`` new rows for existing customers, split
   the same way;
4. for comparison, the same transactions inserted as they come (unordered) into a
   plain copy of the table: what the ordering costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--transactions", type=int, default=200_000)
    args = parser.parse_args()

    from crm_analytics.store import Store, derived
    from crm_analytics.store.contact_lookup import CONTACT_LOOKUP
    from crm_analytics.store.customer_days import CUSTOMER_DAYS

    source = DATA / f"customer_view_{args.n_customers}_0" / "store.duckdb"
    if not source.exists():
        raise SystemExit(f"{source} missing: run benchmarks/customer_view.py --n-customers "
                         f"{args.n_customers} first")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="layout_cost_"))
    db = folder / "store.duckdb"
    shutil.copy(source, db)
    spent = {"sync": 0.0}
    real_sync = derived.sync

    def timed_sync(*a, **k):
        t = time.perf_counter()
        try:
            return real_sync(*a, **k)
        finally:
            spent["sync"] += time.perf_counter() - t

    derived.sync = timed_sync
    try:
        with Store(db) as store:
            n = store.sql("SELECT count(*) AS n FROM customers")["n"].iloc[0]
            for table in (CONTACT_LOOKUP, CUSTOMER_DAYS):
                t = time.perf_counter()
                with store.connection() as con:
                    con.execute("BEGIN")
                    derived.rebuild(con, table)
                    con.execute("COMMIT")
                rows = store.sql(f"SELECT count(*) AS n FROM {table.name}")["n"].iloc[0]  # noqa: S608
                print(f"full rebuild of {table.name:<15} {time.perf_counter() - t:6.1f} s "
                      f"({rows:,} rows for {n:,} customers)", flush=True)

            rng = np.random.default_rng(1)
            ids = store.sql("SELECT customer_id FROM customers USING SAMPLE 20000 ROWS")["customer_id"]
            changed = store.sql("SELECT * EXCLUDE (customer_key) FROM customers WHERE customer_id IN "
                                "(SELECT unnest($ids))", {"ids": list(ids[: args.changed])})
            changed["phone"] = [f"+49 30 {rng.integers(1_000_000, 9_999_999)}" for _ in range(len(changed))]
            changed["email"] = [f"new.{i}@example.org" for i in range(len(changed))]
            spent["sync"] = 0.0
            t = time.perf_counter()
            report = store.load("customers", changed, mode="upsert")
            total = time.perf_counter() - t
            print(f"customers load, {len(changed):,} changed customers: {total:6.2f} s, of which "
                  f"keeping the derived tables {spent['sync']:5.2f} s ({report.rows_loaded:,} loaded, {report.rows_updated:,} updated)",
                  flush=True)

            tx = pd.DataFrame({
                "transaction_id": [f"LC{i}" for i in range(args.transactions)],
                "customer_id": rng.choice(ids.to_numpy(), args.transactions),
                "transaction_date": pd.Timestamp("2025-12-31") - pd.to_timedelta(
                    rng.integers(0, 86_400 * 30, args.transactions), unit="s"),
                "amount": np.round(rng.lognormal(4, 1, args.transactions), 2),
            })
            spent["sync"] = 0.0
            t = time.perf_counter()
            report = store.load("transactions", tx)
            total = time.perf_counter() - t
            print(f"transactions load, {len(tx):,} rows: {total:6.2f} s, of which keeping the "
                  f"derived tables {spent['sync']:5.2f} s ({report.rows_loaded:,} loaded, {report.rows_updated:,} updated)", flush=True)

            with store.connection() as con:
                con.execute("CREATE TEMP TABLE plain AS SELECT * FROM transactions LIMIT 0")
                con.register("new_rows", tx)
                t = time.perf_counter()
                con.execute("INSERT INTO plain SELECT transaction_id, customer_id, transaction_date, "
                            "amount, NULL, NULL, NULL, NULL FROM new_rows")
                plain = time.perf_counter() - t
                t = time.perf_counter()
                con.execute("INSERT INTO plain SELECT transaction_id, customer_id, transaction_date, "
                            "amount, NULL, NULL, NULL, NULL FROM new_rows ORDER BY customer_id, "
                            "transaction_date")
                ordered = time.perf_counter() - t
            print(f"inserting those rows as they come {plain:5.2f} s, ordered by customer and date "
                  f"{ordered:5.2f} s", flush=True)
    finally:
        derived.sync = real_sync
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
