"""Size segmentation: large (split by industry) / small-medium / consumer / unknown.

The size *band* is defined once, in :mod:`crm_analytics.store.attributes` (configurable
:class:`~crm_analytics.store.attributes.SizeThresholds`, EU SME defaults); this module
only turns the band into the segment labels campaigns use, and splits the large
accounts by industry as the IBM programme did.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.errors import InputError
from crm_analytics.store.attributes import SizeThresholds, size_band

__all__ = ["SIZE_LABELS", "size_segments"]

#: Segment label per size band; large accounts get ``"Large · <industry>"``.
SIZE_LABELS: dict[str, str] = {
    "small_medium": "Small/medium",
    "consumer": "Consumer",
    "unknown": "Unknown size",
}
#: Label of an unknown band, by customer type: a business without employees or
#: revenue on record, or a customer whose type is not recorded either.
UNKNOWN_BY_TYPE: dict[str, str] = {
    "business": "Business (size unknown)",
    "consumer": "Consumer",
}
LARGE_PREFIX = "Large · "
LARGE_NO_INDUSTRY = "Large · Industry unknown"


def size_segments(
    attributes: pd.DataFrame, thresholds: SizeThresholds | None = None, *,
    by_type: bool = True,
) -> pd.Series:
    """Size segment per customer, from :func:`crm_analytics.store.attributes.customer_attributes`.

    ================  ============================================================
    segment           customers
    ================  ============================================================
    Large · <ind.>    business, employees or annual revenue at/above a threshold,
                      one segment per industry ("Large · Industry unknown" when
                      the industry is missing)
    Small/medium      business below both thresholds
    Consumer          ``customer_type = 'consumer'``
    Unknown size      business (or untyped) customer with neither employees nor
                      annual revenue — counted, never dropped; with ``by_type``
                      a business says "Business (size unknown)"
    ================  ============================================================

    Parameters
    ----------
    attributes : DataFrame
        One row per customer (index ``customer_id``) with ``size_band`` and
        ``industry``, as returned by ``customer_attributes``.
    thresholds : SizeThresholds, optional
        When given, the band is recomputed from ``customer_type``, ``employees``
        and ``annual_revenue`` with :func:`crm_analytics.store.attributes.size_band`
        (the one definition) instead of read from ``size_band``. Needed only
        when ``attributes`` were built with other thresholds.

    Returns
    -------
    Series
        ``size_segment`` (str), same index and order as ``attributes``; every
        customer gets a label.

    Examples
    --------
    >>> attrs = pd.DataFrame({"size_band": ["large", "large", "small_medium", "consumer", "unknown"],
    ...                       "industry": ["Finance", None, "Retail", None, None]},
    ...                      index=pd.Index(["C1", "C2", "C3", "C4", "C5"], name="customer_id"))
    >>> size_segments(attrs).tolist()
    ['Large · Finance', 'Large · Industry unknown', 'Small/medium', 'Consumer', 'Unknown size']
    """
    if thresholds is not None:
        band = _recompute_band(attributes, thresholds)
    else:
        if "size_band" not in attributes.columns:
            raise InputError(
                "size_segments: required column size_band missing; pass the output of "
                "crm_analytics.store.attributes.customer_attributes (or give thresholds and the "
                f"columns customer_type, employees, annual_revenue). Found {list(attributes.columns)}."
            )
        band = attributes["size_band"]
    band = band.astype(object).where(band.notna(), "unknown")
    unknown_bands = sorted(set(band) - {"large", *SIZE_LABELS})
    if unknown_bands:
        raise InputError(
            f"size_segments: unknown size_band value(s) {unknown_bands}; "
            "expected large, small_medium, consumer or unknown"
        )
    if "industry" in attributes.columns:
        industry = attributes["industry"].astype(object)
        industry = industry.where(industry.notna() & (industry.astype(str).str.strip() != ""), None)
    else:
        industry = pd.Series(None, index=attributes.index, dtype=object)
    large = np.where(
        industry.isna(), LARGE_NO_INDUSTRY, LARGE_PREFIX + industry.astype(str).str.strip()
    )
    out = np.where(band == "large", large, band.map(SIZE_LABELS).to_numpy(dtype=object))
    if by_type and "customer_type" in attributes.columns:
        kind = attributes["customer_type"].astype(object).where(
            attributes["customer_type"].notna(), "").astype(str).str.strip().str.lower()
        typed = kind.map(UNKNOWN_BY_TYPE).to_numpy(dtype=object)
        out = np.where((band == "unknown").to_numpy() & pd.notna(typed), typed, out)
    return pd.Series(out, index=attributes.index, name="size_segment", dtype=object)


def _recompute_band(attributes: pd.DataFrame, thresholds: SizeThresholds) -> pd.Series:
    needed = ["customer_type", "employees", "annual_revenue"]
    missing = [c for c in needed if c not in attributes.columns]
    if missing:
        raise InputError(
            f"size_segments: with thresholds the columns {needed} are needed; missing {missing}"
        )
    # One call per customer on purpose: features.size_band is the single definition
    # of the band, and a customer table is small next to the transaction log.
    rows: Any = zip(
        attributes["customer_type"].astype(object), attributes["employees"].astype(object),
        attributes["annual_revenue"].astype(object), strict=True,
    )
    return pd.Series(
        [size_band(t, e, r, thresholds) for t, e, r in rows], index=attributes.index, dtype=object
    )
