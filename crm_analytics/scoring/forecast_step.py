"""The ``forecast`` step of a scoring run: revenue forecast by segment, and its back-test.

Runs after the segments step, on the run's own CLV model and RFM summary (no
second fit for the forecast) and the run's own segment labels, and writes three
result tables (what the dashboard's forecast page shows):

``forecast``
    :func:`crm_analytics.clv.forecast` as of the run's date, ``forecast_horizon_months``
    months by ``forecast_by``.
``forecast_backtest`` and ``forecast_backtest_monthly``
    :func:`crm_analytics.clv.forecast_backtest` at the month end
    ``forecast_horizon_months`` before the run's last whole month, with actuals up
    to the run's date only: metrics per segment and method, and the months.

Skips, with the reason (``ctx.skipped``): ``forecast`` when the CLV step has no
model (no transactions, too few customers) or no spend model, or the segment
column was not scored in this run; ``forecast.backtest`` when the history before
the back-test cutoff cannot support a forecast (too few customers then).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from crm_analytics import clv
from crm_analytics import segmentation as seg
from crm_analytics.clv.revenue_forecast import ATTRIBUTE_SEGMENTS
from crm_analytics.errors import InputError
from crm_analytics.scoring.context import RunContext

log = logging.getLogger(__name__)

__all__ = ["backtest_cutoff", "step_forecast"]

#: Prefix of ``forecast_by`` naming a custom segment.
SEGMENT_PREFIX = "segment:"


def backtest_cutoff(as_of: Any, horizon_months: int) -> pd.Timestamp:
    """The month end ``horizon_months`` before the last whole month up to ``as_of``.

    Examples
    --------
    >>> str(backtest_cutoff("2025-12-31", 12).date()), str(backtest_cutoff("2025-12-15", 3).date())
    ('2024-12-31', '2025-08-31')
    """
    day = pd.Timestamp(as_of)
    month = day.to_period("M")
    last_whole = month if (day + pd.Timedelta(days=1)).day == 1 else month - 1
    return (last_whole - horizon_months).end_time.normalize()


def _segments(ctx: RunContext, by: str) -> tuple[Any, str | None]:
    """What to pass as ``by``, or a reason to skip."""
    if by == "":
        return None, None
    if by.startswith(SEGMENT_PREFIX):
        name = by[len(SEGMENT_PREFIX):].strip()
        members = seg.segment_members(ctx.store, name, scores=ctx.scores)
        labels = pd.Series("others", index=ctx.scores.index.astype(str), name=name, dtype=object)
        labels.loc[labels.index.isin(members)] = name
        return labels, None
    if by in ATTRIBUTE_SEGMENTS:
        return by, None  # from the customer record, so new customers are labelled too
    if by not in ctx.scores.columns or ctx.scores[by].isna().all():
        return None, f"segment column {by!r} was not scored in this run (its step did not run)"
    return ctx.scores[by].rename(by), None


def _backtest_segments(by: str) -> tuple[str | None, str | None]:
    """``by`` for the back-test: labels as of its cutoff, never this run's (no look-ahead)."""
    if by.startswith(SEGMENT_PREFIX):
        return None, ("a custom segment's members are known as of this run only; back-testing "
                      "by them would use later information (back-test by a column instead)")
    # A score column is read from the newest run on or before the cutoff.
    return (by or None), None


def step_forecast(ctx: RunContext) -> None:
    cfg = ctx.config
    model = ctx.artifacts.get("clv_model")
    summary = ctx.artifacts.get("rfm_summary")
    if model is None or summary is None:
        why = ctx.skipped.get("clv")
        ctx.skip("forecast", f"no CLV model in this run ({why})" if why else
                 "no CLV model in this run (add 'clv' to steps)")
        return
    if model.spend_model_ is None:
        ctx.skip("forecast", "no spend model: no repeat buyer with a positive mean repeat "
                             f"purchase up to {ctx.as_of}")
        return
    by, why = _segments(ctx, cfg.forecast_by)
    if why:
        ctx.skip("forecast", why)
        return
    horizon = int(cfg.forecast_horizon_months)
    table = clv.forecast(ctx.store, ctx.as_of, horizon, by=by, model=model, summary=summary,
                         seed=cfg.seed)
    ctx.results["forecast"] = table
    info: dict[str, Any] = {"by": cfg.forecast_by or None, "horizon_months": horizon,
                            "notes": list(table.attrs.get("notes", []))}
    if cfg.forecast_backtest:
        cutoff = backtest_cutoff(ctx.as_of, horizon)
        info["backtest_cutoff"] = str(cutoff.date())
        bt_by, why = _backtest_segments(cfg.forecast_by)
        if why:
            ctx.skip("forecast.backtest", why)
            ctx.metrics["forecast"] = info
            return
        try:
            bt = clv.forecast_backtest(ctx.store, cutoff.date(), horizon, by=bt_by,
                                       purchase_model=cfg.purchase_model,
                                       actuals_through=ctx.as_of, seed=cfg.seed)
        except InputError as exc:  # too little history before the cutoff: a data condition
            ctx.skip("forecast.backtest", f"back-test at {cutoff.date()}: {exc}")
        else:
            ctx.results["forecast_backtest"] = bt.metrics
            ctx.results["forecast_backtest_monthly"] = bt.monthly
            info["backtest_notes"] = list(bt.notes)
    ctx.metrics["forecast"] = info
