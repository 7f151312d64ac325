"""RunResult.summary(): what an analyst reads first after a run."""

from __future__ import annotations

import datetime as dt

from crm_analytics.core.summary import Summary
from crm_analytics.scoring.run import RunResult

BACKTEST = {
    "model": {"roc_auc": 0.80, "pr_auc": 0.7, "brier": 0.15},
    "recency_rule": {"roc_auc": 0.70, "pr_auc": 0.6, "brier": 0.2},
    "logistic": {"roc_auc": 0.78, "pr_auc": 0.68, "brier": 0.16},
    "bgnbd": {"roc_auc": 0.77, "pr_auc": 0.67, "brier": 0.17},
}


def _result() -> RunResult:
    return RunResult(
        run_id="r1", as_of=dt.date(2025, 12, 30), status="succeeded", customers=1234,
        seconds=12.5, step_seconds={"inputs": 0.1, "churn": 10.0},
        metrics={
            "churn_backtest": BACKTEST,
            "churn_population": {"active_days": 180, "horizon_days": 90,
                                 "how": "auto: 4 x the median gap", "horizon_how": "config"},
            "churn_risk_bands": {"medium_from": 0.3, "high_from": 0.65, "base_rate": 0.3,
                                 "rule": "base rate", "high_share": 0.12},
            "churn_scorer": {"scorer": "model", "why": "beats the best baseline", "margin": 0.005},
            "clv": {"params": {"r": 0.7, "alpha": 4.0, "a": 0.7, "b": 1.9}},
        },
        notes=["a note"], skipped={"satisfaction.nps": "no survey data"},
    )


def test_summary_holds_the_backtest_baselines_and_the_run_facts():
    summary = _result().summary()
    assert isinstance(summary, Summary)
    table = summary.to_frame()
    assert list(table.index) == ["churn model", "no purchase in N days", "logistic regression",
                                 "BG/NBD"]
    assert list(table.columns) == ["roc_auc", "pr_auc", "brier"]
    assert table.loc["logistic regression", "roc_auc"] == 0.78
    facts = dict(summary.facts)
    assert facts["customers scored"] == "1,234"
    assert facts["churn grade"].startswith("A")
    assert "180 days" in facts["churn population"] and "auto" in facts["churn population"]
    assert "high from 0.65" in facts["risk bands"] and "12.0% high" in facts["risk bands"]
    assert facts["churn scored with"].startswith("churn model")
    text = str(summary)
    assert "skipped satisfaction.nps: no survey data" in text and "a note" in text
    assert "CLV model parameters" in text and "alpha" in text


def test_summary_of_a_run_without_churn():
    result = _result()
    result.metrics = {}
    summary = result.summary()
    assert summary.to_frame().empty
    assert dict(summary.facts)["customers scored"] == "1,234"
