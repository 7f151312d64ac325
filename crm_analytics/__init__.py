"""crm_analytics — customer analytics on a DuckDB store.

>>> import crm_analytics as crm
>>> store = crm.Store(":memory:")
"""

from __future__ import annotations

import importlib
from typing import Any

from crm_analytics.errors import CRMError, InputError
from crm_analytics.loading import LoadReport
from crm_analytics.store import Store

__version__ = "0.1.0"

# Heavier entry points are imported on first use, so `import crm_analytics` (and
# every CLI call) stays fast.
_LAZY = {
    "export_segment": "crm_analytics.exports",
    "latest_scores": "crm_analytics.pipeline",
    "run_batch": "crm_analytics.pipeline",
    "run_results": "crm_analytics.pipeline",
    "runs": "crm_analytics.pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crm_analytics' has no attribute {name!r}")


__all__ = [
    "CRMError", "InputError", "LoadReport", "Store", "__version__", "export_segment", "latest_scores",
    "run_batch", "run_results", "runs",
]
