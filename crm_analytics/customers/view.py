"""The single customer view: everything the store knows about one customer, as of a date.

:func:`customer_view` reads the canonical tables for one customer (one query per
part, each filtered on the customer's ``customer_key``, so it reads only that
customer's row groups) and that customer's row of ``customer_scores`` from the
run it shows, all on one connection: the parts come from one snapshot of the
store, never a mix of two runs. Small parts are read as plain rows: a DataFrame per
query and pandas operations on a handful of rows cost more than the queries.

Which date, which run
---------------------
``as_of`` (inclusive, like everywhere in the package) bounds what the table parts
see: transactions, tickets and answers after it are left out, and ticket statuses
are taken at the end of that day (or now, if that is earlier: a view of today
knows nothing after this moment). The scores (value, churn, segments) come from
the newest successful run whose ``as_of`` is on or before the view's date; with
``as_of=None`` the view is as of the store's latest day
(:func:`crm_analytics.store.default_as_of`) and shows the latest successful run
(what :func:`crm_analytics.latest_scores` returns). Without such a run the score
parts are empty and ``notes`` says why.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import subprocess
import sys
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.campaigns.history import CUSTOMER_CONTACT_COLUMNS, customer_contacts
from crm_analytics.core.timeutils import cutoff, to_date
from crm_analytics.customers.actions import ActionFacts, NextBestAction, next_best_action
from crm_analytics.customers.render import card_html, card_text
from crm_analytics.errors import InputError
from crm_analytics.store import Store, resolve_as_of
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS
from crm_analytics.store.cleansing import q
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import latest_run_id, latest_scores, reading
from crm_analytics.store.score_columns import score_column_names

__all__ = ["CONTACT_HISTORY_COLUMNS", "DUE_SOON_HOURS", "PARTS", "CustomerView",
           "UnknownCustomerError", "ViewContext", "customer_view", "view_context"]

log = logging.getLogger(__name__)

#: The parts of a view, in the order the card shows them.
PARTS: tuple[str, ...] = ("profile", "value", "churn", "segments", "transactions", "tickets",
                          "satisfaction", "contact_history", "next_best_action")
#: An open ticket whose SLA deadline is at most this many hours away is ``due_soon``.
DUE_SOON_HOURS = 4.0
#: Columns of the contact history (what was sent when), from the exports' ``contact_history``.
CONTACT_HISTORY_COLUMNS: tuple[str, ...] = CUSTOMER_CONTACT_COLUMNS
CONTACT_HISTORY_NOTE = "not recorded yet"
#: A change of at least this share of the answer scale counts as a trend.
TREND_SHARE = 0.1
#: How rules name customer attributes (``crm_analytics.segmentation.rules.ATTRIBUTE_PREFIX``).
ATTRIBUTE_PREFIX = "attr_"
MAX_ID_CHARS = 200

_VALUE_SCORES = ("clv", "revenue_potential", "revenue_potential_code", "p_alive",
                 "expected_purchases", "growth_rate")
_CHURN_SCORES = ("churn_probability", "risk_band", "revenue_at_risk")
_SEGMENT_SCORES = ("size_segment", "needs_segment", "needs_segment_name", "rfm_segment", "value_tier")


class UnknownCustomerError(InputError):
    """No customer with this id in the store (or not yet, as of the date asked for)."""


@dataclass
class CustomerView:
    """Everything about one customer as of a date (see :func:`customer_view`).

    Parts are plain dicts and DataFrames: ``profile``, ``value`` (with
    ``revenue_by_year``), ``churn``, ``segments``, ``transactions``, ``tickets``
    (with ``ticket_summary``), ``satisfaction`` (with ``survey_answers``),
    ``contact_history`` (the exports that reached or held out the customer, newest
    first, from the store's ``contact_history``; empty and ``not recorded yet``
    before any export was recorded) and ``next_best_action``.
    ``str(view)`` is a text card, ``_repr_html_`` an HTML card for Jupyter and
    :meth:`to_dict` plain data for JSON.
    """

    customer_id: str
    as_of: dt.date
    run_id: str | None
    run_as_of: dt.date | None
    currency: str
    profile: dict[str, Any]
    value: dict[str, Any]
    revenue_by_year: pd.DataFrame
    churn: dict[str, Any]
    segments: dict[str, Any]
    transactions: pd.DataFrame
    tickets: pd.DataFrame
    ticket_summary: dict[str, Any]
    satisfaction: dict[str, Any]
    survey_answers: pd.DataFrame
    next_best_action: NextBestAction
    contact_history: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(CONTACT_HISTORY_COLUMNS)))
    contact_history_note: str = CONTACT_HISTORY_NOTE
    contact_history_recorded: bool = False
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        name = self.profile.get("name") or "(no name)"
        return (f"CustomerView({self.customer_id!r}, {name}, as of {self.as_of}: "
                f"{self.next_best_action.action})")

    def __str__(self) -> str:
        return card_text(self)

    def _repr_html_(self) -> str:
        return card_html(self)

    def to_dict(self) -> dict[str, Any]:
        """Every part as plain data (str, float, int, bool, None, lists, dicts) for JSON.

        Timestamps become ISO 8601 text, missing values ``None``.

        Examples
        --------
        >>> import json
        >>> from crm_analytics import Store
        >>> store = Store(":memory:")
        >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1"], "name": ["Ann"]}))
        >>> data = customer_view(store, "C1", as_of="2024-06-30").to_dict()
        >>> data["profile"]["name"], data["contact_history"]["note"], len(json.dumps(data)) > 100
        ('Ann', 'not recorded yet', True)
        """
        return {
            "customer_id": self.customer_id,
            "as_of": self.as_of.isoformat(),
            "run": {"run_id": self.run_id,
                    "as_of": None if self.run_as_of is None else self.run_as_of.isoformat()},
            "currency": self.currency,
            "profile": _plain(self.profile),
            "value": {**_plain(self.value), "by_year": _records(self.revenue_by_year)},
            "churn": _plain(self.churn),
            "segments": _plain(self.segments),
            "transactions": _records(self.transactions),
            "tickets": {"summary": _plain(self.ticket_summary), "items": _records(self.tickets)},
            "satisfaction": {**_plain(self.satisfaction), "answers": _records(self.survey_answers)},
            "contact_history": {"recorded": self.contact_history_recorded,
                                "note": self.contact_history_note,
                                "items": _records(self.contact_history)},
            "next_best_action": self.next_best_action.to_dict(),
            "notes": list(self.notes),
        }


# -- plain data ---------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """``value`` with numpy, pandas and datetime values turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_plain(r) for r in frame.to_dict("records")]


def _value(row: pd.Series | dict[str, Any], name: str) -> Any:
    """A value of a row, ``None`` when absent or missing."""
    value = row.get(name) if hasattr(row, "get") else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- the run and its custom segments ----------------------------------------------------------
def _run_row(rows: pd.DataFrame) -> dict[str, Any] | None:
    if rows.empty:
        return None
    run = rows.iloc[0].to_dict()
    try:
        config = json.loads(run.get("config") or "{}")
    except (TypeError, ValueError):
        config = {}
    run["config"] = config if isinstance(config, dict) else {}
    run["as_of"] = to_date(run["as_of"])
    return run


def _view_run(store: Store, as_of: dt.date | None) -> dict[str, Any] | None:
    """The run a view shows (module docstring), with its config parsed; None without one."""
    if as_of is None:
        try:
            rid = latest_run_id(store)
        except InputError:
            return None
        return _run_row(store.sql(load_query("customers/sql/run_meta.sql"), {"run_id": rid}))
    return _run_row(store.sql(load_query("customers/sql/view_run.sql"), {"as_of": as_of}))


def _chosen_run(store: Store, run_id: str, day: dt.date) -> dict[str, Any]:
    """The successful run ``run_id`` for a view as of ``day``; raises unless it has scores."""
    found = store.sql(load_query("customers/sql/chosen_run.sql"), {"run_id": run_id, "as_of": day})
    run = _run_row(found)
    if run is None:
        raise InputError(f"run {run_id!r} is not a successful run as of {day} or earlier "
                         "(crm-analytics runs lists them)")
    if not bool(run.pop("has_scores")):
        raise InputError(f"run {run_id!r} has no scores left (pruned: keep_runs)")
    return run


class _SegmentCache:
    """Members of each custom segment per run, computed once per run and set of definitions.

    Membership of a rule such as ``clv in top 20%`` depends on every customer's
    scores, so it is computed for all customers at once (one read of the run's
    scores: seconds for a million customers) and kept for the next views of the
    same run: a warm process answers from memory. Two runs are kept at most.

    :meth:`members` computes in the caller's thread, or (``wait=False``) in a child
    process of lower priority on a read-only connection of its own, watched by a
    background thread, so that a web app keeps answering from the run it showed
    before meanwhile.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, tuple[dict[str, frozenset[str]], list[str]]] = OrderedDict()
        self._pending: dict[tuple, threading.Event] = {}  # being computed; set when done
        self._lock = threading.Lock()

    def members(self, store: Store, run_id: str, *, wait: bool = True
                ) -> tuple[dict[str, frozenset[str]], list[str]] | threading.Event:
        """(members of each custom segment in the run, notes on segments not evaluated).

        With ``wait=False`` and the members not computed yet: an event set once they
        are (computed in a child process meanwhile).
        """
        if not store.has_table("segment_definitions"):  # segmentation.rules.TABLE
            return {}, []
        # Imported here: scikit-learn and plotly come with it, and most views need neither.
        from crm_analytics.segmentation import list_segments

        definitions = list_segments(store)
        if definitions.empty:
            return {}, []
        memory = store.path == ":memory:"
        # A run id names one run whichever file holds it (a copy of the store, as the web
        # app reads, shares the entry); each in-memory store is its own.
        where = f"memory:{id(store)}" if memory else "file"
        signature = tuple(map(str, definitions[["name", "rule", "updated_at"]].itertuples(index=False)))
        key = (where, run_id, signature)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry[0], list(entry[1])
            done = self._pending.get(key)
            mine = done is None
            if mine:
                done = self._pending[key] = threading.Event()
        assert done is not None
        if mine and (wait or memory):  # an in-memory store has no file to open elsewhere
            self._compute(store, run_id, definitions, key, done)
        elif mine:
            threading.Thread(target=self._compute_apart, args=(store.path, run_id, definitions, key, done),
                             name="crm-custom-segments", daemon=True).start()
        if not wait:
            return done if not done.is_set() else self.members(store, run_id)
        done.wait()
        return self.members(store, run_id)

    def _compute(self, store: Store, run_id: str, definitions: pd.DataFrame, key: tuple,
                 done: threading.Event) -> None:
        try:
            self._keep(key, _compute_members(store, run_id, definitions))
        finally:
            with self._lock:
                self._pending.pop(key, None)
            done.set()  # on failure too: a waiting caller tries again (and sees the error)

    def _keep(self, key: tuple, entry: tuple[dict[str, frozenset[str]], list[str]]) -> None:
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def _compute_apart(self, path: str, run_id: str, definitions: pd.DataFrame, key: tuple,
                       done: threading.Event) -> None:
        # In a child process of lower priority (segment_child): the work (seconds of pandas
        # for a million customers) then neither holds this process's GIL nor takes the CPU
        # from the requests it keeps answering meanwhile.
        try:
            rules = definitions[["name", "rule"]].astype(str).to_dict("records")
            command = [sys.executable, "-m", "crm_analytics.customers.segment_child", path, run_id]
            child = subprocess.run(command, input=json.dumps(rules), capture_output=True, text=True,
                                   check=False)
            if child.returncode != 0:
                raise InputError(f"the child computing them stopped with code {child.returncode}: "
                                 f"{child.stderr.strip()[-2000:]}")
            got = json.loads(child.stdout)
            self._keep(key, ({name: frozenset(ids) for name, ids in got["members"].items()},
                             list(got["problems"])))
        except Exception:  # the next view asks again and meets the error itself
            log.exception("custom segments of run %s: computing them failed", run_id)
        finally:
            with self._lock:
                self._pending.pop(key, None)
            done.set()


def _compute_members(store: Store, run_id: str, definitions: pd.DataFrame
                     ) -> tuple[dict[str, frozenset[str]], list[str]]:
    """(members of each custom segment in the run, notes on the segments not evaluated)."""
    from crm_analytics.segmentation import parse_rule, segment_members

    try:
        used = {c.lower() for rule in definitions["rule"] for c in parse_rule(rule).columns}
    except InputError:  # a stored rule that no longer parses: say so per segment below
        used = None
    scores = _rule_scores(store, run_id, used)
    members: dict[str, frozenset[str]] = {}
    problems: list[str] = []
    for name in definitions["name"]:
        try:
            members[name] = frozenset(segment_members(store, name, scores))
        except InputError as exc:  # a rule on a column this run lacks
            problems.append(f"custom segment {name!r} not evaluated: {exc}")
    return members, problems


def _rule_scores(store: Store, run_id: str, used: set[str] | None) -> pd.DataFrame:
    """The run's scores with only the columns the rules use (reading every column of a
    million customers takes seconds; two or three, a fraction of one), like ``latest_scores``.

    ``attr_`` columns come from the customers' attributes (``segment_members`` adds them);
    with a column that is not a score column, or unparsed rules, every column is read.
    """
    known = {c.lower(): c for c in score_column_names() if c not in ("customer_id", "run_id")}
    wanted = None if used is None else {c for c in used if not c.startswith(ATTRIBUTE_PREFIX)}
    if not wanted or not wanted <= set(known):
        return latest_scores(store, run_id=run_id)
    columns = ", ".join(q(known[c]) for c in sorted(wanted))
    # Column names from the registry of score columns, quoted; the run id is bound.
    frame = store.sql(f"SELECT customer_id, {columns} FROM customer_scores "  # noqa: S608
                      "WHERE run_id = $run_id ORDER BY customer_id", {"run_id": run_id})
    return frame.set_index("customer_id").dropna(axis=1, how="all")


_SEGMENTS = _SegmentCache()


@dataclass(frozen=True)
class ViewContext:
    """What every view of one store as of one date shares: the date, the run, its settings.

    Made by :func:`view_context`. It stays valid while nothing writes to the store: a web
    app holding the file open (no writer can commit meanwhile) computes it once and passes
    it to every :func:`customer_view` until it lets the file go.

    ``pending`` is set only by ``view_context(..., wait_for_segments=False)`` while the
    custom segments of the run are still being computed: an event set when they are
    (``segment_members`` is empty until then and :func:`customer_view` refuses it).
    """

    as_of: dt.date
    run: dict[str, Any] | None
    thresholds: dict[str, Any]
    nps_item: str
    csat_item: str
    currency: str
    segment_members: dict[str, frozenset[str]]
    segment_notes: tuple[str, ...]
    contacts_recorded: bool = True
    pending: threading.Event | None = field(default=None, compare=False, repr=False)

    @property
    def run_id(self) -> str | None:
        """The id of the run whose scores the views show (None without one)."""
        return None if self.run is None else str(self.run["run_id"])

    @property
    def ready(self) -> bool:
        """True unless the custom segments of the run are still being computed."""
        return self.pending is None

    def custom_segments(self, customer_id: str) -> list[str]:
        """Names of the custom segments holding the customer in this run, sorted."""
        return sorted(n for n, ids in self.segment_members.items() if customer_id in ids)


def view_context(store: Store | str | os.PathLike, as_of: Any = None, *, run_id: str | None = None,
                 wait_for_segments: bool = True) -> ViewContext:
    """The date, run and settings shared by the views of ``store`` as of ``as_of``.

    ``as_of=None`` is the store's latest day with the latest successful run; a date
    takes the newest successful run as of that date or earlier (module docstring).
    The members of the custom segments in that run are computed here (once per run
    and set of definitions in a process).

    Parameters
    ----------
    store : Store or path
    as_of : date or str, optional
        The date of the views (default: the store's latest day).
    run_id : str, optional
        Show this successful run's scores instead (as of the date or earlier, with its
        scores still stored): a web app keeps showing the run it showed before while
        the custom segments of a newer one are computed.
    wait_for_segments : bool, default True
        False: when the custom segments of the run are not computed yet, compute them in
        a child process (of lower priority) and return at once a context that is not
        ``ready``.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> context = view_context(Store(":memory:"), "2024-06-30")
    >>> context.as_of, context.run, context.nps_item, context.ready
    (datetime.date(2024, 6, 30), None, 'nps', True)
    """
    with reading(store) as s:
        day = resolve_as_of(s, as_of)
        if day > dt.date.today():
            raise InputError(f"as_of {day} is in the future; a view shows what is known up to today")
        if run_id is not None:
            run = _chosen_run(s, run_id, day)
        else:
            run = _view_run(s, None if as_of is None else day)
        got = _SEGMENTS.members(s, run["run_id"], wait=wait_for_segments) if run is not None else ({}, [])
        # The store's contact history, looked at once: without any, views skip its query.
        recorded = s.has_table("contact_history") and bool(
            int(s.sql(load_query("campaigns/sql/history_size.sql"))["n"].iloc[0]))
    pending = got if isinstance(got, threading.Event) else None
    members, notes = ({}, []) if pending is not None else got
    config = run["config"] if run else {}
    thresholds = {"large_employees": int(config.get("large_employees", DEFAULT_THRESHOLDS.large_employees)),
                  "large_revenue": float(config.get("large_revenue", DEFAULT_THRESHOLDS.large_revenue))}
    return ViewContext(as_of=day, run=run, thresholds=thresholds,
                       nps_item=str(config.get("nps_item") or "nps"),
                       csat_item=str(config.get("csat_item") or "csat"),
                       currency=str(config.get("currency") or "EUR"),
                       segment_members=members, segment_notes=tuple(notes),
                       contacts_recorded=recorded, pending=pending)


class _HeldContexts:
    """View contexts kept per open read-only connection and date.

    While a read-only store holds its file open no writer can commit to it (DuckDB
    locks the file), so the context of the first view stays true for every later view
    on that connection: a warm process in ``store.session()`` works it out once. The
    entries go with their connection (weak references).
    """

    def __init__(self) -> None:
        self._by_connection: weakref.WeakKeyDictionary[Any, dict[Any, ViewContext]] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, store: Store, as_of: Any) -> ViewContext:
        if not store.read_only:  # this very store may write between two views
            return view_context(store, as_of)
        key = None if as_of is None else to_date(as_of)
        with store.connection() as con:  # the held connection (the caller is in a session)
            with self._lock:
                known = self._by_connection.get(con, {}).get(key)
            if known is None:
                known = view_context(store, as_of)
                with self._lock:
                    self._by_connection.setdefault(con, {})[key] = known
        return known


_CONTEXTS = _HeldContexts()


# -- the parts ----------------------------------------------------------------------------------
def _check_id(customer_id: Any) -> str:
    if isinstance(customer_id, (int, np.integer)) and not isinstance(customer_id, bool):
        customer_id = str(customer_id)
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise InputError(f"customer_id must be a non-empty text such as 'C000123'; got {customer_id!r}")
    if len(customer_id) > MAX_ID_CHARS:
        raise InputError(f"customer_id of {len(customer_id)} characters is too long (at most "
                         f"{MAX_ID_CHARS})")
    return customer_id.strip()


def _check_limit(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 10_000:
        raise InputError(f"The {name!r} parameter of customer_view must be an int in the range "
                         f"[0, 10000]. Got {value!r} instead.")
    return int(value)


class _Rows(list):
    """A query's rows as dicts, with its column names (known also when there is no row)."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        super().__init__(rows)
        self.columns = list(columns)


def _fetch(store: Store, name: str, params: dict[str, Any]) -> _Rows:
    """The rows of a query file as dicts, money (DECIMAL) as float.

    A part of a view holds a handful of rows: plain rows cost a fraction of what a
    DataFrame per query and pandas operations on it would (most of a view's time).
    """
    with store.connection() as con:
        cursor = con.execute(load_query(name), params)
        columns = [d[0] for d in cursor.description]
        money = {i for i, d in enumerate(cursor.description) if str(d[1]).startswith("DECIMAL")}
        rows = cursor.fetchall()
    if money:
        rows = [tuple(float(v) if i in money and v is not None else v for i, v in enumerate(r))
                for r in rows]
    return _Rows([dict(zip(columns, r, strict=True)) for r in rows], columns)


def _frame(rows: _Rows, columns: list[str] | tuple[str, ...] | None = None,
           limit: int | None = None) -> pd.DataFrame:
    """A DataFrame of (the first ``limit`` of) the rows, in ``columns`` (default: the query's)."""
    columns = list(rows.columns if columns is None else columns)
    kept = rows if limit is None else rows[:limit]
    return pd.DataFrame.from_records([tuple(r[c] for c in columns) for r in kept], columns=columns)


def _profile(row: dict[str, Any], day: dt.date, first_purchase: Any) -> dict[str, Any]:
    created = _value(row, "created_at")
    since = created if created is not None else first_purchase
    tenure = None if since is None else (day - pd.Timestamp(since).date()).days
    out = {k: _value(row, k) for k in ("customer_id", "name", "email", "phone", "customer_type",
                                        "size_band", "industry", "country", "region", "employees",
                                        "annual_revenue", "created_at", "marketing_opt_in")}
    out["customer_since"] = since
    out["tenure_days"] = tenure
    return out


def _trend(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Latest answer, the one before it, the change and its direction (rows newest first)."""
    if not rows:
        return {"latest": None, "answered_at": None, "previous": None, "change": None,
                "trend": None, "scale": None, "answers": 0}
    latest = rows[0]
    lo, hi = float(latest["scale_min"]), float(latest["scale_max"])
    out = {"latest": float(latest["score"]), "answered_at": latest["responded_at"],
           "previous": None, "change": None, "trend": "first answer",
           "scale": f"{lo:g}-{hi:g}", "answers": len(rows)}
    if len(rows) > 1:
        previous = float(rows[1]["score"])
        change = out["latest"] - previous
        step = TREND_SHARE * (hi - lo)
        out.update(previous=previous, change=change,
                   trend="improving" if change >= step else "declining" if change <= -step else "stable")
    return out


def _nps_class(score: float | None) -> str | None:
    if score is None:
        return None
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _satisfaction(answers: list[dict[str, Any]], nps_item: str, csat_item: str,
                  day: dt.date) -> dict[str, Any]:
    nps = _trend([a for a in answers if a["item"] == nps_item])
    nps["class"] = _nps_class(nps["latest"])
    csat = _trend([a for a in answers if a["item"] == csat_item])
    days_ago = None if nps["answered_at"] is None else (day - pd.Timestamp(nps["answered_at"]).date()).days
    return {"nps": nps, "csat": csat, "nps_item": nps_item, "csat_item": csat_item,
            "nps_days_ago": days_ago}


def _ticket_summary(tickets: list[dict[str, Any]], day: dt.date) -> dict[str, Any]:
    since = cutoff(day) - dt.timedelta(days=365)
    open_ = [t for t in tickets if t["status"] == "open"]
    return {
        "tickets": len(tickets),
        "open": len(open_),
        "open_complaints": sum(1 for t in open_ if t["is_complaint"]),
        "complaints_365d": sum(1 for t in tickets if t["is_complaint"] and t["opened_at"] is not None
                               and t["opened_at"] >= since),
        "sla_breached": sum(1 for t in tickets if t["sla_status"] == "breached"),
        "open_breached": sum(1 for t in open_ if t["sla_status"] == "breached"),
        "due_soon": sum(1 for t in tickets if t["sla_status"] == "due_soon"),
        "reopened": sum(1 for t in tickets if t["reopened"]),
    }


def _totals(years: list[dict[str, Any]]) -> dict[str, Any]:
    """Purchase totals over the per-year rows of ``customer_purchases.sql``."""
    if not years:
        return {"revenue_lifetime": 0.0, "transactions": 0, "revenue_365d": 0.0, "transactions_365d": 0,
                "refunds": 0, "refund_amount": 0.0, "first_purchase_at": None, "last_purchase_at": None}
    return {
        "revenue_lifetime": float(sum(y["revenue"] for y in years)),
        "transactions": int(sum(y["transactions"] for y in years)),
        "revenue_365d": float(sum(y["revenue_365d"] for y in years)),
        "transactions_365d": int(sum(y["transactions_365d"] for y in years)),
        "refunds": int(sum(y["refunds"] for y in years)),
        "refund_amount": float(sum(y["refund_amount"] for y in years)),
        "first_purchase_at": min(y["first_purchase_at"] for y in years),
        "last_purchase_at": max(y["last_purchase_at"] for y in years),
    }


def _score_notes(run: dict[str, Any] | None, scores: dict[str, Any], day: dt.date) -> list[str]:
    if run is None:
        return [f"no successful scoring run as of {day} or earlier: value, churn and segment "
                "scores are not available (run `crm-analytics score`)"]
    notes = []
    if run["as_of"] != day:
        notes.append(f"scores are from run {run['run_id']} as of {run['as_of']}; the tables are "
                     f"shown as of {day}")
    if not scores:
        notes.append(f"run {run['run_id']} has no scores for this customer (created after the "
                     "run, or its scores were pruned)")
    elif _value(scores, "churn_probability") is None and "churn" in run["config"].get("steps", ["churn"]):
        notes.append("no churn score: not in the run's churn population (no purchase within "
                     "churn_active_days), or the churn step was skipped")
    return notes


def customer_view(store: Store | str | os.PathLike, customer_id: str, as_of: Any = None, *,
                  max_transactions: int = 10, max_tickets: int = 20, max_answers: int = 5,
                  context: ViewContext | None = None) -> CustomerView:
    """Everything about one customer in one call: profile, value, churn, segments, history.

    Parameters
    ----------
    store : Store or path
        The store (a path is opened read-only). All parts are read on one
        connection: one consistent snapshot.
    customer_id : str
        The customer's id (see :func:`crm_analytics.find_customers` to find it).
    as_of : date or str, optional
        The date the view is as of (inclusive). Default: the store's latest day;
        the module docstring says which run's scores are shown.
    max_transactions, max_tickets, max_answers : int
        Most recent transactions (default 10), tickets (20, open ones first) and
        answers per survey item (5) listed; totals count them all.
    context : ViewContext, optional
        The date, run and settings from :func:`view_context`, to reuse across many views
        while the store is not written (a web app does); default: computed here, or
        kept from an earlier view on the same connection of a read-only store held in
        ``store.session()`` (no writer can commit while it is held).

    Returns
    -------
    CustomerView
        ``profile`` (cleansed contact data, type, size band, industry, region,
        tenure, consent); ``value`` (net revenue last 365 days and lifetime,
        refunds, CLV, revenue potential and code, P(alive)) and
        ``revenue_by_year``; ``churn`` (probability, risk band, revenue at risk,
        three reasons in words); ``segments`` (size, needs, RFM, value tier and
        the custom segments holding the customer); ``transactions`` (newest
        first, ``is_refund`` marks refunds); ``tickets`` (open first, SLA status
        ``met`` / ``breached`` / ``due_soon`` / ``pending`` / ``no_sla``) and
        ``ticket_summary``; ``satisfaction`` (latest NPS and CSAT, the answer
        before, the trend) and ``survey_answers``; ``contact_history`` (recorded
        exports, newest first; empty and "not recorded yet" before any export);
        ``next_best_action`` (see
        :mod:`crm_analytics.customers.actions`); ``notes``.

    Raises
    ------
    UnknownCustomerError
        No customer with that id, or it was created after ``as_of``.
    InputError
        A bad id, date or limit, or ``as_of`` in the future.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({
    ...     "customer_id": ["C1"], "name": ["Zoë Lee"], "customer_type": ["consumer"],
    ...     "marketing_opt_in": ["no"], "created_at": ["2024-01-01"]}))
    >>> _ = store.load("transactions", pd.DataFrame({
    ...     "transaction_id": ["T1", "T2"], "customer_id": ["C1", "C1"],
    ...     "transaction_date": ["2024-03-01", "2024-03-05"], "amount": ["80", "-20"]}))
    >>> view = customer_view(store, "C1", as_of="2024-06-30")
    >>> view.value["revenue_365d"], view.value["refunds"], view.profile["tenure_days"]
    (60.0, 1, 181)
    >>> view.transactions[["transaction_id", "amount", "is_refund"]]
      transaction_id  amount  is_refund
    0             T2   -20.0       True
    1             T1    80.0      False
    >>> str(view.next_best_action)
    'No special action: keep in the regular programme (otherwise); no marketing: no marketing consent'
    """
    cid = _check_id(customer_id)
    limits = {n: _check_limit(n, v) for n, v in (("max_transactions", max_transactions),
                                                  ("max_tickets", max_tickets),
                                                  ("max_answers", max_answers))}
    with reading(store) as s:
        if context is None:
            context = _CONTEXTS.get(s, as_of)
        elif as_of is not None and to_date(as_of) != context.as_of:
            raise InputError(f"as_of {to_date(as_of)} differs from the context's {context.as_of}; "
                             "pass one of them")
        if not context.ready:
            raise InputError("the context's custom segments are still being computed; wait for "
                             "context.pending, or make it with view_context(..., wait_for_segments=True)")
        day, run = context.as_of, context.run
        found = _fetch(s, "customers/sql/customer_profile.sql",
                       {"customer_id": cid, "run_id": context.run_id, **context.thresholds})
        if not found:
            raise UnknownCustomerError(f"no customer {cid!r} in {s.path}; look the customer up with "
                                       "find_customers (CLI: crm-analytics customer --name ...)")
        row = found[0]
        end = cutoff(day)
        created = _value(row, "created_at")
        if created is not None and pd.Timestamp(created) >= pd.Timestamp(end):
            raise UnknownCustomerError(f"customer {cid!r} was created on {pd.Timestamp(created).date()}, "
                                       f"after as_of {day}")
        reference = min(end, dt.datetime.now(dt.UTC).replace(tzinfo=None))
        key = {"customer_key": int(row["customer_key"]), "customer_id": cid, "cutoff": end}
        years = _fetch(s, "customers/sql/customer_purchases.sql",
                       {**key, "start": end - dt.timedelta(days=365)})
        transactions = _fetch(s, "customers/sql/customer_transactions.sql",
                              {**key, "limit": limits["max_transactions"]})
        tickets = _fetch(s, "customers/sql/customer_tickets.sql",
                         {**key, "reference": reference, "due_soon_hours": DUE_SOON_HOURS})
        answers = _fetch(s, "customers/sql/customer_answers.sql",
                         {**key, "nps_item": context.nps_item, "csat_item": context.csat_item,
                          "limit": limits["max_answers"]})
        if context.contacts_recorded:
            contacts, contacts_recorded, contacts_note = customer_contacts(s, cid, end)
        else:  # what customer_contacts says of a store without contact history, without asking it
            contacts = pd.DataFrame(columns=list(CONTACT_HISTORY_COLUMNS))
            contacts_recorded, contacts_note = False, CONTACT_HISTORY_NOTE
    scores = row if _value(row, "scored_run_id") is not None else {}
    custom = context.custom_segments(cid) if scores else []
    segment_notes = list(context.segment_notes) if scores else []
    purchases = _totals(years)
    by_year = _frame(years, ("year", "revenue", "transactions", "refunds"))
    nps_item, csat_item = context.nps_item, context.csat_item
    first = purchases["first_purchase_at"]
    value = {
        "revenue_365d": purchases["revenue_365d"],
        "transactions_365d": purchases["transactions_365d"],
        "revenue_lifetime": purchases["revenue_lifetime"],
        "transactions": purchases["transactions"],
        "refunds": purchases["refunds"],
        "refund_amount": purchases["refund_amount"],
        "first_purchase_at": first,
        "last_purchase_at": purchases["last_purchase_at"],
        **{k: _value(scores, k) for k in _VALUE_SCORES},
    }
    reasons = [r for r in (_value(scores, f"reason_{i}") for i in (1, 2, 3)) if r]
    churn = {**{k: _value(scores, k) for k in _CHURN_SCORES}, "reasons": reasons}
    segments = {**{k: _value(scores, k) for k in _SEGMENT_SCORES}, "custom": custom}
    satisfaction = _satisfaction(answers, nps_item, csat_item, day)
    summary = _ticket_summary(tickets, day)
    profile = _profile(row, day, first)
    nps = satisfaction["nps"]
    facts = ActionFacts(
        open_complaints=summary["open_complaints"], open_breached=summary["open_breached"],
        risk_band=churn["risk_band"], value_tier=segments["value_tier"],
        detractor_days_ago=satisfaction["nps_days_ago"] if nps["class"] == "detractor" else None,
        revenue_potential_code=value["revenue_potential_code"],
        marketing_opt_in=profile["marketing_opt_in"],
    )
    return CustomerView(
        customer_id=cid, as_of=day, run_id=context.run_id,
        run_as_of=run["as_of"] if run else None, currency=context.currency,
        profile=profile, value=value, revenue_by_year=by_year, churn=churn, segments=segments,
        transactions=_frame(transactions),
        tickets=_frame(tickets, limit=limits["max_tickets"]),
        ticket_summary=summary, satisfaction=satisfaction,
        survey_answers=_frame(answers),
        next_best_action=next_best_action(facts),
        contact_history=contacts, contact_history_note=contacts_note,
        contact_history_recorded=contacts_recorded,
        notes=[*_score_notes(run, scores, day), *segment_notes],
    )
