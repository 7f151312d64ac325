"""NPS, CSAT and the satisfaction index read from the store.

Each function counts the answers in SQL (``sql/survey_cells.sql``: one row per cell and
score) and hands the counts to the statistics in :mod:`~crm_analytics.satisfaction.nps`
and :mod:`~crm_analytics.satisfaction.pls`, so the raw answers never reach pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crm_analytics.core.timeutils import to_date
from crm_analytics.errors import InputError
from crm_analytics.satisfaction.nps import DEFAULT_MIN_N, csat_table, nps_change_test, nps_table
from crm_analytics.satisfaction.pls import SatisfactionIndex
from crm_analytics.satisfaction.store_io import (
    PERIODS,
    as_list,
    check_store,
    item_answers,
    warn_small_cells,
)
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS, SizeThresholds

__all__ = ["csat", "fit_index", "nps", "nps_change"]

_NPS_SCALE = (0.0, 10.0)


def nps(store: Any, as_of: Any = None, *, by: str | Sequence[str] | None = None,
        period: str | None = None, survey_item: str = "nps", since: Any = None,
        min_n: int = DEFAULT_MIN_N, level: float = 0.95,
        thresholds: SizeThresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Net Promoter Score per segment and period, from the store's survey answers.

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        Answers on or before this day; ``None``: the last day with activity.
    by : str or list of str, optional
        Up to three customer attributes: ``region``, ``customer_type``, ``industry``,
        ``size_band`` (see :func:`crm_analytics.store.attributes.size_band`) or ``country``.
    period : {"month", "quarter", "year"}, optional
        Adds a column of that name holding the first day of the period answered in.
    survey_item : str
        Item of the 0-10 recommendation question; its answers must be on a 0-10 scale.
    since : date-like, optional
        First day counted (inclusive).
    min_n, level
        As in :func:`~crm_analytics.satisfaction.nps.nps_table`: cells with fewer
        answers are not reportable (estimates NaN, a ``note``, and one
        :class:`~crm_analytics.errors.DataQualityWarning` per call).
    thresholds : SizeThresholds
        Size-band thresholds for ``by="size_band"``.

    Returns
    -------
    DataFrame
        The ``by`` and period columns, then the columns of ``nps_table``: ``n``,
        ``n_missing``, the three shares, ``nps``, ``std_error``, ``ci_lower``,
        ``ci_upper``, ``reportable``, ``note``.

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> table = nps(demo_store(), by="region", min_n=1)
    >>> table[["region", "n", "nps"]]
         region  n    nps
    0  Americas  2  -50.0
    1      EMEA  3   33.3...
    """
    cells = item_answers(store, survey_item, as_of=as_of, since=since, by=by, period=period,
                         thresholds=thresholds, scale=_NPS_SCALE, func="nps")
    keys = [*as_list(by), *([period] if period else [])]
    table = nps_table(cells, by=keys, level=level, min_n=min_n, count_col="n_answers")
    warn_small_cells(table, keys, min_n, "answers")
    return table


def nps_change(store: Any, before: tuple[Any, Any], after: tuple[Any, Any], *,
               by: str | Sequence[str] | None = None, survey_item: str = "nps",
               min_n: int = DEFAULT_MIN_N, level: float = 0.95,
               thresholds: SizeThresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Did the NPS change between two date ranges? (independent-samples z test).

    Parameters
    ----------
    store : Store
    before, after : (start, end)
        Date ranges, both ends inclusive; they must not overlap.
    by, survey_item, min_n, level, thresholds
        As in :func:`nps`.

    Returns
    -------
    DataFrame
        The output of :func:`~crm_analytics.satisfaction.nps.nps_change_test`: ``by``
        columns, ``n_before``, ``n_after``, ``nps_before``, ``nps_after``, ``change``,
        ``std_error``, ``z``, ``p_value``, ``ci_lower``, ``ci_upper``, ``significant``,
        ``reportable``, ``note``.

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> res = nps_change(demo_store(), before=("2024-01-01", "2024-02-29"),
    ...                  after=("2024-03-01", "2024-06-30"), min_n=1)
    >>> res[["n_before", "n_after", "nps_before", "nps_after", "change"]]
       n_before  n_after  nps_before  nps_after  change
    0         1        4       100.0      -25.0  -125.0
    """
    ranges = {}
    for label, value in (("before", before), ("after", after)):
        if not isinstance(value, tuple | list) or len(value) != 2:
            raise InputError(f"The {label!r} parameter of nps_change must be a (start, end) "
                             f"pair of dates. Got {value!r} instead.")
        start, end = to_date(value[0], f"{label} start"), to_date(value[1], f"{label} end")
        if end < start:
            raise InputError(f"The {label!r} range ends ({end}) before it starts ({start}).")
        ranges[label] = (start, end)
    (b0, b1), (a0, a1) = ranges["before"], ranges["after"]
    if a0 <= b1 and b0 <= a1:
        raise InputError(f"The ranges overlap: before {b0}..{b1}, after {a0}..{a1}; an answer "
                         "can only be in one of them.")
    parts = []
    for label, (start, end) in ranges.items():
        cells = item_answers(store, survey_item, as_of=end, since=start, by=by,
                             thresholds=thresholds, scale=_NPS_SCALE, func="nps_change")
        parts.append(cells.assign(period=label))
    return nps_change_test(pd.concat(parts, ignore_index=True), "period", before="before",
                           after="after", by=as_list(by), level=level, min_n=min_n,
                           count_col="n_answers")


def csat(store: Any, as_of: Any = None, *, by: str | Sequence[str] | None = None,
         period: str | None = None, item: str = "csat", since: Any = None,
         min_n: int = DEFAULT_MIN_N, level: float = 0.95,
         thresholds: SizeThresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """CSAT per segment and period: top-2-box share and mean on the answers' own scale.

    Parameters
    ----------
    store : Store
    as_of, by, period, since, min_n, level, thresholds
        As in :func:`nps`.
    item : str
        Survey item of the CSAT question (any scale; each answer carries its own).

    Returns
    -------
    DataFrame
        The ``by`` and period columns, then the columns of
        :func:`~crm_analytics.satisfaction.nps.csat_table`.

    Examples
    --------
    >>> from crm_analytics.satisfaction._demo import demo_store
    >>> table = csat(demo_store(), min_n=1)
    >>> table[["n", "top2_share", "mean", "mean_100"]]
       n  top2_share  mean  mean_100
    0  4         0.5   3.5      62.5
    """
    cells = item_answers(store, item, as_of=as_of, since=since, by=by, period=period,
                         thresholds=thresholds, func="csat")
    keys = [*as_list(by), *([period] if period else [])]
    table = csat_table(cells, by=keys, level=level, min_n=min_n, count_col="n_answers")
    warn_small_cells(table, keys, min_n, "answers")
    return table


def fit_index(store: Any, as_of: Any = None, *,
              constructs: Mapping[str, Sequence[str]] | None = None,
              paths: Sequence[tuple[str, str]] | None = None,
              by: str | Sequence[str] | None = None, period: str | None = None,
              survey: str = "ecsi", **kwargs: Any) -> SatisfactionIndex:
    """Fit the satisfaction index (PLS path model) on the store's survey answers.

    Shorthand for ``SatisfactionIndex(constructs, paths, **kwargs).fit(store,
    groups=[*by, period], as_of=as_of, survey=survey)``: the answers come from
    :func:`~crm_analytics.satisfaction.survey_wide` (each customer's latest questionnaire;
    with a ``period``, every questionnaire in the period it was answered), the item
    scales from the stored ``scale_min``/``scale_max`` unless ``scale=`` is passed.

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        Questionnaires on or before this day; ``None``: the last day with activity.
    constructs, paths
        The model; default the ECSI model.
    by : str or list of str, optional
        Customer attributes for ``index_by_group_`` (region, customer_type, industry,
        size_band, country).
    period : {"month", "quarter", "year"}, optional
        Adds the period to the groups of ``index_by_group_``.
    survey : str
        Value of ``survey_responses.survey``.
    **kwargs
        Further parameters of :class:`SatisfactionIndex` (``mode``, ``scheme``,
        ``target``, ``n_boot``, ``min_group_n``, ...).

    Returns
    -------
    SatisfactionIndex
        Fitted; ``index_by_group_`` is set when ``by`` or ``period`` is given.

    Examples
    --------
    >>> from crm_analytics import Store
    >>> from crm_analytics.datasets import synthetic
    >>> data = synthetic.generate(n_customers=600, seed=1)
    >>> store = Store(":memory:")
    >>> for name in ("customers", "survey_responses"):
    ...     _ = store.load(name, getattr(data, name))
    >>> model = fit_index(store, by="customer_type")
    >>> model.n_obs_, round(float(model.path_coefficients_.loc["quality", "satisfaction"]), 2)
    (140, 0.32)
    >>> model.index_by_group_[["n", "satisfaction"]].round(1)
                    n  satisfaction
    customer_type
    business       88          51.4
    consumer       52          47.5
    """
    check_store(store, "fit_index")
    if period is not None and period not in PERIODS:
        raise InputError(f"The 'period' parameter must be one of {list(PERIODS)} or None. "
                         f"Got {period!r} instead.")
    groups = [*as_list(by), *([period] if period else [])]
    model = SatisfactionIndex(constructs, paths, **kwargs)
    return model.fit(store, groups=groups or None, as_of=as_of, survey=survey)
