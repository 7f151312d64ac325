"""Shared stores and a fitted churn model for the churn tests."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_analytics import churn
from crm_analytics.datasets import synthetic
from crm_analytics.store import Store
from tests.helpers import load_store
from tests.helpers import synthetic_data as generate_once

#: Evaluation cutoff of the synthetic backtest: its label window (90 days) ends
#: 2025-12-29, inside the generator's window (which ends 2025-12-31).
SYNTHETIC_EVALUATE_AT = "2025-09-30"
SYNTHETIC_CUTOFFS = churn.training_cutoffs("2024-06-30", SYNTHETIC_EVALUATE_AT, horizon_days=90)


@pytest.fixture(scope="session")
def synthetic_data() -> synthetic.SyntheticData:
    # 20,000 customers give ~9,000 active customers per cutoff: enough for AUCs
    # stable to about +-0.01, and a fit of ~20 s.
    return generate_once(20_000, 7)


@pytest.fixture(scope="session")
def synthetic_store(synthetic_data) -> Store:
    return load_store(synthetic_data.tables())


@pytest.fixture(scope="session")
def synthetic_model(synthetic_store) -> churn.ChurnModel:
    """The default model trained on monthly cutoffs whose label windows end by the evaluation."""
    return churn.ChurnModel().fit(
        synthetic_store, cutoffs=SYNTHETIC_CUTOFFS, evaluate_at=SYNTHETIC_EVALUATE_AT
    )


@pytest.fixture(scope="session")
def synthetic_evaluation(synthetic_model, synthetic_store) -> churn.ChurnEvaluation:
    return synthetic_model.evaluate(synthetic_store, SYNTHETIC_EVALUATE_AT, n_repeats=2)


@pytest.fixture(scope="session")
def synthetic_scores(synthetic_model, synthetic_store) -> pd.DataFrame:
    return churn.score(synthetic_model, synthetic_store, SYNTHETIC_EVALUATE_AT)


@pytest.fixture(scope="session")
def small_data() -> synthetic.SyntheticData:
    return generate_once(3_000, 3)


@pytest.fixture(scope="session")
def small_store(small_data) -> Store:
    return load_store(small_data.tables())


@pytest.fixture(scope="session")
def small_model(small_store) -> churn.ChurnModel:
    """A quick model (few trees, three cutoffs) for contract tests."""
    return churn.ChurnModel(max_iter=20).fit(
        small_store, cutoffs=["2025-03-31", "2025-04-30", "2025-05-31"], evaluate_at="2025-08-31"
    )
