"""CLVModel.fit(weights=...): fitting the distinct histories with their customer counts (what a
cluster engine ships to the driver) gives the parameters of the fit on every customer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.clv import CLVModel, rfm_summary
from crm_analytics.errors import InputError
from crm_analytics.store import Store
from tests.helpers import synthetic_data


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    data = synthetic_data(1500, 41)
    with Store(":memory:") as store:
        store.load("customers", data.customers)
        store.load("transactions", data.transactions)
        base = rfm_summary(store, "2025-12-31").iloc[:500]
    # Customers sharing histories, as a million do: each of 500 histories 1 - 6 times.
    times = np.random.default_rng(3).integers(1, 7, len(base))
    out = base.loc[base.index.repeat(times)].reset_index(drop=True)
    out.index = pd.Index([f"K{i:05d}" for i in range(len(out))], name="customer_id")
    return out


def _histories(summary: pd.DataFrame) -> pd.DataFrame:
    return (summary.groupby(["frequency", "recency", "T", "monetary_value"]).size()
            .rename("customers").reset_index())


@pytest.mark.parametrize("purchase_model", ["bgnbd", "pareto_nbd"])
def test_weighted_histories_give_the_per_customer_parameters(summary, purchase_model):
    histories = _histories(summary)
    assert len(histories) == 499 < len(summary) / 3  # two of the 500 share a history
    each = CLVModel(purchase_model=purchase_model).fit(summary)
    grouped = CLVModel(purchase_model=purchase_model).fit(histories, weights="customers")
    np.testing.assert_allclose(grouped.params_.to_numpy(), each.params_.to_numpy(), rtol=1e-6)
    assert grouped.n_customers_ == len(summary) == each.n_customers_
    assert grouped.n_spend_customers_ == each.n_spend_customers_
    # Predictions for a history are the same whichever way the model was fitted.
    probe = summary.iloc[:50]
    a, b = grouped.clv(probe, horizon_days=365), each.clv(probe, horizon_days=365)
    numeric = a.select_dtypes("number").columns
    assert "clv" in numeric
    np.testing.assert_allclose(a[numeric].to_numpy(), b[numeric].to_numpy(), rtol=1e-6)


def test_an_array_of_weights_equals_repeating_the_rows(summary):
    small = summary.iloc[:400]
    w = np.tile([1.0, 2.0, 3.0, 0.0], 100)
    repeated = small.loc[small.index.repeat(w.astype(int))]
    repeated = repeated.reset_index(drop=True)
    a = CLVModel().fit(small.reset_index(drop=True), weights=w)
    b = CLVModel().fit(repeated)
    np.testing.assert_allclose(a.params_.to_numpy(), b.params_.to_numpy(), rtol=1e-6)


N = 1737  # rows of the summary fixture (500 histories repeated 1 - 6 times; seeded)


@pytest.mark.parametrize(("weights", "message"), [
    ("nope", "not a column"),
    (np.ones(3), "3 values"),
    (-np.ones(N), ">= 0"),
    (np.full(N, np.nan), "finite"),
    (np.zeros(N), "sum to 0"),
    (["a"] * N, "numbers"),
])
def test_bad_weights_are_refused_with_one_line(summary, weights, message):
    assert len(summary) == N
    with pytest.raises(InputError, match=message) as info:
        CLVModel().fit(summary, weights=weights)
    assert "\n" not in str(info.value)
