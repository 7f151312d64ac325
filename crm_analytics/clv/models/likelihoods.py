"""Log-likelihoods of BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma with their exact gradients.

Written by hand, on purpose: these are lifetimes' likelihoods term for term
(``BetaGeoFitter``, ``ModifiedBetaGeoFitter``, ``ParetoNBDFitter`` and
``GammaGammaFitter`` ``._negative_log_likelihood``: same parametrisation in log
parameters, same time scaling, same penalty), but lifetimes differentiates the
first, second and last with autograd, whose tracing makes one evaluation on a
million customers cost a quarter of a second and its Hessian several seconds,
and has no gradient at all for Pareto/NBD (it fits that by Nelder-Mead). Here
the terms that depend only on the frequency (all the log-gamma and digamma
functions) are computed once per distinct frequency, the rest is plain
vectorised NumPy, and the gradient is analytic. ``tests/clv/test_clv_model.py``
checks value and gradient against lifetimes' autograd to 1e-9;
``tests/clv/test_pareto_nbd_gradient.py`` checks Pareto/NBD against lifetimes'
likelihood and finite differences.

Each ``*_value_and_gradient`` function takes log parameters, a penalizer and a
prepared data dict, and returns ``(mean negative log-likelihood + penalty,
gradient in log parameters)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1

from crm_analytics.clv.models.hypergeometric import hyp2f1_unit_a
from crm_analytics.clv.utils import distinct_rows, distinct_values

__all__ = [
    "bgnbd_value_and_gradient",
    "gamma_gamma_value_and_gradient",
    "mbgnbd_value_and_gradient",
    "pareto_nbd_log_likelihood",
    "pareto_nbd_value_and_gradient",
    "prepare_gamma_gamma",
    "prepare_pareto_nbd",
    "prepare_purchases",
]


def prepare_purchases(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """Histories (time already scaled) with normalised weights and frequency codes.

    ``w_u`` is the total weight of each distinct frequency: every term that depends on
    the frequency only is summed per distinct frequency instead of per history.
    """
    w = w / w.sum()
    ux, inv = distinct_values(x)
    return {"x": x, "t_x": t_x, "T": T, "w": w, "ux": ux, "inv": inv,
            "w_u": np.bincount(inv, weights=w, minlength=ux.size)}


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # einsum: no BLAS thread start-up, steadier than ``@`` for one long vector product.
    return float(np.einsum("i,i->", a, b))


def _log1p_exp(d: np.ndarray) -> np.ndarray:
    """ln(1 + e^d), stable for any d including -inf (np.logaddexp is several times slower)."""
    return np.maximum(d, 0.0) + np.log1p(np.exp(-np.abs(d)))


def _penalised(
    value: float, grad: np.ndarray, theta: np.ndarray, penalizer: float
) -> tuple[float, np.ndarray]:
    # lifetimes' penalty: penalizer * sum(theta^2); d/d(log theta) = 2 * penalizer * theta^2.
    return value + penalizer * float(np.sum(theta**2)), grad * theta + 2.0 * penalizer * theta**2


def bgnbd_value_and_gradient(
    log_params: np.ndarray, penalizer: float, data: dict[str, Any]
) -> tuple[float, np.ndarray]:
    """BG/NBD: Fader, Hardie & Lee (2005), equation (6) (lifetimes' numerically stable form).

    ``ll = ln G(r + x) - ln G(r) + r ln alpha + ln B(a, b + x) - ln B(a, b)
    + ln[(alpha + T)^-(r+x) + 1{x > 0} a / (b + x - 1) (alpha + t_x)^-(r+x)]``
    """
    theta = np.exp(np.asarray(log_params, dtype=float))
    r, alpha, a, b = theta
    ux, inv, x, t_x, T, w, w_u = (data[k] for k in ("ux", "inv", "x", "t_x", "T", "w", "w_u"))
    with np.errstate(all="ignore"):
        # Terms of the frequency only, once per distinct frequency.
        base_u = (gammaln(r + ux) - gammaln(r) + gammaln(a + b) + gammaln(b + ux) - gammaln(b)
                  - gammaln(a + b + ux))
        b_term_u = b + np.maximum(ux, 1.0) - 1.0
        # -inf removes the "dropped out after t_x" branch for one-time buyers.
        c4_u = np.where(ux > 0, np.log(a) - np.log(b_term_u), -np.inf)
        dr_u = digamma(r + ux) - digamma(r)
        da_u = digamma(a + b) - digamma(a + b + ux)
        db_u = digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux)

        rx = r + x
        log_aT = np.log(alpha + T)
        log_at = np.log(alpha + t_x)
        A3 = -rx * log_aT
        A4 = c4_u[inv] - rx * log_at
        D = A3 + _log1p_exp(A4 - A3)
        p4 = np.exp(A4 - D)  # share of the "dropped out after t_x" branch; 0 if x = 0
        wp4 = w * p4
        inv_aT = 1.0 / (alpha + T)
        value = -(float(w_u @ base_u) + r * np.log(alpha) + _dot(w, D))
        g_r = w_u @ dr_u + np.log(alpha) - _dot(w, log_aT) - _dot(wp4, log_at - log_aT)
        g_alpha = r / alpha - _dot(w, rx * inv_aT) - _dot(wp4, rx * (1.0 / (alpha + t_x) - inv_aT))
        g_a = w_u @ da_u + wp4.sum() / a
        g_b = w_u @ db_u - np.bincount(inv, weights=wp4, minlength=ux.size) @ (1.0 / b_term_u)
        grad = -np.array([g_r, g_alpha, g_a, g_b])
    return _penalised(value, grad, theta, penalizer)


def mbgnbd_value_and_gradient(
    log_params: np.ndarray, penalizer: float, data: dict[str, Any]
) -> tuple[float, np.ndarray]:
    """MBG/NBD: Batislam, Denizel & Filiztekin (2007), as in lifetimes.

    ``ll = ln G(r + x) - ln G(r) + r ln alpha + ln B(a, b + x + 1) - ln B(a, b)
    - (r + x) ln(alpha + T) + ln[1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r+x)]``
    """
    theta = np.exp(np.asarray(log_params, dtype=float))
    r, alpha, a, b = theta
    ux, inv, x, t_x, T, w, w_u = (data[k] for k in ("ux", "inv", "x", "t_x", "T", "w", "w_u"))
    with np.errstate(all="ignore"):
        base_u = (gammaln(r + ux) - gammaln(r) + gammaln(a + b) + gammaln(b + ux + 1.0)
                  - gammaln(b) - gammaln(a + b + ux + 1.0))
        c4_u = np.log(a) - np.log(b + ux)
        dr_u = digamma(r + ux) - digamma(r)
        da_u = digamma(a + b) - digamma(a + b + ux + 1.0)
        db_u = digamma(a + b) + digamma(b + ux + 1.0) - digamma(b) - digamma(a + b + ux + 1.0)

        rx = r + x
        log_aT = np.log(alpha + T)
        log_at = np.log(alpha + t_x)
        A4 = c4_u[inv] + rx * (log_aT - log_at)
        L4 = _log1p_exp(A4)
        ws = w * np.exp(A4 - L4)  # weight times logistic(A4)
        inv_aT = 1.0 / (alpha + T)
        value = -(float(w_u @ base_u) + r * np.log(alpha) - _dot(w, rx * log_aT) + _dot(w, L4))
        g_r = w_u @ dr_u + np.log(alpha) - _dot(w, log_aT) + _dot(ws, log_aT - log_at)
        g_alpha = r / alpha - _dot(w, rx * inv_aT) + _dot(ws, rx * (inv_aT - 1.0 / (alpha + t_x)))
        g_a = w_u @ da_u + ws.sum() / a
        g_b = w_u @ db_u - np.bincount(inv, weights=ws, minlength=ux.size) @ (1.0 / (b + ux))
        grad = -np.array([g_r, g_alpha, g_a, g_b])
    return _penalised(value, grad, theta, penalizer)


def prepare_gamma_gamma(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """Repeat buyers' frequency and (scaled) mean spend with normalised weights.

    Sums that do not depend on the parameters are computed here once.
    """
    w = w / w.sum()
    ux, inv = distinct_values(x)
    log_m = np.log(m)
    return {"x": x, "xm": x * m, "w": w, "ux": ux, "w_u": np.bincount(inv, weights=w, minlength=ux.size),
            "xlogx_u": ux * np.log(ux), "sum_wx_log_m": _dot(w, x * log_m),
            "sum_w_log_m": _dot(w, log_m), "wx": w * x}


def gamma_gamma_value_and_gradient(
    log_params: np.ndarray, penalizer: float, data: dict[str, Any]
) -> tuple[float, np.ndarray]:
    """Gamma-Gamma: Fader & Hardie (2013), equation (1a), as in lifetimes.

    ``ll = ln G(p x + q) - ln G(p x) - ln G(q) + q ln v + (p x - 1) ln m
    + p x ln x - (p x + q) ln(x m + v)``
    """
    theta = np.exp(np.asarray(log_params, dtype=float))
    p, q, v = theta
    ux, w, w_u, wx = (data[k] for k in ("ux", "w", "w_u", "wx"))
    with np.errstate(all="ignore"):
        pu = p * ux
        base_u = gammaln(pu + q) - gammaln(pu) + p * data["xlogx_u"]
        dp_u = ux * (digamma(pu + q) - digamma(pu)) + data["xlogx_u"]
        dq_u = digamma(pu + q)
        L = np.log(data["xm"] + v)
        inv_L = 1.0 / (data["xm"] + v)
        wx_L, w_L = _dot(wx, L), _dot(w, L)
        value = -(float(w_u @ base_u) - gammaln(q) + q * np.log(v)
                  + p * data["sum_wx_log_m"] - data["sum_w_log_m"] - p * wx_L - q * w_L)
        g_p = w_u @ dp_u + data["sum_wx_log_m"] - wx_L
        g_q = w_u @ dq_u - digamma(q) + np.log(v) - w_L
        g_v = q / v - p * _dot(wx, inv_L) - q * _dot(w, inv_L)
        grad = -np.array([g_p, g_q, g_v])
    return _penalised(value, grad, theta, penalizer)


# --------------------------------------------------------------------------- Pareto/NBD


def prepare_pareto_nbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """Histories (time already scaled) with normalised weights, and their distinct (x, y) pairs.

    Every hypergeometric term of the likelihood depends on the frequency and one
    time, ``y = t_x`` or ``y = T``, so it is computed once per distinct pair:
    on a million customers with times in days there are ~30,000 pairs for
    ~350,000 histories. ``at_t_x`` and ``at_T`` point each history to its pairs.
    """
    w = w / w.sum()
    n = x.size
    codes, (pair_x, pair_y), _ = distinct_rows(np.concatenate([x, x]), np.concatenate([t_x, T]))
    ux, inv = distinct_values(x)
    pair_group = np.searchsorted(ux, pair_x)  # the pair's frequency among ux
    return {"w": w, "ux": ux, "w_u": np.bincount(inv, weights=w, minlength=ux.size),
            "pair_x": pair_x, "pair_y": pair_y, "pair_group": pair_group,
            "at_t_x": codes[:n], "at_T": codes[n:]}


def _pareto_nbd_pair_terms(
    theta: np.ndarray, x: np.ndarray, y: np.ndarray, *,
    gradient: bool, frequencies: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``ln E(y)``, ``ln F(y)`` and, with ``gradient``, their derivatives in (r, alpha, s, beta).

    ``E(y) = (alpha + y)^-(r+x) (beta + y)^-s`` and
    ``F(y) = int_y^inf (alpha + tau)^-(r+x) (beta + tau)^-(s+1) dtau``, so that
    ``s (F(t_x) - F(T))`` is the "died between t_x and T" part of the likelihood
    (Fader & Hardie's note, eqs. 18-20: ``s / (r + s + x) A_0``). With the larger
    of alpha and beta, ``m``, and ``z = |alpha - beta| / (m + y)``, Euler's
    transformation of the note's ``2F1(r + s + x, s + 1 or r + x; r + s + x + 1; z)``
    gives

    * ``alpha >= beta``: ``F = E(y) / (r + s + x) * 2F1(1, r + x; r + s + x + 1; z)``
    * ``alpha < beta``: ``F = E(y) (alpha + y) / ((beta + y)(r + s + x)) * 2F1(1, s + 1; r + s + x + 1; z)``

    whose series (see :mod:`.hypergeometric`) has terms shrinking faster than ``z^n``.
    ``frequencies``, the distinct frequencies and each pair's index among them, lets
    the series share its coefficients between pairs of one frequency. Derivatives
    are returned as arrays of shape (4, pairs).
    """
    r, alpha, s, beta = theta
    R = r + s + x
    log_a = np.log(alpha + y)
    log_b = np.log(beta + y)
    log_E = -(r + x) * log_a - s * log_b
    if alpha >= beta:
        P, Q, z = r + x, s + 1.0, (alpha - beta) / (alpha + y)
    else:
        P, Q, z = s + 1.0, r + x, (beta - alpha) / (beta + y)
    if not gradient:
        # Values only (predictions): SciPy's hyp2f1, fast and covering z near 1; our series
        # where it overflows (a large P next to z = 1, e.g. P = 180 at z = 0.999).
        H = hyp2f1(1.0, P, P + Q, z)
        bad = ~np.isfinite(H)
        if bad.any():
            P_b, Q_b = (np.broadcast_to(v, z.shape)[bad] for v in (P, Q))
            H[bad] = hyp2f1_unit_a(P_b, Q_b, z[bad])[0]
        log_F = log_E - np.log(R) + np.log(H)
        if alpha < beta:
            log_F += log_a - log_b
        return log_E, log_F, None, None
    if frequencies is None:
        H, H_P, H_Q, H_z = hyp2f1_unit_a(P, Q, z)
    else:
        # P and Q per distinct frequency; each pair points to its own.
        ux, group = frequencies
        r_x, s_1 = r + ux, np.full(ux.size, s + 1.0)
        P_u, Q_u = (r_x, s_1) if alpha >= beta else (s_1, r_x)
        H, H_P, H_Q, H_z = hyp2f1_unit_a(P_u, Q_u, z, group)
    h_P, h_Q, h_z = H_P / H, H_Q / H, H_z / H
    inv_a, inv_b, inv_R = 1.0 / (alpha + y), 1.0 / (beta + y), 1.0 / R
    d_E = np.array([-log_a, -(r + x) * inv_a, -log_b, -s * inv_b])
    log_F = log_E - np.log(R) + np.log(H)
    if alpha >= beta:
        # dz/d alpha = (beta + y) / (alpha + y)^2, dz/d beta = -1 / (alpha + y).
        extra = np.array([h_P - inv_R, h_z * (beta + y) * inv_a**2, h_Q - inv_R, -h_z * inv_a])
    else:
        # dz/d alpha = -1 / (beta + y), dz/d beta = (alpha + y) / (beta + y)^2.
        log_F += log_a - log_b
        extra = np.array([h_Q - inv_R, inv_a - h_z * inv_b, h_P - inv_R,
                          h_z * (alpha + y) * inv_b**2 - inv_b])
    return log_E, log_F, d_E, d_E + extra


def _pareto_nbd_mix(
    log_E: np.ndarray, log_F_t_x: np.ndarray, log_F_T: np.ndarray, log_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``ln[E(T) + s (F(t_x) - F(T))]`` and its three shares, scaled by the largest term.

    Returns ``(M + ln S, e0 / S, e1 / S, e2 / S, S)`` with ``e0 = E(T) e^-M``,
    ``e1 = s F(t_x) e^-M``, ``e2 = s F(T) e^-M`` and ``S = e0 + e1 - e2``;
    ``F(t_x) >= F(T)``, so ``M = max(ln E(T), ln s + ln F(t_x))`` bounds all three.
    """
    a1 = log_s + log_F_t_x
    M = np.maximum(log_E, a1)
    e0 = np.exp(log_E - M)
    e1 = np.exp(a1 - M)
    e2 = np.exp(log_s + log_F_T - M)
    S = e0 + e1 - e2
    inv_S = 1.0 / S
    return M + np.log(S), e0 * inv_S, e1 * inv_S, e2 * inv_S, S


def pareto_nbd_value_and_gradient(
    log_params: np.ndarray, penalizer: float, data: dict[str, Any]
) -> tuple[float, np.ndarray]:
    """Pareto/NBD: Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and
    related expressions", equation (18), as lifetimes' ``ParetoNBDFitter``.

    ``ll = ln G(r + x) - ln G(r) + r ln alpha + s ln beta
    + ln[(alpha + T)^-(r+x) (beta + T)^-s + s / (r + s + x) A_0]`` with
    ``s / (r + s + x) A_0 = s int_{t_x}^T (alpha + tau)^-(r+x) (beta + tau)^-(s+1) dtau``.

    The gradient is analytic: digamma functions for the log-gamma terms, and for
    the hypergeometric terms the derivatives of their series in its parameters
    (``r``, ``s``) and argument (``alpha``, ``beta``), see :func:`_pareto_nbd_pair_terms`.
    Where the series would need too many terms (``|alpha - beta| / max(alpha, beta)``
    above about 0.999, only at extreme trial points) the value is ``inf``, which the
    optimiser's line search steps back from.
    """
    theta = np.exp(np.asarray(log_params, dtype=float))
    r, alpha, s, beta = theta
    ux, w, w_u, at_t_x, at_T = (data[k] for k in ("ux", "w", "w_u", "at_t_x", "at_T"))
    with np.errstate(all="ignore"):
        base_u = gammaln(r + ux) - gammaln(r)
        dr_u = digamma(r + ux) - digamma(r)
        log_E, log_F, d_E, d_F = _pareto_nbd_pair_terms(
            theta, data["pair_x"], data["pair_y"], gradient=True,
            frequencies=(ux, data["pair_group"]))
        log_mix, p0, p1, p2, _ = _pareto_nbd_mix(log_E[at_T], log_F[at_t_x], log_F[at_T], np.log(s))
        value = -(float(w_u @ base_u) + r * np.log(alpha) + s * np.log(beta) + _dot(w, log_mix))
        if not np.isfinite(value):
            return np.inf, np.full(4, np.nan)
        n_pairs = log_E.size
        # Weights of each pair's derivatives: E(T) share at T; F shares at t_x (+) and T (-).
        b_E = np.bincount(at_T, weights=w * p0, minlength=n_pairs)
        b_F = (np.bincount(at_t_x, weights=w * p1, minlength=n_pairs)
               - np.bincount(at_T, weights=w * p2, minlength=n_pairs))
        grad = d_E @ b_E + d_F @ b_F
        grad += np.array([w_u @ dr_u + np.log(alpha), r / alpha,
                          np.log(beta) + (_dot(w, p1) - _dot(w, p2)) / s, s / beta])
    return _penalised(value, -grad, theta, penalizer)


def pareto_nbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-history Pareto/NBD log-likelihood and ln P(alive), at parameters (r, alpha, s, beta).

    ``P(alive) = E(T) / [E(T) + s / (r + s + x) A_0]``: Fader & Hardie's note,
    equation (37), lifetimes' ``conditional_probability_alive``.
    """
    theta = np.asarray(params, dtype=float)
    r, alpha, s, beta = theta
    x, t_x, T = (np.asarray(a, dtype=float) for a in (x, t_x, T))
    n = x.size
    with np.errstate(all="ignore"):
        log_E, log_F, _, _ = _pareto_nbd_pair_terms(
            theta, np.concatenate([x, x]), np.concatenate([t_x, T]), gradient=False)
        log_mix, p0, _, _, _ = _pareto_nbd_mix(log_E[n:], log_F[:n], log_F[n:], np.log(s))
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + log_mix
    return ll, np.log(p0)
