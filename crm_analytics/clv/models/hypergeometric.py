"""The Gaussian hypergeometric function ``2F1(1, P; P + Q; z)`` with its parameter derivatives.

Written by hand because no library we use gives them: SciPy's ``hyp2f1`` has no
derivatives with respect to its parameters, and these have no closed form. The
Pareto/NBD likelihood needs them (its gradient in ``r`` and ``s``), so the
function and all three derivatives are summed here from one convergent power
series; the derivatives are the term-wise derivatives of that series, exact up to
its truncation, not finite differences.

``2F1(1, P; P + Q; z) = sum_n c_n z^n`` with ``c_n = (P)_n / (P + Q)_n``, for
``0 <= z < 1`` and ``P, Q > 0``. Each coefficient is the previous one times
``(P + k) / (P + Q + k) < 1``, so the terms are below ``z^n`` and the number of
terms is chosen per argument from that bound (10 for ``z = 0.01``, 19 for
``z = 0.1``, ~430 for ``z = 0.9``, fewer when ``Q`` is large). It is the
Euler-transformed form of the ``2F1(r + s + x, s + 1; r + s + x + 1; z)`` of Fader
& Hardie's Pareto/NBD note, whose terms shrink more slowly (see :mod:`.likelihoods`).

The coefficients depend on ``P`` and ``Q`` only, the powers on ``z`` only. In the
likelihood many arguments share ``P`` and ``Q`` (one pair per distinct frequency),
so the coefficient tables -- and their derivatives -- are built once per
``(P, Q)`` *group* and each argument only multiplies its powers of ``z`` into them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_TERMS", "hyp2f1_unit_a", "terms_needed"]

#: Arguments that would need more terms than this (``z`` above about 0.999) get NaN.
MAX_TERMS = 100_000
# Relative accuracy aimed at (of the function; the derivatives' bound is looser).
_TOLERANCE = 1e-17
# Most elements of a (arguments x terms) or (groups x terms) array: ~4 MB per array.
_CHUNK = 1 << 19


def terms_needed(P: np.ndarray, Q: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Terms of the series that bring the remainders below the tolerance, per argument.

    The remainder after the term ``t_N`` is below ``t_N z / (1 - z)`` (every ratio of
    consecutive terms is below ``z``); ``N + 1``, ``1 + 1 / P`` and a second
    ``1 / (1 - z)`` bound the factors the derivatives add (``n`` for ``z``,
    ``psi(P + Q) - psi(P) <= 1 / P + ...`` for ``P``). The term itself is bounded by
    ``t_N <= z^N ((P + Q) / (P + Q + N))^Q`` (since ``ln(1 - u) <= -u`` and
    ``sum_{k<N} 1 / (P + Q + k) >= ln((P + Q + N) / (P + Q))``), which counts far fewer
    terms than ``z^N`` alone for a large ``Q`` (a frequent buyer's ``r + x``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        log_z = np.log(z)
        target = np.log(_TOLERANCE) + 2.0 * np.log1p(-z) - np.log1p(1.0 / P)

        def excess(n: np.ndarray) -> np.ndarray:  # > 0 while N = n terms are too few
            return n * log_z - Q * np.log1p(n / (P + Q)) + np.log(n + 1.0) - target

        # First the count for t_N <= z^N, a fixed point approached from below ...
        n = np.ones_like(z)
        for _ in range(3):
            n = np.maximum((target - np.log(n + 1.0)) / log_z, 1.0)
        n = np.where(z > 0, np.ceil(n), 1.0)
        # ... then the Q factor; each step keeps the bound (kept only where it holds).
        m = n
        for _ in range(4):
            m = np.maximum(np.ceil((target - np.log(m + 1.0) + Q * np.log1p(m / (P + Q))) / log_z), 1.0)
            n = np.where((m < n) & (excess(m) <= 0), m, n)
        n = np.where(z > 0, n, 1.0)
    return np.where(np.isfinite(n), n + 1.0, np.inf)


def hyp2f1_unit_a(
    P: np.ndarray, Q: np.ndarray, z: np.ndarray, group: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``H = 2F1(1, P; P + Q; z)`` and ``dH/dP``, ``dH/dQ``, ``dH/dz``, for each ``z``.

    Parameters
    ----------
    P, Q : numpy.ndarray
        Positive. One per argument (broadcast with ``z``), or one per group if
        ``group`` is given.
    z : numpy.ndarray
        Arguments in ``[0, 1)``.
    group : numpy.ndarray of int, optional
        For each argument, the index of its ``(P[g], Q[g])``; arguments of one
        group share the coefficient tables.

    Returns
    -------
    H, H_P, H_Q, H_z : numpy.ndarray
        Shaped as ``z``; NaN where the series would need more than
        :data:`MAX_TERMS` terms.

    Examples
    --------
    >>> from scipy.special import hyp2f1
    >>> H, H_P, H_Q, H_z = hyp2f1_unit_a(np.array([1.5]), np.array([0.7]), np.array([0.6]))
    >>> bool(np.isclose(H[0], hyp2f1(1.0, 1.5, 2.2, 0.6), rtol=1e-14))
    True
    >>> bool(np.isclose(H_z[0], 1.5 / 2.2 * hyp2f1(2.0, 2.5, 3.2, 0.6), rtol=1e-13))
    True
    """
    z = np.asarray(z, dtype=float)
    shape = z.shape
    z = z.ravel()
    if group is None:
        P, Q = (np.broadcast_to(np.asarray(a, dtype=float), shape).ravel() for a in (P, Q))
        (P, Q), group = _groups(P, Q)
    else:
        P, Q = np.asarray(P, dtype=float), np.asarray(Q, dtype=float)
        group = np.asarray(group).ravel()
    out = [np.full(z.size, np.nan) for _ in range(4)]
    n_terms = terms_needed(P[group], Q[group], z)
    length = np.where(n_terms <= MAX_TERMS, _round_up(n_terms), 0).astype(np.int64)
    index = np.empty(P.size, dtype=np.int64)
    lengths = np.flatnonzero(np.bincount(length, minlength=1))
    for n in lengths[lengths > 0]:  # 0: more than MAX_TERMS, left NaN
        rows = np.flatnonzero(length == n)
        used = np.flatnonzero(np.bincount(group[rows], minlength=P.size))
        step = max(1, _CHUNK // int(n))  # groups per table, arguments per sum
        for first in range(0, used.size, step):
            groups = used[first:first + step]
            block = rows if groups.size == used.size else rows[np.isin(group[rows], groups)]
            index[groups] = np.arange(groups.size)
            at = index[group[block]]
            tables = _coefficients(P[groups], Q[groups], int(n))
            for start in range(0, block.size, step):
                part = slice(start, start + step)
                values = _sum(tables, at[part], z[block[part]], int(n))
                for target, value in zip(out, values, strict=True):
                    target[block[part]] = value
    return tuple(a.reshape(shape) for a in out)  # type: ignore[return-value]


def _groups(P: np.ndarray, Q: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Distinct ``(P, Q)`` pairs and each argument's index among them."""
    pairs, index = np.unique(np.stack([P, Q], axis=1), axis=0, return_inverse=True)
    return (pairs[:, 0], pairs[:, 1]), index.ravel()


def _round_up(n: np.ndarray) -> np.ndarray:
    """``n`` rounded up to 4, 6, 8, 12, 16, 24, ... (powers of two and 1.5 times them)."""
    n = np.clip(n, 4.0, None)
    power = np.exp2(np.floor(np.log2(n)))
    return np.where(n <= power, power, np.where(n <= 1.5 * power, 1.5 * power, 2.0 * power))


def _coefficients(P: np.ndarray, Q: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per group, the coefficients of ``z^0 ... z^n`` in ``H``, ``dH/dP``, ``dH/dQ`` and of
    ``z^0 ... z^(n-1)`` in ``dH/dz``.

    ``c_0 = 1``, ``c_{k+1} = c_k q_k`` with ``q_k = (P + k) / (P + Q + k)``, hence
    ``dc_{k+1}/dP = c_{k+1} sum_{j<=k} Q / ((P + j)(P + Q + j))``,
    ``dc_{k+1}/dQ = -c_{k+1} sum_{j<=k} 1 / (P + Q + j)``, and ``d(c_k z^k)/dz = k c_k z^(k-1)``.
    """
    k = np.arange(n, dtype=float)
    a = P[:, None] + k
    inv_c = 1.0 / (a + Q[:, None])
    q = a * inv_c
    ones, zeros = np.ones((P.size, 1)), np.zeros((P.size, 1))
    c = np.hstack([ones, np.cumprod(q, axis=1)])
    c_P = c * np.hstack([zeros, np.cumsum((1.0 - q) / a, axis=1)])  # (1 - q) / a = Q / (a (a + Q))
    c_Q = -c * np.hstack([zeros, np.cumsum(inv_c, axis=1)])
    c_z = c[:, 1:] * (k + 1.0)
    return c, c_P, c_Q, c_z


def _sum(tables: tuple[np.ndarray, ...], at: np.ndarray, z: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """The four series at arguments ``z`` whose coefficient rows are ``tables[at]``."""
    powers = np.empty((z.size, n + 1))
    powers[:, 0] = 1.0
    powers[:, 1] = z
    done = 2
    while done <= n:  # z^0..z^(2m-1) from z^0..z^(m-1) in log2(n) steps
        m = min(done, n + 1 - done)
        np.multiply(powers[:, :m], powers[:, done - 1:done] * z[:, None], out=powers[:, done:done + m])
        done += m
    c, c_P, c_Q, c_z = tables
    return (np.einsum("ij,ij->i", c[at], powers), np.einsum("ij,ij->i", c_P[at], powers),
            np.einsum("ij,ij->i", c_Q[at], powers), np.einsum("ij,ij->i", c_z[at], powers[:, :n]))
