"""Customers: needs and service groups, latent BG/NBD and Gamma-Gamma parameters,
observed attributes (name, e-mail, phone, country, firmographics), planted shared
contacts, and the activity-free prospects that carry customer-row defects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.datasets.synthetic.params import _Window
from crm_analytics.datasets.synthetic.vocab import (
    _COUNTRIES,
    _COUNTRY_CODES,
    _COUNTRY_REGION,
    _COUNTRY_WEIGHT,
    _FIRST_NAMES,
    _INDUSTRY_WEIGHT,
    _INDUSTRY_WORDS,
    _LAST_NAMES,
    INDUSTRIES,
    REGIONS,
)

# Needs groups: product-category spend mix (CATEGORIES order), channel mix
# (CHANNELS order) and a multiplicative tilt of the region shares (REGIONS order).
_NEEDS_CATEGORY_MIX = np.array(
    [
        [0.70, 0.05, 0.10, 0.10, 0.05],  # 0 hardware-heavy
        [0.03, 0.47, 0.05, 0.02, 0.43],  # 1 software + cloud
        [0.08, 0.07, 0.75, 0.05, 0.05],  # 2 services
        [0.07, 0.03, 0.05, 0.82, 0.03],  # 3 supplies
    ]
)
_NEEDS_CHANNEL_MIX = np.array(
    [
        [0.20, 0.40, 0.30, 0.10],
        [0.70, 0.10, 0.15, 0.05],
        [0.10, 0.60, 0.10, 0.20],
        [0.50, 0.05, 0.15, 0.30],
    ]
)
_NEEDS_REGION_TILT = np.array(
    [
        [1.6, 0.8, 0.6],
        [0.8, 1.6, 1.0],
        [1.2, 1.0, 0.8],
        [0.7, 0.9, 2.0],
    ]
)
_NEEDS_LABELS = ("hardware", "software_cloud", "services", "supplies")


@dataclass
class _Customers:
    """Per-customer latent and observed attributes as parallel arrays."""

    index: np.ndarray  # global 0-based customer number (phone uniqueness)
    t0_s: np.ndarray  # first purchase, seconds after start
    business: np.ndarray
    poor: np.ndarray
    needs_group: np.ndarray
    cat_mix: np.ndarray  # (n, len(CATEGORIES))
    chan_mix: np.ndarray  # (n, len(CHANNELS))
    lam: np.ndarray
    p_drop: np.ndarray
    b_drop: np.ndarray
    nu: np.ndarray
    attrs: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.t0_s.size)


def _draw_customers(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], window: _Window, first_index: int
) -> _Customers:
    # Sorted acquisition times make customer numbers follow creation order, as in a CRM.
    t0_s = np.sort(rng.integers(0, window.acquisition_s + 1, size=n))
    business = rng.random(n) < cfg["share_business"]
    poor = rng.random(n) < cfg["share_poor_service"]
    shares = np.asarray(cfg["needs_group_shares"], dtype=float)
    needs = rng.choice(len(shares), size=n, p=shares / shares.sum())
    conc = float(cfg["mix_concentration"])
    cat_mix = _dirichlet_rows(rng, conc * _NEEDS_CATEGORY_MIX[needs])
    chan_mix = _dirichlet_rows(rng, conc * _NEEDS_CHANNEL_MIX[needs])
    lam = rng.gamma(cfg["r"], 1.0 / cfg["alpha"], size=n)
    b_drop = np.where(poor, cfg["b_poor"], cfg["b"])
    p_drop = rng.beta(cfg["a"], b_drop)
    nu = rng.gamma(cfg["q"], 1.0 / cfg["v"], size=n)
    index = np.arange(first_index, first_index + n)
    attrs = _draw_attributes(rng, index, business, needs, cfg)
    return _Customers(
        index, t0_s, business, poor, needs, cat_mix, chan_mix, lam, p_drop, b_drop, nu, attrs
    )


def _dirichlet_rows(rng: np.random.Generator, concentration: np.ndarray) -> np.ndarray:
    # numpy's dirichlet takes one alpha vector; normalised gammas give one per row.
    g = rng.gamma(concentration)
    return g / g.sum(axis=1, keepdims=True)


def _draw_attributes(
    rng: np.random.Generator,
    index: np.ndarray,
    business: np.ndarray,
    needs: np.ndarray,
    cfg: dict[str, Any],
) -> dict[str, np.ndarray]:
    n = index.size
    region_p = np.bincount(_COUNTRY_REGION, weights=_COUNTRY_WEIGHT, minlength=3)
    region = np.empty(n, dtype=np.int64)
    for g in range(len(_NEEDS_REGION_TILT)):
        rows = np.flatnonzero(needs == g)
        p = region_p * _NEEDS_REGION_TILT[g]
        region[rows] = rng.choice(3, size=rows.size, p=p / p.sum())
    country = np.empty(n, dtype=np.int64)
    for k in range(3):
        rows = np.flatnonzero(region == k)
        members = np.flatnonzero(np.equal(_COUNTRY_REGION, k))
        w = _COUNTRY_WEIGHT[members]
        country[rows] = members[rng.choice(members.size, size=rows.size, p=w / w.sum())]
    meta = list(_COUNTRIES.values())

    industry = rng.choice(len(INDUSTRIES), size=n, p=_INDUSTRY_WEIGHT)
    employees = np.maximum(
        1, np.rint(rng.lognormal(np.log(cfg["employees_median"]), cfg["employees_log_sd"], n))
    ).astype(np.int64)
    revenue = employees * rng.lognormal(
        np.log(cfg["revenue_per_employee_median"]), cfg["revenue_log_sd"], n
    )
    revenue = np.round(revenue, -3)

    first = _FIRST_NAMES[rng.integers(0, _FIRST_NAMES.size, n)]
    last = _LAST_NAMES[rng.integers(0, _LAST_NAMES.size, n)]
    suffix = np.array([m[5] for m in meta])[country]
    word = _INDUSTRY_WORDS[industry]
    # Public bodies and schools carry no legal-form suffix.
    no_suffix = np.isin(
        industry, [INDUSTRIES.index("Public sector"), INDUSTRIES.index("Education")]
    )
    company = _cat(last, " ", word)
    company = np.where(no_suffix, company, _cat(company, " ", suffix))
    person = _cat(first, " ", last)
    name = np.where(business, company, person)

    local = np.char.lower(_cat(first, ".", last))
    slug = np.char.lower(_cat(last, word))
    tld = np.array([m[6] for m in meta])[country]
    provider = np.array([m[7] for m in meta])[country]
    domain = np.where(business, _cat(slug, ".", tld), provider)
    # Collisions get the customer number appended; base local parts hold no
    # digits, so suffixed ones cannot collide with them.
    dup = pd.Series(_cat(local, "@", domain)).duplicated().to_numpy()
    local = np.where(dup, _cat(local, index.astype(str)), local)
    email = _cat(local, "@", domain)

    calling = np.array([m[4] for m in meta])[country]
    three_digit_area = np.isin(_COUNTRY_CODES[country], ["US", "CA"])
    area = np.where(three_digit_area, rng.integers(201, 990, n), rng.integers(20, 99, n)).astype(
        str
    )
    # An affine bijection of [0, 10**7) gives distinct, random-looking
    # subscriber numbers, so no phone is shared unless planted.
    subscriber = (index.astype(np.int64) * 3_932_177 + 1_234_567) % 10_000_000
    phone = _cat("+", calling, " ", area, " ", np.char.zfill(subscriber.astype(str), 7))

    return {
        "name": name,
        "email": email,
        "phone": phone,
        "country": _COUNTRY_CODES[country],
        "region": np.array(REGIONS)[region],
        "industry": np.array(INDUSTRIES)[industry],
        "employees": employees,
        "annual_revenue": revenue,
        "opt_in": rng.random(n) < cfg["marketing_opt_in_rate"],
    }


def _cat(*parts: Any) -> np.ndarray:
    out = np.asarray(parts[0]).astype(str)
    for part in parts[1:]:
        out = np.char.add(out, np.asarray(part).astype(str))
    return out


def _plant_shared_contacts(
    rng: np.random.Generator, cust: _Customers, ids: np.ndarray, cfg: dict[str, Any]
) -> pd.DataFrame:
    n_pairs = int(round(cfg["shared_contact_rate"] * len(cust) / 2))
    if n_pairs == 0:
        return pd.DataFrame({"customer_id_a": [], "customer_id_b": [], "field": []}, dtype="str")
    # Disjoint pairs, so every planted link is exactly one pair.
    chosen = rng.choice(len(cust), size=2 * n_pairs, replace=False)
    a, b = np.sort(chosen.reshape(n_pairs, 2), axis=1).T
    fields = np.where(rng.random(n_pairs) < 0.5, "email", "phone")
    for name in ("email", "phone"):
        rows = fields == name
        cust.attrs[name][b[rows]] = cust.attrs[name][a[rows]]
    order = np.argsort(a, kind="stable")
    return pd.DataFrame(
        {"customer_id_a": ids[a][order], "customer_id_b": ids[b][order], "field": fields[order]}
    )


def _customers_frame(cust: _Customers, ids: np.ndarray, window: _Window) -> pd.DataFrame:
    at = cust.attrs
    business = cust.business
    return pd.DataFrame(
        {
            "customer_id": ids,
            "name": at["name"],
            "email": at["email"],
            "phone": at["phone"],
            "country": at["country"],
            "region": at["region"],
            "industry": pd.array(np.where(business, at["industry"], None), dtype="str"),
            "employees": pd.array(np.where(business, at["employees"], None), dtype="Int64"),
            "annual_revenue": np.where(business, at["annual_revenue"], np.nan),
            "customer_type": np.where(business, "business", "consumer"),
            "created_at": window.to_datetime(cust.t0_s),
            "marketing_opt_in": at["opt_in"],
        }
    )


def _draw_prospects(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], window: _Window, first_index: int
) -> _Customers:
    """Customers with no activity at all: the only carriers of customer-row defects."""
    cust = _draw_customers(rng, n, cfg, window, first_index)
    # Prospects sign up any time in the window, not only in the acquisition period.
    cust.t0_s = np.sort(rng.integers(0, window.horizon_s + 1, size=n))
    return cust


def _n_prospects(n_customers: int, dirty_fraction: float) -> int:
    if dirty_fraction <= 0:
        return 0
    # Enough activity-free customers to carry every customer-level defect.
    return int(math.ceil(1.25 * dirty_fraction * n_customers / (1.0 - dirty_fraction))) + 2
