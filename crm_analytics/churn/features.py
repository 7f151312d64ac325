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
  the model fitted on the history up to ``as_of`` only;
* **customer attributes** (the extra columns of the customers file, kept in the
  store's ``customer_attributes``) as ``attr_<name>`` columns, see
  :func:`attribute_schema`. They are static: the values as loaded, with no
  history, so they are not "as of" anything (a column that is itself an outcome
  would leak the label; names that look like one are left out).

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.churn.labels import active_from, check_positive_int
from crm_analytics.clv import CLVModel, rfm_summary
from crm_analytics.core.params import param_error
from crm_analytics.core.timeutils import cutoff as as_of_cutoff
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import DataQualityWarning, InputError
from crm_analytics.satisfaction.features import customer_features
from crm_analytics.store.attributes import customer_attributes
from crm_analytics.store.queries import load_query

__all__ = [
    "ATTRIBUTE_PREFIX",
    "BTYD_FEATURES",
    "CATEGORICAL_FEATURES",
    "CHANNEL_SLOTS",
    "COUNT_FEATURES",
    "FEATURES_VERSION",
    "FIRMOGRAPHIC_FEATURES",
    "LABEL_LIKE_NAMES",
    "LABEL_LIKE_WORDS",
    "MAX_ATTRIBUTE_LEVELS",
    "OTHER_LEVEL",
    "PURCHASE_FEATURES",
    "SATISFACTION_FEATURES",
    "attribute_feature_name",
    "attribute_schema",
    "build_features",
    "channel_feature_name",
    "is_label_like",
    "feature_names",
    "top_channels",
]

log = logging.getLogger(__name__)

#: Bumped whenever a feature's meaning changes, so an old model file is refused.
#: 2: customer attributes became features (``attr_<name>``, recorded with the model).
FEATURES_VERSION = 2

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


#: Column prefix of a customer attribute as a feature (the segment rules' spelling).
ATTRIBUTE_PREFIX = "attr_"
#: Values kept per categorical attribute (the most frequent); rarer ones become
#: :data:`OTHER_LEVEL`, so an attribute with thousands of distinct values stays small.
MAX_ATTRIBUTE_LEVELS = 20
OTHER_LEVEL = "other"
#: An attribute whose name contains one of these words reads as an outcome (Telco's
#: ``Churn``, ``Churn Label``, ``Churn Score``, ``CLTV``, ``Churn Reason``...): it
#: would leak the label, so it is never a feature unless named explicitly.
LABEL_LIKE_WORDS: tuple[str, ...] = ("churn", "attrition", "cltv")
#: ... and so does an attribute with one of these names.
LABEL_LIKE_NAMES: frozenset[str] = frozenset(
    {"clv", "ltv", "exited", "label", "target", "y", "outcome", "customer_status",
     "cancelled", "canceled"}
)


def _slug(name: Any) -> str:
    # The loader's normalisation of a column name ('Payment Method' -> 'payment_method').
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def channel_feature_name(channel: str) -> str:
    """Column name of the share of purchase lines bought through ``channel``.

    Examples
    --------
    >>> channel_feature_name("Field Sales")
    'channel_share_field_sales'
    """
    slug = re.sub(r"[^0-9a-z]+", "_", str(channel).strip().lower()).strip("_")
    return f"channel_share_{slug or 'blank'}"


def attribute_feature_name(name: str) -> str:
    """Column name of customer attribute ``name`` as a feature.

    Examples
    --------
    >>> attribute_feature_name("contract")
    'attr_contract'
    """
    return f"{ATTRIBUTE_PREFIX}{name}"


def is_label_like(name: str) -> bool:
    """True when an attribute's name reads as a churn outcome (see :data:`LABEL_LIKE_WORDS`).

    Examples
    --------
    >>> [is_label_like(n) for n in ["churn_label", "Churn Score", "cltv", "contract", "tenure"]]
    [True, True, True, False, False]
    """
    slug = _slug(name)
    return slug in LABEL_LIKE_NAMES or any(word in slug for word in LABEL_LIKE_WORDS)


def feature_names(
    *, channels: list[str] | tuple[str, ...] = (), clv: bool = False, satisfaction: bool = False,
    attributes: Iterable[str] = (),
) -> list[str]:
    """The columns :func:`build_features` returns, in order, for a configuration.

    ``attributes`` are the names of the customer attributes used (the keys of
    :func:`attribute_schema`); their columns come last.

    Examples
    --------
    >>> names = feature_names(channels=["online"], clv=True)
    >>> names[-3:]
    ['region', 'btyd_p_alive', 'btyd_expected_purchases']
    >>> "channel_share_online" in names
    True
    >>> feature_names(attributes=["contract"])[-1]
    'attr_contract'
    """
    names = list(PURCHASE_FEATURES) + [channel_feature_name(c) for c in channels]
    if satisfaction:
        names += list(SATISFACTION_FEATURES)
    names += list(FIRMOGRAPHIC_FEATURES)
    if clv:
        names += list(BTYD_FEATURES)
    names += [attribute_feature_name(a) for a in attributes]
    return names


def check_attributes(owner: str, attributes: Any, exclude: Any) -> None:
    """Raise the package's parameter error for a bad ``attributes`` / ``exclude_attributes``."""
    names = isinstance(attributes, (list, tuple)) and all(isinstance(a, str) for a in attributes)
    schema = isinstance(attributes, dict)  # a fitted model's attributes_ (internal)
    if not (isinstance(attributes, bool) or names or schema):
        raise param_error(owner, "attributes", "True, False or a list of attribute names",
                          attributes)
    if exclude is not None and not (
        isinstance(exclude, (list, tuple)) and all(isinstance(a, str) for a in exclude)
    ):
        raise param_error(owner, "exclude_attributes", "None or a list of attribute names",
                          exclude)


def attribute_schema(
    store: Any,
    as_of: Any = None,
    attributes: bool | list[str] | tuple[str, ...] = True,
    exclude: Iterable[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The customer attributes to use as churn features, with their kind and levels.

    An attribute is *numeric* when every value it has reads as a number (a
    float column), else *categorical*: its :data:`MAX_ATTRIBUTE_LEVELS` most
    frequent values are its levels and rarer values become :data:`OTHER_LEVEL`
    (listed last when there are any). A customer without a value has a missing
    value. Counted over the customers created before ``as_of`` (all with None),
    in one SQL query (``sql/attribute_levels.sql``).

    Parameters
    ----------
    store : crm_analytics.Store
    as_of : date-like, optional
    attributes : bool or list of str, default True
        True: every attribute of the store except those whose name looks like
        a label (:func:`is_label_like`: ``churn``, ``churn_label``, ``cltv``...).
        False: none. A list: those attributes (names as stored or as
        ``attr_<name>``); a label-like name is then used, with a warning.
    exclude : list of str, optional
        Attributes never to use.

    Returns
    -------
    dict
        ``{name: {"kind": "numeric" | "categorical", "levels": [...]}}`` in name
        order (levels empty for numeric attributes): what a fitted model
        records (``ChurnModel.attributes_``) and passes again at scoring.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({
    ...     "customer_id": ["C1", "C2", "C3"], "Contract": ["Two year", "Month-to-month", None],
    ...     "tenure": ["3", "40", "12"], "Churn": ["Yes", "No", "No"]}))
    >>> schema = attribute_schema(store)
    >>> schema["contract"]
    {'kind': 'categorical', 'levels': ['Month-to-month', 'Two year']}
    >>> schema["tenure"], "churn" in schema
    ({'kind': 'numeric', 'levels': []}, False)
    """
    if attributes is False or not store.has_table("customer_attributes"):
        return {}
    params = {"cutoff": None if as_of is None else as_of_cutoff(as_of),
              "max_levels": MAX_ATTRIBUTE_LEVELS}
    stats = store.sql(load_query("churn/sql/attribute_levels.sql"), params)
    available = list(dict.fromkeys(str(n) for n in stats["name"]))
    excluded = {_attribute_key(n, available) for n in exclude or ()}
    if attributes is True:
        labels = [n for n in available if is_label_like(n)]
        if labels:
            log.info("customer attributes that look like labels, not used as churn features: %s",
                     labels)
        chosen = [n for n in available if n not in excluded and n not in labels]
    else:
        chosen = []
        for raw in attributes:
            name = _attribute_key(raw, available)
            if name not in available:
                raise InputError(
                    f"attributes: the store has no customer attribute {raw!r}; it has "
                    f"{', '.join(available) or 'none'}")
            if name in excluded or name in chosen:
                continue
            if is_label_like(name):
                warnings.warn(
                    f"customer attribute {name!r} looks like a churn label; as a feature it "
                    "may leak the outcome (its value is as loaded, not as of the cutoff)",
                    DataQualityWarning, stacklevel=4,
                )
            chosen.append(name)
    schema: dict[str, dict[str, Any]] = {}
    for name in sorted(chosen):
        rows = stats[stats["name"] == name]
        if int(rows["is_numeric"].iloc[0]) == 1:
            schema[name] = {"kind": "numeric", "levels": []}
            continue
        levels = [str(v) for v in rows["value"].dropna()]
        if int(rows["n_values"].iloc[0]) > len(levels) and OTHER_LEVEL not in levels:
            levels.append(OTHER_LEVEL)
        schema[name] = {"kind": "categorical", "levels": levels}
    return schema


def _attribute_key(name: str, available: list[str]) -> str:
    """An attribute named as stored, in another spelling, or as its ``attr_`` column."""
    slug = _slug(name)
    if slug not in available and slug.startswith(ATTRIBUTE_PREFIX):
        return slug[len(ATTRIBUTE_PREFIX):]
    return slug


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
    #: The attribute schema used (see :func:`attribute_schema`); empty for none.
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)


def build_features(
    store: Any,
    as_of: Any,
    *,
    horizon_days: int = 90,
    active_days: int = 365,
    clv: bool = True,
    satisfaction: bool = True,
    channels: list[str] | None = None,
    attributes: bool | list[str] | dict[str, Any] = True,
    exclude_attributes: list[str] | None = None,
) -> pd.DataFrame:
    """Churn features of every customer active at ``as_of``, using data up to ``as_of`` only.

    Customer attributes are the exception to "as of": they have no history, so
    their columns hold the values as loaded (see :func:`attribute_schema`).

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
    attributes : bool, list of str or dict, default True
        Customer attributes as ``attr_<name>`` columns: True every attribute
        whose name does not look like a label (``churn``, ``churn_label``,
        ``churn_score``, ``cltv``... see :func:`is_label_like`), False none, a
        list those named. A fitted model passes its schema (``attributes_``):
        then values outside its levels become ``'other'`` (when it had rare
        values) or missing, and an attribute a customer lacks is missing.
    exclude_attributes : list of str, optional
        Attributes never to use (with ``attributes=True`` or a list).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (sorted); numeric columns float64, categorical
        columns (:data:`CATEGORICAL_FEATURES`) object dtype with missing as NaN;
        ``attr_<name>`` columns float64 (numeric attributes) or category.

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
        satisfaction=satisfaction, channels=channels, attributes=attributes,
        exclude_attributes=exclude_attributes,
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
    attributes: bool | list[str] | dict[str, Any] = True,
    exclude_attributes: list[str] | None = None,
    btyd_fitted: tuple[pd.DataFrame, Any, pd.DataFrame] | None = None,
) -> FeatureBuild:
    """Build the features; ``require=True`` makes an unavailable source an error.

    A fitted model scores with ``require=True``: its features must be rebuilt
    exactly, so a missing CLV or satisfaction module cannot be papered over.
    ``attributes`` as a dict is a fixed attribute schema (a model's or a
    training set's), used as it is.
    """
    horizon_days = check_positive_int("horizon_days", horizon_days, "build_features")
    active_days = check_positive_int("active_days", active_days, "build_features")
    check_attributes("build_features", attributes, exclude_attributes)
    as_of = to_date(as_of)
    if isinstance(attributes, dict):
        schema = attributes
    else:
        schema = attribute_schema(store, as_of, attributes, exclude_attributes)
    if channels is None:
        channels = top_channels(store, as_of)
    channels = [str(c) for c in channels]
    if len(channels) > CHANNEL_SLOTS:
        raise InputError(f"at most {CHANNEL_SLOTS} channels can be features; got {channels}")

    frame = _purchase_features(store, as_of, active_days, channels)
    build = FeatureBuild(frame=frame, channels=channels, uses_clv=False, uses_satisfaction=False,
                         attributes=schema)

    if satisfaction:
        sat = _satisfaction_features(store, as_of, frame.index, require=require)
        if sat is not None:
            frame = frame.join(sat)
            build.uses_satisfaction = True
    attrs = customer_attributes(store, as_of)
    attrs.index = attrs.index.astype(str)
    frame = frame.join(attrs[list(FIRMOGRAPHIC_FEATURES)].astype(object))
    if clv:
        if btyd_fitted is not None:
            # Fitted once on the whole store (customer batches of one scoring share it).
            full, fitted, rfm = btyd_fitted
            btyd = (full.reindex(frame.index), fitted, rfm)
        else:
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
    if schema:
        frame = frame.join(_attribute_features(store, schema, frame.index))
    expected = feature_names(
        channels=channels, clv=build.uses_clv, satisfaction=build.uses_satisfaction,
        attributes=schema,
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


def _attribute_features(
    store: Any, schema: dict[str, dict[str, Any]], index: pd.Index
) -> pd.DataFrame:
    """The ``attr_<name>`` columns of ``schema`` for the customers of ``index``.

    One query pivots only the schema's attributes. Categorical values are
    mapped to level codes in SQL, so pandas receives small integers rather than
    millions of strings (1M customers x 20 attributes stay cheap). The text
    holds generated aliases and parameter names only; names and levels are bound.
    """
    params: dict[str, Any] = {}
    pivot, mapped = [], []
    for j, (name, spec) in enumerate(schema.items()):
        params[f"name_{j}"] = name
        pivot.append(f"MAX(CASE WHEN name = $name_{j} THEN value END) AS v{j}")
        if spec["kind"] == "numeric":
            mapped.append(f"TRY_CAST(v{j} AS DOUBLE) AS a{j}")
            continue
        levels = list(spec["levels"])
        whens = []
        for k, level in enumerate(levels):
            params[f"level_{j}_{k}"] = level
            whens.append(f"WHEN $level_{j}_{k} THEN {k}")
        # Values outside the levels: the 'other' level when training had rare values,
        # else missing (-1), like a customer without the attribute.
        other = levels.index(OTHER_LEVEL) if OTHER_LEVEL in levels else -1
        code = f"CASE v{j} {' '.join(whens)} ELSE {other} END" if whens else "-1"
        mapped.append(f"CASE WHEN v{j} IS NULL THEN -1 ELSE {code} END AS a{j}")
    names = ", ".join(f"$name_{j}" for j in range(len(schema)))
    query = (
        f"SELECT customer_id, {', '.join(mapped)} FROM ("  # noqa: S608 - aliases and $params only
        f"SELECT customer_id, {', '.join(pivot)} FROM customer_attributes "
        f"WHERE name IN ({names}) GROUP BY customer_id) AS wide"
    )
    raw = store.sql(query, params)
    raw.index = pd.Index(raw["customer_id"].astype(str), name="customer_id")
    raw = raw.reindex(index)
    out: dict[str, Any] = {}
    for j, (name, spec) in enumerate(schema.items()):
        values = raw[f"a{j}"]
        if spec["kind"] == "numeric":
            out[attribute_feature_name(name)] = pd.to_numeric(values, errors="coerce").astype(
                "float64")
        else:
            codes = values.fillna(-1).to_numpy(dtype="int64")
            out[attribute_feature_name(name)] = pd.Categorical.from_codes(
                codes, categories=list(spec["levels"]))
    return pd.DataFrame(out, index=index)


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
    store: Any, as_of: dt.date, horizon_days: int, index: pd.Index | None, *, require: bool
) -> tuple[pd.DataFrame, Any, pd.DataFrame] | None:
    model_cls = CLVModel
    summary = rfm_summary(store, as_of, time_unit="W")
    summary.index = summary.index.astype(str)
    # index None: every customer of the summary (a fit shared by several builds).
    values = pd.DataFrame(np.nan, index=summary.index if index is None else index,
                          columns=list(BTYD_FEATURES))
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
