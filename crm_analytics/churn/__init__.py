"""Churn prediction: point-in-time features, time-based backtests, calibrated risk with reasons.

* :func:`build_labels` — churned = no purchase in ``(as_of, as_of + horizon_days]``
  for customers active at ``as_of`` (a purchase in the ``active_days`` before).
* :func:`build_features` — one row per active customer as of a date, in SQL:
  purchase behaviour, service and satisfaction, firmographics, BG/NBD outputs.
* :func:`training_set` — point-in-time features and labels stacked over
  training cutoffs (plus a ``cutoff`` column), the table a store model fits on.
* :class:`ChurnModel` — calibrated histogram gradient boosting:
  ``fit(training)``, ``fit(store, cutoffs=...)`` (the same in one call) or
  ``fit(X, y)``; ``evaluate(store, as_of)`` (a :class:`ChurnEvaluation`
  against the baselines, graded A/B/C; the model is left unchanged);
  ``predict(X)`` / ``predict_proba(X)`` on feature tables; ``save`` / ``load``.
* :func:`score` — ``score(model, store, as_of)``: probability, risk band,
  revenue at risk and three reasons per active customer.
* :func:`training_cutoffs` — monthly cutoffs whose label windows end by a date;
  :func:`select_cutoffs` — some cutoffs of a training set (two fits sharing one build).

>>> from crm_analytics import churn
>>> churn.ChurnModel().horizon_days
90
"""

from crm_analytics.churn.baselines import RecencyRule
from crm_analytics.churn.evaluation import GRADE_RULE, ChurnEvaluation
from crm_analytics.churn.features import build_features, feature_names, top_channels
from crm_analytics.churn.labels import build_labels
from crm_analytics.churn.model import (
    RISK_BANDS,
    ChurnModel,
    score,
    select_cutoffs,
    stratified_sample,
    training_cutoffs,
    training_set,
)
from crm_analytics.churn.reasons import REASON_GROUPS

__all__ = [
    "GRADE_RULE",
    "REASON_GROUPS",
    "RISK_BANDS",
    "ChurnEvaluation",
    "ChurnModel",
    "RecencyRule",
    "build_features",
    "build_labels",
    "feature_names",
    "score",
    "select_cutoffs",
    "stratified_sample",
    "top_channels",
    "training_cutoffs",
    "training_set",
]
