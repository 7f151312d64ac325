"""Generating parameters (:data:`DEFAULT_PARAMS`), their checks, and the observation window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError

#: Default parameters; ``generate(params=...)`` overrides any of them. Time unit: weeks.
DEFAULT_PARAMS: dict[str, Any] = {
    "time_unit": "W",
    # BG/NBD (good service group) and the poor group's Beta b.
    "r": 0.75,
    "alpha": 4.0,
    "a": 0.8,
    "b": 2.5,
    "b_poor": 0.9,
    # Gamma-Gamma spend per purchase (basket total), the same for every customer type.
    "p": 6.0,
    "q": 4.0,
    "v": 60.0,
    "share_business": 0.6,
    "share_poor_service": 0.2,
    "needs_group_shares": [0.30, 0.25, 0.25, 0.20],
    "mix_concentration": 40.0,
    "acquisition_fraction": 2.0 / 3.0,
    "marketing_opt_in_rate": 0.8,
    "shared_contact_rate": 0.01,
    "employees_median": 50.0,
    "employees_log_sd": 1.5,
    "revenue_per_employee_median": 120_000.0,
    "revenue_log_sd": 0.6,
    "basket_line_probs": [0.85, 0.10, 0.05],
    "refund_rate": 0.02,
    "refund_delay_days_mean": 14.0,
    # Tickets, per year of active life; active life runs from the first purchase
    # to min(end, death + ticket_grace_days).
    "ticket_rate_business": 2.0,
    "ticket_rate_consumer": 0.6,
    "ticket_rate_poor_multiplier": 2.0,
    "ticket_grace_days": 60.0,
    "sla_breach_prob_good": 0.08,
    "sla_breach_prob_poor": 0.55,
    "open_ticket_fraction": 0.03,
    "complaint_prob": 0.08,
    "complaint_prob_breached": 0.35,
    "reopen_prob_good": 0.05,
    "reopen_prob_poor": 0.20,
    # NPS: score = clip(round(mean_g + sd*z + nps_breach_effect*breaches_180d), 0, 10).
    "nps_response_rate": 0.4,
    "nps_mean_good": 8.3,
    "nps_mean_poor": 5.6,
    "nps_sd": 1.6,
    "nps_breach_effect": -1.0,
    "nps_breach_window_days": 180.0,
    # CSAT: score = clip(round(csat_mean + sd*z + csat_breach_effect*breached), 1, 5).
    "csat_response_rate": 0.3,
    "csat_mean": 4.3,
    "csat_sd": 0.8,
    "csat_breach_effect": -1.5,
    # ECSI: item score = clip(round(ecsi_center + ecsi_spread * standardised indicator), 1, 10).
    "ecsi_response_rate": 0.25,
    "ecsi_center": 5.5,
    "ecsi_spread": 1.5,
}

_SECONDS_PER_WEEK = 7 * 86_400


def _check_int(name: str, value: Any, low: int, func: str = "generate") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(
            f"The {name!r} parameter of {func} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )


def _resolve_params(params: dict[str, Any] | None) -> dict[str, Any]:
    cfg = dict(DEFAULT_PARAMS)
    unknown = sorted(set(params or {}) - set(cfg))
    if unknown:
        raise InputError(
            f"unknown synthetic-data parameter(s) {', '.join(map(repr, unknown))}; "
            f"the parameters are: {', '.join(cfg)}"
        )
    cfg.update(params or {})
    for key in ("r", "alpha", "a", "b", "b_poor", "p", "v"):
        if not float(cfg[key]) > 0:
            raise InputError(f"parameter {key!r} must be > 0. Got {cfg[key]!r} instead.")
    if not float(cfg["q"]) > 1:
        raise InputError(
            f"parameter 'q' must be > 1 so that the mean spend is finite. Got {cfg['q']!r} instead."
        )
    if cfg["time_unit"] != "W":
        raise InputError(f"parameter 'time_unit' must be 'W' (weeks). Got {cfg['time_unit']!r}.")
    return cfg


@dataclass(frozen=True)
class _Window:
    start: pd.Timestamp
    end: pd.Timestamp
    horizon_s: int  # seconds from start to end
    acquisition_s: int  # customers are acquired in [start, start + acquisition_s]

    @classmethod
    def parse(cls, start: Any, end: Any, cfg: dict[str, Any]) -> _Window:
        t0, t1 = _parse_date("start", start), _parse_date("end", end)
        if not t1 > t0 + pd.Timedelta(days=7):
            raise InputError(f"end ({t1}) must be more than a week after start ({t0})")
        horizon = int((t1 - t0).total_seconds())
        return cls(t0, t1, horizon, int(horizon * float(cfg["acquisition_fraction"])))

    def to_datetime(self, seconds: np.ndarray) -> np.ndarray:
        """Seconds after start -> datetime64[us]."""
        base = np.datetime64(self.start.to_datetime64(), "us")
        out = base + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]")
        out = out.astype("datetime64[us]")
        return out


def _parse_date(name: str, value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or pd.isna(stamp) or stamp.tzinfo is not None:
        raise InputError(
            f"The {name!r} parameter must be a date without time zone such as "
            f"'2023-01-01'. Got {value!r} instead."
        )
    return stamp
