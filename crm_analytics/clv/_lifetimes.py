"""The one place lifetimes is imported, lazily.

lifetimes is archived; the rest of ``clv`` reaches it only through
:func:`fitter_class` and never hands its objects to callers. It is imported
on first use (it pulls in autograd and scipy.stats, about half a second),
inside ``catch_warnings`` because its ``fitters`` package calls
``warnings.simplefilter("ignore", FutureWarning)`` at import time, which would
otherwise change the caller's warning filters.
"""

from __future__ import annotations

import warnings
from functools import cache
from importlib import metadata
from typing import Any

__all__ = ["fitter_class", "lifetimes_version"]


@cache
def fitter_class(name: str) -> Any:
    """The lifetimes fitter class called ``name`` (e.g. ``"BetaGeoFitter"``)."""
    with warnings.catch_warnings():
        import lifetimes

    return getattr(lifetimes, name)


def lifetimes_version() -> str:
    """Installed lifetimes version (without importing it)."""
    try:
        return metadata.version("lifetimes")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "unknown"
