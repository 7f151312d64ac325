"""A local Spark session and a small store exported to Parquet, once per test session.

Spark tests carry ``@pytest.mark.spark`` and are skipped, with the reason, where
pyspark or Java is missing. One session (``local[2]``, two shuffle partitions, no
UI) serves every test: starting the JVM takes most of the module's time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from importlib.util import find_spec

import pytest

from tests.helpers import load_store, synthetic_data

AS_OF = dt.date(2025, 6, 30)
CUTOFF = dt.datetime(2025, 7, 1)


def _days_before(n: int) -> dt.date:
    return AS_OF - dt.timedelta(days=n)


#: A value for every parameter name a Spark-registered query declares (as the package's
#: callers derive them from as_of). A new parameter name needs an example here.
EXAMPLE_PARAMS: dict[str, object] = {
    "as_of": AS_OF, "cutoff": CUTOFF,
    "active_from": _days_before(89), "horizon_cutoff": CUTOFF + dt.timedelta(days=90),
    "d30": _days_before(29), "d90": _days_before(89), "d180": _days_before(179), "d365": _days_before(364),
    "prev90_from": _days_before(179), "prev90_to": _days_before(90),
    "channel_1": "online", "channel_2": "partner", "channel_3": None,
    "cohort_end": _days_before(365),
    "last_start": CUTOFF - dt.timedelta(days=365), "prior_start": CUTOFF - dt.timedelta(days=730),
    "calibration_end": _days_before(180), "days_per_unit": 7.0,
    "nps_item": "nps", "csat_item": "csat", "item": "nps", "window_days": 90,
    "survey": "ecsi", "latest_only": True, "since": None, "period": "month",
    "by_1": "region", "by_2": "size_band", "by_3": None,
    "large_employees": 250, "large_revenue": 5e7, "max_levels": 3,
    "start": CUTOFF - dt.timedelta(days=365), "window_start": CUTOFF - dt.timedelta(days=365),
}


def spark_unavailable() -> str | None:
    """Why Spark tests cannot run here, or None."""
    if find_spec("pyspark") is None or find_spec("sqlglot") is None:
        return "pyspark/sqlglot not installed: pip install -e '.[spark]' (or '.[dev]')"
    java_home = os.environ.get("JAVA_HOME", "")
    if shutil.which("java") is None and not os.path.exists(os.path.join(java_home, "bin", "java")):
        return "Java not found: Spark 4 needs Java 17 (apt-get install openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="session")
def spark():
    """The one local Spark session of the test run (UTC, as the package sets it up)."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    from crm_analytics.spark import engine

    started = time.monotonic()
    session = engine.spark_session("local[2]", app_name="crm_analytics-tests", conf={
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "1g",
    })
    session.sparkContext.setLogLevel("ERROR")
    session.startup_seconds = time.monotonic() - started
    yield session
    session.stop()


@pytest.fixture(scope="session")
def duck_store():
    """200 synthetic customers, plus customer attributes (one text, one numeric)."""
    store = load_store(synthetic_data(200, 7).tables())
    store.execute("INSERT INTO customer_attributes SELECT customer_id, 'contract', CASE customer_key % 3 "
                  "WHEN 0 THEN 'monthly' WHEN 1 THEN 'yearly' END FROM customers")
    store.execute("INSERT INTO customer_attributes SELECT customer_id, 'tenure', "
                  "CAST(customer_key % 17 AS VARCHAR) FROM customers")
    return store


@pytest.fixture(scope="session")
def spark_folder(duck_store, tmp_path_factory):
    """The store's tables as Parquet."""
    from crm_analytics.spark import engine

    folder = tmp_path_factory.mktemp("spark_tables")
    engine.export_store(duck_store, folder)
    return folder


@pytest.fixture(scope="module")
def spark_tables(spark, spark_folder):
    """The store's tables registered as Spark views, again for each module (a scoring run
    registers the tables it reads under the same names in the one session)."""
    from crm_analytics.spark import engine

    return engine.register_tables(spark, spark_folder)
