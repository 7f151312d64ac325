"""One way to check constructor parameters, with one message shape.

Messages follow scikit-learn's: "The 'n_clusters' parameter of KMeans must be an
int in the range [1, inf). Got 0 instead." Checks run in ``fit`` (the
estimator contract: ``__init__`` only stores its arguments).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

from crm_analytics.errors import InputError

__all__ = ["check_choice", "check_number", "param_error"]


def param_error(owner: str, name: str, rule: str, value: Any) -> InputError:
    """The package's one message for a bad parameter.

    Examples
    --------
    >>> str(param_error("KMeans", "n_clusters", "an int in the range [1, inf)", 0))
    "The 'n_clusters' parameter of KMeans must be an int in the range [1, inf). Got 0 instead."
    """
    return InputError(f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead.")


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(" if low is None or low_open else "["
    right = ")" if high is None or high_open else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_number(
    owner: str, name: str, value: Any, *, integer: bool = False,
    low: float | None = None, high: float | None = None,
    low_open: bool = False, high_open: bool = False, allow_none: bool = False,
) -> Any:
    """Return ``value`` if it is a finite (whole) number in the interval, else raise.

    Examples
    --------
    >>> check_number("Model", "horizon_days", 30, integer=True, low=1)
    30
    >>> check_number("Model", "rate", 1.5, low=0, high=1, high_open=True)
    Traceback (most recent call last):
    ...
    crm_analytics.errors.InputError: The 'rate' parameter of Model must be a float in the range [0, 1). ...
    """
    if value is None and allow_none:
        return None
    kind = "an int" if integer else "a float"
    rule = f"{kind} in the range {_interval(low, high, low_open, high_open)}"
    if allow_none:
        rule += " or None"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, numbers.Integral) or (
            math.isfinite(float(value)) and float(value) == int(value))
    if ok:
        x = float(value)
        ok = math.isfinite(x)
        if ok and low is not None:
            ok = x > low if low_open else x >= low
        if ok and high is not None:
            ok = x < high if high_open else x <= high
    if not ok:
        raise param_error(owner, name, rule, value)
    return int(value) if integer else value


def check_choice(owner: str, name: str, value: Any, options: Collection[Any]) -> Any:
    """Return ``value`` if it is one of ``options``, else raise.

    Examples
    --------
    >>> check_choice("CLVModel", "purchase_model", "bgnbd", ["bgnbd", "pareto_nbd"])
    'bgnbd'
    """
    try:
        ok = value in options
    except TypeError:
        ok = False
    if not ok:
        shown = ", ".join(repr(o) for o in options)
        raise param_error(owner, name, f"one of {shown}", value)
    return value
