"""Did the campaign work? Treatment against its control group, after the export.

:func:`campaign_results` reads the contact history of one campaign: every
customer it reached (treatment) or held out (control, see
:func:`crm_analytics.campaigns.policy.holdout_draw`), from the first export of
the campaign that recorded them. For each, the ``window_days`` after that
moment give three outcomes:

response rate
    share of customers with at least one purchase (positive amount) in the window;
revenue per customer
    net revenue (refunds subtracted) in the window, zero for those who bought nothing;
churn rate
    among customers who bought in the ``window_days`` *before* the export, the
    share who bought nothing in the window after.

Each is compared treatment minus control with a confidence interval and a
two-sided p-value from statsmodels: proportions with the Newcomb (Wilson
score) interval and the score test
(``statsmodels.stats.proportion.confint_proportions_2indep`` /
``test_proportions_2indep``), revenue with Welch's t interval and test
(``statsmodels.stats.weightstats.CompareMeans``, unequal variances). The
incremental revenue is the revenue difference times the treated customers, with
the interval scaled the same way.

Only customers whose window is over by ``as_of`` (default: the store's latest
transaction date) count; transactions after ``as_of`` are never read.
Because the arms come from a random split of the same eligible customers, the
difference estimates the campaign's effect; a small control group gives a wide
interval, not a biased one.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_analytics.campaigns.history import has_table
from crm_analytics.errors import InputError
from crm_analytics.store.asof import resolve_as_of
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import reads_store

__all__ = ["METRICS", "CampaignResults", "campaign_overview", "campaign_results", "overview_html",
           "plot_overview"]

#: The outcomes compared, in order.
METRICS: tuple[str, ...] = ("response_rate", "revenue_per_customer", "churn_rate")
_COLUMNS = ["treatment", "control", "difference", "ci_low", "ci_high", "p_value",
            "n_treatment", "n_control", "note"]
#: Fewest mature customers per arm to compare anything.
MIN_PER_ARM = 2


@dataclass
class CampaignResults:
    """What :func:`campaign_results` measured (see the module docstring).

    ``effects`` has one row per metric (``response_rate``, ``revenue_per_customer``,
    ``churn_rate``) and the columns ``treatment``, ``control``, ``difference``,
    ``ci_low``, ``ci_high``, ``p_value``, ``n_treatment``, ``n_control`` and
    ``note`` (why a metric could not be compared). ``skipped`` says why nothing
    could be measured (None when something was).
    """

    campaign: str
    window_days: int
    as_of: dt.date
    confidence: float
    treatment: int
    control: int
    immature: int
    effects: pd.DataFrame
    incremental_revenue: float = math.nan
    incremental_revenue_ci: tuple[float, float] = (math.nan, math.nan)
    skipped: str | None = None
    customers: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def effect(self, metric: str) -> dict[str, Any]:
        """One row of :attr:`effects` as a dict."""
        if metric not in METRICS:
            raise InputError(f"metric must be one of {list(METRICS)}; got {metric!r}")
        return self.effects.loc[metric].to_dict()

    def to_frame(self) -> pd.DataFrame:
        """The effects, with the campaign and window as columns."""
        return self.effects.reset_index(names="metric").assign(
            campaign=self.campaign, window_days=self.window_days)

    def summary(self) -> str:
        """A few lines for a log, a terminal or a notebook."""
        head = (f"CampaignResults({self.campaign!r}, {self.window_days}-day window, as of "
                f"{self.as_of}): {self.treatment:,} treated, {self.control:,} control, "
                f"{self.immature:,} not yet measurable")
        if self.skipped:
            return head + f"\n  not measured: {self.skipped}"
        level = f"{self.confidence:.0%}"
        lines = [head]
        for metric, row in self.effects.iterrows():
            if pd.isna(row["difference"]):
                lines.append(f"  {metric}: not compared ({row['note']})")
                continue
            lines.append(
                f"  {metric}: treatment {_fmt(metric, row['treatment'])} vs control "
                f"{_fmt(metric, row['control'])}; difference {_fmt(metric, row['difference'], True)} "
                f"({level} CI {_fmt(metric, row['ci_low'], True)} to "
                f"{_fmt(metric, row['ci_high'], True)}), p = {row['p_value']:.3g}")
        low, high = self.incremental_revenue_ci
        lines.append(f"  incremental revenue: {self.incremental_revenue:,.2f} "
                     f"({level} CI {low:,.2f} to {high:,.2f})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"

    def plot_effects(self) -> go.Figure:
        """The differences with their confidence intervals, one panel-free bar per metric."""
        rows = self.effects.dropna(subset=["difference"])
        fig = go.Figure(go.Scatter(
            x=rows["difference"], y=list(rows.index), mode="markers",
            error_x={"type": "data", "symmetric": False,
                     "array": (rows["ci_high"] - rows["difference"]).tolist(),
                     "arrayminus": (rows["difference"] - rows["ci_low"]).tolist()},
            name="treatment - control"))
        fig.add_vline(x=0, line_dash="dot")
        fig.update_layout(title=f"{self.campaign}: effect in the {self.window_days} days after export",
                          xaxis_title="treatment - control", yaxis_title="")
        return fig


def _fmt(metric: str, value: float, signed: bool = False) -> str:
    if pd.isna(value):
        return "n/a"
    if metric == "revenue_per_customer":
        return f"{value:+,.2f}" if signed else f"{value:,.2f}"
    return f"{value * 100:+.1f} pp" if signed else f"{value:.1%}"


def _proportions(success_t: int, n_t: int, success_c: int, n_c: int,
                 alpha: float) -> tuple[float, float, float]:
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    # statsmodels also computes ratios, which divide by zero when an arm has no success.
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = confint_proportions_2indep(success_t, n_t, success_c, n_c, method="newcomb",
                                               compare="diff", alpha=alpha)
        p = float(test_proportions_2indep(success_t, n_t, success_c, n_c, method="score",
                                          compare="diff").pvalue)
    if math.isnan(p) and success_t * n_c == success_c * n_t:  # both arms all 0 or all 1: no difference
        p = 1.0
    return float(low), float(high), p


def _means(treated: np.ndarray, control: np.ndarray, alpha: float) -> tuple[float, float, float]:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    compare = CompareMeans(DescrStatsW(treated), DescrStatsW(control))
    if np.var(treated) + np.var(control) == 0:  # no spread: the difference is exact
        diff = float(treated.mean() - control.mean())
        return diff, diff, 1.0 if diff == 0 else 0.0
    low, high = compare.tconfint_diff(alpha=alpha, usevar="unequal")
    p = compare.ttest_ind(usevar="unequal")[1]
    return float(low), float(high), float(p)


def _compare(metric: str, t: np.ndarray, c: np.ndarray, alpha: float) -> dict[str, Any]:
    row: dict[str, Any] = {k: math.nan for k in _COLUMNS}
    row.update(n_treatment=len(t), n_control=len(c), note="")
    if len(t) < MIN_PER_ARM or len(c) < MIN_PER_ARM:
        row["note"] = (f"fewer than {MIN_PER_ARM} customers in an arm "
                       f"({len(t)} treated, {len(c)} control)")
        return row
    row.update(treatment=float(t.mean()), control=float(c.mean()))
    row["difference"] = row["treatment"] - row["control"]
    if metric == "revenue_per_customer":
        low, high, p = _means(t, c, alpha)
    else:
        low, high, p = _proportions(int(t.sum()), len(t), int(c.sum()), len(c), alpha)
    row.update(ci_low=low, ci_high=high, p_value=p)
    return row


def _check(campaign: Any, window_days: Any, confidence: Any) -> None:
    if not isinstance(campaign, str) or not campaign.strip():
        raise InputError(f"campaign_results: campaign must be a campaign name; got {campaign!r}")
    if isinstance(window_days, bool) or not isinstance(window_days, (int, np.integer)) \
            or not 1 <= window_days <= 3650:
        raise InputError(f"campaign_results: window_days must be a whole number of days in "
                         f"[1, 3650]; got {window_days!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
            or not 0.5 <= confidence < 1:
        raise InputError(f"campaign_results: confidence must be in [0.5, 1) such as 0.95; "
                         f"got {confidence!r}")


@reads_store
def campaign_results(store: Any, campaign: str, window_days: int = 30, *,
                     as_of: Any = None, confidence: float = 0.95) -> CampaignResults:
    """Treatment against control for ``campaign`` in the ``window_days`` after its exports.

    Parameters
    ----------
    store : Store or path
        A path is opened read-only for the call.
    campaign : str
        The campaign name given to the exports.
    window_days : int, default 30
        Days after a customer's first export of the campaign in which outcomes count.
    as_of : date or str, optional
        Measure as of this date (default: the latest transaction in the store);
        customers whose window ends later are left out (``immature``).
    confidence : float, default 0.95
        Level of the confidence intervals.

    Returns
    -------
    CampaignResults
        ``skipped`` says why nothing was measured (unknown campaign, no control
        group, no window over yet) instead of raising.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> campaign_results(Store(":memory:"), "spring", as_of="2025-01-31").skipped
    "no customer of campaign 'spring' in the contact history"
    """
    _check(campaign, window_days, confidence)
    day = resolve_as_of(store, as_of)
    alpha = 1 - float(confidence)
    empty = pd.DataFrame([{**{k: math.nan for k in _COLUMNS}, "n_treatment": 0, "n_control": 0,
                           "note": "not measured"}] * len(METRICS), index=list(METRICS))
    base = {"campaign": campaign, "window_days": int(window_days), "as_of": day,
            "confidence": float(confidence)}
    frame = pd.DataFrame()
    if has_table(store, "contact_history"):
        frame = store.sql(load_query("campaigns/sql/campaign_outcomes.sql"), {
            "campaign": campaign, "window_days": int(window_days),
            "as_of_end": pd.Timestamp(day) + pd.Timedelta(days=1)})
    if frame.empty:
        return CampaignResults(**base, treatment=0, control=0, immature=0, effects=empty,
                               skipped=f"no customer of campaign {campaign!r} in the contact history")
    frame["is_control"] = frame["is_control"].astype(bool)
    mature = frame[frame["mature"].astype(bool)]
    t, c = mature[~mature["is_control"]], mature[mature["is_control"]]
    counts = {"treatment": len(t), "control": len(c), "immature": int(len(frame) - len(mature))}
    if len(t) < MIN_PER_ARM or len(c) < MIN_PER_ARM:
        why = ("no control group: give the campaign a holdout_fraction" if not frame["is_control"].any()
               else f"fewer than {MIN_PER_ARM} customers per arm whose {window_days}-day window "
                    f"is over by {day} ({len(t)} treated, {len(c)} control)")
        return CampaignResults(**base, **counts, effects=empty, skipped=why, customers=frame)
    rows = {
        "response_rate": _compare("response_rate", (t["purchases"] > 0).to_numpy(float),
                                  (c["purchases"] > 0).to_numpy(float), alpha),
        "revenue_per_customer": _compare("revenue_per_customer", t["revenue"].to_numpy(float),
                                         c["revenue"].to_numpy(float), alpha),
    }
    ta, ca = t[t["purchases_before"] > 0], c[c["purchases_before"] > 0]
    churn = _compare("churn_rate", (ta["purchases"] == 0).to_numpy(float),
                     (ca["purchases"] == 0).to_numpy(float), alpha)
    if churn["note"]:
        churn["note"] = "too few customers active before the export: " + churn["note"]
    rows["churn_rate"] = churn
    effects = pd.DataFrame.from_dict(rows, orient="index")[_COLUMNS]
    revenue = rows["revenue_per_customer"]
    n = len(t)
    return CampaignResults(
        **base, **counts, effects=effects,
        incremental_revenue=float(revenue["difference"] * n),
        incremental_revenue_ci=(float(revenue["ci_low"] * n), float(revenue["ci_high"] * n)),
        customers=frame,
    )


@reads_store
def campaign_overview(store: Any, window_days: int = 30, *, as_of: Any = None,
                      confidence: float = 0.95) -> pd.DataFrame:
    """Every campaign of the contact history with its measured effect (newest first).

    Columns: ``campaign``, ``exports``, ``first_export``, ``last_export``,
    ``treatment``, ``control`` (customers recorded), ``response_lift`` (difference
    in response rate), its ``ci_low`` / ``ci_high`` and ``p_value``,
    ``revenue_per_customer_lift``, ``incremental_revenue`` and ``note`` (why a
    campaign is not measured yet).

    Examples
    --------
    >>> from crm_analytics import Store
    >>> campaign_overview(Store(":memory:"), as_of="2025-01-31").empty
    True
    """
    columns = ["campaign", "exports", "first_export", "last_export", "treatment", "control",
               "response_lift", "ci_low", "ci_high", "p_value", "revenue_per_customer_lift",
               "incremental_revenue", "note"]
    if not has_table(store, "contact_history"):
        return pd.DataFrame(columns=columns)
    listed = store.sql(load_query("campaigns/sql/campaign_list.sql"))
    if listed.empty:
        return pd.DataFrame(columns=columns)
    day = resolve_as_of(store, as_of)
    rows = []
    for campaign in listed["campaign"]:
        res = campaign_results(store, campaign, window_days, as_of=day, confidence=confidence)
        resp, rev = res.effects.loc["response_rate"], res.effects.loc["revenue_per_customer"]
        rows.append({"campaign": campaign, "response_lift": resp["difference"],
                     "ci_low": resp["ci_low"], "ci_high": resp["ci_high"],
                     "p_value": resp["p_value"], "revenue_per_customer_lift": rev["difference"],
                     "incremental_revenue": res.incremental_revenue,
                     "note": res.skipped or ""})
    return listed.merge(pd.DataFrame(rows), on="campaign", how="left")[columns]


def plot_overview(overview: pd.DataFrame) -> go.Figure:
    """Response lift (percentage points) of each measured campaign, with its confidence interval."""
    rows = overview.dropna(subset=["response_lift"]) if not overview.empty else overview
    fig = go.Figure(go.Scatter(
        x=[str(c) for c in rows.get("campaign", [])],
        y=(rows["response_lift"] * 100).tolist() if len(rows) else [],
        mode="markers", name="response lift",
        error_y={"type": "data", "symmetric": False,
                 "array": ((rows["ci_high"] - rows["response_lift"]) * 100).tolist() if len(rows) else [],
                 "arrayminus": ((rows["response_lift"] - rows["ci_low"]) * 100).tolist()
                 if len(rows) else []}))
    fig.add_hline(y=0, line_dash="dot")
    fig.update_layout(xaxis_title="Campaign", yaxis_title="Response lift (percentage points)")
    if len(rows) < len(overview):
        fig.update_layout(meta={"notes": [f"{len(overview) - len(rows)} campaign(s) not measured "
                                          "yet (see the table)"]})
    return fig


def overview_html(overview: pd.DataFrame, window_days: int = 30) -> str:
    """The table of the dashboards' *Campaigns* page: one row per campaign with its effect."""
    intro = (f'<div class="note">Treatment against the control group in the {window_days} days '
             "after each customer's first export of the campaign (crm.campaign_results). "
             "Response lift: difference in the share of customers who bought, with its 95% "
             "confidence interval.</div>")
    if overview is None or overview.empty:
        return intro + ('<div class="note">No campaign recorded yet: exports record their '
                        "contacts in the contact history.</div>")
    headers = ["Campaign", "Exports", "Last export", "Treated", "Control", "Response lift",
               "95% CI", "p-value", "Incremental revenue", "Note"]
    numeric = {1, 3, 4, 5, 7, 8}
    head = "".join(f'<th scope="col" class="{"num" if i in numeric else ""}">{h}</th>'
                   for i, h in enumerate(headers))
    body = []
    for r in overview.itertuples(index=False):
        measured = not pd.isna(r.response_lift)
        cells = [
            str(r.campaign), f"{int(r.exports):,}",
            pd.Timestamp(r.last_export).strftime("%Y-%m-%d") if pd.notna(r.last_export) else "",
            f"{int(r.treatment):,}", f"{int(r.control):,}",
            f"{r.response_lift * 100:+.1f} pp" if measured else "",
            f"{r.ci_low * 100:+.1f} to {r.ci_high * 100:+.1f} pp" if measured else "",
            f"{r.p_value:.3g}" if measured else "",
            f"{r.incremental_revenue:,.0f}" if not pd.isna(r.incremental_revenue) else "",
            str(r.note or ""),
        ]
        body.append("<tr>" + "".join(
            f'<td class="{"num" if i in numeric else ""}">{html.escape(c)}</td>'
            for i, c in enumerate(cells)) + "</tr>")
    return (intro + '<div class="table-wrap"><table class="data"><thead><tr>' + head
            + "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")
