"""Revenue forecast at scale: 1,000,000 customers by segment for 12 months, with intervals.

    .venv/bin/python benchmarks/forecast_scale.py                      # 1,000,000 customers
    .venv/bin/python benchmarks/forecast_scale.py --n-customers 20000  # quick run

1. The store of ``clv_scale.py`` (``benchmarks/_data/clv_scale_<n>_<seed>/store.duckdb``,
   made by that script or here with the same parameters) is **copied** to a
   temporary folder and only the copy is opened: the cached store is never
   modified (opening a store may migrate its schema).
2. Each path runs in a fresh subprocess (wall time and peak RSS its own, imports
   included; see ``_common.run_child``):

   * **ours**: ``rfm_summary`` (DuckDB) -> ``CLVModel().fit`` -> ``clv.forecast(...,
     horizon_months=12, by="size_band")``: existing customers month by month,
     the acquisition component, 80 % / 95 % intervals (process variance simulated
     on at most 10,000 customers per segment, parameter variance by the delta
     method). The forecast step is timed on its own too.
   * **lifetimes by hand, means only**: the same summary and parameters, then
     lifetimes' ``conditional_expected_number_of_purchases_up_to_time`` for every
     customer at the 12 month ends, ``conditional_expected_average_profit`` and a
     pandas ``groupby`` per segment -- the obvious alternative, without any
     interval and without the new-customer component.

Reported: seconds per phase, peak RSS, and the ratio of the two forecast phases.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # child processes time their imports too

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import DATA, peak_rss_mb, prepare_store, run_child  # noqa: E402

AS_OF = "2024-12-31"  # the generator acquires until 2/3 of its window: both components are busy
PARAMS = {"r": 1.0, "alpha": 2.0, "b": 8.0, "share_poor_service": 0.0}  # as clv_scale.py


def _child_ours(path: str, by: str, horizon: int) -> dict:
    from crm_analytics.clv import CLVModel, forecast, rfm_summary
    from crm_analytics.store import Store

    out: dict = {"import_s": time.perf_counter() - _T0}
    with Store(path, read_only=True) as store:
        t = time.perf_counter()
        summary = rfm_summary(store, AS_OF)
        out["summary_s"] = time.perf_counter() - t
        t = time.perf_counter()
        model = CLVModel().fit(summary)
        out["fit_s"] = time.perf_counter() - t
        t = time.perf_counter()
        table = forecast(store, AS_OF, horizon, by=by, model=model, summary=summary)
        out["forecast_s"] = time.perf_counter() - t
    total = table[(table.segment == "all customers") & (table.component == "total")]
    out.update({
        "customers": int(len(summary)), "segments": int(table.segment.nunique() - 1),
        "rows": int(len(table)), "expected_revenue_12m": float(total.expected_revenue.sum()),
        "first_month": total.iloc[0][["expected_revenue", "revenue_lo95", "revenue_hi95"]]
        .astype(float).round(0).to_dict(),
        "existing_revenue_12m": float(table[(table.segment == "all customers")
                                            & (table.component == "existing")].expected_revenue.sum()),
        "new_share": float(table[(table.segment == "all customers") & (table.component == "new")]
                           .expected_revenue.sum() / total.expected_revenue.sum()),
        "params": {k: float(v) for k, v in model.params_.items()},
    })
    return out


def _child_lifetimes(path: str, by: str, horizon: int) -> dict:
    import warnings

    import numpy as np
    import pandas as pd

    from crm_analytics.clv import CLVModel, rfm_summary
    from crm_analytics.clv.revenue_forecast import month_periods
    from crm_analytics.core.timeutils import to_date
    from crm_analytics.store import Store, customer_attributes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter

    out: dict = {"import_s": time.perf_counter() - _T0}
    with Store(path, read_only=True) as store:
        summary = rfm_summary(store, AS_OF)
        segments = customer_attributes(store)[by].reindex(summary.index)
    model = CLVModel().fit(summary)  # same parameters for both paths; not timed here
    t = time.perf_counter()
    bg = BetaGeoFitter()
    bg.params_ = pd.Series({k: model.params_[k] for k in ("r", "alpha", "a", "b")})
    gg = GammaGammaFitter()
    gg.params_ = pd.Series({k: model.params_[k] for k in ("p", "q", "v")})
    ends = month_periods(to_date(AS_OF), horizon)["end_day"].to_numpy() / 7.0
    x, t_x, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cum = np.column_stack([bg.conditional_expected_number_of_purchases_up_to_time(e, x, t_x, T)
                               for e in ends])
        spend = gg.conditional_expected_average_profit(summary["frequency"],
                                                       summary["monetary_value"]).to_numpy()
    spend = np.where(summary["frequency"].to_numpy() > 0, spend, gg.params_["p"] * gg.params_["v"]
                     / (gg.params_["q"] - 1))
    monthly = pd.DataFrame(np.diff(cum, axis=1, prepend=0.0) * spend[:, None])
    monthly["segment"] = segments.to_numpy()
    table = monthly.groupby("segment").sum()
    out["forecast_s"] = time.perf_counter() - t
    out["expected_revenue_12m_existing"] = float(table.to_numpy().sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by", default="size_band")
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--child", choices=["ours", "lifetimes"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = _child_ours if args.child == "ours" else _child_lifetimes
        report = fn(args.data, args.by, args.horizon)
        report["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(report))
        return

    cached = DATA / f"clv_scale_{args.n_customers}_{args.seed}" / "store.duckdb"
    if not cached.exists():
        prepare_store("clv_scale", args.n_customers, args.seed, fresh=False, params=PARAMS)
    with tempfile.TemporaryDirectory(prefix="forecast_scale_", dir="/tmp") as tmp:
        copy = Path(tmp) / "store.duckdb"
        t = time.perf_counter()
        shutil.copy2(cached, copy)  # never open the cached store itself
        print(f"copied {cached} to {copy} in {time.perf_counter() - t:.1f} s", flush=True)
        from crm_analytics.store import Store

        Store(copy).close()  # the copy migrates to this schema version here, not in a timed child
        common = ["--n-customers", str(args.n_customers), "--by", args.by, "--horizon",
                  str(args.horizon), "--data", str(copy)]
        ours, wall_ours, rss_ours = run_child(__file__, ["--child", "ours", *common])
        alt, wall_alt, rss_alt = run_child(__file__, ["--child", "lifetimes", *common])
    print(f"\n{ours['customers']:,} customers, {ours['segments']} segments by {args.by}, "
          f"{args.horizon} months, as of {AS_OF}")
    print(f"  ours: summary {ours['summary_s']:.1f} s, fit {ours['fit_s']:.1f} s, "
          f"forecast with intervals {ours['forecast_s']:.1f} s; wall {wall_ours:.1f} s "
          f"(imports {ours['import_s']:.1f} s), peak RSS {rss_ours:,.0f} MiB")
    print(f"  lifetimes by hand, means only: forecast {alt['forecast_s']:.1f} s; "
          f"wall {wall_alt:.1f} s, peak RSS {rss_alt:,.0f} MiB")
    print(f"  forecast phase: ours {ours['forecast_s']:.1f} s vs lifetimes {alt['forecast_s']:.1f} s "
          f"(ratio {alt['forecast_s'] / ours['forecast_s']:.1f}x, ours with intervals and new "
          "customers)")
    print(f"  expected revenue, 12 months: {ours['expected_revenue_12m']:,.0f} "
          f"({ours['new_share']:.1%} from new customers); existing customers: ours "
          f"{ours['existing_revenue_12m']:,.0f}, lifetimes path {alt['expected_revenue_12m_existing']:,.0f}")
    print(f"  first month, all customers: {ours['first_month']}")


if __name__ == "__main__":
    main()
