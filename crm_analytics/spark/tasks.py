"""What a Spark task computes for its customers, with the nightly run's own functions.

:class:`CustomerTask` is called on an in-memory store holding some customers with
every row of theirs (a Spark partition, see :mod:`crm_analytics.spark.partitions`;
or a hash part of a DuckDB store, see :func:`crm_analytics.store.sampling.customer_part`)
and returns one row per customer created up to ``as_of`` with the per-customer part
of every score of a run:

* the size segment (:func:`crm_analytics.segmentation.size_segments` on
  :func:`crm_analytics.store.customer_attributes`);
* the CLV scores (:func:`crm_analytics.clv.model.customer_value_scores` with the model
  fitted once on the driver);
* the churn scores (the nightly run's ``churn`` scoring of one hash part, with the
  BG/NBD model behind the BTYD features fitted once on the driver; the churn model is
  read once per Python worker from its skops file content);
* the RFM measures (``segmentation/sql/rfm.sql``), whose quintile scores need every
  customer's measures (:mod:`crm_analytics.spark.segments` ranks them);
* the needs features (:func:`crm_analytics.segmentation.needs_features`) as JSON text,
  one object per customer, since their columns (categories, channels, regions) are
  those found in the data.

Nothing here imports pyspark: the task is tested on DuckDB stores too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crm_analytics.clv.model import CLVModel, customer_value_scores
from crm_analytics.clv.summary import rfm_summary
from crm_analytics.store.attributes import SizeThresholds
from crm_analytics.store.queries import load_query

__all__ = ["CHURN_COLUMNS", "CLV_COLUMNS", "PART_SCHEMA", "CustomerTask", "churn_model_from_bytes",
           "needs_segmenter_from_bytes"]

#: The CLV score columns (those of :func:`customer_value_scores`) and their Spark types.
CLV_COLUMNS = {
    "frequency": "double", "recency_weeks": "double", "tenure_weeks": "double",
    "monetary_value": "double", "p_alive": "double", "expected_purchases": "double",
    "clv": "double", "expected_spend": "double", "spend_basis": "string",
}
#: The churn score columns of a run and their Spark types.
CHURN_COLUMNS = {
    "churn_probability": "double", "risk_band": "string", "revenue_at_risk": "double",
    "revenue_at_risk_basis": "string", "reason_1": "string", "reason_2": "string",
    "reason_3": "string",
}
_RFM_COLUMNS = {"recency_days": "bigint", "purchase_days_window": "bigint",
                "net_spend_window": "double", "has_purchase": "boolean"}
#: Spark DDL of what :class:`CustomerTask` returns.
PART_SCHEMA = ", ".join(
    f"{name} {kind}" for name, kind in {
        "customer_id": "string", "size_segment": "string", **CLV_COLUMNS, **CHURN_COLUMNS,
        **_RFM_COLUMNS, "needs_features": "string",
    }.items())

# Models read in this Python process, by kind and the SHA-256 of their file content.
_MODELS: dict[tuple[str, str], Any] = {}


def _read_once(kind: str, content: bytes, load: Any) -> Any:
    key = (kind, hashlib.sha256(content).hexdigest())
    if key not in _MODELS:
        fd, name = tempfile.mkstemp(suffix=".skops")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            model = load(name)
        finally:
            os.unlink(name)
        for old in [k for k in _MODELS if k[0] == kind]:
            del _MODELS[old]  # one model of a kind per run: never keep old ones around
        _MODELS[key] = model
    return _MODELS[key]


def churn_model_from_bytes(content: bytes) -> Any:
    """The churn model of a skops file's content, read once per process.

    The content goes through :meth:`crm_analytics.churn.ChurnModel.load` (skops with
    the package's allow-list of types, never a pickle).
    """
    from crm_analytics.churn import ChurnModel

    return _read_once("churn", content, ChurnModel.load)


def needs_segmenter_from_bytes(content: bytes) -> Any:
    """The needs segmenter of a skops file's content (:meth:`NeedsSegmenter.save`), read once per process."""
    from crm_analytics.segmentation import NeedsSegmenter

    return _read_once("needs", content, NeedsSegmenter.load)


@dataclass(frozen=True)
class CustomerTask:
    """The per-customer scores of a run for the customers of one store.

    Attributes are small and plain (shipped to every task): models travel as JSON
    (:meth:`CLVModel.to_dict`) or as skops file content, never as a pickle.

    Attributes
    ----------
    as_of : str
        ISO day.
    large_employees, large_revenue : float
        The size thresholds (:class:`~crm_analytics.store.SizeThresholds`).
    clv_model : str, optional
        JSON of the run's fitted CLV model; None: no CLV columns.
    btyd_model : str, optional
        JSON of the BG/NBD model behind the churn features (the CLV model when the
        run's purchase model is BG/NBD).
    horizon_days, annual_discount_rate : float
        Of the CLV scores.
    churn_model : bytes, optional
        The churn model's skops file content; None: no churn columns.
    churn_scorer : str
        ``'model'`` or a baseline (see :func:`crm_analytics.scoring.models.choose_scorer`).
    reasons : bool
        Churn reasons too.
    window_days : int
        Window of the RFM measures.
    """

    as_of: str
    large_employees: float = 250
    large_revenue: float = 50_000_000
    clv_model: str | None = None
    btyd_model: str | None = None
    horizon_days: float = 365
    annual_discount_rate: float = 0.1
    churn_model: bytes | None = None
    churn_scorer: str = "model"
    reasons: bool = True
    window_days: int = 365

    def __call__(self, store: Any) -> pd.DataFrame:
        """One row per customer of ``store`` created up to ``as_of`` (columns: :data:`PART_SCHEMA`)."""
        from crm_analytics import segmentation as seg
        from crm_analytics.store import customer_attributes

        day = dt.date.fromisoformat(self.as_of)
        thresholds = SizeThresholds(self.large_employees, self.large_revenue)
        attrs = customer_attributes(store, day, thresholds)
        out = pd.DataFrame(index=pd.Index(attrs.index.astype(str), name="customer_id"))
        if not len(out):
            return out.reset_index()
        sizes = seg.size_segments(attrs, thresholds)
        out["size_segment"] = sizes.set_axis(out.index).astype(object)
        summary = rfm_summary(store, day, time_unit="W")
        summary.index = summary.index.astype(str)
        if self.clv_model is not None and len(summary):
            model = CLVModel.from_dict(json.loads(self.clv_model))
            clv = customer_value_scores(model, summary, horizon_days=self.horizon_days,
                                        annual_discount_rate=self.annual_discount_rate)
            out = out.join(clv[list(CLV_COLUMNS)])
        if self.churn_model is not None:
            out = out.join(self._churn(store, day, summary, out.get("clv")))
        out = out.join(self._rfm(store, day))
        out = out.join(self._needs(store, day))
        return out.reset_index()

    def _churn(self, store: Any, day: dt.date, summary: pd.DataFrame,
               run_clv: pd.Series | None) -> pd.DataFrame:
        from crm_analytics.churn.model import btyd_inputs, score_part

        model = churn_model_from_bytes(self.churn_model)
        btyd = clv_all = None
        if model.uses_clv_ and self.btyd_model is not None and len(summary):
            # As churn.score does for one hash part of a large store: the BG/NBD model
            # behind the BTYD features is the one fitted on every customer.
            btyd, clv_all = btyd_inputs(model, CLVModel.from_dict(json.loads(self.btyd_model)), summary)
        if not _has_active(store, day, model.active_days):
            return pd.DataFrame(columns=list(CHURN_COLUMNS))
        scores = score_part(model, store, day, reasons=self.reasons, scorer=self.churn_scorer,
                            btyd=btyd, clv=clv_all)
        scores.index = scores.index.astype(str)
        if run_clv is not None:
            # As the run's churn step: revenue at risk on the run's own CLV.
            scores["revenue_at_risk"] = scores["churn_probability"] * run_clv.reindex(scores.index)
            scores["revenue_at_risk_basis"] = "churn_probability x run clv"
        scores["risk_band"] = scores["risk_band"].astype(object)
        return scores.reindex(columns=list(CHURN_COLUMNS))

    def _rfm(self, store: Any, day: dt.date) -> pd.DataFrame:
        from crm_analytics.segmentation.rfm import rfm_measures

        raw = rfm_measures(store, day, window_days=self.window_days)
        raw.index = raw.index.astype(str)
        out = pd.DataFrame(index=raw.index)
        out["has_purchase"] = raw["last_purchase_date"].notna()
        out["recency_days"] = raw["recency_days"].astype("Int64")
        out["purchase_days_window"] = raw["purchase_days_window"].astype("Int64")
        out["net_spend_window"] = raw["net_spend_window"].astype(float)
        return out

    def _needs(self, store: Any, day: dt.date) -> pd.DataFrame:
        from crm_analytics.segmentation import needs_features

        feats = needs_features(store, day)
        feats.index = feats.index.astype(str)
        # repr of a float is its shortest exact form: the JSON round trip loses nothing.
        text = [json.dumps(row, allow_nan=True) for row in feats.to_dict(orient="records")]
        return pd.DataFrame({"needs_features": text}, index=feats.index)


def _has_active(store: Any, day: dt.date, active_days: int) -> bool:
    """Whether ``store`` has a customer the churn model scores (as ``churn.score`` counts them)."""
    from crm_analytics.churn.labels import active_from
    from crm_analytics.core.timeutils import cutoff

    params = {"active_from": active_from(day, active_days), "cutoff": cutoff(day)}
    found = store.sql(load_query("churn/sql/active_count.sql"), params)
    return int(found["n_active"].iloc[0]) > 0
