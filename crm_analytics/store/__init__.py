"""The data layer: the DuckDB store, the data contract, loading and cleansing, SQL files.

Layer 1 of the package (see the README's *Architecture*): it depends only on
:mod:`crm_analytics.core` and :mod:`crm_analytics.errors`; everything else
reads and writes data through it.

* :class:`Store` -- the DuckDB file (or ``:memory:``), loading, quarantine, reading;
* :mod:`~crm_analytics.store.schema` -- every table definition: the data contract,
  the system tables and the result tables;
* :mod:`~crm_analytics.store.score_columns` -- the registry of score columns;
* :mod:`~crm_analytics.store.attributes` -- size band and firmographics shared by all modules;
* :mod:`~crm_analytics.store.asof` -- the default ``as_of``;
* :mod:`~crm_analytics.store.results` -- reading runs, latest scores and result tables;
* :mod:`~crm_analytics.store.queries` -- the ``.sql`` files.

>>> from crm_analytics.store import Store
>>> Store(":memory:").path
':memory:'
"""

from crm_analytics.store.asof import default_as_of, resolve_as_of
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS, SizeThresholds, customer_attributes, size_band
from crm_analytics.store.loading import LoadReport
from crm_analytics.store.queries import load_query
from crm_analytics.store.store import DEFAULT_PATH, ENV_PATH, Store, default_path

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_THRESHOLDS",
    "ENV_PATH",
    "LoadReport",
    "SizeThresholds",
    "Store",
    "customer_attributes",
    "default_as_of",
    "default_path",
    "load_query",
    "resolve_as_of",
    "size_band",
]
