"""The churn model: calibrated gradient boosting, trained and tested across time.

Training on a store stacks examples from several past cutoffs
(:func:`training_set`): for each cutoff ``c`` the features as of ``c`` and the
label "no purchase in ``(c, c + horizon_days]``". Every label window must end
on or before the evaluation cutoff, and :meth:`ChurnModel.evaluate` refuses a
cutoff earlier than the end of the last training label window — a time-based
backtest, never a random split across time.

Calibration respects time too: with ``K`` training cutoffs, the probabilities
are calibrated by forward chaining over the last ``calibration_cutoffs`` of
them (boosting fitted on the cutoffs before cutoff ``k``, the calibration map
on cutoff ``k``'s examples; the fitted pairs are averaged, scikit-learn's
``CalibratedClassifierCV(ensemble=True)``). With a single cutoff, or a plain
feature table, a stratified 3-fold split is used instead.

Scoring the customers of a store is the function :func:`score`
(probability, risk band, revenue at risk, reasons); ``ChurnModel.predict`` and
``predict_proba`` work on feature tables only.
"""

from __future__ import annotations

import datetime as dt
import logging
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.model_selection import StratifiedKFold

from crm_analytics.churn import baselines
from crm_analytics.churn.evaluation import (
    ChurnEvaluation,
    calibration_table,
    classification_metrics,
    grade,
)
from crm_analytics.churn.features import (
    BTYD_FEATURES,
    CATEGORICAL_FEATURES,
    FeatureBuild,
    _btyd_features,
    _build,
    attribute_schema,
    check_attributes,
    feature_names,
    top_channels,
)
from crm_analytics.churn.labels import active_from, build_labels, label_window_end
from crm_analytics.churn.persistence import load_model, save_model
from crm_analytics.churn.reasons import explain, typical_values
from crm_analytics.clv import DAYS_PER_UNIT
from crm_analytics.core.estimator import Estimator
from crm_analytics.core.params import check_choice, check_number, param_error
from crm_analytics.core.summary import Summary
from crm_analytics.core.threads import limits_threads
from crm_analytics.core.timeutils import cutoff as as_of_cutoff
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError
from crm_analytics.store.queries import load_query
from crm_analytics.store.sampling import customer_part, sample_customers

__all__ = [
    "CUTOFF_COLUMN", "LABEL_COLUMN", "RISK_BANDS", "ChurnModel", "score", "select_cutoffs",
    "stratified_sample", "training_cutoffs", "training_set",
]

log = logging.getLogger(__name__)

RISK_BANDS: tuple[str, ...] = ("low", "medium", "high")
#: Categories kept per categorical feature (the most frequent in training); rarer
#: values are treated as missing, which also keeps every feature under the
#: 255-bin limit of histogram gradient boosting.
MAX_CATEGORIES = 50
#: Columns :func:`training_set` adds to the features: the cutoff of each example
#: and its label (1 = no purchase in the horizon after the cutoff).
CUTOFF_COLUMN = "cutoff"
LABEL_COLUMN = "churned"
#: Active customers :func:`score` scores at a time (larger populations go in batches).
SCORE_BATCH = 200_000
#: Evaluation customers the permutation importance is computed on, at most: each
#: feature is shuffled ``n_repeats`` times and the model re-run, so the cost grows
#: with this times the number of features.
IMPORTANCE_SAMPLE = 5_000
#: Key of the :attr:`pandas.DataFrame.attrs` entry describing a training set.
TRAINING_SET_ATTRS = "crm_analytics.churn.training_set"


def training_cutoffs(
    start: Any, evaluate_at: Any, *, horizon_days: int = 90, freq: str = "ME"
) -> list[dt.date]:
    """Cutoffs from ``start`` every ``freq`` whose label window ends by ``evaluate_at``.

    Examples
    --------
    >>> [str(c) for c in training_cutoffs("1997-06-30", "1998-03-31", horizon_days=90)]
    ['1997-06-30', '1997-07-31', '1997-08-31', '1997-09-30', '1997-10-31', '1997-11-30', '1997-12-31']
    """
    end = to_date(evaluate_at, "evaluate_at") - dt.timedelta(days=horizon_days)
    dates = pd.date_range(pd.Timestamp(to_date(start, "start")), pd.Timestamp(end), freq=freq)
    return [d.date() for d in dates]


def _is_store(obj: Any) -> bool:
    return hasattr(obj, "sql") and not isinstance(obj, (pd.DataFrame, np.ndarray))


def _check_int(owner: str, name: str, value: Any, low: int, *, allow_none: bool = False) -> Any:
    """An int (not a float, not a bool) of at least ``low``: :func:`check_number` plus the type."""
    if value is None and allow_none:
        return None
    rule = f"an int in the range [{low}, inf)" + (" or None" if allow_none else "")
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise param_error(owner, name, rule, value)
    check_number(owner, name, value, integer=True, low=low, allow_none=allow_none)
    return int(value)


def _check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise param_error(owner, name, "a bool", value)
    return value


@limits_threads
def training_set(
    store: Any,
    cutoffs: Iterable[Any] | None,
    *,
    horizon_days: int = 90,
    active_days: int = 365,
    clv: bool = True,
    satisfaction: bool = True,
    max_examples_per_cutoff: int | None = None,
    random_state: int | None = 0,
    evaluate_at: Any = None,
    data_through: Any = None,
    attributes: bool | list[str] = True,
    exclude_attributes: list[str] | None = None,
    channels: list[str] | None = None,
) -> pd.DataFrame:
    """Point-in-time training examples of a store, stacked over ``cutoffs``.

    For each cutoff ``c`` (sorted, duplicates dropped): the features of the
    customers active at ``c`` (:func:`~crm_analytics.churn.build_features`), a
    ``cutoff`` column and the label ``churned`` (no purchase in ``(c, c +
    horizon_days]``, :func:`~crm_analytics.churn.build_labels`). The channels
    whose share is a feature are the top channels at the last cutoff (or
    ``channels``); BTYD and
    satisfaction features are used when available at the first cutoff and then
    required at every later one. The customer attributes used, their kinds and
    levels are fixed at the last cutoff too (:func:`~crm_analytics.churn.features.attribute_schema`).
    ``ChurnModel().fit(training)`` fits on it.

    Parameters
    ----------
    store : crm_analytics.Store
    cutoffs : list of date-like
    horizon_days, active_days : int
        Label window and activity lookback (as in :class:`ChurnModel`).
    clv, satisfaction : bool, default True
        Use BTYD and service/satisfaction features when available.
    max_examples_per_cutoff : int, optional
        At most this many examples per cutoff (large stores), so the cost of
        a training set does not grow with the store. With more active
        customers than that, the features are built on a uniform, seeded
        sample of the customers (:func:`crm_analytics.store.sampling.sample_customers`,
        about 1.25 times the examples wanted at the last cutoff) and each
        cutoff is then cut to the limit by a stratified draw that keeps the
        churn rate (:func:`stratified_sample`). Recorded in the result's
        ``attrs`` (``sample``) and the fitted model (``training_sample_``).
    random_state : int, optional
        Seed of that sample (the same seed draws the same customers).
    evaluate_at : date-like, optional
        The planned evaluation cutoff: every label window must end on or before it.
    data_through : date-like, optional
        The last day the data are complete through (a run's ``as_of``); every
        label window must end on or before it (default: the last transaction,
        see :func:`~crm_analytics.churn.build_labels`).
    attributes : bool or list of str, default True
        Customer attributes as ``attr_<name>`` features: True every one whose
        name does not look like a label, False none, or a list of names (see
        :func:`~crm_analytics.churn.build_features`).
    exclude_attributes : list of str, optional
        Attributes never to use.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (repeated across cutoffs), the feature
        columns then ``cutoff`` (datetime64) and ``churned`` (int 0/1). Its
        ``attrs[TRAINING_SET_ATTRS]`` records the cutoffs, channels, feature
        sources, the attribute schema, ``horizon_days`` and ``active_days``; keep it (pandas keeps
        ``attrs`` through copies and row selections) for ``fit``.
    """
    owner = "training_set"
    horizon_days = _check_int(owner, "horizon_days", horizon_days, 1)
    active_days = _check_int(owner, "active_days", active_days, 1)
    _check_bool(owner, "clv", clv)
    _check_bool(owner, "satisfaction", satisfaction)
    check_attributes(owner, attributes, exclude_attributes)
    max_examples_per_cutoff = _check_int(owner, "max_examples_per_cutoff",
                                         max_examples_per_cutoff, 1, allow_none=True)
    if random_state is not None:
        _check_int(owner, "random_state", random_state, 0)
    if cutoffs is None:
        raise InputError(
            "a store needs training cutoffs: training_set(store, cutoffs=[...]), "
            "ChurnModel(cutoffs=[...]) or fit(store, cutoffs=[...]); see churn.training_cutoffs()"
        )
    if isinstance(cutoffs, (str, dt.date, pd.Timestamp)):
        cutoffs = [cutoffs]
    dates = sorted({to_date(c, "cutoff") for c in cutoffs})
    if not dates:
        raise InputError("a store needs at least one training cutoff")
    if evaluate_at is not None:
        limit = to_date(evaluate_at, "evaluate_at")
        late = [c for c in dates if label_window_end(c, horizon_days) > limit]
        if late:
            raise InputError(
                f"training cutoff {late[0]}: its label window ends on "
                f"{label_window_end(late[0], horizon_days)}, after evaluate_at {limit}; "
                f"a training label may not overlap the evaluation period (use cutoffs on or "
                f"before {limit - dt.timedelta(days=horizon_days)})"
            )
    channels = top_channels(store, dates[-1]) if channels is None else [str(c) for c in channels]
    schema = attribute_schema(store, dates[-1], attributes, exclude_attributes)
    frames = []
    build: FeatureBuild | None = None
    source, sample = _training_source(store, dates[-1], active_days, max_examples_per_cutoff,
                                      random_state)
    for cutoff in dates:
        if build is None:
            use_clv, use_sat, require = clv, satisfaction, False
        else:
            use_clv, use_sat, require = build.uses_clv, build.uses_satisfaction, True
        build = _build(
            source, cutoff, horizon_days=horizon_days, active_days=active_days,
            clv=use_clv, satisfaction=use_sat, channels=channels, require=require,
            attributes=schema,
        )
        labels = build_labels(source, cutoff, horizon_days=horizon_days, active_days=active_days,
                              data_through=data_through)
        frame = build.frame
        if not frame.index.equals(labels.index):
            raise AssertionError("features and labels cover different customers")
        if CUTOFF_COLUMN in frame.columns or LABEL_COLUMN in frame.columns:
            raise AssertionError(f"a feature is named {CUTOFF_COLUMN!r} or {LABEL_COLUMN!r}")
        if max_examples_per_cutoff is not None and len(frame) > max_examples_per_cutoff:
            keep = stratified_sample(labels.to_numpy(), max_examples_per_cutoff,
                                     seed=(random_state or 0, cutoff.toordinal()))
            frame, labels = frame.iloc[keep], labels.iloc[keep]
        frame = frame.copy()
        frame[CUTOFF_COLUMN] = pd.Timestamp(cutoff)
        frame[LABEL_COLUMN] = labels.to_numpy()
        frames.append(frame)
        rate = float(labels.mean()) if len(labels) else np.nan
        log.info("cutoff %s: %d examples, churn rate %.3f", cutoff, len(frame), rate)
    assert build is not None
    if source is not store:
        source.close()
    out = pd.concat(frames)
    out.attrs = {TRAINING_SET_ATTRS: {
        "cutoffs": list(dates),
        "channels": list(channels),
        "clv": bool(build.uses_clv),
        "satisfaction": bool(build.uses_satisfaction),
        "attributes": schema,
        "horizon_days": horizon_days,
        "active_days": active_days,
        "sample": sample,
    }}
    return out


def select_cutoffs(training: pd.DataFrame, cutoffs: Iterable[Any]) -> pd.DataFrame:
    """The examples of some of a training set's cutoffs, as a training set of its own.

    One :func:`training_set` over the union of two fits' cutoffs (a back-test
    model and the deployed one share most of theirs) builds each cutoff's
    features once; each fit then takes its cutoffs from it.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": [1.0, 2.0, 3.0], CUTOFF_COLUMN: pd.to_datetime(
    ...     ["2024-01-31", "2024-02-29", "2024-02-29"]), LABEL_COLUMN: [0, 1, 0]})
    >>> X.attrs = {TRAINING_SET_ATTRS: {"cutoffs": [dt.date(2024, 1, 31), dt.date(2024, 2, 29)]}}
    >>> part = select_cutoffs(X, ["2024-02-29"])
    >>> len(part), part.attrs[TRAINING_SET_ATTRS]["cutoffs"]
    (2, [datetime.date(2024, 2, 29)])
    """
    if not _is_training_set(training):
        raise InputError("select_cutoffs takes the frame of churn.training_set")
    info = training.attrs[TRAINING_SET_ATTRS]
    wanted = sorted({to_date(c, "cutoff") for c in cutoffs})
    have = {to_date(c, "cutoff") for c in info["cutoffs"]}
    missing = [str(c) for c in wanted if c not in have]
    if not wanted or missing:
        raise InputError(f"select_cutoffs: cutoffs {missing or '[]'} are not in the training set "
                         f"(it has {sorted(str(c) for c in have)})")
    rows = pd.to_datetime(training[CUTOFF_COLUMN]).dt.date.isin(set(wanted)).to_numpy()
    out = training.loc[rows].copy()
    out.attrs = {TRAINING_SET_ATTRS: {**info, "cutoffs": wanted}}
    return out


#: Customers drawn into a training sample per example wanted: the active population
#: varies between cutoffs, so the sample carries some spare for the stratified cut.
SAMPLE_SPARE = 1.25


def _training_source(store: Any, last_cutoff: dt.date, active_days: int,
                     max_examples: int | None, seed: int | None) -> tuple[Any, dict[str, Any]]:
    """The store the training examples come from: the store itself or a uniform customer sample.

    With ``max_examples`` per cutoff and more active customers than that at the
    last cutoff, a uniform hash sample of ``SAMPLE_SPARE * max_examples / active``
    of all customers (:func:`crm_analytics.store.sampling.sample_customers`)
    holds every row the features need, so building them costs the same on a
    store of a million customers as on one of ``max_examples``.
    """
    info: dict[str, Any] = {"max_examples_per_cutoff": max_examples, "customer_fraction": 1.0,
                            "seed": int(seed or 0)}
    if max_examples is None:
        return store, info
    params = {"active_from": active_from(last_cutoff, active_days),
              "cutoff": as_of_cutoff(last_cutoff)}
    n_active = int(store.sql(load_query("churn/sql/active_count.sql"), params)["n_active"].iloc[0])
    info["active_at_last_cutoff"] = n_active
    fraction = SAMPLE_SPARE * max_examples / max(n_active, 1)
    if fraction >= 1.0:
        return store, info
    info["customer_fraction"] = round(fraction, 6)
    log.info("training on a uniform sample of %.1f %% of the customers (%d active at %s, "
             "%d examples per cutoff wanted)", 100 * fraction, n_active, last_cutoff, max_examples)
    return sample_customers(store, fraction, seed=int(seed or 0)), info


def stratified_sample(labels: np.ndarray, n: int, seed: Any = 0) -> np.ndarray:
    """Positions of ``n`` rows drawn without replacement, each label in its own proportion.

    Every label value keeps its share of the rows (rounded, the total exactly
    ``n``); within a label the rows are a seeded uniform draw. Positions come
    back sorted, so the sample keeps the input's order.

    Examples
    --------
    >>> y = np.array([0] * 80 + [1] * 20)
    >>> keep = stratified_sample(y, 10, seed=1)
    >>> len(keep), int(y[keep].sum())
    (10, 2)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise InputError(f"stratified_sample: n must be a whole number >= 0; got {n!r}")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InputError(f"stratified_sample: labels must be one-dimensional; got shape "
                         f"{labels.shape}")
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    values, counts = np.unique(labels, return_counts=True)
    quota = counts * n / len(labels)
    take = np.floor(quota).astype(int)
    # Largest remainders get the rows left over, so the quotas sum to exactly n.
    for k in np.argsort(-(quota - take), kind="stable")[: n - int(take.sum())]:
        take[k] += 1
    keep = [rng.choice(np.flatnonzero(labels == v), size=t, replace=False)
            for v, t in zip(values, take, strict=True)]
    return np.sort(np.concatenate(keep))
class ChurnModel(ClassifierMixin, Estimator):
    """Calibrated churn probabilities from histogram gradient boosting.

    Three ways to fit:

    * ``fit(training)`` — non-contractual churn from a store: ``training`` is
      the frame of :func:`crm_analytics.churn.training_set` (features as of
      each cutoff, ``cutoff`` and the label ``churned``, stacked over the
      cutoffs); then :meth:`evaluate`, :func:`crm_analytics.churn.score` and
      :meth:`save` work on the store.
    * ``fit(store, cutoffs=[...], evaluate_at=...)`` — the same in one call
      (builds the training set with the model's parameters, then fits).
    * ``fit(X, y)`` — any table of features and a binary target (e.g.
      contract churn); categorical columns are those of object, string,
      category or bool dtype, and text columns holding only numbers (and
      blanks) are read as numbers.

    ``predict(X)`` returns the class labels of a feature table as a
    :class:`pandas.Series` indexed like ``X``; ``predict_proba(X)`` the class
    probabilities as an array, as scikit-learn classifiers do.

    Parameters
    ----------
    horizon_days : int, default 90
        Label window after each cutoff.
    active_days : int, default 365
        A customer is scored when they bought in the ``active_days`` days ending on the cutoff.
    cutoffs : list of date-like, optional
        Training cutoffs for ``fit(store)`` (``fit(store, cutoffs=...)`` overrides).
    calibration : {'isotonic', 'sigmoid'}, default 'isotonic'
    calibration_cutoffs : int, default 2
        How many of the latest training cutoffs serve as calibration sets (forward chaining).
    risk_thresholds : 'auto' or tuple of float, default (0.2, 0.5)
        ``risk_band`` is 'high' from the second threshold on, 'medium' from the
        first, else 'low'. ``'auto'`` calibrates them to the churn base rate
        ``b`` (the training churn rate, :attr:`base_rate_`): medium from ``b``
        (above-average risk), high from ``(1 + b) / 2`` (halfway from the base
        rate to certain churn; 0.55 at b = 0.1, 0.8 at b = 0.6), so "high" is a
        minority unless churn itself is the rule; the scoring run uses it. A
        pair gives fixed probabilities.
    clv, satisfaction : bool, default True
        Use BTYD and service/satisfaction features when those modules are installed.
    attributes : bool or list of str, default True
        Customer attributes (extra columns of the customers file) as
        ``attr_<name>`` features: True every one whose name does not look like a
        label (``churn``, ``churn_label``, ``cltv``...), False none, or a list of
        names. Their values are as loaded, not as of a cutoff.
    exclude_attributes : list of str, optional
        Attributes never to use.
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
        (early stopping is off: its random validation split would mix cutoffs).
    max_examples_per_cutoff : int, optional
        At most this many examples per training cutoff, a stratified sample of
        a uniform customer sample (large stores; ``fit(store)`` only; see
        :func:`training_set`).
    random_state : int, default 0

    Attributes
    ----------
    estimator_ : CalibratedClassifierCV
    feature_names_in_ : numpy.ndarray
    cutoffs_ : list of datetime.date
        Training cutoffs (store mode; empty for a plain table).
    label_window_end_ : datetime.date or None
        Last day of the last training label window; evaluation must be on or after it.
    channels_ : list of str
        Channels whose share is a feature.
    attributes_ : dict
        The customer attributes used: ``{name: {"kind": "numeric" | "categorical",
        "levels": [...]}}`` (see :func:`~crm_analytics.churn.features.attribute_schema`).
    typical_values_ : dict
        Typical value per feature, the reference of the reasons.
    base_rate_ : float
        Training churn rate.
    risk_thresholds_ : tuple of float
        The (medium, high) thresholds in use (``risk_thresholds``, or derived from
        :attr:`base_rate_` when it is 'auto').
    metrics_, feature_importance_ : pandas.DataFrame
        Back-test metrics and permutation importance saved with the model; never
        set by ``fit`` or :meth:`evaluate` — a caller copies them from a
        :class:`ChurnEvaluation` (``evaluation.metrics``,
        ``evaluation.feature_importance``) to keep them with the saved model.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"tenure": rng.integers(1, 72, 600),
    ...                   "contract": rng.choice(["monthly", "yearly"], 600)})
    >>> y = (rng.random(600) < np.where(X["contract"] == "monthly", 0.5, 0.1)).astype(int)
    >>> model = ChurnModel(max_iter=30).fit(X, y)
    >>> model.predict_proba(X.head(2)).shape
    (2, 2)
    >>> model.predict(X.head(2)).index.equals(X.head(2).index)
    True

    On a store: train on past cutoffs, test on a later one, score.

    >>> from crm_analytics import Store
    >>> from crm_analytics.datasets import synthetic
    >>> store = Store(":memory:")
    >>> _ = store.load_all(synthetic.generate(n_customers=400, seed=1).tables())
    >>> training = training_set(store, ["2025-03-31", "2025-04-30"], clv=False,
    ...                         satisfaction=False, evaluate_at="2025-09-30")
    >>> model = ChurnModel(max_iter=10, clv=False, satisfaction=False).fit(training)
    >>> model.evaluate(store, "2025-09-30").grade in {"A", "B", "C"}
    True
    >>> list(score(model, store, "2025-09-30").columns[:2])
    ['churn_probability', 'risk_band']
    """

    _fitted_attribute = "estimator_"

    def __init__(
        self,
        horizon_days: int = 90,
        active_days: int = 365,
        cutoffs: Iterable[Any] | None = None,
        calibration: str = "isotonic",
        calibration_cutoffs: int = 2,
        risk_thresholds: tuple[float, float] | str = (0.2, 0.5),
        clv: bool = True,
        satisfaction: bool = True,
        learning_rate: float = 0.1,
        max_iter: int = 150,
        max_leaf_nodes: int = 7,
        min_samples_leaf: int = 100,
        l2_regularization: float = 1.0,
        max_examples_per_cutoff: int | None = None,
        random_state: int | None = 0,
        attributes: bool | list[str] = True,
        exclude_attributes: list[str] | None = None,
    ):
        self.horizon_days = horizon_days
        self.active_days = active_days
        self.cutoffs = cutoffs
        self.calibration = calibration
        self.calibration_cutoffs = calibration_cutoffs
        self.risk_thresholds = risk_thresholds
        self.clv = clv
        self.satisfaction = satisfaction
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_examples_per_cutoff = max_examples_per_cutoff
        self.random_state = random_state
        self.attributes = attributes
        self.exclude_attributes = exclude_attributes

    # -- parameters --------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Check every constructor parameter (scikit-learn's message shape); runs in ``fit``."""
        owner = type(self).__name__
        for name in ("horizon_days", "active_days", "calibration_cutoffs", "max_iter",
                     "min_samples_leaf"):
            _check_int(owner, name, getattr(self, name), 1)
        _check_int(owner, "max_leaf_nodes", self.max_leaf_nodes, 2)
        check_choice(owner, "calibration", self.calibration, ("isotonic", "sigmoid"))
        check_number(owner, "learning_rate", self.learning_rate, low=0, low_open=True)
        check_number(owner, "l2_regularization", self.l2_regularization, low=0)
        th = self.risk_thresholds
        if isinstance(th, str) and th == "auto":
            pass
        elif (
            not isinstance(th, (tuple, list))
            or len(th) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in th)
            or not 0 < th[0] < th[1] <= 1
        ):
            raise param_error(owner, "risk_thresholds",
                              "'auto' or a pair (medium, high) with 0 < medium < high <= 1", th)
        _check_int(owner, "max_examples_per_cutoff", self.max_examples_per_cutoff, 1,
                   allow_none=True)
        _check_bool(owner, "clv", self.clv)
        _check_bool(owner, "satisfaction", self.satisfaction)
        if isinstance(self.attributes, dict):  # a schema is fitted state, not a parameter
            raise param_error(owner, "attributes", "True, False or a list of attribute names",
                              self.attributes)
        check_attributes(owner, self.attributes, self.exclude_attributes)
        _check_int(owner, "random_state", self.random_state, 0, allow_none=True)

    # -- fitting -----------------------------------------------------------------------------
    @limits_threads
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        cutoffs: Iterable[Any] | None = None,
        evaluate_at: Any = None,
        data_through: Any = None,
    ) -> ChurnModel:
        """Fit on a training set, on a plain feature table, or (convenience) on a store.

        Parameters
        ----------
        X : pandas.DataFrame or crm_analytics.Store
            The frame of :func:`training_set` (then no ``y``), any feature
            table (with ``y``), or a store: ``fit(store, cutoffs=...)`` is
            ``fit(training_set(store, cutoffs, ...))`` with the model's
            ``horizon_days``, ``active_days``, ``clv``, ``satisfaction``,
            ``max_examples_per_cutoff`` and ``random_state``.
        y : array-like, optional
            Binary target of a feature table; not allowed with a training set or a store.
        cutoffs : list of date-like, optional
            Training cutoffs (store only); overrides the ``cutoffs`` parameter.
        evaluate_at : date-like, optional
            The planned evaluation cutoff (store only): every label window
            (cutoff + ``horizon_days``) must end on or before it.
        data_through : date-like, optional
            The last day the data are complete through (store only; a run's
            ``as_of``): label windows must end on or before it (default: the
            last transaction).

        Returns
        -------
        ChurnModel
            ``self``.
        """
        self._check_params()
        for name in ("feature_importance_", "evaluation_", "metrics_"):
            self.__dict__.pop(name, None)
        if _is_store(X):
            if y is not None:
                raise InputError("fit(store, ...) builds its own labels; do not pass y")
            training = training_set(
                X, cutoffs if cutoffs is not None else self.cutoffs,
                horizon_days=self.horizon_days, active_days=self.active_days,
                clv=self.clv, satisfaction=self.satisfaction,
                max_examples_per_cutoff=self.max_examples_per_cutoff,
                random_state=self.random_state, evaluate_at=evaluate_at,
                data_through=data_through, attributes=self.attributes,
                exclude_attributes=self.exclude_attributes,
            )
            return self._fit_training(training)
        if cutoffs is not None or evaluate_at is not None or data_through is not None:
            raise InputError("cutoffs, evaluate_at and data_through apply to fit(store, ...), "
                             "not to a table")
        if _is_training_set(X):
            if y is not None:
                raise InputError(
                    f"X is a churn.training_set frame: its labels are the {LABEL_COLUMN!r} "
                    "column; call fit(training) without y")
            return self._fit_training(X)
        if y is None:
            if isinstance(X, pd.DataFrame) and {CUTOFF_COLUMN, LABEL_COLUMN} <= set(X.columns):
                raise InputError(
                    f"X has {CUTOFF_COLUMN!r} and {LABEL_COLUMN!r} columns but not the "
                    "description churn.training_set attaches (DataFrame.attrs); build it with "
                    "churn.training_set(store, cutoffs) and fit on that frame")
            raise InputError("fit(X, y) needs the target y (or pass churn.training_set(...))")
        frame = _as_frame(X)
        target = np.asarray(y).ravel()
        if len(target) != len(frame):
            raise InputError(f"X has {len(frame)} rows but y has {len(target)} values")
        if pd.isna(pd.Series(target)).any():
            raise InputError("y has missing values; drop those rows or fill them")
        self.mode_ = "table"
        self.cutoffs_ = []
        self.label_window_end_ = None
        self.channels_ = []
        self.uses_clv_ = False
        self.uses_satisfaction_ = False
        self.attributes_ = {}
        self._learn_schema(frame)
        prepared = self._prepare(frame)
        splitter = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
        self._fit_estimator(prepared, target, splitter)
        self.typical_values_ = typical_values(prepared)
        self.recency_rule_ = None
        self.logistic_ = None
        self.training_summary_ = pd.DataFrame(
            {"n_examples": [len(frame)], "churn_rate": [self._positive_rate(target)]}
        )
        return self

    def _fit_training(self, training: pd.DataFrame) -> ChurnModel:
        """Fit on the stacked examples of :func:`training_set` (time-ordered calibration)."""
        info = training.attrs[TRAINING_SET_ATTRS]
        for name in ("horizon_days", "active_days"):
            if info[name] != getattr(self, name):
                raise InputError(
                    f"the training set was built with {name}={info[name]} but the model has "
                    f"{name}={getattr(self, name)}; build both with the same value")
        for name in ("clv", "satisfaction"):
            if info[name] and not getattr(self, name):
                raise InputError(
                    f"the training set holds {name} features but the model has {name}=False; "
                    f"build it with training_set(..., {name}=False)")
        schema = dict(info.get("attributes", {}))
        if schema and self.attributes is False:
            raise InputError(
                "the training set holds customer attribute features but the model has "
                "attributes=False; build it with training_set(..., attributes=False)")
        dates = [to_date(c, "cutoff") for c in info["cutoffs"]]
        position = {c: k for k, c in enumerate(dates)}
        rows = pd.to_datetime(training[CUTOFF_COLUMN]).dt.date
        group = rows.map(position)
        if group.isna().any():
            unknown = sorted({str(c) for c in rows[group.isna()]})
            raise InputError(f"training rows with cutoffs {unknown} outside the training set's "
                             f"cutoffs {[str(c) for c in dates]}")
        group = group.to_numpy(dtype=int)
        y = training[LABEL_COLUMN].to_numpy()
        if pd.isna(pd.Series(y)).any():
            raise InputError(f"the {LABEL_COLUMN!r} column has missing values")
        X = training.drop(columns=[CUTOFF_COLUMN, LABEL_COLUMN])
        channels = list(info["channels"])
        expected = feature_names(channels=channels, clv=info["clv"],
                                 satisfaction=info["satisfaction"], attributes=schema)
        if list(X.columns) != expected:
            raise InputError(
                f"the training set's feature columns differ from the feature builder's: "
                f"missing {sorted(set(expected) - set(X.columns))}, "
                f"new {sorted(set(X.columns) - set(expected))}; rebuild it with churn.training_set")
        if len(np.unique(y)) < 2:
            raise InputError(f"training labels are all {y[0]}; choose other cutoffs")
        self.mode_ = "store"
        self.cutoffs_ = dates
        self.label_window_end_ = label_window_end(dates[-1], self.horizon_days)
        self.channels_ = channels
        self.uses_clv_ = bool(info["clv"])
        self.uses_satisfaction_ = bool(info["satisfaction"])
        self.attributes_ = schema
        self.training_sample_ = dict(info.get("sample") or {})
        self._learn_schema(X)
        prepared = self._prepare(X)
        self._fit_estimator(prepared, y, self._time_splits(group, y))
        latest = group == group.max()
        self.typical_values_ = typical_values(prepared[latest])
        self.recency_rule_ = baselines.RecencyRule.fit(X["recency_days"].to_numpy(), y)
        self.logistic_ = baselines.fit_logistic(
            prepared, y, [c for c in self.numeric_features_ if c in prepared.columns],
            list(self.categories_), seed=self.random_state or 0,
        )
        summary = []
        for k, cutoff in enumerate(dates):
            labels = y[group == k]
            summary.append((cutoff, len(labels), float(labels.mean()) if len(labels) else np.nan))
        self.training_summary_ = pd.DataFrame(
            summary, columns=["cutoff", "n_examples", "churn_rate"]
        ).set_index("cutoff")
        return self

    def _features(self, store: Any, as_of: Any, btyd_fitted: Any = None) -> FeatureBuild:
        """Features of a store as of a date, with the fitted channels and sources (required)."""
        return _build(
            store, as_of, horizon_days=self.horizon_days, active_days=self.active_days,
            clv=self.uses_clv_, satisfaction=self.uses_satisfaction_, channels=self.channels_,
            require=True, attributes=self.attributes_, btyd_fitted=btyd_fitted,
        )

    # -- estimator ---------------------------------------------------------------------------
    def _boosting(self, categorical: list[str]) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            # Native categorical splits on the integer codes of _estimator_input.
            categorical_features=categorical or None,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _time_splits(self, group: np.ndarray, y: np.ndarray) -> Any:
        n_groups = int(group.max()) + 1
        if n_groups == 1:
            log.info("one training cutoff: calibrating on a stratified 3-fold split")
            return StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
        n_cal = min(self.calibration_cutoffs, n_groups - 1)
        return [
            (np.flatnonzero(group < k), np.flatnonzero(group == k))
            for k in range(n_groups - n_cal, n_groups)
        ]

    def _fit_estimator(self, X: pd.DataFrame, y: np.ndarray, cv: Any) -> None:
        classes = np.unique(y)
        if classes.size != 2:
            raise InputError(f"y must have exactly two classes; found {classes.tolist()}")
        inputs = self._estimator_input(X)
        categorical = [c for c in inputs.columns if c in self.categories_]
        self.estimator_ = CalibratedClassifierCV(
            self._boosting(categorical), method=self.calibration, cv=cv, ensemble=True
        ).fit(inputs, y)
        self.classes_ = self.estimator_.classes_
        self.base_rate_ = self._positive_rate(y)

    @property
    def risk_thresholds_(self) -> tuple[float, float]:
        """(medium, high) thresholds of the risk bands (see ``risk_thresholds``)."""
        self.check_fitted()
        return risk_thresholds_for(self.risk_thresholds, self.base_rate_)

    def _positive_rate(self, y: np.ndarray) -> float:
        positive = np.unique(y)[-1]
        return float(np.mean(np.asarray(y) == positive))

    # -- table preparation -------------------------------------------------------------------
    def _learn_schema(self, X: pd.DataFrame) -> None:
        categories: dict[str, list[str]] = {}
        numeric: list[str] = []
        numeric_text: list[str] = []
        for name in X.columns:
            col = X[name]
            if name in CATEGORICAL_FEATURES or not _is_numeric(col):
                if name not in CATEGORICAL_FEATURES and _is_numeric_text(col):
                    numeric.append(name)
                    numeric_text.append(name)
                    continue
                counts = col.dropna().astype(str).value_counts()
                counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
                categories[name] = sorted(counts.index[:MAX_CATEGORIES].tolist())
            else:
                numeric.append(name)
        if numeric_text:
            log.info("text columns read as numbers (blanks as missing): %s", numeric_text)
        # A numeric column with no value at all carries no signal (and breaks the binning
        # of histogram boosting); it stays in the feature list but the estimator skips it.
        empty = [
            name for name in numeric
            if pd.to_numeric(X[name].astype(object), errors="coerce").isna().all()
        ]
        if empty:
            log.info("features without any value in training, not used: %s", empty)
        self.unused_features_ = empty
        self.categories_ = categories
        self.numeric_features_ = numeric
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in training order; categories fixed to the training ones; numbers as float."""
        missing = [str(c) for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise InputError(f"X lacks feature column(s) {missing} the model was fitted with")
        unused = set(self.unused_features_)
        out = {}
        for name in (str(c) for c in self.feature_names_in_ if c not in unused):
            col = X[name]
            if name in self.categories_:
                dtype = pd.CategoricalDtype(self.categories_[name])
                # Values unseen in training (or too rare to keep) become missing.
                text = col.astype("string")
                text = text.where(text.isin(dtype.categories))
                out[name] = pd.Series(pd.Categorical(text, dtype=dtype), index=X.index)
            else:
                values = col
                if not _is_numeric(values):
                    values = values.astype(object).map(_strip_text, na_action="ignore")
                out[name] = pd.to_numeric(values, errors="coerce").astype("float64")
        return pd.DataFrame(out, index=X.index)

    def _estimator_input(self, prepared: pd.DataFrame) -> pd.DataFrame:
        """Categorical columns as integer codes (NaN = missing), the rest unchanged.

        Passing codes with explicit ``categorical_features`` skips the per-value
        Python encoding that pandas categoricals go through inside the estimator:
        about a third of the prediction time on large populations.
        """
        out = prepared.copy(deep=False)
        for name in self.categories_:
            if name in out.columns:
                codes = out[name].cat.codes.to_numpy(dtype="float64")
                codes[codes < 0] = np.nan
                out[name] = codes
        return out

    def _proba(self, prepared: pd.DataFrame) -> np.ndarray:
        return self.estimator_.predict_proba(self._estimator_input(prepared))[:, 1]

    # -- prediction --------------------------------------------------------------------------
    @limits_threads
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[P(not churned), P(churned)]`` of a feature table (an array).

        ``X`` may be any table holding the model's feature columns (extra
        columns, such as the ``cutoff`` and ``churned`` of a training set, are
        ignored). To score the customers of a store use :func:`score`.
        """
        self.check_fitted()
        return self.estimator_.predict_proba(
            self._estimator_input(self._prepare(_table(X, "predict_proba"))))

    def predict(self, X: Any) -> pd.Series:
        """Predicted class (probability of churn >= 0.5) of each row of a feature table.

        Returns
        -------
        pandas.Series
            Named ``churned``, indexed like ``X`` (a :class:`~pandas.RangeIndex`
            for an array), holding the classes of ``y`` (e.g. 0/1).
        """
        self.check_fitted()
        frame = _table(X, "predict")
        proba = self._proba(self._prepare(frame))
        return pd.Series(self.classes_[(proba >= 0.5).astype(int)], index=frame.index,
                         name=LABEL_COLUMN)

    @limits_threads
    def explain(self, X: pd.DataFrame) -> pd.DataFrame:
        """Top three reasons per row of a feature table (see :mod:`crm_analytics.churn.reasons`)."""
        self.check_fitted()
        frame = _table(X, "explain")
        prepared = self._prepare(frame)
        return self._explain_prepared(prepared, frame, self._proba(prepared))

    def _scorer_proba(self, scorer: str, store: Any, as_of: Any,
                      build: FeatureBuild) -> Any:
        """A function: prepared feature rows -> churn probability of ``scorer``.

        The BG/NBD baseline scores the whole population with the exact BG/NBD
        probability of no purchase; rows changed for the reasons (other
        values of P(alive) and expected purchases) use its Poisson form.
        """
        if scorer == "model":
            return self._proba
        if scorer == "recency_rule":
            rule = self.recency_rule_
            return lambda frame: rule.predict_proba(frame["recency_days"].to_numpy(dtype=float))
        if scorer == "logistic":
            cats = list(self.categories_)
            return lambda frame: self.logistic_.predict_proba(
                baselines.logistic_frame(frame, cats))[:, 1]
        found = self._bgnbd_baseline(store, to_date(as_of), build)
        if found is None:
            raise InputError("score: the BG/NBD baseline is not available at this date")
        exact = pd.Series(found[0], index=build.frame.index)

        def bgnbd(frame: pd.DataFrame) -> np.ndarray:
            if {"btyd_p_alive", "btyd_expected_purchases"} <= set(frame.columns):
                return baselines.bgnbd_churn_probability(
                    frame["btyd_p_alive"].to_numpy(dtype=float),
                    frame["btyd_expected_purchases"].to_numpy(dtype=float))
            return exact.reindex(frame.index).to_numpy()
        bgnbd.exact = exact  # type: ignore[attr-defined]
        return bgnbd

    def _explain_prepared(
        self, prepared: pd.DataFrame, raw: pd.DataFrame, proba: np.ndarray,
        predict: Any = None,
    ) -> pd.DataFrame:
        """Reasons for rows already prepared for the estimator.

        Attributions come from the calibrated member trained on the most recent
        data (the last of the calibration ensemble), at a fraction of the cost
        of the whole ensemble; the scores themselves use the ensemble.
        """
        member = self.estimator_.calibrated_classifiers_[-1]

        def member_proba(frame: pd.DataFrame) -> np.ndarray:
            return member.predict_proba(self._estimator_input(frame))[:, 1]

        if predict is not None:
            member_proba = predict

        return explain(
            member_proba, prepared, raw, proba, self.typical_values_,
            horizon_days=self.horizon_days, high=self.risk_thresholds_[1],
        )

    def _clv_values(self, build: FeatureBuild, index: pd.Index) -> np.ndarray:
        model = build.clv_model
        if model is None or build.rfm is None:
            return np.full(len(index), np.nan)
        try:
            values = model.clv(build.rfm, horizon_days=365, annual_discount_rate=0.1)
        except Exception as exc:  # revenue at risk is optional; the scores stand alone
            log.warning("CLV unavailable for revenue at risk: %s", exc)
            return np.full(len(index), np.nan)
        if isinstance(values, pd.DataFrame):
            values = values["clv"] if "clv" in values else values.iloc[:, 0]
        series = pd.Series(values)
        series.index = series.index.astype(str)
        return series.reindex(index).to_numpy(dtype=float)

    def _require_store_mode(self, call: str) -> None:
        if getattr(self, "mode_", None) != "store":
            raise InputError(
                f"{call} needs a model fitted on a store; this one was fitted "
                "on a plain table (use predict_proba(X))"
            )

    def _check_columns(self, frame: pd.DataFrame) -> None:
        got, want = list(frame.columns), list(self.feature_names_in_)
        if got != want:
            raise InputError(
                f"the feature builder gives {len(got)} columns but the model was fitted on "
                f"{len(want)}; missing {sorted(set(want) - set(got))}, "
                f"new {sorted(set(got) - set(want))}"
            )

    # -- evaluation --------------------------------------------------------------------------
    @limits_threads
    def evaluate(self, store: Any, as_of: Any, *, n_repeats: int = 3,
                 data_through: Any = None, max_examples: int | None = None) -> ChurnEvaluation:
        """Backtest at ``as_of``: model against the baselines on the active customers.

        ``as_of`` must be on or after the end of the last training label window
        (:attr:`label_window_end_`), so no training label overlaps the
        evaluation period. The result holds the permutation importance on this
        evaluation set (``n_repeats`` shuffles per feature). The model is left
        exactly as it was. ``data_through`` is the last day the data are
        complete through (default: the last transaction): the label window of
        ``as_of`` must end on or before it. ``max_examples`` evaluates on at most
        that many active customers: a uniform customer sample cut by a
        stratified draw, as :func:`training_set` samples (recorded in the
        result's ``notes``); the back-test of a nightly run on a large store.

        Returns
        -------
        ChurnEvaluation
        """
        self.check_fitted()
        self._require_store_mode("evaluate(store, as_of)")
        as_of = to_date(as_of)
        if as_of < self.label_window_end_:
            raise InputError(
                f"evaluate at {as_of}: the model's last training label window ends on "
                f"{self.label_window_end_}; evaluate on or after that date (time-based "
                "backtest, no overlap between training labels and the evaluation period)"
            )
        max_examples = _check_int("evaluate", "max_examples", max_examples, 1, allow_none=True)
        source, sample = _training_source(store, as_of, self.active_days, max_examples,
                                          self.random_state)
        try:
            return self._evaluate(source, as_of, n_repeats=n_repeats, data_through=data_through,
                                  max_examples=max_examples, sample=sample)
        finally:
            if source is not store:
                source.close()

    def _evaluate(self, store: Any, as_of: dt.date, *, n_repeats: int, data_through: Any,
                  max_examples: int | None, sample: dict[str, Any]) -> ChurnEvaluation:
        build = self._features(store, as_of)
        self._check_columns(build.frame)
        labels = build_labels(store, as_of, horizon_days=self.horizon_days,
                              active_days=self.active_days, data_through=data_through)
        y = labels.reindex(build.frame.index).to_numpy()
        notes: list[str] = []
        if max_examples is not None and len(y) > max_examples:
            keep = stratified_sample(y, max_examples, seed=(self.random_state or 0,
                                                            as_of.toordinal()))
            build.frame, y = build.frame.iloc[keep], y[keep]
            notes.append(f"evaluated on a stratified sample of {max_examples:,} of the "
                         f"{sample.get('active_at_last_cutoff', len(keep)):,} active customers "
                         f"(uniform customer sample of {sample['customer_fraction']:.2%})")
        if len(np.unique(y)) < 2:
            raise InputError(f"evaluate at {as_of}: every active customer has label {y[0]}")
        prepared = self._prepare(build.frame)
        proba = self._proba(prepared)

        predictions = pd.DataFrame({"churned": y}, index=build.frame.index)
        predictions["model_probability"] = proba
        predictions["model_score"] = proba
        rule = self.recency_rule_
        recency = build.frame["recency_days"].to_numpy(dtype=float)
        predictions["recency_rule_probability"] = rule.predict_proba(recency)
        predictions["recency_rule_score"] = recency
        notes.append(
            f"recency rule: no purchase in {rule.threshold_days:.0f}+ days (N chosen on training "
            f"data; churn rate {rule.rate_flagged:.1%} flagged / {rule.rate_other:.1%} other)"
        )
        logit = self.logistic_.predict_proba(
            baselines.logistic_frame(prepared, list(self.categories_))
        )[:, 1]
        predictions["logistic_probability"] = logit
        predictions["logistic_score"] = logit
        bgnbd = self._bgnbd_baseline(store, as_of, build)
        if bgnbd is None:
            notes.append("BG/NBD baseline left out: crm_analytics.clv is not available or its "
                         "fit failed at this cutoff")
        else:
            predictions["bgnbd_probability"], predictions["bgnbd_score"], note = bgnbd
            notes.append(note)

        names = [c[: -len("_probability")] for c in predictions if c.endswith("_probability")]
        metrics = pd.DataFrame(
            {
                name: classification_metrics(
                    y, predictions[f"{name}_probability"].to_numpy(),
                    predictions[f"{name}_score"].to_numpy(),
                )
                for name in names
            }
        ).T
        calibration = {
            name: calibration_table(y, predictions[f"{name}_probability"].to_numpy())
            for name in names
        }
        importance = self._permutation_importance(prepared, y, n_repeats)
        result = ChurnEvaluation(
            as_of=as_of,
            horizon_days=self.horizon_days,
            training_cutoffs=list(self.cutoffs_),
            n_customers=len(y),
            base_rate=float(np.mean(y)),
            metrics=metrics,
            calibration=calibration,
            grade=grade(metrics),
            predictions=predictions,
            feature_importance=importance,
            notes=notes,
        )
        log.info("%r", result)
        return result

    def _bgnbd_baseline(
        self, store: Any, as_of: dt.date, build: FeatureBuild
    ) -> tuple[np.ndarray, np.ndarray, str] | None:
        """(probability, score, note) of the BG/NBD baseline fitted as of ``as_of``."""
        index = build.frame.index
        if build.uses_clv and build.clv_model is not None:
            values, model, rfm = build.frame[["btyd_p_alive", "btyd_expected_purchases"]], \
                build.clv_model, build.rfm
        else:
            found = _btyd_features(store, as_of, self.horizon_days, index, require=False)
            if found is None or found[1] is None:
                return None
            values, model, rfm = found
        alive = values["btyd_p_alive"].to_numpy(dtype=float)
        expected = values["btyd_expected_purchases"].to_numpy(dtype=float)
        params = getattr(model, "params_", None)
        units = DAYS_PER_UNIT
        days_per_unit = units.get(getattr(model, "time_unit", "W"))
        if params is not None and {"r", "alpha"} <= set(params.index) and days_per_unit:
            history = rfm.reindex(index)
            proba = baselines.bgnbd_churn_probability_exact(
                alive, history["frequency"], history["T"], r=float(params["r"]),
                alpha=float(params["alpha"]), horizon=self.horizon_days / days_per_unit,
            )
            how = "exact BG/NBD probability of no purchase"
        else:
            proba = baselines.bgnbd_churn_probability(alive, expected)
            how = "Poisson approximation of the probability of no purchase"
        # Customers the CLV module could not score get the population's mean.
        proba = np.where(np.isnan(proba), np.nanmean(proba), proba)
        score = -np.where(np.isnan(expected), np.nanmean(expected), expected)
        note = (f"BG/NBD fitted on the history up to {as_of}: ranked by expected purchases in "
                f"{self.horizon_days} days; Brier/log loss from the {how}")
        return proba, score, note

    def _permutation_importance(
        self, prepared: pd.DataFrame, y: np.ndarray, n_repeats: int
    ) -> pd.DataFrame:
        # A sample keeps the cost bounded on big stores; the ranking is stable well before.
        max_samples = min(1.0, IMPORTANCE_SAMPLE / max(len(y), 1))
        result = permutation_importance(
            self.estimator_, self._estimator_input(prepared), y, scoring="roc_auc",
            n_repeats=n_repeats,
            random_state=self.random_state, max_samples=max_samples,
        )
        table = pd.DataFrame(
            {"importance_mean": result.importances_mean, "importance_std": result.importances_std},
            index=pd.Index(prepared.columns, name="feature"),
        )
        return table.sort_values("importance_mean", ascending=False)

    # -- summary and persistence ---------------------------------------------------------------
    def summary(self) -> Summary:
        """What the model was fitted on: examples, churn rate, cutoffs, features, back-test."""
        self.check_fitted()
        store_mode = self.mode_ == "store"
        n_examples = int(self.training_summary_["n_examples"].sum())
        facts = [
            ("fitted on", "a store (stacked cutoffs)" if store_mode else "a feature table"),
            ("training examples", f"{n_examples:,}"),
            ("training churn rate", f"{self.base_rate_:.1%}"),
            ("features", f"{len(self.feature_names_in_)} "
                         f"({len(self.categories_)} categorical)"),
            ("calibration", self.calibration),
        ]
        if store_mode:
            cutoffs = self.cutoffs_
            facts += [
                ("horizon", f"{self.horizon_days} days"),
                ("training cutoffs", f"{cutoffs[0]} .. {cutoffs[-1]} ({len(cutoffs)})"),
                ("evaluate on or after", str(self.label_window_end_)),
                ("feature sources", ", ".join(
                    ["purchases"] + ["BG/NBD"] * self.uses_clv_
                    + ["service & satisfaction"] * self.uses_satisfaction_
                    + [f"customer attributes ({', '.join(self.attributes_)})"]
                    * bool(self.attributes_))),
            ]
        extra = []
        metrics = getattr(self, "metrics_", None)
        if isinstance(metrics, pd.DataFrame):
            extra.append(("Back-test metrics", metrics))
        notes = []
        if self.unused_features_:
            notes.append(f"features without any value in training, not used: "
                         f"{', '.join(self.unused_features_)}")
        return Summary("Churn model", facts, self.training_summary_.copy(), notes, extra)

    def save(self, path: str | os.PathLike) -> Path:
        """Save to ``path`` (skops format: no code runs on load); returns the path. See :meth:`load`."""
        self.check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChurnModel:
        """Load a model saved by :meth:`save`; a mismatched or damaged file raises ModelFileError."""
        return load_model(path, cls)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise InputError(f"X must be a 2-d table; got an array of shape {array.shape}")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def _is_numeric(col: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(col)
        and not pd.api.types.is_bool_dtype(col)
        and not isinstance(col.dtype, pd.CategoricalDtype)
    )


def _strip_text(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return np.nan if value == "" else value
    return value


def _is_numeric_text(col: pd.Series) -> bool:
    """True for a text column whose non-blank values are all numbers (e.g. '29.85', ' ')."""
    if isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(col):
        return False
    values = col.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return False
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


@limits_threads
def score(model: ChurnModel, store: Any, as_of: Any, *, reasons: bool = True,
          scorer: str = "model", batch_size: int | None = None) -> pd.DataFrame:
    """Churn scores of the customers of ``store`` active at ``as_of``.

    Parameters
    ----------
    model : ChurnModel
        Fitted on a store (``fit(training)`` or ``fit(store, cutoffs=...)``).
    store : crm_analytics.Store
    as_of : date-like
        Scoring day; features use data up to that day.
    reasons : bool, default True
        Add ``reason_1..3``. The costliest part on large populations: one
        pass of the model per relevant feature group (see
        :mod:`crm_analytics.churn.reasons`).
    scorer : {'model', 'recency_rule', 'logistic', 'bgnbd'}, default 'model'
        Score with the model or with one of the baselines fitted with it (a
        run does so when its back-test shows that baseline is as good:
        :func:`crm_analytics.scoring.models.choose_scorer`). Reasons then
        explain that scorer's probability.
    batch_size : int, optional
        Customers scored at a time (default :data:`SCORE_BATCH`). A larger
        active population is scored in disjoint hash parts of the customers,
        each copied with its rows into memory
        (:func:`crm_analytics.store.sampling.customer_part`), so memory follows
        the batch, not the store; the BG/NBD model behind the BTYD features
        and the CLV is still fitted once on every customer, so the
        probabilities equal the unbatched ones. (Reasons screen their feature
        groups per batch; see :mod:`crm_analytics.churn.reasons`.)

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: ``churn_probability``, ``risk_band``
        (see the model's ``risk_thresholds``), ``clv`` and ``revenue_at_risk``
        (``churn_probability * clv``, the CLV over 365 days at a 10 % annual
        discount rate from :mod:`crm_analytics.clv`; NaN when that module is
        not available), ``revenue_at_risk_basis`` ('clv_365d' or
        'unavailable') and, with ``reasons``, ``reason_1..3``.
    """
    if not isinstance(model, ChurnModel):
        raise InputError(f"score(model, store, as_of) takes a ChurnModel; got {type(model).__name__}")
    model.check_fitted()
    if not _is_store(store):
        raise InputError("score(model, store, as_of) scores the customers of a store; for a "
                         "feature table use model.predict_proba(X)")
    model._require_store_mode("churn.score(model, store, as_of)")
    if as_of is None:
        raise InputError("score(model, store, as_of) needs the scoring date as_of")
    if scorer not in SCORERS:
        raise InputError(f"score: scorer must be one of {', '.join(SCORERS)}; got {scorer!r}")
    if batch_size is not None:
        batch_size = _check_int("score", "batch_size", batch_size, 1)
    size = SCORE_BATCH if batch_size is None else batch_size
    day = to_date(as_of)
    params = {"active_from": active_from(day, model.active_days), "cutoff": as_of_cutoff(day)}
    n_active = int(store.sql(load_query("churn/sql/active_count.sql"), params)["n_active"].iloc[0])
    parts = -(-n_active // size)
    if parts <= 1 or (scorer == "bgnbd" and not model.uses_clv_):
        return score_part(model, store, day, reasons=reasons, scorer=scorer)
    # Customer batches: each a disjoint hash part of the customers copied into memory
    # with all its rows, scored by the unchanged feature code; the BG/NBD model behind
    # the BTYD features and the CLV is fitted once on every customer, as unbatched.
    fitted = clv_all = None
    if model.uses_clv_:
        fitted = _btyd_features(store, day, model.horizon_days, None, require=True)
        if fitted is not None:
            clv_all = pd.Series(model._clv_values(SimpleNamespace(clv_model=fitted[1],
                                                                  rfm=fitted[2]),
                                                  fitted[2].index), index=fitted[2].index)
    log.info("scoring %d active customers in %d batches of about %d", n_active, parts, size)
    frames = []
    for part in range(parts):
        with customer_part(store, part, parts, seed=model.random_state or 0) as sub:
            frames.append(score_part(model, sub, day, reasons=reasons, scorer=scorer, btyd=fitted,
                                     clv=clv_all))
    return pd.concat(frames).sort_index()


def btyd_inputs(model: ChurnModel, bgnbd: Any, summary: pd.DataFrame) -> tuple[Any, pd.Series]:
    """The BTYD features and the CLV of the customers of ``summary``, from a shared BG/NBD model.

    What :func:`score` computes once for every customer before scoring a large store
    in hash parts -- here from a BG/NBD model fitted elsewhere on every customer (the
    Spark run fits it on the driver) and the BTYD summary of some of them.

    Returns
    -------
    (btyd, clv)
        ``btyd`` for :func:`score_part` and ``clv`` (365 days, 10 % a year), both for
        the customers of ``summary``.
    """
    values = pd.DataFrame(np.nan, index=summary.index, columns=list(BTYD_FEATURES))
    values["btyd_p_alive"] = np.asarray(bgnbd.probability_alive(summary), dtype=float)
    values["btyd_expected_purchases"] = np.asarray(
        bgnbd.expected_purchases(summary, horizon_days=model.horizon_days), dtype=float)
    clv = pd.Series(model._clv_values(SimpleNamespace(clv_model=bgnbd, rfm=summary), summary.index),
                    index=summary.index)
    return (values, bgnbd, summary), clv


def score_part(model: ChurnModel, store: Any, as_of: dt.date, *, reasons: bool = True,
               scorer: str = "model", btyd: Any = None, clv: pd.Series | None = None) -> pd.DataFrame:
    """:func:`score` on one store: a whole store, or one hash part of a larger one.

    A part is scored as part of the whole when ``btyd`` and ``clv`` come from a BG/NBD
    model fitted on every customer (:func:`btyd_inputs`); without them the part's own
    customers fit it. Used by :func:`score` and by the Spark run's per-partition task.
    """
    btyd_fitted, clv_all = btyd, clv
    build = model._features(store, as_of, btyd_fitted)
    model._check_columns(build.frame)
    prepared = model._prepare(build.frame)
    predict = model._scorer_proba(scorer, store, as_of, build)
    exact = getattr(predict, "exact", None)
    proba = exact.to_numpy() if exact is not None else predict(prepared)
    out = pd.DataFrame({"churn_probability": proba}, index=build.frame.index)
    low, high = model.risk_thresholds_
    band = np.where(proba >= high, "high", np.where(proba >= low, "medium", "low"))
    out["risk_band"] = pd.Categorical(band, categories=list(RISK_BANDS), ordered=True)
    if clv_all is not None:
        clv = clv_all.reindex(out.index).to_numpy(dtype=float)
    else:
        clv = model._clv_values(build, out.index)
    out["clv"] = clv
    out["revenue_at_risk"] = proba * clv
    out["revenue_at_risk_basis"] = "clv_365d" if np.isfinite(clv).any() else "unavailable"
    if reasons:
        why = model._explain_prepared(prepared, build.frame, proba,
                                      None if scorer == "model" else predict)
        out = out.join(why[["reason_1", "reason_2", "reason_3"]])
    return out


def risk_thresholds_for(setting: Any, base_rate: float) -> tuple[float, float]:
    """(medium, high) risk thresholds: a fixed pair, or 'auto' from the churn base rate.

    'auto': medium from the base rate ``b``, high from ``(1 + b) / 2``.

    Examples
    --------
    >>> risk_thresholds_for("auto", 0.2)
    (0.2, 0.6)
    >>> risk_thresholds_for((0.2, 0.5), 0.9)
    (0.2, 0.5)
    """
    if isinstance(setting, str):
        b = float(np.clip(base_rate if np.isfinite(base_rate) else 0.5, 0.01, 0.98))
        return round(b, 4), round((1.0 + b) / 2.0, 4)
    low, high = setting
    return float(low), float(high)


#: What :func:`score` can score with: the model or one of its baselines.
SCORERS = ("model", "recency_rule", "logistic", "bgnbd")


def _is_training_set(X: Any) -> bool:
    return isinstance(X, pd.DataFrame) and isinstance(X.attrs.get(TRAINING_SET_ATTRS), dict)


def _table(X: Any, what: str) -> pd.DataFrame:
    if _is_store(X):
        raise InputError(f"{what} takes a feature table; score the customers of a store with "
                         "churn.score(model, store, as_of)")
    return _as_frame(X)
