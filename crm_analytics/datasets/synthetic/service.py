"""Service tickets over each customer's active life: priorities and SLAs, breaches,
open backlog, complaints and reopenings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.datasets.synthetic.customers import _Customers
from crm_analytics.datasets.synthetic.ids import _format_ids
from crm_analytics.datasets.synthetic.params import _SECONDS_PER_WEEK, _Window
from crm_analytics.datasets.synthetic.purchases import _draw_rows, _Purchases
from crm_analytics.datasets.synthetic.vocab import (
    TICKET_CATEGORIES,
    TICKET_CHANNELS,
    TICKET_PRIORITIES,
)

_SLA_HOURS = np.array([4, 8, 24, 72])
_PRIORITY_WEIGHT = np.array([0.05, 0.15, 0.45, 0.35])


@dataclass
class _Tickets:
    """The tickets table plus the arrays the surveys depend on (rows in table order)."""

    frame: pd.DataFrame
    cust: np.ndarray
    resolved_s: np.ndarray  # planned resolution, seconds after start
    still_open: np.ndarray
    breached: np.ndarray
    life_start: np.ndarray  # per customer: active life, seconds after start
    life_end: np.ndarray


def _simulate_tickets(
    rng: np.random.Generator,
    cust: _Customers,
    purchases: _Purchases,
    ids: np.ndarray,
    cfg: dict[str, Any],
    window: _Window,
) -> _Tickets:
    """Simulate tickets over each customer's active life."""
    grace_s = int(cfg["ticket_grace_days"] * 86_400)
    life_start = cust.t0_s
    life_end = np.where(
        purchases.dead, np.minimum(purchases.death_s + grace_s, window.horizon_s), window.horizon_s
    )
    life_weeks = (life_end - life_start) / _SECONDS_PER_WEEK
    per_year = np.where(cust.business, cfg["ticket_rate_business"], cfg["ticket_rate_consumer"])
    per_year = per_year * np.where(cust.poor, cfg["ticket_rate_poor_multiplier"], 1.0)
    count = rng.poisson(per_year / 52.1775 * life_weeks)
    c = np.repeat(np.arange(len(cust)), count)
    m = c.size
    opened = life_start[c] + np.floor(rng.random(m) * (life_end - life_start)[c]).astype(np.int64)
    priority = rng.choice(4, size=m, p=_PRIORITY_WEIGHT)
    sla = _SLA_HOURS[priority]
    poor = cust.poor[c]
    breached = rng.random(m) < np.where(
        poor, cfg["sla_breach_prob_poor"], cfg["sla_breach_prob_good"]
    )
    # Resolution time as a multiple of the SLA: clear of the threshold on both
    # sides, so second rounding never flips the breach flag.
    multiple = np.where(breached, 1.05 + rng.lognormal(-0.3, 0.7, m), rng.uniform(0.2, 0.95, m))
    resolve_s = np.rint(sla * multiple * 3600).astype(np.int64)
    response_s = np.rint(rng.lognormal(np.log(0.15 * sla), 0.6) * 3600).astype(np.int64)
    response_s = np.clip(response_s, 60, resolve_s // 2)
    first_response = opened + response_s
    resolved = opened + resolve_s

    still_open = resolved > window.horizon_s
    # Backlog: besides tickets that cannot have closed yet, some recent ones
    # stay open, so about open_ticket_fraction of tickets are open at end.
    missing = int(round(cfg["open_ticket_fraction"] * m)) - int(still_open.sum())
    recent = np.flatnonzero(~still_open & (opened >= window.horizon_s - 120 * 86_400))
    if missing > 0 and recent.size:
        still_open[rng.choice(recent, size=min(missing, recent.size), replace=False)] = True

    complaint = rng.random(m) < np.where(
        breached, cfg["complaint_prob_breached"], cfg["complaint_prob"]
    )
    reopened = rng.random(m) < np.where(poor, cfg["reopen_prob_poor"], cfg["reopen_prob_good"])
    reopened &= ~still_open
    category = rng.choice(len(TICKET_CATEGORIES), size=m, p=[0.25, 0.35, 0.15, 0.15, 0.10])
    chan_p = np.where(
        cust.business[c][:, None], [[0.35, 0.25, 0.30, 0.10]], [[0.30, 0.30, 0.10, 0.30]]
    )
    channel = _draw_rows(rng, np.cumsum(chan_p, axis=1), np.arange(m))

    order = np.lexsort((np.arange(m), c, opened))
    c, opened = c[order], opened[order]
    first_response, resolved = first_response[order], resolved[order]
    still_open, breached = still_open[order], breached[order]
    nat = np.datetime64("NaT", "us")
    frame = pd.DataFrame(
        {
            "ticket_id": _format_ids("TK", np.arange(1, m + 1), max(7, len(str(m)))),
            "customer_id": ids[c],
            "opened_at": window.to_datetime(opened),
            "first_response_at": np.where(
                first_response > window.horizon_s, nat, window.to_datetime(first_response)
            ).astype("datetime64[us]"),
            "resolved_at": np.where(still_open, nat, window.to_datetime(resolved)).astype(
                "datetime64[us]"
            ),
            "priority": np.array(TICKET_PRIORITIES)[priority[order]],
            "category": np.array(TICKET_CATEGORIES)[category[order]],
            "channel": np.array(TICKET_CHANNELS)[channel[order]],
            "sla_hours": sla[order].astype(np.int64),
            "is_complaint": complaint[order],
            "reopened": reopened[order],
        }
    )
    return _Tickets(frame, c, resolved, still_open, breached, life_start, life_end)
