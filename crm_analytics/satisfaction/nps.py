"""Net Promoter Score and CSAT tables with standard errors and minimum-sample rules.

Every table has one row per cell (the caller's group-by columns, e.g. segment and
period), the sample size, the estimates with a standard error and a normal-approximation
confidence interval, and two columns that keep small cells honest: ``reportable``
(False when the cell has fewer than ``min_n`` answers) and ``note`` (why). A cell that
is not reportable has its estimates set to NaN, so it can never be quoted as a number.

Missing scores (NaN) are not answers: they are excluded and counted in ``n_missing``.

NPS (Reichheld 2003) is ``100 * (p_P - p_D)``, the promoter share (9-10) minus the
detractor share (0-6) of 0-10 answers. Both shares come from one multinomial sample, so

    Var(p_P - p_D) = [p_P + p_D - (p_P - p_D)^2] / n

and the standard error of the NPS is 100 times its square root. Changes between two
periods are tested as two independent samples: ``z = (NPS_after - NPS_before) /
sqrt(se_before^2 + se_after^2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from crm_analytics.errors import InputError

__all__ = ["DEFAULT_MIN_N", "csat_table", "nps_change_test", "nps_table", "top2_threshold"]

#: Smallest cell reported by default: below ~30 answers the normal approximation behind
#: the intervals is poor and an NPS moves by 3+ points when a single answer changes.
DEFAULT_MIN_N = 30

_NPS_STATS = ["promoter_share", "passive_share", "detractor_share", "nps", "std_error",
              "ci_lower", "ci_upper"]
_CSAT_STATS = ["top2_share", "top2_std_error", "top2_ci_lower", "top2_ci_upper", "mean",
               "mean_std_error", "mean_ci_lower", "mean_ci_upper", "mean_100",
               "mean_100_std_error"]


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _z_value(level: float) -> float:
    if not 0 < level < 1:
        raise InputError(f"The 'level' parameter must be a float in the range (0, 1). "
                         f"Got {level!r} instead.")
    return float(stats.norm.ppf(0.5 + level / 2))


def _check_min_n(min_n: int) -> None:
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 1:
        raise InputError(f"The 'min_n' parameter must be an int in the range [1, inf). "
                         f"Got {min_n!r} instead.")


def _numeric_column(responses: pd.DataFrame, col: str) -> pd.Series:
    if not isinstance(responses, pd.DataFrame):
        raise InputError(f"responses must be a pandas DataFrame; got {type(responses).__name__}.")
    if col not in responses.columns:
        raise InputError(f"Required column {col!r} missing; found columns "
                         f"{list(responses.columns)}. Rename the column or pass {col}=.")
    values = pd.to_numeric(responses[col], errors="coerce")
    bad = values.isna() & responses[col].notna()
    if bad.any():
        row = bad.idxmax()
        raise InputError(f"Column {col!r}: {int(bad.sum())} value(s) are not numbers "
                         f"(e.g. {responses[col][row]!r} in row {row!r}).")
    return values.astype(float)


def _counts(responses: pd.DataFrame, count_col: str | None) -> pd.Series:
    """How many answers each row stands for: 1, or the pre-aggregated ``count_col``."""
    if count_col is None:
        return pd.Series(1, index=responses.index, dtype="int64")
    counts = _numeric_column(responses, count_col)
    bad = counts.isna() | (counts < 0) | (counts != np.round(counts))
    if bad.any():
        row = bad.idxmax()
        raise InputError(f"Column {count_col!r} must hold whole numbers >= 0 (answers per row); "
                         f"got {responses[count_col][row]!r} in row {row!r}.")
    return counts.astype("int64")


def _check_group_columns(responses: pd.DataFrame, by: list[str]) -> None:
    missing = [c for c in by if c not in responses.columns]
    if missing:
        raise InputError(f"Group-by column(s) {missing} missing from responses; found "
                         f"{list(responses.columns)}.")


def _sum_by(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Column sums per cell; ``dropna=False`` keeps rows whose group label is missing."""
    if not by:
        return frame.sum().to_frame().T.astype(frame.dtypes.to_dict())
    return frame.groupby(by, dropna=False, sort=True, observed=True).sum().reset_index()


def _apply_min_n(table: pd.DataFrame, stat_cols: list[str], min_n: int) -> pd.DataFrame:
    small = table["n"] < min_n
    table.loc[small, stat_cols] = np.nan
    table["reportable"] = ~small
    table["note"] = np.where(small, "n=" + table["n"].astype(int).astype(str)
                             + f" < min_n={min_n}: not reportable", "")
    return table


def nps_table(
    responses: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    score_col: str = "score",
    level: float = 0.95,
    min_n: int = DEFAULT_MIN_N,
    count_col: str | None = None,
) -> pd.DataFrame:
    """Net Promoter Score per cell, with standard error and confidence interval.

    Parameters
    ----------
    responses : DataFrame
        One row per answer to the 0-10 recommendation question.
    by : str or list of str, optional
        Group-by columns (segment, period, ...). ``None`` gives one overall row.
    score_col : str
        Column holding the 0-10 score; whole numbers only.
    level : float
        Confidence level of the normal-approximation interval.
    min_n : int
        Cells with fewer answers are not reportable (estimates NaN, see ``note``).
    count_col : str, optional
        Column giving the number of answers each row stands for, when the answers come
        pre-aggregated (one row per cell and score, as the store queries return them).

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n``, ``n_missing``, ``promoter_share``, ``passive_share``,
        ``detractor_share`` (0-1), ``nps`` (-100..100), ``std_error``, ``ci_lower``,
        ``ci_upper``, ``reportable`` and ``note``.

    Examples
    --------
    >>> scores = pd.DataFrame({"score": [10] * 50 + [8] * 30 + [3] * 20})
    >>> row = nps_table(scores).iloc[0]
    >>> [round(float(x), 2) for x in row[["nps", "std_error", "ci_upper"]]]
    [30.0, 7.81, 45.31]
    """
    by = _as_list(by)
    z = _z_value(level)
    _check_min_n(min_n)
    score = _numeric_column(responses, score_col)
    _check_group_columns(responses, by)
    bad = score.notna() & ((score < 0) | (score > 10) | (score != np.round(score)))
    if bad.any():
        row = bad.idxmax()
        raise InputError(f"Column {score_col!r}: {int(bad.sum())} score(s) are not whole "
                         f"numbers from 0 to 10 (e.g. {score[row]:g} in row {row!r}); NPS "
                         "needs the 0-10 recommendation question.")
    flags = pd.DataFrame({
        "n": score.notna(), "n_missing": score.isna(),
        "promoter_share": score >= 9, "detractor_share": score <= 6,
    }).astype("int64").mul(_counts(responses, count_col), axis=0)
    table = _sum_by(pd.concat([responses[by], flags], axis=1), by)
    n = table["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_p = table["promoter_share"] / n
        p_d = table["detractor_share"] / n
        table["promoter_share"] = p_p
        table["passive_share"] = 1 - p_p - p_d
        table["detractor_share"] = p_d
        table["nps"] = 100 * (p_p - p_d)
        # Multinomial variance of a difference of two shares of the same sample.
        table["std_error"] = 100 * np.sqrt((p_p + p_d - (p_p - p_d) ** 2) / n)
    table["ci_lower"] = table["nps"] - z * table["std_error"]
    table["ci_upper"] = table["nps"] + z * table["std_error"]
    table = table[[*by, "n", "n_missing", *_NPS_STATS]]
    return _apply_min_n(table, _NPS_STATS, min_n)


def nps_change_test(
    responses: pd.DataFrame,
    period_col: str,
    *,
    before: object,
    after: object,
    by: str | Sequence[str] | None = None,
    score_col: str = "score",
    level: float = 0.95,
    min_n: int = DEFAULT_MIN_N,
    count_col: str | None = None,
) -> pd.DataFrame:
    """Test whether the NPS changed between two periods (independent samples z test).

    ``change = nps_after - nps_before``, ``std_error = sqrt(se_before^2 + se_after^2)``,
    ``z = change / std_error`` and a two-sided p-value from the standard normal.
    ``significant`` is ``p_value < 1 - level``. The test assumes the two periods are
    answered by different respondents; a panel asked twice needs a paired test.

    Parameters
    ----------
    responses : DataFrame
        Answers with a 0-10 ``score_col`` and a ``period_col``.
    period_col : str
        Column naming the period of each answer.
    before, after : object
        The two values of ``period_col`` to compare.
    by : str or list of str, optional
        Further group-by columns; one test per cell.
    score_col, level, min_n, count_col
        As in :func:`nps_table`; a test is reportable only if both periods are.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n_before``, ``n_after``, ``nps_before``, ``nps_after``,
        ``change``, ``std_error``, ``z``, ``p_value``, ``ci_lower``, ``ci_upper``,
        ``significant``, ``reportable`` and ``note``.

    Examples
    --------
    >>> df = pd.DataFrame({"period": ["Q1"] * 100 + ["Q2"] * 100,
    ...                    "score": [10] * 40 + [0] * 60 + [10] * 60 + [0] * 40})
    >>> res = nps_change_test(df, "period", before="Q1", after="Q2").iloc[0]
    >>> [round(float(x), 2) for x in res[["change", "z"]]]
    [40.0, 2.89]
    """
    by = _as_list(by)
    _check_group_columns(responses, [period_col])
    if period_col in by:
        raise InputError(f"period_col {period_col!r} must not also be in by={by}.")
    subset = responses[responses[period_col].isin([before, after])]
    cells = nps_table(subset, by=[*by, period_col], score_col=score_col, level=level,
                      min_n=min_n, count_col=count_col)
    parts = []
    for label, value in (("before", before), ("after", after)):
        part = cells[cells[period_col] == value].drop(columns=period_col)
        keep = {"n": f"n_{label}", "nps": f"nps_{label}", "std_error": f"se_{label}",
                "reportable": f"ok_{label}", "note": f"note_{label}"}
        parts.append(part[by + list(keep)].rename(columns=keep))
    if by:
        table = parts[0].merge(parts[1], on=by, how="outer")
    else:
        table = pd.concat([parts[0].reset_index(drop=True), parts[1].reset_index(drop=True)],
                          axis=1)
    table = table.reindex(range(max(len(table), 1)))
    for label in ("before", "after"):
        table[f"n_{label}"] = table[f"n_{label}"].fillna(0).astype(int)
    z = _z_value(level)
    table["change"] = table["nps_after"] - table["nps_before"]
    table["std_error"] = np.sqrt(table["se_before"] ** 2 + table["se_after"] ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["z"] = table["change"] / table["std_error"]
    table["p_value"] = 2 * stats.norm.sf(np.abs(table["z"]))
    table["ci_lower"] = table["change"] - z * table["std_error"]
    table["ci_upper"] = table["change"] + z * table["std_error"]
    table["significant"] = table["p_value"] < 1 - level
    ok = table["ok_before"].eq(True) & table["ok_after"].eq(True)
    table["reportable"] = ok
    notes = [label + ": " + table[f"note_{label}"].fillna("no answers")
             for label in ("before", "after")]
    notes = [note.where(~note.str.endswith(": "), "") for note in notes]
    table["note"] = (notes[0] + "; " + notes[1]).str.strip("; ")
    cols = ["n_before", "n_after", "nps_before", "nps_after", "change", "std_error", "z",
            "p_value", "ci_lower", "ci_upper"]
    table.loc[~ok, cols[2:]] = np.nan
    table.loc[~ok, "significant"] = False
    return table[[*by, *cols, "significant", "reportable", "note"]]


def top2_threshold(scale_min: np.ndarray | float, scale_max: np.ndarray | float) -> np.ndarray:
    """Lowest score that counts as top-2-box on the scale ``[scale_min, scale_max]``.

    Integer scales with 4 to 11 points (1-4, 1-5, 1-7, 0-10, ...) use the two highest
    points, ``scale_max - 1``. Any other scale has no meaningful "two highest points":
    on 2- and 3-point scales they would cover most of the scale, on long or fractional
    scales (a 0-100 slider, 0-1) just a sliver. Those use the top 20% of the range,
    ``scale_max - 0.2 * (scale_max - scale_min)``, i.e. the top point of a 2- or 3-point
    scale.

    Examples
    --------
    >>> top2_threshold(np.array([1, 0, 0, 0]), np.array([5, 10, 100, 1]))
    array([ 4. ,  9. , 80. ,  0.8])
    """
    lo = np.asarray(scale_min, dtype=float)
    hi = np.asarray(scale_max, dtype=float)
    integer_scale = (lo == np.round(lo)) & (hi == np.round(hi)) & (hi - lo >= 3) & (hi - lo <= 10)
    return np.where(integer_scale, hi - 1, hi - 0.2 * (hi - lo))


def csat_table(
    responses: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    score_col: str = "score",
    scale_min_col: str = "scale_min",
    scale_max_col: str = "scale_max",
    scale: tuple[float, float] | None = None,
    level: float = 0.95,
    min_n: int = DEFAULT_MIN_N,
    count_col: str | None = None,
) -> pd.DataFrame:
    """Customer satisfaction per cell: top-2-box share and mean, with standard errors.

    Each row carries its own scale (``scale_min_col``/``scale_max_col``, as in the
    ``survey_responses`` table) unless ``scale`` fixes one for all rows. Top-2-box is
    defined by :func:`top2_threshold`. The mean is reported on the cell's own scale
    (``mean``; NaN with a note if the cell mixes scales) and rescaled to 0-100
    (``mean_100 = 100 * (score - scale_min) / (scale_max - scale_min)``), which is
    comparable across scales. Standard errors are ``sqrt(p(1-p)/n)`` for the share and
    ``sd/sqrt(n)`` (``ddof=1``) for the means; intervals are normal approximations.

    Parameters
    ----------
    responses : DataFrame
        One row per answer.
    by : str or list of str, optional
        Group-by columns (segment, period, ...).
    score_col, scale_min_col, scale_max_col : str
        Column names.
    scale : (float, float), optional
        One scale for every row; the scale columns are then not needed.
    level : float
        Confidence level of the intervals.
    min_n : int
        Cells with fewer answers are not reportable (estimates NaN, see ``note``).
    count_col : str, optional
        Column giving the number of answers each row stands for (pre-aggregated rows).

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n``, ``n_missing``, ``top2_share`` (0-1) with
        ``top2_std_error``, ``top2_ci_lower``, ``top2_ci_upper``; ``mean`` with
        ``mean_std_error``, ``mean_ci_lower``, ``mean_ci_upper``; ``mean_100`` with
        ``mean_100_std_error``; ``scale_min``, ``scale_max``, ``reportable``, ``note``.

    Examples
    --------
    >>> df = pd.DataFrame({"score": [5, 4, 4, 3, 1] * 10})
    >>> row = csat_table(df, scale=(1, 5)).iloc[0]
    >>> [round(float(x), 2) for x in row[["top2_share", "mean", "mean_100"]]]
    [0.6, 3.4, 60.0]
    """
    by = _as_list(by)
    z = _z_value(level)
    _check_min_n(min_n)
    score = _numeric_column(responses, score_col)
    _check_group_columns(responses, by)
    if scale is not None:
        lo = pd.Series(float(scale[0]), index=responses.index)
        hi = pd.Series(float(scale[1]), index=responses.index)
    else:
        lo = _numeric_column(responses, scale_min_col)
        hi = _numeric_column(responses, scale_max_col)
    bad_scale = ~(lo < hi)
    if bad_scale.any():
        row = bad_scale.idxmax()
        raise InputError(f"{int(bad_scale.sum())} row(s) have no valid scale: scale_min must "
                         f"be below scale_max (e.g. [{lo[row]:g}, {hi[row]:g}] in row {row!r}).")
    outside = score.notna() & ((score < lo) | (score > hi))
    if outside.any():
        row = outside.idxmax()
        raise InputError(f"Column {score_col!r}: {int(outside.sum())} score(s) lie outside "
                         f"their scale (e.g. {score[row]:g} not in [{lo[row]:g}, {hi[row]:g}] "
                         f"in row {row!r}); fix the data or the scale.")
    counts = _counts(responses, count_col)
    answered = score.notna() & (counts > 0)
    rescaled = 100 * (score - lo) / (hi - lo)
    parts = pd.DataFrame({
        "n": score.notna().astype(int), "n_missing": score.isna().astype(int),
        "top2": (score >= top2_threshold(lo, hi)).astype(int),
        "s1": score.fillna(0), "s2": score.fillna(0) ** 2,
        "r1": rescaled.fillna(0), "r2": rescaled.fillna(0) ** 2,
    }).mul(counts, axis=0)
    table = _sum_by(pd.concat([responses[by], parts], axis=1), by)
    # The bounds' min and max per cell tell whether a cell mixes scales.
    bounds = pd.concat([responses[by], lo.where(answered).rename("lo"),
                        hi.where(answered).rename("hi")], axis=1)
    aggs = {"lo_min": ("lo", "min"), "lo_max": ("lo", "max"), "hi_min": ("hi", "min"),
            "hi_max": ("hi", "max")}
    if by:
        bounds = bounds.groupby(by, dropna=False, sort=True, observed=True).agg(**aggs)
        bounds = bounds.reset_index(drop=True)
    else:
        bounds = pd.DataFrame({k: [getattr(bounds[c], f)()] for k, (c, f) in aggs.items()})
    n = table["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = table["top2"] / n
        table["top2_share"] = p
        table["top2_std_error"] = np.sqrt(p * (1 - p) / n)
        for col, s1, s2 in (("mean", "s1", "s2"), ("mean_100", "r1", "r2")):
            mean = table[s1] / n
            var = (table[s2] - n * mean**2) / (n - 1)
            table[col] = mean
            table[f"{col}_std_error"] = np.sqrt(np.clip(var, 0, None) / n)
    table["top2_ci_lower"] = p - z * table["top2_std_error"]
    table["top2_ci_upper"] = p + z * table["top2_std_error"]
    table["mean_ci_lower"] = table["mean"] - z * table["mean_std_error"]
    table["mean_ci_upper"] = table["mean"] + z * table["mean_std_error"]
    mixed = (bounds["lo_min"] != bounds["lo_max"]) | (bounds["hi_min"] != bounds["hi_max"])
    mixed = mixed & bounds["lo_min"].notna()
    raw_cols = ["mean", "mean_std_error", "mean_ci_lower", "mean_ci_upper"]
    table.loc[mixed.to_numpy(), raw_cols] = np.nan
    table["scale_min"] = np.where(mixed, np.nan, bounds["lo_min"])
    table["scale_max"] = np.where(mixed, np.nan, bounds["hi_min"])
    table = table[[*by, "n", "n_missing", *_CSAT_STATS, "scale_min", "scale_max"]]
    table = _apply_min_n(table, _CSAT_STATS, min_n)
    mixed_note = "cell mixes scales: mean on own scale not defined, use mean_100"
    table.loc[mixed.to_numpy() & table["reportable"].to_numpy(), "note"] = mixed_note
    return table
