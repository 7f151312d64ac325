"""Customer attributes shared by every module: size band and firmographics.

The size band follows the IBM programme's first criterion: business customers
are split into *large* and *small/medium* by configurable thresholds on
employees and annual revenue; consumers form their own group; a business
customer without employees and revenue is *unknown* — counted, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from crm_analytics.store.queries import load_query

SIZE_BANDS = ("large", "small_medium", "consumer", "unknown")


@dataclass(frozen=True)
class SizeThresholds:
    """A business customer is *large* from either threshold on.

    The defaults follow the EU definition of an SME (fewer than 250 employees,
    turnover up to EUR 50 million): anything above either bound is large.

    Examples
    --------
    >>> size_band("business", 300, None, SizeThresholds(large_employees=500))
    'small_medium'
    """

    large_employees: int = 250
    large_revenue: float = 50_000_000.0

    def params(self) -> dict[str, Any]:
        return {"large_employees": self.large_employees, "large_revenue": self.large_revenue}


DEFAULT_THRESHOLDS = SizeThresholds()


def size_band(
    customer_type: Any, employees: Any, annual_revenue: Any,
    thresholds: SizeThresholds = DEFAULT_THRESHOLDS,
) -> str:
    """Size band of one customer (the same rule as ``sql/customer_attributes.sql``).

    Examples
    --------
    >>> size_band("business", 1200, None)
    'large'
    >>> size_band("business", 40, 2e6)
    'small_medium'
    >>> size_band("consumer", None, None), size_band("business", None, None)
    ('consumer', 'unknown')
    """
    if customer_type == "consumer":
        return "consumer"
    emp = None if pd.isna(employees) else float(employees)
    rev = None if pd.isna(annual_revenue) else float(annual_revenue)
    if emp is None and rev is None:
        return "unknown"
    if (emp is not None and emp >= thresholds.large_employees) or (
        rev is not None and rev >= thresholds.large_revenue
    ):
        return "large"
    if customer_type == "business" or customer_type is None or pd.isna(customer_type):
        return "small_medium"
    return "unknown"


def customer_attributes(
    store: Any, as_of: Any = None, thresholds: SizeThresholds = DEFAULT_THRESHOLDS,
) -> pd.DataFrame:
    """One row per customer: type, size band, industry, country, region, tenure, consent.

    Customers created after ``as_of`` are left out; ``as_of=None`` means all.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({
    ...     "customer_id": ["C1", "C2", "C3"], "customer_type": ["business", "business", "consumer"],
    ...     "employees": [5000, 12, None], "industry": ["Finance", "Retail", None]}))
    >>> customer_attributes(store)["size_band"].tolist()
    ['large', 'small_medium', 'consumer']
    """
    from crm_analytics.core.timeutils import cutoff

    params = {**thresholds.params(), "cutoff": None if as_of is None else cutoff(as_of)}
    out = store.sql(load_query("store/sql/customer_attributes.sql"), params)
    return out.set_index("customer_id")
