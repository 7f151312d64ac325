"""Finding a customer by id, e-mail, phone or name: :func:`find_customers`.

The query is normalised with the loader's own normaliser
(:mod:`crm_analytics.store.cleansing`), so it meets the stored values in the form
the loader gave them: e-mails NFKC-normalised and case-folded, phones compared by
their digits (any script's digits, any formatting). Every value is a bound
parameter of a ``.sql`` file in ``customers/sql/``; nothing the user types
reaches the SQL text.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pandas as pd

from crm_analytics.errors import InputError
from crm_analytics.store import Store, contact_lookup
from crm_analytics.store.cleansing import contact_digits, normalize_contact, normalize_email
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import reading

__all__ = ["MATCH_QUALITY", "SEARCH_COLUMNS", "SEARCH_KINDS", "find_customers", "search_kind"]

#: What a query can be matched on, in the order results are ranked on a tie.
SEARCH_KINDS: tuple[str, ...] = ("id", "email", "phone", "name")
#: Columns of the frame :func:`find_customers` returns (index: ``customer_id``).
SEARCH_COLUMNS: tuple[str, ...] = ("rank", "name", "email", "phone", "customer_type", "country",
                                   "region", "matched_on", "match")
#: The ``match`` label of each quality level, per kind (0 is the best).
MATCH_QUALITY: dict[str, tuple[str, ...]] = {
    "id": ("exact", "exact, other case", "id prefix"),
    "email": ("exact", "address prefix"),
    "phone": ("same number", "same number, other prefix"),
    "name": ("exact", "name prefix", "word prefix", "partial"),
}
#: Fewest digits a phone search compares (fewer would match too many numbers).
MIN_PHONE_DIGITS = 6
MAX_QUERY_CHARS = 200
MAX_LIMIT = 1000
# Characters a phone number is written with besides its digits.
_PHONE_TEXT = re.compile(r"^[\d\s+\-()./]+$")


def search_kind(query: str) -> str:
    """What a free-text query looks like: ``'email'``, ``'phone'`` or ``'name'``.

    A query with an ``@`` is an e-mail; one written only with digits, spaces and
    ``+ - ( ) . /`` and holding at least :data:`MIN_PHONE_DIGITS` digits is a phone
    number; anything else is a name. (:func:`find_customers` also tries every
    query as a customer_id.)

    Examples
    --------
    >>> search_kind(" Ann@Example.com "), search_kind("+49 (30) 123-4567"), search_kind("Müller")
    ('email', 'phone', 'name')
    """
    text = normalize_contact(query)
    if "@" in text:
        return "email"
    if _PHONE_TEXT.match(text) and len(contact_digits(text)) >= MIN_PHONE_DIGITS:
        return "phone"
    return "name"


def _check(query: Any, limit: Any, by: Any) -> tuple[str, int]:
    if not isinstance(query, str) or not normalize_contact(query):
        raise InputError(f"a search needs some text (an id, e-mail, phone or name); got {query!r}")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"a search of {len(query)} characters is too long; use at most "
                         f"{MAX_QUERY_CHARS}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"The 'limit' parameter of find_customers must be an int in the range "
                         f"[1, {MAX_LIMIT}]. Got {limit!r} instead.")
    if by is not None and by not in SEARCH_KINDS:
        raise InputError(f"The 'by' parameter of find_customers must be one of "
                         f"{', '.join(SEARCH_KINDS)} or None. Got {by!r} instead.")
    return normalize_contact(query), limit


def _by_id(store: Store, query: str, limit: int, lookup: bool) -> pd.DataFrame:
    if lookup:  # upper-cased ids, sorted: a range, not a scan
        # Upper-cased by DuckDB, as the stored keys are (Python's upper differs, e.g. for 'ß').
        upper = str(store.sql("SELECT upper($q) AS u", {"q": query})["u"].iloc[0])
        return store.sql(load_query("customers/sql/search_id_lookup.sql"), {
            "query": query, "upper_query": upper, "upper_end": upper + "\U0010ffff", "limit": limit})
    return store.sql(load_query("customers/sql/search_id.sql"), {"query": query, "limit": limit})


def _by_email(store: Store, query: str, limit: int, lookup: bool) -> pd.DataFrame:
    email = normalize_email(query)
    if lookup:  # the sorted lookup table: a range, not a scan
        return store.sql(load_query("customers/sql/search_email_lookup.sql"),
                         {"email": email, "email_end": email + "\U0010ffff", "limit": limit})
    return store.sql(load_query("customers/sql/search_email.sql"), {"email": email, "limit": limit})


def _phone_key(query: str) -> str:
    """The query's digits without leading zeros (an international 00 and a trunk 0 drop out)."""
    return contact_digits(query).lstrip("0")


def _by_phone(store: Store, query: str, limit: int, lookup: bool) -> pd.DataFrame:
    key = _phone_key(query)
    if len(key) < MIN_PHONE_DIGITS:
        raise InputError(f"phone search {query!r}: needs at least {MIN_PHONE_DIGITS} digits "
                         "(any formatting, e.g. '+49 30 1234567')")
    if lookup:  # keys precomputed and sorted: a range, not a scan
        rkey = key[::-1]
        lo = rkey[:7]
        return store.sql(load_query("customers/sql/search_phone_lookup.sql"),
                         {"rkey": rkey, "lo": lo, "hi": lo + ":", "limit": limit})
    # Extra rows: the SQL returns phones in other scripts unfiltered (checked below).
    found = store.sql(load_query("customers/sql/search_phone.sql"),
                      {"last2": key[-2:], "key": key, "limit": limit * 4})
    odd = found["non_ascii"].astype(bool)
    if odd.any():
        keys = found.loc[odd, "phone"].map(_phone_key)
        same = keys == key
        near = keys.map(lambda k: len(k) >= 7 and len(key) >= 7 and (k.endswith(key) or key.endswith(k)))
        found.loc[odd, "quality"] = (~same).astype(found["quality"].dtype)
        found = found[~odd | same | near]
    return found.drop(columns=["phone_key", "non_ascii"]).sort_values(["quality", "customer_id"])


def _fold(store: Store, text: str) -> str:
    # Folded by the same SQL expression as the names, so both sides agree exactly.
    return str(store.sql("SELECT lower(strip_accents($text)) AS folded", {"text": text})["folded"].iloc[0])


def _by_name(store: Store, query: str, limit: int, lookup: bool) -> pd.DataFrame:
    # Names are not in contact_lookup (a partial, accent-folded match needs the scan).
    folded = " ".join(_fold(store, query).split())
    words = folded.split()
    # Four words select well enough; a longer query still ranks on the whole text.
    head = [*words[:3], " ".join(words[3:])] if len(words) > 4 else words
    params = {f"t{i + 1}": (head[i] if i < len(head) else "") for i in range(4)}
    return store.sql(load_query("customers/sql/search_name.sql"),
                     {**params, "folded": folded, "limit": limit})


_SEARCHES = {"id": _by_id, "email": _by_email, "phone": _by_phone, "name": _by_name}


def find_customers(store: Store | str | os.PathLike, query: str, limit: int = 20, *,
                   by: str | None = None) -> pd.DataFrame:
    """Find customers by customer_id, e-mail, phone number or name, best match first.

    Parameters
    ----------
    store : Store or path
        The store (a path is opened read-only).
    query : str
        An id (``C000123``), an e-mail (any case, surrounding spaces ignored), a
        phone number (any formatting: ``+49 30 1234567``, ``0049-30-123 4567`` and
        ``030 1234567`` are the same number) or a name or part of one (case and
        accents ignored: ``muller`` finds ``Müller``; every word must occur).
    limit : int, default 20
        Most rows returned (1 to 1000).
    by : {'id', 'email', 'phone', 'name'}, optional
        Search only this way. Default: the query is tried as an id, and as what it
        looks like (:func:`search_kind`).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``, best first: ``rank`` (1 = best), contact and
        type columns, ``matched_on`` (id, email, phone, name) and ``match`` (how
        well: ``exact``, ``name prefix``, ``partial``... see :data:`MATCH_QUALITY`).
        Empty when nothing matches.

    Raises
    ------
    InputError
        An empty or overlong query, a bad ``limit`` or ``by``, a phone search with
        fewer than 6 digits.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({
    ...     "customer_id": ["C1", "C2", "C3"], "name": ["José Müller", "Ann Lee", "Joe Miller"],
    ...     "email": ["jose@x.com", "ann@y.org", "joe@z.net"],
    ...     "phone": ["+49 30 1234567", "+1 (202) 555-0143", "030 7654321"]}))
    >>> find_customers(store, "MULLER jose")[["rank", "name", "match"]]
                 rank         name        match
    customer_id
    C1              1  José Müller  word prefix
    >>> find_customers(store, "  ANN@Y.ORG ").index.tolist()
    ['C2']
    >>> find_customers(store, "0049 (30) 123-45-67")[["phone", "match"]]
                          phone        match
    customer_id
    C1           +49 30 1234567  same number
    """
    text, limit = _check(query, limit, by)
    kinds = [by] if by is not None else ["id", search_kind(text)]
    with reading(store) as s:
        # Whether the store's contact_lookup is current: checked once, every search uses it.
        lookup = contact_lookup.table_current(s)
        parts = []
        for kind in kinds:
            found = _SEARCHES[kind](s, text, limit, lookup)
            found["matched_on"] = kind
            parts.append(found)
    hits = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if hits is None:
        return pd.DataFrame(columns=list(SEARCH_COLUMNS), index=pd.Index([], name="customer_id"))
    hits["kind_order"] = hits["matched_on"].map(SEARCH_KINDS.index)
    hits["position"] = range(len(hits))  # each search's own order breaks the remaining ties
    hits = hits.sort_values(["quality", "kind_order", "position"]).drop_duplicates("customer_id")
    hits = hits.head(limit)
    hits["match"] = [MATCH_QUALITY[k][int(q)] for k, q in zip(hits["matched_on"], hits["quality"],
                                                            strict=True)]
    hits["rank"] = range(1, len(hits) + 1)
    return hits.set_index("customer_id")[list(SEARCH_COLUMNS)]
