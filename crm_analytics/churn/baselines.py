"""The baselines a churn model must beat: a recency rule, logistic regression, BG/NBD.

* **Recency rule** — "churned if no purchase in N days". ``N`` is chosen on the
  training examples (the split of ``recency_days`` that best separates churners,
  i.e. the smallest Brier score of the two-group rule). For ranking metrics the
  score is ``recency_days`` itself (longer silence = higher risk); for
  probability metrics each side of the rule gets its training churn rate.
* **Logistic regression** on the same features and training examples
  (numeric: median-imputed with missing indicators and standardised;
  categorical: one-hot).
* **BG/NBD** — the purchase model of :mod:`crm_analytics.clv`, fitted on the
  evaluation cutoff's history only (no labels involved): customers are ranked
  by expected purchases in the horizon (fewer = higher risk); the probability
  for Brier and log loss is the BG/NBD probability of no purchase in the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = [
    "RecencyRule",
    "bgnbd_churn_probability",
    "bgnbd_churn_probability_exact",
    "fit_logistic",
    "logistic_frame",
]

_MISSING = "(missing)"


@dataclass(frozen=True)
class RecencyRule:
    """"Churned if no purchase for ``threshold_days``", with training churn rates per side.

    Examples
    --------
    >>> rule = RecencyRule.fit(np.array([5, 10, 100, 200]), np.array([0, 0, 1, 1]))
    >>> rule.threshold_days, rule.rate_flagged, rule.rate_other
    (100.0, 1.0, 0.0)
    >>> rule.predict_proba(np.array([3.0, 150.0])).tolist()
    [0.0, 1.0]
    """

    threshold_days: float
    rate_flagged: float
    rate_other: float

    @classmethod
    def fit(cls, recency_days: np.ndarray, churned: np.ndarray) -> RecencyRule:
        """Choose the threshold with the smallest training Brier score of the two-group rule."""
        rec = np.asarray(recency_days, dtype=float)
        y = np.asarray(churned, dtype=float)
        keep = ~np.isnan(rec)
        rec, y = rec[keep], y[keep]
        order = np.argsort(rec, kind="stable")
        rec, y = rec[order], y[order]
        n = y.size
        # Candidate thresholds: each distinct value; "flagged" = recency >= value.
        starts = np.flatnonzero(np.r_[True, rec[1:] != rec[:-1]])
        below_n = starts.astype(float)
        below_pos = np.r_[0.0, np.cumsum(y)][starts]
        above_n = n - below_n
        above_pos = y.sum() - below_pos
        with np.errstate(divide="ignore", invalid="ignore"):
            p_below = np.where(below_n > 0, below_pos / below_n, 0.0)
            p_above = np.where(above_n > 0, above_pos / above_n, 0.0)
        # Brier score of a group rule = within-group variance of y.
        brier = below_n * p_below * (1 - p_below) + above_n * p_above * (1 - p_above)
        best = int(np.argmin(brier))
        return cls(float(rec[starts[best]]), float(p_above[best]), float(p_below[best]))

    def predict_proba(self, recency_days: np.ndarray) -> np.ndarray:
        """Training churn rate of the side of the rule each customer falls on."""
        rec = np.asarray(recency_days, dtype=float)
        return np.where(rec >= self.threshold_days, self.rate_flagged, self.rate_other)

    def to_dict(self) -> dict[str, float]:
        return {
            "threshold_days": self.threshold_days,
            "rate_flagged": self.rate_flagged,
            "rate_other": self.rate_other,
        }


def logistic_frame(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categorical columns as plain strings with an explicit missing level (for one-hot)."""
    out = X.copy()
    for name in categorical:
        out[name] = out[name].astype(object).where(out[name].notna(), _MISSING).astype(str)
    return out


#: Rows the logistic baseline is fitted on, at most (a seeded stratified draw beyond):
#: a linear model with a few dozen coefficients is as good from 100,000 examples as
#: from a million, and lbfgs on 300,000 took 10 s of a 100,000-customer nightly run.
LOGISTIC_MAX_ROWS = 100_000


def fit_logistic(
    X: pd.DataFrame, y: np.ndarray, numeric: list[str], categorical: list[str],
    *, max_rows: int = LOGISTIC_MAX_ROWS, seed: int = 0,
) -> Pipeline:
    """Standardised logistic regression on the model's features (the linear baseline).

    Fitted on all rows up to ``max_rows``, else on a seeded draw of ``max_rows``
    that keeps each class's share.
    """
    y = np.asarray(y)
    if len(y) > max_rows:
        rng = np.random.default_rng(seed)
        keep = np.concatenate([
            rng.choice(np.flatnonzero(y == v), size=round(max_rows * float(np.mean(y == v))),
                       replace=False)
            for v in np.unique(y)
        ])
        keep.sort()
        X, y = X.iloc[keep], y[keep]
    numeric_part = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    columns = ColumnTransformer(
        [
            ("numeric", numeric_part, numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    pipe = Pipeline([("columns", columns), ("logistic", LogisticRegression(max_iter=2000))])
    return pipe.fit(logistic_frame(X, categorical), y)


def bgnbd_churn_probability(p_alive: Any, expected_purchases: Any) -> np.ndarray:
    """P(no purchase in the horizon) from BG/NBD P(alive) and expected purchases.

    Given alive, purchases in the horizon are taken as Poisson with mean
    ``expected_purchases / p_alive`` (the BG/NBD conditional expectation of an
    alive customer), so ``P(churn) = 1 - P(alive) * (1 - exp(-E / P(alive)))``.
    The Poisson step ignores the Gamma spread of the purchase rate; the
    ranking is the model's and the probability is close to the exact one.

    Examples
    --------
    >>> bgnbd_churn_probability([1.0, 0.0], [0.0, 0.0]).tolist()
    [1.0, 1.0]
    >>> round(float(bgnbd_churn_probability([0.5], [1.0])[0]), 4)
    0.5677
    """
    alive = np.clip(np.asarray(p_alive, dtype=float), 1e-12, 1.0)
    expected = np.clip(np.asarray(expected_purchases, dtype=float), 0.0, None)
    return 1.0 - alive * (1.0 - np.exp(-expected / alive))


def bgnbd_churn_probability_exact(
    p_alive: Any, frequency: Any, T: Any, *, r: float, alpha: float, horizon: float
) -> np.ndarray:
    """BG/NBD probability of no purchase in the next ``horizon`` time units.

    Alive with probability ``P(alive)``; given alive, the purchase rate is
    Gamma(r + x, alpha + T) a posteriori (Fader, Hardie & Lee 2005), so the
    chance of no purchase in ``t`` is ``((alpha + T) / (alpha + T + t)) ** (r + x)``::

        P(churn) = 1 - P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))

    ``T`` and ``horizon`` are in the model's time unit.

    Examples
    --------
    >>> bgnbd_churn_probability_exact([1.0], [0.0], [10.0], r=1.0, alpha=10.0, horizon=20.0).round(3)
    array([0.5])
    """
    alive = np.clip(np.asarray(p_alive, dtype=float), 0.0, 1.0)
    x = np.asarray(frequency, dtype=float)
    big_t = np.asarray(T, dtype=float)
    quiet = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + horizon)))
    return 1.0 - alive * (1.0 - quiet)
