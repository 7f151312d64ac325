"""CLVModel: a purchase model and a spend model behind one customer-level interface.

``CLVModel`` follows the scikit-learn estimator contract: ``__init__`` stores
its arguments, :meth:`CLVModel.fit` learns from an RFM summary (see
:func:`crm_analytics.clv.rfm_summary`) and returns the model, learned state
ends in ``_``, and every prediction is a pandas object indexed by
``customer_id``.

Work grows with *distinct histories*, not customers: the purchase model is
fitted on the distinct ``(frequency, recency, T)`` triples weighted by how
many customers share them (as Fader and Hardie do), and predictions are
computed once per distinct history and mapped back.

Spend policy
------------
``expected_spend`` and ``clv`` carry a ``spend_basis`` column:

``"customer"``
    A repeat buyer (``frequency >= 1``) with ``monetary_value > 0``: the
    Gamma-Gamma conditional expectation, which shrinks the customer's own mean
    towards the population mean (Fader & Hardie 2013, eq. 5).
``"population_mean"``
    A one-time buyer (``frequency == 0``: nothing is known about their repeat
    spend) or a repeat buyer whose ``monetary_value <= 0`` (same-day refunds
    exceeding the sales; not a Gamma draw): the population mean
    ``p v / (q - 1)``. Should the fitted ``q`` be <= 1 (infinite mean), the
    mean ``monetary_value`` of the repeat buyers stands in for it and repeat
    buyers keep their own mean.
``"unavailable"``
    No spend model (``spend_model=None``, or no repeat buyer with a positive
    ``monetary_value`` to fit one on): spend and CLV are NaN.

Nothing here raises on such customers; they are flagged.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import math
import numbers
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crm_analytics.clv._lifetimes import lifetimes_version
from crm_analytics.clv.models import PURCHASE_MODELS, SPEND_MODELS, GammaGammaModel, PurchaseModel
from crm_analytics.clv.summary import DAYS_PER_UNIT, check_summary, summary_time_unit
from crm_analytics.clv.utils import distinct_rows
from crm_analytics.core.estimator import Estimator
from crm_analytics.core.params import check_choice, check_number
from crm_analytics.core.persistence import package_version, read_json_model, write_json_model
from crm_analytics.core.summary import Summary
from crm_analytics.errors import ConvergenceWarning, InputError, ModelFileError

if TYPE_CHECKING:
    from crm_analytics.clv.evaluation import EvaluationResult

log = logging.getLogger(__name__)

__all__ = ["CLVModel", "MODEL_FILE_FORMAT", "MODEL_FILE_VERSION"]

#: ``format`` field of a saved CLV model file.
MODEL_FILE_FORMAT = "crm_analytics.clv.CLVModel"
#: Version of the file layout; files of another version are refused.
MODEL_FILE_VERSION = 1

#: Days in a year for discounting (the mean Gregorian year).
DAYS_PER_YEAR = 365.25
#: Default CLV step: an average calendar month in days.
MONTH_DAYS = DAYS_PER_YEAR / 12.0

SPEND_BASES = ("customer", "population_mean", "unavailable")


class _FitRecord:
    """What happened during a fit: notes, attempts, and the problems worth a warning."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.attempts: list[dict[str, Any]] = []
        self.trouble: list[str] = []
        self.converged = True

    def add(self, outcome: Any) -> None:
        self.notes += outcome.notes
        self.attempts += [a.to_dict() for a in outcome.attempts]
        self.converged = self.converged and outcome.converged
        if outcome.needed_fallback:
            self.trouble.append(outcome.notes[0])

    def problem(self, message: str) -> None:
        self.notes.append(message)
        self.trouble.append(message)


class CLVModel(Estimator):
    """Customer lifetime value from a purchase model and the Gamma-Gamma spend model.

    Parameters
    ----------
    purchase_model : {'bgnbd', 'pareto_nbd', 'mbgnbd'}, default 'bgnbd'
        BG/NBD (Fader, Hardie & Lee 2005), Pareto/NBD (Schmittlein, Morrison &
        Colombo 1987) or MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    spend_model : {'gamma_gamma', None}, default 'gamma_gamma'
        Gamma-Gamma (Fader & Hardie 2013), or None for purchases only.
    penalizer : float, default 0.0
        L2 penalty on the purchase model's parameters (lifetimes' meaning: added
        to the mean negative log-likelihood per customer, time scaled so the
        oldest customer has T = 1). If the fit does not converge, larger
        penalizers (0.001, 0.01, 0.1) are tried, with a ``ConvergenceWarning``.
    spend_penalizer : float, default 0.0
        The same for the Gamma-Gamma model (amounts scaled by their median).
    time_unit : {'W', 'D', 'M'}, default 'W'
        Unit of the summary's recency and T; parameters with the dimension of
        time (alpha, beta) are in this unit. Must match the summary.
    clv_step_days : float, default 365.25 / 12
        Length of the discounting steps of :meth:`clv` in days (an average
        calendar month).

    Attributes
    ----------
    params_ : pandas.Series
        Fitted parameters by literature name (r, alpha, a, b / r, alpha, s,
        beta; then p, q, v), v on the original currency scale.
    std_errors_ : pandas.Series
        Standard errors, same index (NaN where not available).
    converged_ : bool
        False if some model reached no proper optimum (see ``fit_notes_``).
    fit_notes_ : list of str
        What happened during the fit, in words.
    convergence_ : list of dict
        Every optimisation attempt: model, start, penalizer, success, accepted,
        objective, message.
    n_customers_, n_histories_, n_spend_customers_ : int
        Customers fitted, their distinct (frequency, recency, T) histories, and
        the repeat buyers the spend model was fitted on.
    data_ : pandas.DataFrame or None
        The summary the model was fitted on (what ``data=None`` means); None
        after :meth:`load` or :meth:`from_params`.

    Examples
    --------
    >>> summary = pd.DataFrame(
    ...     {"frequency": [0.0, 2.0, 5.0, 1.0], "recency": [0.0, 20.0, 30.0, 5.0],
    ...      "T": [40.0, 40.0, 35.0, 30.0], "monetary_value": [0.0, 20.0, 35.0, 15.0]},
    ...     index=pd.Index(["A", "B", "C", "D"], name="customer_id"))
    >>> model = CLVModel.from_params({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5,
    ...                               "p": 6.0, "q": 4.0, "v": 15.0})
    >>> model.clv(summary, horizon_days=365)[["clv", "spend_basis"]].round(2)
                    clv      spend_basis
    customer_id
    A              7.33  population_mean
    B             23.57         customer
    C            137.46         customer
    D             10.71         customer
    """

    def __init__(
        self,
        purchase_model: str = "bgnbd",
        spend_model: str | None = "gamma_gamma",
        penalizer: float = 0.0,
        spend_penalizer: float = 0.0,
        time_unit: str = "W",
        clv_step_days: float = MONTH_DAYS,
    ):
        self.purchase_model = purchase_model
        self.spend_model = spend_model
        self.penalizer = penalizer
        self.spend_penalizer = spend_penalizer
        self.time_unit = time_unit
        self.clv_step_days = clv_step_days

    _fitted_attribute = "purchase_model_"

    # -- configuration -------------------------------------------------------------------
    def __repr__(self) -> str:
        params = self.get_params(deep=False)
        names = inspect.signature(type(self).__init__).parameters
        args = ", ".join(f"{k}={params[k]!r}" for k in names if k in params)
        return f"CLVModel({args})"

    def _check_params(self) -> None:
        """Check the constructor arguments (run by :meth:`fit` and :meth:`load`)."""
        check_choice("CLVModel", "purchase_model", self.purchase_model, list(PURCHASE_MODELS))
        check_choice("CLVModel", "spend_model", self.spend_model, [*SPEND_MODELS, None])
        check_number("CLVModel", "penalizer", self.penalizer, low=0.0)
        check_number("CLVModel", "spend_penalizer", self.spend_penalizer, low=0.0)
        check_choice("CLVModel", "time_unit", self.time_unit, list(DAYS_PER_UNIT))
        check_number("CLVModel", "clv_step_days", self.clv_step_days, low=0.0, low_open=True)

    @property
    def _days_per_unit(self) -> float:
        return DAYS_PER_UNIT[self.time_unit]

    # -- fitting -------------------------------------------------------------------------
    def fit(self, summary: pd.DataFrame, *, weights: str | Any = None) -> CLVModel:
        """Fit the purchase model and the spend model on an RFM summary.

        The purchase model is fitted on the distinct ``(frequency, recency, T)``
        histories weighted by their customer counts; the spend model on the
        repeat buyers with ``monetary_value > 0``, deduplicated the same way.
        Convergence trouble never raises: other starting points, then larger
        penalizers are tried; a :class:`~crm_analytics.errors.ConvergenceWarning`
        says so and ``fit_notes_`` / ``convergence_`` record it.

        Parameters
        ----------
        summary : pandas.DataFrame
            Indexed by ``customer_id`` with ``frequency``, ``recency``, ``T``
            (and ``monetary_value`` unless ``spend_model=None``), in
            ``time_unit``.
        weights : str or array-like, optional
            How many customers each row stands for: a column of ``summary`` or
            one non-negative finite number per row. Fitting on the distinct
            histories with their counts (what a cluster engine aggregates, e.g.
            ``crm_analytics.spark``) gives the same parameters as fitting on
            every customer. Default: every row is one customer.

        Returns
        -------
        CLVModel
            ``self``.

        Examples
        --------
        >>> from crm_analytics.store import Store
        >>> from crm_analytics.clv import rfm_summary
        >>> from crm_analytics.datasets.synthetic import generate
        >>> data = generate(n_customers=2000, seed=1)  # purchases BG/NBD, spend Gamma-Gamma
        >>> store = Store(":memory:")
        >>> _ = store.load("customers", data.customers)
        >>> _ = store.load("transactions", data.transactions)
        >>> model = CLVModel().fit(rfm_summary(store, "2025-12-31"))
        >>> model.params_.round(2).to_dict()
        {'r': 0.79, 'alpha': 4.81, 'a': 0.81, 'b': 2.19, 'p': 5.72, 'q': 3.89, 'v': 62.13}
        >>> model.expected_purchases(horizon_days=90).head(3).round(3).tolist()
        [0.003, 0.001, 0.021]

        The same fit from the distinct histories and their counts:

        >>> summary = rfm_summary(store, "2025-12-31")
        >>> histories = (summary.groupby(["frequency", "recency", "T", "monetary_value"])
        ...              .size().rename("customers").reset_index())
        >>> len(histories) < len(summary)
        True
        >>> CLVModel().fit(histories, weights="customers").params_.round(2).to_dict()
        {'r': 0.79, 'alpha': 4.81, 'a': 0.81, 'b': 2.19, 'p': 5.72, 'q': 3.89, 'v': 62.13}
        """
        self._check_params()
        check_summary(summary, require_monetary=self.spend_model is not None)
        w = _weights(summary, weights)
        unit = summary_time_unit(summary)
        if unit is not None and unit != self.time_unit:
            raise InputError(
                f"the summary is in time unit {unit!r} but CLVModel(time_unit={self.time_unit!r}); "
                f"use rfm_summary(..., time_unit={self.time_unit!r}) or CLVModel(time_unit={unit!r})"
            )
        x = summary["frequency"].to_numpy(dtype=float)
        t_x = summary["recency"].to_numpy(dtype=float)
        T = summary["T"].to_numpy(dtype=float)
        codes, (hx, ht, hT), counts = distinct_rows(x, t_x, T, weights=w)
        purchase_cls = PURCHASE_MODELS[self.purchase_model]
        purchase, outcome = purchase_cls.fit(hx, ht, hT, counts, penalizer=float(self.penalizer))
        record = _FitRecord()
        record.add(outcome)
        if self.spend_model is not None:
            spend, fallback_mean, n_spend = self._fit_spend(summary, x, record, w)
        else:
            spend, fallback_mean, n_spend = None, float("nan"), 0

        self.purchase_model_: PurchaseModel = purchase
        self.spend_model_: GammaGammaModel | None = spend
        self._spend_fallback_mean = fallback_mean
        self.fit_notes_: list[str] = record.notes
        self.convergence_: list[dict[str, Any]] = record.attempts
        self.converged_: bool = record.converged
        self.n_customers_: int = len(summary) if w is None else int(round(w.sum()))
        self.n_histories_: int = len(hx)
        self.n_spend_customers_: int = n_spend
        self.data_: pd.DataFrame = summary
        self._data_histories = (codes, hx, ht, hT)  # predictions on data_ reuse them
        self.fit_info_: dict[str, Any] = {
            "as_of": summary.attrs.get("as_of"),
            "calibration_end": summary.attrs.get("calibration_end"),
            "fitted_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        }
        self._set_public_params()
        for note in record.notes:
            log.info("%s", note)
        for message in record.trouble:
            warnings.warn(message, ConvergenceWarning, stacklevel=2)
        return self

    def _fit_spend(
        self, summary: pd.DataFrame, x: np.ndarray, record: _FitRecord, w: np.ndarray | None = None
    ) -> tuple[GammaGammaModel | None, float, int]:
        """Gamma-Gamma on repeat buyers with positive monetary value (distinct (x, m) pairs)."""
        m = summary["monetary_value"].to_numpy(dtype=float)
        usable = (x >= 1) & (m > 0)
        if w is not None:
            usable &= w > 0
        n_spend = int(usable.sum()) if w is None else int(round(w[usable].sum()))
        if not n_spend:
            record.problem(
                "gamma_gamma: not fitted, no repeat buyer with monetary_value > 0; "
                "expected spend and CLV are NaN (spend_basis 'unavailable')"
            )
            return None, float("nan"), 0
        fallback_mean = float(np.average(m[usable], weights=None if w is None else w[usable]))
        _, (sx, sm), counts = distinct_rows(
            x[usable], m[usable], weights=None if w is None else w[usable])
        spend, outcome = SPEND_MODELS[self.spend_model].fit(
            sx, sm, counts, penalizer=float(self.spend_penalizer)
        )
        record.add(outcome)
        if not spend.params["q"] > 1.0:
            record.problem(
                f"gamma_gamma: q = {spend.params['q']:.3g} <= 1 gives an infinite mean "
                f"spend; the sample mean of repeat buyers' monetary_value "
                f"({fallback_mean:.4g}) stands in for the population mean"
            )
        return spend, fallback_mean, n_spend

    def _set_public_params(self) -> None:
        params = dict(self.purchase_model_.params)
        ses = dict(self.purchase_model_.std_errors)
        if self.spend_model_ is not None:
            params.update(self.spend_model_.params)
            ses.update(self.spend_model_.std_errors)
        self.params_ = pd.Series(params, dtype=float, name="estimate")
        self.std_errors_ = pd.Series(ses, dtype=float, name="std_error")

    @classmethod
    def from_params(
        cls,
        params: dict[str, float],
        *,
        purchase_model: str = "bgnbd",
        time_unit: str = "W",
        clv_step_days: float = MONTH_DAYS,
    ) -> CLVModel:
        """A model with given parameters, not fitted (published values, hand checks).

        ``params`` holds the purchase model's parameters and, optionally, the
        Gamma-Gamma ``p, q, v``. Predictions then need ``data``.

        Raises
        ------
        InputError
            A parameter is missing, unknown, or not a finite number > 0 (every
            parameter of BG/NBD, Pareto/NBD, MBG/NBD and Gamma-Gamma is), or
            ``purchase_model``, ``time_unit`` or ``clv_step_days`` is not
            allowed. The message follows :func:`crm_analytics.core.params.param_error`.

        Examples
        --------
        >>> CLVModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}).params_
        r        0.243
        alpha    4.414
        a        0.793
        b        2.426
        Name: estimate, dtype: float64
        >>> CLVModel.from_params({"r": 0.243, "alpha": -4.4, "a": 0.793, "b": 2.426})
        Traceback (most recent call last):
        ...
        crm_analytics.errors.InputError: The 'alpha' parameter of BG/NBD must be a float in the range ...
        """
        if not isinstance(params, Mapping):
            raise InputError(
                f"params must be a mapping {{name: value}}. Got {type(params).__name__} instead.")
        spend_names = GammaGammaModel.param_names
        spend = "gamma_gamma" if set(spend_names) & set(params) else None
        model = cls(purchase_model=purchase_model, spend_model=spend, time_unit=time_unit,
                    clv_step_days=clv_step_days)
        model._check_params()
        purchase_cls = PURCHASE_MODELS[purchase_model]
        unknown = [k for k in params if k not in (*purchase_cls.param_names, *spend_names)]
        if unknown:
            raise InputError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for {purchase_cls.title}"
                f"{' + Gamma-Gamma' if spend else ''}; expected "
                f"{', '.join((*purchase_cls.param_names, *spend_names))}"
            )
        model.purchase_model_ = purchase_cls(_model_params(purchase_cls, params))
        model.spend_model_ = GammaGammaModel(_model_params(GammaGammaModel, params)) if spend else None
        model._spend_fallback_mean = float("nan")
        model.fit_notes_ = ["parameters given, not fitted"]
        model.convergence_ = []
        model.converged_ = True
        model.n_customers_ = model.n_histories_ = model.n_spend_customers_ = 0
        model.data_ = None
        model.fit_info_ = {}
        model._set_public_params()
        return model

    # -- predictions ---------------------------------------------------------------------
    def _data(self, data: pd.DataFrame | None, *, require_monetary: bool = False) -> pd.DataFrame:
        self.check_fitted()
        if data is None:
            if self.data_ is None:
                raise InputError("this model was not fitted on a summary; pass data=<RFM summary>")
            data = self.data_
        if data is self.data_:  # checked by fit
            if require_monetary and "monetary_value" not in data.columns:
                raise InputError("Required column monetary_value missing")
            return data
        check_summary(data, require_monetary=require_monetary)
        unit = summary_time_unit(data)
        if unit is not None and unit != self.time_unit:
            raise InputError(
                f"data are in time unit {unit!r} but the model was fitted in {self.time_unit!r}"
            )
        return data

    def _histories(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if data is self.data_ and getattr(self, "_data_histories", None) is not None:
            return self._data_histories
        codes, (x, t_x, T), _ = distinct_rows(
            data["frequency"].to_numpy(dtype=float),
            data["recency"].to_numpy(dtype=float),
            data["T"].to_numpy(dtype=float),
        )
        return codes, x, t_x, T

    @staticmethod
    def _check_horizon(horizon_days: Any) -> float:
        bad = isinstance(horizon_days, bool) or not isinstance(
            horizon_days, (int, float, np.integer, np.floating)
        )
        if bad or not math.isfinite(float(horizon_days)) or float(horizon_days) < 0:
            raise InputError(
                f"horizon_days must be a number of days >= 0. Got {horizon_days!r} instead."
            )
        return float(horizon_days)

    def expected_purchases(self, data: pd.DataFrame | None = None, *, horizon_days: float) -> pd.Series:
        """Expected number of repeat purchase occasions in the next ``horizon_days``.

        The purchase model's conditional expectation ``E[Y(t) | x, t_x, T]`` with
        ``t = horizon_days`` in the model's time unit: BG/NBD, Fader, Hardie &
        Lee (2005) eq. 10; Pareto/NBD, Schmittlein, Morrison & Colombo (1987) as
        in Fader & Hardie's (2005) note eq. 41; MBG/NBD, Batislam et al. (2007)
        with Wagner & Hoppe's (2008) erratum.

        Parameters
        ----------
        data : pandas.DataFrame, optional
            RFM summary; default the one the model was fitted on.
        horizon_days : float
            Prediction window in days after each customer's T.

        Returns
        -------
        pandas.Series
            ``expected_purchases`` by ``customer_id``.
        """
        data = self._data(data)
        t = self._check_horizon(horizon_days) / self._days_per_unit
        codes, x, t_x, T = self._histories(data)
        values = self.purchase_model_.conditional_expected_purchases(t, x, t_x, T)
        return pd.Series(values[codes], index=data.index, name="expected_purchases")

    def probability_alive(self, data: pd.DataFrame | None = None) -> pd.Series:
        """Probability that each customer is still active at the end of their history.

        BG/NBD: Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD
        model" (1 for one-time buyers); Pareto/NBD: Schmittlein, Morrison &
        Colombo (1987) eq. 11; MBG/NBD: Batislam et al. (2007) appendix eq. 5.

        Returns
        -------
        pandas.Series
            ``probability_alive`` by ``customer_id``.
        """
        data = self._data(data)
        codes, x, t_x, T = self._histories(data)
        values = self.purchase_model_.conditional_probability_alive(x, t_x, T)
        return pd.Series(np.clip(values, 0.0, 1.0)[codes], index=data.index, name="probability_alive")

    def expected_spend(self, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """Expected value of each future purchase occasion, with its basis.

        Gamma-Gamma conditional expectation ``E[Z | x, m_x]`` (Fader & Hardie
        2013, eq. 5) for repeat buyers with ``monetary_value > 0``; the
        population mean ``p v / (q - 1)`` otherwise (see the module docstring).

        Returns
        -------
        pandas.DataFrame
            ``expected_spend`` and ``spend_basis`` by ``customer_id``.
        """
        return self._spend(self._data(data, require_monetary=True))

    def _spend(self, data: pd.DataFrame) -> pd.DataFrame:
        spend, basis = self._spend_arrays(data)
        return pd.DataFrame({"expected_spend": spend, "spend_basis": basis}, index=data.index)

    def _spend_arrays(self, data: pd.DataFrame) -> tuple[np.ndarray, Any]:
        """Expected spend per customer and its basis (a ``str`` array), in the rows' order."""
        x = data["frequency"].to_numpy(dtype=float)
        m = data["monetary_value"].to_numpy(dtype=float)
        gg = self.spend_model_
        if gg is None:
            return np.full(len(data), np.nan), _labels(np.full(len(data), 2, dtype=np.int8), SPEND_BASES)
        own = (x >= 1) & (m > 0)
        if gg.params["q"] > 1.0:
            population = gg.population_mean
            own_spend = gg.conditional_expected_spend(x[own], m[own])
        else:
            # Infinite model mean: trust each customer's own mean and the sample mean.
            population = self._spend_fallback_mean
            own_spend = m[own]
        spend = np.full(len(data), population)
        spend[own] = own_spend
        return spend, _labels(np.where(own, 0, 1).astype(np.int8), SPEND_BASES)

    def _discounted_purchases(
        self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, horizon_days: float, rate: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Discounted and undiscounted expected purchases over the horizon, per history."""
        step = float(self.clv_step_days)
        n_steps = max(1, math.ceil(horizon_days / step - 1e-9)) if horizon_days > 0 else 0
        ends = np.minimum(np.arange(1, n_steps + 1) * step, horizon_days)
        discounted = np.zeros(x.size)
        previous = np.zeros(x.size)
        steps = self.purchase_model_.iter_conditional_expected_purchases(
            ends / self._days_per_unit, x, t_x, T
        )
        for end, cumulative in zip(ends, steps, strict=True):
            discounted += (cumulative - previous) * (1.0 + rate) ** (-end / DAYS_PER_YEAR)
            previous = cumulative
        return discounted, previous

    def clv(
        self,
        data: pd.DataFrame | None = None,
        *,
        horizon_days: float = 365,
        annual_discount_rate: float = 0.1,
    ) -> pd.DataFrame:
        """Discounted expected revenue over the next ``horizon_days``, per customer.

        The horizon is cut into steps of ``clv_step_days`` (default an average
        calendar month, 365.25 / 12 days; the last step ends at the horizon).
        The purchases expected in step k -- the difference of the purchase
        model's conditional expectation at the step's end and start -- are
        valued at the expected spend and discounted from the step's end
        ``tau_k`` (in days)::

            CLV = E[Z | x, m_x] * sum_k (E[Y(tau_k)] - E[Y(tau_{k-1})])
                  / (1 + annual_discount_rate) ** (tau_k / 365.25)

        This is the discrete version of the discounted expected residual
        transactions of Fader, Hardie & Lee (2005, "RFM and CLV"), with
        purchases and spend independent as the Gamma-Gamma model assumes.
        Discounting at the step's end is slightly conservative (about 0.4 % at
        10 % a year with monthly steps). Unlike lifetimes'
        ``customer_lifetime_value`` there is no 30-day month: steps and rate
        are in days and years.

        Parameters
        ----------
        data : pandas.DataFrame, optional
            RFM summary with ``monetary_value``; default the fitted one.
        horizon_days : float, default 365
        annual_discount_rate : float, default 0.1
            Effective annual rate, >= 0.

        Returns
        -------
        pandas.DataFrame
            By ``customer_id``: ``clv``, ``expected_purchases`` (undiscounted,
            over the horizon), ``expected_spend`` and ``spend_basis``.
        """
        horizon = self._check_horizon(horizon_days)
        rate = annual_discount_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) or not (
            math.isfinite(float(rate)) and float(rate) >= 0
        ):
            raise InputError(
                f"annual_discount_rate must be a number >= 0 (0.1 is 10 % a year). Got {rate!r} instead."
            )
        data = self._data(data, require_monetary=True)
        spend, basis = self._spend_arrays(data)
        codes, x, t_x, T = self._histories(data)
        discounted, total = self._discounted_purchases(x, t_x, T, horizon, float(rate))
        # One frame built from arrays in the rows' order: no join on customer_id.
        return pd.DataFrame(
            {
                "clv": discounted[codes] * spend,
                "expected_purchases": total[codes],
                "expected_spend": spend,
                "spend_basis": basis,
            },
            index=data.index,
        )

    def expected_purchases_new_customer(self, horizon_days: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases of a new customer within ``horizon_days`` of the first.

        The purchase model's unconditional ``E[X(t)]`` (BG/NBD: Fader, Hardie &
        Lee 2005, eq. 9; Pareto/NBD: Fader & Hardie's note eq. 27; MBG/NBD:
        Batislam et al. 2007). Used for tracking plots.
        """
        self.check_fitted()
        t = np.asarray(horizon_days, dtype=float) / self._days_per_unit
        return self.purchase_model_.expected_purchases_new_customer(t)

    # -- evaluation, reporting, figures ----------------------------------------------------------
    def evaluate(self, summary_with_holdout: pd.DataFrame) -> EvaluationResult:
        """Compare predictions with a holdout period and with a naive baseline.

        The model is left as it was: nothing is refitted or stored on it.
        See :func:`crm_analytics.clv.evaluation.evaluate_clv_model`.

        Parameters
        ----------
        summary_with_holdout : pandas.DataFrame
            RFM summary from ``rfm_summary(..., calibration_end=...)``.

        Returns
        -------
        EvaluationResult
            Metrics of the model and the baseline; ``summary()`` gives a
            :class:`~crm_analytics.core.summary.Summary`.
        """
        from crm_analytics.clv.evaluation import evaluate_clv_model

        return evaluate_clv_model(self, summary_with_holdout)

    def summary(self) -> Summary:
        """Parameters with standard errors, sample sizes and convergence notes.

        Returns
        -------
        Summary
            Prints as text, renders as HTML in Jupyter, ``to_frame()`` gives
            the parameter table (model, estimate, std_error).
        """
        self.check_fitted()
        rows = []
        pm = self.purchase_model_
        for k in pm.param_names:
            rows.append((k, pm.title, pm.params[k], pm.std_errors[k]))
        if self.spend_model_ is not None:
            gg = self.spend_model_
            for k in gg.param_names:
                rows.append((k, gg.title, gg.params[k], gg.std_errors[k]))
        table = pd.DataFrame(rows, columns=["parameter", "model", "estimate", "std_error"])
        table = table.set_index("parameter")
        facts = [
            ("purchase model", f"{pm.title} ({self.purchase_model})"),
            ("spend model", self.spend_model_.title if self.spend_model_ is not None else "none"),
            ("time unit", f"{self.time_unit} ({self._days_per_unit:g} days)"),
            ("customers", f"{self.n_customers_:,}"),
            ("distinct histories", f"{self.n_histories_:,}"),
            ("repeat buyers in spend fit", f"{self.n_spend_customers_:,}"),
            ("converged", "yes" if self.converged_ else "NO (see notes)"),
            ("std errors", pm.std_error_source),
        ]
        if self.spend_model_ is not None and self.spend_model_.params["q"] > 1:
            facts.append(("mean spend p*v/(q-1)", f"{self.spend_model_.population_mean:.4g}"))
        return Summary(f"CLV model: {pm.title} + "
                      f"{self.spend_model_.title if self.spend_model_ else 'no spend model'}",
                      facts, table, list(self.fit_notes_))

    def plot_expected_purchases_matrix(self, *, horizon_days: float = 365, **kwargs: Any) -> Any:
        """Heatmap of expected purchases over frequency and recency (see :mod:`.plotting`)."""
        from crm_analytics.clv.plotting import plot_expected_purchases_matrix

        return plot_expected_purchases_matrix(self, horizon_days=horizon_days, **kwargs)

    def plot_probability_alive_matrix(self, **kwargs: Any) -> Any:
        """Heatmap of P(alive) over frequency and recency (see :mod:`.plotting`)."""
        from crm_analytics.clv.plotting import plot_probability_alive_matrix

        return plot_probability_alive_matrix(self, **kwargs)

    def plot_cumulative_transactions(self, store: Any, as_of: Any, **kwargs: Any) -> Any:
        """Actual vs model cumulative repeat transactions over time (see :mod:`.plotting`)."""
        from crm_analytics.clv.plotting import plot_cumulative_transactions

        return plot_cumulative_transactions(self, store, as_of, **kwargs)

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Configuration, parameters and fit record as JSON-ready data (what :meth:`save` writes).

        Examples
        --------
        >>> m = CLVModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> d = m.to_dict()
        >>> d["format"], d["format_version"], d["purchase_model"]["params"]["alpha"]
        ('crm_analytics.clv.CLVModel', 1, 4.414)
        """
        self.check_fitted()
        return {
            "format": MODEL_FILE_FORMAT,
            "format_version": MODEL_FILE_VERSION,
            "package_version": package_version(),
            **self._body(),
        }

    def _body(self) -> dict[str, Any]:
        pm, gg = self.purchase_model_, self.spend_model_
        return {
            "lifetimes_version": lifetimes_version(),
            "config": self.get_params(deep=False),
            "purchase_model": {
                "name": pm.name,
                "params": dict(pm.params),
                "std_errors": _json_numbers(pm.std_errors),
            },
            "spend_model": None if gg is None else {
                "name": gg.name,
                "params": dict(gg.params),
                "std_errors": _json_numbers(gg.std_errors),
            },
            "spend_fallback_mean": _json_number(self._spend_fallback_mean),
            "fit": {
                "n_customers": self.n_customers_,
                "n_histories": self.n_histories_,
                "n_spend_customers": self.n_spend_customers_,
                "converged": self.converged_,
                "notes": list(self.fit_notes_),
                "convergence": [_json_numbers(a) for a in self.convergence_],
                **self.fit_info_,
            },
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model as versioned JSON (no pickle): configuration, parameters, fit record.

        The file (format :data:`MODEL_FILE_FORMAT`, version
        :data:`MODEL_FILE_VERSION`) is written to a temporary name and renamed,
        so a reader never sees half a file. The fitted summary is not saved.

        Returns
        -------
        pathlib.Path
            ``path``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> m = CLVModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> path = m.save(pathlib.Path(tempfile.mkdtemp()) / "clv.json")
        >>> CLVModel.load(path).params_.equals(m.params_)
        True
        """
        self.check_fitted()
        return write_json_model(path, MODEL_FILE_FORMAT, MODEL_FILE_VERSION, self._body())

    @classmethod
    def load(cls, path: str | os.PathLike, *, purchase_model: str | None = None) -> CLVModel:
        """Read a model written by :meth:`save`, checking every value in it.

        Parameters
        ----------
        path : str or Path
        purchase_model : str, optional
            If given, the file must hold this purchase model.

        Raises
        ------
        ModelFileError
            The file is missing, not JSON, not a CLV model file, of another
            format version, holds another model type than requested, or its
            content is wrong: a missing key, a value of the wrong type, a model
            parameter that is not a finite number > 0 (BG/NBD and MBG/NBD r,
            alpha, a, b; Pareto/NBD r, alpha, s, beta; Gamma-Gamma p, q, v), a
            configuration :meth:`fit` would refuse. The message names the file
            and what is wrong. A file written by another package version of the
            same format version loads (logged).

        Examples
        --------
        >>> import json, tempfile, pathlib
        >>> m = CLVModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> path = m.save(pathlib.Path(tempfile.mkdtemp()) / "clv.json")
        >>> payload = json.loads(path.read_text())
        >>> payload["purchase_model"]["params"]["alpha"] = 0.0
        >>> _ = path.write_text(json.dumps(payload))
        >>> CLVModel.load(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        crm_analytics.errors.ModelFileError: ...clv.json: damaged CLV model file: The 'alpha' parameter of ...
        """
        path = Path(path)
        payload = read_json_model(path, MODEL_FILE_FORMAT, MODEL_FILE_VERSION)
        try:
            model = cls._from_payload(payload, purchase_model)
        except _WrongModelError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        except InputError as exc:
            raise ModelFileError(f"{path}: damaged CLV model file: {exc}") from None
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # pragma: no cover
            raise ModelFileError(
                f"{path}: damaged CLV model file ({type(exc).__name__}: {exc})") from None
        if payload.get("package_version") != package_version():
            log.info("%s was saved by crm_analytics %s (this is %s)", path,
                     payload.get("package_version"), package_version())
        return model

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> CLVModel:
        """The model :meth:`to_dict` described (checked as :meth:`load` checks a file).

        How a fitted model travels without a pickle, e.g. to Spark executors.

        Raises
        ------
        ModelFileError
            Not a CLV model description, another format version, or a bad value.

        Examples
        --------
        >>> m = CLVModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
        >>> CLVModel.from_dict(m.to_dict()).params_["alpha"]
        np.float64(4.414)
        """
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FILE_FORMAT:
            raise ModelFileError("not a CLV model description (CLVModel.to_dict() gives one)")
        if payload.get("format_version") != MODEL_FILE_VERSION:
            version = payload.get("format_version")
            raise ModelFileError(f"CLV model description of format version {version!r}; "
                                 f"this crm_analytics reads version {MODEL_FILE_VERSION}")
        try:
            return cls._from_payload(payload, None)
        except (InputError, _WrongModelError) as exc:
            raise ModelFileError(f"damaged CLV model description: {exc}") from None
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # pragma: no cover
            raise ModelFileError(f"damaged CLV model description ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_payload(cls, payload: dict[str, Any], purchase_model: str | None) -> CLVModel:
        """The model a checked payload describes; InputError naming the first bad value."""
        config = _get(payload, "config", dict)
        expected = set(cls._get_param_names())
        if set(config) != expected:
            raise InputError(
                f"'config' must hold exactly {', '.join(sorted(expected))}; "
                f"missing {sorted(expected - set(config))}, unknown {sorted(set(config) - expected)}"
            )
        pm_data = _get(payload, "purchase_model", dict)
        name = _get(pm_data, "name", str, where="purchase_model")
        if name not in PURCHASE_MODELS:
            raise _WrongModelError(f"unknown purchase model {name!r}; known: {', '.join(PURCHASE_MODELS)}")
        if purchase_model is not None and name != purchase_model:
            raise _WrongModelError(f"holds a {name!r} model, expected purchase_model={purchase_model!r}")
        if config["purchase_model"] != name:
            raise InputError(f"config purchase_model {config['purchase_model']!r} but the "
                             f"purchase model is {name!r}")
        model = cls(**config)
        model._check_params()
        purchase_cls = PURCHASE_MODELS[name]
        purchase = purchase_cls(*_submodel(purchase_cls, pm_data, "purchase_model"))
        gg_data = _get(payload, "spend_model", (dict, type(None)))
        if gg_data is None:
            spend = None
        else:
            if model.spend_model is None:
                raise InputError("config spend_model None but the file holds a spend model")
            gg_name = _get(gg_data, "name", str, where="spend_model")
            if gg_name != model.spend_model:
                raise InputError(f"config spend_model {model.spend_model!r} but the spend model "
                                 f"is {gg_name!r}")
            spend_cls = SPEND_MODELS[gg_name]
            spend = spend_cls(*_submodel(spend_cls, gg_data, "spend_model"))
        fallback = _get(payload, "spend_fallback_mean", (numbers.Real, type(None)))
        if fallback is not None:
            check_number("the CLV model file", "spend_fallback_mean", fallback, low=0.0,
                         low_open=True)
        fit = _get(payload, "fit", dict)
        counts = {k: _get(fit, k, numbers.Integral, where="fit")
                  for k in ("n_customers", "n_histories", "n_spend_customers")}
        for k, v in counts.items():
            check_number("the CLV model file", f"fit.{k}", v, integer=True, low=0)
        notes = _get(fit, "notes", list, where="fit")
        convergence = _get(fit, "convergence", list, where="fit")
        if not all(isinstance(n, str) for n in notes):
            raise InputError("'fit.notes' must be a list of str")
        if not all(isinstance(a, dict) for a in convergence):
            raise InputError("'fit.convergence' must be a list of objects")
        info = {k: fit.get(k) for k in ("as_of", "calibration_end", "fitted_at")}
        bad = [k for k, v in info.items() if v is not None and not isinstance(v, str)]
        if bad:
            raise InputError(f"'fit.{bad[0]}' must be a date string or null. Got {info[bad[0]]!r}")

        model.purchase_model_ = purchase
        model.spend_model_ = spend
        model._spend_fallback_mean = float("nan") if fallback is None else float(fallback)
        model.fit_notes_ = list(notes)
        model.convergence_ = list(convergence)
        model.converged_ = _get(fit, "converged", bool, where="fit")
        model.n_customers_ = int(counts["n_customers"])
        model.n_histories_ = int(counts["n_histories"])
        model.n_spend_customers_ = int(counts["n_spend_customers"])
        model.fit_info_ = info
        model.data_ = None
        model._set_public_params()
        return model


def customer_value_scores(
    model: CLVModel, summary: pd.DataFrame, *, horizon_days: float = 365,
    annual_discount_rate: float = 0.1,
) -> pd.DataFrame:
    """The nightly run's CLV score columns for the customers of ``summary``.

    One row per customer: the summary's ``frequency``, ``recency_weeks``,
    ``tenure_weeks``, ``monetary_value``, then ``p_alive``,
    ``expected_purchases`` over ``horizon_days`` and the columns of
    :meth:`CLVModel.clv` (``clv``, expected spend and its basis). The scoring
    run and the Spark path (``crm_analytics.spark.scoring``, per partition) both
    call this, so their scores are the same computation.

    Examples
    --------
    >>> m = CLVModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426,
    ...                           "p": 6.25, "q": 3.74, "v": 15.44})
    >>> s = pd.DataFrame({"frequency": [0.0, 2.0], "recency": [0.0, 30.0], "T": [39.0, 39.0],
    ...                   "monetary_value": [0.0, 35.0]}, index=pd.Index(["A", "B"], name="customer_id"))
    >>> customer_value_scores(m, s)[["p_alive", "expected_purchases", "clv"]].round(3)
                 p_alive  expected_purchases     clv
    customer_id
    A               1.00               0.252   8.449
    B               0.72               1.543  51.540
    """
    out = pd.DataFrame(index=summary.index)
    out["frequency"] = summary["frequency"]
    out["recency_weeks"] = summary["recency"]
    out["tenure_weeks"] = summary["T"]
    out["monetary_value"] = summary["monetary_value"]
    out["p_alive"] = model.probability_alive(summary)
    out["expected_purchases"] = model.expected_purchases(summary, horizon_days=horizon_days)
    value = model.clv(summary, horizon_days=horizon_days, annual_discount_rate=annual_discount_rate)
    if isinstance(value, pd.DataFrame):
        return out.join(value.drop(columns=[c for c in value.columns if c in out.columns]))
    out["clv"] = value
    return out


def _weights(summary: pd.DataFrame, weights: Any) -> np.ndarray | None:
    """``CLVModel.fit``'s ``weights``: None, a column name or one number per row, checked."""
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in summary.columns:
            raise InputError(f"weights={weights!r} is not a column of the summary; its columns are: "
                             f"{', '.join(map(str, summary.columns))}")
        values = summary[weights]
    else:
        values = weights
    try:
        w = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InputError("weights must be numbers (customers per row); got values that are not") from None
    if w.size != len(summary):
        raise InputError(f"weights has {w.size} values for {len(summary)} summary rows; give one per row")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise InputError(f"weights must be finite and >= 0; row {int(np.argmax(bad))} has {w[bad][0]!r}")
    if not w.sum() > 0:
        raise InputError("weights sum to 0: no customer to fit on")
    return w


def _labels(codes: np.ndarray, names: tuple[str, ...]) -> Any:
    """``names[codes]`` as a pandas ``str`` array.

    Built through an Arrow dictionary where pandas' ``str`` is Arrow-backed (pandas 3):
    for a million customers 0.02 s instead of 0.5 s through a NumPy object array.
    """
    target = pd.array(["x"], dtype="str").dtype
    if isinstance(target, pd.StringDtype) and target.storage == "pyarrow":
        import pyarrow as pa

        labels = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(names)))
        return pd.array(labels.cast(pa.large_string()), dtype="str")
    return pd.array(np.asarray(names, dtype=object)[codes], dtype="str")


class _WrongModelError(InputError):
    """The file is a sound CLV model file, but not of the model asked for."""


def _get(mapping: dict[str, Any], key: str, kind: Any, *, where: str = "") -> Any:
    """``mapping[key]`` if present and of type ``kind`` (bool is not a number), else InputError."""
    name = f"{where}.{key}" if where else key
    if key not in mapping:
        raise InputError(f"missing key {name!r}")
    value = mapping[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    is_bool = isinstance(value, bool) and bool not in kinds
    if is_bool or not isinstance(value, kinds):
        wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise InputError(f"{name!r} must be {wanted}. Got {value!r} instead")
    return value


def _model_params(model_cls: Any, params: Mapping[str, Any]) -> dict[str, float]:
    """``model_cls``'s parameters from ``params``: all present, each a finite number > 0."""
    missing = [k for k in model_cls.param_names if k not in params]
    if missing:
        raise InputError(f"{model_cls.title} needs parameters {', '.join(missing)}")
    return {k: float(check_number(model_cls.title, k, params[k], low=0.0, low_open=True))
            for k in model_cls.param_names}


def _submodel(model_cls: Any, data: dict[str, Any], where: str) -> tuple[dict, dict]:
    """Checked ``(params, std_errors)`` of a saved purchase or spend model."""
    params = _get(data, "params", dict, where=where)
    unknown = sorted(set(params) - set(model_cls.param_names))
    if unknown:
        raise InputError(f"{model_cls.title} has no parameter(s) {', '.join(unknown)}")
    values = _model_params(model_cls, params)
    ses = _get(data, "std_errors", dict, where=where)
    if set(ses) != set(model_cls.param_names):
        raise InputError(f"'{where}.std_errors' must hold {', '.join(model_cls.param_names)}. "
                         f"Got {', '.join(ses) or 'nothing'} instead")
    for k, v in ses.items():
        check_number(f"{model_cls.title} (std_errors)", k, v, low=0.0, allow_none=True)
    return values, _from_json(ses)


def _json_number(value: float) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _json_numbers(mapping: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _json_number(v) if isinstance(v, (float, np.floating)) else v for k, v in mapping.items()
    }


def _from_json(mapping: dict[str, Any]) -> dict[str, float]:
    return {k: float("nan") if v is None else float(v) for k, v in mapping.items()}
