"""Segment profiles: who is in each segment, what it is worth, how it feels.

:func:`profile` works on a scores frame (one row per customer, as
``crm_analytics.scoring.run.latest_scores`` returns) and uses whatever score
columns are present: a column the run did not produce simply leaves its
profile columns out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError
from crm_analytics.segmentation.needs import SPEND_PREFIX
from crm_analytics.segmentation.rfm import NO_PURCHASES, RFM_SEGMENTS
from crm_analytics.segmentation.value import DEFAULT_TIERS, UNKNOWN_TIER

__all__ = ["NO_SEGMENT", "nps_from_classes", "profile"]

#: Label of customers without a value in the segment column (never dropped).
NO_SEGMENT = "(no segment)"
#: Net revenue over the last 365 days: the pipeline's column, else the RFM step's.
REVENUE_COLUMNS = ("revenue_365d", "net_spend_365d")
# Segment columns with a natural order (best first); others are sorted by size.
_ORDER: dict[str, tuple[str, ...]] = {
    "rfm_segment": (*RFM_SEGMENTS, NO_PURCHASES),
    "value_tier": (*(name for name, _ in DEFAULT_TIERS), UNKNOWN_TIER),
    "risk_band": ("high", "medium", "low"),
}


def nps_from_classes(classes: pd.Series) -> tuple[float, int]:
    """Net Promoter Score (promoters % - detractors %) and the number of answers.

    ``classes`` holds ``promoter`` / ``passive`` / ``detractor`` (any case, plurals
    accepted); missing values are not answers.

    Examples
    --------
    >>> nps_from_classes(pd.Series(["promoter", "promoter", "passive", "detractor", None]))
    (25.0, 4)
    """
    text = classes.dropna().astype(str).str.strip().str.lower()
    n = int(len(text))
    if n == 0:
        return float("nan"), 0
    promoters = int(text.str.startswith("promot").sum())
    detractors = int(text.str.startswith("detract").sum())
    return 100.0 * (promoters - detractors) / n, n


def _nps_classes(scores: pd.DataFrame) -> pd.Series | None:
    if "nps_class" in scores.columns:
        return scores["nps_class"]
    if "latest_nps" in scores.columns:
        score = pd.to_numeric(scores["latest_nps"], errors="coerce")
        # The standard NPS bands on the 0-10 scale.
        classes = np.where(score >= 9, "promoter", np.where(score <= 6, "detractor", "passive"))
        return pd.Series(classes, index=scores.index).where(score.notna())
    return None


def _top_shares(values: pd.Series, top_n: int) -> str:
    shares = values.dropna().astype(str).value_counts(normalize=True, sort=False)
    shares = shares.sort_index().sort_values(ascending=False, kind="stable").head(top_n)
    return " · ".join(f"{k} {v:.0%}" for k, v in shares.items())


def profile(
    scores: pd.DataFrame,
    by: str | Sequence[str] = "needs_segment_name",
    *,
    needs_features: pd.DataFrame | None = None,
    top_n: int = 3,
) -> pd.DataFrame:
    """Per segment: size, revenue, CLV, churn risk, satisfaction, top regions and categories.

    Parameters
    ----------
    scores : DataFrame
        One row per customer (index ``customer_id``).
    by : str or list of str, default "needs_segment_name"
        Segment column(s), e.g. ``"size_segment"``, ``["size_segment",
        "needs_segment_name"]``. Customers without a value are grouped as
        ``"(no segment)"``, never dropped.
    needs_features : DataFrame, optional
        :func:`~crm_analytics.segmentation.needs_features` output, for the
        ``top_categories`` column (mean share of spend by category).
    top_n : int, default 3
        Regions / categories listed.

    Returns
    -------
    DataFrame
        Index: the segment(s). Columns, when the inputs allow:

        ``customers``, ``customer_share``;
        ``revenue_365d``, ``revenue_share`` (sum of ``revenue_365d``, else of
        ``net_spend_365d``: net spend, refunds deducted, over the last 365 days);
        ``clv_sum``, ``clv_mean``; ``revenue_potential_sum``;
        ``churn_probability_mean``, ``high_risk_share`` (``risk_band == 'high'``),
        ``revenue_at_risk``;
        ``nps`` and ``nps_n`` (from ``nps_class``, or ``latest_nps`` banded
        9-10 / 7-8 / 0-6), ``csat_mean`` (mean of ``csat_mean_180d``),
        ``satisfaction_index_mean``, ``complaints_per_customer``;
        ``top_regions``, ``top_categories`` (e.g. ``"EMEA 61% · APAC 22%"``).

        Rows are ordered best first for RFM cells, value tiers and risk bands,
        else by customers (descending). A ``DataFrame`` renders as a table in
        Jupyter and serialises for the dashboards.

    Examples
    --------
    >>> scores = pd.DataFrame({
    ...     "value_tier": ["Top 10%", "Bottom 30%", "Bottom 30%", None],
    ...     "clv": [900.0, 20.0, 40.0, None], "nps_class": ["promoter", "detractor", None, None],
    ...     "region": ["EMEA", "EMEA", "APAC", "APAC"]},
    ...     index=pd.Index(["C1", "C2", "C3", "C4"], name="customer_id"))
    >>> profile(scores, by="value_tier")[["customers", "clv_sum", "nps", "nps_n", "top_regions"]]
                  customers  clv_sum    nps  nps_n        top_regions
    value_tier
    Top 10%               1    900.0  100.0      1          EMEA 100%
    Bottom 30%            2     60.0 -100.0      1  APAC 50% · EMEA 50%
    (no segment)          1      0.0    NaN      0          APAC 100%
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in scores.columns]
    if not keys or missing:
        raise InputError(
            f"profile: segment column(s) {missing or keys} not in the scores; found "
            f"{list(scores.columns)}"
        )
    frame = scores.copy()
    for key in keys:
        frame[key] = frame[key].astype(object).where(frame[key].notna(), NO_SEGMENT)
    groups = frame.groupby(keys, sort=False, dropna=False)
    out = pd.DataFrame({"customers": groups.size()})
    out["customer_share"] = out["customers"] / max(len(frame), 1)

    def add_sum(name: str, column: str) -> None:
        if column in frame.columns:
            out[name] = groups[column].apply(lambda s: pd.to_numeric(s, errors="coerce").sum())

    def add_mean(name: str, column: str) -> None:
        if column in frame.columns:
            out[name] = groups[column].apply(lambda s: pd.to_numeric(s, errors="coerce").mean())

    revenue = next((c for c in REVENUE_COLUMNS if c in frame.columns), None)
    if revenue is not None:
        add_sum("revenue_365d", revenue)
    if "revenue_365d" in out.columns:
        total = out["revenue_365d"].sum()
        out["revenue_share"] = out["revenue_365d"] / total if total else np.nan
    add_sum("clv_sum", "clv")
    add_mean("clv_mean", "clv")
    add_sum("revenue_potential_sum", "revenue_potential")
    add_mean("churn_probability_mean", "churn_probability")
    if "risk_band" in frame.columns:
        out["high_risk_share"] = groups["risk_band"].apply(
            lambda s: float((s.astype(str).str.lower() == "high").mean()))
    add_sum("revenue_at_risk", "revenue_at_risk")
    classes = _nps_classes(frame)
    if classes is not None:
        nps = classes.groupby([frame[k] for k in keys], sort=False, dropna=False).apply(nps_from_classes)
        out["nps"] = nps.map(lambda t: t[0]).reindex(out.index)
        out["nps_n"] = nps.map(lambda t: t[1]).reindex(out.index).fillna(0).astype("int64")
    add_mean("csat_mean", "csat_mean_180d")
    add_mean("satisfaction_index_mean", "satisfaction_index")
    add_mean("complaints_per_customer", "complaints_365d")
    if "region" in frame.columns:
        out["top_regions"] = groups["region"].apply(lambda s: _top_shares(s, top_n))
    if needs_features is not None:
        out["top_categories"] = _top_categories(frame, keys, needs_features, top_n).reindex(out.index)
    return _ordered(out, keys)


def _top_categories(
    frame: pd.DataFrame, keys: list[str], features: pd.DataFrame, top_n: int
) -> pd.Series:
    shares = features[[c for c in features.columns if str(c).startswith(SPEND_PREFIX)]]
    shares = shares.rename(columns=lambda c: str(c)[len(SPEND_PREFIX):])
    joined = frame[keys].join(shares, how="left")
    means = joined.groupby(keys, sort=False, dropna=False).mean()

    def describe(row: pd.Series) -> str:
        row = row.dropna().sort_index().sort_values(ascending=False, kind="stable").head(top_n)
        return " · ".join(f"{k} {v:.0%}" for k, v in row.items() if v > 0)

    return means.apply(describe, axis=1) if len(means.columns) else pd.Series("", index=means.index)


def _ordered(out: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if len(keys) == 1 and keys[0] in _ORDER:
        rank = {v: i for i, v in enumerate(_ORDER[keys[0]])}
        position = [rank.get(v, len(rank)) if v != NO_SEGMENT else len(rank) + 1 for v in out.index]
        return out.iloc[np.lexsort((out.index.astype(str), position))]
    labels = out.index.map(lambda v: " / ".join(map(str, v)) if isinstance(v, tuple) else str(v))
    last = np.asarray([NO_SEGMENT in (v if isinstance(v, tuple) else (v,)) for v in out.index])
    return out.iloc[np.lexsort((np.asarray(labels), -out["customers"].to_numpy(), last))]
