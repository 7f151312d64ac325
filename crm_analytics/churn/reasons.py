"""Per-customer churn reasons in words a salesperson understands.

Attribution
-----------
Features are grouped by meaning (recency, activity, trend, SLA, NPS, ...). For
each customer and group, the contribution is the drop in predicted churn
probability when the group's features are reset to their typical values (the
latest training population's median or most frequent category; "missing" when
most customers have no value)::

    contribution[customer, group] = p(x) - p(x with the group reset to typical)

A positive contribution means the customer's values in that group raise their
risk. The three largest positive contributions become ``reason_1..3``, rendered
from the customer's own values ("no purchase for 140 days — 2.3× the usual
gap"). This is an occlusion attribution — model-agnostic and without SHAP; the
work is one batched ``predict_proba`` per group over all customers, never a
Python loop per customer. On large populations the groups are first screened
on a sample of :data:`SCREEN_ROWS` customers, and groups that are a top
reason of fewer than :data:`SCREEN_MIN_SHARE` of them are skipped. A group is a
reason only where the customer's value lies on the risky side (longer
silence, fewer purchases, falling spend, SLA breaches, NPS of 8 or less, ...;
see ``_RISKY``), so the model's interactions never produce
"NPS score 10" as a reason. Each customer attribute (``attr_<name>``) is a group
of its own, worded with the customer's value ("Contract = Month-to-month"). A
customer with no such group gets the reason "no single risk factor stands out
(...)", so every customer with a score has at least one reason — except a
customer at high risk (probability at or above the ``high`` threshold of
:func:`explain`): their first reason always names a factor, the group with
the largest contribution whatever its side (or, when no group moves the
probability, the purchase silence — recency — that every churn probability
rests on).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.churn.features import ATTRIBUTE_PREFIX, FIRMOGRAPHIC_FEATURES

__all__ = [
    "MIN_CONTRIBUTION",
    "REASON_GROUPS",
    "SCREEN_ROWS",
    "explain",
    "group_features",
    "typical_values",
]

log = logging.getLogger(__name__)

#: Group name prefix of a feature outside :data:`REASON_GROUPS` (worded generically).
GENERIC_PREFIX = "feature:"
#: Group name prefix of a customer attribute feature (``attr_contract`` -> ``attribute:contract``).
ATTRIBUTE_GROUP_PREFIX = "attribute:"

#: Contributions below this (probability points) are not reported as reasons.
MIN_CONTRIBUTION = 0.005
#: Customers sampled to screen out feature groups that are never a reason (used
#: when more than four times as many customers are scored).
SCREEN_ROWS = 5_000
#: A group is computed for every customer only if it is a top reason of at least this
#: share of the screening sample (and at least SCREEN_MIN_ROWS customers): rarer
#: groups would be the reason of a few customers in ten thousand.
SCREEN_MIN_SHARE = 0.002
SCREEN_MIN_ROWS = 5

REASON_GROUPS: dict[str, tuple[str, ...]] = {
    "recency": ("recency_days", "overdue_ratio"),
    "rhythm": ("gap_median_days", "gap_mean_days"),
    "activity": ("purchases_total", "purchases_30d", "purchases_90d", "purchases_180d",
                 "purchases_365d"),
    "trend": ("spend_trend", "frequency_trend", "spend_prev_90d", "purchases_prev_90d"),
    "spend": ("spend_total", "spend_30d", "spend_90d", "spend_180d", "spend_365d",
              "spend_per_purchase"),
    "tenure": ("tenure_days",),
    "breadth": ("categories_365d", "categories_total"),
    "refunds": ("refunds_365d", "refund_amount_365d"),
    "channel": ("top_channel", "top_channel_share"),  # + every channel_share_* column
    "sla": ("sla_breaches_90d", "sla_breaches_365d"),
    "complaints": ("complaints_90d", "complaints_365d"),
    "nps": ("latest_nps", "nps_class", "is_detractor"),
    "csat": ("csat_mean_180d", "csat_latest"),
    "tickets": ("tickets_90d", "open_tickets", "reopened_365d", "mean_resolution_hours_365d"),
    "segment": FIRMOGRAPHIC_FEATURES,
    "btyd": ("btyd_p_alive", "btyd_expected_purchases"),
}


def group_features(features: list[str]) -> dict[str, list[str]]:
    """Reason groups present among ``features``; other features form one group each.

    Examples
    --------
    >>> group_features(["recency_days", "tenure_days", "MonthlyCharges"])
    {'recency': ['recency_days'], 'tenure': ['tenure_days'], 'feature:MonthlyCharges': ['MonthlyCharges']}
    >>> group_features(["attr_contract"])
    {'attribute:contract': ['attr_contract']}
    """
    present = set(features)
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for name, members in REASON_GROUPS.items():
        cols = [c for c in members if c in present]
        if name == "channel":
            cols += [c for c in features if c.startswith("channel_share_")]
        if cols:
            groups[name] = cols
            seen.update(cols)
    for name in features:
        if name not in seen and name.startswith(ATTRIBUTE_PREFIX):
            groups[f"{ATTRIBUTE_GROUP_PREFIX}{name[len(ATTRIBUTE_PREFIX):]}"] = [name]
            seen.add(name)
    for name in features:
        if name not in seen:
            # Prefixed so that a user's column called e.g. "tenure" is never read
            # as the reason group of that name.
            groups[f"{GENERIC_PREFIX}{name}"] = [name]
    return groups


def typical_values(X: pd.DataFrame) -> dict[str, Any]:
    """The typical value of each column: median (numeric) or most frequent value.

    When most customers have no value (e.g. no NPS answer), "missing" is the
    typical state and the entry is None: an absent answer is then never a reason.

    Examples
    --------
    >>> typical_values(pd.DataFrame({"a": [1.0, 2.0, 9.0], "b": ["x", "y", "y"],
    ...                              "c": [None, None, 3.0]}))
    {'a': 2.0, 'b': 'y', 'c': None}
    """
    out: dict[str, Any] = {}
    for name in X.columns:
        col = X[name]
        if col.isna().mean() > 0.5:
            out[name] = None
        elif (
            isinstance(col.dtype, pd.CategoricalDtype)
            or not pd.api.types.is_numeric_dtype(col)
            or pd.api.types.is_bool_dtype(col)
        ):
            counts = col.astype(object).dropna().value_counts()
            out[name] = str(counts.sort_index().idxmax())
        else:
            out[name] = float(pd.to_numeric(col, errors="coerce").median())
    return out


def explain(
    predict_proba: Callable[[pd.DataFrame], np.ndarray],
    X_model: pd.DataFrame,
    X_raw: pd.DataFrame,
    probability: np.ndarray,
    typical: dict[str, Any],
    *,
    horizon_days: int,
    n_reasons: int = 3,
    batch_size: int = 100_000,
    high: float | None = None,
) -> pd.DataFrame:
    """Top ``n_reasons`` reasons per row, as text, with the contributions behind them.

    Parameters
    ----------
    predict_proba : callable
        Churn probability (1-d) of a frame shaped like ``X_model``: the model
        whose attributions are wanted (it may be a cheaper member of the scoring model).
    X_model : pandas.DataFrame
        Features as the model sees them (categorical dtypes set).
    X_raw : pandas.DataFrame
        The same rows as built (used for the wording).
    probability : numpy.ndarray
        The scores shown to users (used in the wording of the fallback reason).
    typical : dict
        Typical value per feature (see :func:`typical_values`).
    horizon_days : int
        Used in the wording.
    high : float, optional
        The high-risk threshold: a row whose ``probability`` reaches it never
        gets the generic "no single risk factor stands out" as first reason;
        it gets the factor with the largest contribution instead.

    Returns
    -------
    pandas.DataFrame
        Same index: ``reason_1..n`` (text; "" when a customer has fewer reasons)
        and ``reason_group_1..n`` (the group names, for analysis).
    """
    groups = group_features(list(X_model.columns))
    names = list(groups)
    n = len(X_model)
    # A group can only be a reason where the customer's value is on the risky side
    # ("NPS score 10" or "29 purchases" is never said, whatever the model's interactions).
    eligible = np.column_stack([_risky(name, X_raw, typical) for name in names]) if names \
        else np.zeros((n, 0), dtype=bool)
    base = np.zeros(n)
    for lo in range(0, n, batch_size):
        base[lo : lo + batch_size] = predict_proba(X_model.iloc[lo : lo + batch_size])
    kept = names
    if n > 4 * SCREEN_ROWS:
        # Screening: a group that is one of the top reasons of almost no sampled
        # customer (fewer than SCREEN_MIN_SHARE of them, at least SCREEN_MIN_ROWS) is
        # almost never a reason; skipping it saves one full pass of the model over
        # every customer (groups of constant, unused or weak features).
        rows = np.sort(np.random.default_rng(0).choice(n, SCREEN_ROWS, replace=False))
        sample = _contributions(predict_proba, X_model.iloc[rows], base[rows], groups, typical,
                                eligible[rows], batch_size)
        kept = [names[j] for j in _screen(sample, n_reasons)]
        log.info("reasons: %d of %d feature groups pass the screening (%s)", len(kept),
                 len(names), ", ".join(kept))
    contrib = np.zeros((n, len(names)))
    if kept:
        columns = [names.index(name) for name in kept]
        contrib[:, columns] = _contributions(
            predict_proba, X_model, base, {name: groups[name] for name in kept}, typical,
            eligible[:, columns], batch_size,
        )

    k = min(n_reasons, len(names))
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(contrib, order, axis=1)
    valid = top >= MIN_CONTRIBUTION
    out = pd.DataFrame(index=X_model.index)
    for rank in range(n_reasons):
        text = np.full(n, "", dtype=object)
        group = np.full(n, "", dtype=object)
        if rank < k:
            for j, name in enumerate(names):
                rows = np.flatnonzero((order[:, rank] == j) & valid[:, rank])
                if rows.size:
                    text[rows] = _render(name, X_raw.iloc[rows], typical, horizon_days)
                    group[rows] = name
        if rank == 0:
            # Nothing stands out: the risk is that of a typical customer.
            none = np.flatnonzero(~valid[:, 0]) if k else np.arange(n)
            if high is not None and none.size and names:
                risky = np.asarray(probability, dtype=float)[none] >= high
                named = none[risky]
                none = none[~risky]
                if named.size:
                    text[named], group[named] = _largest_factor(
                        predict_proba, X_model.iloc[named], X_raw.iloc[named], base[named],
                        groups, typical, eligible[named], horizon_days, batch_size)
            text[none] = _typical_reason(probability[none], horizon_days)
            group[none] = "typical"
        out[f"reason_{rank + 1}"] = text
        out[f"reason_group_{rank + 1}"] = group
    return out


def _screen(sample: np.ndarray, n_reasons: int) -> list[int]:
    """Columns (groups) of a sample's contributions that are a top reason often enough.

    A group is kept when it is among the ``n_reasons`` largest contributions, at
    or above :data:`MIN_CONTRIBUTION`, for at least ``SCREEN_MIN_SHARE`` of the
    sampled rows (and at least :data:`SCREEN_MIN_ROWS` of them).

    Examples
    --------
    >>> sample = np.array([[0.2, 0.0, 0.01]] * 50 + [[0.2, 0.004, 0.0]] * 50)
    >>> _screen(sample, 2)
    [0, 2]
    """
    if sample.shape[1] == 0:
        return []
    k = min(n_reasons, sample.shape[1])
    order = np.argsort(-sample, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(sample, order, axis=1) >= MIN_CONTRIBUTION
    counts = np.bincount(order[top], minlength=sample.shape[1])
    needed = max(SCREEN_MIN_ROWS, int(np.ceil(SCREEN_MIN_SHARE * len(sample))))
    return [j for j in range(sample.shape[1]) if counts[j] >= needed]


def _contributions(
    predict_proba: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    probability: np.ndarray,
    groups: dict[str, list[str]],
    typical: dict[str, Any],
    eligible: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """``p(x) - p(x with the group reset to typical)`` per row and group, batch by batch.

    Only rows where the group is ``eligible`` are computed (others stay 0).
    Rows whose group values already are the typical ones contribute exactly 0
    and are not predicted again (most rows, for sparse groups such as refunds
    or SLA breaches).
    """
    out = np.zeros((len(X), len(groups)))
    for lo in range(0, len(X), batch_size):
        batch = X.iloc[lo : lo + batch_size]
        base = probability[lo : lo + batch_size]
        for j, cols in enumerate(groups.values()):
            changed = np.zeros(len(batch), dtype=bool)
            allowed = eligible[lo : lo + batch_size, j]
            reset = {}
            for col in cols:
                value = typical.get(col)
                current = batch[col]
                if value is None:
                    changed |= current.notna().to_numpy()
                    reset[col] = np.nan
                else:
                    if isinstance(current.dtype, pd.CategoricalDtype):
                        differs = (current.astype(object) != value).to_numpy()
                    else:
                        differs = current.to_numpy(dtype=float) != value
                    changed |= differs | current.isna().to_numpy()
                    reset[col] = value
            rows = np.flatnonzero(changed & allowed)
            if rows.size == 0:
                continue
            probe = batch.iloc[rows].copy()
            for col, value in reset.items():
                dtype = probe[col].dtype
                probe[col] = value
                if isinstance(dtype, pd.CategoricalDtype):
                    probe[col] = probe[col].astype(dtype)
            out[lo + rows, j] = base[rows] - predict_proba(probe)
    return out


#: Groups that name a high-risk customer's first reason when no group moves the
#: probability (in this order, the first present): the facts every churn risk rests on.
_FALLBACK_GROUPS = ("recency", "btyd", "activity", "rhythm", "tenure")


def _largest_factor(
    predict_proba: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    raw: pd.DataFrame,
    base: np.ndarray,
    groups: dict[str, list[str]],
    typical: dict[str, Any],
    eligible: np.ndarray,
    horizon_days: int,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(text, group) of the largest contribution per row, however small.

    For high-risk rows where no group reaches :data:`MIN_CONTRIBUTION`: the
    group on the risky side whose reset to typical lowers the probability most;
    when none lowers it, the first of :data:`_FALLBACK_GROUPS` present
    (recency: how long since the last purchase).
    """
    names = list(groups)
    contrib = _contributions(predict_proba, X, base, groups, typical, eligible, batch_size)
    best = np.argmax(contrib, axis=1)
    positive = contrib[np.arange(len(X)), best] > 0
    fallback = next((g for g in _FALLBACK_GROUPS if g in groups), names[0])
    chosen = np.where(positive, np.asarray(names, dtype=object)[best], fallback)
    text = np.full(len(X), "", dtype=object)
    for name in np.unique(chosen):
        rows = np.flatnonzero(chosen == name)
        text[rows] = _render(str(name), raw.iloc[rows], typical, horizon_days)
    return text, chosen.astype(object)


# --------------------------------------------------------------------------- wording


def _typical_reason(probability: np.ndarray, horizon_days: int) -> np.ndarray:
    return _cat(
        "no single risk factor stands out (", _pct(probability),
        f" chance of no purchase in the next {horizon_days} days)",
    ).astype(object)


def _int(values: Any) -> np.ndarray:
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    return np.where(np.isnan(v), 0, np.rint(v)).astype(np.int64).astype(str)


def _num(values: Any, fmt: str) -> np.ndarray:
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    return np.char.mod(fmt, np.nan_to_num(v))


def _pct(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.char.add(_int(100 * np.nan_to_num(v)), "%")


def _plural(values: Any, one: str, many: str) -> np.ndarray:
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    return np.where(np.rint(np.nan_to_num(v)) == 1, one, many)


def _cat(*parts: Any) -> np.ndarray:
    out = np.asarray(parts[0]).astype(str)
    for part in parts[1:]:
        out = np.char.add(out, np.asarray(part).astype(str))
    return out


def _col(r: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` as numbers, or all-NaN when the model does not have it."""
    if name in r:
        return pd.to_numeric(r[name].astype(object), errors="coerce").astype(float)
    return pd.Series(np.nan, index=r.index)


def _typ(typical: dict[str, Any], name: str) -> float:
    value = typical.get(name)
    return float("nan") if value is None else float(value)


def _render(name: str, rows: pd.DataFrame, typical: dict[str, Any], horizon_days: int) -> np.ndarray:
    if name.startswith(GENERIC_PREFIX):
        return _generic(name[len(GENERIC_PREFIX):], rows, typical)
    if name.startswith(ATTRIBUTE_GROUP_PREFIX):
        return _attribute(name[len(ATTRIBUTE_GROUP_PREFIX):], rows, typical)
    render = _TEMPLATES[name]
    return np.asarray(render(rows, typical), dtype=object)


def _value_texts(col: pd.Series, usual: Any, missing: str) -> tuple[np.ndarray, str | None]:
    """A column's values as text (``missing`` where absent) and its typical value as text."""
    if pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
        return _num(col, "%.4g"), None if usual is None else f"{float(usual):.4g}"
    value = col.astype(object).where(col.notna(), missing).astype(str).to_numpy()
    return value, None if usual is None else str(usual)


def _generic(name: str, rows: pd.DataFrame, typical: dict[str, Any]) -> np.ndarray:
    value, usual = _value_texts(rows[name], typical.get(name), "missing")
    return _cat(name, " = ", value, f" (typical: {usual or 'n/a'})").astype(object)


def _attribute(name: str, rows: pd.DataFrame, typical: dict[str, Any]) -> np.ndarray:
    """'Contract = Month-to-month (typical: Two year)'; 'Contract not on record' when missing."""
    column = f"{ATTRIBUTE_PREFIX}{name}"
    label = name.replace("_", " ").capitalize()
    col = rows[column]
    value, usual = _value_texts(col, typical.get(column), "")
    text = _cat(f"{label} = ", value, "" if usual is None else f" (typical: {usual})")
    return np.where(col.isna().to_numpy(), f"{label} not on record", text).astype(object)


def _recency(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    text = _cat("no purchase for ", _int(r["recency_days"]), " days")
    if "overdue_ratio" in r:
        ratio = pd.to_numeric(r["overdue_ratio"], errors="coerce").to_numpy(dtype=float)
        over = _cat(" — ", _num(ratio, "%.1f"), "× the usual gap")
        text = np.where(np.nan_to_num(ratio) >= 1.05, _cat(text, over), text)
    return text


def _below(values: pd.Series, usual: float) -> np.ndarray:
    """True where a value is below the typical one (the wording then says "only"/"low")."""
    v = values.to_numpy(dtype=float)
    if np.isnan(usual):
        return np.zeros(v.size, dtype=bool)
    return np.nan_to_num(v, nan=np.inf) < usual


def _rhythm(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    col = "gap_median_days" if "gap_median_days" in r else "gap_mean_days"
    gap = _col(r, col)
    usual = _typ(t, col)
    typical = "" if np.isnan(usual) else f" (typical customer: every {usual:.0f})"
    slow = ~_below(gap, usual) & ~np.isnan(usual) & gap.notna().to_numpy()
    text = np.where(slow, _cat("buys only every ", _int(gap), f" days{typical}"),
                    _cat("usually buys every ", _int(gap), f" days{typical}"))
    return np.where(gap.isna().to_numpy(), "only one purchase day so far — no buying rhythm yet",
                    text)


def _activity(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    col = "purchases_365d" if "purchases_365d" in r else "purchases_total"
    n = _col(r, col)
    usual = _typ(t, col)
    when = " in the last 365 days" if col == "purchases_365d" else " so far"
    typical = "" if np.isnan(usual) else f" (typical: {usual:.0f})"
    count = _cat(_int(n), " purchase", np.where(_int(n) == "1", "", "s"), when, typical)
    return np.where(_below(n, usual), _cat("only ", count), count)


def _trend(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    prev = _col(r, "spend_prev_90d").to_numpy(dtype=float)
    trend = _col(r, "spend_trend").to_numpy(dtype=float)
    # spend_trend = (a - b) / (a + b) -> a / b = (1 + trend) / (1 - trend)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = 1.0 - (1.0 + trend) / (1.0 - trend)
    down = _cat("spend down ", _pct(np.clip(drop, 0, 1)), " vs the previous 90 days")
    stopped = "no purchase in the last 90 days after buying in the 90 before"
    text = np.where(trend <= -0.999, stopped, down)
    freq = _col(r, "frequency_trend").to_numpy(dtype=float)
    fewer = "fewer purchases in the last 90 days than in the 90 before"
    flat = "no growth: spend in the last 90 days not above the 90 before"
    text = np.where(np.nan_to_num(trend, nan=1.0) < -0.01, text,
                    np.where(np.nan_to_num(freq, nan=1.0) < 0, fewer, flat))
    quiet = np.isnan(trend) & (np.nan_to_num(prev) == 0)
    return np.where(quiet, "no purchases in the last 180 days", text)


def _spend(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    col = "spend_365d" if "spend_365d" in r else "spend_total"
    label = "in the last 365 days" if col == "spend_365d" else "in total"
    usual = _typ(t, col)
    typical = "" if np.isnan(usual) else f" (typical: {usual:.0f})"
    amount = _cat(_num(r[col], "%.0f"), f" {label}{typical}")
    return np.where(_below(_col(r, col), usual), _cat("low spend: ", amount),
                    _cat("spend ", amount))


def _tenure(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    days = pd.to_numeric(r["tenure_days"], errors="coerce").to_numpy(dtype=float)
    short = days < _typ(t, "tenure_days")
    return np.where(
        short,
        _cat("new customer: first purchase ", _int(days), " days ago"),
        _cat("customer for ", _int(days), " days"),
    )


def _breadth(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    col = "categories_365d" if "categories_365d" in r else "categories_total"
    n = r[col]
    return _cat(
        "buys from ", _int(n), " product ", _plural(n, "category", "categories"),
        f" (typical: {_typ(t, col):.0f})",
    )


def _refunds(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    n = _col(r, "refunds_365d")
    amount = _col(r, "refund_amount_365d")
    return _cat(
        _int(n), " ", _plural(n, "refund", "refunds"), " in the last 365 days (",
        _num(amount, "%.0f"), " returned)",
    )


def _channel(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    top = r["top_channel"].astype(object) if "top_channel" in r else pd.Series(np.nan, index=r.index)
    share = _col(r, "top_channel_share")
    named = top.where(top.notna(), "unknown").astype(str).to_numpy()
    return _cat("most purchases via ", named, " (", _pct(share), ")")


def _sla(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    n90 = _col(r, "sla_breaches_90d").fillna(0)
    n365 = _col(r, "sla_breaches_365d").fillna(0)
    recent = _cat(_int(n90), " SLA ", _plural(n90, "breach", "breaches"), " in the last 90 days")
    year = _cat(_int(n365), " SLA ", _plural(n365, "breach", "breaches"), " in the last 365 days")
    return np.where(n90.to_numpy() > 0, recent, year)


def _complaints(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    n90 = _col(r, "complaints_90d").fillna(0)
    n365 = _col(r, "complaints_365d").fillna(0)
    recent = _cat(_int(n90), " ", _plural(n90, "complaint", "complaints"), " in the last 90 days")
    year = _cat(_int(n365), " ", _plural(n365, "complaint", "complaints"), " in the last 365 days")
    return np.where(n90.to_numpy() > 0, recent, year)


def _nps(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    score = _col(r, "latest_nps").to_numpy(dtype=float)
    detractor = np.nan_to_num(score, nan=99) <= 6
    passive = (np.nan_to_num(score, nan=0) >= 7) & (np.nan_to_num(score, nan=99) <= 8)
    text = np.where(
        detractor, _cat("NPS detractor (score ", _int(score), ")"),
        np.where(passive, _cat("NPS passive (score ", _int(score), ")"),
                 _cat("NPS score ", _int(score))),
    )
    return np.where(np.isnan(score), "no NPS answer on record", text)


def _csat(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    mean = _col(r, "csat_mean_180d").to_numpy(dtype=float)
    latest = _col(r, "csat_latest").to_numpy(dtype=float)
    text = np.where(
        np.isnan(mean),
        _cat("latest CSAT ", _num(latest, "%.0f"), ", none in the last 180 days"),
        _cat("CSAT ", _num(mean, "%.1f"), " on average in the last 180 days"),
    )
    return np.where(np.isnan(mean) & np.isnan(latest), "no CSAT answer on record", text)


def _tickets(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    open_ = _col(r, "open_tickets").fillna(0)
    n90 = _col(r, "tickets_90d").fillna(0)
    reopened = _col(r, "reopened_365d").fillna(0)
    hours = _col(r, "mean_resolution_hours_365d")
    text = _cat(_int(n90), " service ", _plural(n90, "ticket", "tickets"), " in the last 90 days")
    text = np.where(
        reopened.to_numpy() > 0,
        _cat(_int(reopened), " reopened ", _plural(reopened, "ticket", "tickets"),
             " in the last 365 days"),
        text,
    )
    slow = hours.to_numpy(dtype=float) > 1.5 * np.nan_to_num(_typ(t, "mean_resolution_hours_365d"),
                                                             nan=np.inf)
    text = np.where(slow, _cat("slow ticket resolution: ", _num(hours, "%.0f"), " hours on average"),
                    text)
    return np.where(open_.to_numpy() > 0,
                    _cat(_int(open_), " open ", _plural(open_, "ticket", "tickets")), text)


def _segment(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    parts = [
        r[c].astype(object).where(r[c].notna(), "").astype(str).to_numpy()
        for c in FIRMOGRAPHIC_FEATURES if c in r
    ]
    label = np.full(len(r), "", dtype=object)
    for k, part in enumerate(parts):
        # size_band repeats customer_type for consumers; unknown values say nothing.
        repeat = np.zeros(len(r), dtype=bool)
        for earlier in parts[:k]:
            repeat |= part == earlier
        show = (part != "") & (part != "unknown") & ~repeat
        sep = np.where(label == "", "", ", ")
        label = np.where(show, _cat(label, sep, part), label)
    return np.where(label == "", "segment with higher churn",
                    _cat("segment with higher churn (", label, ")"))


def _btyd(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    alive = _col(r, "btyd_p_alive").to_numpy(dtype=float)
    return np.where(
        np.isnan(alive), "purchase pattern typical of lapsing customers",
        _cat("purchase model: only ", _pct(alive), " chance the customer is still active"),
    )


def _gt(values: pd.Series, bound: float) -> np.ndarray:
    """values > bound, False for missing values or a missing bound."""
    if np.isnan(bound):
        return np.zeros(len(values), dtype=bool)
    return np.nan_to_num(values.to_numpy(dtype=float), nan=-np.inf) > bound


def _lt(values: pd.Series, bound: float) -> np.ndarray:
    """values < bound, False for missing values or a missing bound."""
    if np.isnan(bound):
        return np.zeros(len(values), dtype=bool)
    return np.nan_to_num(values.to_numpy(dtype=float), nan=np.inf) < bound


def _risky(name: str, r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    """Rows where group ``name`` lies on the side that plausibly raises churn."""
    rule = _RISKY.get(name)
    if rule is None:  # groups without a direction (segment, channel, generic features)
        return np.ones(len(r), dtype=bool)
    return np.asarray(rule(r, t), dtype=bool)


def _risky_trend(r: pd.DataFrame, t: dict[str, Any]) -> np.ndarray:
    spend = _col(r, "spend_trend").to_numpy(dtype=float)
    freq = _col(r, "frequency_trend").to_numpy(dtype=float)
    # Missing trend = nothing bought in the last 180 days: risky too.
    return ~((np.nan_to_num(spend, nan=-1) >= 0) & (np.nan_to_num(freq, nan=-1) >= 0))


#: Per group: where the customer's value is on the risky side. CSAT is taken on
#: the usual 1-5 scale (below 4 = not satisfied).
_RISKY: dict[str, Callable[[pd.DataFrame, dict[str, Any]], np.ndarray]] = {
    "recency": lambda r, t: _gt(_col(r, "recency_days"), _typ(t, "recency_days"))
    | _gt(_col(r, "overdue_ratio"), 1.5),
    "rhythm": lambda r, t: _col(r, "gap_median_days").isna().to_numpy()
    | _gt(_col(r, "gap_median_days"), _typ(t, "gap_median_days")),
    "activity": lambda r, t: _lt(_col(r, "purchases_365d"), _typ(t, "purchases_365d"))
    | _lt(_col(r, "purchases_total"), _typ(t, "purchases_total")),
    "trend": _risky_trend,
    "spend": lambda r, t: _lt(_col(r, "spend_365d"), _typ(t, "spend_365d")),
    "tenure": lambda r, t: _lt(_col(r, "tenure_days"), _typ(t, "tenure_days")),
    "breadth": lambda r, t: _lt(_col(r, "categories_365d"), _typ(t, "categories_365d")),
    "refunds": lambda r, t: _gt(_col(r, "refunds_365d"), 0),
    "sla": lambda r, t: _gt(_col(r, "sla_breaches_365d"), 0) | _gt(_col(r, "sla_breaches_90d"), 0),
    "complaints": lambda r, t: _gt(_col(r, "complaints_365d"), 0)
    | _gt(_col(r, "complaints_90d"), 0),
    "nps": lambda r, t: _lt(_col(r, "latest_nps"), 8.5),
    "csat": lambda r, t: _lt(_col(r, "csat_mean_180d"), 4) | _lt(_col(r, "csat_latest"), 4),
    "tickets": lambda r, t: _gt(_col(r, "open_tickets"), 0) | _gt(_col(r, "reopened_365d"), 0)
    | _gt(_col(r, "tickets_90d"), 0)
    | _gt(_col(r, "mean_resolution_hours_365d"), 1.5 * _typ(t, "mean_resolution_hours_365d")),
    "btyd": lambda r, t: _lt(_col(r, "btyd_p_alive"), _typ(t, "btyd_p_alive"))
    | _lt(_col(r, "btyd_p_alive"), 0.5),
}


_TEMPLATES: dict[str, Callable[[pd.DataFrame, dict[str, Any]], np.ndarray]] = {
    "recency": _recency,
    "rhythm": _rhythm,
    "activity": _activity,
    "trend": _trend,
    "spend": _spend,
    "tenure": _tenure,
    "breadth": _breadth,
    "refunds": _refunds,
    "channel": _channel,
    "sla": _sla,
    "complaints": _complaints,
    "nps": _nps,
    "csat": _csat,
    "tickets": _tickets,
    "segment": _segment,
    "btyd": _btyd,
}
