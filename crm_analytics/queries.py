"""SQL kept as files: one query per ``.sql`` file, loaded by name.

Each file starts with a header comment naming its bound parameters and its
output columns (see ``crm_analytics/sql/`` and the ``sql/`` folders of the
subpackages). Queries are run through :meth:`crm_analytics.Store.sql` with bound
parameters, never formatted with user input.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_query(name: str) -> str:
    """Return the text of ``crm_analytics/<name>`` (e.g. ``'clv/sql/rfm_summary.sql'``).

    Examples
    --------
    >>> "SELECT" in load_query("sql/table_counts.sql")
    True
    """
    path = resources.files("crm_analytics").joinpath(name)
    if not path.is_file():
        raise FileNotFoundError(f"no query file crm_analytics/{name}")
    return path.read_text(encoding="utf-8")
