"""crm_analytics — customer analytics on a DuckDB store."""

from __future__ import annotations

__version__ = "0.1.0"
