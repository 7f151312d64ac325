"""Synthetic subscriptions with known cancellation rates per segment (plan).

Each subscriber ``i`` of plan ``g`` has a monthly cancellation probability
``theta_i``: drawn from ``Beta(alpha_g, beta_g)`` (``heterogeneous=True``: the
shifted-beta-geometric model of Fader & Hardie 2007 is then exactly the
generating process), or equal to the plan's mean ``alpha_g / (alpha_g + beta_g)``
for everyone. The moment of cancellation is exponential in months with rate
``-log(1 - theta_i)``, so:

* the number of monthly periods paid, ``T = ceil(months)``, is geometric:
  ``P(T > t) = (1 - theta_i)^t`` (what :func:`~crm_analytics.subscriptions.subscription_lifetimes`
  measures with ``period='month'``);
* in continuous time the hazard is constant, ``-log(1 - theta_g)`` per month, so
  with ``heterogeneous=False`` the plans' hazards are proportional (the Cox model's
  hazard ratio of plan ``g`` against ``h`` is ``log(1 - theta_g) / log(1 - theta_h)``).

Start dates are uniform over the acquisition window; everything after ``as_of``
is unknown (a later cancellation leaves ``ended_at`` empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError

__all__ = ["DEFAULT_PLANS", "SyntheticSubscriptions", "generate_subscriptions"]

#: Plan -> (alpha, beta, monthly price): mean monthly churn 20%, 8% and 3%.
DEFAULT_PLANS: dict[str, tuple[float, float, float]] = {
    "basic": (1.0, 4.0, 10.0),
    "standard": (0.8, 9.2, 25.0),
    "premium": (0.9, 29.1, 60.0),
}
_DAYS_PER_MONTH = 365.25 / 12


@dataclass
class SyntheticSubscriptions:
    """Subscriptions, their customers, and the parameters that generated them.

    Attributes
    ----------
    subscriptions, customers : DataFrame
        The ``subscriptions`` and ``customers`` tables of the data contract.
    plans : dict
        Plan -> ``(alpha, beta, price)`` as generated.
    heterogeneous : bool
    as_of : str
    theta : Series
        Each subscription's monthly cancellation probability (the truth).
    """

    subscriptions: pd.DataFrame
    customers: pd.DataFrame
    plans: dict[str, tuple[float, float, float]]
    heterogeneous: bool
    as_of: str
    theta: pd.Series = field(repr=False)

    def mean_churn(self, plan: str) -> float:
        """The plan's mean monthly cancellation probability ``alpha / (alpha + beta)``."""
        a, b, _ = self.plans[plan]
        return a / (a + b)

    def monthly_hazard(self, plan: str) -> float:
        """The plan's continuous-time hazard per month when ``heterogeneous=False``."""
        return -float(np.log1p(-self.mean_churn(plan)))

    def survival(self, plan: str, months: Any) -> np.ndarray:
        """The true share of the plan's subscribers still subscribed after ``months`` whole months."""
        a, b, _ = self.plans[plan]
        t = np.asarray(months, dtype=float)
        if not self.heterogeneous:
            return (1 - a / (a + b)) ** t
        from scipy.special import betaln

        return np.exp(betaln(a, b + t) - betaln(a, b))

    def tables(self) -> dict[str, pd.DataFrame]:
        """``{'customers': ..., 'subscriptions': ...}`` for ``Store.load_all``."""
        return {"customers": self.customers, "subscriptions": self.subscriptions}


def generate_subscriptions(
    n: int = 3000, *, seed: int = 0, plans: dict[str, tuple[float, float, float]] | None = None,
    heterogeneous: bool = True, start: str = "2021-01-01", as_of: str = "2024-12-31",
) -> SyntheticSubscriptions:
    """Draw ``n`` monthly subscriptions spread evenly over ``plans``.

    Parameters
    ----------
    n : int
        Subscriptions (one per customer).
    seed : int
        Same seed, same data.
    plans : dict, optional
        Plan -> ``(alpha, beta, monthly price)``; default :data:`DEFAULT_PLANS`.
    heterogeneous : bool, default True
        Draw each subscriber's churn probability from the plan's Beta
        distribution; False gives every subscriber of a plan its mean.
    start, as_of : str
        Subscriptions start uniformly between ``start`` and ``as_of``.

    Examples
    --------
    >>> data = generate_subscriptions(600, seed=1)
    >>> len(data.subscriptions), sorted(data.subscriptions["plan"].unique())
    (600, ['basic', 'premium', 'standard'])
    >>> round(data.mean_churn("basic"), 2), bool(data.subscriptions["ended_at"].notna().any())
    (0.2, True)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"generate_subscriptions: n must be a whole number >= 1; got {n!r}")
    plans = dict(plans or DEFAULT_PLANS)
    for name, spec in plans.items():
        if len(spec) != 3 or min(spec[0], spec[1]) <= 0 or spec[2] < 0:
            raise InputError(f"generate_subscriptions: plan {name!r} must be (alpha > 0, beta > 0, "
                             f"price >= 0); got {spec!r}")
    first, last = pd.Timestamp(start), pd.Timestamp(as_of)
    if not first < last:
        raise InputError(f"generate_subscriptions: start {start} must be before as_of {as_of}")
    rng = np.random.default_rng(seed)
    names = list(plans)
    plan = np.array(names)[np.arange(n) % len(names)]
    a = np.array([plans[p][0] for p in plan])
    b = np.array([plans[p][1] for p in plan])
    price = np.array([plans[p][2] for p in plan])
    theta = rng.beta(a, b) if heterogeneous else a / (a + b)
    theta = np.clip(theta, 1e-12, 1 - 1e-12)
    months = rng.exponential(1.0 / -np.log1p(-theta))
    span_days = (last - first).days
    # Beyond the window every subscription is still active as of as_of: cap far out.
    months = np.minimum(months, span_days / _DAYS_PER_MONTH + 2)
    started = first + pd.to_timedelta(rng.integers(0, span_days, size=n), unit="D")
    # The end: whole calendar months after the start, then the fraction of the next month.
    whole = np.floor(months).astype(np.int64)
    frac = months - whole
    anchor = pd.Series(started)
    ended = _add_months(anchor, whole)
    next_boundary = _add_months(anchor, whole + 1)
    ended = ended + (next_boundary - ended) * frac
    ended = ended.dt.floor("s")
    cut = last + pd.Timedelta(days=1)
    ended = ended.where(ended < cut)
    ids = [f"S{i + 1:06d}" for i in range(n)]
    customers = [f"C{i + 1:06d}" for i in range(n)]
    subs = pd.DataFrame({
        "subscription_id": ids, "customer_id": customers, "plan": plan,
        "started_at": pd.Series(started).to_numpy(), "ended_at": ended.to_numpy(),
        "billing_period": "month", "recurring_amount": price,
    })
    cust = pd.DataFrame({"customer_id": customers, "created_at": subs["started_at"],
                         "customer_type": "consumer"})
    return SyntheticSubscriptions(subs, cust, plans, heterogeneous, str(last.date()),
                                  pd.Series(theta, index=pd.Index(ids, name="subscription_id")))


def _add_months(ts: pd.Series, months: np.ndarray) -> pd.Series:
    """``ts`` + whole calendar months, clipped to the month's end (as pandas' DateOffset)."""
    out = [t + pd.DateOffset(months=int(k)) for t, k in zip(ts, months, strict=True)]
    return pd.Series(pd.to_datetime(out), index=ts.index)
