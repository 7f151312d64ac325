"""Shared machinery of the BTYD models: robust maximum likelihood, standard errors.

The likelihoods and prediction equations are lifetimes' (some re-written for
speed, see :mod:`.likelihoods`, and checked against lifetimes in the tests);
the optimisation loop is ours, because lifetimes' own loop prints the optimiser
output and raises without returning the estimate when it does not converge,
reseeds Pareto/NBD starts from the global NumPy generator, and has no fallback.
Ours tries several starting points, then a ladder of penalizers, accepts an
optimum only if it is a proper one (finite, inside sane bounds, positive
definite Hessian), and records every attempt, so a nightly job never dies on a
hard data set.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

log = logging.getLogger(__name__)

#: Penalizers tried after the requested one fails, in order (L2 on the parameters,
#: added to the mean negative log-likelihood per customer, as in lifetimes).
PENALIZER_LADDER: tuple[float, ...] = (1e-3, 1e-2, 1e-1)

# |log parameter| beyond this (e^30 ~ 1e13) means the optimiser ran off to a boundary.
_MAX_ABS_LOG_PARAM = 30.0
# A Hessian this ill-conditioned means some parameter is not identified by the data.
_MAX_CONDITION = 1e12
# Gradient norm (mean log-likelihood per customer) at which a "precision loss" stop
# of BFGS still counts as an optimum.
_GRADIENT_TOLERANCE = 1e-4
#: Above this many distinct histories the optimiser first runs on a random subsample of
#: WARM_START_SIZE of them and starts the full fit there, with the subsample's curvature.
WARM_START_ABOVE = 200_000
WARM_START_SIZE = 50_000


@contextlib.contextmanager
def quiet_numerics() -> Iterator[None]:
    """Silence numerical noise for one block, restoring the caller's settings after.

    lifetimes calls ``warnings.simplefilter`` inside some of its functions, and
    NumPy/SciPy warn on overflow in tails that the formulas handle; both are
    contained here, so the caller's warning filters and error state are untouched.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@dataclass
class FitAttempt:
    """One optimisation run: where it started, with what penalizer, what came out."""

    model: str
    attempt: int
    start: str
    penalizer: float
    success: bool
    accepted: bool
    objective: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitOutcome:
    """Result of :func:`maximise_likelihood`: the chosen optimum and the attempt log."""

    log_params: np.ndarray
    penalizer: float
    covariance_log: np.ndarray | None  # covariance of the log parameters (None: not available)
    converged: bool
    attempts: list[FitAttempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def needed_fallback(self) -> bool:
        """True unless the warm start or the first ordinary start was accepted.

        A failed warm start is only a lost shortcut, not a convergence problem.
        """
        if not self.converged:
            return True
        accepted = self.attempts[-1]
        ordinary = [a for a in self.attempts if not a.start.startswith("warm")]
        return not (accepted.start.startswith("warm") or accepted is ordinary[0])


def penalizer_ladder(penalizer: float) -> list[float]:
    """The requested penalizer followed by the larger rungs of :data:`PENALIZER_LADDER`."""
    return [float(penalizer)] + [p for p in PENALIZER_LADDER if p > penalizer]


def numerical_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of ``fun`` at ``x`` (for likelihoods autograd cannot trace)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    hess = np.empty((n, n))
    f0 = fun(x)
    eye = np.eye(n) * step
    for i in range(n):
        for j in range(i, n):
            if i == j:
                value = (fun(x + eye[i]) - 2.0 * f0 + fun(x - eye[i])) / step**2
            else:
                value = (
                    fun(x + eye[i] + eye[j])
                    - fun(x + eye[i] - eye[j])
                    - fun(x - eye[i] + eye[j])
                    + fun(x - eye[i] - eye[j])
                ) / (4.0 * step**2)
            hess[i, j] = hess[j, i] = value
    return hess


def gradient_hessian(
    value_and_gradient: Callable[[np.ndarray, float], tuple[float, np.ndarray]],
    x: np.ndarray,
    penalizer: float,
    step: float = 1e-6,
) -> np.ndarray:
    """Hessian by forward differences of an exact gradient (one gradient per parameter, plus one).

    Relative accuracy about 1e-5 at an optimum, ample for standard errors and the
    positive-definiteness check, at half the cost of central differences.
    """
    x = np.asarray(x, dtype=float)
    g0 = value_and_gradient(x, penalizer)[1]
    rows = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = step
        rows.append((value_and_gradient(x + e, penalizer)[1] - g0) / step)
    hess = np.array(rows)
    return 0.5 * (hess + hess.T)


def warm_start(
    make_value_and_gradient: Callable[[tuple], Callable[[np.ndarray, float], tuple[float, np.ndarray]]],
    arrays: tuple[np.ndarray, ...],
    x0: np.ndarray,
    penalizer: float,
) -> tuple[str, np.ndarray, np.ndarray] | None:
    """Optimum and inverse Hessian on a fixed random subsample of the histories.

    On a million customers BFGS from a cold start needs ~25 full evaluations;
    from the subsample's optimum, with its curvature as the initial inverse
    Hessian, a handful. The subsample (seed 0) keeps fits reproducible; the
    final estimate is the full-data optimum either way. None if not needed or
    if the subsample fit fails (the ordinary starts follow in any case).
    """
    n = arrays[0].size
    if n <= WARM_START_ABOVE:
        return None
    rows = np.sort(np.random.default_rng(0).choice(n, size=WARM_START_SIZE, replace=False))
    vg = make_value_and_gradient(tuple(a[rows] for a in arrays))
    with quiet_numerics():
        try:
            out = minimize(vg, x0, args=(penalizer,), jac=True, method="BFGS", tol=1e-6)
            hess = gradient_hessian(vg, out.x, penalizer)
            hess_inv = np.linalg.inv(hess)
            hess_inv = 0.5 * (hess_inv + hess_inv.T)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            return None
    if not (np.all(np.isfinite(out.x)) and np.all(np.isfinite(hess_inv))):
        return None
    if np.any(np.linalg.eigvalsh(hess_inv) <= 0):
        return None
    return f"warm (optimum on {WARM_START_SIZE:,} sampled histories)", out.x, hess_inv


def _hessian_problem(hess: np.ndarray | None) -> str | None:
    """Why a Hessian does not certify a proper optimum, or None if it does."""
    if hess is None:
        return "no Hessian"
    if not np.all(np.isfinite(hess)):
        return "Hessian not finite"
    sym = 0.5 * (hess + hess.T)
    eig = np.linalg.eigvalsh(sym)
    if eig[0] <= 0:
        return "Hessian not positive definite (a parameter is not identified)"
    if eig[-1] / eig[0] > _MAX_CONDITION:
        return f"Hessian ill-conditioned (condition number {eig[-1] / eig[0]:.1e})"
    return None


def maximise_likelihood(
    model: str,
    objective: Callable[[np.ndarray, float], float],
    starts: Sequence[tuple[str, np.ndarray]],
    penalizer: float,
    *,
    n_customers: float,
    value_and_gradient: Callable[[np.ndarray, float], tuple[float, np.ndarray]] | None = None,
    tol: float = 1e-7,
    warm: tuple[str, np.ndarray, np.ndarray] | None = None,
) -> FitOutcome:
    """Minimise a mean negative log-likelihood in log parameters, with fallbacks.

    Parameters
    ----------
    model : str
        Name used in notes ("bgnbd", "gamma_gamma", ...).
    objective : callable ``(log_params, penalizer) -> float``
        Mean negative log-likelihood per customer plus the penalty.
    starts : sequence of (label, log_params)
        Starting points, tried in order for each penalizer.
    penalizer : float
        Requested penalizer; larger ones from :data:`PENALIZER_LADDER` follow.
    n_customers : float
        Sum of the weights, to turn the Hessian of the mean into a covariance.
    value_and_gradient : callable, optional
        Objective with its exact gradient; the Hessian is then taken by
        differences of the gradient. Without it BFGS uses finite differences
        and the Hessian is numerical.
    tol : float
        Optimiser tolerance.
    warm : (label, log_params, inverse Hessian), optional
        A first start with known curvature (see :func:`warm_start`), tried
        before ``starts`` at the requested penalizer.

    Returns
    -------
    FitOutcome
        The first accepted optimum; if none is accepted, the best finite one
        (lowest penalizer first, then lowest objective) with ``converged=False``.
    """
    attempts: list[FitAttempt] = []
    candidates: list[tuple[float, float, np.ndarray, np.ndarray | None]] = []
    number = 0
    for pen in penalizer_ladder(penalizer):
        tries = [(label, x0, None) for label, x0 in starts]
        if warm is not None and pen == penalizer:
            tries.insert(0, warm)
        for label, x0, hess_inv0 in tries:
            number += 1
            x, value, hess, success, problem = _attempt(
                objective, value_and_gradient, np.asarray(x0, dtype=float), pen, tol, hess_inv0
            )
            accepted = problem is None
            attempts.append(
                FitAttempt(model, number, label, pen, success, accepted, value, problem or "ok")
            )
            if accepted:
                cov = np.linalg.inv(0.5 * (hess + hess.T)) / float(n_customers)
                return _outcome(model, x, pen, cov, True, attempts)
            if np.all(np.isfinite(x)) and np.isfinite(value):
                candidates.append((pen, value, x, hess))
    if candidates:
        pen, _, x, hess = min(candidates, key=lambda c: (c[0], c[1]))
        cov = None
        if hess is not None and _hessian_problem(hess) is None:
            cov = np.linalg.inv(0.5 * (hess + hess.T)) / float(n_customers)
        return _outcome(model, x, pen, cov, False, attempts)
    # Nothing finite at all: keep the first starting point so predictions exist.
    return _outcome(model, np.asarray(starts[0][1], dtype=float), penalizer, None, False, attempts)


def _attempt(
    objective: Callable[[np.ndarray, float], float],
    value_and_gradient: Callable[[np.ndarray, float], tuple[float, np.ndarray]] | None,
    x0: np.ndarray,
    pen: float,
    tol: float,
    hess_inv0: np.ndarray | None,
) -> tuple[np.ndarray, float, np.ndarray | None, bool, str | None]:
    """One BFGS run and its checks: (estimate, objective, Hessian, success, problem or None)."""
    with quiet_numerics():
        try:
            if value_and_gradient is not None:
                options = {} if hess_inv0 is None else {"hess_inv0": hess_inv0}
                out = minimize(value_and_gradient, x0, args=(pen,), jac=True, method="BFGS", tol=tol,
                               options=options)
            else:
                out = minimize(objective, x0, args=(pen,), method="BFGS", tol=tol)
            x, value = np.asarray(out.x, dtype=float), float(out.fun)
            if not (np.all(np.isfinite(x)) and np.isfinite(value)):
                return x, value, None, bool(out.success), "non-finite estimate"
            if np.max(np.abs(x)) > _MAX_ABS_LOG_PARAM:
                return x, value, None, bool(out.success), "a parameter ran off to 0 or infinity"
            if value_and_gradient is not None:
                hess = gradient_hessian(value_and_gradient, x, pen)
            else:
                hess = numerical_hessian(lambda z: objective(z, pen), x)
            problem = None
            if not out.success:
                # BFGS often stops with "precision loss" right at the optimum: judge by the gradient.
                gnorm = np.max(np.abs(out.jac)) if out.jac is not None else np.inf
                if not gnorm < _GRADIENT_TOLERANCE:
                    problem = f"optimiser stopped: {out.message}"
            return x, value, hess, bool(out.success), problem or _hessian_problem(hess)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
            return x0, float("nan"), None, False, f"{type(exc).__name__}: {exc}".strip()


def _outcome(
    model: str,
    x: np.ndarray,
    pen: float,
    cov: np.ndarray | None,
    converged: bool,
    attempts: list[FitAttempt],
) -> FitOutcome:
    last = attempts[-1]
    failed = "; ".join(
        f"#{a.attempt} {a.start} start, penalizer {a.penalizer:g}: {a.message}" for a in attempts[:-1]
    )
    outcome = FitOutcome(x, pen, cov, converged, attempts, [])
    if converged and not outcome.needed_fallback:
        notes = [f"{model}: converged at attempt {last.attempt} ({last.start} start, penalizer {pen:g})"]
        if failed:
            notes[0] += f"; the subsample warm start did not converge ({attempts[0].message})"
    elif converged:
        notes = [
            f"{model}: converged only at attempt {last.attempt} ({last.start} start, "
            f"penalizer {pen:g}) after: {failed}"
        ]
    else:
        notes = [
            f"{model}: no attempt reached a proper optimum ({len(attempts)} tried; last: "
            f"{attempts[-1].message}); using the best finite estimate (penalizer {pen:g}). "
            "The data do not identify the model: treat its predictions as rough."
        ]
    outcome.notes = notes
    return outcome


def std_errors_from_log_covariance(params: np.ndarray, cov_log: np.ndarray | None) -> np.ndarray:
    """Delta method: se(theta) = theta * se(log theta); NaN where not available."""
    if cov_log is None:
        return np.full(params.size, np.nan)
    var = np.clip(np.diag(cov_log), 0.0, None)
    return params * np.sqrt(var)


# --------------------------------------------------------------------------- purchase models


class PurchaseModel(ABC):
    """Base of the purchase-count models (BG/NBD, MBG/NBD, Pareto/NBD).

    A purchase model holds population parameters (literature names, time in the
    summary's unit) and computes, on arrays of histories ``(x, t_x, T)``, the
    conditional expected number of repeat purchases, P(alive) and the
    unconditional expectation for a new customer. Subclasses name the lifetimes
    fitter whose likelihood and equations they use; instances never expose it.

    Parameters
    ----------
    params : mapping
        Parameter values by literature name.
    std_errors : mapping, optional
        Standard errors by name (NaN where not available).
    """

    name: str = ""
    title: str = ""
    param_names: tuple[str, ...] = ()
    #: Parameters with the dimension of time (scaled by lifetimes' time scaling).
    time_params: tuple[str, ...] = ()
    std_error_source: str = (
        "inverse Hessian of the log-likelihood (differences of the exact gradient), delta method"
    )

    def __init__(self, params: dict[str, float], std_errors: dict[str, float] | None = None):
        self.params = {k: float(params[k]) for k in self.param_names}
        se = std_errors or {}
        self.std_errors = {k: float(se.get(k, np.nan)) for k in self.param_names}
        self._fitter_cache: Any = None

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"{type(self).__name__}({values})"

    # -- fitting -----------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        frequency: np.ndarray,
        recency: np.ndarray,
        T: np.ndarray,
        weights: np.ndarray,
        *,
        penalizer: float = 0.0,
    ) -> tuple[PurchaseModel, FitOutcome]:
        """Maximum likelihood on (distinct) histories with multiplicity ``weights``."""
        x = np.asarray(frequency, dtype=float)
        t_x = np.asarray(recency, dtype=float)
        T = np.asarray(T, dtype=float)
        w = np.asarray(weights, dtype=float)
        # lifetimes fits in time scaled so that the oldest customer has T = 1: it keeps
        # alpha (and beta) near 1 for the optimiser. Time parameters are scaled back below.
        t_max = float(T.max()) if T.size else 0.0
        scale = 1.0 / t_max if t_max > 0 else 1.0
        data = (x, t_x * scale, T * scale, w)
        value_and_gradient = cls._value_and_gradient(data)
        if value_and_gradient is not None:
            vg = value_and_gradient

            def objective(lp: np.ndarray, pen: float) -> float:
                return vg(lp, pen)[0]
        else:

            def objective(lp: np.ndarray, pen: float) -> float:
                return cls._objective(lp, pen, data)

        starts = cls._starts(data)
        warm = None
        if value_and_gradient is not None:
            warm = warm_start(cls._value_and_gradient, data, starts[0][1], penalizer)
        outcome = maximise_likelihood(
            cls.name,
            objective,
            starts,
            penalizer,
            n_customers=float(w.sum()),
            value_and_gradient=value_and_gradient,
            warm=warm,
        )
        params = np.exp(outcome.log_params)
        se = std_errors_from_log_covariance(params, outcome.covariance_log)
        unscale = np.array([1.0 / scale if k in cls.time_params else 1.0 for k in cls.param_names])
        params, se = params * unscale, se * unscale
        model = cls(dict(zip(cls.param_names, params, strict=True)),
                    dict(zip(cls.param_names, se, strict=True)))
        return model, outcome

    @classmethod
    def _objective(cls, log_params: np.ndarray, penalizer: float, data: tuple) -> float:
        # Only used by models without an analytic gradient (_value_and_gradient).
        raise TypeError(f"{cls.__name__} defines neither _value_and_gradient nor _objective")

    @classmethod
    def _value_and_gradient(
        cls, data: tuple
    ) -> Callable[[np.ndarray, float], tuple[float, np.ndarray]] | None:
        return None

    @classmethod
    def _starts(cls, data: tuple) -> list[tuple[str, np.ndarray]]:
        x, _, T, w = data
        # A crude rate for r = 1: repeat purchases per unit of (scaled) time.
        rate = float(np.sum(w * x) / max(np.sum(w * T), 1e-12))
        alpha0 = 1.0 / min(max(rate, 1e-3), 1e3)
        moment = np.log([1.0 if k not in cls.time_params else alpha0 for k in cls.param_names])
        # The moment start first: on large data BFGS needs fewest iterations from it
        # (BG/NBD on the 200,000-customer benchmark: 17 against 22 from lifetimes' start).
        return [
            ("moment", moment),
            ("lifetimes default", np.full(len(cls.param_names), 0.1)),
            ("unit", np.zeros(len(cls.param_names))),
        ]

    # -- predictions on arrays -----------------------------------------------------------
    @abstractmethod
    def _make_fitter(self) -> Any:
        """The lifetimes fitter whose prediction equations this model uses."""

    @property
    def _fitter(self) -> Any:
        """A lifetimes fitter carrying our parameters (for its prediction equations)."""
        if self._fitter_cache is None:
            fitter = self._make_fitter()
            fitter.params_ = pd.Series(self.params, index=list(self.param_names), dtype=float)
            self._fitter_cache = fitter
        return self._fitter_cache

    @abstractmethod
    def conditional_expected_purchases(
        self, t: float | np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[X(T, T + t) | x, t_x, T]: expected repeat purchases in the next ``t`` time units."""

    def iter_conditional_expected_purchases(
        self, ts: Any, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> Iterator[np.ndarray]:
        """:meth:`conditional_expected_purchases` at each horizon of ``ts``, one array at a time."""
        for t in ts:
            yield self.conditional_expected_purchases(t, frequency, recency, T)

    @abstractmethod
    def conditional_probability_alive(
        self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """P(alive at T | x, t_x, T)."""

    @abstractmethod
    def expected_purchases_new_customer(self, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)]: expected repeat purchases within ``t`` of a new customer's first purchase."""
