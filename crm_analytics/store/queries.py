"""SQL kept as files: one query per ``.sql`` file, loaded by name.

Each file starts with a header comment naming its bound parameters and its
output columns (see ``crm_analytics/sql/`` and the ``sql/`` folders of the
subpackages). Queries are run through :meth:`crm_analytics.Store.sql` with bound
parameters, never formatted with user input.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_INCLUDE = re.compile(r"^(\s*)--\s*@include\s+(\S+)\s*$", re.MULTILINE)


@cache
def load_query(name: str) -> str:
    """Return the text of ``crm_analytics/<name>`` (e.g. ``'clv/sql/rfm_summary.sql'``).

    A line ``-- @include store/sql/<fragment>.sql`` is replaced by that fragment (its
    leading comment lines dropped), so a rule such as the size band is written
    once and shared by every query that needs it.

    Examples
    --------
    >>> "SELECT" in load_query("store/sql/table_counts.sql")
    True
    >>> "'small_medium'" in load_query("store/sql/customer_attributes.sql")
    True
    """
    path = resources.files("crm_analytics").joinpath(name)
    if not path.is_file():
        raise FileNotFoundError(f"no query file crm_analytics/{name}")
    text = path.read_text(encoding="utf-8")

    def include(match: re.Match[str]) -> str:
        indent, fragment = match.group(1), match.group(2)
        lines = [ln for ln in load_query(fragment).splitlines() if not ln.lstrip().startswith("--")]
        return "\n".join(indent + ln for ln in lines)

    return _INCLUDE.sub(include, text)
