"""Churn features as of a date: one row per active customer, nothing after ``as_of``.

Four sources are joined on ``customer_id``:

* **purchase behaviour** (``sql/purchase_features.sql``): recency, tenure,
  purchase days and spend over 30/90/180/365 days, the trend of the last 90
  days against the 90 before, the typical (median) gap between purchase days
  and how overdue the customer is (``recency_days / gap_median_days``), product
  breadth, refunds, the top channel and the share of up to three channels;
* **service and satisfaction** from :func:`crm_analytics.satisfaction.customer_features`
  (tickets, SLA breaches, complaints, NPS, CSAT) when that module is installed;
* **firmographics** from :func:`crm_analytics.store.attributes.customer_attributes`
  (customer type, size band, industry, region);
* **BTYD** outputs from :mod:`crm_analytics.clv` when installed: the BG/NBD
  probability of being alive and the expected purchases in the horizon, with
  the model fitted on the history up to ``as_of`` only.

The channel shares are generic over whatever channels the data hold: a model
fixes them once (the most used ones up to its latest training cutoff, see
:func:`top_channels`) and passes them again at scoring, so the columns are the
same in training and scoring.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.churn.labels import active_from, check_positive_int
from crm_analytics.clv import CLVModel, rfm_summary
from crm_analytics.core.timeutils import cutoff as as_of_cutoff
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import DataQualityWarning, InputError
from crm_analytics.satisfaction.features import customer_features
from crm_analytics.store.attributes import customer_attributes
from crm_analytics.store.queries import load_query

__all__ = [
    "BTYD_FEATURES",
    "CATEGORICAL_FEATURES",
    "CHANNEL_SLOTS",
    "COUNT_FEATURES",
    "FEATURES_VERSION",
    "FIRMOGRAPHIC_FEATURES",
    "PURCHASE_FEATURES",
    "SATISFACTION_FEATURES",
    "build_features",
    "channel_feature_name",
    "feature_names",
    "top_channels",
]

log = logging.getLogger(__name__)

#: Bumped whenever a feature's meaning changes, so an old model file is refused.
FEATURES_VERSION = 1

#: Number of channels whose share of purchase lines is a feature.
CHANNEL_SLOTS = 3

PURCHASE_FEATURES: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "purchases_total",
    "purchases_30d",
    "purchases_90d",
    "purchases_180d",
    "purchases_365d",
    "purchases_prev_90d",
    "spend_total",
    "spend_30d",
    "spend_90d",
    "spend_180d",
    "spend_365d",
    "spend_prev_90d",
    "spend_per_purchase",
    "spend_trend",
    "frequency_trend",
    "gap_median_days",
    "gap_mean_days",
    "overdue_ratio",
    "categories_365d",
    "categories_total",
    "refunds_365d",
    "refund_amount_365d",
    "top_channel",
    "top_channel_share",
)
FIRMOGRAPHIC_FEATURES: tuple[str, ...] = ("customer_type", "size_band", "industry", "region")
#: Columns taken from ``satisfaction.customer_features`` (other columns it has are ignored).
SATISFACTION_FEATURES: tuple[str, ...] = (
    "latest_nps",
    "nps_class",
    "is_detractor",
    "csat_mean_180d",
    "csat_latest",
    "complaints_90d",
    "complaints_365d",
    "tickets_90d",
    "open_tickets",
    "sla_breaches_90d",
    "sla_breaches_365d",
    "mean_resolution_hours_365d",
    "reopened_365d",
)
BTYD_FEATURES: tuple[str, ...] = ("btyd_p_alive", "btyd_expected_purchases")
CATEGORICAL_FEATURES: frozenset[str] = frozenset(
    {"top_channel", "nps_class", *FIRMOGRAPHIC_FEATURES}
)
#: Counts where "no record" means zero (a customer without tickets has no SLA breach).
COUNT_FEATURES: frozenset[str] = frozenset(
    {
        "complaints_90d",
        "complaints_365d",
        "tickets_90d",
        "open_tickets",
        "sla_breaches_90d",
        "sla_breaches_365d",
        "reopened_365d",
        "is_detractor",
    }
)


def channel_feature_name(channel: str) -> str:
    """Column name of the share of purchase lines bought through ``channel``.

    Examples
    --------
    >>> channel_feature_name("Field Sales")
    'channel_share_field_sales'
    """
    slug = re.sub(r"[^0-9a-z]+", "_", str(channel).strip().lower()).strip("_")
    return f"channel_share_{slug or 'blank'}"


def feature_names(
    *, channels: list[str] | tuple[str, ...] = (), clv: bool = False, satisfaction: bool = False
) -> list[str]:
    """The columns :func:`build_features` returns, in order, for a configuration.

    Examples
    --------
    >>> names = feature_names(channels=["online"], clv=True)
    >>> names[-3:]
    ['region', 'btyd_p_alive', 'btyd_expected_purchases']
    >>> "channel_share_online" in names
    True
    """
    names = list(PURCHASE_FEATURES) + [channel_feature_name(c) for c in channels]
    if satisfaction:
        names += list(SATISFACTION_FEATURES)
    names += list(FIRMOGRAPHIC_FEATURES)
    if clv:
        names += list(BTYD_FEATURES)
    return names


def top_channels(store: Any, as_of: Any, k: int = CHANNEL_SLOTS) -> list[str]:
    """The ``k`` channels with the most purchase lines up to ``as_of``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> tx = pd.DataFrame({"transaction_id": ["T1", "T2", "T3"], "customer_id": ["A", "A", "B"],
    ...                    "transaction_date": ["2024-01-10"] * 3, "amount": [1.0, 2.0, 3.0],
    ...                    "channel": ["web", "shop", "web"]})
    >>> _ = store.load("transactions", tx, unknown_customers="create")
    >>> top_channels(store, "2024-01-31")
    ['web', 'shop']
    """
    counts = store.sql(load_query("churn/sql/channel_counts.sql"), {"cutoff": as_of_cutoff(as_of)})
    channels = [str(c) for c in counts["channel"].head(k)]
    names = [channel_feature_name(c) for c in channels]
    if len(set(names)) < len(names):
        # Two spellings of a channel ("Web" / "web ") would give one column twice.
        raise InputError(
            f"channels {channels} give clashing feature names {names}; clean the channel column"
        )
    return channels


@dataclass
class FeatureBuild:
    """Features plus what was learned building them (internal to the churn package)."""

    frame: pd.DataFrame
    channels: list[str]
    uses_clv: bool
    uses_satisfaction: bool
    clv_model: Any = None
    rfm: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def build_features(
    store: Any,
    as_of: Any,
    *,
    horizon_days: int = 90,
    active_days: int = 365,
    clv: bool = True,
    satisfaction: bool = True,
    channels: list[str] | None = None,
) -> pd.DataFrame:
    """Churn features of every customer active at ``as_of``, using data up to ``as_of`` only.

    Parameters
    ----------
    store : crm_analytics.Store
    as_of : date-like
        Inclusive cut-off day (see :mod:`crm_analytics.core.timeutils`).
    horizon_days : int, default 90
        Horizon of the BTYD expected-purchases feature.
    active_days : int, default 365
        Population: customers with a purchase in the ``active_days`` days ending on ``as_of``.
    clv : bool, default True
        Add BG/NBD P(alive) and expected purchases when :mod:`crm_analytics.clv` is installed.
    satisfaction : bool, default True
        Add service and satisfaction features when ``crm_analytics.satisfaction``
        provides ``customer_features``.
    channels : list of str, optional
        Channels whose share is a feature; default the :data:`CHANNEL_SLOTS` most
        used up to ``as_of``. A fitted model passes the ones it was trained with.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (sorted); numeric columns float64, categorical
        columns (:data:`CATEGORICAL_FEATURES`) object dtype with missing as NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> tx = pd.DataFrame({"transaction_id": ["T1", "T2", "T3"], "customer_id": ["A", "A", "B"],
    ...                    "transaction_date": ["2024-01-01", "2024-01-21", "2024-01-15"],
    ...                    "amount": [10.0, 30.0, 8.0]})
    >>> _ = store.load("transactions", tx, unknown_customers="create")
    >>> X = build_features(store, "2024-01-31", clv=False, satisfaction=False)
    >>> X[["recency_days", "purchases_total", "spend_30d", "gap_median_days"]]
                 recency_days  purchases_total  spend_30d  gap_median_days
    customer_id
    A                    10.0              2.0       30.0             20.0
    B                    16.0              1.0        8.0              NaN
    """
    return _build(
        store, as_of, horizon_days=horizon_days, active_days=active_days, clv=clv,
        satisfaction=satisfaction, channels=channels,
    ).frame


def _build(
    store: Any,
    as_of: Any,
    *,
    horizon_days: int,
    active_days: int,
    clv: bool,
    satisfaction: bool,
    channels: list[str] | None,
    require: bool = False,
) -> FeatureBuild:
    """Build the features; ``require=True`` makes an unavailable source an error.

    A fitted model scores with ``require=True``: its features must be rebuilt
    exactly, so a missing CLV or satisfaction module cannot be papered over.
    """
    horizon_days = check_positive_int("horizon_days", horizon_days, "build_features")
    active_days = check_positive_int("active_days", active_days, "build_features")
    as_of = to_date(as_of)
    if channels is None:
        channels = top_channels(store, as_of)
    channels = [str(c) for c in channels]
    if len(channels) > CHANNEL_SLOTS:
        raise InputError(f"at most {CHANNEL_SLOTS} channels can be features; got {channels}")

    frame = _purchase_features(store, as_of, active_days, channels)
    build = FeatureBuild(frame=frame, channels=channels, uses_clv=False, uses_satisfaction=False)

    if satisfaction:
        sat = _satisfaction_features(store, as_of, frame.index, require=require)
        if sat is not None:
            frame = frame.join(sat)
            build.uses_satisfaction = True
    attrs = customer_attributes(store, as_of)
    attrs.index = attrs.index.astype(str)
    frame = frame.join(attrs[list(FIRMOGRAPHIC_FEATURES)].astype(object))
    if clv:
        btyd = _btyd_features(store, as_of, horizon_days, frame.index, require=require)
        if btyd is not None:
            values, build.clv_model, build.rfm = btyd
            frame = frame.join(values)
            build.uses_clv = True

    for name in frame.columns:
        if name in CATEGORICAL_FEATURES:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), np.nan)
        else:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    expected = feature_names(
        channels=channels, clv=build.uses_clv, satisfaction=build.uses_satisfaction
    )
    build.frame = frame[expected]
    return build


def _purchase_features(
    store: Any, as_of: dt.date, active_days: int, channels: list[str]
) -> pd.DataFrame:
    days = {f"d{n}": as_of - dt.timedelta(days=n - 1) for n in (30, 90, 180, 365)}
    slots = (channels + [None] * CHANNEL_SLOTS)[:CHANNEL_SLOTS]
    params: dict[str, Any] = {
        "as_of": as_of,
        "cutoff": as_of_cutoff(as_of),
        "active_from": active_from(as_of, active_days),
        "prev90_from": as_of - dt.timedelta(days=179),
        "prev90_to": as_of - dt.timedelta(days=90),
        **days,
        **{f"channel_{i + 1}": slot for i, slot in enumerate(slots)},
    }
    frame = store.sql(load_query("churn/sql/purchase_features.sql"), params)
    frame = frame.set_index(frame["customer_id"].astype(str).rename("customer_id"))
    frame = frame.drop(columns="customer_id")
    renames = {f"channel_share_{i + 1}": channel_feature_name(c) for i, c in enumerate(channels)}
    unused = [f"channel_share_{i + 1}" for i in range(len(channels), CHANNEL_SLOTS)]
    return frame.drop(columns=unused).rename(columns=renames)


def _satisfaction_features(
    store: Any, as_of: dt.date, index: pd.Index, *, require: bool
) -> pd.DataFrame | None:
    func = customer_features
    try:
        raw = func(store, as_of)
    except Exception as exc:  # optional source: a failure drops it unless it is required
        if require:
            raise
        warnings.warn(
            f"satisfaction features as of {as_of} left out: customer_features failed: {exc}",
            DataQualityWarning,
            stacklevel=4,
        )
        return None
    missing = [c for c in SATISFACTION_FEATURES if c not in raw.columns]
    if missing:
        raise InputError(
            f"satisfaction.customer_features lacks column(s) {missing}; the churn features "
            "need them"
        )
    sat = raw[list(SATISFACTION_FEATURES)].copy()
    sat.index = sat.index.astype(str)
    sat = sat.reindex(index)
    for name in COUNT_FEATURES & set(sat.columns):
        sat[name] = pd.to_numeric(sat[name].astype(object), errors="coerce").fillna(0.0)
    return sat


def _btyd_features(
    store: Any, as_of: dt.date, horizon_days: int, index: pd.Index, *, require: bool
) -> tuple[pd.DataFrame, Any, pd.DataFrame] | None:
    model_cls = CLVModel
    summary = rfm_summary(store, as_of, time_unit="W")
    summary.index = summary.index.astype(str)
    values = pd.DataFrame(np.nan, index=index, columns=list(BTYD_FEATURES))
    try:
        model = model_cls(purchase_model="bgnbd").fit(summary)
        values["btyd_p_alive"] = _as_series(model.probability_alive(summary), summary.index)
        values["btyd_expected_purchases"] = _as_series(
            model.expected_purchases(summary, horizon_days=horizon_days), summary.index
        )
    except Exception as exc:  # the fit is optional extra signal; never fatal
        warnings.warn(
            f"BG/NBD features as of {as_of} are missing (NaN): the CLV model failed: {exc}",
            DataQualityWarning,
            stacklevel=4,
        )
        return values, None, summary
    return values, model, summary


def _as_series(values: Any, index: pd.Index) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        values = values.copy()
        values.index = values.index.astype(str)
        return values
    return pd.Series(np.asarray(values, dtype=float), index=index)
