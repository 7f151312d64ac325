"""Shared stores for the satisfaction tests: a hand-made fixture and a synthetic one."""

from __future__ import annotations

import pytest

from crm_analytics.datasets import synthetic
from crm_analytics.satisfaction._demo import demo_store
from crm_analytics.store import Store
from tests.helpers import load_store
from tests.helpers import synthetic_data as generate_once


@pytest.fixture(scope="session")
def demo() -> Store:
    """The docstring examples' three-customer store; tests only read it."""
    return demo_store()


@pytest.fixture(scope="session")
def synthetic_data() -> synthetic.SyntheticData:
    # 10,000 customers: ~2,500 ECSI respondents, ~5,000 CSAT and ~6,500 NPS answers.
    return generate_once(10_000, 7)


@pytest.fixture(scope="session")
def synthetic_store(synthetic_data) -> Store:
    tables = synthetic_data.tables()
    tables.pop("transactions")  # satisfaction never reads them
    return load_store(tables)
