"""Customer-level satisfaction features for churn models, segments and dashboards."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crm_analytics.core.timeutils import as_of_params
from crm_analytics.errors import InputError
from crm_analytics.satisfaction.store_io import check_store, query, survey_inventory

__all__ = ["FEATURE_COLUMNS", "customer_features"]

#: Column -> meaning; windows of N days are the N days ending with ``as_of``.
FEATURE_COLUMNS: dict[str, str] = {
    "latest_nps": "score of the latest 0-10 recommendation answer (NaN: never answered)",
    "latest_nps_date": "day of that answer (NaT: never answered)",
    "nps_class": "'promoter' (9-10), 'passive' (7-8), 'detractor' (0-6); NA: never answered",
    "is_detractor": "latest answer 0-6 (False when never answered)",
    "csat_mean_180d": "mean CSAT score over the last 180 days, on the answers' scale (NaN: none)",
    "csat_latest": "latest CSAT score (NaN: never answered)",
    "complaints_90d": "complaint tickets opened in the last 90 days",
    "complaints_365d": "complaint tickets opened in the last 365 days",
    "tickets_90d": "tickets opened in the last 90 days",
    "open_tickets": "tickets open at as_of (opened before, not resolved by it)",
    "sla_breaches_90d": "tickets resolved late in the last 90 days, plus open tickets past "
                        "their SLA at as_of",
    "sla_breaches_365d": "the same over 365 days",
    "mean_resolution_hours_365d": "mean resolution time of tickets resolved in the last 365 "
                                  "days (NaN: none)",
    "reopened_365d": "reopened tickets among those resolved in the last 365 days",
}
_COUNTS = [c for c in FEATURE_COLUMNS if c.startswith(("complaints", "tickets", "open",
                                                       "sla", "reopened"))]


def customer_features(store: Any, as_of: Any, *, nps_item: str = "nps",
                      csat_item: str = "csat") -> pd.DataFrame:
    """Satisfaction and service features of every customer, as of a date.

    One row per customer created on or before ``as_of`` (or without ``created_at``),
    computed in SQL (``sql/customer_features.sql``) from answers and tickets on or before
    ``as_of`` only: a ticket resolved later counts as open, an answer given later does
    not exist. Counts are 0 and scores NaN where a customer has no data; the columns are
    described in :data:`FEATURE_COLUMNS`. A late resolution counts as a breach on the
    day the ticket is resolved; an open ticket past its SLA counts as one at ``as_of``.
    ``reopened`` has no date in the data contract and is taken as stored.

    Parameters
    ----------
    store : Store
    as_of : date-like
        Inclusive cut-off day.
    nps_item, csat_item : str
        Survey items of the recommendation (0-10) and CSAT questions.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``, the columns of :data:`FEATURE_COLUMNS` in that order.

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> features = customer_features(demo_store(), "2024-06-20")
    >>> features[["latest_nps", "nps_class", "open_tickets", "sla_breaches_365d"]]
                 latest_nps  nps_class  open_tickets  sla_breaches_365d
    customer_id
    C1                  9.0   promoter             1                 0
    C2                  6.0  detractor             0                 1
    C3                  3.0  detractor             1                 1
    """
    check_store(store, "customer_features")
    params = as_of_params(as_of)
    inventory = survey_inventory(store, params["as_of"])
    nps_rows = inventory[inventory["item"] == nps_item]
    if ((nps_rows["scale_min"] != 0) | (nps_rows["scale_max"] != 10)).any():
        raise InputError(f"customer_features: item {nps_item!r} has answers on a scale other "
                         "than 0-10, so promoters and detractors are not defined; pass the "
                         "item of the 0-10 recommendation question as nps_item=.")
    table = store.sql(query("customer_features.sql"), {
        "cutoff": params["cutoff"], "nps_item": nps_item, "csat_item": csat_item})
    table[_COUNTS] = table[_COUNTS].astype("int64")
    table["is_detractor"] = table["is_detractor"].astype(bool)
    return table.set_index("customer_id")[list(FEATURE_COLUMNS)]
