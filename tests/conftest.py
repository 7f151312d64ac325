"""Fixtures shared by every test folder; helpers are in tests/helpers.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.helpers import load_store


@pytest.fixture(scope="session")
def make_store():
    """``make_store(tables)``: a fresh in-memory store holding those tables."""
    return load_store


# CI explores the same examples every run (no flaky failures from a new random
# example); a developer's run explores new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
