"""Shared fixtures of the CLV tests: CDNOW loaded through the Store, a hand-made toy log."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_analytics.clv import rfm_summary
from crm_analytics.store import Store
from tests.clv.clv_testdata import AS_OF, CALIBRATION_END, TOY_TRANSACTIONS, cdnow_raw


@pytest.fixture(scope="session")
def cdnow_store():
    raw = cdnow_raw()
    tx = raw.drop(columns="master_id")
    tx.insert(0, "transaction_id", [f"T{i:05d}" for i in range(len(tx))])
    with Store(":memory:") as store:
        report = store.load("transactions", tx, unknown_customers="create")
        assert report.rows_loaded == len(raw) == 6919
        yield store


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_store) -> pd.DataFrame:
    return rfm_summary(cdnow_store, AS_OF, time_unit="W", calibration_end=CALIBRATION_END)


@pytest.fixture
def toy_store():
    tx = pd.DataFrame(TOY_TRANSACTIONS, columns=["transaction_id", "customer_id", "transaction_date",
                                                 "amount"])
    with Store(":memory:") as store:
        store.load("transactions", tx, unknown_customers="create")
        yield store
