"""crm_analytics — customer analytics on a DuckDB store.

The layers, bottom to top (each imports only from the ones below it; a test
checks this): ``errors`` and ``core`` → ``store`` → the domain packages
``clv``, ``satisfaction``, ``subscriptions``, ``churn``, ``segmentation`` (and the test-data
``datasets``) → ``scoring`` → the applications ``exports``, ``dashboards``,
``customers`` (the single customer view), ``demo``, ``web`` (the read-only app), ``cli``.

>>> import crm_analytics as crm
>>> store = crm.Store(":memory:")
>>> crm.clv.rfm_summary.__name__
'rfm_summary'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crm_analytics.errors import CRMError, InputError
from crm_analytics.store import LoadReport, Store

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from crm_analytics import (
        campaigns,
        churn,
        clv,
        datasets,
        satisfaction,
        scoring,
        segmentation,
        subscriptions,
    )
    from crm_analytics.campaigns import campaign_results
    from crm_analytics.customers import customer_view, find_customers
    from crm_analytics.exports import export_segment
    from crm_analytics.scoring import run_batch
    from crm_analytics.store import default_as_of
    from crm_analytics.store.results import latest_scores, run_results, runs

# Subpackages and heavier entry points are imported on first use, so
# `import crm_analytics` (and every CLI call) stays fast.
_SUBPACKAGES = ("campaigns", "churn", "clv", "datasets", "satisfaction", "scoring", "segmentation", "store",
                "subscriptions")
_LAZY = {
    "campaign_results": "crm_analytics.campaigns",
    "customer_view": "crm_analytics.customers",
    "default_as_of": "crm_analytics.store",
    "export_segment": "crm_analytics.exports",
    "find_customers": "crm_analytics.customers",
    "latest_scores": "crm_analytics.store.results",
    "run_batch": "crm_analytics.scoring",
    "run_results": "crm_analytics.store.results",
    "runs": "crm_analytics.store.results",
}


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        value = importlib.import_module(f"crm_analytics.{name}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'crm_analytics' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBPACKAGES) | set(_LAZY))


__all__ = [
    "CRMError", "InputError", "LoadReport", "Store", "__version__", "campaign_results", "campaigns",
    "churn", "clv", "customer_view",
    "datasets", "default_as_of", "export_segment", "find_customers", "latest_scores", "run_batch",
    "run_results", "runs", "satisfaction", "scoring", "segmentation", "subscriptions",
]
