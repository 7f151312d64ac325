"""The RFM summary against one plain GROUP BY over the same transactions.

    .venv/bin/python benchmarks/rfm_groupby.py                       # 1,000,000 customers
    .venv/bin/python benchmarks/rfm_groupby.py --n-customers 200000  # quicker

The store is the one ``clv_scale.py`` uses (``_common.prepare_store``: ~21.6
million transaction rows for a million customers), reused when it exists. In
one process, on one connection, each query runs ``--repeat`` times (the first
run also reads the file from disk) and the best time counts:

* ``clv.rfm_summary(store, as_of)``: the whole call, DataFrame included, reading the
  ``customer_days`` table the loader keeps (built here, timed, when the cached store
  predates it);
* the same summary from the transactions (``clv/sql/rfm_summary.sql``, what
  ``rfm_summary`` runs when that table is not current), checked equal;
* ``SELECT customer_key, count(*) FROM transactions GROUP BY 1`` (the floor: one
  pass, one integer GROUP BY), also fetched as a DataFrame;
* the same GROUP BY on the text ``customer_id``, for reference.

The target (issue #18) is an RFM summary within 2x the integer GROUP BY.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import prepare_store

AS_OF = "2025-12-31"
PARAMS = {"r": 1.0, "alpha": 2.0, "b": 8.0, "share_poor_service": 0.0}
TARGET_RATIO = 2.0


def best_of(repeat: int, run) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="an existing store file to use instead of the generated one")
    parser.add_argument("--fresh", action="store_true", help="regenerate and reload the data")
    args = parser.parse_args()

    import pandas as pd

    from crm_analytics import clv
    from crm_analytics.store import Store, customer_days
    from crm_analytics.store.queries import load_query

    if args.db:
        db = Path(args.db)
    else:
        data, meta = prepare_store("clv_scale", args.n_customers, args.seed, args.fresh, PARAMS)
        db = data / "store.duckdb"
        print(f"data: {meta['n_customers']:,} customers, {meta['n_transactions']:,} transactions")
    t = time.perf_counter()
    with Store(db) as store:  # opening migrates a store of an older schema version
        print(f"open: {time.perf_counter() - t:.1f} s")
        keyed = "customer_key" in store.sql("SELECT * FROM transactions LIMIT 0").columns
        if keyed and not customer_days.table_current(store):
            t = time.perf_counter()
            with store.transaction() as con:
                customer_days.rebuild(con)
            print(f"customer_days built: {time.perf_counter() - t:.2f} s")
        params = {"cutoff": pd.Timestamp(AS_OF) + pd.Timedelta(days=1), "as_of": pd.Timestamp(AS_OF).date(),
                  "calibration_end": pd.Timestamp(AS_OF).date(), "days_per_unit": 7.0}
        from_tx = load_query("clv/sql/rfm_summary.sql")
        fast = clv.rfm_summary(store, AS_OF)
        slow = store.sql(from_tx, params).set_index("customer_id")[fast.columns].astype("float64")
        pd.testing.assert_frame_equal(fast, slow, check_names=False)
        print(f"rfm_summary from customer_days == from the transactions: {len(fast):,} customers")
        queries = {"rfm_summary": lambda: clv.rfm_summary(store, AS_OF),
                   "rfm_summary (transactions)": lambda: store.sql(from_tx, params)}
        if keyed:
            queries["GROUP BY customer_key"] = lambda: store.sql(
                "SELECT customer_key, count(*) AS n FROM transactions GROUP BY 1")
        queries["GROUP BY customer_id"] = lambda: store.sql(
            "SELECT customer_id, count(*) AS n FROM transactions GROUP BY 1")
        rows = store.sql("SELECT count(*) AS n FROM transactions")["n"].item()
        threads = store.sql("SELECT current_setting('threads') AS t")["t"].item()
        print(f"{rows:,} transaction rows; DuckDB threads {threads}; best of {args.repeat}")
        best = {}
        for name, run in queries.items():
            best[name], times = best_of(args.repeat, run)
            print(f"{name:<28}{best[name]:>8.2f} s   runs: "
                  + ", ".join(f"{x:.2f}" for x in times))
    floor = "GROUP BY customer_key" if keyed else "GROUP BY customer_id"
    ratio = best["rfm_summary"] / best[floor]
    verdict = "meets" if keyed and ratio <= TARGET_RATIO else "misses"
    print(f"rfm_summary / {floor}: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x "
          f"the integer GROUP BY: {verdict})")


if __name__ == "__main__":
    main()
