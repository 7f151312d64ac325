"""Shared synthetic data for the segmentation tests (generated once per session, fixed seed)."""

from __future__ import annotations

import pytest

from tests.helpers import load_store
from tests.helpers import synthetic_data as generate_once

AS_OF = "2025-05-31"
MONTH_LATER = "2025-06-30"


@pytest.fixture(scope="session")
def synth():
    """3000 customers with planted needs groups, loaded into an in-memory store."""
    data = generate_once(3000, 7)
    store = load_store(data.tables())
    yield data, store
    store.close()
