"""``contact_lookup``: normalised e-mails, reversed phone keys and ids, for the customer search.

Finding a customer by e-mail or phone scanned every customer's contact (a phone
search also extracted the digits of every candidate number): 51 ms and 436 ms
median on a million customers. The loader keeps this derived table
(:mod:`crm_analytics.store.derived`) in the load's transaction, sorted by
``(kind, key)``, so a search reads the few row groups whose key range holds the
query:

``contact_lookup (kind VARCHAR, key VARCHAR, customer_key BIGINT)``
    ``kind = 'email'``: the stored e-mail; ``kind = 'phone'``: the phone's digits
    (any script's) without leading zeros, reversed -- "the number ends with the
    query's digits" becomes "the key starts with them reversed", a range;
    ``kind = 'id'``: ``upper(customer_id)``, for the id search in any case.
    Exactly ``store/sql/contact_lookup.sql``.

Readers use it only while it is current (:func:`table_current`); otherwise the
search scans the customers as before.
"""

from __future__ import annotations

from typing import Any

from crm_analytics.store import derived
from crm_analytics.store.cleansing import DIGITS_FUNCTION, register_functions

__all__ = ["CONTACT_LOOKUP", "DIGITS_FUNCTION", "TABLE", "table_current"]

#: The table's name.
TABLE = "contact_lookup"
CONTACT_LOOKUP = derived.DerivedTable(
    name=TABLE,
    columns="kind VARCHAR, key VARCHAR, customer_key BIGINT",
    source="customers",
    query="store/sql/contact_lookup.sql",
    order_by="kind, key",
    prepare=register_functions,  # the phone keys use DIGITS_FUNCTION
)


def table_current(store: Any) -> bool:
    """Whether the store's ``contact_lookup`` reflects its customers as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics.store import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["A"], "phone": ["030 123"]}))
    >>> table_current(store)
    True
    >>> store.sql("SELECT kind, key FROM contact_lookup")
        kind    key
    0     id      A
    1  phone  32103
    """
    return derived.table_current(store, CONTACT_LOOKUP)
