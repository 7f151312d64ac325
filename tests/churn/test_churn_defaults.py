"""Honest defaults: activity window, baseline fallback, risk bands, reasons, RFM vs truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.churn.model import risk_thresholds_for
from crm_analytics.churn.reasons import explain
from crm_analytics.datasets import synthetic
from crm_analytics.scoring.models import choose_scorer
from crm_analytics.scoring.run import run_batch
from crm_analytics.store import Store

GENERIC = "no single risk factor stands out"


def test_auto_risk_bands_follow_the_base_rate():
    assert risk_thresholds_for("auto", 0.1) == (0.1, 0.55)
    assert risk_thresholds_for("auto", 0.6) == (0.6, 0.8)
    assert risk_thresholds_for((0.2, 0.5), 0.9) == (0.2, 0.5)


def test_scorer_falls_back_to_the_best_baseline():
    m = pd.DataFrame({"roc_auc": [0.744, 0.703, 0.744, 0.741]},
                     index=["model", "recency_rule", "logistic", "bgnbd"])
    name, why = choose_scorer(m, 0.005)
    assert name == "logistic" and "as good" in why and "logistic regression" in why
    m.loc["model", "roc_auc"] = 0.80
    assert choose_scorer(m, 0.005)[0] == "model"
    # A tie goes to the simpler baseline.
    m.loc["model", "roc_auc"] = 0.70
    m.loc["bgnbd", "roc_auc"] = 0.744
    assert choose_scorer(m, 0.005)[0] == "bgnbd"


def test_high_risk_customers_always_get_a_named_first_reason():
    X = pd.DataFrame({"recency_days": [10.0, 10.0, 10.0, 300.0],
                      "purchases_365d": [5.0, 5.0, 5.0, 1.0]})
    typical = {"recency_days": 10.0, "purchases_365d": 5.0}
    flat = lambda frame: np.full(len(frame), 0.9)  # noqa: E731 - nothing moves the probability
    out = explain(flat, X, X, np.full(4, 0.9), typical, horizon_days=90, high=0.8)
    assert not out["reason_1"].str.startswith(GENERIC).any()
    assert (out["reason_group_1"] == "recency").all()
    low = explain(flat, X, X, np.full(4, 0.3), typical, horizon_days=90, high=0.8)
    assert low["reason_1"].str.startswith(GENERIC).all()


@pytest.fixture(scope="module")
def demo():
    data = synthetic.generate(n_customers=5000, seed=0, dirty_fraction=0.02)
    store = Store(":memory:")
    store.load_all(data.tables())
    result = run_batch(store, config={"retrain": True}, progress=False)
    yield data, result, crm.latest_scores(store)
    store.close()


@pytest.mark.slow
def test_demo_defaults_high_risk_is_a_minority_and_explained(demo):
    _, result, scores = demo
    scored = scores[scores["churn_probability"].notna()]
    base = result.metrics["churn_base_rate"]
    high = scored["risk_band"] == "high"
    if base < 0.5:
        assert high.mean() < 0.5
    assert high.any()
    assert not scored.loc[high, "reason_1"].str.startswith(GENERIC).any()
    # Population and scorer are chosen and recorded.
    assert result.metrics["churn_population"]["how"].startswith("auto")
    assert result.metrics["churn_scorer"]["scorer"] in {"model", "recency_rule", "logistic",
                                                        "bgnbd"}
    text = str(result.summary())
    assert "churn population" in text and "risk bands" in text


@pytest.mark.slow
def test_demo_rfm_cells_agree_with_churn_and_the_truth(demo):
    data, result, scores = demo
    truth = data.truth.churn_probability(result.as_of, 90)
    s = scores.assign(true_churn=truth.reindex(scores.index))
    s = s[s["rfm_segment"] != "No purchases"]
    by = s.groupby("rfm_segment")[["true_churn", "churn_probability"]].mean()
    for good in ("Champions", "Loyal"):
        for bad in ("Hibernating", "Lost"):
            assert by.loc[good, "true_churn"] < by.loc[bad, "true_churn"] - 0.2
    # Among the churn-scored customers the model's segment means follow the truth's order.
    scored = by.dropna()
    assert len(scored) >= 6
    rho = scored["true_churn"].rank().corr(scored["churn_probability"].rank())
    assert rho > 0.8
    assert by.loc["Champions", "churn_probability"] < by.loc["Hibernating", "churn_probability"]
    assert by.loc["Loyal", "churn_probability"] < by.loc["Hibernating", "churn_probability"]


@pytest.mark.slow
def test_cdnow_default_job_model_beats_baselines_or_falls_back():
    from tests.churn.test_churn_backtests import _cdnow_store

    store = _cdnow_store()
    result = run_batch(store, config={"retrain": True}, progress=False)
    table = pd.DataFrame(result.metrics["churn_backtest"]).T
    auc = pd.to_numeric(table["roc_auc"])
    best = auc.drop("model").max()
    scorer = result.metrics["churn_scorer"]["scorer"]
    if scorer == "model":
        assert auc["model"] >= best + result.metrics["churn_scorer"]["margin"]
    else:
        assert auc[scorer] == best and scorer in str(result.metrics["churn_scorer"])
        assert any("as good" in n for n in result.notes)
    scores = crm.latest_scores(store)
    scored = scores[scores["churn_probability"].notna()]
    assert (scored["risk_band"] == "high").mean() < 0.5
    assert not scored.loc[scored["risk_band"] == "high", "reason_1"].str.startswith(GENERIC).any()
    store.close()
