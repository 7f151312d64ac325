"""The naive baseline and metrics by hand; the figures (tests inspect the traces)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from crm_analytics.clv import (
    CLVModel,
    naive_baseline,
    plot_calibration_vs_holdout,
    plot_cumulative_transactions,
    plot_expected_purchases_matrix,
    plot_probability_alive_matrix,
)
from tests.clv.clv_testdata import AS_OF, CALIBRATION_END

HAND = pd.DataFrame(
    {
        "frequency": [2.0, 0.0, 1.0, 3.0],
        "recency": [8.0, 0.0, 2.0, 3.5],
        "T": [10.0, 10.0, 6.0, 4.0],
        "monetary_value": [10.0, 0.0, 20.0, 5.0],
        "frequency_holdout": [1.0, 0.0, 2.0, 0.0],
        "monetary_value_holdout": [12.0, 0.0, 30.0, 0.0],
        "duration_holdout": [5.0] * 4,
    },
    index=pd.Index(["c1", "c2", "c3", "c4"], name="customer_id"),
)
PARAMS = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "v": 15.0}


def test_naive_baseline_by_hand():
    baseline, info = naive_baseline(HAND)
    # Customers already there 5 weeks before the calibration end: c1, c2, c3 (T >= 5).
    # Of those, c1 (last purchase 2 weeks before the end) and c3 (4 weeks) bought in
    # the last 5 weeks: R = 2/3.
    assert info["retention"] == pytest.approx(2 / 3)
    np.testing.assert_allclose(baseline, np.array([2 / 10, 0.0, 1 / 6, 3 / 4]) * 5 * 2 / 3)


def test_metrics_by_hand():
    model = CLVModel.from_params(PARAMS)
    result = model.evaluate(HAND)
    pc = result.per_customer
    actual = HAND["frequency_holdout"].to_numpy()
    predicted = model.expected_purchases(HAND, horizon_days=35).to_numpy()
    np.testing.assert_allclose(pc["model"], predicted, rtol=1e-12)
    m = result.metrics.loc["model"]
    assert m["mae"] == pytest.approx(np.mean(np.abs(predicted - actual)))
    assert m["rmse"] == pytest.approx(math.sqrt(np.mean((predicted - actual) ** 2)))
    assert m["correlation"] == pytest.approx(np.corrcoef(predicted, actual)[0, 1])
    assert m["actual_total"] == 3 and m["predicted_total"] == pytest.approx(predicted.sum())
    # Top decile of 4 customers = 1 customer. The baseline ranks c4 first by value
    # (2.5 purchases x 5), who spent nothing in the holdout: share 0 of 72.
    b = result.metrics.loc["baseline"]
    assert b["top_decile_revenue_share"] == 0.0
    top = pc["model_value"].idxmax()
    assert m["top_decile_revenue_share"] == pytest.approx(pc.loc[top, "actual_revenue"] / 72.0)
    assert result.conditional.loc["0", "n_customers"] == 1
    assert "EvaluationResult(BG/NBD + Gamma-Gamma, 4 customers" in repr(result)


@pytest.fixture(scope="module")
def fitted(cdnow_summary) -> CLVModel:
    return CLVModel().fit(cdnow_summary)


def test_matrix_figures(fitted):
    fig = plot_expected_purchases_matrix(fitted, horizon_days=52 * 7, max_frequency=10, max_recency=39)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    heat = fig.data[0]
    assert heat.type == "heatmap"
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (len(heat.y), len(heat.x)) == (11, 40)
    assert np.isnan(z[0, 1:]).all()          # frequency 0 with recency > 0 cannot happen
    assert (np.diff(z[1:, -1]) > 0).all()     # at recency = T, more purchases -> more expected
    assert "Expected purchases" in fig.layout.title.text
    alive = plot_probability_alive_matrix(fitted, max_frequency=10, max_recency=39)
    pz = np.asarray(alive.data[0].z, dtype=float)
    assert np.nanmin(pz) >= 0 and np.nanmax(pz) <= 1
    # Bought at the very end: alive unless they dropped out right after, 1 / (1 + a / (b + x - 1)).
    a, b = fitted.params_["a"], fitted.params_["b"]
    np.testing.assert_allclose(pz[1:, -1], 1 / (1 + a / (b + np.arange(1, 11) - 1)), rtol=1e-9)
    assert pz[10, 0] < 0.05                   # ten purchases, then silence for 39 weeks
    defaults = fitted.plot_probability_alive_matrix()
    assert len(defaults.data[0].x) <= 120


def test_calibration_vs_holdout_figure(fitted, cdnow_summary):
    result = fitted.evaluate(cdnow_summary)
    fig = result.plot_calibration_vs_holdout()
    assert [t.name for t in fig.data] == ["actual", "model", "baseline"]
    assert list(fig.data[0].x) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    np.testing.assert_allclose(fig.data[1].y, result.conditional["model"])
    assert plot_calibration_vs_holdout(result).to_dict() == fig.to_dict()


def test_cumulative_transactions_figure(fitted, cdnow_store, cdnow_summary):
    fig = plot_cumulative_transactions(fitted, cdnow_store, AS_OF)
    assert [t.name for t in fig.data] == ["actual", "model"]
    actual, model = (np.asarray(t.y, dtype=float) for t in fig.data)
    days = pd.to_datetime(fig.data[0].x)
    assert days[0] == pd.Timestamp("1997-01-01") and days[-1] == pd.Timestamp(AS_OF)
    # Actual, counted in SQL: every repeat occasion of the cohort up to as_of.
    assert actual[-1] == cdnow_summary["frequency"].sum() + cdnow_summary["frequency_holdout"].sum()
    assert (np.diff(model) >= 0).all()
    # Tracking: the model is within 5 % of the actual count at the calibration end.
    at_end = days.get_loc(pd.Timestamp(CALIBRATION_END))
    assert model[at_end] == pytest.approx(actual[at_end], rel=0.05)
    assert fig.layout.shapes and fitted.plot_cumulative_transactions(cdnow_store, AS_OF).data
