"""Log-likelihoods of BG/NBD, MBG/NBD and Gamma-Gamma with their exact gradients.

Written by hand, on purpose: these are lifetimes' likelihoods term for term
(``BetaGeoFitter``, ``ModifiedBetaGeoFitter`` and ``GammaGammaFitter``
``._negative_log_likelihood``: same parametrisation in log parameters, same
time scaling, same penalty), but lifetimes differentiates them with autograd,
whose tracing makes one evaluation on a million customers cost a quarter of a
second and its Hessian several seconds. Here the terms that depend only on the
frequency (all the log-gamma and digamma functions) are computed once per
distinct frequency, the rest is plain vectorised NumPy, and the gradient is
analytic. ``tests/clv/test_models.py`` checks value and gradient against
lifetimes' autograd to 1e-9.

Each function takes log parameters, a penalizer and a prepared data dict, and
returns ``(mean negative log-likelihood + penalty, gradient in log parameters)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

__all__ = [
    "bgnbd_value_and_gradient",
    "gamma_gamma_value_and_gradient",
    "mbgnbd_value_and_gradient",
    "prepare_gamma_gamma",
    "prepare_purchases",
]


def prepare_purchases(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """Histories (time already scaled) with normalised weights and frequency codes.

    ``w_u`` is the total weight of each distinct frequency: every term that depends on
    the frequency only is summed per distinct frequency instead of per history.
    """
    w = w / w.sum()
    ux, inv = np.unique(x, return_inverse=True)
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
    ux, inv = np.unique(x, return_inverse=True)
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
