"""Helpers shared by the tests of every layer (fixtures that use them live in conftest.py)."""

from __future__ import annotations

import functools

import pandas as pd

from crm_analytics.datasets import synthetic
from crm_analytics.store import Store


def load_store(tables: dict[str, pd.DataFrame], path: str = ":memory:") -> Store:
    """A store holding ``tables`` (contract names, loaded customers first)."""
    store = Store(path)
    store.load_all(tables)
    return store


@functools.cache
def synthetic_data(n_customers: int, seed: int, **kwargs: object) -> synthetic.SyntheticData:
    """``synthetic.generate`` once per distinct arguments in a test session (treat as read-only)."""
    return synthetic.generate(n_customers=n_customers, seed=seed, **kwargs)
