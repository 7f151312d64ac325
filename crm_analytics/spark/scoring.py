"""CLV scores on Spark: aggregate in the cluster, fit on the driver, score in the executors.

The per-customer work stays in Spark; only the distinct histories travel:

1. the BTYD summary per customer is the package's own ``clv/sql/rfm_summary.sql``,
   translated (:mod:`crm_analytics.spark.translate`) and run on the registered tables;
2. its distinct ``(frequency, recency, T, monetary_value)`` histories with their
   customer counts are collected to the driver (a million customers have about
   850,000; a hundred million far fewer per customer) and fitted with the package's
   own model, ``CLVModel.fit(histories, weights="customers")``, which gives the
   parameters of a fit on every customer (tested);
3. the fitted model, as its JSON file content, is shipped to the executors in the
   closure of a ``mapInPandas`` function, which rebuilds it once per task and
   scores each batch with :func:`crm_analytics.clv.model.customer_value_scores` --
   the code the nightly run uses on DuckDB, so the scores are the same computation.

Examples
--------
Needs Java and pyspark:

>>> from crm_analytics.spark import engine, scoring              # doctest: +SKIP
>>> spark = engine.spark_session()                              # doctest: +SKIP
>>> engine.register_tables(spark, "tables/")                    # doctest: +SKIP
>>> model, scores = scoring.clv_scores(spark, "2025-06-30")     # doctest: +SKIP
>>> scores.write.parquet("scores/clv")                          # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm_analytics.clv.model import CLVModel, customer_value_scores
from crm_analytics.clv.summary import summary_params
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError
from crm_analytics.spark.engine import run_query, to_pandas

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SCORE_SCHEMA", "clv_scores", "histories", "summary_frame"]

#: Columns and Spark types of the frame :func:`clv_scores` returns (those of the run's
#: CLV step, see :func:`crm_analytics.clv.model.customer_value_scores`).
SCORE_SCHEMA = (
    "customer_id string, frequency double, recency_weeks double, tenure_weeks double, "
    "monetary_value double, p_alive double, expected_purchases double, clv double, "
    "expected_spend double, spend_basis string"
)
_SUMMARY = ["frequency", "recency", "T", "monetary_value"]


def summary_frame(spark: SparkSession, as_of: Any) -> DataFrame:
    """The BTYD summary per customer (weeks) as of a day: ``clv/sql/rfm_summary.sql`` on Spark.

    Lazy; :func:`clv_scores` reads it twice (the histories, then the scores), so a
    caller that scores a large store persists it first (as :func:`crm_analytics.spark.run.score_run` does).
    """
    day = to_date(as_of, "as_of")
    return run_query(spark, "clv/sql/rfm_summary.sql", summary_params(day, day, "W"))


def _histories(summary: DataFrame) -> pd.DataFrame:
    from pyspark.sql import functions

    grouped = summary.groupBy(*_SUMMARY).agg(functions.count(functions.lit(1)).alias("customers"))
    out = to_pandas(grouped)
    out["customers"] = out["customers"].astype("float64")
    out.attrs["time_unit"] = "W"
    return out


def histories(spark: SparkSession, as_of: Any) -> pd.DataFrame:
    """The distinct BTYD histories as of a day with their customer counts, on the driver.

    Returns a DataFrame with ``frequency``, ``recency``, ``T`` (weeks),
    ``monetary_value`` and ``customers``: what :meth:`CLVModel.fit` needs with
    ``weights="customers"``.
    """
    return _histories(summary_frame(spark, as_of))


def clv_scores(
    spark: SparkSession, as_of: Any, *, purchase_model: str = "bgnbd", horizon_days: float = 365,
    annual_discount_rate: float = 0.1, summary: DataFrame | None = None,
) -> tuple[CLVModel, DataFrame]:
    """Fit the CLV model on the cluster's histories and score every customer in the executors.

    Parameters
    ----------
    spark : SparkSession
        With the contract's tables registered (:func:`crm_analytics.spark.engine.register_tables`).
    as_of : date-like
        Last day observed (inclusive).
    purchase_model, horizon_days, annual_discount_rate
        As in the nightly run's configuration (``CLVModel``, ``CLVModel.clv``).
    summary : pyspark.sql.DataFrame, optional
        :func:`summary_frame` for ``as_of``, e.g. persisted by the caller; computed
        here if not given.

    Returns
    -------
    (CLVModel, pyspark.sql.DataFrame)
        The fitted model (on the driver) and a lazy frame of :data:`SCORE_SCHEMA`,
        one row per customer with a purchase up to ``as_of``.

    Raises
    ------
    InputError
        No customer with a purchase up to ``as_of``.
    """
    if summary is None:
        summary = summary_frame(spark, as_of)
    found = _histories(summary)
    if found.empty:
        raise InputError(f"no customer with a purchase up to {as_of}: nothing to fit the CLV model on "
                         "(check the registered transactions and as_of)")
    model = CLVModel(purchase_model=purchase_model).fit(found, weights="customers")
    payload = json.dumps(model.to_dict())  # JSON, never a pickle of the model, goes to executors
    options = {"horizon_days": float(horizon_days), "annual_discount_rate": float(annual_discount_rate)}

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        local = CLVModel.from_dict(json.loads(payload))
        for batch in batches:
            frame = batch.set_index("customer_id")[_SUMMARY].astype("float64")
            frame.attrs["time_unit"] = "W"
            out = customer_value_scores(local, frame, **options).reset_index()
            yield out[[c.split()[0] for c in SCORE_SCHEMA.split(", ")]]

    return model, summary.select("customer_id", *_SUMMARY).mapInPandas(score, SCORE_SCHEMA)
