"""ChurnModel: estimator contract, time-respecting fit/evaluate, scores and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from crm_analytics import churn
from crm_analytics.churn.evaluation import METRIC_COLUMNS
from crm_analytics.core.summary import Summary
from crm_analytics.errors import InputError


def _table(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "tenure": rng.integers(1, 72, n),
        "monthly_charges": rng.normal(70, 20, n).round(2).astype(str),
        "contract": rng.choice(["monthly", "yearly", "two-year"], n),
        "paperless": rng.random(n) < 0.5,
    })
    X.loc[::50, "monthly_charges"] = " "  # blanks in a number column, as in real exports
    logit = -1 + 1.5 * (X["contract"] == "monthly") - 0.03 * X["tenure"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_init_stores_arguments_only_and_clones():
    model = churn.ChurnModel(horizon_days=30, calibration="sigmoid", cutoffs=["2024-01-31"])
    assert model.get_params()["horizon_days"] == 30
    assert not hasattr(model, "estimator_")
    assert clone(model).get_params() == model.get_params()
    # Bad values wait for fit, with scikit-learn's message shape.
    bad = churn.ChurnModel(horizon_days=0)
    X, y = _table()
    with pytest.raises(InputError, match=r"The 'horizon_days' parameter of ChurnModel must be an "
                                          r"int in the range \[1, inf\)\. Got 0 instead\."):
        bad.fit(X, y)


@pytest.mark.parametrize("params, name", [
    ({"calibration": "beta"}, "calibration"),
    ({"risk_thresholds": (0.5, 0.2)}, "risk_thresholds"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"max_leaf_nodes": 1}, "max_leaf_nodes"),
    ({"clv": "yes"}, "clv"),
    ({"max_examples_per_cutoff": 0}, "max_examples_per_cutoff"),
])
def test_parameter_errors_name_the_parameter(params, name):
    X, y = _table()
    with pytest.raises(InputError, match=f"The '{name}' parameter of ChurnModel"):
        churn.ChurnModel(**params).fit(X, y)


def test_fit_on_a_plain_table_reads_numeric_text_and_is_deterministic():
    X, y = _table()
    model = churn.ChurnModel(max_iter=30).fit(X, y)
    assert model.fit(X, y) is model
    assert "monthly_charges" in model.numeric_features_  # ' ' read as missing
    assert set(model.categories_) == {"contract", "paperless"}
    p1 = model.predict_proba(X)[:, 1]
    p2 = churn.ChurnModel(max_iter=30).fit(X, y).predict_proba(X)[:, 1]
    np.testing.assert_array_equal(p1, p2)
    predicted = model.predict(X)
    assert isinstance(predicted, pd.Series) and predicted.index.equals(X.index)
    np.testing.assert_array_equal(predicted.to_numpy(), (p1 >= 0.5).astype(int))
    # Unseen categories are treated as missing, not an error.
    other = X.head(3).assign(contract="lifetime")
    assert model.predict_proba(other).shape == (3, 2)
    with pytest.raises(InputError, match="lacks feature column"):
        model.predict_proba(X.drop(columns="tenure"))
    reasons = model.explain(X.head(20))
    assert (reasons["reason_1"] != "").all()


def test_string_targets_work_like_scikit_learn():
    X, y = _table()
    labels = np.where(y == 1, "Yes", "No")
    model = churn.ChurnModel(max_iter=20).fit(X, labels)
    assert list(model.classes_) == ["No", "Yes"]
    predicted = model.predict(X)
    p = model.predict_proba(X)[:, 1]
    assert predicted.tolist() == np.where(p >= 0.5, "Yes", "No").tolist()


def test_fit_store_refuses_cutoffs_whose_labels_overlap_the_evaluation(small_store):
    model = churn.ChurnModel(max_iter=10)
    with pytest.raises(InputError, match="training cutoff 2025-06-30: its label window ends on "
                                         "2025-09-28, after evaluate_at 2025-08-31"):
        model.fit(small_store, cutoffs=["2025-03-31", "2025-06-30"], evaluate_at="2025-08-31")
    with pytest.raises(InputError, match="needs training cutoffs"):
        model.fit(small_store)
    with pytest.raises(InputError, match="do not pass y"):
        model.fit(small_store, [0, 1], cutoffs=["2025-03-31"])


def test_evaluate_refuses_a_cutoff_before_the_last_training_label(small_model, small_store):
    assert str(small_model.label_window_end_) == "2025-08-29"
    with pytest.raises(InputError, match="last training label window ends on 2025-08-29"):
        small_model.evaluate(small_store, "2025-08-28")


def test_fit_store_learns_the_schema(small_model):
    m = small_model
    assert m.mode_ == "store" and [str(c) for c in m.cutoffs_] == [
        "2025-03-31", "2025-04-30", "2025-05-31"]
    assert m.uses_clv_ and m.uses_satisfaction_
    assert list(m.feature_names_in_) == churn.feature_names(
        channels=m.channels_, clv=True, satisfaction=True)
    assert m.channels_ == ["online", "field_sales", "partner"]
    assert len(m.training_summary_) == 3
    assert 0 < m.base_rate_ < 1
    # Forward chaining: each calibration pair trains on earlier cutoffs only.
    assert len(m.estimator_.calibrated_classifiers_) == 2


def test_max_examples_per_cutoff_samples(small_store):
    model = churn.ChurnModel(max_iter=5, max_examples_per_cutoff=300).fit(
        small_store, cutoffs=["2025-03-31", "2025-04-30"])
    assert model.training_summary_["n_examples"].tolist() == [300, 300]


def test_predict_scores_bands_and_reasons(small_model, small_store):
    scores = churn.score(small_model, small_store, "2025-08-31")
    labels = churn.build_labels(small_store, "2025-08-31")
    assert scores.index.equals(labels.index)
    assert list(scores.columns) == [
        "churn_probability", "risk_band", "clv", "revenue_at_risk", "revenue_at_risk_basis",
        "reason_1", "reason_2", "reason_3"]
    p = scores["churn_probability"]
    assert p.between(0, 1).all()
    expected_band = np.where(p >= 0.5, "high", np.where(p >= 0.2, "medium", "low"))
    assert (scores["risk_band"].astype(str) == expected_band).all()
    assert (scores["revenue_at_risk_basis"] == "clv_365d").all()
    np.testing.assert_allclose(scores["revenue_at_risk"], p * scores["clv"])
    assert (scores["reason_1"] != "").all()


def test_score_refuses_a_table_model_and_predict_refuses_a_store(small_store, small_model):
    X, y = _table()
    model = churn.ChurnModel(max_iter=5).fit(X, y)
    with pytest.raises(InputError, match=r"churn\.score\(model, store, as_of\) needs a model "
                                         r"fitted on a store; this one was fitted on a plain table"):
        churn.score(model, small_store, "2025-08-31")
    for method in (small_model.predict, small_model.predict_proba, small_model.explain):
        with pytest.raises(InputError, match=r"takes a feature table; score the customers of a "
                                             r"store with churn\.score"):
            method(small_store)


def test_synthetic_reasons_for_every_high_risk_customer(synthetic_scores):
    high = synthetic_scores[synthetic_scores["risk_band"] == "high"]
    assert len(high) > 100
    assert (high["reason_1"].str.len() > 0).all()
    # The wording a salesperson reads, with the customer's own numbers.
    text = pd.concat([high[f"reason_{k}"] for k in (1, 2, 3)])
    assert text.str.match(r"no purchase for \d+ days( — \d+\.\d× the usual gap)?$").any()
    assert text.str.contains("the last 90 days|the last 365 days").any()
    assert not text.str.contains(r"\bnan\b").any()


def test_reasons_match_the_customer(synthetic_model, synthetic_store, synthetic_scores):
    X = churn.build_features(synthetic_store, "2025-09-30")
    recency = synthetic_scores["reason_1"].str.extract(r"^no purchase for (\d+) days")[0].dropna()
    assert len(recency) > 0
    np.testing.assert_array_equal(recency.astype(float), X.loc[recency.index, "recency_days"])
    reasons = pd.concat([synthetic_scores[f"reason_{k}"] for k in (1, 2, 3)])
    nps = reasons.str.extract(r"^NPS detractor \(score (\d+)\)")[0].dropna()
    assert len(nps) > 0
    np.testing.assert_array_equal(nps.astype(float), X.loc[nps.index, "latest_nps"])
    assert (nps.astype(int) <= 6).all()
    # Reasons only on the risky side: never a promoter's NPS, never zero breaches.
    assert not reasons.str.contains(r"NPS (?:score|passive \(score) (?:9|10)\b").any()
    assert not reasons.str.startswith("0 SLA").any()


def test_scores_are_reproducible(synthetic_model, synthetic_store, synthetic_scores):
    again = churn.score(synthetic_model, synthetic_store, "2025-09-30")
    pd.testing.assert_frame_equal(again, synthetic_scores)


def test_evaluation_result_object(synthetic_evaluation):
    ev = synthetic_evaluation
    assert list(ev.metrics.columns) == METRIC_COLUMNS
    assert list(ev.metrics.index) == ["model", "recency_rule", "logistic", "bgnbd"]
    assert ev.grade in {"A", "B", "C"}
    report = ev.summary()
    assert isinstance(report, Summary)
    text = str(report)
    assert "Churn model backtest" in text and "recency_rule = no purchase in N days" in text
    assert ("grade", ev.grade) in report.facts
    assert "<table" in ev.summary()._repr_html_() and "<table" in ev._repr_html_()
    pd.testing.assert_frame_equal(ev.summary().to_frame(), ev.metrics)
    table = ev.calibration["model"]
    assert len(table) == 10 and table["n"].sum() == ev.n_customers
    assert ev.feature_importance.index[0] in {"btyd_expected_purchases", "btyd_p_alive",
                                              "recency_days", "overdue_ratio"}
    for plot, n_traces in ((ev.plot_roc, 5), (ev.plot_precision_recall, 5),
                           (ev.plot_calibration, 5), (ev.plot_gains, 5)):
        fig = plot()
        assert len(fig.data) == n_traces
        assert fig.data[0].name.startswith("churn model")
    bars = ev.plot_feature_importance(top=10).data[0]
    assert len(bars.y) == 10 and bars.y[-1] == ev.feature_importance.index[0]
