"""Subscriptions as of a date, and their lifetimes in whole billing periods.

Every statistic of this package starts from one table, the **lifetimes** of
:func:`subscription_lifetimes`: one row per subscription known as of a date,
with its cohort (the period it started in) and

``duration``
    for an ended subscription, the number of periods it paid for (a started
    period counts: ended 10 days into its third month is 3); for an active one,
    the number of periods completed by the cutoff (the renewals it has made);
``event``
    True when it ended on or before ``as_of`` (a cancellation), False when it
    is still active as of then (censored);
``age``
    the periods completed between its start and the cutoff, ended or not (how
    far the data let us follow it: a cohort cell at period ``k`` is observed for
    the subscriptions with ``age >= k``).

In the shifted-beta-geometric model's terms (:mod:`.sbg`), an ended
subscription has lifetime ``T = duration`` and an active one ``T > duration``.
Months are calendar months (2024-01-31 + 1 month = 2024-02-29, as pandas'
``DateOffset``); weeks and days are fixed lengths.

Subscriptions come from the ``subscriptions`` table of the store, from a
DataFrame with its columns, or are derived from a Telco-style customer table
holding a tenure and a churn flag (:func:`subscriptions_from_tenure`,
:func:`subscriptions_from_attributes`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.core.timeutils import cutoff as cutoff_of
from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError
from crm_analytics.store import Store, load_query
from crm_analytics.store.schema import BILLING_PERIODS, SUBSCRIPTIONS

__all__ = [
    "PERIODS",
    "amount_per_period",
    "attach",
    "subscription_lifetimes",
    "subscriptions_from_attributes",
    "subscriptions_from_tenure",
]

#: Units of analysis: months in a period (calendar arithmetic), or days in one.
PERIODS: dict[str, tuple[str, float]] = {
    "day": ("days", 1.0),
    "week": ("days", 7.0),
    "month": ("months", 1.0),
    "quarter": ("months", 3.0),
    "year": ("months", 12.0),
}
# Average length in days, to convert an amount billed per one period into another.
_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}
_PANDAS_FREQ = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
_TRUE = {"yes", "y", "true", "t", "1", "1.0", "churned", "churn"}
_FALSE = {"no", "n", "false", "f", "0", "0.0", "active", "retained"}


def check_period(period: Any, owner: str = "subscription_lifetimes") -> str:
    """``period`` if it is one of :data:`PERIODS`, else an InputError naming the choices."""
    if period not in PERIODS:
        raise InputError(f"{owner}: period must be one of {', '.join(PERIODS)}; got {period!r}")
    return str(period)


# --------------------------------------------------------------------------- calendar arithmetic
def add_months(ts: pd.Series, months: np.ndarray | int) -> pd.Series:
    """``ts`` plus a whole number of calendar months, clipped to the month's last day.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2024-01-31 10:00", "2024-03-15 00:00"]))
    >>> add_months(s, 1).dt.strftime("%Y-%m-%d %H:%M").tolist()
    ['2024-02-29 10:00', '2024-04-15 00:00']
    """
    values = pd.to_datetime(ts).to_numpy(dtype="datetime64[ns]")
    k = np.broadcast_to(np.asarray(months, dtype=np.int64), values.shape)
    month = values.astype("datetime64[M]")
    day = values.astype("datetime64[D]")
    day_index = (day - month.astype("datetime64[D]")).astype(np.int64)
    time_of_day = values - day.astype("datetime64[ns]")
    target = month + k
    days_in = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    out = (target.astype("datetime64[D]") + np.minimum(day_index, days_in - 1)).astype(
        "datetime64[ns]") + time_of_day
    return pd.Series(out, index=ts.index)


def complete_periods(start: pd.Series, end: pd.Series, period: str) -> tuple[np.ndarray, np.ndarray]:
    """(whole periods from ``start`` to ``end``, whether a started period remains).

    Examples
    --------
    >>> start = pd.Series(pd.to_datetime(["2024-01-31", "2024-01-01", "2024-01-01"]))
    >>> end = pd.Series(pd.to_datetime(["2024-02-29", "2024-03-11", "2024-01-01"]))
    >>> whole, partial = complete_periods(start, end, "month")
    >>> whole.tolist(), partial.tolist()
    ([1, 2, 0], [False, True, False])
    """
    unit, size = PERIODS[period]
    s = pd.to_datetime(start)
    e = pd.to_datetime(end)
    if unit == "days":
        days = (e - s).to_numpy(dtype="timedelta64[ns]") / np.timedelta64(1, "D")
        whole = np.floor(days / size).astype(np.int64)
        boundary = s + pd.to_timedelta(whole * size, unit="D")
    else:
        months = ((e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month)).to_numpy(np.int64)
        over = (add_months(s, months) > e).to_numpy()
        months = months - over
        whole = np.floor_divide(months, int(size))
        boundary = add_months(s, whole * int(size))
    whole = np.maximum(whole, 0)
    partial = (e.to_numpy() > boundary.to_numpy())
    return whole, partial


def amount_per_period(amount: Any, billing_period: Any, period: str) -> np.ndarray:
    """An amount billed per ``billing_period`` expressed per ``period`` (by average lengths).

    Examples
    --------
    >>> amount_per_period([120.0, 10.0], ["year", "month"], "month").round(2).tolist()
    [10.0, 10.0]
    """
    amounts = np.asarray(amount, dtype=float)
    billed = pd.Series(np.asarray(billing_period, dtype=object)).map(_DAYS).to_numpy(dtype=float)
    return amounts * _DAYS[period] / billed


# --------------------------------------------------------------------------- reading
def _contract_frame(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """A DataFrame with the subscriptions contract columns, checked and typed."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what}: expected a Store or a DataFrame of subscriptions; got "
                         f"{type(frame).__name__}")
    required = [c.name for c in SUBSCRIPTIONS.columns if c.required]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: required column(s) {missing} missing; found {list(frame.columns)} "
                         "(rename them, or load the data with store.load('subscriptions', ...))")
    out = frame.copy()
    for col in ("plan", "ended_at", "recurring_amount"):
        if col not in out.columns:
            out[col] = np.nan if col == "recurring_amount" else None
    ids = out["subscription_id"].astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(f"{what}: column subscription_id has {len(dup)} duplicate entries "
                         f"(e.g. subscription_id={dup.iloc[0]!r}); keep one row per subscription")
    for col in ("started_at", "ended_at"):
        parsed = pd.to_datetime(out[col], errors="coerce", utc=True).dt.tz_localize(None)
        bad = parsed.isna() & out[col].notna() & (out[col].astype(str).str.strip() != "")
        if col == "started_at":
            bad |= parsed.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{what}: row {row} column {col}: {out[col].iloc[row]!r} is not a date "
                             "(use YYYY-MM-DD; or load through store.load, which quarantines it)")
        out[col] = parsed
    periods = out["billing_period"].astype(str).str.strip().str.lower().map(BILLING_PERIODS)
    if periods.isna().any():
        row = int(np.flatnonzero(periods.isna().to_numpy())[0])
        raise InputError(f"{what}: row {row} column billing_period: {out['billing_period'].iloc[row]!r} "
                         f"is not one of {'/'.join(sorted(set(BILLING_PERIODS.values())))}")
    out["billing_period"] = periods
    amount = pd.to_numeric(out["recurring_amount"], errors="coerce")
    if (amount < 0).any():
        row = int(np.flatnonzero((amount < 0).to_numpy())[0])
        raise InputError(f"{what}: row {row} column recurring_amount: {amount.iloc[row]} is negative")
    out["recurring_amount"] = amount.astype(float)
    early = out["ended_at"].notna() & (out["ended_at"] < out["started_at"])
    if early.any():
        row = int(np.flatnonzero(early.to_numpy())[0])
        raise InputError(f"{what}: {int(early.sum())} subscription(s) end before they start (e.g. "
                         f"subscription_id={ids.iloc[row]!r}); fix ended_at or drop the row")
    out["subscription_id"] = ids
    out["customer_id"] = out["customer_id"].astype(str)
    return out[SUBSCRIPTIONS.column_names]


def _read_store(store: Store, cutoff: dt.datetime) -> pd.DataFrame:
    if "subscriptions" not in store.tables():
        raise InputError(f"{store.path}: the store has no subscriptions table (written by an older "
                         "crm_analytics); open it once for writing (`crm-analytics init`) to add it")
    return store.sql(load_query("subscriptions/sql/subscriptions_as_of.sql"), {"cutoff": cutoff})


def subscription_lifetimes(source: Store | pd.DataFrame, as_of: Any = None, *,
                           period: str = "month") -> pd.DataFrame:
    """One row per subscription as of a date: cohort, lifetime in periods, cancelled or not.

    Parameters
    ----------
    source : Store or DataFrame
        The store (its ``subscriptions`` table) or a DataFrame with the contract's
        columns (``subscription_id, customer_id, started_at, billing_period``;
        ``plan, ended_at, recurring_amount`` optional).
    as_of : date, optional
        Only what is known on that day counts: later starts are left out, later
        ends are not known yet. Default: the store's :func:`~crm_analytics.store.default_as_of`
        (for a DataFrame: the latest start or end in it).
    period : {'month', 'day', 'week', 'quarter', 'year'}
        The unit of ``duration``, ``age`` and ``cohort``.

    Returns
    -------
    DataFrame
        The contract columns, then ``cohort`` (the start's period, as text),
        ``duration``, ``event``, ``age`` (see the module notes) and
        ``amount_per_period`` (the recurring amount per ``period``). ``attrs`` holds
        ``as_of`` and ``period``.

    Examples
    --------
    >>> subs = pd.DataFrame({"subscription_id": ["S1", "S2", "S3"], "customer_id": ["C1", "C2", "C3"],
    ...     "started_at": ["2024-01-15", "2024-01-20", "2024-03-02"],
    ...     "ended_at": ["2024-03-20", None, "2024-06-01"], "billing_period": "month",
    ...     "recurring_amount": [10.0, 20.0, 10.0]})
    >>> life = subscription_lifetimes(subs, "2024-04-30")
    >>> life[["subscription_id", "cohort", "duration", "event", "age"]]
      subscription_id   cohort  duration  event  age
    0              S1  2024-01         3   True    3
    1              S2  2024-01         3  False    3
    2              S3  2024-03         1  False    1
    """
    check_period(period)
    if isinstance(source, Store):
        if as_of is None:
            from crm_analytics.store import default_as_of

            as_of = default_as_of(source)
        day = to_date(as_of)
        raw = _read_store(source, cutoff_of(day))
        frame = _contract_frame(raw, "subscriptions")
    else:
        frame = _contract_frame(source, "subscriptions")
        if as_of is None:
            last = pd.concat([frame["started_at"], frame["ended_at"]]).max()
            if pd.isna(last):
                raise InputError("subscriptions: no dates to take as_of from; pass as_of=")
            as_of = pd.Timestamp(last).date()
        day = to_date(as_of)
        cut = pd.Timestamp(cutoff_of(day))
        frame = frame[frame["started_at"] < cut].copy()
        frame.loc[frame["ended_at"] >= cut, "ended_at"] = pd.NaT
    cut = pd.Timestamp(cutoff_of(day))
    frame = frame.reset_index(drop=True)
    frame["started_at"] = pd.to_datetime(frame["started_at"]).astype("datetime64[ns]")
    frame["ended_at"] = pd.to_datetime(frame["ended_at"]).astype("datetime64[ns]")
    event = frame["ended_at"].notna()
    end = frame["ended_at"].where(event, cut)
    whole, partial = complete_periods(frame["started_at"], end, period)
    age, _ = complete_periods(frame["started_at"], pd.Series(cut, index=frame.index), period)
    frame["cohort"] = frame["started_at"].dt.to_period(_PANDAS_FREQ[period]).astype(str)
    frame["duration"] = np.where(event, whole + partial, whole).astype(np.int64)
    frame["event"] = event.to_numpy(dtype=bool)
    frame["age"] = age.astype(np.int64)
    frame["amount_per_period"] = amount_per_period(frame["recurring_amount"], frame["billing_period"],
                                                   period)
    frame.attrs.update({"as_of": str(day), "period": period})
    return frame


def attach(lifetimes: pd.DataFrame, table: pd.DataFrame | pd.Series,
           columns: list[str] | str | None = None) -> pd.DataFrame:
    """Add per-customer columns (segments, scores, attributes) to the lifetimes.

    ``table`` is indexed by ``customer_id`` (as :func:`crm_analytics.latest_scores`
    returns) or has a ``customer_id`` column. A customer missing from it gets NaN.

    Examples
    --------
    >>> life = pd.DataFrame({"subscription_id": ["S1", "S2"], "customer_id": ["C1", "C2"]})
    >>> scores = pd.DataFrame({"risk_band": ["high"]}, index=pd.Index(["C2"], name="customer_id"))
    >>> attach(life, scores, "risk_band")["risk_band"].tolist()
    [nan, 'high']
    """
    if isinstance(table, pd.Series):
        table = table.to_frame(table.name or "value")
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"attach: table must be a DataFrame or Series; got {type(table).__name__}")
    if "customer_id" in table.columns:
        table = table.set_index("customer_id")
    cols = [columns] if isinstance(columns, str) else list(columns or table.columns)
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise InputError(f"attach: column(s) {missing} not in the table; it has {list(table.columns)}")
    clash = [c for c in cols if c in lifetimes.columns]
    if clash:
        raise InputError(f"attach: column(s) {clash} already in the lifetimes; drop or rename them")
    lookup = table[cols]
    lookup.index = lookup.index.astype(str)
    lookup = lookup[~lookup.index.duplicated()]
    out = lifetimes.join(lookup, on="customer_id")
    out.attrs.update(lifetimes.attrs)
    return out


# --------------------------------------------------------------------------- derivation
def _flag(values: pd.Series, column: str) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"column {column} row {row}: {values.iloc[row]!r} is not a churn flag "
                         "(Yes/No, true/false, 1/0)")
    return text.isin(_TRUE).to_numpy()


def subscriptions_from_tenure(
    frame: pd.DataFrame, as_of: Any, *, customer_id: str = "customer_id", tenure: str = "tenure",
    churn: str = "churn", plan: str | None = None, amount: str | None = None,
    billing_period: str = "month",
) -> pd.DataFrame:
    """Subscriptions derived from a customer table with a tenure and a churn flag (Telco-style).

    Such exports (IBM's Telco data: ``tenure`` in months, ``Churn`` Yes/No) are a
    snapshot on one date: a customer with tenure ``t`` started ``t`` billing periods
    before ``as_of``; a churned one ended ``t`` periods after its start (on ``as_of``,
    or a day or two before when the start was clipped to a month's end), having paid
    ``t`` periods.
    With ``period=billing_period``, :func:`subscription_lifetimes` as of ``as_of``
    gives back ``duration == tenure`` and ``event == churn`` exactly.

    Parameters
    ----------
    frame : DataFrame
        One row per customer.
    as_of : date
        The day the snapshot was taken.
    customer_id, tenure, churn : str
        Columns holding the id, the whole number of periods and the churn flag
        (Yes/No, true/false, 1/0).
    plan, amount : str, optional
        Columns giving the plan (Telco: ``Contract``) and the amount per period
        (Telco: ``MonthlyCharges``).
    billing_period : {'month', 'week', 'quarter', 'year'}
        The unit of ``tenure``.

    Returns
    -------
    DataFrame
        The ``subscriptions`` contract columns (``subscription_id`` = ``customer_id``),
        ready for ``store.load('subscriptions', ...)`` or :func:`subscription_lifetimes`.

    Examples
    --------
    >>> telco = pd.DataFrame({"customerID": ["A", "B"], "tenure": [3, 0], "Churn": ["Yes", "No"]})
    >>> subs = subscriptions_from_tenure(telco, "2024-06-30", customer_id="customerID", churn="Churn")
    >>> subs["started_at"].dt.strftime("%Y-%m-%d").tolist(), subs["ended_at"].isna().tolist()
    (['2024-03-30', '2024-06-30'], [False, True])
    >>> life = subscription_lifetimes(subs, "2024-06-30")
    >>> life["duration"].tolist(), life["event"].tolist()
    ([3, 0], [True, False])
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"subscriptions_from_tenure: expected a DataFrame; got {type(frame).__name__}")
    if billing_period not in ("week", "month", "quarter", "year"):
        raise InputError("subscriptions_from_tenure: billing_period must be week, month, quarter or "
                         f"year; got {billing_period!r}")
    wanted = [customer_id, tenure, churn] + [c for c in (plan, amount) if c is not None]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(f"subscriptions_from_tenure: column(s) {missing} missing; found "
                         f"{list(frame.columns)} (name them with customer_id=, tenure=, churn=, ...)")
    periods = pd.to_numeric(frame[tenure].astype(str).str.strip(), errors="coerce")
    bad = periods.isna() | (periods < 0) | (periods != np.floor(periods))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"subscriptions_from_tenure: column {tenure} row {row}: "
                         f"{frame[tenure].iloc[row]!r} is not a whole number of periods >= 0")
    churned = _flag(frame[churn], churn)
    day = pd.Timestamp(to_date(as_of))
    ids = frame[customer_id].astype(str).str.strip()
    t = periods.to_numpy(dtype=np.int64)
    unit, size = PERIODS[billing_period]
    at = pd.Series(day, index=frame.index)
    if unit == "days":
        started = at - pd.to_timedelta(t * size, unit="D")
        ended = started + pd.to_timedelta(t * size, unit="D")
    else:
        # Exactly t periods after the start (a month-end start, 2024-02-29, ends on the 29th).
        started = add_months(at, -t * int(size))
        ended = add_months(started, t * int(size))
    out = pd.DataFrame({
        "subscription_id": ids.to_numpy(),
        "customer_id": ids.to_numpy(),
        "plan": frame[plan].astype(str).to_numpy() if plan else None,
        "started_at": started.to_numpy(),
        "ended_at": ended.where(churned).to_numpy(dtype="datetime64[ns]"),
        "billing_period": billing_period,
        "recurring_amount": pd.to_numeric(frame[amount], errors="coerce").to_numpy() if amount else np.nan,
    })
    return out


def subscriptions_from_attributes(
    store: Store, as_of: Any, *, tenure: str = "tenure", churn: str = "churn",
    plan: str | None = "contract", amount: str | None = "monthlycharges", billing_period: str = "month",
) -> pd.DataFrame:
    """:func:`subscriptions_from_tenure` on the extra columns of a loaded customers file.

    A Telco-style file loaded as ``customers`` keeps its other columns in
    ``customer_attributes`` under normalised names (``tenure``, ``churn``,
    ``contract``, ``monthlycharges``); this reads them back and derives the
    subscriptions (to load with ``store.load('subscriptions', ...)``).

    Examples
    --------
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["A", "B"], "tenure": ["5", "12"],
    ...     "Churn": ["No", "Yes"], "Contract": ["Month-to-month", "One year"],
    ...     "MonthlyCharges": ["20.5", "70"]}))
    >>> subs = subscriptions_from_attributes(store, "2024-06-30")
    >>> subs[["subscription_id", "plan", "recurring_amount"]].values.tolist()
    [['A', 'Month-to-month', 20.5], ['B', 'One year', 70.0]]
    """
    names = [n for n in (tenure, churn, plan, amount) if n is not None]
    rows = store.sql(load_query("subscriptions/sql/tenure_attributes.sql"), {"names": names})
    if rows.empty:
        raise InputError(f"{store.path}: no customer attributes named {names}; load the customers file "
                         "with its tenure and churn columns (they are kept in customer_attributes)")
    wide = rows.pivot(index="customer_id", columns="name", values="value").reset_index()
    missing = [n for n in names if n not in wide.columns]
    if missing:
        raise InputError(f"{store.path}: customer attribute(s) {missing} not found; the customers file "
                         f"has {sorted(set(rows['name']))} among those asked for")
    wide = wide.dropna(subset=[tenure, churn])
    return subscriptions_from_tenure(wide, as_of, tenure=tenure, churn=churn, plan=plan, amount=amount,
                                     billing_period=billing_period)
