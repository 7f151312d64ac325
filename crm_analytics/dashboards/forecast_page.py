"""The dashboard's forecast page: a fan chart per segment and the run's last back-test.

Reads the run's result tables ``forecast``, ``forecast_backtest`` and
``forecast_backtest_monthly`` (written by the scoring step ``forecast``, see
:mod:`crm_analytics.scoring.forecast_step`); the page is shown only for runs that
have them. :func:`forecast_cards` returns the cards' content (figures and tables);
:mod:`.render` lays them out like every other page.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from crm_analytics.clv.backtest import METHODS, BacktestResult
from crm_analytics.clv.revenue_forecast import TOTAL_SEGMENT, plot_forecast_fan

__all__ = ["forecast_cards"]

#: Segments drawn as fan charts, at most (the total first).
MAX_FANS = 12


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "segment"


def _note(fig: Any, text: str) -> None:
    """A note under the figure (the ``layout.meta["notes"]`` the dashboards print)."""
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    fig.update_layout(meta={**meta, "notes": [*meta.get("notes", []), text]})


def _fans(table: pd.DataFrame, money_axis: str) -> list[tuple[str, Any, str, bool]]:
    segments = [s for s in table["segment"].astype(str).unique() if s != TOTAL_SEGMENT]
    cards = []
    for segment in [TOTAL_SEGMENT, *sorted(segments)][:MAX_FANS]:
        if not (table["segment"] == segment).any():
            continue
        fig = plot_forecast_fan(table, segment)
        fig.update_layout(yaxis_title=money_axis)
        rows = table[table["segment"] == segment]
        total = rows[rows["component"] == "total"]["expected_revenue"].sum()
        new = rows[rows["component"] == "new"]["expected_revenue"].sum()
        if total > 0 and (rows["component"] == "new").any():
            _note(fig, f"{new / total:.0%} of the expected revenue comes from customers not "
                       "acquired yet (the acquisition model). Bands: 80 % and 95 % intervals.")
        cards.append((f"Revenue forecast: {segment}", fig, f"forecast-{_slug(segment)}",
                      segment == TOTAL_SEGMENT))
    return cards


def forecast_cards(results: dict[str, pd.DataFrame], money_axis: str = "Revenue"
                   ) -> list[tuple[str, Any, str, bool]]:
    """The forecast page's cards: (title, figure or table, element id, wide), in order.

    Examples
    --------
    >>> forecast_cards({})
    []
    """
    table = results.get("forecast")
    if table is None or table.empty:
        return []
    cards = _fans(table, money_axis)
    total = table[table["component"] == "total"]
    horizon = total.groupby("segment", sort=False).agg(
        expected_revenue=("expected_revenue", "sum"),
        expected_purchases=("expected_purchases", "sum"))
    horizon["expected_revenue"] = horizon["expected_revenue"].round(0)
    horizon["expected_purchases"] = horizon["expected_purchases"].round(1)
    cards.append(("Expected revenue over the horizon, by segment", horizon, "forecast-horizon",
                  False))
    metrics = results.get("forecast_backtest")
    monthly = results.get("forecast_backtest_monthly")
    if metrics is None or metrics.empty:
        cards.append(("Back-test", "no back-test in this run (see the skipped steps on the "
                                   "overview)", "forecast-backtest-none", False))
        return cards
    wape = metrics.pivot(index="segment", columns="method", values="wape")
    wape = wape[[m for m in METHODS if m in wape.columns]].round(3)
    wape.columns = [f"WAPE {c}" for c in wape.columns]
    cards.append(("Back-test: error by method (lower is better)", wape, "forecast-wape", True))
    if monthly is not None and not monthly.empty:
        bt = BacktestResult(monthly, metrics, pd.DataFrame(), "", None)
        segment = TOTAL_SEGMENT if (monthly["segment"] == TOTAL_SEGMENT).any() else \
            str(monthly["segment"].iloc[0])
        fig = bt.plot(segment)
        fig.update_layout(yaxis_title=money_axis)
        cards.append((f"Back-test: {segment}, actual vs forecasts", fig, "forecast-backtest", True))
    cover = metrics[metrics["method"] == "btyd"].set_index("segment")[
        ["coverage_80", "coverage_95", "bias"]].round(3)
    cards.append(("Back-test: interval coverage and bias of the forecast", cover,
                  "forecast-coverage", False))
    return cards
