"""Churn prediction: point-in-time features, time-based backtests, calibrated risk with reasons.

* :func:`build_labels` — churned = no purchase in ``(as_of, as_of + horizon_days]``
  for customers active at ``as_of`` (a purchase in the ``active_days`` before).
* :func:`build_features` — one row per active customer as of a date, in SQL:
  purchase behaviour, service and satisfaction, firmographics, BG/NBD outputs.
* :class:`ChurnModel` — calibrated histogram gradient boosting:
  ``fit(store, cutoffs=...)`` or ``fit(X, y)``, ``evaluate(store, as_of)``
  (a :class:`ChurnEvaluation` against the baselines, graded A/B/C),
  ``predict(store, as_of)`` (probability, risk band, revenue at risk, three
  reasons), ``save`` / ``load``.
* :func:`training_cutoffs` — monthly cutoffs whose label windows end by a date.

>>> from crm_analytics import churn
>>> churn.ChurnModel().horizon_days
90
"""

from crm_analytics.churn.baselines import RecencyRule
from crm_analytics.churn.evaluation import GRADE_RULE, ChurnEvaluation, EvaluationSummary
from crm_analytics.churn.features import build_features, feature_names, top_channels
from crm_analytics.churn.labels import build_labels
from crm_analytics.churn.model import RISK_BANDS, ChurnModel, training_cutoffs
from crm_analytics.churn.reasons import REASON_GROUPS

__all__ = [
    "GRADE_RULE",
    "REASON_GROUPS",
    "RISK_BANDS",
    "ChurnEvaluation",
    "ChurnModel",
    "EvaluationSummary",
    "RecencyRule",
    "build_features",
    "build_labels",
    "feature_names",
    "top_channels",
    "training_cutoffs",
]
