"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), "Counting your customers".

While alive, customer *i* buys as a Poisson process with rate ``lambda_i ~
Gamma(r, alpha)``; their lifetime is exponential with rate ``mu_i ~ Gamma(s,
beta)``. ``alpha`` and ``beta`` have the dimension of time. The likelihood
and equations are lifetimes' ``ParetoNBDFitter`` (after Fader & Hardie's 2005
note "A note on deriving the Pareto/NBD model and related expressions").

lifetimes fits Pareto/NBD by Nelder-Mead from random starts and reports no
standard errors. Here BFGS on the log parameters runs from fixed starts
(reproducible) with the analytic gradient of
:func:`~crm_analytics.clv.models.likelihoods.pareto_nbd_value_and_gradient`
(the hypergeometric terms computed once per distinct (frequency, time) pair), and
standard errors come from differences of that gradient, as for BG/NBD. The
predictions evaluate the likelihood once per distinct history and share it
between horizons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from crm_analytics.clv._lifetimes import fitter_class
from crm_analytics.clv.models.base import PurchaseModel
from crm_analytics.clv.models.likelihoods import (
    pareto_nbd_log_likelihood,
    pareto_nbd_value_and_gradient,
    prepare_pareto_nbd,
)

__all__ = ["ParetoNBDModel"]


class ParetoNBDModel(PurchaseModel):
    """The Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987).

    Parameters ``r, alpha`` (Gamma heterogeneity of the purchase rate) and
    ``s, beta`` (Gamma heterogeneity of the dropout rate).

    Examples
    --------
    >>> m = ParetoNBDModel({"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67})
    >>> round(float(m.expected_purchases_new_customer(39.0)), 2)
    1.21
    >>> m.conditional_probability_alive(np.array([0.0, 2.0]), np.array([0.0, 30.43]),
    ...                                 np.array([38.86, 38.86])).round(3)
    array([0.295, 0.869])
    """

    name = "pareto_nbd"
    title = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    time_params = ("alpha", "beta")

    def _make_fitter(self) -> Any:
        return fitter_class("ParetoNBDFitter")()

    @classmethod
    def _value_and_gradient(cls, data: tuple) -> Callable[[np.ndarray, float], tuple[float, np.ndarray]]:
        prepared = prepare_pareto_nbd(*data)
        return lambda lp, pen: pareto_nbd_value_and_gradient(lp, pen, prepared)

    @classmethod
    def _starts(cls, data: tuple) -> list[tuple[str, np.ndarray]]:
        moment, default, unit = super()._starts(data)
        # lifetimes starts near 1 for every parameter (randomly); "unit" is that, fixed.
        return [moment, unit, default]

    def _theta(self) -> np.ndarray:
        return np.array([self.params[k] for k in self.param_names])

    def conditional_expected_purchases(
        self, t: float | np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected repeat purchases in ``(T, T + t]``: Fader & Hardie (2005) note, equation (41).

        ``E[Y(t) | x, t_x, T] = Gamma(r + x) alpha^r beta^s / (Gamma(r) (alpha + T)^(r + x)
        (beta + T)^s) * (r + x)(beta + T) / ((alpha + T)(s - 1))
        * [1 - ((beta + T) / (beta + T + t))^(s - 1)] / L(r, alpha, s, beta | x, t_x, T)``,
        i.e. P(alive) times the expected purchases of a live customer (SMC 1987, eq. 22).
        """
        return next(self.iter_conditional_expected_purchases([t], frequency, recency, T))

    def iter_conditional_expected_purchases(
        self, ts: Any, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> Iterator[np.ndarray]:
        """Equation (41) at several horizons ``ts``, with P(alive) computed once.

        The same values as lifetimes' ``conditional_expected_number_of_purchases_up_to_time``
        (tests), which evaluates the likelihood again for every horizon. At ``s = 1``
        the factor ``[1 - u^(s - 1)] / (s - 1)`` is its limit ``-ln u``.
        """
        r, alpha, s, beta = self._theta()
        x = np.asarray(frequency, dtype=float)
        T = np.asarray(T, dtype=float)
        with np.errstate(all="ignore"):
            alive = np.exp(pareto_nbd_log_likelihood(self._theta(), x, recency, T)[1])
            rate = alive * (r + x) / (alpha + T)  # purchases per unit time of a live customer
            for t in ts:
                log_u = np.log(beta + T) - np.log(beta + T + t)  # ln of (beta + T) / (beta + T + t)
                if s == 1.0:
                    life = -log_u * (beta + T)
                else:
                    life = -np.expm1((s - 1.0) * log_u) / (s - 1.0) * (beta + T)
                yield rate * life

    def conditional_probability_alive(
        self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """P(alive | x, t_x, T): SMC (1987) equation (11); Fader & Hardie (2005) note,
        equations (36)-(37).

        ``1 / [1 + s / (r + s + x) * (alpha + T)^(r + x) (beta + T)^s * A_0]`` with
        ``A_0`` the hypergeometric term of the likelihood (note, equations (19)-(20)).
        """
        with np.errstate(all="ignore"):
            log_alive = pareto_nbd_log_likelihood(self._theta(), frequency, recency, T)[1]
        return np.exp(log_alive)

    def expected_purchases_new_customer(self, t: float | np.ndarray) -> np.ndarray:
        """Expected purchases within ``t`` of the first purchase: Fader & Hardie (2005) note,
        equation (27) (SMC 1987, eq. 17).

        ``E[X(t)] = r beta / (alpha (s - 1)) * [1 - (beta / (beta + t))^(s - 1)]``
        (at ``s = 1``, its limit ``r beta / alpha * ln((beta + t) / beta)``).
        """
        r, alpha, s, beta = self._theta()
        t = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):
            log_u = np.log(beta) - np.log(beta + t)
            if s == 1.0:
                return -log_u * r * beta / alpha
            return -np.expm1((s - 1.0) * log_u) * r * beta / (alpha * (s - 1.0))
