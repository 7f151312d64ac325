"""The shifted-beta-geometric (sBG) model of contractual retention, and its CLV.

Fader & Hardie (2007), "How to project customer retention", *Journal of
Interactive Marketing* 21(1), 76-90: at the end of each period a subscriber
renews with probability ``1 - theta``, and ``theta`` varies across subscribers
as ``Beta(alpha, beta)``. With ``T`` the period in which a subscriber cancels
(``T = 1, 2, ...``):

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``  (their eq. 5),
* ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``   (eq. 6),
* retention rate ``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``
  (eq. 8): it rises with ``t`` because the subscribers most likely to leave leave first.

Value (Fader & Hardie 2010, "Customer-base valuation in a contractual setting:
the perils of ignoring heterogeneity", *Marketing Science* 29(1), 85-93), with
``d`` the discount rate per period and ``2F1`` Gauss's hypergeometric function:

* expected discounted lifetime of a new subscriber (payments at ``t = 0, 1, ...``)
  ``DEL(d) = sum_t S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1 / (1 + d))``;
* expected discounted residual lifetime of a subscriber who has made ``n - 1``
  renewals, valued just before the next renewal
  ``DERL(d | n - 1) = (beta + n - 1) / (alpha + beta + n - 1)
  * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))``
  (their eq. 6); times the amount per period it is the subscriber's residual value.

No maintained Python library fits the sBG (lifetimes has no contractual models),
so the likelihood and the formulas are written here; the tests check them against
Fader & Hardie's published fits and against direct sums.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from crm_analytics.core.estimator import Estimator
from crm_analytics.core.params import check_number
from crm_analytics.core.summary import Summary
from crm_analytics.errors import ConvergenceWarning, InputError

__all__ = ["ShiftedBetaGeometric", "survivors_to_lifetimes"]


def survivors_to_lifetimes(survivors: Any) -> pd.DataFrame:
    """Aggregate lifetimes from a survivor curve (one cohort followed from period 0).

    ``survivors[t]`` subscribers are still active after ``t`` periods; those lost
    in period ``t`` cancelled with ``T = t``; the last count is still active
    (``T > n``). Returns ``duration``, ``event`` and ``weight`` (the count).

    Examples
    --------
    >>> survivors_to_lifetimes([1000, 631, 468])
       duration  event  weight
    0         1   True   369.0
    1         2   True   163.0
    2         2  False   468.0
    """
    s = np.asarray(survivors, dtype=float)
    if s.ndim != 1 or len(s) < 2 or not np.isfinite(s).all() or (s < 0).any():
        raise InputError("survivors must be at least two finite counts >= 0 (period 0 first); "
                         f"got {survivors!r}")
    lost = s[:-1] - s[1:]
    if (lost < 0).any():
        raise InputError("survivors must not increase: a period lost a negative number of subscribers "
                         f"(period {int(np.argmax(lost < 0)) + 1})")
    n = len(s) - 1
    return pd.DataFrame({
        "duration": np.r_[np.arange(1, n + 1), n],
        "event": np.r_[np.ones(n, dtype=bool), False],
        "weight": np.r_[lost, s[-1]],
    })


def _aggregate(data: Any, duration: str, event: str, weight: str | None) -> tuple[pd.DataFrame, int]:
    """(duration, event, weight) summed per distinct pair; the number of instant cancellations dropped."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"ShiftedBetaGeometric.fit: data must be a DataFrame; got {type(data).__name__}")
    cols = [duration, event] + ([weight] if weight else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"ShiftedBetaGeometric.fit: required column(s) {missing} missing; found "
                         f"{list(data.columns)}")
    d = pd.to_numeric(data[duration], errors="coerce")
    bad = d.isna() | (d < 0) | (d != np.floor(d))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"ShiftedBetaGeometric.fit: column {duration} row {row}: "
                         f"{data[duration].iloc[row]!r} is not a whole number of periods >= 0")
    e = data[event]
    if e.isna().any() or not set(pd.unique(e.astype(object))) <= {True, False}:
        raise InputError(f"ShiftedBetaGeometric.fit: column {event} must be True/False (1/0) for every "
                         "row (True: cancelled)")
    w = pd.to_numeric(data[weight], errors="coerce") if weight else pd.Series(1.0, index=data.index)
    if w.isna().any() or (w < 0).any():
        raise InputError(f"ShiftedBetaGeometric.fit: column {weight} must hold counts >= 0")
    frame = pd.DataFrame({"duration": d.astype(np.int64), "event": e.astype(bool), "weight": w.astype(float)})
    instant = frame["event"] & (frame["duration"] == 0)
    dropped = int(frame.loc[instant, "weight"].sum())
    frame = frame[~instant & (frame["weight"] > 0)]
    return frame.groupby(["duration", "event"], as_index=False)["weight"].sum(), dropped


def _hyp2f1_series(b: np.ndarray, c: np.ndarray, z: float) -> np.ndarray:
    """``2F1(1, b; c; z) = sum_k (b)_k / (c)_k z^k`` summed term by term (0 <= z < 1, 0 < b < c).

    Each term is the previous one times ``(b + k) / (c + k) z < z``, so the sum stops
    once a term falls below 1e-17 of the total (at most a few thousand terms for
    ``z = 1 / 1.01``).
    """
    flat_b = np.atleast_1d(np.asarray(b, dtype=float)).ravel()
    flat_c = np.atleast_1d(np.asarray(c, dtype=float)).ravel()
    total = np.ones_like(flat_b)
    term = np.ones_like(flat_b)
    k = 0
    while k < 1_000_000:
        term = term * (flat_b + k) / (flat_c + k) * z
        total = total + term
        k += 1
        if np.all(term <= 1e-17 * total):
            break
    return total.reshape(np.shape(b))


def _log_likelihood(log_params: np.ndarray, d: np.ndarray, e: np.ndarray, w: np.ndarray) -> float:
    a, b = np.exp(log_params)
    base = special.betaln(a, b)
    churned = special.betaln(a + 1, b + d - 1) - base  # log P(T = d)
    alive = special.betaln(a, b + d) - base  # log S(d)
    return float(np.sum(w * np.where(e, churned, alive)))


class ShiftedBetaGeometric(Estimator):
    """The sBG retention model: fit on lifetimes in periods, project survival, value subscribers.

    Parameters
    ----------
    conf_level : float, default 0.95
        Level of the intervals of ``params_`` (Wald intervals on the log scale:
        always positive).

    Attributes
    ----------
    alpha_, beta_ : float
        The fitted Beta(alpha, beta) of the per-period cancellation probability.
    params_ : DataFrame
        ``estimate, std_error, ci_lower, ci_upper`` for ``alpha``, ``beta`` and
        ``mean_churn`` (``alpha / (alpha + beta)``: the first period's churn rate).
    log_likelihood_ : float
    n_subscriptions_, n_cancelled_ : float
        Subscriptions (weights) fitted on and how many of them cancelled.

    Examples
    --------
    Fader & Hardie (2007)'s "regular" customers, years 1-7:

    >>> model = ShiftedBetaGeometric().fit(
    ...     survivors_to_lifetimes([1000, 631, 468, 382, 326, 289, 262, 241]), weight="weight")
    >>> round(model.alpha_, 3), round(model.beta_, 3), round(model.log_likelihood_, 1)
    (0.704, 1.182, -1680.3)
    >>> (model.survival([8, 12]) * 1000).round(1).tolist()
    [220.1, 170.0]
    """

    _fitted_attribute = "alpha_"

    def __init__(self, conf_level: float = 0.95):
        self.conf_level = conf_level

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, *, duration: str = "duration", event: str = "event",
            weight: str | None = None) -> ShiftedBetaGeometric:
        """Maximum-likelihood fit on lifetimes (an ended one: ``T = duration``; active: ``T > duration``).

        ``data`` is the table of :func:`~crm_analytics.subscriptions.subscription_lifetimes`
        (or any table with a whole-period ``duration`` and a cancelled flag ``event``);
        ``weight`` names a column of counts for aggregated data. A subscription
        cancelled in period 0 (``duration == 0``: ended the day it started) has no
        place in the model (``T >= 1``) and is left out with a note.

        Raises
        ------
        InputError
            Bad columns or values; no cancellation at all; or no subscription
            observed beyond its first period (alpha and beta are then not
            separately identifiable: wait for older cohorts).
        """
        check_number("ShiftedBetaGeometric", "conf_level", self.conf_level, low=0, high=1,
                     low_open=True, high_open=True)
        agg, dropped = _aggregate(data, duration, event, weight)
        d = agg["duration"].to_numpy(np.float64)
        e = agg["event"].to_numpy(bool)
        w = agg["weight"].to_numpy(np.float64)
        if not (w[e] > 0).any():
            raise InputError("ShiftedBetaGeometric.fit: no cancellations in the data; the model needs "
                             "subscriptions that ended (event=True) to estimate churn")
        if d.max(initial=0) < 2:
            raise InputError("ShiftedBetaGeometric.fit: no subscription is observed beyond its first "
                             "period, so alpha and beta cannot be told apart; wait for older cohorts "
                             "or use a shorter period")
        notes = []
        if dropped:
            notes.append(f"{dropped} subscription(s) ended in the period they started (duration 0); "
                         "left out (the model starts at T = 1)")
        fun = lambda p: -_log_likelihood(p, d, e, w)  # noqa: E731
        best = None
        # The log-likelihood is smooth in (log alpha, log beta): BFGS from a coarse Nelder-Mead
        # start; other starts only when that does not converge.
        for start in ((0.0, 0.0), (-1.0, 1.0), (1.0, 3.0)):
            res = optimize.minimize(fun, np.array(start), method="Nelder-Mead",
                                    options={"xatol": 1e-3, "fatol": 1e-6, "maxiter": 2000})
            res = optimize.minimize(fun, res.x, method="BFGS", options={"gtol": 1e-8})
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
            if best is not None and best.success:
                break
        if best is None:
            raise InputError("ShiftedBetaGeometric.fit: the likelihood could not be evaluated on these "
                             "data (check the durations and events)")
        log_a, log_b = best.x
        if max(abs(log_a), abs(log_b)) > 15:
            warnings.warn(
                "ShiftedBetaGeometric: the fit drifted to an extreme (alpha or beta beyond e^15): "
                "churn looks the same for every subscriber; the estimates are unreliable",
                ConvergenceWarning, stacklevel=2)
            notes.append("alpha/beta at an extreme: no heterogeneity detected")
        cov = self._covariance(fun, best.x)
        self.alpha_, self.beta_ = float(np.exp(log_a)), float(np.exp(log_b))
        self.log_likelihood_ = float(-best.fun)
        self.covariance_log_ = cov
        self.n_subscriptions_ = float(w.sum())
        self.n_cancelled_ = float(w[e].sum())
        self.max_duration_ = int(d.max())
        self.fit_notes_ = notes
        self.params_ = self._params_table(cov)
        return self

    @staticmethod
    def _covariance(fun: Any, x: np.ndarray) -> np.ndarray:
        """Inverse of the numerical Hessian of the negative log-likelihood at ``x`` (log scale)."""
        from statsmodels.tools.numdiff import approx_hess

        hess = approx_hess(x, fun)
        try:
            cov = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            return np.full((2, 2), np.nan)
        if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
            return np.full((2, 2), np.nan)
        return cov

    def _params_table(self, cov: np.ndarray) -> pd.DataFrame:
        z = stats.norm.ppf(0.5 + self.conf_level / 2)
        log_a, log_b = math.log(self.alpha_), math.log(self.beta_)
        se_a, se_b = np.sqrt(np.diag(cov))
        # mean churn alpha / (alpha + beta) = expit(log alpha - log beta)
        logit = log_a - log_b
        se_logit = math.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)) if np.isfinite(cov).all() \
            else float("nan")
        rows = {}
        for name, centre, se, inverse in (("alpha", log_a, se_a, np.exp), ("beta", log_b, se_b, np.exp),
                                          ("mean_churn", logit, se_logit, special.expit)):
            est = float(inverse(centre))
            deriv = est if inverse is np.exp else est * (1 - est)
            rows[name] = {"estimate": est, "std_error": float(deriv * se),
                          "ci_lower": float(inverse(centre - z * se)),
                          "ci_upper": float(inverse(centre + z * se))}
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "parameter"
        return table

    # -- the model's quantities -------------------------------------------------------------
    def _t(self, t: Any, low: int = 0) -> np.ndarray:
        self.check_fitted()
        arr = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(arr)) or np.any(arr < low) or np.any(arr != np.floor(arr)):
            raise InputError(f"periods must be whole numbers >= {low}; got {t!r}")
        return arr

    def survival(self, t: Any) -> np.ndarray:
        """``S(t) = P(T > t)``: the share of a new cohort still subscribed after ``t`` periods (eq. 6).

        Examples
        --------
        >>> m = ShiftedBetaGeometric(); m.alpha_, m.beta_ = 1.0, 1.0
        >>> m.survival([0, 1, 3]).tolist()   # B(1, 1 + t) / B(1, 1) = 1 / (1 + t)
        [1.0, 0.5, 0.25]
        """
        t = self._t(t)
        return np.exp(special.betaln(self.alpha_, self.beta_ + t) - special.betaln(self.alpha_, self.beta_))

    def churn_probability(self, t: Any) -> np.ndarray:
        """``P(T = t)``: the share of a new cohort that cancels in period ``t >= 1`` (eq. 5)."""
        t = self._t(t, low=1)
        return np.exp(special.betaln(self.alpha_ + 1, self.beta_ + t - 1)
                      - special.betaln(self.alpha_, self.beta_))

    def retention_rate(self, t: Any) -> np.ndarray:
        """``r(t) = S(t) / S(t - 1)``: the share of those active in period ``t`` who renew (eq. 8)."""
        t = self._t(t, low=1)
        return (self.beta_ + t - 1) / (self.alpha_ + self.beta_ + t - 1)

    def project(self, periods: int) -> pd.DataFrame:
        """Survival and retention rate for periods ``0 .. periods`` (the projection of the paper's Fig. 3).

        Examples
        --------
        >>> m = ShiftedBetaGeometric(); m.alpha_, m.beta_ = 1.0, 1.0
        >>> m.project(2)
                survival  retention_rate
        period
        0       1.000000             NaN
        1       0.500000        0.500000
        2       0.333333        0.666667
        """
        periods = int(check_number("project", "periods", periods, integer=True, low=0))
        t = np.arange(periods + 1)
        retention = np.r_[np.nan, self.retention_rate(t[1:])] if periods else np.array([np.nan])
        return pd.DataFrame({"survival": self.survival(t), "retention_rate": retention},
                            index=pd.Index(t, name="period"))

    def expected_lifetime(self) -> float:
        """``E[T]`` in periods: ``(alpha + beta - 1) / (alpha - 1)``; infinite when ``alpha <= 1``.

        With ``alpha <= 1`` enough subscribers almost never cancel that the mean
        lifetime diverges; use :meth:`expected_remaining_lifetime` with a horizon
        or the discounted :meth:`derl` then.
        """
        self.check_fitted()
        if self.alpha_ <= 1:
            return float("inf")
        return (self.alpha_ + self.beta_ - 1) / (self.alpha_ - 1)

    def _hyp2f1(self, b: np.ndarray, c: np.ndarray, discount_rate: float) -> np.ndarray:
        if discount_rate == 0:
            # 2F1(1, b; c; 1) = (c - 1) / (c - 1 - b), finite only when c - b = alpha > 1
            return np.where(c - b > 1, (c - 1) / np.maximum(c - 1 - b, 1e-300), np.inf)
        z = 1.0 / (1.0 + discount_rate)
        out = np.asarray(special.hyp2f1(1.0, b, c, z), dtype=float)
        bad = ~np.isfinite(out)
        if bad.any():  # SciPy gives NaN for very large b and c (little heterogeneity): sum the series
            out = np.where(bad, _hyp2f1_series(np.broadcast_to(b, out.shape), np.broadcast_to(c, out.shape),
                                               z), out)
        return out

    def _discount(self, discount_rate: float) -> float:
        return float(check_number("ShiftedBetaGeometric", "discount_rate", discount_rate, low=0))

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """``DEL(d) = 2F1(1, beta; alpha + beta; 1 / (1 + d))``: discounted periods paid by a new subscriber.

        The first payment is at ``t = 0`` (undiscounted). Times the amount per
        period it is the expected CLV of a subscriber about to be acquired.

        Examples
        --------
        >>> m = ShiftedBetaGeometric(); m.alpha_, m.beta_ = 1.0, 1.0
        >>> round(m.discounted_expected_lifetime(0.1), 6)  # sum_t (1 / (1 + t)) / 1.1^t = 1.1 ln 11
        2.637685
        """
        d = self._discount(discount_rate)
        self.check_fitted()
        return float(self._hyp2f1(np.array(self.beta_), np.array(self.alpha_ + self.beta_), d))

    def derl(self, renewals: Any, discount_rate: float) -> np.ndarray:
        """Discounted expected residual lifetime of a subscriber who has made ``renewals`` renewals.

        Fader & Hardie (2010) eq. 6 with ``n - 1 = renewals``: the expected number
        of further payments, the next renewal's undiscounted, each later one
        discounted by ``1 + d`` per period. ``renewals`` is the ``duration`` of an
        active subscription in :func:`~crm_analytics.subscriptions.subscription_lifetimes`.

        Examples
        --------
        >>> m = ShiftedBetaGeometric(); m.alpha_, m.beta_ = 2.0, 3.0
        >>> direct = sum(m.survival(1 + k)[()] / m.survival(0)[()] / 1.1 ** k for k in range(2000))
        >>> bool(abs(m.derl(0, 0.1)[()] - direct) < 1e-9)
        True
        """
        d = self._discount(discount_rate)
        n = self._t(renewals) + 1
        b = self.beta_ + n
        c = self.alpha_ + self.beta_ + n
        return (self.beta_ + n - 1) / (self.alpha_ + self.beta_ + n - 1) * self._hyp2f1(b, c, d)

    def expected_remaining_lifetime(self, renewals: Any, horizon: int | None = None) -> np.ndarray:
        """Expected further periods of a subscriber who has made ``renewals`` renewals.

        Counts the periods paid after the current one: ``sum_{k>=1} S(n - 1 + k) / S(n - 1)``
        with ``n - 1 = renewals``, up to ``horizon`` periods ahead (None: all, which is
        ``(beta + renewals) / (alpha - 1)`` when ``alpha > 1`` and infinite otherwise).

        Examples
        --------
        >>> m = ShiftedBetaGeometric(); m.alpha_, m.beta_ = 3.0, 2.0
        >>> m.expected_remaining_lifetime([0, 4]).tolist()   # (beta + n - 1) / (alpha - 1)
        [1.0, 3.0]
        >>> round(float(m.expected_remaining_lifetime(0, horizon=1)), 6)  # r(1) = 2 / 5
        0.4
        """
        r = self._t(renewals)
        if horizon is None:
            if self.alpha_ <= 1:
                return np.full(np.shape(r), np.inf)
            return (self.beta_ + r) / (self.alpha_ - 1)
        h = int(check_number("expected_remaining_lifetime", "horizon", horizon, integer=True, low=0))
        k = np.arange(1, h + 1)
        flat = np.atleast_1d(r)
        logs = special.betaln(self.alpha_, self.beta_ + flat[:, None] + k[None, :]) \
            - special.betaln(self.alpha_, self.beta_ + flat)[:, None]
        return np.exp(logs).sum(axis=1).reshape(np.shape(r)) if h else np.zeros(np.shape(r))

    # -- persistence ------------------------------------------------------------------------
    _FORMAT = "crm_analytics.subscriptions.ShiftedBetaGeometric"
    _VERSION = 1

    def save(self, path: Any) -> Any:
        """Write the fitted model as versioned JSON (atomically); returns the path."""
        from crm_analytics.core.persistence import write_json_model

        self.check_fitted()
        cov = self.covariance_log_
        body = {"conf_level": self.conf_level, "alpha": self.alpha_, "beta": self.beta_,
                "log_likelihood": self.log_likelihood_,
                "covariance_log": cov.tolist() if np.isfinite(cov).all() else None,
                "n_subscriptions": self.n_subscriptions_, "n_cancelled": self.n_cancelled_,
                "max_duration": self.max_duration_, "notes": list(self.fit_notes_)}
        return write_json_model(path, self._FORMAT, self._VERSION, body)

    @classmethod
    def load(cls, path: Any) -> ShiftedBetaGeometric:
        """Read a model written by :meth:`save` (refuses other files with ModelFileError)."""
        from crm_analytics.core.persistence import read_json_model
        from crm_analytics.errors import ModelFileError

        body = read_json_model(path, cls._FORMAT, cls._VERSION)
        try:
            model = cls(conf_level=float(body["conf_level"]))
            model.alpha_, model.beta_ = float(body["alpha"]), float(body["beta"])
            model.log_likelihood_ = float(body["log_likelihood"])
            cov = body["covariance_log"]
            model.covariance_log_ = (np.full((2, 2), np.nan) if cov is None
                                     else np.asarray(cov, dtype=float).reshape(2, 2))
            model.n_subscriptions_ = float(body["n_subscriptions"])
            model.n_cancelled_ = float(body["n_cancelled"])
            model.max_duration_ = int(body["max_duration"])
            model.fit_notes_ = [str(n) for n in body["notes"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a complete sBG model file ({exc}); refit and save it") \
                from None
        if not (model.alpha_ > 0 and model.beta_ > 0):
            raise ModelFileError(f"{path}: alpha and beta must be > 0; refit and save the model")
        model.params_ = model._params_table(model.covariance_log_)
        return model

    # -- reporting ----------------------------------------------------------------------------
    def summary(self) -> Summary:
        """Parameters with intervals, fit facts and the value formulas' basis."""
        self.check_fitted()
        life = self.expected_lifetime()
        facts = [
            ("subscriptions", f"{self.n_subscriptions_:,.0f}"),
            ("cancelled", f"{self.n_cancelled_:,.0f}"),
            ("longest lifetime observed (periods)", str(self.max_duration_)),
            ("log-likelihood", f"{self.log_likelihood_:.3f}"),
            ("expected lifetime (periods)", "infinite (alpha <= 1)" if math.isinf(life) else f"{life:.2f}"),
        ]
        return Summary(f"Shifted-beta-geometric retention model ({self.conf_level:.0%} intervals)",
                       facts, self.params_, notes=list(self.fit_notes_))

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"ShiftedBetaGeometric(conf_level={self.conf_level})"
        return f"ShiftedBetaGeometric(alpha={self.alpha_:.4g}, beta={self.beta_:.4g})"
