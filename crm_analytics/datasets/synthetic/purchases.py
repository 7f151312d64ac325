"""Purchases: BG/NBD purchase times and dropout, Gamma-Gamma basket totals split
into 1-3 lines, refunds, and the transactions table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.datasets.synthetic.customers import _Customers
from crm_analytics.datasets.synthetic.ids import _format_ids
from crm_analytics.datasets.synthetic.params import _SECONDS_PER_WEEK, _Window
from crm_analytics.datasets.synthetic.vocab import CATEGORIES, CHANNELS


@dataclass
class _Purchases:
    """Purchase events (baskets) and their lines."""

    n_repeat: np.ndarray  # per customer
    dead: np.ndarray  # per customer
    death_s: np.ndarray  # per customer, seconds after start (valid where dead)
    basket_cust: np.ndarray  # per basket
    basket_s: np.ndarray  # per basket
    line_cust: np.ndarray  # per line (refunds included, after the purchase lines)
    line_s: np.ndarray
    line_cents: np.ndarray  # negative for refunds
    line_qty: np.ndarray
    line_cat: np.ndarray
    line_chan: np.ndarray


def _simulate_purchases(
    rng: np.random.Generator, cust: _Customers, cfg: dict[str, Any], window: _Window
) -> _Purchases:
    n = len(cust)
    t0 = cust.t0_s / _SECONDS_PER_WEEK
    span = window.horizon_s / _SECONDS_PER_WEEK - t0
    # While alive a customer buys as a Poisson process; n_window is how many
    # purchases that process puts in (t0, end]. Dropout happens after the
    # J-th repeat purchase, J ~ Geometric(p), so min(n_window, J) are observed.
    n_window = rng.poisson(cust.lam * span)
    j_drop = rng.geometric(np.clip(cust.p_drop, 1e-12, 1.0))
    k = np.minimum(n_window, j_drop)
    dead = j_drop <= n_window
    # The first k of n_window uniform order statistics on (0, span] without
    # drawing all n_window of them: U_(i) = S_i / S_(N+1), S partial sums of
    # Exp(1); S_(N+1) - S_k ~ Gamma(N + 1 - k).
    cust_of = np.repeat(np.arange(n), k)
    csum = np.concatenate(([0.0], np.cumsum(rng.standard_exponential(int(k.sum())))))
    ends = np.cumsum(k)
    before = csum[ends - k]
    seg_cum = csum[1:] - before[cust_of]
    seg_sum = csum[ends] - before
    scale = span / (seg_sum + rng.standard_gamma(n_window - k + 1.0))
    repeat_s = np.floor((t0[cust_of] + seg_cum * scale[cust_of]) * _SECONDS_PER_WEEK)
    repeat_s = np.clip(repeat_s.astype(np.int64), cust.t0_s[cust_of] + 1, window.horizon_s)
    death_s = np.full(n, -1, dtype=np.int64)
    death_s[dead] = repeat_s[ends[dead] - 1]  # a dead customer's last purchase

    basket_cust = np.concatenate((np.arange(n), cust_of))
    basket_s = np.concatenate((cust.t0_s, repeat_s))
    nb = basket_cust.size
    # Gamma-Gamma: the basket total is the purchase amount.
    total_cents = np.rint(rng.gamma(cfg["p"], 1.0 / cust.nu[basket_cust]) * 100).astype(np.int64)

    line_probs = np.asarray(cfg["basket_line_probs"], dtype=float)
    n_lines = 1 + rng.choice(line_probs.size, size=nb, p=line_probs / line_probs.sum())
    total_cents = np.maximum(total_cents, n_lines)
    line_basket = np.repeat(np.arange(nb), n_lines)
    line_cents = _split_cents(rng, total_cents, n_lines, line_basket)
    line_cust = basket_cust[line_basket]
    business = cust.business[line_cust]
    line_qty = 1 + rng.poisson(np.where(business, 2.0, 0.5))
    line_cat = _draw_rows(rng, np.cumsum(cust.cat_mix, axis=1), line_cust)
    line_chan = _draw_rows(rng, np.cumsum(cust.chan_mix, axis=1), basket_cust)[line_basket]
    line_s = basket_s[line_basket]

    # Refunds: part or all of a basket's first line, on a later day, if before end.
    first_line = np.concatenate(([0], np.cumsum(n_lines)[:-1]))
    refunded = first_line[rng.random(nb) < cfg["refund_rate"]]
    delay_s = 86_400 * (1.0 + rng.exponential(cfg["refund_delay_days_mean"], refunded.size))
    refund_s = line_s[refunded] + delay_s.astype(np.int64)
    full = rng.random(refunded.size) < 0.6
    frac = np.where(full, 1.0, rng.uniform(0.2, 0.8, refunded.size))
    refund_cents = -np.maximum(1, np.rint(line_cents[refunded] * frac)).astype(np.int64)
    refund_qty = np.maximum(1, np.floor(line_qty[refunded] * frac)).astype(np.int64)
    keep = refund_s <= window.horizon_s
    refunded = refunded[keep]

    return _Purchases(
        n_repeat=k,
        dead=dead,
        death_s=death_s,
        basket_cust=basket_cust,
        basket_s=basket_s,
        line_cust=np.concatenate((line_cust, line_cust[refunded])),
        line_s=np.concatenate((line_s, refund_s[keep])),
        line_cents=np.concatenate((line_cents, refund_cents[keep])),
        line_qty=np.concatenate((line_qty, refund_qty[keep])),
        line_cat=np.concatenate((line_cat, line_cat[refunded])),
        line_chan=np.concatenate((line_chan, line_chan[refunded])),
    )


def _split_cents(
    rng: np.random.Generator, total: np.ndarray, n_lines: np.ndarray, line_basket: np.ndarray
) -> np.ndarray:
    """Split integer basket totals into n_lines positive parts that add up exactly."""
    w = rng.gamma(2.0, size=line_basket.size)
    cum = np.cumsum(w)
    ends = np.cumsum(n_lines)
    before = np.concatenate(([0.0], cum))[ends - n_lines]
    seg_cum = cum - before[line_basket]
    seg_sum = (cum[ends - 1] - before)[line_basket]
    spare = (total - n_lines)[line_basket]  # one cent is reserved per line
    upper = np.floor(spare * seg_cum / seg_sum).astype(np.int64)
    upper[ends - 1] = total - n_lines  # float rounding must not lose the last cent
    lower = np.concatenate(([0], upper[:-1]))
    lower[ends - n_lines] = 0
    return 1 + upper - lower


def _draw_rows(rng: np.random.Generator, cum_probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per entry of ``rows`` from that row's cumulative probabilities."""
    u = rng.random(rows.size)
    out = (u[:, None] > cum_probs[rows]).sum(axis=1)
    return np.minimum(out, cum_probs.shape[1] - 1)


def _transactions_order(p: _Purchases) -> np.ndarray:
    return np.lexsort((np.arange(p.line_s.size), p.line_cust, p.line_s))


def _transactions_frame(p: _Purchases, ids: np.ndarray, window: _Window) -> pd.DataFrame:
    order = _transactions_order(p)
    m = order.size
    return pd.DataFrame(
        {
            "transaction_id": _format_ids("T", np.arange(1, m + 1), max(7, len(str(m)))),
            "customer_id": ids[p.line_cust[order]],
            "transaction_date": window.to_datetime(p.line_s[order]),
            "amount": p.line_cents[order] / 100.0,
            "quantity": p.line_qty[order].astype(np.int64),
            "product_category": np.array(CATEGORIES)[p.line_cat[order]],
            "channel": np.array(CHANNELS)[p.line_chan[order]],
        }
    )
