"""Who must not be contacted: the suppression list and open complaints.

Suppressions (table ``suppressions``, loaded like the other tables:
``store.load("suppressions", "suppressions.csv")``) name a ``customer_id``, an
``email`` or a ``phone`` (at least one), a ``suppression_reason`` and optional
``valid_from`` / ``valid_until`` dates (until the end of that day; both may lie
in the future). A suppression in force at the moment of the export suppresses
the whole contact it matches - every customer record sharing the matched
customer_id, e-mail or phone, as :mod:`crm_analytics.exports` groups them - on
these channels:

=============== =========================================================
reason          channels suppressed
=============== =========================================================
``opt-out``     every channel
``legal``       every channel
``do-not-call`` ``phone`` and ``sms``
``bounced``     the channel of the value that bounced: an e-mail -> ``email``;
                a phone -> ``phone`` and ``sms``; a customer_id only -> every channel
=============== =========================================================

Open complaints: a customer with a complaint ticket (``is_complaint``) opened
on or before the export and not resolved by then is not sent marketing, nor is
anyone sharing their contact (``ContactPolicy.suppress_open_complaints``,
default on): selling to an unhappy customer makes it worse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.campaigns.history import has_table
from crm_analytics.store.queries import load_query

__all__ = ["REASON_CHANNELS", "complaint_suppressed", "list_suppressed"]

_ALL = frozenset({"email", "sms", "phone", "mail"})
_VOICE = frozenset({"phone", "sms"})
#: The channels each reason suppresses (``bounced``: see the module docstring).
REASON_CHANNELS: dict[str, frozenset[str]] = {
    "opt-out": _ALL, "legal": _ALL, "do-not-call": _VOICE, "bounced": _ALL,
}


def _applies(reason: str, channel: str, via: str) -> bool:
    if reason == "bounced":
        return channel in {"email": {"email"}, "phone": _VOICE}.get(via, _ALL)
    return channel in REASON_CHANNELS.get(reason, _ALL)


def list_suppressed(store: Any, contacts: pd.DataFrame, channel: str, at: pd.Timestamp,
                    email_key: Any, phone_key: Any) -> pd.Series:
    """True for each customer whose contact a suppression in force at ``at`` covers on ``channel``.

    ``contacts``: index customer_id, columns ``group`` (the contact), ``email_key``
    and ``phone_key`` (matching keys). ``email_key`` / ``phone_key`` are the
    functions that make the keys (:func:`crm_analytics.exports.email_key`).
    """
    hit = pd.Series(False, index=contacts.index)
    if contacts.empty or not has_table(store, "suppressions"):
        return hit
    active = store.sql(load_query("campaigns/sql/active_suppressions.sql"), {"at": at})
    if active.empty:
        return hit
    active["email_key"] = email_key(active["email"])
    active["phone_key"] = phone_key(active["phone"])
    matched = np.zeros(len(contacts), dtype=bool)
    for via, column, keys in (("customer_id", "customer_id", contacts.index.to_series()),
                              ("email", "email_key", contacts["email_key"]),
                              ("phone", "phone_key", contacts["phone_key"])):
        rows = active[active[column].notna()]
        rows = rows[[_applies(r, channel, via) for r in rows["suppression_reason"]]]
        if len(rows):
            matched |= keys.isin(set(rows[column])).to_numpy()
    groups = set(contacts["group"].to_numpy()[matched])
    return pd.Series(contacts["group"].isin(groups).to_numpy(), index=contacts.index)


def complaint_suppressed(store: Any, contacts: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """True for each customer sharing a contact with a customer whose complaint is open at ``at``."""
    hit = pd.Series(False, index=contacts.index)
    if contacts.empty:
        return hit
    open_ = store.sql(load_query("campaigns/sql/open_complaints.sql"), {"at": at})["customer_id"]
    groups = set(contacts["group"][contacts.index.isin(set(open_))])
    return pd.Series(contacts["group"].isin(groups).to_numpy(), index=contacts.index)
