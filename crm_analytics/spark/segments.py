"""The segments that need every customer at once, on Spark: ranks, then labels per customer.

RFM quintile scores and value tiers depend on a customer's rank among all
customers; the needs segments on a clustering of all buyers. Per-customer tasks
(:mod:`crm_analytics.spark.tasks`) compute the measures; this module

* ranks a measure over its **distinct values** with a distributed sort and a
  prefix sum of their counts (no single task holds all customers), turns each
  distinct value's rank into its label with the package's own function
  (:func:`crm_analytics.segmentation.rfm.quintile_of_rank`,
  :func:`crm_analytics.segmentation.value.tier_of_rank`), and keeps only the
  values where the label changes -- a handful of **cut points**
  (:func:`rank_cuts`), which :func:`apply_cuts` maps back onto every customer;
* fits the needs segments on the driver (:func:`fit_needs`) from the customers'
  needs features, rebuilt exactly as :func:`crm_analytics.segmentation.needs_features`
  lays them out, in its row order.

Both reproduce the DuckDB run's labels exactly (tested).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crm_analytics.segmentation.needs import CHANNEL_PREFIX, REGION_PREFIX, SPEND_PREFIX, needs_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["DRIVER_DISTINCT_VALUES", "MIN_NEEDS_CUSTOMERS", "RFM_WINDOW_DAYS", "Cuts", "Finish", "apply_cuts",
           "final_schema", "fit_needs", "needs_frame", "rank_cuts", "rank_cuts_many", "segments_step"]

#: Fewest buyers the needs segments are fitted on (as the DuckDB run's segments step).
MIN_NEEDS_CUSTOMERS = 50
#: Window of the RFM measures (the DuckDB run's default).
RFM_WINDOW_DAYS = 365
_SAMPLE_BUCKETS = 1_000_000
#: A ranked measure with at most this many distinct values is ranked on the driver.
DRIVER_DISTINCT_VALUES = 2_000_000

#: Cut points of a ranked measure: ``(values, labels, descending)``; values in rank order,
#: ``labels[i]`` applies from ``values[i]`` on (in that order).
Cuts = tuple[list[float], list[Any], bool]


def rank_cuts(frame: DataFrame, column: str, label_of: Callable[[np.ndarray, int], np.ndarray], *,
              descending: bool = False, driver_limit: int | None = None) -> tuple[Cuts, int]:
    """Where the label of a ranked measure changes, over every row of ``frame``.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    column : str
        A numeric column; null and NaN rows are not ranked.
    label_of : callable
        ``label_of(before, n)``: the labels of values that ``before`` of the ``n``
        ranked rows come strictly before (in the order below); must be monotone in
        ``before``.
    descending : bool, default False
        Rank from the largest value (``before`` counts the strictly greater ones).
    driver_limit : int, optional
        See :func:`rank_cuts_many`.

    Returns
    -------
    (Cuts, int)
        The cut points and ``n``.
    """
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    found = rank_cuts_many(frame, {column: (F.col(f"`{column}`"), label_of, descending)},
                           driver_limit=driver_limit)
    return found[column]


LabelOf = Callable[[np.ndarray, int], np.ndarray]


def rank_cuts_many(frame: DataFrame, measures: dict[str, tuple[Any, LabelOf, bool]], *,
                   driver_limit: int | None = None) -> dict[str, tuple[Cuts, int]]:
    """:func:`rank_cuts` of several measures of ``frame`` in one pass over it.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    measures : dict
        ``name -> (column expression, label_of, descending)``; a null or NaN value is
        not ranked (use ``when(condition, column)`` to rank a subset of the rows).
    driver_limit : int, optional
        A measure with at most this many distinct values (default
        :data:`DRIVER_DISTINCT_VALUES`) is ranked on the driver from its collected
        value counts; one with more by a distributed sort of its distinct values and
        prefix sums of their counts (no task holds them all).

    Returns
    -------
    dict
        ``name -> (Cuts, n)``.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    limit = DRIVER_DISTINCT_VALUES if driver_limit is None else int(driver_limit)
    pairs = [F.struct(F.lit(name).alias("m"), expr.cast("double").alias("v"))
             for name, (expr, _, _) in measures.items()]
    long = frame.select(F.explode(F.array(*pairs)).alias("x")).select("x.m", "x.v")
    hist = long.where(F.col("v").isNotNull() & ~F.isnan("v")).groupBy("m", "v").agg(
        F.count(F.lit(1)).alias("n")).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        distinct = {r["m"]: int(r["k"])
                    for r in hist.groupBy("m").agg(F.count(F.lit(1)).alias("k")).collect()}
        small = [name for name in measures if distinct.get(name, 0) <= limit]
        out: dict[str, tuple[Cuts, int]] = {}
        rows = (hist.where(F.col("m").isin(small)).toPandas() if small
                else pd.DataFrame(columns=["m", "v", "n"]))
        for name in small:
            _, label_of, descending = measures[name]
            part = rows[rows["m"] == name]
            out[name] = _driver_cuts(part["v"].to_numpy(dtype=float),
                                     part["n"].to_numpy(dtype=np.int64), label_of, descending)
        for name in measures:
            if name not in out:
                _, label_of, descending = measures[name]
                out[name] = _distributed_cuts(hist.where(F.col("m") == name).select("v", "n"),
                                              label_of, descending)
    finally:
        hist.unpersist()
    return out


def _driver_cuts(values: np.ndarray, counts: np.ndarray, label_of: Callable[[np.ndarray, int], np.ndarray],
                 descending: bool) -> tuple[Cuts, int]:
    """The cut points of one measure from its distinct values and their counts."""
    n = int(counts.sum())
    if n == 0:
        return ([], [], descending), 0
    order = np.argsort(-values if descending else values, kind="stable")
    values, counts = values[order], counts[order]
    labels, keep = _label_changes(np.cumsum(counts) - counts, n, label_of)
    return ([float(v) for v in values[keep]], [_plain(x) for x in labels[keep]], descending), n


def _label_changes(before: np.ndarray, n: int, label_of: LabelOf,
                   previous: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The labels of ranked distinct values and where they change (after ``previous``)."""
    labels = np.asarray(label_of(np.asarray(before, dtype=float), n), dtype=object)
    keep = np.ones(len(labels), dtype=bool)
    keep[1:] = labels[1:] != labels[:-1]
    if previous is not None:
        keep[0] = labels[0] != previous
    return labels, keep


def _distributed_cuts(hist: DataFrame, label_of: Callable[[np.ndarray, int], np.ndarray],
                      descending: bool) -> tuple[Cuts, int]:
    """The cut points of one measure from ``hist`` (``v``, ``n``) without collecting it."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    ordered = hist.orderBy(F.col("v").desc() if descending else F.col("v").asc())
    # Fix the range partitioning once: the prefix sums below read the partitions twice.
    ordered = ordered.withColumn("pid", F.spark_partition_id()).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        totals = {int(r["pid"]): int(r["n"]) for r in ordered.groupBy("pid").agg(
            F.sum("n").alias("n")).collect()}
        n = sum(totals.values())
        if n == 0:
            return ([], [], descending), 0
        offsets, running = {}, 0
        for pid in sorted(totals):
            offsets[pid] = running
            running += totals[pid]

        def changes(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            seen, last = 0, object()
            for batch in batches:
                if batch.empty:
                    continue
                counts = batch["n"].to_numpy(dtype=np.int64)
                before = offsets[int(batch["pid"].iloc[0])] + seen + np.cumsum(counts) - counts
                seen += int(counts.sum())
                labels, keep = _label_changes(before, n, label_of, last)
                last = labels[-1]
                yield pd.DataFrame({"v": batch["v"].to_numpy()[keep],
                                    "label": [json.dumps(_plain(x)) for x in labels[keep]]})

        found = ordered.mapInPandas(changes, "v double, label string").toPandas()
    finally:
        ordered.unpersist()
    found = found.sort_values("v", ascending=not descending, kind="stable")
    values, labels = [], []
    for v, label in zip(found["v"], found["label"], strict=True):
        label = json.loads(label)
        if not labels or labels[-1] != label:  # a partition's first row repeats its predecessor's
            values.append(float(v))
            labels.append(label)
    return (values, labels, descending), n


def apply_cuts(values: pd.Series, cuts: Cuts) -> pd.Series:
    """The label of each value from :func:`rank_cuts`' cut points (missing for null/NaN).

    Examples
    --------
    >>> apply_cuts(pd.Series([3.0, 10.0, 1.0, None]), ([1.0, 5.0], ["low", "high"], False)).tolist()
    ['low', 'high', 'low', None]
    >>> apply_cuts(pd.Series([3.0, 10.0]), ([10.0, 4.0], ["top", "rest"], True)).tolist()
    ['rest', 'top']
    """
    points, labels, descending = cuts
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    out = np.full(len(x), None, dtype=object)
    known = ~np.isnan(x)
    if points and known.any():
        key = -np.asarray(points) if descending else np.asarray(points)
        position = np.searchsorted(key, -x[known] if descending else x[known], side="right") - 1
        out[known] = np.asarray(labels, dtype=object)[np.maximum(position, 0)]
    return pd.Series(out, index=values.index, dtype=object)


def needs_frame(customer_ids: pd.Series, features: pd.Series) -> pd.DataFrame:
    """The needs features of :func:`crm_analytics.segmentation.needs_features` from JSON rows.

    Columns in that function's layout -- spend shares, channel shares (each sorted),
    service and cadence, regions (sorted), purchase days -- over the union of the
    columns the rows carry (a share or region a row lacks is 0, as there); rows sorted
    by ``customer_id`` (its order).
    """
    rows = [json.loads(text) for text in features]
    frame = pd.DataFrame(rows, index=pd.Index(customer_ids.astype(str).to_numpy(), name="customer_id"))
    frame = frame[needs_columns(frame.columns)]
    zero = [c for c in frame.columns if c.startswith((SPEND_PREFIX, CHANNEL_PREFIX, REGION_PREFIX))]
    frame[zero] = frame[zero].fillna(0.0)
    return frame.astype(float).sort_index()


def fit_needs(features: pd.DataFrame, *, n_segments: Any = "auto", random_state: int = 0,
              previous: pd.DataFrame | None = None) -> Any:
    """The run's needs segmenter, fitted as the DuckDB run fits it."""
    from crm_analytics.segmentation import NeedsSegmenter

    return NeedsSegmenter(n_segments="auto" if n_segments == "auto" else int(n_segments),
                          random_state=random_state).fit(features, previous=previous)


def final_schema() -> str:
    """Spark DDL of a Spark run's customer scores (the DuckDB run's score columns it computes)."""
    from crm_analytics.spark.tasks import CHURN_COLUMNS, CLV_COLUMNS

    w = RFM_WINDOW_DAYS
    columns = {
        "customer_id": "string", "size_segment": "string", **CLV_COLUMNS, **CHURN_COLUMNS,
        "recency_days": "bigint", f"purchase_days_{w}d": "bigint", f"net_spend_{w}d": "double",
        "r_score": "bigint", "f_score": "bigint", "m_score": "bigint", "rfm_segment": "string",
        "needs_segment": "bigint", "needs_segment_name": "string", "value_tier": "string",
    }
    return ", ".join(f"{name} {kind}" for name, kind in columns.items())


class Finish:
    """The last per-customer pass: labels from the cut points and the needs segmenter.

    Called by ``mapInPandas`` on batches of the per-customer task's rows
    (:data:`crm_analytics.spark.tasks.PART_SCHEMA`); yields rows of :func:`final_schema`.
    """

    def __init__(self, rfm_cuts: dict[str, Cuts], value_cuts: Cuts | None, needs: bytes | None) -> None:
        self.rfm_cuts = rfm_cuts
        self.value_cuts = value_cuts
        self.needs = needs

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield self.frame(batch)

    def frame(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The final columns of one batch (rows of the per-customer task)."""
        from crm_analytics.segmentation.rfm import rfm_table
        from crm_analytics.segmentation.value import UNKNOWN_TIER
        from crm_analytics.spark.tasks import needs_segmenter_from_bytes

        out = batch.drop(columns=["has_purchase", "purchase_days_window", "net_spend_window",
                                  "needs_features"]).copy()
        raw = batch.set_index("customer_id")
        for column in ("recency_days", "purchase_days_window", "net_spend_window"):
            raw[column] = pd.to_numeric(raw[column], errors="coerce")

        def ranked(values: pd.Series, column: str, higher_is_better: bool) -> pd.Series:
            return apply_cuts(values, self.rfm_cuts[column])  # the ranks of every customer

        rfm = rfm_table(raw, RFM_WINDOW_DAYS, bought=raw["has_purchase"].fillna(False), scores=ranked)
        for column in rfm.columns:
            out[column] = rfm[column].to_numpy()
        out["needs_segment"] = pd.array([pd.NA] * len(out), dtype="Int64")
        out["needs_segment_name"] = None
        has = batch["needs_features"].notna().to_numpy()
        if self.needs is not None and has.any():
            segmenter = needs_segmenter_from_bytes(self.needs)
            feats = needs_frame(batch["customer_id"][has], batch["needs_features"][has])
            labels = segmenter.predict(feats).reindex(batch["customer_id"][has].astype(str))
            out.loc[has, "needs_segment"] = labels.to_numpy()
            out.loc[has, "needs_segment_name"] = labels.map(segmenter.names_).to_numpy()
        if self.value_cuts is not None:
            tiers = apply_cuts(batch["clv"], self.value_cuts)
            out["value_tier"] = tiers.where(tiers.notna(), UNKNOWN_TIER)
        else:
            out["value_tier"] = UNKNOWN_TIER
        return out


def _quintile(before: np.ndarray, n: int) -> np.ndarray:
    from crm_analytics.segmentation.rfm import quintile_of_rank

    # As rfm_segments: a lone active customer is the best of the active.
    return np.full(len(before), 5.0) if n == 1 else quintile_of_rank(before, n)


def _tier(before: np.ndarray, n: int) -> np.ndarray:
    from crm_analytics.segmentation.value import tier_of_rank

    return tier_of_rank(before, n)


def segments_step(parts: DataFrame, *, n_segments: Any = "auto", seed: int = 0,
                  fraction: float = 1.0, previous: pd.DataFrame | None = None,
                  skipped: dict[str, str] | None = None) -> tuple[Finish, Any]:
    """Rank and fit what needs every customer; return the last pass and the needs segmenter.

    Parameters
    ----------
    parts : pyspark.sql.DataFrame
        The per-customer task's rows (persisted: read several times).
    n_segments, seed
        The run's ``needs_segments`` and ``seed``.
    fraction : float, default 1.0
        Share of the buyers (seeded hash sample) the needs segments are fitted on.
    previous : DataFrame, optional
        The previous run's needs profiles (ids and names are aligned to them).
    skipped : dict, optional
        Filled with the parts skipped and why.

    Returns
    -------
    (Finish, NeedsSegmenter or None)
    """
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    skipped = {} if skipped is None else skipped
    counts = parts.agg(
        F.count(F.when(F.col("clv").isNotNull() & ~F.isnan("clv"), 1)).alias("clv"),
        F.count("needs_features").alias("buyers")).collect()[0]
    active = F.col("has_purchase") & (F.col("purchase_days_window") > 0)
    measures = {
        "r_score": (F.when(active, F.col("recency_days")), _quintile, True),
        "f_score": (F.when(active, F.col("purchase_days_window")), _quintile, False),
        "m_score": (F.when(active, F.col("net_spend_window")), _quintile, False),
    }
    if counts["clv"]:
        measures["value_tier"] = (F.col("clv"), _tier, True)
    else:
        skipped["segments.value_tier"] = "no CLV in this run: every value tier is Unknown"
    found = rank_cuts_many(parts, measures)
    rfm_cuts = {name: found[name][0] for name in ("r_score", "f_score", "m_score")}
    value_cuts = found["value_tier"][0] if "value_tier" in found else None
    buyers = parts.where(F.col("needs_features").isNotNull())
    n_buyers = int(counts["buyers"])
    segmenter = content = None
    if n_buyers < MIN_NEEDS_CUSTOMERS:
        skipped["segments.needs"] = (f"only {n_buyers} customers with purchases; needs segments need "
                                     f"at least {MIN_NEEDS_CUSTOMERS}")
    else:
        if fraction < 1.0:
            bucket = F.pmod(F.xxhash64(F.col("customer_id"), F.lit(seed)), F.lit(_SAMPLE_BUCKETS))
            buyers = buyers.where(bucket < F.lit(round(fraction * _SAMPLE_BUCKETS)))
        rows = buyers.select("customer_id", "needs_features").toPandas()
        segmenter = fit_needs(needs_frame(rows["customer_id"], rows["needs_features"]),
                              n_segments=n_segments, random_state=seed, previous=previous)
        content = _segmenter_bytes(segmenter)
    return Finish(rfm_cuts, value_cuts, content), segmenter


def profiles_frame(segmenter: Any, run_id: str) -> pd.DataFrame:
    """The needs segment profiles of a run, as the DuckDB store keeps them (``needs_segment_profiles``)."""
    from crm_analytics.segmentation.needs import profile_rows

    return pd.DataFrame({"run_id": run_id, **profile_rows(segmenter.centroids_)})


def profiles_from_frame(rows: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`profiles_frame` rows back as ``load_profiles`` gives them (for alignment)."""
    from crm_analytics.segmentation.needs import profiles_from_rows

    return profiles_from_rows(rows)


def _segmenter_bytes(segmenter: Any) -> bytes:
    import os
    import tempfile

    fd, name = tempfile.mkstemp(suffix=".skops")
    os.close(fd)
    try:
        segmenter.save(name)
        with open(name, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(name)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
