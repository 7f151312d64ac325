"""Fixtures shared by every test folder; helpers are in tests/helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import load_store


@pytest.fixture(scope="session")
def make_store():
    """``make_store(tables)``: a fresh in-memory store holding those tables."""
    return load_store
