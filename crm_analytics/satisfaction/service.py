"""Service quality from tickets (ITIL view) and its link to satisfaction.

Definitions, all "as of" a date (inclusive; the cutoff is the next midnight). Nothing
that happens after the cutoff is used: a ticket resolved later is open at ``as_of``, a
later first response has not happened yet.

* **SLA status** of a ticket with ``sla_hours``: *met* if resolved by ``as_of`` within
  ``sla_hours`` of ``opened_at`` (exactly on the deadline counts as met); *breached* if
  resolved later than that, or still open at the cutoff with its deadline already
  passed; *pending* if open and its deadline has not passed yet. Tickets without
  ``sla_hours`` are counted in ``n_no_sla`` and left out of compliance.
  ``sla_compliance = n_sla_met / (n_sla_met + n_sla_breached)``: pending tickets are
  not yet decided, so they are in neither count. A ticket's status never changes from
  breached to met as time passes.
* **Response and resolution times** (hours) of the tickets that had a first response /
  were resolved by ``as_of``; percentiles are linear-interpolated (``percentile_cont``).
* Ticket measures (counts, SLA, times, reopen rate, complaints) belong to the period the
  ticket was **opened** in (a cohort view: recent periods still have open tickets, see
  ``n_open`` and ``n_sla_pending``).
* **Backlog**: tickets open at the end of the period (or at the cutoff for the current
  period): opened before it and not resolved before it, whenever they were opened.
* **Reopen rate**: reopened tickets among those resolved by ``as_of``. The contract has
  no reopening date, so the ``reopened`` flag is taken as stored (the one field that can
  carry later knowledge).
* **Complaints per 100 customers**: complaint tickets opened in the period per 100
  customers on record at the period end (``created_at`` before it, or unknown) in the
  cell's customer segment; ticket dimensions (priority, channel, category) do not split
  the denominator, so per priority it reads "complaints of this priority per 100
  customers of the segment".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import statsmodels.api as sm
from scipy import stats

from crm_analytics.core.summary import Summary
from crm_analytics.errors import DataQualityWarning, InputError
from crm_analytics.satisfaction.plotting import plot_coefficients
from crm_analytics.satisfaction.store_io import (
    CUSTOMER_DIMENSIONS,
    TICKET_DIMENSIONS,
    check_store,
    cutoff_params,
    describe_inventory,
    dimension_params,
    name_cells,
    period_param,
    query,
    size_params,
    survey_inventory,
    warn_small_cells,
)
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS, SizeThresholds

__all__ = ["IMPACT_TERMS", "ServiceImpact", "service_impact", "service_quality"]

#: Fewest tickets for a cell's rates and percentiles to be reported.
DEFAULT_MIN_TICKETS = 10
_RATES = ["sla_compliance", "first_response_p50_hours", "first_response_p90_hours",
          "resolution_p50_hours", "resolution_p90_hours", "reopen_rate",
          "complaints_per_100_customers"]

#: Service-experience features of ``service_impact`` (window = the days before the answer).
IMPACT_TERMS: dict[str, str] = {
    "sla_breaches": "tickets resolved in the window more than sla_hours after opening",
    "tickets_resolved": "tickets resolved in the window",
    "mean_resolution_hours": "mean resolution time of those tickets (0 without tickets)",
    "complaints": "complaint tickets opened in the window",
    "last_ticket_breached": "1 if the ticket resolved last in the window breached its SLA",
    "last_resolution_hours": "resolution time of that ticket (0 without tickets)",
}
_DEFAULT_TERMS = {
    "nps": ["sla_breaches", "complaints", "tickets_resolved", "mean_resolution_hours"],
    "csat": ["last_ticket_breached", "last_resolution_hours", "complaints"],
}
_OUTCOMES = ("nps", "csat")


def service_quality(store: Any, as_of: Any = None, *, by: str | Sequence[str] | None = None,
                    period: str | None = "month", min_n: int = DEFAULT_MIN_TICKETS,
                    thresholds: SizeThresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """SLA compliance, response and resolution times, backlog, reopens and complaints.

    The definitions are in the module docstring (:mod:`crm_analytics.satisfaction.service`).

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        Inclusive; ``None`` means the last day with ticket or survey activity.
    by : str or list of str, optional
        Up to three of: customer attributes ``region``, ``customer_type``, ``industry``,
        ``size_band``, ``country``; ticket attributes ``priority``, ``channel``,
        ``category``.
    period : {"month", "quarter", "year"} or None
        Period of ``opened_at``, as a column of that name holding the first day of the
        period; ``None`` gives one row per cell for everything up to ``as_of``.
    min_n : int
        Cells with fewer tickets keep their counts but their rates and percentiles are
        NaN (not reportable, with a ``note``).
    thresholds : SizeThresholds
        Size-band thresholds for ``by="size_band"``.

    Returns
    -------
    DataFrame
        One row per cell and period: ``n_tickets``, ``n_resolved``, ``n_open`` (at
        ``as_of``), ``n_sla_met``, ``n_sla_breached``, ``n_sla_pending``, ``n_no_sla``,
        ``sla_compliance`` (0-1), ``n_responded``, ``first_response_p50_hours``,
        ``first_response_p90_hours``, ``resolution_p50_hours``, ``resolution_p90_hours``,
        ``n_reopened``, ``reopen_rate``, ``n_complaints``, ``n_customers``,
        ``complaints_per_100_customers``, ``backlog``, ``reportable``, ``note``.

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> table = service_quality(demo_store(), "2024-06-20", period=None, min_n=1)
    >>> table[["n_tickets", "n_sla_met", "n_sla_breached", "n_sla_pending", "backlog"]]
       n_tickets  n_sla_met  n_sla_breached  n_sla_pending  backlog
    0          5          2              2              1        2
    >>> round(float(table["sla_compliance"].iloc[0]), 2)
    0.5
    """
    check_store(store, "service_quality")
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 1:
        raise InputError(f"The 'min_n' parameter must be an int in the range [1, inf). "
                         f"Got {min_n!r} instead.")
    names, dims = dimension_params(by, (*CUSTOMER_DIMENSIONS, *TICKET_DIMENSIONS))
    day, params = cutoff_params(store, as_of)
    table = store.sql(query("ticket_quality.sql"), {
        "cutoff": params["cutoff"], **period_param(period), **dims, **size_params(thresholds)})
    if table.empty:
        raise InputError(f"service_quality: the store has no tickets opened on or before "
                         f"{day}; load them with store.load('tickets', ...).")
    table = name_cells(table, names, period)
    counts = [c for c in table.columns if c.startswith("n_") or c == "backlog"]
    table[counts] = table[counts].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        decided = table["n_sla_met"] + table["n_sla_breached"]
        table["sla_compliance"] = table["n_sla_met"] / decided.where(decided > 0)
        table["reopen_rate"] = table["n_reopened"] / table["n_resolved"].where(
            table["n_resolved"] > 0)
        table["complaints_per_100_customers"] = 100 * table["n_complaints"] / table[
            "n_customers"].where(table["n_customers"] > 0)
    small = table["n_tickets"] < min_n
    table.loc[small, _RATES] = np.nan
    table["reportable"] = ~small
    table["note"] = np.where(small, "n_tickets=" + table["n_tickets"].astype(str)
                             + f" < min_n={min_n}: rates not reportable", "")
    keys = [*names, *([period] if period else [])]
    order = [*keys, "n_tickets", "n_resolved", "n_open", "n_sla_met", "n_sla_breached",
             "n_sla_pending", "n_no_sla", "sla_compliance", "n_responded",
             "first_response_p50_hours", "first_response_p90_hours", "resolution_p50_hours",
             "resolution_p90_hours", "n_reopened", "reopen_rate", "n_complaints",
             "n_customers", "complaints_per_100_customers", "backlog", "reportable", "note"]
    table = table[order]
    warn_small_cells(table, keys, min_n, "tickets", n_col="n_tickets")
    return table


# --------------------------------------------------------------------------- impact


@dataclass(repr=False)
class ServiceImpact:
    """Result of :func:`service_impact`.

    Attributes
    ----------
    outcome : str
        ``"nps"`` (0-10 score) or ``"csat"`` (score on its scale).
    coefficients : DataFrame
        ``term``, ``estimate`` (change in the score per unit of the term), ``std_error``,
        ``ci_lower``, ``ci_upper``, ``p_value``.
    n, n_customers : int
        Answers and customers in the regression.
    r_squared : float
        Share of the score's variance explained (within customers with
        ``customer_effects``).
    cov_type : str
        How standard errors were computed (``"HC3"``, ..., or ``"cluster"`` by customer).
    customer_effects : bool
        Whether each customer's own level was absorbed (within-customer estimate).
    window_days : int
    as_of : datetime.date
    level : float
        Confidence level of the intervals.
    data : DataFrame
        One row per answer: the score, every feature of ``IMPACT_TERMS`` and the ids.
    """

    outcome: str
    coefficients: pd.DataFrame
    n: int
    n_customers: int
    r_squared: float
    cov_type: str
    customer_effects: bool
    window_days: int
    as_of: Any
    level: float
    data: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        terms = ", ".join(f"{t}={e:+.3f}" for t, e in
                          zip(self.coefficients["term"], self.coefficients["estimate"],
                              strict=True) if t != "intercept")
        return (f"ServiceImpact(outcome={self.outcome!r}, n={self.n}, "
                f"r_squared={self.r_squared:.3f}, {terms})")

    def summary(self) -> Summary:
        """Model information and the coefficient table.

        Returns
        -------
        Summary
            ``to_frame()`` is a copy of :attr:`coefficients`.
        """
        info = {"outcome": self.outcome, "as of": self.as_of, "answers": self.n,
                "customers": self.n_customers, "window (days)": self.window_days,
                "customer effects": self.customer_effects,
                "standard errors": self.cov_type, "R squared": round(self.r_squared, 4),
                "confidence level": self.level}
        return Summary("Service experience and satisfaction (OLS)",
                       [(k, str(v)) for k, v in info.items()], self.coefficients)

    def plot_coefficients(self) -> go.Figure:
        """Coefficients with their confidence intervals (intercept left out)."""
        return plot_coefficients(self.coefficients[self.coefficients["term"] != "intercept"],
                                 title=f"Effect on {self.outcome} per unit of service experience")


def service_impact(store: Any, as_of: Any = None, *, outcome: str = "csat",
                   terms: Sequence[str] | None = None, window_days: int = 180,
                   customer_effects: bool = False, cov_type: str | None = None,
                   level: float = 0.95, item: str | None = None) -> ServiceImpact:
    """Regress CSAT or NPS answers on the service the customer had just experienced.

    For every answer up to ``as_of`` the features of :data:`IMPACT_TERMS` are computed
    over the tickets of that customer in the ``window_days`` before the answer
    (``sql/service_experience.sql``); a breach is a ticket *resolved* in the window more
    than ``sla_hours`` after it was opened. The score is regressed on the chosen terms by
    OLS (statsmodels).

    Two caveats. Rounding and the ends of the scale compress the scores, so slopes are a
    little smaller than the effect on the underlying opinion. And customers who get poor
    service often differ in other ways (their contract, their product) that also move
    their score: a pooled regression mixes that in. ``customer_effects=True`` compares
    each customer only with themselves (customer fixed effects, the within estimator;
    only customers with two or more answers contribute), which removes every stable
    difference between customers.

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        Answers on or before this day; ``None``: the last day with activity.
    outcome : {"csat", "nps"}
    terms : list of str, optional
        Features to use (keys of :data:`IMPACT_TERMS`). Default: for NPS
        ``sla_breaches, complaints, tickets_resolved, mean_resolution_hours``; for CSAT
        ``last_ticket_breached, last_resolution_hours, complaints``.
    window_days : int
        Length of the window before each answer.
    customer_effects : bool
        Absorb each customer's own level (within-customer estimate).
    cov_type : str, optional
        ``"HC0"`` ... ``"HC3"`` (heteroskedasticity-robust) or ``"cluster"`` (by
        customer). Default ``"HC3"``, or ``"cluster"`` with ``customer_effects``.
    level : float
        Confidence level of the intervals.
    item : str, optional
        Survey item of the outcome; default the outcome's name.

    Returns
    -------
    ServiceImpact

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> res = service_impact(demo_store(), outcome="csat", terms=["last_ticket_breached"])
    >>> res.coefficients[["term", "estimate"]]
                       term  estimate
    0             intercept       4.0
    1  last_ticket_breached      -2.0
    """
    check_store(store, "service_impact")
    if outcome not in _OUTCOMES:
        raise InputError(f"The 'outcome' parameter must be one of {list(_OUTCOMES)}. "
                         f"Got {outcome!r} instead.")
    terms = list(_DEFAULT_TERMS[outcome] if terms is None else terms)
    unknown = [t for t in terms if t not in IMPACT_TERMS]
    if unknown or not terms:
        raise InputError(f"The 'terms' parameter must list some of {list(IMPACT_TERMS)}. "
                         f"Got {unknown or terms!r} instead.")
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer) \
            or window_days < 1:
        raise InputError(f"The 'window_days' parameter must be an int in the range [1, inf). "
                         f"Got {window_days!r} instead.")
    if not 0 < level < 1:
        raise InputError(f"The 'level' parameter must be a float in the range (0, 1). "
                         f"Got {level!r} instead.")
    cov_type = cov_type or ("cluster" if customer_effects else "HC3")
    if cov_type not in ("HC0", "HC1", "HC2", "HC3", "cluster"):
        raise InputError(f"The 'cov_type' parameter must be one of 'HC0', 'HC1', 'HC2', "
                         f"'HC3', 'cluster'. Got {cov_type!r} instead.")
    item = item or outcome
    day, params = cutoff_params(store, as_of)
    data = store.sql(query("service_experience.sql"), {
        "item": item, "cutoff": params["cutoff"], "window_days": int(window_days)})
    if data.empty:
        raise InputError(f"service_impact: no answers to survey item {item!r} up to {day}; "
                         f"{describe_inventory(survey_inventory(store, day))}. Pass item= "
                         "with the name your surveys use.")
    data[["mean_resolution_hours", "last_resolution_hours"]] = data[
        ["mean_resolution_hours", "last_resolution_hours"]].fillna(0.0)
    if outcome == "nps":
        off = (data["scale_min"] != 0) | (data["scale_max"] != 10)
        if off.any():
            raise InputError(f"service_impact: {int(off.sum())} answer(s) to item {item!r} "
                             "are not on the 0-10 scale of the recommendation question.")
    fit, n_customers = _fit_ols(data, terms, customer_effects, cov_type)
    z = stats.norm.ppf(0.5 + level / 2)
    estimate, se = fit.params, fit.bse
    coefficients = pd.DataFrame({
        "term": ["intercept" if t == "const" else t for t in estimate.index],
        "estimate": estimate.to_numpy(), "std_error": se.to_numpy(),
        "ci_lower": (estimate - z * se).to_numpy(), "ci_upper": (estimate + z * se).to_numpy(),
        "p_value": fit.pvalues.to_numpy()})
    return ServiceImpact(outcome=outcome, coefficients=coefficients, n=int(fit.nobs),
                         n_customers=n_customers,
                         r_squared=float(fit.rsquared), cov_type=cov_type,
                         customer_effects=customer_effects, window_days=int(window_days),
                         as_of=day, level=level, data=data)


def _fit_ols(data: pd.DataFrame, terms: list[str], customer_effects: bool,
             cov_type: str) -> tuple[Any, int]:
    """OLS with robust standard errors; within-customer when ``customer_effects``."""
    y = data["score"].astype(float)
    X = data[terms].astype(float)
    customers = data["customer_id"]
    if customer_effects:
        repeat = customers.map(customers.value_counts()) > 1
        y, X, customers = y[repeat], X[repeat], customers[repeat]
        if customers.nunique() < 2:
            raise InputError("service_impact: customer_effects=True needs customers with two "
                             f"or more answers; only {customers.nunique()} customer(s) have "
                             "them. Use customer_effects=False.")
        # The within transformation: deviations from each customer's own means.
        y = y - y.groupby(customers).transform("mean")
        X = X - X.groupby(customers).transform("mean")
    flat = [t for t in terms if np.isclose(X[t].std(ddof=0), 0.0)]
    if flat:
        what = "within a customer" if customer_effects else "over the answers"
        warnings.warn(f"service_impact: term(s) {flat} do not vary {what} (e.g. every value "
                      f"is {X[flat[0]].iloc[0]:g}); they are left out.", DataQualityWarning,
                      stacklevel=3)
        X = X.drop(columns=flat)
    if X.shape[1] == 0:
        raise InputError("service_impact: no term varies in the data, so there is nothing "
                         "to estimate; widen window_days or use other terms.")
    minimum = X.shape[1] + 2
    if len(y) < minimum:
        raise InputError(f"service_impact: only {len(y)} answer(s) to fit {X.shape[1]} "
                         f"term(s); at least {minimum} are needed.")
    if not customer_effects:
        X = sm.add_constant(X, has_constant="add")
    groups = pd.factorize(customers)[0]
    kwargs = {"groups": groups} if cov_type == "cluster" else {}
    return sm.OLS(y, X).fit(cov_type=cov_type, cov_kwds=kwargs or None), customers.nunique()
