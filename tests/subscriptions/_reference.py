"""Textbook survival statistics in plain numpy: the independent check of crm_analytics.subscriptions.

Written from the formulas, not from statsmodels or the package (which uses
statsmodels), so that the tests compare two separate computations. Notation:
``t_j`` the distinct times, ``n_j`` the number at risk just before ``t_j``
(lifetime >= t_j), ``d_j`` the events at ``t_j``.

Kaplan-Meier (Kaplan & Meier 1958; Klein & Moeschberger 2003, sec. 4.2)
    ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)``.
    Greenwood: ``Var S(t) = S(t)^2 v(t)``, ``v(t) = sum_{t_j <= t} d_j / (n_j (n_j - d_j))``.
    Log(-log) ("exponential Greenwood") band, K&M sec. 4.3 (R's
    ``conf.type = "log-log"``): ``log(-log S)`` has standard error
    ``sqrt(v) / |log S|``, so the band is ``S ** exp(-/+ z sqrt(v) / log S)``
    with ``z`` the ``1 - alpha/2`` normal quantile.

Log-rank test, k groups (Mantel 1966; K&M sec. 7.3)
    At each event time, group ``g`` has ``n_gj`` at risk and ``d_gj`` events;
    ``E_gj = d_j n_gj / n_j``. ``U_g = sum_j (d_gj - E_gj)``. The hypergeometric
    covariance ``V_gh = sum_j d_j (n_j - d_j) / (n_j - 1) * n_gj / n_j * (1[g = h] - n_hj / n_j)``.
    ``chi2 = U' V^- U`` (any generalised inverse; V has rank k - 1: here the last
    group is dropped and the rest solved), k - 1 degrees of freedom.

Cox proportional hazards (Cox 1972; K&M sec. 8.2; Therneau & Grambsch 2000, sec. 3.3)
    With ``w_i = exp(x_i' b)`` and, over the risk set R_j, ``S0 = sum w_i``,
    ``S1 = sum w_i x_i``, ``S2 = sum w_i x_i x_i'``; ``s_j`` the sum of the ``x_i``
    of the ``d_j`` events at ``t_j``:
    Breslow ties: ``l(b) = sum_j [s_j' b - d_j log S0]``, score
    ``sum_j [s_j - d_j S1/S0]``, information ``sum_j d_j [S2/S0 - (S1/S0)(S1/S0)']``.
    Efron ties: the same with the ``d_j`` copies replaced by ``r = 0 .. d_j - 1``
    with ``Sk(r) = Sk - (r / d_j) * (the Sk of the events alone)``:
    ``l(b) = sum_j [s_j' b - sum_r log S0(r)]``, etc.
    Newton-Raphson ``b <- b + I(b)^-1 U(b)`` from ``b = 0``, step halving if
    ``l`` falls; standard errors ``sqrt(diag I(b)^-1)`` (observed information).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def kaplan_meier(time, event, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Product-limit estimate at every distinct time (events and censorings), Greenwood, log-log band."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    times = np.unique(time)
    at_risk = np.array([(time >= t).sum() for t in times], float)
    events = np.array([(event & (time == t)).sum() for t in times], float)
    surv = np.cumprod(1 - events / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.cumsum(events / (at_risk * (at_risk - events)))  # inf once S reaches 0
        log_s = np.log(surv)
        half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(v) / log_s  # negative where 0 < S < 1
        lower, upper = surv ** np.exp(-half), surv ** np.exp(half)
    inside = (surv > 0) & (surv < 1)
    lower, upper = np.where(inside, lower, surv), np.where(inside, upper, surv)  # S = 1 or 0: the point
    return {"time": times, "at_risk": at_risk, "events": events, "survival": surv,
            "std_error": surv * np.sqrt(v), "ci_lower": lower, "ci_upper": upper}


def logrank(time, event, group) -> tuple[float, int, float]:
    """k-sample log-rank test: ``(chi2, df, p_value)``."""
    time, event, group = np.asarray(time, float), np.asarray(event, bool), np.asarray(group)
    labels = np.unique(group)
    k = len(labels)
    u, cov = np.zeros(k), np.zeros((k, k))
    for t in np.unique(time[event]):
        risk = time >= t
        n_g = np.array([(risk & (group == g)).sum() for g in labels], float)
        d_g = np.array([(event & (time == t) & (group == g)).sum() for g in labels], float)
        n, d = n_g.sum(), d_g.sum()
        u += d_g - d * n_g / n
        if n > 1:
            p = n_g / n
            cov += d * (n - d) / (n - 1) * (np.diag(p) - np.outer(p, p))
    chi2 = float(u[:-1] @ np.linalg.solve(cov[:-1, :-1], u[:-1]))
    return chi2, k - 1, float(stats.chi2.sf(chi2, k - 1))


def cox_loglik(x, time, event, beta, ties: str = "breslow") -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and observed information at ``beta``."""
    x, time, event = np.asarray(x, float), np.asarray(time, float), np.asarray(event, bool)
    beta = np.asarray(beta, float)
    w = np.exp(x @ beta)
    p = x.shape[1]
    ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for t in np.unique(time[event]):
        risk, dead = time >= t, event & (time == t)
        d = dead.sum()
        s0, s1, s2 = (w[risk].sum(), w[risk] @ x[risk], (x[risk].T * w[risk]) @ x[risk])
        if ties == "efron":  # r / d_j of the events' own sums taken out, r = 0 .. d_j - 1
            f = np.arange(d) / d
            e0, e1, e2 = w[dead].sum(), w[dead] @ x[dead], (x[dead].T * w[dead]) @ x[dead]
            s0, s1, s2 = s0 - f * e0, s1 - f[:, None] * e1, s2 - f[:, None, None] * e2
        else:  # Breslow: the same sums d_j times
            s0, s1, s2 = np.full(d, s0), np.tile(s1, (d, 1)), np.tile(s2, (d, 1, 1))
        mean = s1 / s0[:, None]
        ll += x[dead].sum(0) @ beta - np.log(s0).sum()
        score += x[dead].sum(0) - mean.sum(0)
        info += (s2 / s0[:, None, None]).sum(0) - mean.T @ mean
    return float(ll), score, info


def cox(x, time, event, ties: str = "breslow", tol: float = 1e-12,
        max_iter: int = 100) -> dict[str, np.ndarray | float]:
    """Cox model by Newton-Raphson: ``coef``, ``std_error``, ``loglik``, ``iterations``."""
    beta = np.zeros(np.asarray(x).shape[1])
    ll, score, info = cox_loglik(x, time, event, beta, ties)
    iterations = 0
    while True:
        iterations += 1
        if iterations > max_iter:
            raise RuntimeError(f"Newton-Raphson did not converge in {max_iter} iterations")
        step = np.linalg.solve(info, score)
        while True:  # halve the step until the likelihood does not fall
            new = cox_loglik(x, time, event, beta + step, ties)
            if new[0] >= ll - 1e-12 or np.abs(step).max() < tol:
                break
            step = step / 2
        beta = beta + step
        ll, score, info = new
        if np.abs(step).max() < tol:
            break
    return {"coef": beta, "std_error": np.sqrt(np.diag(np.linalg.inv(info))), "loglik": ll,
            "iterations": iterations}
