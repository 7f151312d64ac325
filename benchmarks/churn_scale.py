"""Churn at scale: feature building and scoring for 1,000,000 customers.

    .venv/bin/python benchmarks/churn_scale.py                       # 1,000,000 customers
    .venv/bin/python benchmarks/churn_scale.py --n-customers 20000   # quick run

1. Synthetic customers and transactions (``generate_transactions_parquet``,
   default parameters: ~7.4 transaction rows per customer) go to
   ``benchmarks/_data/churn_scale_<n>_<seed>/`` (gitignored) and are loaded into
   a Store file, validating every row; loading is timed on its own.
2. Each step then runs in a fresh subprocess, so wall time and peak RSS
   (``VmHWM``, the child's own high-water mark) belong to that step alone,
   imports included:

   * **train** (context, not the point): ``ChurnModel(active_days=1095,
     max_examples_per_cutoff=50_000)`` on three monthly cutoffs; saved.
   * **features**: ``churn.build_features(store, as_of)`` for every customer
     (``active_days=1095`` puts all customers in the population): purchase
     features in SQL, satisfaction features (no tickets or surveys here),
     firmographics and the BG/NBD fit of :mod:`crm_analytics.clv` on the whole
     history. The SQL stage of the purchase features is also timed alone.
   * **score**: ``ChurnModel.load`` then ``churn.score(model, store, as_of)`` with the
     three reasons per customer (features rebuilt inside); and once without
     reasons.
   * **pandas** (the obvious alternative, for the purchase features only):
     ``pd.read_parquet`` of the transaction log and groupbys computing the same
     recency, tenure, purchase-day and spend windows, median gap, breadth,
     refunds and top channel. Reported as a ratio against our SQL stage, and
     checked to agree on recency, purchase counts, spend and the median gap.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # child processes time their imports too

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import peak_rss_mb, prepare_store, run_child  # noqa: E402

AS_OF = "2025-09-30"
CUTOFFS = ["2025-03-31", "2025-04-30", "2025-05-31"]
ACTIVE_DAYS = 1095
HORIZON_DAYS = 90




def run_train(db: str, model_path: str) -> dict:
    from crm_analytics import churn
    from crm_analytics.store import Store

    store = Store(db, read_only=True)
    t = time.perf_counter()
    model = churn.ChurnModel(horizon_days=HORIZON_DAYS, active_days=ACTIVE_DAYS,
                             max_examples_per_cutoff=50_000)
    model.fit(store, cutoffs=CUTOFFS, evaluate_at=AS_OF)
    fit_s = time.perf_counter() - t
    model.save(model_path)
    return {"stages": {"fit": fit_s}, "examples": int(model.training_summary_["n_examples"].sum())}


def run_features(db: str) -> dict:
    from crm_analytics import churn
    from crm_analytics.churn.features import _purchase_features, top_channels
    from crm_analytics.core.timeutils import to_date
    from crm_analytics.store import Store

    store = Store(db, read_only=True)
    stages = {"imports": time.perf_counter() - _T0}
    t = time.perf_counter()
    channels = top_channels(store, AS_OF)
    purchase = _purchase_features(store, to_date(AS_OF), ACTIVE_DAYS, channels)
    stages["purchase features (SQL)"] = time.perf_counter() - t
    t = time.perf_counter()
    X = churn.build_features(store, AS_OF, horizon_days=HORIZON_DAYS, active_days=ACTIVE_DAYS)
    stages["build_features (all sources)"] = time.perf_counter() - t
    sample = purchase.sample(min(len(purchase), 50_000), random_state=0)
    sample[["recency_days", "purchases_total", "purchases_90d", "spend_365d",
            "gap_median_days"]].to_parquet(Path(db).parent / "sample_sql.parquet")
    return {"stages": stages, "customers": len(X), "columns": X.shape[1]}


def run_score(db: str, model_path: str, reasons: bool) -> dict:
    from crm_analytics import churn
    from crm_analytics.store import Store

    store = Store(db, read_only=True)
    stages = {"imports": time.perf_counter() - _T0}
    t = time.perf_counter()
    model = churn.ChurnModel.load(model_path)
    stages["load model"] = time.perf_counter() - t
    t = time.perf_counter()
    scores = churn.score(model, store, AS_OF, reasons=reasons)
    stages["predict" + (" with reasons" if reasons else "")] = time.perf_counter() - t
    bands = scores["risk_band"].value_counts().to_dict()
    return {"stages": stages, "customers": len(scores), "bands": {str(k): int(v) for k, v in
                                                                  bands.items()}}


def run_pandas(transactions: str) -> dict:
    import numpy as np
    import pandas as pd

    stages = {"imports": time.perf_counter() - _T0}
    t = time.perf_counter()
    tx = pd.read_parquet(transactions, columns=["customer_id", "transaction_date", "amount",
                                                "product_category", "channel"])
    stages["read_parquet"] = time.perf_counter() - t
    t = time.perf_counter()
    as_of = pd.Timestamp(AS_OF)
    tx = tx[tx["transaction_date"] < as_of + pd.Timedelta(days=1)]
    tx["day"] = tx["transaction_date"].dt.normalize()
    buys = tx[tx["amount"] >= 0]
    days = buys.groupby(["customer_id", "day"], observed=True)["amount"].sum().reset_index()
    first_active = as_of - pd.Timedelta(days=ACTIVE_DAYS - 1)
    last = days.groupby("customer_id")["day"].max()
    active = last.index[last >= first_active]
    days = days[days["customer_id"].isin(active)].sort_values(["customer_id", "day"])
    g = days.groupby("customer_id")
    out = pd.DataFrame({
        "recency_days": (as_of - g["day"].max()).dt.days,
        "tenure_days": (as_of - g["day"].min()).dt.days,
        "purchases_total": g.size(),
        "spend_total": g["amount"].sum(),
    })
    for n in (30, 90, 180, 365):
        inside = days[days["day"] >= as_of - pd.Timedelta(days=n - 1)].groupby("customer_id")
        out[f"purchases_{n}d"] = inside.size().reindex(out.index, fill_value=0)
        out[f"spend_{n}d"] = inside["amount"].sum().reindex(out.index, fill_value=0.0)
    prev = days[(days["day"] >= as_of - pd.Timedelta(days=179))
                & (days["day"] <= as_of - pd.Timedelta(days=90))].groupby("customer_id")
    out["spend_prev_90d"] = prev["amount"].sum().reindex(out.index, fill_value=0.0)
    gaps = g["day"].diff().dt.days
    out["gap_median_days"] = gaps.groupby(days["customer_id"]).median()
    out["overdue_ratio"] = out["recency_days"] / out["gap_median_days"].replace(0, np.nan)
    recent = buys[buys["day"] >= as_of - pd.Timedelta(days=364)]
    out["categories_365d"] = recent.groupby("customer_id", observed=True)[
        "product_category"].nunique().reindex(out.index, fill_value=0)
    refunds = tx[(tx["amount"] < 0) & (tx["day"] >= as_of - pd.Timedelta(days=364))]
    out["refunds_365d"] = refunds.groupby("customer_id").size().reindex(out.index, fill_value=0)
    by_channel = buys.groupby(["customer_id", "channel"], observed=True).size().reset_index(
        name="n").sort_values(["customer_id", "n"], ascending=[True, False])
    top = by_channel.drop_duplicates("customer_id").set_index("customer_id")
    out["top_channel"] = top["channel"].reindex(out.index)
    out["top_channel_share"] = (top["n"] / by_channel.groupby("customer_id")["n"].sum()).reindex(
        out.index)
    stages["features (pandas groupby)"] = time.perf_counter() - t
    sample = pd.read_parquet(Path(transactions).parent / "sample_sql.parquet")
    mine = out.reindex(sample.index)
    agree = {
        name: bool(np.allclose(mine[name].astype(float), sample[name].astype(float),
                               equal_nan=True))
        for name in sample.columns
    }
    return {"stages": stages, "customers": len(out), "agrees_with_sql": agree}


# --------------------------------------------------------------------------- parent






def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="regenerate and reload the data")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        step, *rest = args.child
        report = {
            "train": lambda: run_train(rest[0], rest[1]),
            "features": lambda: run_features(rest[0]),
            "score": lambda: run_score(rest[0], rest[1], rest[2] == "reasons"),
            "pandas": lambda: run_pandas(rest[0]),
        }[step]()
        report["work_seconds"] = time.perf_counter() - _T0
        report["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(report))
        return

    data, meta = prepare_store("churn_scale", args.n_customers, args.seed, args.fresh, None)
    db = str(data / "store.duckdb")
    model = str(data / "churn_model.skops")
    print(f"store: {meta['n_customers']:,} customers, {meta['n_transactions']:,} transactions; "
          f"load {meta['load_seconds']:.1f} s (validated; rows rejected "
          f"{meta['rows_rejected']}){' [cached]' if meta['cached'] else ''}", flush=True)
    rows = []
    steps = [
        ("train (3 cutoffs x 50k sample)", ["train", db, model]),
        ("features", ["features", db]),
        ("score with reasons", ["score", db, model, "reasons"]),
        ("score without reasons", ["score", db, model, "no-reasons"]),
        ("pandas purchase features", ["pandas", str(data / "transactions.parquet")]),
    ]
    reports = {}
    for label, step in steps:
        report, wall, rss = run_child(__file__, ["--child", *step])
        reports[label] = report
        rows.append((label, wall, rss, report))
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in report["stages"].items())
        print(f"{label:32s} wall {wall:7.1f} s  peak RSS {rss:7.0f} MiB  ({stages})", flush=True)
    sql = reports["features"]["stages"]["purchase features (SQL)"]
    pandas_s = reports["pandas purchase features"]["stages"]
    by_hand = pandas_s["read_parquet"] + pandas_s["features (pandas groupby)"]
    print()
    print(f"customers scored: {reports['score with reasons']['customers']:,}; risk bands "
          f"{reports['score with reasons']['bands']}")
    print(f"purchase features: SQL {sql:.1f} s vs pandas {by_hand:.1f} s (read + groupby) -> "
          f"{by_hand / sql:.1f}x; peak RSS features step "
          f"{rows[1][2]:.0f} MiB vs pandas step {rows[4][2]:.0f} MiB")
    print(f"pandas agrees with SQL on: {reports['pandas purchase features']['agrees_with_sql']}")


if __name__ == "__main__":
    main()
