"""MBG/NBD: Batislam, Denizel & Filiztekin (2007), with Wagner & Hoppe's (2008) erratum.

As BG/NBD, except that a customer may also drop out right after the *first*
purchase (at time 0), so one-time buyers are not certainly alive. Likelihood
and equations are lifetimes' ``ModifiedBetaGeoFitter``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crm_analytics.clv.models.base import quiet_numerics
from crm_analytics.clv.models.bgnbd import BetaGeoModel, _by_frequency_and_age, _hyp_term
from crm_analytics.clv.models.likelihoods import mbgnbd_value_and_gradient

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(BetaGeoModel):
    """The MBG/NBD purchase model (Batislam, Denizel & Filiztekin 2007).

    Parameters ``r, alpha, a, b`` as in BG/NBD.

    Examples
    --------
    >>> m = ModifiedBetaGeoModel({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5})
    >>> p = m.conditional_probability_alive(np.array([0.0]), np.array([0.0]), np.array([10.0]))
    >>> bool(p[0] < 1.0)
    True
    """

    name = "mbgnbd"
    title = "MBG/NBD"
    _lifetimes_name = "ModifiedBetaGeoFitter"
    _likelihood: Any = staticmethod(mbgnbd_value_and_gradient)

    def conditional_expected_purchases(
        self, t: float | np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected repeat purchases in ``(T, T + t]``: Batislam et al. (2007), as corrected
        by Wagner & Hoppe (2008).

        ``(a + b + x) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
        * 2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))]
        / [1 + a / (b + x) * ((alpha + T) / (alpha + t_x))^(r + x)]``
        """
        return next(self.iter_conditional_expected_purchases([t], frequency, recency, T))

    def iter_conditional_expected_purchases(
        self, ts: Any, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> Any:
        """The conditional expectation at several horizons, hypergeometric term per distinct
        ``(x, T)`` (as :meth:`BetaGeoModel.iter_conditional_expected_purchases`); the same
        values as lifetimes' ``ModifiedBetaGeoFitter`` (tests)."""
        r, alpha, a, b = (self.params[k] for k in self.param_names)
        x = np.asarray(frequency, dtype=float)
        t_x = np.asarray(recency, dtype=float)
        T = np.asarray(T, dtype=float)
        with np.errstate(all="ignore"):
            denominator = 1.0 + (a / (b + x)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
            for codes, ux, uT, t in _by_frequency_and_age(ts, x, T):
                first = (a + b + ux) / (a - 1.0)
                second = 1.0 - _hyp_term(r + ux, b + ux + 1.0, a + b + ux, r + ux, alpha + uT, t)
                yield (first * second)[codes] / denominator

    def conditional_probability_alive(
        self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """P(alive | x, t_x, T): Batislam et al. (2007), appendix A, equation (5).

        ``1 / [1 + a / (b + x) * ((alpha + T) / (alpha + t_x))^(r + x)]``, for every
        ``x`` including one-time buyers.
        """
        with quiet_numerics():
            out = self._fitter.conditional_probability_alive(frequency, recency, T)
        return np.asarray(out, dtype=float)

    def expected_purchases_new_customer(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases within ``t`` of the first purchase: Batislam et al. (2007).

        ``E[X(t)] = b / (a - 1) * [1 - (alpha / (alpha + t))^r * 2F1(r, b + 1; a + b;
        t / (alpha + t))]``
        """
        with quiet_numerics():
            out = self._fitter.expected_number_of_purchases_up_to_time(t)
        return np.asarray(out, dtype=float)
