"""Satisfaction index: a PLS path model (PLS-PM) and the ACSI 0-100 index.

Written by hand on purpose: the maintained PLS-PM ports to Python are GPL-licensed and
cannot ship in this MIT-licensed package, and the algorithm is short.

Algorithm (Wold 1982; Lohmoller 1989; notation of Tenenhaus et al. 2005, section 2):
items are standardized (mean 0, variance 1, ``ddof=0``); each construct score is a
weighted sum of its items scaled to unit variance. Starting from equal weights,

1. inner estimation: each construct's proxy ``Z_j = sum_k e_jk Y_k`` over its
   neighbours in the path model. ``scheme="path"``: ``e_jk`` is the OLS coefficient of
   ``Y_k`` in the regression of ``Y_j`` on its predecessors, and ``cor(Y_j, Y_k)`` for
   its successors; ``"centroid"``: ``sign(cor)``; ``"factorial"``: ``cor``.
2. outer estimation: Mode A (reflective) ``w_jh = cov(x_jh, Z_j)``; Mode B
   (formative) the OLS coefficients of ``Z_j`` on the block's items.
3. rescale the weights so each score has unit variance; stop when no weight moves by
   more than ``tol`` (1e-7), else warn with :class:`~crm_analytics.errors.ConvergenceWarning`.

Signs are then fixed so that each construct correlates positively with most of its
items (ties: with the sum of its loadings). Path coefficients are the OLS regressions
of each endogenous score on its predecessors; total effects are ``(I - B)^-1 - I``.

The 0-100 index follows the ACSI (Fornell et al. 1996): standardized weights divided
by the item standard deviations, normalised to sum to 1 within the construct, applied
to the raw item means and rescaled with the item scale: ``100 * sum w (mean - min) /
sum w (max - min)``. Mode B weights can be negative, which can push it outside 0-100.

Data policy: only complete respondents are used (listwise deletion; the dropped count
is ``n_dropped_``). The model needs at least ``min_n`` of them, by default
``max(30, 5 * number of items)`` (the "5 per item" rule of thumb). Reliability uses
the standardized items: Cronbach's alpha, Dillon-Goldstein's rho (composite
reliability) and the average variance extracted; they are 1 by convention for a
single-item construct and are meaningful for Mode A constructs only.

References
----------
Wold, H. (1982). Soft modeling: the basic design and some extensions. In Joreskog &
Wold (eds.), *Systems under Indirect Observation*, Part II, 1-54. North-Holland.
Lohmoller, J.-B. (1989). *Latent Variable Path Modeling with Partial Least Squares*.
Physica.
Tenenhaus, M., Esposito Vinzi, V., Chatelin, Y.-M., Lauro, C. (2005). PLS path
modeling. *Computational Statistics & Data Analysis* 48, 159-205.
Fornell, C., Johnson, M. D., Anderson, E. W., Cha, J., Bryant, B. E. (1996). The
American Customer Satisfaction Index. *Journal of Marketing* 60(4), 7-18.
Martilla, J. A., James, J. C. (1977). Importance-performance analysis. *Journal of
Marketing* 41(1), 77-79.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.core.estimator import Estimator
from crm_analytics.core.params import check_choice, check_number, param_error
from crm_analytics.core.persistence import read_json_model, write_json_model
from crm_analytics.core.summary import Summary
from crm_analytics.core.threads import limits_threads
from crm_analytics.errors import ConvergenceWarning, DataQualityWarning, InputError, ModelFileError
from crm_analytics.satisfaction.store_io import store_responses
from crm_analytics.store import Store

__all__ = ["ECSI_CONSTRUCTS", "ECSI_PATHS", "MODEL_FILE_FORMAT", "MODEL_FILE_VERSION",
           "SatisfactionIndex"]

#: ``format`` field of a saved satisfaction index file.
MODEL_FILE_FORMAT = "crm_analytics.satisfaction.SatisfactionIndex"
#: Version of the file layout; files of another version are refused.
MODEL_FILE_VERSION = 1

ECSI_CONSTRUCTS: dict[str, list[str]] = {
    "image": ["image_1", "image_2", "image_3"],
    "expectations": ["expectations_1", "expectations_2", "expectations_3"],
    "quality": ["quality_1", "quality_2", "quality_3"],
    "value": ["value_1", "value_2"],
    "satisfaction": ["satisfaction_1", "satisfaction_2", "satisfaction_3"],
    "complaints": ["complaints_1"],
    "loyalty": ["loyalty_1", "loyalty_2", "loyalty_3"],
}
ECSI_PATHS: list[tuple[str, str]] = [
    ("image", "expectations"), ("image", "satisfaction"), ("image", "loyalty"),
    ("expectations", "quality"), ("expectations", "value"), ("expectations", "satisfaction"),
    ("quality", "value"), ("quality", "satisfaction"), ("value", "satisfaction"),
    ("satisfaction", "complaints"), ("satisfaction", "loyalty"), ("complaints", "loyalty"),
]
_Groups = pd.Series | pd.DataFrame | str | Sequence[object] | np.ndarray | None
_CHUNK_BYTES = 64e6  # memory per bootstrap batch: a few resamples are fitted at once


def _param_error(name: str, rule: str, value: object) -> InputError:
    return param_error("SatisfactionIndex", name, rule, value)


@dataclass(frozen=True)
class _Structure:
    """The validated model: constructs, items and paths as index arrays."""

    names: list[str]
    items: list[str]
    block: np.ndarray  # construct number of each item
    member: np.ndarray  # (items, constructs) 0/1
    preds: list[list[int]]
    succs: list[list[int]]
    mode_b: list[int]


def _structure(constructs: Mapping[str, Sequence[str]], paths: Sequence[tuple[str, str]],
               mode: str | Mapping[str, str]) -> _Structure:
    names = list(constructs)
    if not names:
        raise _param_error("constructs", "a non-empty mapping {construct: [items]}", constructs)
    items: list[str] = []
    sizes: list[int] = []
    for c in names:
        block = [constructs[c]] if isinstance(constructs[c], str) else list(constructs[c])
        if not block:
            raise InputError(f"Construct {c!r} has no items; give it at least one item "
                             "(a column of responses) or remove it and its paths.")
        twice = [i for i in block if i in items]
        if twice:
            raise InputError(f"Item {twice[0]!r} is listed under two constructs; each item "
                             "must measure exactly one construct.")
        items += block
        sizes.append(len(block))
    block_of = np.repeat(np.arange(len(names)), sizes)
    pos = {c: j for j, c in enumerate(names)}
    preds: list[list[int]] = [[] for _ in names]
    for path in paths:
        if len(path) != 2:
            raise _param_error("paths", "a list of (source, target) pairs", path)
        unknown = [c for c in path if c not in pos]
        if unknown:
            raise InputError(f"Path {tuple(path)!r} names unknown construct {unknown[0]!r}; "
                             f"known constructs: {names}. Fix the name or pass paths= for "
                             "your own model.")
        if pos[path[0]] not in preds[pos[path[1]]]:
            preds[pos[path[1]]].append(pos[path[0]])
    succs = [[t for t in range(len(names)) if j in preds[t]] for j in range(len(names))]
    lonely = [c for j, c in enumerate(names) if not preds[j] and not succs[j]]
    if lonely:
        raise InputError(f"Construct {lonely[0]!r} is in no path; connect it to another "
                         "construct with paths= or remove it.")
    placed: set[int] = set()
    while len(placed) < len(names):  # Kahn's topological sort; what remains is a cycle
        ready = {j for j in range(len(names)) if j not in placed and set(preds[j]) <= placed}
        if not ready:
            cycle = [c for j, c in enumerate(names) if j not in placed]
            raise InputError(f"The paths form a cycle among {cycle}; a PLS path model must "
                             "be recursive, so remove one path of the cycle.")
        placed |= ready
    modes = mode if isinstance(mode, Mapping) else dict.fromkeys(names, mode)
    for c, m in modes.items():
        if c not in pos or m not in ("A", "B"):
            raise _param_error("mode", "'A', 'B' or a mapping {construct: 'A' or 'B'}", mode)
    member = (block_of[:, None] == np.arange(len(names))).astype(float)
    return _Structure(names, items, block_of, member, preds, succs,
                      [pos[c] for c, m in modes.items() if m == "B"])


def _align_groups(responses: pd.DataFrame, groups: _Groups) -> pd.Series | pd.DataFrame | None:
    """Group labels as a Series (one grouping) or DataFrame (several), on the responses' index."""
    if groups is None:
        return None
    names = [groups] if isinstance(groups, str) else None
    if isinstance(groups, list | tuple) and groups and all(
            isinstance(g, str) and g in responses.columns for g in groups):
        names = list(groups)
    if names is not None:
        missing = [g for g in names if g not in responses.columns]
        if missing:
            raise InputError(f"groups column(s) {missing} missing from responses; found "
                             f"{list(responses.columns)}.")
        return responses[names[0]] if isinstance(groups, str) else responses[names]
    if isinstance(groups, pd.Series | pd.DataFrame):
        if not groups.index.equals(responses.index):
            if not (groups.index.is_unique and responses.index.isin(groups.index).all()):
                raise InputError(f"groups is a {type(groups).__name__} whose index does not "
                                 "cover every row of responses; pass one group label per "
                                 "respondent.")
            groups = groups.reindex(responses.index)
        return groups.rename(groups.name or "group") if isinstance(groups, pd.Series) else groups
    if len(groups) != len(responses):
        raise InputError(f"groups has {len(groups)} values for {len(responses)} "
                         "responses; pass one group label per respondent.")
    return pd.Series(np.asarray(groups), index=responses.index, name="group")


def _standardize(a: np.ndarray) -> np.ndarray:
    """Centre and scale over respondents (axis -2, ``ddof=0``); constant columns become 0."""
    sd = a.std(axis=-2, keepdims=True)
    return (a - a.mean(axis=-2, keepdims=True)) / np.where(sd > 0, sd, 1.0)


def _scores(X: np.ndarray, w: np.ndarray, s: _Structure) -> np.ndarray:
    return X @ (w[..., None] * s.member)  # (batch, n, constructs)


def _normalise(X: np.ndarray, w: np.ndarray, s: _Structure) -> np.ndarray:
    sd = _scores(X, w, s).std(axis=1)
    return w / np.where(sd > 0, sd, 1.0)[:, s.block]


def _ols(R: np.ndarray, preds: list[int], j: int) -> np.ndarray:
    """Standardized OLS ``R_pp^-1 r_pj`` per batch; pinv tolerates collinear predictors."""
    return (np.linalg.pinv(R[:, preds][:, :, preds]) @ R[:, preds, j][..., None])[..., 0]


def _inner_weights(R: np.ndarray, s: _Structure, scheme: str) -> np.ndarray:
    """``E[b, k, j]``: weight of score ``k`` in the inner proxy of construct ``j``."""
    E = np.zeros_like(R)
    for j, preds in enumerate(s.preds):
        nbrs = preds + s.succs[j]
        if scheme == "centroid":
            E[:, nbrs, j] = np.sign(R[:, nbrs, j])
        elif scheme == "factorial":
            E[:, nbrs, j] = R[:, nbrs, j]
        else:
            E[:, s.succs[j], j] = R[:, s.succs[j], j]
            if preds:
                E[:, preds, j] = _ols(R, preds, j)
    return E


def _loadings(X: np.ndarray, w: np.ndarray, s: _Structure) -> np.ndarray:
    return np.einsum("bni,bni->bi", X, _scores(X, w, s)[:, :, s.block]) / X.shape[1]


def _pls(X: np.ndarray, w: np.ndarray, s: _Structure, scheme: str, tol: float,
         max_iter: int) -> tuple[np.ndarray, int, np.ndarray]:
    """Lohmoller's iteration on a batch ``X`` (batch, n, items) from start weights ``w``."""
    n, p = X.shape[1:]
    w = _normalise(X, w, s)
    idx_b = {j: np.flatnonzero(s.block == j) for j in s.mode_b}
    inv_b = {j: np.linalg.pinv(X[:, :, i].transpose(0, 2, 1) @ X[:, :, i] / n)
             for j, i in idx_b.items()}
    converged, n_iter = np.zeros(len(w), dtype=bool), 0
    while n_iter < max_iter and not converged.all():
        n_iter += 1
        Y = _scores(X, w, s)
        Z = Y @ _inner_weights(Y.transpose(0, 2, 1) @ Y / n, s, scheme)
        C = X.transpose(0, 2, 1) @ Z / n  # cov(item, every inner proxy)
        new = C[:, np.arange(p), s.block]  # Mode A
        for j, i in idx_b.items():
            new[:, i] = (inv_b[j] @ C[:, i, j][..., None])[..., 0]
        new = _normalise(X, new, s)
        converged = np.abs(new - w).max(axis=1) < tol
        w = new
    L = _loadings(X, w, s)
    pos, neg, total = (L > 0) @ s.member, (L < 0) @ s.member, L @ s.member
    flip = (neg > pos) | ((neg == pos) & (total < 0))
    return np.where(flip[:, s.block], -w, w), n_iter, converged


def _index_weights(w: np.ndarray, sd: np.ndarray, s: _Structure) -> np.ndarray:
    """ACSI weights: standardized weight / item sd, normalised to sum 1 per construct."""
    raw = np.where(sd > 0, w / np.where(sd > 0, sd, 1.0), 0.0)
    return raw / (raw @ s.member)[..., s.block]


def _index(means: np.ndarray, iw: np.ndarray, s: _Structure, lo: np.ndarray,
           hi: np.ndarray) -> np.ndarray:
    return 100 * ((iw * (means - lo)) @ s.member) / ((iw * (hi - lo)) @ s.member)


def _estimates(X: np.ndarray, raw: np.ndarray, w: np.ndarray, s: _Structure,
               lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
    Y = _scores(X, w, s)
    R = Y.transpose(0, 2, 1) @ Y / X.shape[1]
    J = len(s.names)
    paths = np.zeros_like(R)
    r2 = np.full(R.shape[:2], np.nan)
    for j, preds in enumerate(s.preds):
        if preds:
            paths[:, preds, j] = beta = _ols(R, preds, j)
            r2[:, j] = (beta * R[:, preds, j]).sum(axis=1)
    iw = _index_weights(w, raw.std(axis=1), s)
    return {"paths": paths, "r2": r2, "loadings": _loadings(X, w, s),
            "total": np.linalg.inv(np.eye(J) - paths) - np.eye(J), "index_weights": iw,
            "index": _index(raw.mean(axis=1), iw, s, lo, hi)}


class SatisfactionIndex(Estimator):
    """ACSI/ECSI satisfaction index estimated with a PLS path model.

    Parameters
    ----------
    constructs : mapping {construct: [items]}, optional
        Items (columns of the responses) measuring each construct. Default: the ECSI
        model, :data:`ECSI_CONSTRUCTS`.
    paths : list of (source, target), optional
        Structural paths; must not form a cycle. Default: :data:`ECSI_PATHS`.
    mode : {"A", "B"} or mapping {construct: "A" or "B"}
        Outer estimation mode; a mapping sets it per construct (others are Mode A).
    scheme : {"path", "centroid", "factorial"}
        Inner weighting scheme.
    target : str
        Headline construct of the index and of :meth:`drivers`.
    scale : (min, max) or mapping {item: (min, max)}, optional
        Answer scale, for the 0-100 index and the out-of-scale check. Default: the
        observed range of all items, with a :class:`DataQualityWarning`.
    n_boot : int
        Bootstrap resamples for percentile intervals (0: none).
    level : float
        Confidence level of the bootstrap intervals.
    random_state : int
        Seed of the bootstrap.
    min_n : int, optional
        Fewest complete respondents accepted; default ``max(30, 5 * number of items)``.
    min_group_n : int
        Groups with fewer respondents are not reportable in ``index_by_group_``.
    tol, max_iter
        Convergence tolerance on the weights and iteration cap.

    Attributes
    ----------
    outer_weights_, loadings_ : Series
        Standardized outer weights and loadings, indexed by (construct, item).
    index_weights_ : Series
        ACSI weights on the raw items (sum to 1 per construct).
    path_coefficients_, total_effects_ : DataFrame
        Source x target; 0 where there is no path (no effect).
    r_squared_ : Series
        R squared of each endogenous construct (index named ``construct``).
    reliability_ : DataFrame
        Per construct: ``n_items``, ``mode``, ``cronbach_alpha``,
        ``composite_reliability`` (Dillon-Goldstein rho), ``ave``.
    index_ : Series
        0-100 index of every construct (index named ``construct``); ``index_[target]``
        is the headline.
    index_by_group_ : DataFrame or None
        Per group: ``n``, the index of every construct, ``reportable``, ``note``
        (None after :meth:`load`: group results are not saved).
    bootstrap_ : DataFrame or None
        Indexed by (kind, parameter) with kind in path, total_effect, loading, index:
        ``estimate``, ``boot_mean``, ``std_error``, ``ci_lower``, ``ci_upper``.
    scores_ : DataFrame or None
        Standardized construct scores of the respondents used (None after :meth:`load`:
        respondent-level data are not saved).
    paths_ : list of (source, target)
        The structural paths estimated.
    n_obs_, n_dropped_, n_iter_, converged_, scale_
        Respondents used and dropped, iterations, convergence, item scales.

    Notes
    -----
    Follows :mod:`crm_analytics.core.estimator`: ``__init__`` only stores its arguments
    (``sklearn.base.clone`` works), parameters are checked in :meth:`fit`, using the
    model before :meth:`fit` raises :class:`~crm_analytics.errors.NotFittedError`,
    :meth:`summary` returns a :class:`~crm_analytics.core.summary.Summary`, and
    :meth:`save` / :meth:`load` use versioned JSON.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> quality = rng.normal(size=200)
    >>> satisfaction = 0.6 * quality + 0.8 * rng.normal(size=200)
    >>> items = {f"{c}_{i}": np.clip(np.round(5.5 + 2 * (v + rng.normal(size=200) * 0.6)), 1, 10)
    ...          for c, v in (("quality", quality), ("satisfaction", satisfaction))
    ...          for i in (1, 2, 3)}
    >>> model = SatisfactionIndex(
    ...     constructs={"quality": ["quality_1", "quality_2", "quality_3"],
    ...                 "satisfaction": ["satisfaction_1", "satisfaction_2", "satisfaction_3"]},
    ...     paths=[("quality", "satisfaction")], scale=(1, 10)).fit(pd.DataFrame(items))
    >>> round(float(model.path_coefficients_.loc["quality", "satisfaction"]), 2)
    0.54
    >>> round(float(model.index_["satisfaction"]), 1)
    49.4
    """

    def __init__(self, constructs: Mapping[str, Sequence[str]] | None = None,
                 paths: Sequence[tuple[str, str]] | None = None, *,
                 mode: str | Mapping[str, str] = "A", scheme: str = "path",
                 target: str = "satisfaction",
                 scale: tuple[float, float] | Mapping[str, tuple[float, float]] | None = None,
                 n_boot: int = 0, level: float = 0.95, random_state: int = 0,
                 min_n: int | None = None, min_group_n: int = 30, tol: float = 1e-7,
                 max_iter: int = 300) -> None:
        self.constructs = constructs
        self.paths = paths
        self.mode = mode
        self.scheme = scheme
        self.target = target
        self.scale = scale
        self.n_boot = n_boot
        self.level = level
        self.random_state = random_state
        self.min_n = min_n
        self.min_group_n = min_group_n
        self.tol = tol
        self.max_iter = max_iter

    _fitted_attribute = "index_"

    def _check_params(self) -> _Structure:
        """Check the constructor arguments (run by :meth:`fit` and :meth:`load`)."""
        owner = "SatisfactionIndex"
        check_choice(owner, "scheme", self.scheme, ["path", "centroid", "factorial"])
        for name, low in (("n_boot", 0), ("max_iter", 1), ("min_group_n", 1)):
            _check_int(name, getattr(self, name), low)
        if self.min_n is not None:
            _check_int("min_n", self.min_n, 1, allow_none=True)
        if self.random_state is not None:
            _check_int("random_state", self.random_state, 0, allow_none=True)
        check_number(owner, "level", self.level, low=0, high=1, low_open=True, high_open=True)
        check_number(owner, "tol", self.tol, low=0, low_open=True)
        s = _structure(ECSI_CONSTRUCTS if self.constructs is None else self.constructs,
                       ECSI_PATHS if self.paths is None else self.paths, self.mode)
        if self.target not in s.names:
            raise _param_error("target", f"one of the constructs {s.names}", self.target)
        return s

    def _scale_bounds(self, data: pd.DataFrame,
                      scale: tuple[float, float] | Mapping[str, tuple[float, float]] | None,
                      ) -> tuple[np.ndarray, np.ndarray]:
        if scale is None:
            lo, hi = np.nanmin(data.to_numpy()), np.nanmax(data.to_numpy())
            warnings.warn(f"No scale given; the 0-100 index uses the observed range "
                          f"[{lo:g}, {hi:g}] of the items. Pass scale=(min, max) so the "
                          "index does not depend on the answers observed.",
                          DataQualityWarning, stacklevel=3)
            return np.full(data.shape[1], lo), np.full(data.shape[1], hi)
        if isinstance(scale, Mapping):
            missing = [i for i in data.columns if i not in scale]
            if missing:
                raise _param_error("scale", f"(min, max) or a mapping covering every item "
                                   f"(missing {missing})", scale)
            bounds = np.array([scale[i] for i in data.columns], dtype=float)
        else:
            bounds = np.tile(np.asarray(scale, dtype=float), (data.shape[1], 1))
        lo, hi = bounds[:, 0], bounds[:, 1]
        if not (lo < hi).all():
            raise _param_error("scale", "(min, max) with min < max", scale)
        outside = (data < lo) | (data > hi)
        if outside.any().any():
            item = outside.any().idxmax()
            row = outside[item].idxmax()
            raise InputError(f"Item {item!r} has {int(outside[item].sum())} score(s) outside "
                             f"its scale [{lo[data.columns.get_loc(item)]:g}, "
                             f"{hi[data.columns.get_loc(item)]:g}] (e.g. {data[item][row]:g} in "
                             f"row {row!r}); fix the data or pass the right scale=.")
        return lo, hi

    def _prepare(self, responses: pd.DataFrame, groups: _Groups,
                 s: _Structure) -> tuple[pd.DataFrame, pd.Series | pd.DataFrame | None]:
        if not isinstance(responses, pd.DataFrame):
            raise InputError("responses must be a DataFrame with one row per respondent and "
                             f"one column per item; got {type(responses).__name__}.")
        missing = [i for i in s.items if i not in responses.columns]
        if missing:
            where = ", ".join(f"{i!r} (construct {s.names[s.block[s.items.index(i)]]!r})"
                              for i in missing)
            raise InputError(f"Items missing from responses: {where}. Rename the columns to "
                             "the item names, or pass constructs= with your column names.")
        data = responses[s.items].apply(pd.to_numeric, errors="coerce").astype(float)
        bad = data.isna() & responses[s.items].notna()
        if bad.any().any():
            item = bad.any().idxmax()
            raise InputError(f"Item {item!r}: {int(bad[item].sum())} answer(s) are not "
                             f"numbers (e.g. {responses[item][bad[item]].iloc[0]!r}).")
        for item in s.items:
            if data[item].isna().all():
                raise InputError(f"Item {item!r} (construct "
                                 f"{s.names[s.block[s.items.index(item)]]!r}) has no answers; "
                                 "every value is missing. Remove it from constructs=.")
        groups = _align_groups(responses, groups)
        complete = data.notna().all(axis=1)
        self.n_dropped_ = int((~complete).sum())
        data = data[complete]
        required = self.min_n if self.min_n is not None else max(30, 5 * len(s.items))
        if len(data) < required:
            raise InputError(f"Only {len(data)} complete responses ({self.n_dropped_} dropped "
                             f"for missing items); the model needs at least {required} "
                             "(default max(30, 5 per item)). Collect more responses, use "
                             "fewer items, or pass min_n= to accept a less stable estimate.")
        sd = data.std(ddof=0)
        if (sd == 0).any():
            item = sd.idxmin()
            raise InputError(f"Item {item!r} (construct "
                             f"{s.names[s.block[s.items.index(item)]]!r}) is constant (every "
                             f"answer is {data[item].iloc[0]:g}), so it cannot be "
                             "standardized; remove it from constructs=.")
        return data, None if groups is None else groups[complete]

    @limits_threads
    def fit(self, responses: pd.DataFrame | Store, groups: _Groups = None, *,
            as_of: object = None, survey: str = "ecsi") -> SatisfactionIndex:
        """Estimate the path model and the 0-100 index.

        Parameters
        ----------
        responses : DataFrame or Store
            One row per respondent, one column per item; other columns are ignored. A
            :class:`~crm_analytics.Store` is read with
            :func:`~crm_analytics.satisfaction.survey_wide` (the answers to ``survey`` as
            of ``as_of``, each customer's latest questionnaire), and its answer scales
            are used when ``scale`` is not given.
        groups : Series, DataFrame, array, column name(s), optional
            Segment or period of each respondent, for ``index_by_group_``; a Series or
            DataFrame (several columns: one row per combination) is aligned on the index
            of ``responses``, an array by position. With a store: names of customer
            attributes (region, customer_type, industry, size_band, country) and/or a
            period ("month", "quarter", "year"; then every questionnaire counts, in the
            period it was answered).
        as_of, survey
            Only used when ``responses`` is a store.

        Returns
        -------
        self
        """
        s = self._check_params()
        scale = self.scale
        if isinstance(responses, Store):
            wide, groups = store_responses(responses, s.items, groups, as_of=as_of,
                                           survey=survey)
            responses = wide.responses
            scale = wide.scale if scale is None else scale
        data, groups = self._prepare(responses, groups, s)
        lo, hi = self._scale_bounds(data, scale)
        raw = data.to_numpy()[None]
        X = _standardize(raw)
        w, self.n_iter_, converged = _pls(X, np.ones((1, len(s.items))), s, self.scheme,
                                          self.tol, self.max_iter)
        self.converged_ = bool(converged[0])
        if not self.converged_:
            warnings.warn(f"PLS weights did not converge within max_iter={self.max_iter} "
                          f"iterations (tol={self.tol:g}); results may be unstable. Raise "
                          "max_iter or check the model.", ConvergenceWarning, stacklevel=2)
        est = _estimates(X, raw, w, s, lo, hi)
        self._structure, self._lo, self._hi = s, lo, hi
        self.n_obs_ = len(data)
        self.paths_ = [(s.names[k], s.names[j]) for j in range(len(s.names)) for k in s.preds[j]]
        self.scale_ = pd.DataFrame({"scale_min": lo, "scale_max": hi}, index=s.items)
        pairs = pd.MultiIndex.from_arrays([[s.names[b] for b in s.block], s.items],
                                          names=["construct", "item"])
        self.outer_weights_ = pd.Series(w[0], index=pairs, name="weight")
        self.index_weights_ = pd.Series(est["index_weights"][0], index=pairs, name="weight")
        self.loadings_ = pd.Series(est["loadings"][0], index=pairs, name="loading")
        square = {"index": pd.Index(s.names, name="source"),
                  "columns": pd.Index(s.names, name="target")}
        self.path_coefficients_ = pd.DataFrame(est["paths"][0], **square)
        self.total_effects_ = pd.DataFrame(est["total"][0], **square)
        r2 = pd.Series(est["r2"][0], index=pd.Index(s.names, name="construct"),
                       name="r_squared")
        self.r_squared_ = r2.dropna()
        self.scores_ = pd.DataFrame(_scores(X, w, s)[0], index=data.index, columns=s.names)
        self.reliability_ = self._reliability(X[0], s)
        self.index_ = pd.Series(est["index"][0], index=pd.Index(s.names, name="construct"),
                                name="index")
        self.index_by_group_ = None if groups is None else self._group_index(data, groups, s)
        self.bootstrap_ = self._bootstrap(raw[0], w, est, s) if self.n_boot else None
        return self

    def _reliability(self, X: np.ndarray, s: _Structure) -> pd.DataFrame:
        rows = {}
        for j, c in enumerate(s.names):
            i = np.flatnonzero(s.block == j)
            k, lam = len(i), self.loadings_[c].to_numpy()
            corr_sum = (X[:, i].T @ X[:, i]).sum() / len(X)  # variance of the item sum
            alpha = k / (k - 1) * (1 - k / corr_sum) if k > 1 else 1.0
            rho = lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam**2).sum())
            rows[c] = {"n_items": k, "mode": "B" if j in s.mode_b else "A",
                       "cronbach_alpha": alpha, "composite_reliability": rho,
                       "ave": float(np.mean(lam**2))}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("construct")

    def _group_index(self, data: pd.DataFrame, groups: pd.Series | pd.DataFrame,
                     s: _Structure) -> pd.DataFrame:
        keys = [groups[c] for c in groups.columns] if isinstance(groups, pd.DataFrame) else groups
        grouped = data.groupby(keys, dropna=False, sort=True, observed=True)
        values = _index(grouped.mean().to_numpy(), self.index_weights_.to_numpy(), s,
                        self._lo, self._hi)
        table = pd.DataFrame(values, index=grouped.mean().index, columns=s.names)
        n = grouped.size()
        small = (n < self.min_group_n).to_numpy()
        table.loc[small, :] = np.nan
        table.insert(0, "n", n)
        table["reportable"] = ~small
        table["note"] = np.where(small, "n=" + n.astype(str) + f" < min_group_n="
                                 f"{self.min_group_n}: not reportable", "")
        return table

    def _bootstrap(self, raw: np.ndarray, w: np.ndarray, est: dict[str, np.ndarray],
                   s: _Structure) -> pd.DataFrame:
        """Percentile intervals; each resample starts from the converged weights."""
        rng = np.random.default_rng(self.random_state)
        n, p = raw.shape
        chunk = max(1, int(_CHUNK_BYTES // (8 * 3 * n * p)))
        t = s.names.index(self.target)
        arcs = [(k, j) for j in range(len(s.names)) for k in s.preds[j]]
        drivers = [k for k in range(len(s.names)) if k != t and est["total"][0, k, t] != 0]
        names = ([("path", f"{s.names[k]} -> {s.names[j]}") for k, j in arcs]
                 + [("total_effect", f"{s.names[k]} -> {self.target}") for k in drivers]
                 + [("loading", i) for i in s.items] + [("index", c) for c in s.names])

        def flat(e: dict[str, np.ndarray]) -> np.ndarray:
            return np.hstack([np.stack([e["paths"][:, k, j] for k, j in arcs], axis=1),
                              e["total"][:, drivers, t], e["loadings"], e["index"]])

        draws, failed = [], 0
        for start in range(0, self.n_boot, chunk):
            rows = rng.integers(0, n, size=(min(chunk, self.n_boot - start), n))
            raw_b = raw[rows]
            X_b = _standardize(raw_b)
            w_b, _, conv = _pls(X_b, np.repeat(w, len(rows), axis=0), s, self.scheme,
                                self.tol, self.max_iter)
            failed += int((~conv).sum())
            draws.append(flat(_estimates(X_b, raw_b, w_b, s, self._lo, self._hi)))
        if failed:
            warnings.warn(f"{failed} of {self.n_boot} bootstrap resamples did not converge; "
                          "their estimates are kept.", ConvergenceWarning, stacklevel=3)
        draws = np.vstack(draws)
        tail = 100 * (1 - self.level) / 2
        lower, upper = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
        return pd.DataFrame(
            {"estimate": flat(est)[0], "boot_mean": np.nanmean(draws, axis=0),
             "std_error": np.nanstd(draws, axis=0, ddof=1), "ci_lower": lower,
             "ci_upper": upper},
            index=pd.MultiIndex.from_tuples(names, names=["kind", "parameter"]))

    def transform(self, responses: pd.DataFrame) -> pd.DataFrame:
        """Per-respondent 0-100 construct scores with the fitted ACSI weights.

        Respondents with a missing item get NaN for that item's construct.

        Parameters
        ----------
        responses : DataFrame
            One row per respondent with (at least) the model's items.

        Returns
        -------
        DataFrame
            Always a DataFrame: the index of ``responses``, one column per construct.

        Raises
        ------
        NotFittedError
            Before :meth:`fit` (or :meth:`load`).
        InputError
            ``responses`` is not a DataFrame or lacks items.
        """
        self.check_fitted()
        if not isinstance(responses, pd.DataFrame):
            raise InputError("responses must be a DataFrame with one row per respondent and "
                             f"one column per item; got {type(responses).__name__}.")
        s = self._structure
        missing = [i for i in s.items if i not in responses.columns]
        if missing:
            raise InputError(f"Items missing from responses: {missing}.")
        raw = responses[s.items].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        values = _index(raw, self.index_weights_.to_numpy(), s, self._lo, self._hi)
        return pd.DataFrame(values, index=responses.index, columns=s.names)

    def drivers(self) -> pd.DataFrame:
        """Importance (total effect on ``target``) vs performance (0-100 index).

        Returns one row per construct that affects the target, most important first,
        with the Martilla & James (1977) quadrant relative to the means of both axes.
        """
        self.check_fitted()
        effect = self.total_effects_[self.target].drop(self.target)
        effect = effect[effect != 0]
        table = pd.DataFrame({"importance": effect, "performance": self.index_[effect.index]})
        if self.bootstrap_ is not None:
            ci = self.bootstrap_.loc["total_effect"]
            keys = [f"{c} -> {self.target}" for c in table.index]
            table["importance_ci_lower"] = ci.loc[keys, "ci_lower"].to_numpy()
            table["importance_ci_upper"] = ci.loc[keys, "ci_upper"].to_numpy()
        high_imp = table["importance"] >= table["importance"].mean()
        high_perf = table["performance"] >= table["performance"].mean()
        table["quadrant"] = np.select(
            [high_imp & ~high_perf, high_imp & high_perf, ~high_imp & ~high_perf],
            ["concentrate here", "keep up the good work", "low priority"],
            "possible overkill")
        return table.sort_values("importance", ascending=False).rename_axis("construct")

    def summary(self) -> Summary:
        """Model information, per-construct table and path table.

        Returns
        -------
        Summary
            ``to_frame()`` is one row per construct (index, R squared, total effect on
            the target, reliability; bootstrap intervals of the index with
            ``n_boot``); the path table (source, target, coefficient) is
            ``extra_tables[0]``, named ``"Paths"``.
        """
        self.check_fitted()
        info = {"respondents": self.n_obs_, "dropped (missing items)": self.n_dropped_,
                "scheme": self.scheme, "iterations": self.n_iter_,
                "converged": self.converged_, "target": self.target,
                f"{self.target} index": round(float(self.index_[self.target]), 1),
                "bootstrap resamples": self.n_boot}
        constructs = pd.concat([self.index_, self.r_squared_, self.reliability_], axis=1)
        effect = self.total_effects_[self.target].mask(lambda e: e.index == self.target)
        constructs.insert(2, "total_effect_on_target", effect)
        arcs = self.paths_
        paths = pd.DataFrame([{"source": a, "target": b,
                               "coefficient": self.path_coefficients_.loc[a, b]}
                              for a, b in arcs])
        if self.bootstrap_ is not None:
            for frame, kind, keys, prefix in (
                    (constructs, "index", list(constructs.index), "index_"),
                    (paths, "path", [f"{a} -> {b}" for a, b in arcs], "")):
                ci = self.bootstrap_.loc[kind].loc[keys]
                for col in ("std_error", "ci_lower", "ci_upper"):
                    frame[prefix + col] = ci[col].to_numpy()
        notes = [] if self.converged_ else [
            f"PLS weights did not converge within max_iter={self.max_iter} iterations"]
        return Summary("Satisfaction index (PLS path model)",
                       [(k, str(v)) for k, v in info.items()],
                       constructs.rename_axis("construct"), notes, [("Paths", paths)])

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model as versioned JSON (no pickle).

        The file (format :data:`MODEL_FILE_FORMAT`, version :data:`MODEL_FILE_VERSION`)
        holds the constructor parameters and what :meth:`transform`, :meth:`drivers`
        and :meth:`summary` need: weights, loadings, index, path coefficients, total
        effects, R squared, reliability, bootstrap table, item scales and fit record.
        Respondent-level data (``scores_``) and ``index_by_group_`` are not saved; they
        are None after :meth:`load`. Written atomically (temporary file, then rename).

        Returns
        -------
        pathlib.Path
            ``path``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> rng = np.random.default_rng(0)
        >>> q = rng.normal(size=200)
        >>> data = pd.DataFrame({f"{c}_{i}": np.clip(np.round(5.5 + 2 * (v + rng.normal(size=200))), 1, 10)
        ...                      for c, v in (("q", q), ("s", 0.6 * q)) for i in (1, 2)})
        >>> model = SatisfactionIndex({"q": ["q_1", "q_2"], "s": ["s_1", "s_2"]}, [("q", "s")],
        ...                           target="s", scale=(1, 10)).fit(data)
        >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "index.json")
        >>> SatisfactionIndex.load(path).index_.equals(model.index_)
        True
        """
        self.check_fitted()
        s = self._structure
        params = {k: _jsonable(v) for k, v in self.get_params(deep=False).items()}
        state = {
            "n_obs": int(self.n_obs_), "n_dropped": int(self.n_dropped_),
            "n_iter": int(self.n_iter_), "converged": bool(self.converged_),
            "constructs": list(s.names), "items": list(s.items),
            "scale_min": _floats(self._lo), "scale_max": _floats(self._hi),
            "outer_weights": _floats(self.outer_weights_),
            "index_weights": _floats(self.index_weights_),
            "loadings": _floats(self.loadings_),
            "index": _floats(self.index_),
            "r_squared": _split(self.r_squared_.to_frame()),
            "path_coefficients": _split(self.path_coefficients_),
            "total_effects": _split(self.total_effects_),
            "reliability": _split(self.reliability_),
            "bootstrap": None if self.bootstrap_ is None else _split(self.bootstrap_),
        }
        return write_json_model(path, MODEL_FILE_FORMAT, MODEL_FILE_VERSION,
                                {"params": params, "state": state})

    @classmethod
    def load(cls, path: str | os.PathLike) -> SatisfactionIndex:
        """Read a model written by :meth:`save`, checking its content.

        Raises
        ------
        ModelFileError
            The file is missing, too large, not JSON, another format or format
            version, or its content is wrong: a missing key, a parameter :meth:`fit`
            would refuse, a table whose shape or labels do not match the constructs
            and items, a number that is not finite, path coefficients off the paths,
            total effects that do not follow from the path coefficients. The message
            names the file and what is wrong.

        Examples
        --------
        >>> import json, tempfile, pathlib
        >>> rng = np.random.default_rng(0)
        >>> q = rng.normal(size=200)
        >>> data = pd.DataFrame({f"{c}_{i}": np.clip(np.round(5.5 + 2 * (v + rng.normal(size=200))), 1, 10)
        ...                      for c, v in (("q", q), ("s", 0.6 * q)) for i in (1, 2)})
        >>> model = SatisfactionIndex({"q": ["q_1", "q_2"], "s": ["s_1", "s_2"]}, [("q", "s")],
        ...                           target="s", scale=(1, 10)).fit(data)
        >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "index.json")
        >>> payload = json.loads(path.read_text())
        >>> payload["state"]["index"] = payload["state"]["index"][:1]
        >>> _ = path.write_text(json.dumps(payload))
        >>> SatisfactionIndex.load(path)
        Traceback (most recent call last):
        ...
        crm_analytics.errors.ModelFileError: ...index.json: damaged SatisfactionIndex file: 'state.index' ...
        """
        path = Path(path)
        payload = read_json_model(path, MODEL_FILE_FORMAT, MODEL_FILE_VERSION)
        try:
            model = cls._from_payload(payload)
        except InputError as exc:
            raise ModelFileError(f"{path}: damaged SatisfactionIndex file: {exc}") from None
        except (KeyError, TypeError, ValueError, IndexError, ArithmeticError,
                np.linalg.LinAlgError) as exc:
            raise ModelFileError(f"{path}: damaged SatisfactionIndex file "
                                 f"({type(exc).__name__}: {exc})") from None
        return model

    @classmethod
    def _from_payload(cls, payload: dict[str, Any]) -> SatisfactionIndex:
        """The model a payload describes; InputError naming the first bad value."""
        params = _key(payload, "params", dict)
        expected = set(cls._get_param_names())
        if set(params) != expected:
            raise InputError(f"'params' must hold exactly {', '.join(sorted(expected))}; "
                             f"missing {sorted(expected - set(params))}, unknown "
                             f"{sorted(set(params) - expected)}")
        model = cls(**_params_from_json(params))
        s = model._check_params()
        state = _key(payload, "state", dict)
        if _key(state, "constructs", list, "state") != s.names or _key(
                state, "items", list, "state") != s.items:
            raise InputError("'state.constructs' / 'state.items' do not match the parameters")
        p, J = len(s.items), len(s.names)
        lo = _vector(state, "scale_min", p)
        hi = _vector(state, "scale_max", p)
        if not (lo < hi).all():
            raise InputError("'state.scale_min' must be below 'state.scale_max' for every item")
        counts = {k: _key(state, k, numbers.Integral, "state")
                  for k in ("n_obs", "n_dropped", "n_iter")}
        for k, v in counts.items():
            check_number("the SatisfactionIndex file", f"state.{k}", v, integer=True,
                         low=1 if k != "n_dropped" else 0)
        outer = _vector(state, "outer_weights", p)
        index_weights = _vector(state, "index_weights", p)
        if not np.allclose(index_weights @ s.member, 1.0, rtol=0, atol=1e-9):
            raise InputError("'state.index_weights' must sum to 1 within each construct")
        loadings = _vector(state, "loadings", p)
        index = _vector(state, "index", J)
        square = {"index": pd.Index(s.names, name="source"),
                  "columns": pd.Index(s.names, name="target")}
        paths = _frame(state, "path_coefficients", s.names, s.names)
        on_path = np.zeros((J, J), dtype=bool)
        for j, preds in enumerate(s.preds):
            on_path[preds, j] = True
        if (paths[~on_path] != 0).any():
            raise InputError("'state.path_coefficients' is not 0 where there is no path")
        total = _frame(state, "total_effects", s.names, s.names)
        if not np.allclose(total, np.linalg.inv(np.eye(J) - paths) - np.eye(J),
                           rtol=1e-9, atol=1e-12):
            raise InputError("'state.total_effects' do not follow from the path coefficients")
        endogenous = [c for j, c in enumerate(s.names) if s.preds[j]]
        r2 = _frame(state, "r_squared", endogenous, ["r_squared"])
        rel = _key(state, "reliability", dict, "state")
        rel_columns = ["n_items", "mode", "cronbach_alpha", "composite_reliability", "ave"]
        if rel.get("index") != s.names or rel.get("columns") != rel_columns:
            raise InputError(f"'state.reliability' must have rows {s.names} and columns "
                             f"{rel_columns}")
        rows = _key(rel, "data", list, "state.reliability")
        modes = ["B" if j in s.mode_b else "A" for j in range(J)]
        sizes = [int((s.block == j).sum()) for j in range(J)]
        if len(rows) != J or any(
                not isinstance(r, list) or len(r) != 5 or r[0] != sizes[j] or r[1] != modes[j]
                or not all(_finite(x) for x in r[2:]) for j, r in enumerate(rows)):
            raise InputError("'state.reliability' rows must be [n_items, mode, 3 finite "
                             "numbers] matching the constructs")
        boot = state.get("bootstrap")
        t = s.names.index(model.target)
        if (boot is None) != (model.n_boot == 0):
            raise InputError("'state.bootstrap' must be present exactly when n_boot > 0")

        model._structure, model._lo, model._hi = s, lo, hi
        model.n_obs_, model.n_dropped_ = int(counts["n_obs"]), int(counts["n_dropped"])
        model.n_iter_ = int(counts["n_iter"])
        model.converged_ = _key(state, "converged", bool, "state")
        model.paths_ = [(s.names[k], s.names[j]) for j in range(J) for k in s.preds[j]]
        model.scale_ = pd.DataFrame({"scale_min": lo, "scale_max": hi}, index=s.items)
        pairs = pd.MultiIndex.from_arrays([[s.names[b] for b in s.block], s.items],
                                          names=["construct", "item"])
        model.outer_weights_ = pd.Series(outer, index=pairs, name="weight")
        model.index_weights_ = pd.Series(index_weights, index=pairs, name="weight")
        model.loadings_ = pd.Series(loadings, index=pairs, name="loading")
        model.path_coefficients_ = pd.DataFrame(paths, **square)
        model.total_effects_ = pd.DataFrame(total, **square)
        model.r_squared_ = pd.Series(r2[:, 0], index=pd.Index(endogenous, name="construct"),
                                     name="r_squared")
        model.scores_ = None
        model.reliability_ = pd.DataFrame.from_dict(
            {c: dict(zip(rel_columns, r, strict=True)) for c, r in zip(s.names, rows, strict=True)},
            orient="index").rename_axis("construct")
        model.index_ = pd.Series(index, index=pd.Index(s.names, name="construct"), name="index")
        model.index_by_group_ = None
        if boot is None:
            model.bootstrap_ = None
        else:
            arcs = model.paths_
            drivers = [k for k in range(J) if k != t and total[k, t] != 0]
            keys = ([("path", f"{a} -> {b}") for a, b in arcs]
                    + [("total_effect", f"{s.names[k]} -> {model.target}") for k in drivers]
                    + [("loading", i) for i in s.items] + [("index", c) for c in s.names])
            columns = ["estimate", "boot_mean", "std_error", "ci_lower", "ci_upper"]
            values = _frame(state, "bootstrap", [list(k) for k in keys], columns,
                            allow_null=True)
            model.bootstrap_ = pd.DataFrame(
                values, columns=columns,
                index=pd.MultiIndex.from_tuples(keys, names=["kind", "parameter"]))
        return model


def _check_int(name: str, value: object, low: int, *, allow_none: bool = False) -> None:
    """An int (not bool, not a float such as 3.0) of at least ``low``, else the standard error."""
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        rule = f"an int in the range [{low}, inf)" + (" or None" if allow_none else "")
        raise param_error("SatisfactionIndex", name, rule, value)
    check_number("SatisfactionIndex", name, value, integer=True, low=low, allow_none=allow_none)


def _jsonable(value: Any) -> Any:
    """A constructor parameter as JSON data (tuples become lists, NumPy scalars Python ones)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _params_from_json(params: dict[str, Any]) -> dict[str, Any]:
    """Back from JSON: paths and scales as tuples (as the constructor documents them)."""
    out = dict(params)
    if isinstance(out.get("paths"), list):
        out["paths"] = [tuple(p) if isinstance(p, list) else p for p in out["paths"]]
    scale = out.get("scale")
    if isinstance(scale, list):
        out["scale"] = tuple(scale)
    elif isinstance(scale, dict):
        out["scale"] = {k: tuple(v) if isinstance(v, list) else v for k, v in scale.items()}
    return out


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float)]


def _split(frame: pd.DataFrame) -> dict[str, Any]:
    """``orient="split"`` as plain JSON data (NaN as null, tuples as lists, exact floats)."""
    def cell(v: Any) -> Any:
        if isinstance(v, np.generic):
            v = v.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v

    def label(v: Any) -> Any:
        return [cell(x) for x in v] if isinstance(v, tuple) else cell(v)

    return {"index": [label(i) for i in frame.index],
            "columns": [label(c) for c in frame.columns],
            "data": [[cell(v) for v in row] for row in frame.itertuples(index=False)]}


def _finite(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _key(mapping: dict[str, Any], key: str, kind: Any, where: str = "") -> Any:
    """``mapping[key]`` if present and of type ``kind`` (bool is not a number), else InputError."""
    name = f"{where}.{key}" if where else key
    if not isinstance(mapping, dict) or key not in mapping:
        raise InputError(f"missing key {name!r}")
    value = mapping[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise InputError(f"{name!r} must be of type {kind.__name__}. Got {value!r} instead")
    return value


def _vector(state: dict[str, Any], key: str, n: int) -> np.ndarray:
    values = _key(state, key, list, "state")
    if len(values) != n or not all(_finite(v) for v in values):
        raise InputError(f"'state.{key}' must hold {n} finite numbers")
    return np.array(values, dtype=float)


def _frame(state: dict[str, Any], key: str, index: list[Any], columns: list[Any], *,
           allow_null: bool = False) -> np.ndarray:
    """The values of a saved ``orient="split"`` table, checked against its expected labels."""
    table = _key(state, key, dict, "state")
    if table.get("index") != index or table.get("columns") != columns:
        raise InputError(f"'state.{key}' must have rows {index} and columns {columns}")
    rows = _key(table, "data", list, f"state.{key}")
    ok = len(rows) == len(index) and all(
        isinstance(r, list) and len(r) == len(columns)
        and all(_finite(v) or (allow_null and v is None) for v in r) for r in rows)
    if not ok:
        what = "finite numbers or null" if allow_null else "finite numbers"
        raise InputError(f"'state.{key}' must be a {len(index)} x {len(columns)} table of {what}")
    return np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)
