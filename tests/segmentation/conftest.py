"""Shared synthetic data for the segmentation tests (generated once per session, fixed seed)."""

from __future__ import annotations

import pytest

from crm_analytics.datasets import synthetic
from crm_analytics.store import Store

AS_OF = "2025-05-31"
MONTH_LATER = "2025-06-30"


@pytest.fixture(scope="session")
def synth():
    """3000 customers with planted needs groups, loaded into an in-memory store."""
    data = synthetic.generate(n_customers=3000, seed=7)
    store = Store(":memory:")
    store.load_all(data.tables())
    yield data, store
    store.close()
