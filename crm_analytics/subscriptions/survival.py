"""Survival of subscriptions: Kaplan-Meier curves by segment, the log-rank test, a Cox model.

The statistics are statsmodels' (``statsmodels.duration``: ``SurvfuncRight`` for
Kaplan-Meier with Greenwood standard errors, ``survdiff`` for the log-rank test,
``PHReg`` for the Cox proportional-hazards model, Efron ties). What is added
here: the tables by segment, pointwise confidence bands, medians with their
intervals, hazard ratios with intervals, checks with readable errors, and
figures. The tests compare every number on the Telco data with an independent
numpy implementation of the textbook formulas (``tests/subscriptions/_reference.py``).

Pointwise bands are the "exponential Greenwood" (log(-log)) intervals (Klein &
Moeschberger 2003, sec. 4.3; R's ``survfit(conf.type = "log-log")``): with
``v(t) = sum_{t_i <= t} d_i / (n_i (n_i - d_i))``, the band is
``S(t) ** exp(+/- z sqrt(v(t)) / log S(t))``; they stay inside (0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crm_analytics.core.estimator import Estimator
from crm_analytics.core.params import check_number
from crm_analytics.core.summary import Summary
from crm_analytics.errors import InputError

__all__ = ["CoxModel", "KaplanMeier", "LogRankResult", "kaplan_meier", "logrank_test", "median_lifetimes"]

#: Label of rows whose segment value is missing.
MISSING_SEGMENT = "(missing)"


def _check_alpha(alpha: Any, owner: str) -> float:
    return float(check_number(owner, "alpha", alpha, low=0, high=1, low_open=True, high_open=True))


def survival_data(data: Any, duration: str, event: str, by: str | None = None,
                  owner: str = "kaplan_meier") -> pd.DataFrame:
    """``time``, ``status`` (0/1) and ``group`` (text) from a table, checked; one row per input row."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"{owner}: data must be a DataFrame (e.g. subscription_lifetimes(...)); "
                         f"got {type(data).__name__}")
    cols = [duration, event] + ([by] if by is not None else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"{owner}: column(s) {missing} not in the data; it has {list(data.columns)}")
    if data.empty:
        raise InputError(f"{owner}: the data have no rows; nothing to estimate")
    time = pd.to_numeric(data[duration], errors="coerce")
    bad = time.isna() | (time < 0) | ~np.isfinite(time.astype(float))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{owner}: column {duration} row {row}: {data[duration].iloc[row]!r} is not a "
                         "duration >= 0")
    status = data[event]
    valid = status.isin([True, False, 0, 1]) & status.notna()
    if not valid.all():
        row = int(np.flatnonzero(~valid.to_numpy())[0])
        raise InputError(f"{owner}: column {event} row {row}: {data[event].iloc[row]!r} is not an event "
                         "flag (True/False or 1/0; True: cancelled)")
    out = pd.DataFrame({"time": time.astype(float).to_numpy(), "status": status.astype(int).to_numpy()},
                       index=data.index)
    if by is not None:
        out["group"] = data[by].astype(object).where(data[by].notna(), MISSING_SEGMENT).astype(str)
    return out


# --------------------------------------------------------------------------- Kaplan-Meier
@dataclass
class KaplanMeier:
    """Kaplan-Meier curves, one per segment (``'all'`` without ``by``).

    Attributes
    ----------
    table : DataFrame
        ``segment, time, at_risk, events, survival, std_error, ci_lower, ci_upper``:
        one row per segment and event or censoring time, plus ``time = 0``
        (survival 1).
    medians : DataFrame
        Per segment: ``subscriptions, cancelled, median, median_ci_lower,
        median_ci_upper`` (NaN where the curve never falls to one half:
        more than half are still subscribed at the longest lifetime observed).
    logrank : LogRankResult or None
        The log-rank test of equal survival across segments (with ``by``).
    """

    table: pd.DataFrame
    medians: pd.DataFrame
    by: str | None
    alpha: float
    logrank: LogRankResult | None = None
    notes: list[str] = field(default_factory=list)

    def survival_at(self, time: float) -> pd.Series:
        """Each segment's estimated survival at ``time`` (the step function's value).

        Examples
        --------
        >>> km = kaplan_meier(pd.DataFrame({"duration": [1, 2, 3], "event": [True, True, False]}))
        >>> km.survival_at(2.5).round(4).tolist()
        [0.3333]
        """
        out = {}
        for seg, part in self.table.groupby("segment", sort=False):
            part = part[part["time"] <= time]
            out[seg] = float(part["survival"].iloc[-1]) if len(part) else 1.0
        return pd.Series(out, name="survival")

    def summary(self) -> Summary:
        facts = [("segments", str(len(self.medians))),
                 ("subscriptions", f"{int(self.medians['subscriptions'].sum()):,}"),
                 ("cancelled", f"{int(self.medians['cancelled'].sum()):,}")]
        if self.logrank is not None:
            facts.append(("log-rank test", str(self.logrank)))
        return Summary(f"Kaplan-Meier survival{' by ' + self.by if self.by else ''} "
                       f"({1 - self.alpha:.0%} intervals)", facts, self.medians, notes=self.notes)

    def plot(self, **kwargs: Any) -> Any:
        """The curves with their bands (:func:`~crm_analytics.subscriptions.plot_survival`)."""
        from crm_analytics.subscriptions.plotting import plot_survival

        return plot_survival(self, **kwargs)


def _loglog_band(surv: np.ndarray, var_sum: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(surv)
        width = z * np.sqrt(var_sum) / log_s
        lower = np.exp(-np.exp(np.log(-log_s) - width))
        upper = np.exp(-np.exp(np.log(-log_s) + width))
    # S = 1 (no event yet): the band is the point; S = 0: the band ends at 0.
    lower = np.where(surv >= 1, 1.0, np.where(surv <= 0, 0.0, lower))
    upper = np.where(surv >= 1, 1.0, np.where(surv <= 0, 0.0, upper))
    return lower, upper


def _one_curve(part: pd.DataFrame, z: float, alpha: float) -> tuple[pd.DataFrame, dict[str, float]]:
    from statsmodels.duration.survfunc import SurvfuncRight

    sf = SurvfuncRight(part["time"].to_numpy(float), part["status"].to_numpy(float))
    times = np.asarray(sf.surv_times, float)
    surv = np.asarray(sf.surv_prob, float)
    n_risk = np.asarray(sf.n_risk, float)
    d = np.asarray(sf.n_events, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n_risk > d, d / (n_risk * (n_risk - d)), np.inf)
    lower, upper = _loglog_band(surv, np.cumsum(terms), z)
    curve = pd.DataFrame({"time": times, "at_risk": n_risk.astype(int), "events": d.astype(int),
                          "survival": surv, "std_error": np.asarray(sf.surv_prob_se, float),
                          "ci_lower": lower, "ci_upper": upper})
    start = pd.DataFrame({"time": [0.0], "at_risk": [len(part)], "events": [0], "survival": [1.0],
                          "std_error": [0.0], "ci_lower": [1.0], "ci_upper": [1.0]})
    if len(times) and times[0] == 0:
        start = start.iloc[0:0]
    median = ci_lo = ci_hi = float("nan")
    if len(surv) and surv.min() <= 0.5:
        median = float(sf.quantile(0.5))
        try:
            with np.errstate(all="ignore"):  # log(0) at the curve's ends: no bound there
                lo, hi = sf.quantile_ci(0.5, alpha=alpha)
            # an end the data do not bound (None or infinite) is not a number to show
            ci_lo, ci_hi = (float(v) if v is not None and np.isfinite(v) else float("nan")
                            for v in (lo, hi))
        except (ValueError, IndexError, ZeroDivisionError):  # too few points for an interval
            pass
    facts = {"subscriptions": int(len(part)), "cancelled": int(part["status"].sum()), "median": median,
             "median_ci_lower": ci_lo, "median_ci_upper": ci_hi}
    return pd.concat([start, curve], ignore_index=True), facts


def kaplan_meier(data: pd.DataFrame, *, duration: str = "duration", event: str = "event",
                 by: str | None = None, alpha: float = 0.05) -> KaplanMeier:
    """Kaplan-Meier survival curves with pointwise bands and medians, by segment.

    Parameters
    ----------
    data : DataFrame
        One row per subscription: :func:`~crm_analytics.subscriptions.subscription_lifetimes`
        (``duration`` in periods, ``event`` True when cancelled), or any table with
        a duration and an event column (IBM Telco: ``tenure`` and ``Churn == 'Yes'``).
    duration, event : str
        The columns holding them.
    by : str, optional
        A segment column (plan, contract, a score band...): one curve per value,
        and the log-rank test of equal survival. Missing values form the segment
        ``'(missing)'``.
    alpha : float, default 0.05
        1 - the confidence level of the bands and of the medians' intervals.

    Examples
    --------
    >>> data = pd.DataFrame({"duration": [1, 2, 2, 3, 4, 4], "event": [1, 1, 0, 1, 0, 1],
    ...                      "plan": ["a", "a", "a", "b", "b", "b"]})
    >>> km = kaplan_meier(data, by="plan")
    >>> km.table.loc[km.table["segment"] == "a", ["time", "at_risk", "events", "survival"]]
       time  at_risk  events  survival
    0   0.0        3       0  1.000000
    1   1.0        3       1  0.666667
    2   2.0        2       1  0.333333
    >>> km.medians["median"].tolist()
    [2.0, 4.0]
    """
    alpha = _check_alpha(alpha, "kaplan_meier")
    frame = survival_data(data, duration, event, by)
    z = float(stats.norm.ppf(1 - alpha / 2))
    groups = [("all", frame)] if by is None else [
        (str(g), part) for g, part in frame.groupby("group", sort=True)]
    tables, medians = [], []
    for name, part in groups:
        curve, facts = _one_curve(part, z, alpha)
        curve.insert(0, "segment", name)
        tables.append(curve)
        medians.append({"segment": name, **facts})
    notes = []
    med = pd.DataFrame(medians).set_index("segment")
    unreached = med.index[med["median"].isna()].tolist()
    if unreached:
        notes.append(f"median not reached (more than half still subscribed at the longest lifetime "
                     f"observed): {', '.join(unreached)}")
    result = KaplanMeier(pd.concat(tables, ignore_index=True), med, by, alpha, notes=notes)
    if by is not None and len(groups) >= 2:
        result.logrank = logrank_test(data, duration=duration, event=event, by=by)
    elif by is not None:
        notes.append(f"only one segment of {by}: no log-rank test")
    return result


# --------------------------------------------------------------------------- log-rank
@dataclass(frozen=True)
class LogRankResult:
    """The log-rank test of equal survival across segments (chi-square with ``df`` degrees)."""

    statistic: float
    df: int
    p_value: float
    segments: tuple[str, ...]

    def __str__(self) -> str:
        return f"chi2 = {self.statistic:.3f}, df = {self.df}, p = {self.p_value:.3g}"

    def to_dict(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "df": self.df, "p_value": self.p_value,
                "segments": list(self.segments)}


def logrank_test(data: pd.DataFrame, *, duration: str = "duration", event: str = "event",
                 by: str) -> LogRankResult:
    """Log-rank test that every segment of ``by`` has the same survival (statsmodels ``survdiff``).

    Examples
    --------
    >>> data = pd.DataFrame({"duration": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 0],
    ...                      "plan": ["a", "a", "a", "b", "b", "b"]})
    >>> res = logrank_test(data, by="plan")
    >>> res.df, round(res.statistic, 4)
    (1, 5.0517)
    """
    from statsmodels.duration.survfunc import survdiff

    frame = survival_data(data, duration, event, by, owner="logrank_test")
    segments = tuple(sorted(frame["group"].unique()))
    if len(segments) < 2:
        raise InputError(f"logrank_test: {by} has only one segment ({segments[0]!r}); the test compares "
                         "two or more")
    if frame["status"].sum() == 0:
        raise InputError("logrank_test: no cancellations in the data; nothing to compare")
    chisq, p = survdiff(frame["time"].to_numpy(float), frame["status"].to_numpy(float),
                        frame["group"].to_numpy())
    return LogRankResult(float(chisq), len(segments) - 1, float(p), segments)


# --------------------------------------------------------------------------- Cox
class CoxModel(Estimator):
    """Cox proportional-hazards model of the drivers of cancellation (statsmodels ``PHReg``).

    Parameters
    ----------
    ties : {'efron', 'breslow'}, default 'efron'
        How tied lifetimes are handled (whole periods tie a lot: Efron is the closer).
    conf_level : float, default 0.95
        Level of the hazard ratios' intervals.

    Attributes
    ----------
    hazard_ratios_ : DataFrame
        Per term: ``coef`` (log hazard ratio), ``std_error``, ``hazard_ratio``,
        ``ci_lower``, ``ci_upper`` (of the hazard ratio), ``p_value``. A text
        feature gives one term per value but its reference level (the most
        frequent), named ``feature[value]``; a number one term per unit.
    reference_levels_ : dict
        The reference level of each text feature.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> plan = np.repeat(["basic", "pro"], 300)
    >>> months = rng.exponential(np.where(plan == "pro", 10.0, 5.0))   # pro: half the hazard
    >>> data = pd.DataFrame({"duration": months, "event": months < 12, "plan": plan})
    >>> data["duration"] = data["duration"].clip(upper=12)
    >>> cox = CoxModel().fit(data, features=["plan"])
    >>> round(float(cox.hazard_ratios_.loc["plan[pro]", "hazard_ratio"]), 1)
    0.5
    """

    _fitted_attribute = "hazard_ratios_"

    def __init__(self, ties: str = "efron", conf_level: float = 0.95):
        self.ties = ties
        self.conf_level = conf_level

    def _design(self, data: pd.DataFrame, fitting: bool) -> pd.DataFrame:
        parts = []
        for col in self.features_:
            values = data[col]
            if col in self.reference_levels_:
                text = values.astype(object).where(values.notna(), MISSING_SEGMENT).astype(str)
                if fitting:
                    continue
                for level in self.levels_[col]:
                    parts.append((text == level).astype(float).rename(f"{col}[{level}]"))
            else:
                num = pd.to_numeric(values, errors="coerce")
                if num.isna().any():
                    row = int(np.flatnonzero(num.isna().to_numpy())[0])
                    raise InputError(f"CoxModel: feature {col} row {row}: {values.iloc[row]!r} is missing "
                                     "or not a number; fill it or drop the row")
                parts.append(num.astype(float).rename(col))
        return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)

    def fit(self, data: pd.DataFrame, *, features: list[str], duration: str = "duration",
            event: str = "event") -> CoxModel:
        """Fit the hazard of cancellation on ``features`` (columns of ``data``)."""
        from statsmodels.duration.hazard_regression import PHReg

        if self.ties not in ("efron", "breslow"):
            raise InputError(f"The 'ties' parameter of CoxModel must be 'efron' or 'breslow'. "
                             f"Got {self.ties!r} instead.")
        check_number("CoxModel", "conf_level", self.conf_level, low=0, high=1, low_open=True,
                     high_open=True)
        if isinstance(features, str) or not features:
            raise InputError("CoxModel.fit: features must be a non-empty list of column names")
        frame = survival_data(data, duration, event, owner="CoxModel.fit")
        missing = [f for f in features if f not in data.columns]
        if missing:
            raise InputError(f"CoxModel.fit: feature(s) {missing} not in the data; it has "
                             f"{list(data.columns)}")
        if frame["status"].sum() == 0:
            raise InputError("CoxModel.fit: no cancellations in the data; the model needs some")
        self.features_ = list(features)
        self.reference_levels_: dict[str, str] = {}
        self.levels_: dict[str, list[str]] = {}
        for col in features:
            values = data[col]
            if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
                text = values.astype(object).where(values.notna(), MISSING_SEGMENT).astype(str)
                counts = text.value_counts()
                ref = str(counts.index[0])
                self.reference_levels_[col] = ref
                self.levels_[col] = sorted(str(v) for v in counts.index if v != ref)
        design = self._design(data, fitting=False)
        if design.shape[1] == 0:
            raise InputError("CoxModel.fit: the features give no term (every text feature has one value)")
        constant = [c for c in design.columns if design[c].nunique() < 2]
        if constant:
            raise InputError(f"CoxModel.fit: term(s) {constant} do not vary; drop them")
        model = PHReg(frame["time"].to_numpy(float), design.to_numpy(float),
                      status=frame["status"].to_numpy(float), ties=self.ties)
        res = model.fit()
        z = float(stats.norm.ppf(0.5 + self.conf_level / 2))
        coef = np.asarray(res.params, float)
        se = np.asarray(res.bse, float)
        table = pd.DataFrame({
            "coef": coef, "std_error": se, "hazard_ratio": np.exp(coef),
            "ci_lower": np.exp(coef - z * se), "ci_upper": np.exp(coef + z * se),
            "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
        }, index=pd.Index(design.columns, name="term"))
        self.log_likelihood_ = float(res.llf)
        self.n_subscriptions_ = int(len(frame))
        self.n_cancelled_ = int(frame["status"].sum())
        self.hazard_ratios_ = table
        return self

    def relative_hazard(self, data: pd.DataFrame) -> pd.Series:
        """``exp(x'b)``: each row's hazard relative to the reference subscriber (1 = reference).

        A text value not seen in ``fit`` counts as the reference level.
        """
        self.check_fitted()
        missing = [f for f in self.features_ if f not in data.columns]
        if missing:
            raise InputError(f"CoxModel.relative_hazard: feature(s) {missing} missing from the data")
        design = self._design(data, fitting=False).reindex(columns=self.hazard_ratios_.index, fill_value=0.0)
        return pd.Series(np.exp(design.to_numpy(float) @ self.hazard_ratios_["coef"].to_numpy()),
                         index=data.index, name="relative_hazard")

    def summary(self) -> Summary:
        self.check_fitted()
        facts = [("subscriptions", f"{self.n_subscriptions_:,}"), ("cancelled", f"{self.n_cancelled_:,}"),
                 ("ties", self.ties), ("log partial likelihood", f"{self.log_likelihood_:.3f}")]
        notes = [f"reference level of {k}: {v!r}" for k, v in self.reference_levels_.items()]
        notes.append("hazard ratio > 1: cancels sooner than the reference; < 1: stays longer")
        return Summary(f"Cox model of cancellation ({self.conf_level:.0%} intervals)", facts,
                       self.hazard_ratios_, notes=notes)


def median_lifetimes(km: KaplanMeier) -> pd.DataFrame:
    """The medians table of a :class:`KaplanMeier` (a copy), for symmetry with the other results."""
    return km.medians.copy()
