"""rfm_summary groups on the integer customer_key: its output equals a pandas computation
of the documented definition on a synthetic store whose keys are not in customer_id order
(customers created by later loads, transactions moved between customers by an upsert)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm_analytics.clv import DAYS_PER_UNIT, rfm_summary
from crm_analytics.store import Store
from tests.helpers import synthetic_data


@pytest.fixture(scope="module")
def store():
    data = synthetic_data(400, 11, dirty_fraction=0.05)
    with Store(":memory:") as s:
        s.load_all(data.tables())
        tx = s.sql("SELECT * EXCLUDE (customer_key) FROM transactions")
        # New customers whose ids sort first get the highest keys.
        extra = tx.sample(120, random_state=1).assign(
            transaction_id=lambda f: "X" + f["transaction_id"],
            customer_id=[f"A{i % 9}" for i in range(120)])
        assert s.load("transactions", extra, unknown_customers="create").customers_created == 9
        moved = tx.sample(60, random_state=2).assign(customer_id=[f"A{i % 4}" for i in range(60)])
        assert s.load("transactions", moved, mode="upsert").rows_updated == 60
        keys = s.sql("SELECT customer_id FROM customers ORDER BY customer_key")["customer_id"]
        assert keys.tolist() != sorted(keys)
        yield s


def _by_hand(store: Store, as_of: dt.date, calibration_end: dt.date, unit: str) -> pd.DataFrame:
    """The purchase-occasion definition of clv/sql/rfm_summary.sql, in pandas."""
    tx = store.sql("SELECT customer_id, transaction_date, CAST(amount AS DOUBLE) AS amount "
                   "FROM transactions")
    tx = tx[tx["transaction_date"] < pd.Timestamp(as_of + dt.timedelta(days=1))]
    tx = tx.assign(day=tx["transaction_date"].dt.normalize())
    days = tx.groupby(["customer_id", "day"])["amount"].agg(["sum", "max"]).reset_index()
    days = days[days["max"] >= 0].rename(columns={"sum": "amount"})
    end = pd.Timestamp(calibration_end)
    per = days.sort_values("day").groupby("customer_id")
    first_day, first_amount = per["day"].first(), per["amount"].first()
    cal = days[days["day"] <= end].groupby("customer_id")
    hold = days[days["day"] > end].groupby("customer_id")["amount"]
    n = cal.size().reindex(first_day.index, fill_value=0)
    width = DAYS_PER_UNIT[unit]
    out = pd.DataFrame({
        "frequency": (n - 1).astype(float),
        "recency": (cal["day"].max() - first_day).dt.days / width,
        "T": (end - first_day).dt.days / width,
        "monetary_value": np.where(
            n > 1, (cal["amount"].sum() - first_amount) / (n - 1).where(n > 1), 0.0),
        "frequency_holdout": hold.size().reindex(first_day.index, fill_value=0).astype(float),
        "monetary_value_holdout": hold.mean().reindex(first_day.index).fillna(0.0),
        "duration_holdout": (as_of - calibration_end).days / width,
    })
    out = out[first_day <= end].sort_index()
    out.index = out.index.astype(str)
    out.index.name = "customer_id"
    return out


@pytest.mark.parametrize(("calibration_end", "unit"), [
    (None, "W"), (dt.date(2025, 6, 30), "D"), (dt.date(2024, 12, 31), "M")])
def test_rfm_summary_equals_pandas_on_a_synthetic_store(store, calibration_end, unit):
    as_of = dt.date(2025, 9, 30)
    got = rfm_summary(store, as_of, time_unit=unit, calibration_end=calibration_end)
    expected = _by_hand(store, as_of, calibration_end or as_of, unit)[got.columns]
    assert len(got) > 300
    assert got.index.tolist() == expected.index.tolist()
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=1e-9,
                                  check_dtype=False)
