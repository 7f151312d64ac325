"""Local Spark at 1x, 2x and 4x data: the feature queries and the CLV scores, time and memory.

    .venv/bin/python benchmarks/spark_scale.py                        # 100k, 200k, 400k customers
    .venv/bin/python benchmarks/spark_scale.py --base 25000           # quicker

For each size the synthetic data (the nightly benchmark's generator parameters, ~21.6
transactions per customer, plus tickets and NPS/CSAT answers) are loaded into a Store
(cached in ``_data/``) and exported as Parquet (``crm_analytics.spark.engine.export_store``).
A child process then starts a fresh local Spark session (``local[2]``, driver memory
``--driver-memory``, shuffle partitions = 2 x cores) and times, each run once with
its result materialised (``count()`` or a ``noop`` write):

* every per-customer feature query registered for Spark (``@engines ... spark``);
* ``crm_analytics.spark.scoring.clv_scores``: the BTYD summary, the distinct histories
  collected and fitted on the driver, every customer scored in ``mapInPandas``;
* the same CLV path on DuckDB (``rfm_summary`` + ``CLVModel.fit`` +
  ``customer_value_scores``) for reference;
* the whole Spark scoring run (``crm_analytics.spark.run.score_run``: CLV, churn with a
  model trained once by the DuckDB path on the 1x store -- ``train_churn_model``,
  cached in ``_data/spark_scale_model/`` -- and segments), written to Parquet, with its
  shuffle volume (Spark's ``shuffleWriteBytes`` summed over the run's stages);
* the DuckDB nightly run's steps that compute the same columns (``clv``, ``churn`` with
  the same model file, ``segments``) on a copy of the store, for reference.

Peak memory is the sum of VmHWM over the child and all its descendants (the JVM and
Python workers), read just before the child exits. The README's capacity plan is
extrapolated from these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests.spark.conftest: example parameters
from _common import DATA, prepare_store  # noqa: E402
from nightly_scale import PARAMS, add_service_tables  # noqa: E402

AS_OF = "2025-12-31"


def _tree_hwm_mb(pid: int) -> float:
    """Sum of VmHWM (MiB) over ``pid`` and its descendants."""
    total = 0.0
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def _shuffle_bytes(spark) -> int:
    """Shuffle bytes written by every stage of the session so far (Spark's status store)."""
    sc, jvm = spark.sparkContext, spark._jvm  # noqa: SLF001
    stages = sc._jsc.sc().statusStore().stageList(  # noqa: SLF001 - Spark's own status store
        jvm.java.util.ArrayList(), False, False, sc._gateway.new_array(jvm.double, 0),  # noqa: SLF001
        jvm.java.util.ArrayList())
    return sum(int(stages.apply(i).shuffleWriteBytes()) for i in range(stages.size()))


def train_model(db: Path) -> Path:
    """A churn model trained once by the DuckDB path (cached): the Spark runs score with it."""
    from crm_analytics.scoring.run import train_churn_model

    folder = DATA / "spark_scale_model"
    model = folder / "churn_model.skops"
    if not model.exists():
        t = time.perf_counter()
        copy = folder / "store.duckdb"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(db, copy)
        print(train_churn_model(copy, AS_OF, config={"model_dir": str(folder)}), flush=True)
        copy.unlink()
        print(f"trained the churn model in {time.perf_counter() - t:.0f} s", flush=True)
    return model


def child(folder: str, db: str, driver_memory: str, churn_model: str) -> None:
    from crm_analytics.clv import CLVModel, rfm_summary
    from crm_analytics.clv.model import customer_value_scores
    from crm_analytics.spark import engine, scoring
    from crm_analytics.store import Store
    from crm_analytics.store.sql_registry import spark_queries
    from tests.spark.conftest import EXAMPLE_PARAMS

    out: dict = {"steps": {}}
    t = time.perf_counter()
    spark = engine.spark_session("local[2]", app_name="crm_analytics-bench", conf={
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false", "spark.driver.memory": driver_memory})
    spark.sparkContext.setLogLevel("ERROR")
    engine.register_tables(spark, folder)
    out["steps"]["session"] = time.perf_counter() - t
    params = {**EXAMPLE_PARAMS, "as_of": AS_OF, "cutoff": "2026-01-01", "calibration_end": AS_OF}
    t = time.perf_counter()
    n_queries = 0
    for spec in spark_queries():
        if spec.grain[:1] != ("customer_id",):
            continue
        frame = engine.run_query(spark, spec.name, {k: params[k] for k in spec.params})
        frame.write.format("noop").mode("overwrite").save()
        n_queries += 1
    out["steps"][f"feature queries ({n_queries})"] = time.perf_counter() - t
    t = time.perf_counter()
    model, scores = scoring.clv_scores(spark, AS_OF)
    fitted = time.perf_counter() - t
    scores.write.format("noop").mode("overwrite").save()
    out["steps"]["clv_scores: summary + histories + fit"] = fitted
    out["steps"]["clv_scores: score (mapInPandas)"] = time.perf_counter() - t - fitted
    out["histories"] = int(model.n_histories_)
    out["customers"] = int(model.n_customers_)
    from crm_analytics.spark import run

    target = Path(tempfile.mkdtemp(prefix="spark_run_"))
    before = _shuffle_bytes(spark)
    t = time.perf_counter()
    result = run.score_run(spark, folder, target, as_of=AS_OF, churn_model=churn_model, partitions=8)
    out["steps"]["score_run (clv, churn, segments; Parquet)"] = time.perf_counter() - t
    out["run_steps"] = result.steps
    out["run_skipped"] = result.skipped
    out["shuffle_mb"] = (_shuffle_bytes(spark) - before) / 2**20
    shutil.rmtree(target, ignore_errors=True)
    spark_peak = _tree_hwm_mb(os.getpid())
    spark.stop()
    t = time.perf_counter()
    with Store(db, read_only=True) as store:
        summary = rfm_summary(store, AS_OF, time_unit="W")
        customer_value_scores(CLVModel().fit(summary), summary)
    out["steps"]["duckdb: same CLV path"] = time.perf_counter() - t
    copy = Path(tempfile.mkdtemp(prefix="duck_run_")) / "store.duckdb"
    shutil.copy(db, copy)
    models = copy.parent / "models"
    models.mkdir()
    shutil.copy(churn_model, models / "churn_model.skops")
    from crm_analytics.scoring.run import run_batch

    t = time.perf_counter()
    run_batch(copy, as_of=AS_OF, config={"model_dir": str(models), "steps": ["clv", "churn", "segments"],
                                         "force": True}, progress=False)
    out["steps"]["duckdb: run_batch clv, churn, segments"] = time.perf_counter() - t
    shutil.rmtree(copy.parent, ignore_errors=True)
    out["peak_mb"] = spark_peak
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=100_000, help="customers at 1x")
    parser.add_argument("--factors", default="1,2,4")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    rows = []
    model = None
    for factor in (int(f) for f in args.factors.split(",")):
        n = args.base * factor
        folder, meta = prepare_store("spark_scale", n, 0, False, PARAMS)
        add_service_tables(folder)
        parquet = DATA / f"spark_scale_{n}_0" / "parquet"
        if not (parquet / "transactions.parquet").exists():
            from crm_analytics.spark.engine import export_store
            from crm_analytics.store import Store

            with Store(folder / "store.duckdb", read_only=True) as store:
                export_store(store, parquet)
        if model is None:
            model = train_model(folder / "store.duckdb")
        size_mb = sum(f.stat().st_size for f in parquet.rglob("*") if f.is_file()) / 2**20
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", str(parquet),
                               str(folder / "store.duckdb"), args.driver_memory, str(model)],
                              stdout=subprocess.PIPE, text=True, check=False,
                              cwd=Path(__file__).resolve().parents[1])
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"child at {n:,} customers failed ({proc.returncode})")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append((factor, n, meta["n_transactions"], size_mb, wall, report))
        print(f"\n{factor}x: {n:,} customers, {meta['n_transactions']:,} transactions, "
              f"Parquet {size_mb:,.0f} MiB; child wall {wall:.1f} s, peak {report['peak_mb']:,.0f} MiB "
              f"(JVM + Python), {report['histories']:,} distinct histories", flush=True)
        for step, seconds in report["steps"].items():
            print(f"  {step:<44} {seconds:8.1f} s", flush=True)
        print(f"  shuffle written by the Spark run: {report['shuffle_mb']:,.0f} MiB; steps "
              f"{report['run_steps']}, skipped {report['run_skipped']}", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
