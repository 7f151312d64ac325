"""Revenue forecast by segment and month, with prediction intervals.

:func:`forecast` turns the purchase and spend models into what management plans
with: the revenue each segment is expected to bring in each of the next months,
and how sure we are. Two components, kept apart (``component`` column):

``existing``
    Customers with a purchase on or before ``as_of``. Expected repeat purchase
    occasions in month k are the difference of the purchase model's conditional
    expectation at the month's end and start, ``E[Y(t_k) | x, t_x, T] -
    E[Y(t_{k-1}) | x, t_x, T]`` (BG/NBD: Fader, Hardie & Lee 2005, eq. 10), valued
    at the Gamma-Gamma expected spend ``E[Z | x, m_x]`` (Fader & Hardie 2013,
    eq. 5; the spend policy of :class:`~crm_analytics.clv.CLVModel`).
``new``
    Customers not acquired yet: the *acquisition model*. Each segment acquires
    new customers as a Poisson process at its recent rate, the number of
    first purchases in the ``acquisition_months`` before ``as_of`` divided by
    that time, spread evenly over the days. A customer acquired on day ``u``
    brings the first purchase and ``E[X(t - u)]`` repeat purchases by day ``t``
    (the unconditional expectation, FHL 2005 eq. 9). With a constant rate this is
    a convolution of the daily arrivals with ``E[X]``, computed exactly on the
    day grid. Every purchase of a new customer -- the first one too: Gamma-Gamma
    draws every transaction from the customer's spend distribution -- is valued
    at the population mean spend ``p v / (q - 1)`` times the segment's spend
    level: the mean expected spend ``E[Z | x, m_x]`` of its recent acquisitions
    over the population mean (1 for a segment without recent acquisitions).

``total`` is their sum. Besides the segments, the segment ``"all customers"``
sums them (with intervals of its own, not the sum of the segments' bounds).

Prediction intervals
--------------------
The intervals hold the randomness of purchases and spend *and* the uncertainty
of the fitted parameters:

* **Process** (purchases and spend, parameters fixed at their estimates):
  each customer's future is simulated from the model's posterior given the
  history -- alive with P(alive), then ``lambda ~ Gamma(r + x, alpha + T)`` and
  ``p ~ Beta(a, b + x)`` (BG/NBD; the Pareto/NBD and MBG/NBD analogues), Poisson
  purchases until the dropout, each purchase ``Gamma(p, nu)`` with ``nu`` from
  the Gamma-Gamma posterior. Customers are independent given the parameters, so
  a segment's revenue is a sum of many independent terms: only its variance is
  taken from the simulation (the mean is the exact expectation above), and only
  on a sample of at most ``max_simulated`` customers per segment, scaled up --
  the approximation that keeps a million customers to seconds. New customers:
  arrivals are Poisson, so the variance of their revenue is the arrival rate
  times the second moment of one arrival's revenue (compound Poisson), the
  latter simulated on generic new customers drawn from the population
  distributions.
* **Parameters**: the log-parameters of both models are asymptotically normal
  with the inverse Hessian of the log-likelihood as covariance; the delta
  method (finite-difference gradients of every segment-month mean) turns that
  into a variance per segment and month. The estimated acquisition rate adds
  its Poisson variance (a relative variance of ``1 / acquisitions``).
* The two variances add up; the interval is the one of a Gamma distribution
  with the forecast's mean and that variance (positive and right-skewed, as a
  small segment's revenue is). Coverage on data generated from known
  parameters is checked in ``tests/clv/test_forecast.py``.

Not covered: trends or seasonality the BTYD models do not know, a change in the
acquisition rate, and refund-only days (revenue here is the net amount of
purchase occasions, the policy of :func:`~crm_analytics.clv.rfm_summary`).
:func:`~crm_analytics.clv.forecast_backtest` shows how much that matters on
your data.

Segments
--------
``by`` is ``None`` (the total only), a customer attribute (``size_band``,
``customer_type``, ``industry``, ``country``, ``region``: the customer record,
for existing and new customers alike), another score column of the newest
successful scoring run on or before ``as_of`` (behavioural segments such as
``value_tier`` or ``rfm_segment``: customers acquired later have no such label
and form the segment ``"(new customers)"``), or a pandas Series of labels by
``customer_id`` (e.g. from ``crm.segmentation.segment_members`` for a custom
segment).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crm_analytics.clv.model import CLVModel
from crm_analytics.clv.models import GammaGammaModel
from crm_analytics.clv.models.base import gradient_hessian, quiet_numerics
from crm_analytics.clv.models.likelihoods import gamma_gamma_value_and_gradient, prepare_gamma_gamma
from crm_analytics.clv.summary import DAYS_PER_UNIT, rfm_summary
from crm_analytics.clv.utils import distinct_rows
from crm_analytics.core.params import check_number
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import latest_scores, reads_store
from crm_analytics.store.score_columns import did_you_mean, score_column_names

log = logging.getLogger(__name__)

__all__ = [
    "ATTRIBUTE_SEGMENTS",
    "COMPONENTS",
    "FORECAST_COLUMNS",
    "NEW_SEGMENT",
    "TOTAL_SEGMENT",
    "forecast",
    "plot_forecast_fan",
    "resolve_segments",
    "segment_columns",
    "weekly_repeat_purchases",
]

#: Segment columns read from the customer record (labels for new customers too).
ATTRIBUTE_SEGMENTS = ("size_band", "customer_type", "industry", "country", "region")
#: The segment that sums all segments (and the only one for ``by=None``).
TOTAL_SEGMENT = "all customers"
#: Segment of customers acquired after the scoring run that labels behavioural segments.
NEW_SEGMENT = "(new customers)"
#: Label of existing customers the segment column leaves empty.
UNASSIGNED = "(none)"
#: Components of the forecast, in table order.
COMPONENTS = ("existing", "new", "total")
#: Columns of the table :func:`forecast` returns.
FORECAST_COLUMNS = (
    "segment", "month", "period_start", "period_end", "component", "customers",
    "expected_purchases", "expected_revenue", "revenue_std",
    "revenue_lo80", "revenue_hi80", "revenue_lo95", "revenue_hi95",
)
#: Fewest customers with purchases a forecast fits its models on.
MIN_CUSTOMERS = 20
#: Most segments a segment column may have (a continuous score is not a segment).
MAX_SEGMENTS = 50
#: Longest horizon, in months: beyond it the models extrapolate far past their data.
MAX_HORIZON_MONTHS = 60

_LEVELS = (0.80, 0.95)
# Simulation budget: customer-replicates simulated for the process variance, and the
# bounds on replicates. A million customers in 3 segments: 10,000 sampled per segment x 10.
_SIM_TARGET = 150_000
_SIM_MIN_REPLICATES, _SIM_MAX_REPLICATES = 10, 100
_SIM_CHUNK = 250_000
_NEW_SIMULATED = 20_000
# Relative step of the finite differences in log-parameters (delta method).
_FD_STEP = 1e-4


# --------------------------------------------------------------------------- periods
def month_periods(as_of: dt.date, horizon_months: int) -> pd.DataFrame:
    """Calendar months after ``as_of``: label, first and last day, days, end offset in days.

    The first period runs from the day after ``as_of`` to the end of its month
    (a whole month when ``as_of`` is a month end).

    Examples
    --------
    >>> month_periods(dt.date(2024, 1, 31), 2)[["month", "days", "end_day"]].to_dict("list")
    {'month': ['2024-02', '2024-03'], 'days': [29, 31], 'end_day': [29, 60]}
    """
    first = as_of + dt.timedelta(days=1)
    starts = [pd.Timestamp(first)]
    month0 = pd.Timestamp(first).to_period("M")
    rows = []
    for k in range(horizon_months):
        period = month0 + k
        start = starts[0] if k == 0 else period.start_time.normalize()
        end = period.end_time.normalize()
        rows.append({"month": str(period), "period_start": start.date(), "period_end": end.date(),
                     "days": int((end - start).days) + 1,
                     "end_day": int((end.date() - as_of).days)})
    return pd.DataFrame(rows)


def _week_periods(as_of: dt.date, weeks: int) -> pd.DataFrame:
    ends = np.arange(1, weeks + 1) * 7
    return pd.DataFrame({"month": [f"week {k}" for k in range(1, weeks + 1)],
                         "period_start": [as_of + dt.timedelta(days=int(e) - 6) for e in ends],
                         "period_end": [as_of + dt.timedelta(days=int(e)) for e in ends],
                         "days": 7, "end_day": ends})


# --------------------------------------------------------------------------- segments
@dataclass
class _Segments:
    """Segment labels of the existing customers, and how new customers are labelled."""

    labels: np.ndarray  # str label per summary row
    kind: str  # "total", "attribute" or "labels"
    source: str  # what the labels are, in words


def segment_columns() -> list[str]:
    """The column names ``by`` accepts: the customer attributes, then the score columns.

    Examples
    --------
    >>> segment_columns()[:3]
    ['size_band', 'customer_type', 'industry']
    """
    return _valid_by()


def _positions(keys: Any, values: Any) -> np.ndarray:
    """Position of each of ``values`` among ``keys`` (first occurrence; -1 if absent).

    One ``factorize`` of both together: for a million Arrow-backed ids 0.5 s, where
    ``isin``/``reindex`` take 1 to 6 s.
    """
    keys = pd.Series(pd.Index(keys).astype(str))
    n = len(keys)
    codes, uniques = pd.factorize(pd.concat([keys, pd.Series(pd.Index(values).astype(str))],
                                            ignore_index=True))
    where = np.full(len(uniques) + 1, -1, dtype=np.int64)
    where[codes[:n][::-1]] = np.arange(n)[::-1]
    return where[codes[n:]]


def _valid_by() -> list[str]:
    private = {"name", "marketing_opt_in"}
    return [*ATTRIBUTE_SEGMENTS, *(c for c in score_column_names()
                                   if c not in private and c not in ATTRIBUTE_SEGMENTS)]


def _as_labels(values: pd.Series, what: str) -> pd.Series:
    """Text labels of a segment column (NaN where empty; whole numbers without ".0").

    Refuses a column with too many values to be segments.
    """
    n = values.nunique(dropna=True)
    if n > MAX_SEGMENTS:
        raise InputError(
            f"{what} has {n} distinct values; a segment column may have at most "
            f"{MAX_SEGMENTS} (use a banded column such as value_tier or size_band)")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = np.array([str(int(u)) if isinstance(u, (float, np.floating)) and float(u).is_integer()
                      else str(u) for u in uniques] + [None], dtype=object)
    return pd.Series(names[codes], index=values.index, dtype=object)


def resolve_segments(store: Any, as_of: dt.date, by: Any, ids: pd.Index) -> _Segments:
    """Labels of the customers ``ids`` for ``by`` (see the module docstring), as of ``as_of``.

    Examples
    --------
    >>> from crm_analytics.store import Store
    >>> resolve_segments(Store(":memory:"), dt.date(2024, 1, 31), "segment_size",
    ...                  pd.Index(["A"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crm_analytics.errors.InputError: unknown segment column 'segment_size'...; by must be None, ...
    """
    if by is None:
        return _Segments(np.full(len(ids), TOTAL_SEGMENT, dtype=object), "total", "all customers")
    if isinstance(by, pd.Series):
        if by.index.has_duplicates:
            dup = by.index[by.index.duplicated()][0]
            raise InputError(f"by: the segment labels list customer_id {dup!r} twice; give one "
                             "label per customer")
        series = by.copy()
        series.index = series.index.astype(str)
        labels = _as_labels(series, "by (a Series)").reindex(ids).fillna(UNASSIGNED)
        return _Segments(labels.to_numpy(dtype=object), "labels",
                         f"labels given ({by.name or 'a Series'})")
    if not isinstance(by, str):
        raise InputError(f"by must be None, a column name such as 'size_band' or a pandas Series of "
                         f"labels by customer_id. Got {type(by).__name__} instead.")
    valid = _valid_by()
    if by not in valid:
        raise InputError(
            f"unknown segment column {by!r}{did_you_mean(by, valid).rstrip('?')}; by must be None, "
            f"a Series of labels by customer_id, or one of: {', '.join(valid)}")
    if by in ATTRIBUTE_SEGMENTS:
        attrs = store.sql(load_query("clv/sql/segment_attribute.sql"),
                          {"column": by, **DEFAULT_THRESHOLDS.params()})
        every = _as_labels(attrs["label"], by).fillna(UNASSIGNED).to_numpy(dtype=object)
        at = _positions(attrs["customer_id"], ids)
        labels = np.where(at >= 0, every[at], UNASSIGNED).astype(object)
        return _Segments(labels, "attribute", f"customer attribute {by}")
    rid, run_as_of = _scores_run(store, as_of, by)
    scores = latest_scores(store, run_id=rid)
    if by not in scores.columns:
        raise InputError(
            f"run {rid} (as of {run_as_of}) has no column {by!r}: the step that computes it did "
            f"not run or scored nobody; choose another by, or score with that step")
    labels = _as_labels(scores[by], by)
    labels.index = labels.index.astype(str)
    labels = labels.reindex(ids).fillna(UNASSIGNED)
    return _Segments(labels.to_numpy(dtype=object), "labels",
                     f"score column {by} of run {rid} (as of {run_as_of})")


def _scores_run(store: Any, as_of: dt.date, by: str) -> tuple[str, str]:
    if not store.has_table("runs"):
        raise InputError(
            f"by={by!r} needs a scoring run on or before {as_of} (none in {store.path}); run "
            f"`crm-analytics score`, or use one of {', '.join(ATTRIBUTE_SEGMENTS)}")
    got = store.sql(load_query("clv/sql/forecast_scores_run.sql"), {"as_of": as_of})
    if got.empty:
        raise InputError(
            f"by={by!r} needs a successful scoring run as of {as_of} or earlier (no look-ahead); "
            f"score that date first, or use one of {', '.join(ATTRIBUTE_SEGMENTS)}")
    return str(got["run_id"].iloc[0]), str(pd.Timestamp(got["as_of"].iloc[0]).date())


# --------------------------------------------------------------------------- model pieces
def _customer_spend(gg: GammaGammaModel, x: np.ndarray, m: np.ndarray,
                    fallback: float) -> np.ndarray:
    """Expected spend per purchase: the spend policy of CLVModel (module docstring of .model)."""
    own = (x >= 1) & (m > 0)
    if gg.params["q"] > 1.0:
        spend = np.full(x.size, gg.population_mean)
        spend[own] = gg.conditional_expected_spend(x[own], m[own])
    else:  # infinite model mean: each customer's own mean, the sample mean for the others
        spend = np.full(x.size, fallback)
        spend[own] = m[own]
    return spend


def _codes(labels: np.ndarray, names: list[str]) -> np.ndarray:
    """Index of each label in ``names`` (which holds every label)."""
    codes, uniques = pd.factorize(labels)
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup[u] for u in uniques], dtype=np.int64)[codes] if len(codes) else \
        np.zeros(0, dtype=np.int64)


def _fallback_spend(summary: pd.DataFrame) -> float:
    """Mean monetary value of repeat buyers: the spend policy's stand-in when q <= 1."""
    x = summary["frequency"].to_numpy(dtype=float)
    m = summary["monetary_value"].to_numpy(dtype=float)
    usable = (x >= 1) & (m > 0)
    return float(np.mean(m[usable])) if usable.any() else float("nan")


def _population_spend(gg: GammaGammaModel, fallback: float) -> float:
    return gg.population_mean if gg.params["q"] > 1.0 else fallback


def _log_covariance(model: CLVModel, summary: pd.DataFrame,
                    histories: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, list[str]]:
    """Covariance of the log-parameters (purchase model, then spend model) and notes.

    The inverse Hessian of the log-likelihood at the estimate (the models' own
    likelihoods with exact gradients, differenced as the fit does); the two
    models are fitted separately, so the matrix is block-diagonal. Where the
    Hessian is not positive definite, the reported standard errors stand in
    (no correlations) or, without them, the parameters count as known.
    """
    notes: list[str] = []
    pm, gg = model.purchase_model_, model.spend_model_
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    if histories is None:
        _, (hx, ht, hT), w = distinct_rows(x, t_x, T)
    else:
        hx, ht, hT, w = histories
    cls = type(pm)
    scale = 1.0 / float(hT.max()) if hT.size and hT.max() > 0 else 1.0
    lp = np.log([pm.params[k] * (scale if k in cls.time_params else 1.0) for k in cls.param_names])
    blocks = []
    vg = cls._value_and_gradient((hx, ht * scale, hT * scale, w))
    blocks.append(_block(vg, lp, float(w.sum()), pm.param_names, pm.params, pm.std_errors,
                         pm.title, notes))
    m = summary["monetary_value"].to_numpy(dtype=float)
    usable = (x >= 1) & (m > 0)
    if usable.any():
        _, (sx, sm), sw = distinct_rows(x[usable], m[usable])
        mscale = float(np.median(m[usable]))
        prep = prepare_gamma_gamma(sx, sm / mscale, sw)
        glp = np.log([gg.params["p"], gg.params["q"], gg.params["v"] / mscale])
        blocks.append(_block(lambda v, pen: gamma_gamma_value_and_gradient(v, pen, prep), glp,
                             float(sw.sum()), gg.param_names, gg.params, gg.std_errors,
                             gg.title, notes))
    else:
        blocks.append(np.zeros((3, 3)))
    n = sum(b.shape[0] for b in blocks)
    cov = np.zeros((n, n))
    i = 0
    for b in blocks:
        cov[i:i + b.shape[0], i:i + b.shape[0]] = b
        i += b.shape[0]
    return cov, notes


def _block(vg: Any, lp: np.ndarray, n: float, names: tuple[str, ...], params: dict,
           ses: dict, title: str, notes: list[str]) -> np.ndarray:
    with quiet_numerics():
        try:
            hess = gradient_hessian(vg, lp, 0.0)
            sym = 0.5 * (hess + hess.T)
            if np.all(np.isfinite(sym)) and np.linalg.eigvalsh(sym)[0] > 0:
                return np.linalg.inv(sym) / n
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            pass
    se = np.array([ses.get(k, np.nan) / params[k] for k in names], dtype=float)
    if np.all(np.isfinite(se)):
        notes.append(f"{title}: Hessian not positive definite; parameter uncertainty from the "
                     "standard errors without correlations")
        return np.diag(se**2)
    notes.append(f"{title}: no parameter covariance; intervals hold purchase and spend "
                 "randomness only")
    return np.zeros((len(names), len(names)))


# --------------------------------------------------------------------------- the computation
@dataclass
class _Base:
    """Everything the means, the simulation and the intervals share."""

    model: CLVModel
    summary: pd.DataFrame
    periods: pd.DataFrame
    segments: list[str]
    cust_seg: np.ndarray  # segment code per customer
    cust_hist: np.ndarray  # history code per customer
    hx: np.ndarray
    ht: np.ndarray
    hT: np.ndarray  # noqa: N815 - the literature's T
    cust_flat: np.ndarray  # history code * segments + segment code, per customer
    counts_hs: np.ndarray  # customers per (history, segment), dense
    x: np.ndarray
    m: np.ndarray
    fallback_spend: float
    acquired: np.ndarray  # acquisitions in the window, per segment
    spend_ratio: np.ndarray  # new customers' spend level per segment / population mean
    window_days: int
    new_customers: bool
    kind: str = "total"  # how segments were given: "total", "attribute" or "labels"
    notes: list[str] = field(default_factory=list)

    @property
    def t_ends(self) -> np.ndarray:
        return self.periods["end_day"].to_numpy(dtype=float) / DAYS_PER_UNIT[self.model.time_unit]


def _means(base: _Base, pm: Any, gg: GammaGammaModel, cum: np.ndarray | None = None,
           inc: np.ndarray | None = None
           ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Expected purchases and revenue per segment and period, by component; and ``cum``.

    ``cum`` (histories x periods, cumulative conditional expected purchases) is
    returned for reuse when only the spend model changes.
    """
    S = len(base.segments)
    if cum is None:
        with quiet_numerics():
            cum = np.column_stack(list(pm.iter_conditional_expected_purchases(
                list(base.t_ends), base.hx, base.ht, base.hT)))
    if inc is None:
        inc = np.diff(cum, axis=1, prepend=0.0)
    spend = _customer_spend(gg, base.x, base.m, base.fallback_spend)
    # Spend summed per (history, segment), then (segments x histories) @ (histories x periods).
    weights = np.bincount(base.cust_flat, weights=spend, minlength=base.hx.size * S)
    ex_rev = weights.reshape(base.hx.size, S).T @ inc
    ex_pur = base.counts_hs.T @ inc
    new_rev, new_pur, arrivals = _new_means(base, pm, _population_spend(gg, base.fallback_spend))
    out = {"existing_revenue": ex_rev, "existing_purchases": ex_pur, "new_revenue": new_rev,
           "new_purchases": new_pur, "arrivals": arrivals}
    return out, cum


def _new_means(base: _Base, pm: Any, mean_spend: float) -> tuple[np.ndarray, ...]:
    S, K = len(base.segments), len(base.periods)
    if not base.new_customers:
        return np.zeros((S, K)), np.zeros((S, K)), np.zeros((S, K))
    ends = base.periods["end_day"].to_numpy(dtype=int)
    days = base.periods["days"].to_numpy(dtype=float)
    rate = base.acquired / base.window_days  # per day and segment
    grid = np.arange(int(ends[-1]) + 1, dtype=float) / DAYS_PER_UNIT[base.model.time_unit]
    with quiet_numerics():
        ex = np.asarray(pm.expected_purchases_new_customer(grid), dtype=float)
    # Arrivals on days 1..e have made rate * sum_{s < e} E[X(s)] repeat purchases by day e.
    cum = np.concatenate([[0.0], np.cumsum(ex)])[ends]
    repeats = np.diff(cum, prepend=0.0)
    arrivals = rate[:, None] * days[None, :]
    purchases = arrivals + rate[:, None] * repeats[None, :]
    revenue = purchases * (mean_spend * base.spend_ratio)[:, None]
    return revenue, purchases, arrivals


def _posterior_draws(pm: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                     t_ends: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulated repeat purchases per period (rows x periods) given each history.

    Alive with P(alive | x, t_x, T); given alive, BG/NBD ``lambda ~ Gamma(r + x,
    alpha + T)``, ``p ~ Beta(a, b + x)`` (MBG/NBD: ``b + x + 1``) and purchases
    until the dropout, which follows each purchase with probability p;
    Pareto/NBD ``lambda ~ Gamma(r + x, alpha + T)``, ``mu ~ Gamma(s, beta + T)``
    and an exponential remaining lifetime. (Hand-written: lifetimes simulates
    new customers only, not the future of a given history.)
    """
    n = x.size
    with quiet_numerics():
        alive = rng.random(n) < np.clip(pm.conditional_probability_alive(x, t_x, T), 0.0, 1.0)
    P = pm.params
    lam = rng.gamma(P["r"] + x, 1.0 / (P["alpha"] + T))
    dt_ = np.diff(t_ends, prepend=0.0)
    if pm.name == "pareto_nbd":
        mu = rng.gamma(P["s"], 1.0 / (P["beta"] + T))
        tau = rng.exponential(1.0 / mu)
        start = np.concatenate([[0.0], t_ends[:-1]])
        exposure = np.clip(np.minimum(tau[:, None], t_ends[None, :]) - start[None, :], 0.0, None)
        counts = rng.poisson(lam[:, None] * exposure)
    else:
        extra = 1.0 if pm.name == "mbgnbd" else 0.0
        p = rng.beta(P["a"], P["b"] + x + extra)
        until = rng.geometric(np.clip(p, 1e-12, 1.0))  # purchases up to and including the dropout
        total = np.minimum(np.cumsum(rng.poisson(lam[:, None] * dt_[None, :]), axis=1),
                           until[:, None])
        counts = np.diff(total, axis=1, prepend=0)
    return counts * alive[:, None]


def _spend_draws(gg: GammaGammaModel, counts: np.ndarray, x: np.ndarray, m: np.ndarray,
                 spend: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Revenue of ``counts`` purchases: ``Gamma(p * count, nu)`` with ``nu`` from its posterior.

    ``nu | x, m_x ~ Gamma(q + p x, v + x m_x)`` for repeat buyers with a positive
    mean (Fader & Hardie 2013), the prior ``Gamma(q, v)`` otherwise; with q <= 1
    (no finite mean) purchases are valued at the expected spend.
    """
    p, q, v = (gg.params[k] for k in ("p", "q", "v"))
    if q <= 1.0:
        return counts * spend[:, None]
    own = (x >= 1) & (m > 0)
    shape = np.where(own, q + p * x, q)
    rate = np.where(own, v + x * np.where(own, m, 0.0), v)
    nu = rng.gamma(shape, 1.0 / rate)
    out = np.zeros(counts.shape)
    hit = counts > 0
    rows = np.nonzero(hit)[0]
    out[hit] = rng.gamma(p * counts[hit], 1.0 / nu[rows])
    return out


def _process_variance(base: _Base, rng: np.random.Generator, max_simulated: int,
                      mean_cum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variance of revenue and purchases of the existing customers, per segment and period.

    Simulated on at most ``max_simulated`` customers per segment (all of a
    smaller segment), each replicated; the squared deviations from the exact
    means, scaled by segment size / sample size, estimate the sum of the
    customers' variances.
    """
    model = base.model
    pm, gg = model.purchase_model_, model.spend_model_
    S, K = len(base.segments), len(base.periods)
    picked, factor = [], np.zeros(S)
    for s in range(S):
        rows = np.flatnonzero(base.cust_seg == s)
        if rows.size > max_simulated:
            rows = np.sort(rng.choice(rows, size=max_simulated, replace=False))
        picked.append(rows)
        factor[s] = np.sum(base.cust_seg == s) / max(rows.size, 1)
    rows = np.concatenate(picked) if picked else np.zeros(0, dtype=int)
    if rows.size == 0:
        return np.zeros((S, K)), np.zeros((S, K))
    replicates = int(np.clip(_SIM_TARGET // rows.size, _SIM_MIN_REPLICATES, _SIM_MAX_REPLICATES))
    spend = _customer_spend(gg, base.x, base.m, base.fallback_spend)
    inc = np.diff(mean_cum, axis=1, prepend=0.0)[base.cust_hist[rows]]
    mean_rev = inc * spend[rows, None]
    seg = base.cust_seg[rows]
    x, m = base.x[rows], base.m[rows]
    t_x = base.ht[base.cust_hist[rows]]
    T = base.hT[base.cust_hist[rows]]
    sq_rev, sq_pur = np.zeros((S, K)), np.zeros((S, K))
    per_chunk = max(1, _SIM_CHUNK // rows.size)
    done = 0
    while done < replicates:
        r = min(per_chunk, replicates - done)
        tile = np.tile(np.arange(rows.size), r)
        counts = _posterior_draws(pm, x[tile], t_x[tile], T[tile], base.t_ends, rng)
        revenue = _spend_draws(gg, counts, x[tile], m[tile], spend[rows][tile], rng)
        dev_rev = (revenue - mean_rev[tile]) ** 2
        dev_pur = (counts - inc[tile]) ** 2
        for k in range(K):
            sq_rev[:, k] += np.bincount(seg[tile], weights=dev_rev[:, k], minlength=S)
            sq_pur[:, k] += np.bincount(seg[tile], weights=dev_pur[:, k], minlength=S)
        done += r
    return sq_rev * factor[:, None] / replicates, sq_pur * factor[:, None] / replicates


def _new_second_moments(base: _Base, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """E[C_k^2] per period k for one arrival uniform on the horizon's days (simulated).

    ``C_k`` is the arrival's revenue in period k at the population spend: its first
    purchase if it arrives in k, plus its repeat purchases in k -- all valued with
    the customer's own ``nu`` (Gamma-Gamma), so first and repeat spend correlate.
    """
    model = base.model
    pm, gg = model.purchase_model_, model.spend_model_
    K = len(base.periods)
    ends = base.periods["end_day"].to_numpy(dtype=float)
    horizon = int(ends[-1])
    n = _NEW_SIMULATED
    u = rng.integers(1, horizon + 1, size=n).astype(float)
    unit = DAYS_PER_UNIT[model.time_unit]
    since = np.clip(ends[None, :] - u[:, None], 0.0, None) / unit  # time since arrival at ends
    P = pm.params
    lam = rng.gamma(P["r"], 1.0 / P["alpha"], size=n)
    if pm.name == "pareto_nbd":
        tau = rng.exponential(1.0 / rng.gamma(P["s"], 1.0 / P["beta"], size=n))
        exposure = np.minimum(since, tau[:, None])
        counts = rng.poisson(lam[:, None] * np.diff(exposure, axis=1, prepend=0.0))
    else:
        p = rng.beta(P["a"], P["b"], size=n)
        until = rng.geometric(np.clip(p, 1e-12, 1.0)) - (1 if pm.name == "mbgnbd" else 0)
        steps = rng.poisson(lam[:, None] * np.diff(since, axis=1, prepend=0.0))
        counts = np.diff(np.minimum(np.cumsum(steps, axis=1), until[:, None]), axis=1, prepend=0)
    starts = ends - base.periods["days"].to_numpy(dtype=float)
    in_k = (u[:, None] > starts[None, :]) & (u[:, None] <= ends[None, :])
    zeros = np.zeros(n)
    revenue = _spend_draws(gg, counts + in_k, zeros, zeros, np.full(n, _population_spend(
        gg, base.fallback_spend)), rng)
    return (revenue**2).mean(axis=0).reshape(1, K), float(horizon)


def _gamma_interval(mean: np.ndarray, var: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Central interval of the Gamma distribution with this mean and variance (0 for mean 0)."""
    mean = np.asarray(mean, dtype=float)
    var = np.clip(np.asarray(var, dtype=float), 0.0, None)
    lo, hi = mean.copy(), mean.copy()
    ok = (mean > 0) & (var > 0)
    shape = mean[ok] ** 2 / var[ok]
    scale = var[ok] / mean[ok]
    tail = (1.0 - level) / 2.0
    lo[ok] = stats.gamma.ppf(tail, shape, scale=scale)
    hi[ok] = stats.gamma.ppf(1.0 - tail, shape, scale=scale)
    return lo, hi


# --------------------------------------------------------------------------- public
def _check_int(name: str, value: Any, low: int, high: int) -> int:
    return int(check_number("forecast", name, value, integer=True, low=low, high=high))


def _prepare(store: Any, as_of: dt.date, periods: pd.DataFrame, by: Any, model: CLVModel | None,
             summary: pd.DataFrame | None, purchase_model: str, acquisition_months: int,
             new_customers: bool, segments: _Segments | None = None) -> _Base:
    if summary is None:
        summary = rfm_summary(store, as_of, time_unit=model.time_unit if model else "W")
    if len(summary) < MIN_CUSTOMERS:
        raise InputError(
            f"only {len(summary)} customers with purchases up to {as_of}; a revenue forecast "
            f"needs at least {MIN_CUSTOMERS} to fit its purchase model (choose a later as_of)")
    if model is None:
        model = CLVModel(purchase_model=purchase_model).fit(summary)
    else:
        model.check_fitted()
    if model.spend_model_ is None:
        raise InputError(
            f"no spend model: no repeat buyer with a positive monetary_value up to {as_of}, so "
            "revenue cannot be forecast (fit CLVModel(spend_model='gamma_gamma') on more history)")
    if "monetary_value" not in summary.columns:
        raise InputError("Required column monetary_value missing")
    ids = summary.index.astype(str)
    seg = segments if segments is not None else resolve_segments(store, as_of, by, ids)
    notes = [f"segments: {seg.source}"]
    start = pd.Timestamp(as_of) - pd.DateOffset(months=acquisition_months)
    window_days = int((pd.Timestamp(as_of) - start).days)
    # Acquired in the window: first purchase after `start` (T counts days since it).
    days_since_first = np.rint(summary["T"].to_numpy(dtype=float)
                               * DAYS_PER_UNIT[model.time_unit])
    recent = days_since_first < window_days
    if not new_customers:
        recent_labels = np.zeros(0, dtype=object)
    elif seg.kind == "attribute":
        recent_labels = seg.labels[recent]
    else:
        label = NEW_SEGMENT if seg.kind == "labels" else TOTAL_SEGMENT
        recent_labels = np.full(int(recent.sum()), label, dtype=object)
    names = sorted(set(pd.unique(seg.labels).tolist()) | set(pd.unique(recent_labels).tolist()),
                   key=str)
    cust_seg = _codes(seg.labels, names)
    S = len(names)
    acquired, spend_ratio = np.zeros(S), np.ones(S)
    if len(recent_labels):
        # Segment spend level: the recent acquisitions' expected spend (Gamma-Gamma,
        # shrunk to the population mean) against the population mean.
        rc = _codes(recent_labels, names)
        gg = model.spend_model_
        x_r = summary["frequency"].to_numpy(dtype=float)[recent]
        m_r = summary["monetary_value"].to_numpy(dtype=float)[recent]
        fallback_r = _fallback_spend(summary)
        own = _customer_spend(gg, x_r, m_r, fallback_r) / _population_spend(gg, fallback_r)
        acquired = np.bincount(rc, minlength=S).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            spend_ratio = np.where(acquired > 0, np.bincount(rc, weights=own, minlength=S)
                                   / acquired, 1.0)
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    m = summary["monetary_value"].to_numpy(dtype=float)
    cust_hist, (hx, ht, hT), _ = distinct_rows(x, t_x, T)
    cust_flat = cust_hist * S + cust_seg
    counts_hs = np.bincount(cust_flat, minlength=hx.size * S).astype(float).reshape(hx.size, S)
    fallback = _fallback_spend(summary)
    if new_customers:
        notes.append(f"acquisition: {int(acquired.sum()):,} first purchases in the "
                     f"{acquisition_months} months before {as_of} ({window_days} days), "
                     "continued at that rate per segment")
    return _Base(model=model, summary=summary, periods=periods, segments=names,
                 cust_seg=cust_seg, cust_hist=cust_hist, hx=hx, ht=ht, hT=hT,
                 cust_flat=cust_flat, counts_hs=counts_hs, x=x, m=m, fallback_spend=fallback,
                 acquired=acquired, spend_ratio=spend_ratio, window_days=max(window_days, 1),
                 new_customers=new_customers, kind=seg.kind,
                 notes=notes)


def _jacobian(base: _Base, base_means: dict[str, np.ndarray], cum: np.ndarray
              ) -> dict[str, np.ndarray]:
    """d(mean)/d(log parameter) for each output, shape (parameters, segments, periods)."""
    pm, gg = base.model.purchase_model_, base.model.spend_model_
    keys = ("existing_revenue", "new_revenue", "existing_purchases", "new_purchases")
    grads: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for name in pm.param_names:
        params = dict(pm.params)
        params[name] *= math.exp(_FD_STEP)
        out, _ = _means(base, type(pm)(params), gg)
        for k in keys:
            grads[k].append((out[k] - base_means[k]) / _FD_STEP)
    inc = np.diff(cum, axis=1, prepend=0.0)
    for name in gg.param_names:
        params = dict(gg.params)
        params[name] *= math.exp(_FD_STEP)
        out, _ = _means(base, pm, GammaGammaModel(params), cum=cum, inc=inc)
        for k in keys:
            grads[k].append((out[k] - base_means[k]) / _FD_STEP)
    return {k: np.stack(v) for k, v in grads.items()}


def _param_variance(jac: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """g' cov g for every (segment, period): jac has shape (parameters, S, K)."""
    return np.einsum("pij,pq,qij->ij", jac, cov, jac)


def _run(base: _Base, seed: int, max_simulated: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    model = base.model
    pm, gg = model.purchase_model_, model.spend_model_
    rng = np.random.default_rng(seed)
    means, cum = _means(base, pm, gg)
    histories = (base.hx, base.ht, base.hT,
                 np.bincount(base.cust_hist, minlength=base.hx.size).astype(float))
    cov, cov_notes = _log_covariance(model, base.summary, histories)
    base.notes += cov_notes
    jac = _jacobian(base, means, cum)
    var_ex, var_ex_pur = _process_variance(base, rng, max_simulated, cum)
    S, K = len(base.segments), len(base.periods)
    if base.new_customers and base.acquired.sum() > 0:
        second, horizon = _new_second_moments(base, rng)
        arrivals_total = (base.acquired / base.window_days * horizon)[:, None]
        var_new = arrivals_total * base.spend_ratio[:, None] ** 2 * second
        with np.errstate(invalid="ignore", divide="ignore"):
            rate_rel = np.where(base.acquired > 0, 1.0 / base.acquired, 0.0)[:, None]
        var_rate = means["new_revenue"] ** 2 * rate_rel
    else:
        var_new = var_rate = np.zeros((S, K))
    # Segment rows, then the sum over segments (its gradient is the sum of the gradients).
    rows = []
    total_of = {k: v.sum(axis=0, keepdims=True) for k, v in means.items()}
    jac_total = {k: v.sum(axis=1, keepdims=True) for k, v in jac.items()}
    blocks = [(base.segments, means, jac, var_ex, var_new, var_rate, base.cust_seg)]
    if len(base.segments) > 1 or base.segments != [TOTAL_SEGMENT]:
        blocks.append(([TOTAL_SEGMENT], total_of, jac_total, var_ex.sum(0, keepdims=True),
                       var_new.sum(0, keepdims=True), var_rate.sum(0, keepdims=True),
                       np.zeros(base.cust_seg.size, dtype=np.int64)))
    for names, mu, jc, v_ex, v_new, v_rate, seg_codes in blocks:
        counts = np.bincount(seg_codes, minlength=len(names)) if seg_codes.size else \
            np.zeros(len(names))
        v_par_ex = _param_variance(jc["existing_revenue"], cov)
        v_par_new = _param_variance(jc["new_revenue"], cov)
        v_par_tot = _param_variance(jc["existing_revenue"] + jc["new_revenue"], cov)
        parts = {
            "existing": (mu["existing_revenue"], mu["existing_purchases"], v_ex + v_par_ex,
                         np.repeat(counts[:, None].astype(float), K, axis=1)),
            "new": (mu["new_revenue"], mu["new_purchases"], v_new + v_par_new + v_rate,
                    mu["arrivals"]),
            "total": (mu["existing_revenue"] + mu["new_revenue"],
                      mu["existing_purchases"] + mu["new_purchases"],
                      v_ex + v_new + v_rate + v_par_tot,
                      counts[:, None] + np.cumsum(mu["arrivals"], axis=1)),
        }
        for component, (rev, pur, var, cust) in parts.items():
            if component == "new" and not base.new_customers:
                continue
            lo80, hi80 = _gamma_interval(rev, var, 0.80)
            lo95, hi95 = _gamma_interval(rev, var, 0.95)
            for i, name in enumerate(names):
                for k in range(K):
                    p = base.periods.iloc[k]
                    rows.append((name, p["month"], str(p["period_start"]), str(p["period_end"]),
                                 component, float(cust[i, k]), float(pur[i, k]), float(rev[i, k]),
                                 float(math.sqrt(max(var[i, k], 0.0))), float(lo80[i, k]),
                                 float(hi80[i, k]), float(lo95[i, k]), float(hi95[i, k])))
    table = pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))
    extra = {"purchase_variance": var_ex_pur, "cum": cum, "cov": cov, "jac": jac}
    return table, extra


@reads_store
def forecast(
    store: Any,
    as_of: Any,
    horizon_months: int = 12,
    by: Any = "size_band",
    *,
    model: CLVModel | None = None,
    summary: pd.DataFrame | None = None,
    purchase_model: str = "bgnbd",
    acquisition_months: int = 12,
    new_customers: bool = True,
    max_simulated: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Expected revenue and purchases per segment and month, with 80 % and 95 % intervals.

    See the module docstring for the two components (existing and new
    customers), how the intervals are made and what ``by`` accepts.

    Parameters
    ----------
    store : crm_analytics.Store
    as_of : date-like
        Last day observed (inclusive); the forecast starts the day after.
    horizon_months : int, default 12
        Calendar months forecast (1 to 60); the first ends at the end of the
        month after ``as_of`` (a whole month when ``as_of`` is a month end).
    by : str, pandas.Series or None, default 'size_band'
        Segment column, labels by ``customer_id``, or None for the total only.
    model : CLVModel, optional
        A fitted model to use (e.g. the nightly run's); default
        ``CLVModel(purchase_model)`` fitted on ``summary``.
    summary : pandas.DataFrame, optional
        RFM summary as of ``as_of``; default ``rfm_summary(store, as_of)``.
    purchase_model : {'bgnbd', 'pareto_nbd', 'mbgnbd'}, default 'bgnbd'
    acquisition_months : int, default 12
        Window before ``as_of`` whose first purchases give each segment's
        acquisition rate (1 to 60).
    new_customers : bool, default True
        False: existing customers only (a closed cohort such as CDNOW).
    max_simulated : int, default 10,000
        Customers per segment simulated for the process variance (at least 100).
    seed : int, default 0
        Seed of the simulation: same data, same seed, same intervals.

    Returns
    -------
    pandas.DataFrame
        One row per segment, month and component (``existing``, ``new``,
        ``total``), columns :data:`FORECAST_COLUMNS`: ``customers`` (existing
        customers; expected new ones for ``new``; both, cumulated, for
        ``total``), ``expected_purchases`` (purchase occasions, first purchases
        of new customers included), ``expected_revenue``, ``revenue_std`` and
        the interval bounds. ``attrs`` holds ``as_of``, ``by``, the model's
        parameters and ``notes``.

    Raises
    ------
    InputError
        Unknown ``by`` (the message lists the valid columns), a bad horizon
        or window, fewer than :data:`MIN_CUSTOMERS` customers with purchases,
        no repeat buyer to fit the spend model on.

    Examples
    --------
    >>> from crm_analytics.store import Store
    >>> from crm_analytics.datasets.synthetic import generate
    >>> store = Store(":memory:")
    >>> _ = store.load_all(generate(n_customers=300, seed=3).tables())
    >>> fc = forecast(store, "2024-06-30", horizon_months=3, by="customer_type")
    >>> sorted(fc["segment"].unique())
    ['all customers', 'business', 'consumer']
    >>> total = fc[(fc.segment == "all customers") & (fc.component == "total")]
    >>> total[["month", "expected_revenue"]].round(-2).to_dict("list")
    {'month': ['2024-07', '2024-08', '2024-09'], 'expected_revenue': [5600.0, 5800.0, 5700.0]}
    >>> bool((total.revenue_lo95 < total.expected_revenue).all())
    True
    """
    as_of_day = to_date(as_of, "as_of")
    horizon = _check_int("horizon_months", horizon_months, 1, MAX_HORIZON_MONTHS)
    window = _check_int("acquisition_months", acquisition_months, 1, 60)
    max_sim = _check_int("max_simulated", max_simulated, 100, 10_000_000)
    seed = _check_int("seed", seed, 0, 2**32 - 1)
    if not isinstance(new_customers, bool):
        raise InputError(f"new_customers must be True or False. Got {new_customers!r} instead.")
    periods = month_periods(as_of_day, horizon)
    base = _prepare(store, as_of_day, periods, by, model, summary, purchase_model, window,
                    new_customers)
    table, _ = _run(base, seed, max_sim)
    model = base.model
    table.attrs.update({
        "as_of": as_of_day.isoformat(), "horizon_months": horizon,
        "by": by if isinstance(by, str) or by is None else "labels",
        "purchase_model": model.purchase_model,
        "params": {k: float(v) for k, v in model.params_.items()},
        "customers": int(len(base.summary)), "notes": list(base.notes),
    })
    return table


@reads_store
def weekly_repeat_purchases(
    store: Any, as_of: Any, weeks: int = 39, *, model: CLVModel | None = None,
    summary: pd.DataFrame | None = None, seed: int = 0,
) -> pd.DataFrame:
    """Cumulative expected repeat purchases of the existing customers, week by week.

    The tracking view of Fader, Hardie & Lee (2005): the customers present at
    ``as_of`` (a closed cohort; no acquisitions), their conditional expected
    repeat purchase occasions summed and cumulated over ``weeks`` weeks, with a
    95 % interval of the cumulative count (process variance simulated as in
    :func:`forecast`, parameter variance by the delta method).

    Returns
    -------
    pandas.DataFrame
        ``week`` (1..weeks), ``week_end`` (date), ``expected`` (cumulative),
        ``lo95``, ``hi95``.

    Examples
    --------
    >>> from crm_analytics.store import Store
    >>> from crm_analytics.datasets.synthetic import generate
    >>> store = Store(":memory:")
    >>> _ = store.load_all(generate(n_customers=300, seed=3).tables())
    >>> track = weekly_repeat_purchases(store, "2024-06-30", weeks=4)
    >>> track["expected"].round(0).tolist()
    [7.0, 14.0, 20.0, 26.0]
    """
    as_of_day = to_date(as_of, "as_of")
    weeks = int(check_number("weekly_repeat_purchases", "weeks", weeks, integer=True, low=1,
                             high=520))
    periods = _week_periods(as_of_day, weeks)
    base = _prepare(store, as_of_day, periods, None, model, summary, "bgnbd", 12, False)
    pm, gg = base.model.purchase_model_, base.model.spend_model_
    means, cum = _means(base, pm, gg)
    rng = np.random.default_rng(seed)
    # The cumulative count's variance needs the covariance across weeks: simulate the
    # cumulative path directly (weekly periods -> cumulative sums of the draws).
    weekly_cum = np.cumsum(means["existing_purchases"].sum(axis=0))
    cov, _ = _log_covariance(base.model, base.summary)
    jac = _jacobian(base, means, cum)["existing_purchases"].sum(axis=1)  # (params, K)
    jac_cum = np.cumsum(jac, axis=1)
    var_param = np.einsum("pk,pq,qk->k", jac_cum, cov, jac_cum)
    var_proc = _cumulative_process_variance(base, rng, cum)
    lo, hi = _gamma_interval(weekly_cum, var_param + var_proc, 0.95)
    return pd.DataFrame({"week": np.arange(1, weeks + 1), "week_end": periods["period_end"],
                         "expected": weekly_cum, "lo95": lo, "hi95": hi})


def _cumulative_process_variance(base: _Base, rng: np.random.Generator, cum: np.ndarray
                                 ) -> np.ndarray:
    pm = base.model.purchase_model_
    hist = base.cust_hist
    replicates = int(np.clip(_SIM_TARGET // max(hist.size, 1), _SIM_MIN_REPLICATES,
                             _SIM_MAX_REPLICATES))
    total = np.zeros(cum.shape[1])
    mean = cum[hist]
    for _ in range(replicates):
        counts = _posterior_draws(pm, base.hx[hist], base.ht[hist], base.hT[hist], base.t_ends, rng)
        total += ((np.cumsum(counts, axis=1) - mean) ** 2).sum(axis=0)
    return total / replicates


def plot_forecast_fan(table: pd.DataFrame, segment: str | None = None, *,
                      actual: pd.DataFrame | None = None, component: str = "total") -> Any:
    """Fan chart of one segment's forecast: expected revenue with its 80 % and 95 % bands.

    Parameters
    ----------
    table : pandas.DataFrame
        What :func:`forecast` returns.
    segment : str, optional
        Default: :data:`TOTAL_SEGMENT`.
    actual : pandas.DataFrame, optional
        ``month`` and ``revenue`` to draw as a line (e.g. from a back-test).
    component : {'total', 'existing', 'new'}

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> t = pd.DataFrame({"segment": "all customers", "month": ["2024-01", "2024-02"],
    ...                   "component": "total", "expected_revenue": [10.0, 11.0],
    ...                   "revenue_lo80": [8.0, 8.5], "revenue_hi80": [12.0, 13.0],
    ...                   "revenue_lo95": [7.0, 7.5], "revenue_hi95": [13.0, 14.5]})
    >>> [trace.name for trace in plot_forecast_fan(t).data]
    ['95 % interval', '95 % interval', '80 % interval', '80 % interval', 'expected']
    """
    import plotly.graph_objects as go

    segment = TOTAL_SEGMENT if segment is None else segment
    if not isinstance(table, pd.DataFrame) or "segment" not in table.columns:
        raise InputError("plot_forecast_fan needs the DataFrame that forecast() returns")
    rows = table[(table["segment"] == segment) & (table["component"] == component)]
    if rows.empty:
        known = ", ".join(map(str, table["segment"].unique()))
        raise InputError(f"no segment {segment!r} with component {component!r} in this forecast; "
                         f"segments: {known}")
    months = rows["month"].astype(str).tolist()
    if {"period_start", "period_end"} <= set(rows.columns):
        # A first month cut short by as_of would look like a slump: say how many days it has.
        days = (pd.to_datetime(rows["period_end"]) - pd.to_datetime(rows["period_start"])).dt.days + 1
        full = pd.PeriodIndex(rows["month"], freq="M").days_in_month if rows["month"].str.match(
            r"^\d{4}-\d{2}$").all() else days
        months = [f"{m} ({d} day{'s' if d > 1 else ''})" if d < f else m
                  for m, d, f in zip(months, days, full, strict=True)]
    fig = go.Figure()
    for level, color in ((95, "rgba(31,119,180,0.15)"), (80, "rgba(31,119,180,0.30)")):
        fig.add_trace(go.Scatter(x=months, y=rows[f"revenue_hi{level}"], mode="lines",
                                 line={"width": 0}, name=f"{level} % interval", showlegend=False))
        fig.add_trace(go.Scatter(x=months, y=rows[f"revenue_lo{level}"], mode="lines",
                                 line={"width": 0}, fill="tonexty", fillcolor=color,
                                 name=f"{level} % interval"))
    fig.add_trace(go.Scatter(x=months, y=rows["expected_revenue"], mode="lines+markers",
                             name="expected", line={"color": "#1f77b4"}))
    if actual is not None and len(actual):
        fig.add_trace(go.Scatter(x=actual["month"], y=actual["revenue"], mode="lines+markers",
                                 name="actual", line={"color": "black"}))
    fig.update_layout(title=f"Revenue forecast: {segment} ({component})", xaxis_title="month",
                      yaxis_title="revenue")
    fig.update_xaxes(type="category")  # "2025-12 (1 day)" next to "2026-01": labels, not dates
    return fig
