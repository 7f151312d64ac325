"""Reading satisfaction data from the store: as-of dates, cells, periods, survey answers.

The satisfaction functions that take a :class:`~crm_analytics.Store` share the rules
kept here:

* ``as_of`` is inclusive (see :mod:`crm_analytics.core.timeutils`); ``None`` means the last day
  with ticket or survey activity in the store, so a call without a date is reproducible.
* Cells are up to three *dimensions*: customer attributes (``region``,
  ``customer_type``, ``industry``, ``size_band``, ``country``) and, for tickets, ticket
  attributes (``priority``, ``channel``, ``category``). They are bound as parameters and
  picked inside the SQL, never formatted into it.
* A period (``"month"``, ``"quarter"``, ``"year"``) becomes a column of that name
  holding the period's first day.

The queries live in ``satisfaction/sql/``, one per file.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from crm_analytics.core.timeutils import as_of_params, to_date
from crm_analytics.errors import DataQualityWarning, InputError
from crm_analytics.store import Store
from crm_analytics.store.asof import resolve_as_of as store_resolve_as_of
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS, SizeThresholds, customer_attributes
from crm_analytics.store.queries import load_query

__all__ = ["CUSTOMER_DIMENSIONS", "PERIODS", "TICKET_DIMENSIONS", "SurveyResponses",
           "resolve_as_of", "survey_inventory", "survey_wide"]

CUSTOMER_DIMENSIONS = ("region", "customer_type", "industry", "size_band", "country")
TICKET_DIMENSIONS = ("priority", "channel", "category")
PERIODS = ("month", "quarter", "year")
MAX_DIMENSIONS = 3
_PANDAS_PERIOD = {"month": "M", "quarter": "Q", "year": "Y"}


class SurveyResponses(NamedTuple):
    """Answers in wide form and the scale of each item (from ``survey_wide``).

    Unpacks as ``responses, scale = survey_wide(store)``.
    """

    responses: pd.DataFrame
    scale: dict[str, tuple[float, float]]


def query(name: str) -> str:
    """Text of ``crm_analytics/satisfaction/sql/<name>``."""
    return load_query(f"satisfaction/sql/{name}")


def check_store(store: Any, func: str) -> None:
    if not isinstance(store, Store):
        raise InputError(f"{func} needs a crm_analytics.Store as its first argument; got "
                         f"{type(store).__name__}. Open one with crm_analytics.Store(path).")


def resolve_as_of(store: Store, as_of: Any) -> dt.date:
    """``as_of`` as a date; ``None`` gives the store's default (:func:`crm_analytics.store.default_as_of`).

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> resolve_as_of(demo_store(), None)
    datetime.date(2024, 6, 20)
    """
    return store_resolve_as_of(store, as_of)


def cutoff_params(store: Store, as_of: Any) -> tuple[dt.date, dict[str, Any]]:
    """The resolved as-of date and its bound parameters ``$as_of`` and ``$cutoff``."""
    day = resolve_as_of(store, as_of)
    return day, as_of_params(day)


def as_list(value: str | Sequence[str] | None, name: str = "by") -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not all(isinstance(v, str) for v in value):
        raise InputError(f"The {name!r} parameter must be a column name or a list of them. "
                         f"Got {value!r} instead.")
    return list(value)


def dimension_params(by: str | Sequence[str] | None,
                     allowed: Sequence[str] = CUSTOMER_DIMENSIONS) -> tuple[list[str], dict]:
    """Validate ``by`` and bind it as ``$by_1 .. $by_3``."""
    names = as_list(by)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InputError(f"The 'by' parameter must name up to {MAX_DIMENSIONS} of "
                         f"{list(allowed)}. Got {unknown[0]!r} instead.")
    if len(names) > MAX_DIMENSIONS or len(set(names)) < len(names):
        raise InputError(f"The 'by' parameter must name up to {MAX_DIMENSIONS} distinct "
                         f"columns. Got {names!r} instead.")
    padded = names + [None] * (MAX_DIMENSIONS - len(names))
    return names, {f"by_{k + 1}": v for k, v in enumerate(padded)}


def period_param(period: str | None) -> dict[str, Any]:
    if period is not None and period not in PERIODS:
        raise InputError(f"The 'period' parameter must be one of {list(PERIODS)} or None. "
                         f"Got {period!r} instead.")
    return {"period": period}


def size_params(thresholds: SizeThresholds) -> dict[str, Any]:
    if not isinstance(thresholds, SizeThresholds):
        raise InputError("The 'thresholds' parameter must be a "
                         "crm_analytics.store.attributes.SizeThresholds. Got "
                         f"{type(thresholds).__name__} instead.")
    return thresholds.params()


def name_cells(frame: pd.DataFrame, names: list[str], period: str | None) -> pd.DataFrame:
    """Rename ``group_k``/``period_start`` to the caller's names and drop unused ones."""
    unused = [f"group_{k + 1}" for k in range(len(names), MAX_DIMENSIONS)]
    frame = frame.drop(columns=unused + ([] if period else ["period_start"]))
    mapping = {f"group_{k + 1}": n for k, n in enumerate(names)}
    if period:
        mapping["period_start"] = period
    return frame.rename(columns=mapping)


def survey_inventory(store: Store, as_of: Any = None) -> pd.DataFrame:
    """Survey items in the store as of a date: answers, respondents and scales.

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> survey_inventory(demo_store())[["survey", "item", "n_answers"]]
      survey       item  n_answers
    0   csat       csat          4
    1   ecsi  quality_1          3
    2   ecsi  quality_2          1
    3    nps        nps          5
    """
    check_store(store, "survey_inventory")
    _, params = cutoff_params(store, as_of)
    return store.sql(query("survey_inventory.sql"), {"cutoff": params["cutoff"]})


def describe_inventory(inventory: pd.DataFrame) -> str:
    """One line naming the surveys and items found, for error messages."""
    if inventory.empty:
        return "the store has no survey answers up to that date"
    parts = []
    for survey, rows in inventory.groupby(inventory["survey"].fillna("<none>"), sort=True):
        items = [f"{i} ({n})" for i, n in zip(rows["item"], rows["n_answers"], strict=True)]
        more = f", ... {len(items) - 6} more" if len(items) > 6 else ""
        parts.append(f"survey {survey!r}: {', '.join(items[:6])}{more}")
    return "found " + "; ".join(parts) + " (answers in brackets)"


def item_answers(store: Store, item: str, *, as_of: Any, since: Any = None,
                 by: str | Sequence[str] | None = None, period: str | None = None,
                 thresholds: SizeThresholds = DEFAULT_THRESHOLDS,
                 scale: tuple[float, float] | None = None, func: str) -> pd.DataFrame:
    """Answer counts of one item per cell and score (``survey_cells.sql``), checked.

    Raises a clear error when the item has no answers in the window, or (with ``scale``)
    when some answers are on another scale.
    """
    check_store(store, func)
    if not isinstance(item, str):
        raise InputError(f"The survey item must be a string such as 'nps'. Got {item!r}.")
    names, dims = dimension_params(by)
    day, params = cutoff_params(store, as_of)
    since_ts = None if since is None else pd.Timestamp(to_date(since, "since"))
    cells = store.sql(query("survey_cells.sql"), {
        "item": item, "since": since_ts, "cutoff": params["cutoff"], **period_param(period),
        **dims, **size_params(thresholds)})
    if cells.empty:
        window = f"from {since_ts.date()} " if since_ts is not None else ""
        raise InputError(f"{func}: no answers to survey item {item!r} {window}up to {day}; "
                         f"{describe_inventory(survey_inventory(store, day))}. Pass the "
                         "item name your surveys use, or another date.")
    if scale is not None:
        off = cells[(cells["scale_min"] != scale[0]) | (cells["scale_max"] != scale[1])]
        if not off.empty:
            first = off.iloc[0]
            raise InputError(f"{func}: {int(off['n_answers'].sum())} answer(s) to item "
                             f"{item!r} are on the scale [{first['scale_min']:g}, "
                             f"{first['scale_max']:g}], not [{scale[0]:g}, {scale[1]:g}]; "
                             f"load them with scale_min={scale[0]:g}, scale_max={scale[1]:g} "
                             "or pass the right item.")
    return name_cells(cells, names, period)


def survey_wide(store: Store, as_of: Any = None, *, survey: str = "ecsi",
                items: Sequence[str] | None = None, latest: bool = True) -> SurveyResponses:
    """Answers to a survey in wide form: one row per questionnaire, one column per item.

    A questionnaire is one customer's answers to ``survey`` on one day (an item answered
    twice that day keeps the later answer). By default each customer's latest
    questionnaire up to ``as_of`` is kept, so every row is a different respondent.
    Items a questionnaire did not answer are NaN. The result feeds
    :meth:`SatisfactionIndex.fit <crm_analytics.satisfaction.SatisfactionIndex.fit>`
    directly, with ``scale=`` from the stored ``scale_min``/``scale_max``.

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        Inclusive; ``None`` means the last day with activity in the store.
    survey : str
        Value of ``survey_responses.survey``.
    items : list of str, optional
        Items to return, in this order; default every item of the survey (sorted).
    latest : bool
        Keep only each customer's latest questionnaire; ``False`` keeps them all.

    Returns
    -------
    SurveyResponses
        ``responses``: DataFrame indexed by ``customer_id`` with ``responded_at`` (the
        questionnaire's last answer) and one float column per item; ``scale``:
        ``{item: (scale_min, scale_max)}``.

    Raises
    ------
    InputError
        The survey has no answers up to ``as_of``, requested items are missing, or an
        item was asked on more than one scale.

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> responses, scale = survey_wide(demo_store(), survey="ecsi")
    >>> responses[["quality_1", "quality_2"]]
                 quality_1  quality_2
    customer_id
    C1                 7.0        8.0
    C2                 4.0        NaN
    >>> scale["quality_1"]
    (1.0, 10.0)
    """
    check_store(store, "survey_wide")
    wanted = None if items is None else as_list(items, "items")
    day, params = cutoff_params(store, as_of)
    long = store.sql(query("survey_answers.sql"), {"survey": survey, "cutoff": params["cutoff"],
                                                   "latest_only": bool(latest)})
    if long.empty:
        raise InputError(f"survey_wide: no answers to survey {survey!r} up to {day}; "
                         f"{describe_inventory(survey_inventory(store, day))}. Pass the "
                         "survey name your data use (survey=...), or load the answers.")
    found = sorted(long["item"].unique())
    if wanted is not None:
        missing = [i for i in wanted if i not in found]
        if missing:
            raise InputError(f"survey_wide: survey {survey!r} has no answers to item(s) "
                             f"{missing} up to {day}; it has {found}. Rename the items in "
                             "the data, or pass constructs= / items= with these names.")
        long = long[long["item"].isin(wanted)]
    bounds = long.groupby("item")[["scale_min", "scale_max"]].agg(["min", "max"])
    mixed = bounds[(bounds[("scale_min", "min")] != bounds[("scale_min", "max")])
                   | (bounds[("scale_max", "min")] != bounds[("scale_max", "max")])]
    if not mixed.empty:
        item = mixed.index[0]
        raise InputError(f"survey_wide: item {item!r} of survey {survey!r} was asked on "
                         "more than one scale (from "
                         f"[{mixed.loc[item, ('scale_min', 'min')]:g}, ...] to "
                         f"[..., {mixed.loc[item, ('scale_max', 'max')]:g}]); rescale the "
                         "answers to one scale before building an index.")
    wide = long.pivot(index=["customer_id", "responded_on"], columns="item", values="score")
    stamps = long.groupby(["customer_id", "responded_on"])["responded_at"].max()
    wide = wide.reindex(columns=wanted or found).astype(float)
    wide.insert(0, "responded_at", stamps.reindex(wide.index))
    wide = wide.reset_index("responded_on", drop=True)
    wide.columns.name = None
    scale = {i: (float(bounds.loc[i, ("scale_min", "min")]),
                 float(bounds.loc[i, ("scale_max", "max")])) for i in wide.columns[1:]}
    return SurveyResponses(wide, scale)


def respondent_groups(store: Store, responses: pd.DataFrame,
                      groups: str | Sequence[str] | None, *, as_of: Any,
                      thresholds: SizeThresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame | None:
    """Customer attributes and/or the period of each row of ``survey_wide`` output."""
    names = _group_names(groups)
    if not names:
        return None
    out = pd.DataFrame(index=responses.index)
    attributes = [n for n in names if n in CUSTOMER_DIMENSIONS]
    if attributes:
        table = customer_attributes(store, resolve_as_of(store, as_of), thresholds)
        for name in attributes:
            out[name] = table[name].reindex(responses.index).to_numpy()
    for name in names:
        if name in PERIODS:
            stamps = pd.to_datetime(responses["responded_at"])
            out[name] = stamps.dt.to_period(_PANDAS_PERIOD[name]).dt.start_time
    return out[names]


def _group_names(groups: str | Sequence[str] | None) -> list[str]:
    names = as_list(groups, "groups")
    unknown = [n for n in names if n not in (*CUSTOMER_DIMENSIONS, *PERIODS)]
    if unknown or sum(n in PERIODS for n in names) > 1:
        raise InputError(f"With a store, groups must name customer attributes "
                         f"{list(CUSTOMER_DIMENSIONS)} and at most one period "
                         f"{list(PERIODS)}. Got {names!r} instead.")
    return names


def store_responses(store: Store, items: Sequence[str],
                    groups: str | Sequence[str] | None, *, as_of: Any,
                    survey: str) -> tuple[SurveyResponses, pd.DataFrame | None]:
    """Wide answers and group labels for fitting a SatisfactionIndex on a store.

    With a period among ``groups`` every questionnaire counts (in its period); otherwise
    each customer's latest one.
    """
    if groups is not None and not isinstance(groups, str | list | tuple):
        raise InputError("With a store, groups must name customer attributes or a period "
                         f"(e.g. 'region' or ['region', 'quarter']); got "
                         f"{type(groups).__name__}.")
    names = _group_names(groups)
    wide = survey_wide(store, as_of, survey=survey, items=items,
                       latest=not any(n in PERIODS for n in names))
    return wide, respondent_groups(store, wide.responses, names, as_of=as_of)


def warn_small_cells(table: pd.DataFrame, cell_cols: list[str], min_n: int, what: str,
                     n_col: str = "n") -> None:
    """One DataQualityWarning naming how many cells are not reportable, with an example."""
    small = table[~table["reportable"].astype(bool)]
    if small.empty:
        return
    first = small.iloc[0]
    where = ", ".join(f"{c}={_label(first[c])}" for c in cell_cols) or "the whole table"
    warnings.warn(f"{len(small)} of {len(table)} cell(s) have fewer than min_n={min_n} "
                  f"{what} and are not reportable (estimates NaN, see the 'note' column); "
                  f"e.g. {where} with {n_col}={int(first[n_col])}.",
                  DataQualityWarning, stacklevel=3)


def _label(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "<missing>"
    return repr(value)
