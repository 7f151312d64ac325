"""The contact history and its commit protocol: an export is official with its history.

Every export that is not a dry run records one row per contact it selected in
``contact_history`` (export id, campaign, channel, customer_id, the sha256 of
the contact value, segment, control flag, exported_at) and one row in
``contact_exports`` (the export's file, sha256, row counts and status).
``contact_hash`` is the hex sha256 of the contact's matching key on the export's
channel - the normalised e-mail (``email``) or phone key (``sms``, ``phone``;
:func:`crm_analytics.exports.email_key` / ``phone_key``), ``"customer:<id>"`` for
``mail`` - so the history holds no readable address; missing when the contact has no
value on the channel.

Commit protocol
---------------
The file, its manifest and the history become official together, in four steps
(:func:`crm_analytics.exports.export_segment`):

1. **prepare** - the data file and its manifest (which names the export id) are
   written to temporary files beside the target and flushed to disk;
2. **record** - one DuckDB transaction inserts the history rows and the export's
   row in ``contact_exports`` with ``status = 'pending'``;
3. **publish** - the manifest, then the data file, are renamed into place;
4. **commit** - ``status`` becomes ``'committed'`` (the commit marker).

A crash (kill -9, power loss) leaves one of these states, which the next
export (or :func:`repair_exports`) resolves before it reads the history:

* before 2: no history, the previous file pair untouched; the temporary
  files are removed by the next export to that path;
* between 2 and 4: a ``pending`` export. If the file at its path has the
  sha256 it recorded, the renames happened: it is **committed** (only the
  marker was lost). Otherwise the export never became official: its history
  rows are deleted and it is marked ``rolled_back``; when its manifest was
  already renamed beside the previous data file (a kill between the two
  renames), the previous manifest - kept as a temporary file until the data
  rename - is put back. Should it be gone,
  :func:`crm_analytics.exports.verify_export` reports the pair and the next
  export to that path replaces it.

So the committed history is always exactly the union of the files the
committed exports wrote (plus their control rows, which no file holds).
Contacts that were only previewed (``dry_run=True``) are never recorded.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from crm_analytics.errors import InputError
from crm_analytics.store.queries import load_query

__all__ = ["HISTORY_COLUMNS", "contact_history", "has_table", "new_export_id", "recent_contacts",
           "repair_exports"]

log = logging.getLogger(__name__)

#: The columns of ``contact_history``, in order.
HISTORY_COLUMNS: tuple[str, ...] = ("export_id", "campaign", "channel", "customer_id",
                                    "contact_hash", "segment", "is_control", "exported_at")


def has_table(store: Any, name: str) -> bool:
    """Whether the store has table ``name`` (an old store opened read-only may lack the new ones)."""
    got = store.sql(load_query("campaigns/sql/table_exists.sql"), {"name": name})
    return bool(got["n"].iloc[0])


def new_export_id(at: pd.Timestamp) -> str:
    """A new export id: the export's moment and 8 random hex digits.

    Examples
    --------
    >>> new_export_id(pd.Timestamp("2025-03-01 09:30"))[:16]
    '20250301T093000-'
    """
    return f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def contact_hash(values: pd.Series) -> pd.Series:
    """sha256 (hex) of each contact value's matching key; missing stays missing.

    Examples
    --------
    >>> contact_hash(pd.Series(["ann@x.com", None])).str[:12].tolist()
    ['0b2d6603047b', None]
    """
    out = [hashlib.sha256(v.encode("utf-8")).hexdigest() if isinstance(v, str) else None
           for v in values]
    return pd.Series(out, index=values.index, dtype=object)


def recent_contacts(store: Any, at: pd.Timestamp, days: int) -> pd.DataFrame:
    """The history rows of the ``days`` days before ``at`` (empty without a history)."""
    columns = ["export_id", "customer_id", "channel", "campaign", "is_control", "age_seconds"]
    if days <= 0 or not has_table(store, "contact_history"):
        return pd.DataFrame(columns=columns)
    return store.sql(load_query("campaigns/sql/recent_contacts.sql"),
                     {"since": at - pd.Timedelta(days=days), "at": at})


def record_pending(store: Any, export: dict[str, Any], rows: pd.DataFrame) -> None:
    """Step 2 of the protocol: the history rows and a ``pending`` export, in one transaction."""
    frame = rows[list(HISTORY_COLUMNS)]
    with store.transaction() as con:
        con.register("_crm_history_rows", frame)
        try:
            con.execute("INSERT INTO contact_history SELECT * FROM _crm_history_rows")  # constant
        finally:
            con.unregister("_crm_history_rows")
        con.execute(load_query("campaigns/sql/insert_export.sql"),
                    {**export, "manifest": json.dumps(export.get("manifest"), default=str)})


def mark_committed(store: Any, export_id: str) -> None:
    """Step 4 of the protocol: the commit marker."""
    store.execute(load_query("campaigns/sql/set_export_status.sql"),
                  {"export_id": export_id, "status": "committed", "now": _now()})


def roll_back(store: Any, export_id: str) -> None:
    """Undo step 2 for an export that did not become official."""
    with store.transaction() as con:
        con.execute(load_query("campaigns/sql/delete_history.sql"), {"export_id": export_id})
        con.execute(load_query("campaigns/sql/set_export_status.sql"),
                    {"export_id": export_id, "status": "rolled_back", "now": _now()})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _restore_previous_manifest(path: Path, export_id: str) -> bool:
    """Put back the manifest a kill between the two renames left as a temporary file."""
    manifest_path = path.with_name(path.name + ".manifest.json")
    try:
        current = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(current, dict) or current.get("export_id") != export_id or not path.is_file():
        return False
    data_sha = _sha256(path)
    for candidate in sorted(path.parent.glob(f".{glob.escape(manifest_path.name)}.*.tmp")):
        try:
            previous = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(previous, dict) and previous.get("sha256") == data_sha:
            os.replace(candidate, manifest_path)
            return True
    return False


def repair_exports(store: Any) -> list[str]:
    """Resolve exports a crash left ``pending`` (see the module docstring); one line each.

    Returns what was done, e.g. ``"export 2025…-ab12cd34 (out.csv): file in place, committed"``.
    A read-only store is only inspected: the lines say what a writable open would do.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> repair_exports(Store(":memory:"))
    []
    """
    if not has_table(store, "contact_exports"):
        return []
    pending = store.sql(load_query("campaigns/sql/pending_exports.sql"))
    lines = []
    for row in pending.itertuples(index=False):
        path = Path(row.path)
        official = path.is_file() and _sha256(path) == row.sha256
        what = "file in place, committed" if official else "file not in place, history rolled back"
        if getattr(store, "read_only", False):
            lines.append(f"export {row.export_id} ({path}) is incomplete: open the store for "
                         f"writing to repair it ({what})")
            continue
        if official:
            mark_committed(store, row.export_id)
        else:
            roll_back(store, row.export_id)
            if _restore_previous_manifest(path, row.export_id):
                what += "; previous manifest put back"
        log.warning("export %s (%s) was interrupted: %s", row.export_id, path, what)
        lines.append(f"export {row.export_id} ({path}): {what}")
    return lines


def contact_history(store: Any, *, campaign: str | None = None,
                    customer_id: str | None = None) -> pd.DataFrame:
    """The recorded contacts, oldest first (optionally of one campaign or customer).

    Examples
    --------
    >>> from crm_analytics import Store
    >>> list(contact_history(Store(":memory:")).columns) == list(HISTORY_COLUMNS)
    True
    """
    for name, value in (("campaign", campaign), ("customer_id", customer_id)):
        if value is not None and not isinstance(value, str):
            raise InputError(f"contact_history: {name} must be text; got {type(value).__name__}")
    if not has_table(store, "contact_history"):
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    return store.sql(load_query("campaigns/sql/history_rows.sql"),
                     {"campaign": campaign, "customer_id": customer_id})


#: The columns of a customer's contact history in the customer view.
CUSTOMER_CONTACT_COLUMNS: tuple[str, ...] = ("sent_at", "channel", "campaign", "segment", "status")


def customer_contacts(store: Any, customer_id: str, end: Any) -> tuple[pd.DataFrame, bool, str]:
    """One customer's recorded contacts before ``end``, newest first, for the customer view.

    Returns ``(contacts, recorded, note)``: ``recorded`` is False while the store
    has no contact history at all (no export recorded yet, or an old store).

    Examples
    --------
    >>> from crm_analytics import Store
    >>> frame, recorded, note = customer_contacts(Store(":memory:"), "C1", "2025-01-01")
    >>> len(frame), recorded, note
    (0, False, 'not recorded yet')
    """
    empty = pd.DataFrame(columns=list(CUSTOMER_CONTACT_COLUMNS))
    if not has_table(store, "contact_history") or \
            not int(store.sql(load_query("campaigns/sql/history_size.sql"))["n"].iloc[0]):
        return empty, False, "not recorded yet"
    rows = store.sql(load_query("campaigns/sql/customer_contacts.sql"),
                     {"customer_id": customer_id, "as_of_end": pd.Timestamp(end)})
    frame = rows[list(CUSTOMER_CONTACT_COLUMNS)].reset_index(drop=True)
    sent = frame[frame["status"] == "sent"]
    if frame.empty:
        return frame, True, "no contact recorded"
    note = f"{len(sent)} contact(s) sent"
    if len(sent):
        last = sent.iloc[0]
        note += (f", latest {pd.Timestamp(last['sent_at']):%Y-%m-%d} by {last['channel']}"
                 + (f" ({last['campaign']})" if isinstance(last["campaign"], str) else ""))
    held = len(frame) - len(sent)
    return frame, True, note + (f"; held out as control {held} time(s)" if held else "")
