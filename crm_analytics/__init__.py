"""crm_analytics — customer analytics on a DuckDB store.

>>> import crm_analytics as crm
>>> store = crm.Store(":memory:")
"""

from __future__ import annotations

from crm_analytics.errors import CRMError, InputError
from crm_analytics.exports import export_segment
from crm_analytics.loading import LoadReport
from crm_analytics.pipeline import latest_scores, run_batch, run_results, runs
from crm_analytics.store import Store

__version__ = "0.1.0"

__all__ = [
    "CRMError", "InputError", "LoadReport", "Store", "__version__", "export_segment", "latest_scores",
    "run_batch", "run_results", "runs",
]
