"""Survey answers: NPS with a known SLA-breach effect, CSAT after tickets, and an
ECSI questionnaire generated from the standard ECSI path model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.datasets.synthetic.customers import _Customers
from crm_analytics.datasets.synthetic.ids import _format_ids
from crm_analytics.datasets.synthetic.params import _Window
from crm_analytics.datasets.synthetic.service import _Tickets

#: Standardised ECSI path coefficients ``{(source, target): beta}``. "complaints"
#: follows the ECSI convention *complaint handling* (high = complaints handled
#: well), so satisfaction -> complaints is positive.
ECSI_PATHS: dict[tuple[str, str], float] = {
    ("image", "expectations"): 0.50,
    ("image", "satisfaction"): 0.20,
    ("image", "loyalty"): 0.20,
    ("expectations", "quality"): 0.55,
    ("expectations", "value"): 0.15,
    ("expectations", "satisfaction"): 0.10,
    ("quality", "value"): 0.50,
    ("quality", "satisfaction"): 0.35,
    ("value", "satisfaction"): 0.25,
    ("satisfaction", "complaints"): 0.50,
    ("satisfaction", "loyalty"): 0.45,
    ("complaints", "loyalty"): 0.15,
}
ECSI_CONSTRUCTS: tuple[str, ...] = (
    "image",
    "expectations",
    "quality",
    "value",
    "satisfaction",
    "complaints",
    "loyalty",
)
#: Standardised loadings of every ECSI item (item = loading * latent + noise).
ECSI_LOADINGS: dict[str, float] = {
    "image_1": 0.85,
    "image_2": 0.82,
    "image_3": 0.80,
    "expectations_1": 0.84,
    "expectations_2": 0.81,
    "expectations_3": 0.86,
    "quality_1": 0.88,
    "quality_2": 0.85,
    "quality_3": 0.83,
    "value_1": 0.87,
    "value_2": 0.84,
    "satisfaction_1": 0.90,
    "satisfaction_2": 0.86,
    "satisfaction_3": 0.84,
    "complaints_1": 0.85,
    "loyalty_1": 0.88,
    "loyalty_2": 0.83,
    "loyalty_3": 0.81,
}

_SURVEY_ITEMS: tuple[str, ...] = ("nps", "csat", *ECSI_LOADINGS)
_SURVEY_OF_ITEM = np.array(["nps", "csat"] + ["ecsi"] * len(ECSI_LOADINGS))
_SCALE_OF_ITEM = np.array([(0, 10), (1, 5)] + [(1, 10)] * len(ECSI_LOADINGS))


def _simulate_surveys(
    rng: np.random.Generator,
    rng_ecsi: np.random.Generator,
    cust: _Customers,
    tk: _Tickets,
    ids: np.ndarray,
    cfg: dict[str, Any],
    window: _Window,
) -> pd.DataFrame:
    parts = [
        _nps_answers(rng, cust, tk, cfg),
        _csat_answers(rng, tk, cfg, window),
        _ecsi_answers(rng_ecsi, cust, tk, cfg),
    ]
    c, t, item, score = (np.concatenate([p[k] for p in parts]) for k in range(4))
    order = np.lexsort((item, c, t))
    c, t, item, score = c[order], t[order], item[order], score[order]
    m = c.size
    return pd.DataFrame(
        {
            "response_id": _format_ids("R", np.arange(1, m + 1), max(7, len(str(m)))),
            "customer_id": ids[c],
            "responded_at": window.to_datetime(t),
            "survey": _SURVEY_OF_ITEM[item],
            "item": np.array(_SURVEY_ITEMS)[item],
            "score": score.astype(np.int64),
            "scale_min": _SCALE_OF_ITEM[item, 0].astype(np.int64),
            "scale_max": _SCALE_OF_ITEM[item, 1].astype(np.int64),
        }
    )


def _random_life_times(rng: np.random.Generator, tk: _Tickets, c: np.ndarray) -> np.ndarray:
    span = (tk.life_end - tk.life_start)[c]
    return tk.life_start[c] + np.floor(rng.random(c.size) * span).astype(np.int64)


def _nps_answers(
    rng: np.random.Generator, cust: _Customers, tk: _Tickets, cfg: dict[str, Any]
) -> tuple[np.ndarray, ...]:
    n = len(cust)
    answers = np.where(
        rng.random(n) < cfg["nps_response_rate"], 1 + rng.choice(3, size=n, p=[0.5, 0.3, 0.2]), 0
    )
    c = np.repeat(np.arange(n), answers)
    t = _random_life_times(rng, tk, c)
    breaches = _recent_breaches(tk, c, t, int(cfg["nps_breach_window_days"] * 86_400))
    mean = np.where(cust.poor[c], cfg["nps_mean_poor"], cfg["nps_mean_good"])
    noise = cfg["nps_sd"] * rng.standard_normal(c.size)
    latent = mean + noise + cfg["nps_breach_effect"] * breaches
    score = np.clip(np.rint(latent), 0, 10)
    return c, t, np.zeros(c.size, dtype=np.int64), score


def _recent_breaches(tk: _Tickets, c: np.ndarray, t: np.ndarray, window_s: int) -> np.ndarray:
    """Breached tickets of customer c resolved in [t - window_s, t), vectorised."""
    # (customer, time) packed into one sortable int64; 2**33 s is ~270 years.
    shift = np.int64(2**33)
    done = tk.breached & ~tk.still_open
    events = np.sort(tk.cust[done].astype(np.int64) * shift + tk.resolved_s[done])
    base = c.astype(np.int64) * shift
    hi = np.searchsorted(events, base + t, side="left")
    lo = np.searchsorted(events, base + t - window_s, side="left")
    return hi - lo


def _csat_answers(
    rng: np.random.Generator, tk: _Tickets, cfg: dict[str, Any], window: _Window
) -> tuple[np.ndarray, ...]:
    asked = np.flatnonzero(~tk.still_open & (rng.random(tk.cust.size) < cfg["csat_response_rate"]))
    t = tk.resolved_s[asked] + 300 + rng.exponential(86_400.0, asked.size).astype(np.int64)
    keep = t <= window.horizon_s
    asked, t = asked[keep], t[keep]
    latent = (
        cfg["csat_mean"]
        + cfg["csat_sd"] * rng.standard_normal(asked.size)
        + cfg["csat_breach_effect"] * tk.breached[asked]
    )
    score = np.clip(np.rint(latent), 1, 5)
    return tk.cust[asked], t, np.ones(asked.size, dtype=np.int64), score


def _ecsi_structure() -> tuple[np.ndarray, np.ndarray]:
    """Path matrix ``B[target, source]`` and the error variances that make every latent var 1."""
    k = len(ECSI_CONSTRUCTS)
    pos = {name: i for i, name in enumerate(ECSI_CONSTRUCTS)}
    B = np.zeros((k, k))
    for (source, target), coef in ECSI_PATHS.items():
        B[pos[target], pos[source]] = coef
    sigma = np.eye(k)
    psi = np.ones(k)
    # ECSI_CONSTRUCTS is in causal order, so each construct only needs the
    # covariances of the ones before it.
    for j in range(k):
        src = np.flatnonzero(B[j])
        if src.size == 0:
            continue
        beta = B[j, src]
        sigma[j, :j] = sigma[:j, j] = beta @ sigma[src, :j]
        psi[j] = 1.0 - beta @ sigma[np.ix_(src, src)] @ beta
    if (psi <= 0).any():
        raise AssertionError("ECSI path coefficients imply a latent variance above 1")
    return B, psi


def _ecsi_latents(rng: np.random.Generator, n: int) -> np.ndarray:
    B, psi = _ecsi_structure()
    eta = np.zeros((n, len(ECSI_CONSTRUCTS)))
    for j in range(len(ECSI_CONSTRUCTS)):
        eta[:, j] = eta @ B[j] + np.sqrt(psi[j]) * rng.standard_normal(n)
    return eta


def _ecsi_answers(
    rng: np.random.Generator, cust: _Customers, tk: _Tickets, cfg: dict[str, Any]
) -> tuple[np.ndarray, ...]:
    who = np.flatnonzero(rng.random(len(cust)) < cfg["ecsi_response_rate"])
    t = _random_life_times(rng, tk, who)
    eta = _ecsi_latents(rng, who.size)
    pos = {name: i for i, name in enumerate(ECSI_CONSTRUCTS)}
    scores = []
    for item, loading in ECSI_LOADINGS.items():
        latent = eta[:, pos[item.rsplit("_", 1)[0]]]
        x = loading * latent + math.sqrt(1.0 - loading**2) * rng.standard_normal(who.size)
        scores.append(np.clip(np.rint(cfg["ecsi_center"] + cfg["ecsi_spread"] * x), 1, 10))
    n_items = len(ECSI_LOADINGS)
    item = np.tile(np.arange(2, 2 + n_items), who.size)
    return np.repeat(who, n_items), np.repeat(t, n_items), item, np.column_stack(scores).ravel()
