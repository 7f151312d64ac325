"""``crm-analytics demo``: generate realistic data, load it, score it, publish it.

The demo data are synthetic (:mod:`crm_analytics.datasets.synthetic`) with 2 % injected
defects, so the load reports and the quarantine show what cleansing does.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crm_analytics.dashboards import write_dashboards
from crm_analytics.datasets import synthetic
from crm_analytics.scoring.run import run_batch
from crm_analytics.store import Store

log = logging.getLogger(__name__)


def run_demo(directory: str | Path = "demo_output", *, n_customers: int = 5000, seed: int = 0,
             dirty_fraction: float = 0.02) -> dict[str, Path]:
    """Generate, load, score and publish into ``directory``; return the output paths.

    Examples
    --------
    >>> import tempfile
    >>> paths = run_demo(tempfile.mkdtemp(), n_customers=300, seed=1)  # doctest: +SKIP
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    data = synthetic.generate(n_customers=n_customers, seed=seed, dirty_fraction=dirty_fraction)
    data.write_csv(data_dir)
    db = out / "crm.duckdb"
    print(f"1. generated {n_customers:,} customers (with {dirty_fraction:.0%} defects) in {data_dir}")
    with Store(db) as store:
        for table, report in store.load_all(data_dir).items():
            print(f"2. loaded {table}: read {report.rows_read:,} = loaded {report.rows_loaded:,} "
                  f"+ rejected {report.rows_rejected:,} + duplicate {report.rows_duplicate:,}")
    result = run_batch(db)
    print(f"3. scored {result.customers:,} customers as of {result.as_of} (run {result.run_id}, "
          f"{result.seconds:.1f} s)")
    for note in result.notes:
        print(f"   note: {note}")
    paths = {"store": db.resolve(), "data": data_dir.resolve()}
    if True:
        paths["dashboards"] = write_dashboards(db, out / "dashboards")
        print(f"4. dashboards: {paths['dashboards']}")
    print("\nOutputs:")
    print(f"  store       {paths['store']}   (crm-analytics status --db {db})")
    print(f"  input data  {paths['data']}")
    if "dashboards" in paths:
        print(f"  dashboards  {paths['dashboards']}   (open in a browser; works offline)")
    print(f"  rejects     crm-analytics rejects --db {db}")
    return paths
