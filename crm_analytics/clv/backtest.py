"""Back-test of the revenue forecast against time-series baselines.

:func:`forecast_backtest` makes the forecast of :func:`~crm_analytics.clv.forecast`
at a past ``cutoff`` -- models fitted, segments labelled and acquisition rates
measured on data up to the cutoff only -- and compares it month by month with
the revenue that followed, per segment, next to baselines fitted on each
segment's own monthly revenue up to the cutoff:

``seasonal_naive``
    Each month repeats the same month a year earlier; the interval from the
    spread of the year-on-year differences, widening with each further year
    (``sigma * sqrt(1 + floor((h - 1) / 12))``, Hyndman & Athanasopoulos,
    *Forecasting: principles and practice*, 5.5). Needs 12 months of history.
``ets``
    Exponential smoothing with additive errors from statsmodels (``ETSModel``):
    level and additive yearly seasonality with 24 months of history or more,
    level and damped trend from 12, level only from 6; its own prediction
    intervals. Fewer than 6 months: not fitted.
``naive``
    The last month repeated (interval from the month-to-month changes);
    always available from 2 months of history.

A baseline that cannot be fitted on a segment's history is left out of that
segment with the reason in ``notes`` (e.g. "seasonal_naive: 9 months of history,
needs 12"), never a crash. Metrics per segment and method: ``wape`` (sum of
absolute errors / sum of actual revenue), ``bias`` (sum of errors / sum of
actual revenue; > 0 over-forecasts), ``coverage_80`` and ``coverage_95`` (share
of months whose actual revenue lies in the interval).

Actual revenue follows the forecast's definition: the net amount of purchase
occasions (``clv/sql/monthly_revenue.sql``), labelled by the segments as of the
cutoff; customers acquired later carry their customer-record label (attribute
segments) or form ``"(new customers)"`` (behavioural segments).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crm_analytics.clv.revenue_forecast import (
    MAX_HORIZON_MONTHS,
    NEW_SEGMENT,
    TOTAL_SEGMENT,
    UNASSIGNED,
    _positions,
    _prepare,
    _run,
    month_periods,
)
from crm_analytics.core.params import check_number
from crm_analytics.core.summary import Summary
from crm_analytics.core.timeutils import as_of_params, to_date
from crm_analytics.errors import InputError
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import reads_store

__all__ = ["BASELINES", "BacktestResult", "METHODS", "forecast_backtest", "seasonal_naive"]

#: The baselines, in table order.
BASELINES = ("seasonal_naive", "ets", "naive")
#: Our forecast, then the baselines.
METHODS = ("btyd", *BASELINES)
#: Months of history the baselines are fitted on, at most.
HISTORY_MONTHS = 36

_Z = {0.80: stats.norm.ppf(0.90), 0.95: stats.norm.ppf(0.975)}


@dataclass
class BacktestResult:
    """The forecast made at ``cutoff`` against what followed, next to the baselines.

    Attributes
    ----------
    monthly : pandas.DataFrame
        One row per segment, month and method: ``forecast``, ``actual``,
        ``lo80``, ``hi80``, ``lo95``, ``hi95``.
    metrics : pandas.DataFrame
        One row per segment and method: ``months``, ``actual``, ``forecast``,
        ``wape``, ``bias``, ``coverage_80``, ``coverage_95``, ``best``
        (lowest WAPE of the segment).
    history : pandas.DataFrame
        Monthly revenue per segment up to the cutoff (what the baselines saw).
    cutoff : str
    by : str or None
    notes : list of str
        Baselines not fitted and why; the forecast's own notes.
    """

    monthly: pd.DataFrame
    metrics: pd.DataFrame
    history: pd.DataFrame
    cutoff: str
    by: Any
    notes: list[str] = field(default_factory=list)

    def wape_table(self) -> pd.DataFrame:
        """WAPE by segment (rows) and method (columns), the first thing to read."""
        table = self.metrics.pivot(index="segment", columns="method", values="wape")
        return table[[m for m in METHODS if m in table.columns]]

    def summary(self) -> Summary:
        """WAPE of every method side by side, then bias and coverage; notes.

        Returns
        -------
        Summary
        """
        facts = [("cutoff", self.cutoff), ("by", str(self.by)),
                 ("months compared", str(self.monthly["month"].nunique()))]
        wape = self.wape_table()
        best = self.metrics[self.metrics["best"]].set_index("segment")["method"]
        wape["best"] = best.reindex(wape.index)
        detail = self.metrics.set_index(["segment", "method"])[
            ["actual", "forecast", "bias", "coverage_80", "coverage_95"]]
        return Summary(f"Revenue forecast back-test at {self.cutoff}", facts, wape,
                       list(self.notes), [("bias and interval coverage", detail)])

    def __repr__(self) -> str:
        return str(self.summary())

    def plot(self, segment: str = TOTAL_SEGMENT) -> Any:
        """Actual monthly revenue of a segment against every method's forecast."""
        import plotly.graph_objects as go

        rows = self.monthly[self.monthly["segment"] == segment]
        if rows.empty:
            raise InputError(f"no segment {segment!r} in this back-test; segments: "
                             f"{', '.join(map(str, self.monthly['segment'].unique()))}")
        fig = go.Figure()
        ours = rows[rows["method"] == "btyd"]
        fig.add_trace(go.Scatter(x=ours["month"], y=ours["hi95"], mode="lines", line={"width": 0},
                                 showlegend=False, name="95 % interval"))
        fig.add_trace(go.Scatter(x=ours["month"], y=ours["lo95"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(31,119,180,0.2)",
                                 name="btyd 95 % interval"))
        for method, dash in zip(METHODS, ("solid", "dot", "dash", "dashdot"), strict=True):
            part = rows[rows["method"] == method]
            if len(part):
                fig.add_trace(go.Scatter(x=part["month"], y=part["forecast"], mode="lines",
                                         name=method, line={"dash": dash}))
        fig.add_trace(go.Scatter(x=ours["month"], y=ours["actual"], mode="lines+markers",
                                 name="actual", line={"color": "black"}))
        fig.update_layout(title=f"Back-test at {self.cutoff}: {segment}", xaxis_title="month",
                          yaxis_title="revenue")
        return fig


# --------------------------------------------------------------------------- baselines
def seasonal_naive(history: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Seasonal naive forecast with normal intervals (see the module docstring).

    Examples
    --------
    >>> y = np.array([10.0] * 6 + [20.0] * 6 + [12.0] * 6 + [22.0] * 6)
    >>> out = seasonal_naive(y, 3)  # year-on-year differences all 2: sigma 2
    >>> out["forecast"].tolist(), out["hi95"].round(2).tolist()
    ([12.0, 12.0, 12.0], [15.92, 15.92, 15.92])
    """
    y = np.asarray(history, dtype=float)
    if y.size < 12:
        raise ValueError(f"{y.size} months of history, needs 12")
    h = np.arange(1, horizon + 1)
    point = y[y.size - 12 + (h - 1) % 12]
    diffs = y[12:] - y[:-12]
    sigma = float(np.sqrt(np.mean(diffs**2))) if diffs.size else float(np.std(y, ddof=1))
    widen = np.sqrt(1 + (h - 1) // 12)
    return _normal_bands(point, sigma * widen)


def _naive(history: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    y = np.asarray(history, dtype=float)
    if y.size < 2:
        raise ValueError(f"{y.size} months of history, needs 2")
    sigma = float(np.sqrt(np.mean(np.diff(y) ** 2)))
    h = np.arange(1, horizon + 1)
    return _normal_bands(np.full(horizon, y[-1]), sigma * np.sqrt(h))


def _normal_bands(point: np.ndarray, sd: np.ndarray) -> dict[str, np.ndarray]:
    out = {"forecast": point}
    for level, tag in ((0.80, "80"), (0.95, "95")):
        out[f"lo{tag}"] = point - _Z[level] * sd
        out[f"hi{tag}"] = point + _Z[level] * sd
    return out


def _ets(history: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = np.asarray(history, dtype=float)
    if y.size < 6:
        raise ValueError(f"{y.size} months of history, needs 6")
    if y.size >= 24:
        spec = {"trend": None, "seasonal": "add", "seasonal_periods": 12}
    elif y.size >= 12:
        spec = {"trend": "add", "damped_trend": True}
    else:
        spec = {"trend": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A Series (plain integer index): statsmodels' prediction intervals need an index.
        fit = ETSModel(pd.Series(y), error="add", **spec).fit(disp=False)
        out = {"forecast": np.asarray(fit.forecast(horizon), dtype=float)}
        for level, tag in ((0.80, "80"), (0.95, "95")):
            frame = fit.get_prediction(start=y.size, end=y.size + horizon - 1).summary_frame(
                alpha=1 - level)
            out[f"lo{tag}"] = frame["pi_lower"].to_numpy(dtype=float)
            out[f"hi{tag}"] = frame["pi_upper"].to_numpy(dtype=float)
    if not all(np.all(np.isfinite(v)) for v in out.values()):
        raise ValueError("the fit gave non-finite forecasts")
    return out


_BASELINE_FUNCS = {"seasonal_naive": seasonal_naive, "ets": _ets, "naive": _naive}


# --------------------------------------------------------------------------- the back-test
def _monthly_by_segment(store: Any, start: dt.date, end: dt.date, base: Any, by: Any,
                        months: list[str]) -> pd.DataFrame:
    """Revenue per segment (rows) and month (columns ``months``) from the store.

    Attribute segments (and the total) are aggregated in SQL; labels given per customer
    (score columns, a Series) need one row per customer and month, labelled here:
    customers not in the forecast's summary were acquired after the cutoff.
    """
    params = {"start": dt.datetime.combine(start, dt.time()), "cutoff": as_of_params(end)["cutoff"]}
    if base.kind in ("total", "attribute"):
        frame = store.sql(load_query("clv/sql/monthly_segment_revenue.sql"),
                          {**params, "column": by if base.kind == "attribute" else "",
                           **DEFAULT_THRESHOLDS.params()})
        empty = TOTAL_SEGMENT if base.kind == "total" else UNASSIGNED
        frame["segment"] = frame["label"].astype(object).where(frame["label"].notna(), empty)
    else:
        frame = store.sql(load_query("clv/sql/monthly_revenue.sql"), params)
        at = _positions(base.summary.index, frame["customer_id"])
        names = np.asarray(base.segments, dtype=object)[base.cust_seg]
        frame["segment"] = np.where(at >= 0, names[at], NEW_SEGMENT)
    frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
    table = frame.pivot_table(index="segment", columns="month", values="revenue", aggfunc="sum",
                              fill_value=0.0)
    return table.reindex(columns=months, fill_value=0.0)


def _metrics(actual: np.ndarray, fc: dict[str, np.ndarray]) -> dict[str, float]:
    err = fc["forecast"] - actual
    denom = float(np.abs(actual).sum())
    return {
        "months": int(actual.size), "actual": float(actual.sum()),
        "forecast": float(fc["forecast"].sum()),
        "wape": float(np.abs(err).sum() / denom) if denom > 0 else float("nan"),
        "bias": float(err.sum() / denom) if denom > 0 else float("nan"),
        "coverage_80": float(np.mean((actual >= fc["lo80"]) & (actual <= fc["hi80"]))),
        "coverage_95": float(np.mean((actual >= fc["lo95"]) & (actual <= fc["hi95"]))),
    }


@reads_store
def forecast_backtest(
    store: Any,
    cutoff: Any,
    horizon_months: int = 12,
    *,
    by: Any = "size_band",
    purchase_model: str = "bgnbd",
    acquisition_months: int = 12,
    new_customers: bool = True,
    history_months: int = HISTORY_MONTHS,
    actuals_through: Any = None,
    max_simulated: int = 10_000,
    seed: int = 0,
) -> BacktestResult:
    """The forecast made at a past ``cutoff``, compared month by month with what happened.

    Parameters
    ----------
    store : crm_analytics.Store
    cutoff : date-like
        The last day of a month; the forecast uses data up to it only.
    horizon_months : int, default 12
        Months compared. Months that end after the last transaction in the
        store are left out (noted); none left is an error.
    by, purchase_model, acquisition_months, new_customers, max_simulated, seed
        As in :func:`~crm_analytics.clv.forecast`.
    history_months : int, default 36
        Months before the cutoff the baselines are fitted on, at most.
    actuals_through : date-like, optional
        Last day of actual revenue used (a nightly run passes its as_of, so
        nothing later is read); default the day of the last transaction.

    Returns
    -------
    BacktestResult
        ``summary()`` prints WAPE of our forecast and the baselines side by
        side, per segment.

    Raises
    ------
    InputError
        ``cutoff`` not a month end, or no complete month after it in the
        data; the errors of :func:`~crm_analytics.clv.forecast`.

    Examples
    --------
    >>> from crm_analytics.store import Store
    >>> from crm_analytics.datasets.synthetic import generate
    >>> store = Store(":memory:")
    >>> _ = store.load_all(generate(n_customers=300, seed=3).tables())
    >>> bt = forecast_backtest(store, "2024-06-30", 3, by=None, max_simulated=200)
    >>> bt.wape_table().round(2)  # 300 customers: a rough month-by-month forecast
    method         btyd  seasonal_naive  ets  naive
    segment
    all customers  0.37            0.45  0.4   0.54
    """
    cut = to_date(cutoff, "cutoff")
    horizon = int(check_number("forecast_backtest", "horizon_months", horizon_months,
                               integer=True, low=1, high=MAX_HORIZON_MONTHS))
    history_months = int(check_number("forecast_backtest", "history_months", history_months,
                                      integer=True, low=2, high=240))
    if (cut + dt.timedelta(days=1)).day != 1:
        last = (pd.Timestamp(cut).to_period("M") - 1).end_time.date()
        raise InputError(f"cutoff {cut} is not the last day of a month; the back-test compares "
                         f"whole months (use e.g. {last})")
    bounds = store.sql("SELECT min(transaction_date) AS first, max(transaction_date) AS last "
                       "FROM transactions") if store.has_table("transactions") else pd.DataFrame()
    if bounds.empty or pd.isna(bounds["last"].iloc[0]):
        raise InputError("no transactions in the store: nothing to back-test")
    data_end = pd.Timestamp(bounds["last"].iloc[0]).date()
    if actuals_through is not None:
        data_end = min(data_end, to_date(actuals_through, "actuals_through"))
    data_start = pd.Timestamp(bounds["first"].iloc[0]).date()
    periods = month_periods(cut, horizon)
    notes: list[str] = []
    complete = periods[periods["period_end"] <= data_end]
    if complete.empty:
        raise InputError(
            f"no complete month after cutoff {cut}: the transactions end on {data_end}; choose a "
            f"cutoff at least a month before that")
    if len(complete) < len(periods):
        notes.append(f"{len(periods) - len(complete)} month(s) after {data_end} (the last "
                     f"transaction) left out: {len(complete)} compared")
    base = _prepare(store, cut, periods, by, None, None, purchase_model,
                    int(acquisition_months), bool(new_customers))
    table, _ = _run(base, int(seed), int(max_simulated))
    notes += base.notes
    months = complete["month"].tolist()
    actual = _monthly_by_segment(store, periods["period_start"].iloc[0], data_end, base, by, months)
    first_month = max(pd.Timestamp(data_start).to_period("M"),
                      pd.Timestamp(cut).to_period("M") - (history_months - 1))
    if pd.Timestamp(data_start).day != 1 and pd.Timestamp(data_start).to_period("M") == first_month:
        first_month += 1  # a partial first month would look like a slump
    hist_months = [str(p) for p in pd.period_range(first_month, pd.Timestamp(cut).to_period("M"))]
    history = _monthly_by_segment(store, first_month.start_time.date(), cut, base, by, hist_months) \
        if hist_months else pd.DataFrame()
    segments = [s for s in table["segment"].unique()]
    rows, metric_rows = [], []
    for segment in segments:
        ours = table[(table["segment"] == segment) & (table["component"] == "total")]
        ours = ours.set_index("month").reindex(months)
        if segment == TOTAL_SEGMENT:
            got = actual.sum(axis=0).to_numpy(dtype=float)
            past = history.sum(axis=0).to_numpy(dtype=float) if len(history) else np.zeros(0)
        else:
            got = actual.loc[segment].to_numpy(dtype=float) if segment in actual.index \
                else np.zeros(len(months))
            past = history.loc[segment].to_numpy(dtype=float) if segment in history.index \
                else np.zeros(0)
        methods = {"btyd": {
            "forecast": ours["expected_revenue"].to_numpy(dtype=float),
            **{f"{b}{t}": ours[f"revenue_{b}{t}"].to_numpy(dtype=float)
               for b in ("lo", "hi") for t in ("80", "95")}}}
        for name in BASELINES:
            if past.size and not np.any(past):
                notes.append(f"{segment}: {name} not fitted: no revenue before the cutoff")
                continue
            try:
                methods[name] = _BASELINE_FUNCS[name](past, horizon)
            except (ValueError, np.linalg.LinAlgError) as exc:
                notes.append(f"{segment}: {name} not fitted: {exc}")
                continue
            methods[name] = {k: v[:len(months)] for k, v in methods[name].items()}
        for name, fc in methods.items():
            for i, month in enumerate(months):
                rows.append({"segment": segment, "month": month, "method": name,
                             "forecast": fc["forecast"][i], "actual": got[i],
                             **{k: fc[k][i] for k in ("lo80", "hi80", "lo95", "hi95")}})
            metric_rows.append({"segment": segment, "method": name, **_metrics(got, fc)})
    metrics = pd.DataFrame(metric_rows)
    lowest = metrics.groupby("segment")["wape"].transform("min")
    metrics["best"] = metrics["wape"].eq(lowest) & metrics["wape"].notna()
    history_long = history.reset_index().melt(id_vars="segment", var_name="month",
                                              value_name="revenue") if len(history) else \
        pd.DataFrame(columns=["segment", "month", "revenue"])
    return BacktestResult(pd.DataFrame(rows), metrics, history_long, cut.isoformat(),
                          by if isinstance(by, str) or by is None else "labels", notes)
