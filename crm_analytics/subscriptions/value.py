"""The sBG model fitted per cohort or segment, and the value of each active subscriber.

:func:`fit_sbg` fits one :class:`~crm_analytics.subscriptions.ShiftedBetaGeometric`
per value of a segment column (or per cohort: ``by="cohort"``), skipping with
its reason a segment too small or too young to fit. :func:`subscriber_value`
applies them to the active subscriptions: the probability of the next renewal,
the expected remaining lifetime (within a horizon), the discounted expected
residual lifetime (DERL) and the residual value (DERL x amount per period).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_analytics.core.summary import Summary
from crm_analytics.errors import ConvergenceWarning, InputError
from crm_analytics.subscriptions.sbg import ShiftedBetaGeometric

__all__ = ["DEFAULT_MIN_SUBSCRIPTIONS", "SegmentModels", "fit_sbg", "subscriber_value"]

#: Fewest subscriptions (with at least one cancellation) a segment's model is fitted on.
DEFAULT_MIN_SUBSCRIPTIONS = 30


@dataclass
class SegmentModels:
    """sBG models by segment (``'all'`` without a segment column), and what was skipped.

    Attributes
    ----------
    models : dict of str to ShiftedBetaGeometric
    skipped : dict of str to str
        Segment -> why no model (too few subscriptions, no cancellation, too young).
    by : str or None
    notes : dict of str to str
        Segment -> a caveat of its fitted model (e.g. no heterogeneity found: the
        fit is the constant-churn limit, alpha and beta are huge and their
        intervals meaningless; the mean churn and its interval still hold).
    """

    models: dict[str, ShiftedBetaGeometric]
    skipped: dict[str, str] = field(default_factory=dict)
    by: str | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def table(self, discount_rate: float = 0.01) -> pd.DataFrame:
        """One row per fitted segment: parameters with intervals, churn, lifetime, DEL.

        ``expected_discounted_lifetime`` is :meth:`ShiftedBetaGeometric.discounted_expected_lifetime`
        at ``discount_rate`` per period: times the amount per period it is a new
        subscriber's expected CLV.
        """
        rows = []
        for name, m in self.models.items():
            p = m.params_
            rows.append({
                "segment": name, "subscriptions": m.n_subscriptions_, "cancelled": m.n_cancelled_,
                "alpha": m.alpha_, "alpha_ci_lower": p.loc["alpha", "ci_lower"],
                "alpha_ci_upper": p.loc["alpha", "ci_upper"],
                "beta": m.beta_, "beta_ci_lower": p.loc["beta", "ci_lower"],
                "beta_ci_upper": p.loc["beta", "ci_upper"],
                "mean_churn": p.loc["mean_churn", "estimate"],
                "mean_churn_ci_lower": p.loc["mean_churn", "ci_lower"],
                "mean_churn_ci_upper": p.loc["mean_churn", "ci_upper"],
                "expected_lifetime": m.expected_lifetime(),
                "expected_discounted_lifetime": m.discounted_expected_lifetime(discount_rate),
                "note": self.notes.get(name, ""),
            })
        cols = ["segment", "subscriptions", "cancelled", "alpha", "alpha_ci_lower", "alpha_ci_upper",
                "beta", "beta_ci_lower", "beta_ci_upper", "mean_churn", "mean_churn_ci_lower",
                "mean_churn_ci_upper", "expected_lifetime", "expected_discounted_lifetime", "note"]
        return pd.DataFrame(rows, columns=cols)

    def summary(self) -> Summary:
        facts = [("segments fitted", str(len(self.models))), ("segments skipped", str(len(self.skipped)))]
        notes = [f"{k}: {v}" for k, v in {**self.skipped, **self.notes}.items()]
        title = "Shifted-beta-geometric models" + (f" by {self.by}" if self.by else "")
        return Summary(title, facts, self.table().set_index("segment"), notes=notes)

    def __repr__(self) -> str:
        return (f"SegmentModels(by={self.by!r}, fitted={sorted(self.models)}, "
                f"skipped={sorted(self.skipped)})")


def fit_sbg(lifetimes: pd.DataFrame, *, by: str | None = None,
            min_subscriptions: int = DEFAULT_MIN_SUBSCRIPTIONS, conf_level: float = 0.95) -> SegmentModels:
    """Fit the sBG model per segment (or per cohort with ``by='cohort'``; all together without ``by``).

    A segment with fewer than ``min_subscriptions`` subscriptions, without a
    cancellation, or not yet observed beyond one period is skipped with its reason
    (``SegmentModels.skipped``) rather than failing the others.

    Examples
    --------
    >>> from crm_analytics.subscriptions.sbg import survivors_to_lifetimes
    >>> regular = survivors_to_lifetimes([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> high_end = survivors_to_lifetimes([1000, 869, 743, 653, 593, 551, 517, 491])
    >>> data = pd.concat([regular.assign(segment="regular"), high_end.assign(segment="high end")],
    ...                  ignore_index=True)
    >>> data = data.loc[data.index.repeat(data["weight"].astype(int))].drop(columns="weight")
    >>> fits = fit_sbg(data, by="segment")
    >>> fits.table()[["segment", "alpha", "beta"]].round(3)
        segment  alpha  beta
    0  high end  0.668  3.806
    1   regular  0.704  1.182
    """
    if not isinstance(lifetimes, pd.DataFrame):
        raise InputError(f"fit_sbg: expected the DataFrame of subscription_lifetimes(...); got "
                         f"{type(lifetimes).__name__}")
    for col in ("duration", "event") + ((by,) if by else ()):
        if col not in lifetimes.columns:
            raise InputError(f"fit_sbg: column {col!r} not in the lifetimes; it has "
                             f"{list(lifetimes.columns)}")
    if isinstance(min_subscriptions, bool) or not isinstance(min_subscriptions, int | np.integer) \
            or min_subscriptions < 1:
        raise InputError(f"fit_sbg: min_subscriptions must be a whole number >= 1; got {min_subscriptions!r}")
    if by is None:
        groups = [("all", lifetimes)]
    else:
        seg = lifetimes[by].astype(object).where(lifetimes[by].notna(), "(missing)").astype(str)
        groups = [(str(g), part) for g, part in lifetimes.groupby(seg, sort=True)]
    models: dict[str, ShiftedBetaGeometric] = {}
    skipped: dict[str, str] = {}
    notes: dict[str, str] = {}
    if not groups or lifetimes.empty:
        skipped["all"] = "no subscriptions"
    for name, part in groups:
        if len(part) < min_subscriptions:
            skipped[name] = f"only {len(part)} subscriptions; the model needs at least {min_subscriptions}"
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                models[name] = ShiftedBetaGeometric(conf_level=conf_level).fit(part)
        except InputError as exc:
            skipped[name] = str(exc).split(": ", 1)[-1]
            continue
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                # The constant-churn limit (e.g. churn rising at contract ends, which the
                # sBG cannot follow): a usable model, with its caveat.
                notes[name] = str(w.message).split(": ", 1)[-1]
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return SegmentModels(models, skipped, by, notes)


def subscriber_value(lifetimes: pd.DataFrame, models: SegmentModels | ShiftedBetaGeometric, *,
                     discount_rate: float, horizon: int = 36) -> pd.DataFrame:
    """Per active subscription: next renewal, remaining lifetime, DERL and residual value.

    Parameters
    ----------
    lifetimes : DataFrame
        :func:`~crm_analytics.subscriptions.subscription_lifetimes` (with the segment
        column the models were fitted by); only active subscriptions get a value.
    models : SegmentModels or ShiftedBetaGeometric
        From :func:`fit_sbg`; a subscription whose segment has no model gets NaN.
    discount_rate : float
        Per period (for monthly periods and 10% a year: ``1.1 ** (1 / 12) - 1``).
    horizon : int, default 36
        Periods ahead counted by ``expected_remaining_periods`` (the undiscounted
        mean diverges when a segment's ``alpha <= 1``).

    Returns
    -------
    DataFrame indexed by ``subscription_id``
        ``customer_id, segment, renewals`` (the active subscription's duration),
        ``p_renew_next`` (the retention rate of its next renewal),
        ``expected_remaining_periods`` (within ``horizon``), ``derl`` and
        ``residual_value = derl * amount_per_period``.

    Examples
    --------
    >>> m = ShiftedBetaGeometric(); m.alpha_, m.beta_ = 1.0, 1.0
    >>> life = pd.DataFrame({"subscription_id": ["S1", "S2"], "customer_id": ["C1", "C2"],
    ...                      "duration": [0, 3], "event": [False, False], "amount_per_period": [10.0, 10.0]})
    >>> subscriber_value(life, m, discount_rate=0.0, horizon=2)[["renewals", "p_renew_next",
    ...                                                          "expected_remaining_periods"]]
                     renewals  p_renew_next  expected_remaining_periods
    subscription_id
    S1                      0      0.500000                    0.833333
    S2                      3      0.800000                    1.466667
    """
    if isinstance(models, ShiftedBetaGeometric):
        models = SegmentModels({"all": models}, {}, None)
    if not isinstance(models, SegmentModels):
        raise InputError("subscriber_value: models must come from fit_sbg(...) or be a fitted "
                         f"ShiftedBetaGeometric; got {type(models).__name__}")
    need = ["subscription_id", "customer_id", "duration", "event", "amount_per_period"]
    if models.by:
        need.append(models.by)
    missing = [c for c in need if not isinstance(lifetimes, pd.DataFrame) or c not in lifetimes.columns]
    if missing:
        raise InputError(f"subscriber_value: column(s) {missing} missing from the lifetimes")
    active = lifetimes[~lifetimes["event"].astype(bool)]
    if models.by:
        seg = active[models.by].astype(object).where(active[models.by].notna(), "(missing)").astype(str)
    else:
        seg = pd.Series("all", index=active.index)
    out = pd.DataFrame({"customer_id": active["customer_id"].to_numpy(), "segment": seg.to_numpy(),
                        "renewals": active["duration"].to_numpy(np.int64)},
                       index=pd.Index(active["subscription_id"].to_numpy(), name="subscription_id"))
    for col in ("p_renew_next", "expected_remaining_periods", "derl"):
        out[col] = np.nan
    amount = pd.to_numeric(active["amount_per_period"], errors="coerce").to_numpy(float)
    for name, model in models.models.items():
        rows = (out["segment"] == name).to_numpy()
        if not rows.any():
            continue
        r = out.loc[rows, "renewals"].to_numpy(np.int64)
        out.loc[rows, "p_renew_next"] = model.retention_rate(r + 1)
        out.loc[rows, "expected_remaining_periods"] = model.expected_remaining_lifetime(r, horizon=horizon)
        out.loc[rows, "derl"] = model.derl(r, discount_rate)
    out["residual_value"] = out["derl"].to_numpy(float) * amount
    return out
