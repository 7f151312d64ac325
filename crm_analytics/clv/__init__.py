"""Customer lifetime value and revenue potential.

* :func:`rfm_summary` -- frequency, recency, T and monetary value per customer,
  computed in DuckDB (``clv/sql/rfm_summary.sql``), optionally with a holdout.
* :class:`CLVModel` -- BG/NBD, Pareto/NBD or MBG/NBD with Gamma-Gamma spend:
  ``fit``, ``expected_purchases``, ``probability_alive``, ``expected_spend``,
  ``clv``, ``evaluate``, ``summary``, ``save`` / ``load``, ``plot_*``.
* :func:`revenue_potential` -- CLV, growth and peer headroom combined into a
  numeric potential and an A/B/C/D code.
* :func:`forecast` -- revenue by segment and month with prediction intervals
  (existing and new customers); :func:`forecast_backtest` -- the same at a past
  cutoff against what happened and against time-series baselines.
* :mod:`crm_analytics.clv.plotting` -- the figures.

The BTYD likelihoods and equations are those of lifetimes (archived), used
behind this interface only; nothing returned here is a lifetimes object.

Examples
--------
>>> import pandas as pd
>>> from crm_analytics.store import Store
>>> from crm_analytics import clv
>>> store = Store(":memory:")
>>> tx = pd.DataFrame({"transaction_id": ["1", "2", "3", "4"], "customer_id": ["A", "A", "B", "C"],
...                    "transaction_date": ["2024-01-01", "2024-02-01", "2024-01-10", "2024-02-20"],
...                    "amount": [30.0, 50.0, 20.0, 10.0]})
>>> _ = store.load("transactions", tx, unknown_customers="create")
>>> summary = clv.rfm_summary(store, "2024-03-31")
>>> model = clv.CLVModel.from_params({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43,
...                                   "p": 6.25, "q": 3.74, "v": 15.4})
>>> model.probability_alive(summary).round(3).tolist()
[0.573, 1.0, 1.0]
"""

from __future__ import annotations

from crm_analytics.clv import plotting
from crm_analytics.clv.backtest import BacktestResult, forecast_backtest
from crm_analytics.clv.evaluation import EvaluationResult, evaluate_clv_model, naive_baseline
from crm_analytics.clv.model import MODEL_FILE_FORMAT, MODEL_FILE_VERSION, CLVModel
from crm_analytics.clv.plotting import (
    plot_calibration_vs_holdout,
    plot_cumulative_transactions,
    plot_expected_purchases_matrix,
    plot_probability_alive_matrix,
)
from crm_analytics.clv.potential import (
    LARGE_EMPLOYEES,
    LARGE_REVENUE,
    MIN_PEERS,
    POTENTIAL_CODES,
    revenue_potential,
    size_band,
)
from crm_analytics.clv.revenue_forecast import forecast, plot_forecast_fan, weekly_repeat_purchases
from crm_analytics.clv.summary import DAYS_PER_UNIT, HOLDOUT_COLUMNS, SUMMARY_COLUMNS, rfm_summary
from crm_analytics.core.summary import Summary

__all__ = [
    "DAYS_PER_UNIT",
    "HOLDOUT_COLUMNS",
    "LARGE_EMPLOYEES",
    "LARGE_REVENUE",
    "MIN_PEERS",
    "MODEL_FILE_FORMAT",
    "MODEL_FILE_VERSION",
    "POTENTIAL_CODES",
    "SUMMARY_COLUMNS",
    "BacktestResult",
    "CLVModel",
    "EvaluationResult",
    "Summary",
    "evaluate_clv_model",
    "forecast",
    "forecast_backtest",
    "naive_baseline",
    "plot_calibration_vs_holdout",
    "plot_cumulative_transactions",
    "plot_expected_purchases_matrix",
    "plot_forecast_fan",
    "plot_probability_alive_matrix",
    "plotting",
    "revenue_potential",
    "rfm_summary",
    "size_band",
    "weekly_repeat_purchases",
]
