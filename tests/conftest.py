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


#: Test files that take minutes (a Spark session each), started first: with
#: ``--dist loadfile`` a long file collected last would leave one worker running alone.
LONG_FILES = ("test_spark_full_run.py", "test_spark_run.py", "test_spark_equality.py",
              "test_notebooks.py", "test_spark_scoring.py")


def pytest_collection_modifyitems(config, items):
    """Collect the long files first (order otherwise unchanged)."""
    def rank(item):
        name = os.path.basename(str(item.fspath))
        return LONG_FILES.index(name) if name in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)
