"""The one estimator contract of the package.

:class:`~crm_analytics.clv.CLVModel`, :class:`~crm_analytics.churn.ChurnModel`,
:class:`~crm_analytics.segmentation.NeedsSegmenter` and
:class:`~crm_analytics.satisfaction.SatisfactionIndex` all follow it:

* ``__init__`` only stores its keyword arguments; scikit-learn's
  ``get_params(deep)`` / ``set_params`` come from :class:`BaseEstimator`, so
  ``sklearn.base.clone`` works;
* parameters are checked in ``fit`` with :mod:`crm_analytics.core.params`;
* only ``fit`` changes the model; learned state ends in ``_``; ``evaluate``
  returns a result object and leaves the model as it was;
* using a model before ``fit`` raises :class:`~crm_analytics.errors.NotFittedError`;
* ``summary()`` returns a :class:`~crm_analytics.core.summary.Summary`;
* ``save(path)`` / ``load(path)`` through :mod:`crm_analytics.core.persistence`
  (skops or versioned JSON), refusing tampered or wrong-version files with
  :class:`~crm_analytics.errors.ModelFileError`.
"""

from __future__ import annotations

from typing import ClassVar

from sklearn.base import BaseEstimator

from crm_analytics.errors import NotFittedError

__all__ = ["Estimator"]


class Estimator(BaseEstimator):
    """Base class of the package's models (see the module notes for the contract).

    Subclasses set :attr:`_fitted_attribute` to an attribute that exists only
    after ``fit`` and implement ``fit``, ``summary``, ``save`` and ``load``.

    Examples
    --------
    >>> class Mean(Estimator):
    ...     _fitted_attribute = "mean_"
    ...     def __init__(self, shift=0.0):
    ...         self.shift = shift
    ...     def fit(self, values):
    ...         self.mean_ = sum(values) / len(values) + self.shift
    ...         return self
    >>> Mean().check_fitted()
    Traceback (most recent call last):
    ...
    crm_analytics.errors.NotFittedError: This Mean instance is not fitted yet; call fit(...) first.
    >>> Mean(shift=1).fit([1, 2, 3]).mean_
    3.0
    """

    _fitted_attribute: ClassVar[str] = ""

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self._fitted_attribute) and hasattr(self, self._fitted_attribute)

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has run (or the model was loaded from a file)."""
        return self.__sklearn_is_fitted__()

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless the model is fitted."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit(...) first."
            )
