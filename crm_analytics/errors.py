"""Exception and warning types raised by crm_analytics.

Every error a user can cause (bad file, bad column, bad option) is an
:class:`InputError`; the CLI turns it into one line on stderr and exit code 2.
"""

from __future__ import annotations


class CRMError(Exception):
    """Base class of every error raised on purpose by crm_analytics."""


class InputError(CRMError, ValueError):
    """The caller's input (a file, a column, an option) cannot be used as given.

    The message names what is wrong and what would fix it.
    """


class SourceError(InputError):
    """A source file cannot be read at all: missing, empty, binary or not UTF-8."""


class MissingColumnsError(InputError):
    """A source lacks columns the target table requires."""

    def __init__(self, message: str, missing: list[str], found: list[str]):
        super().__init__(message)
        self.missing = missing
        self.found = found


class RunError(CRMError):
    """A batch run failed after it started; the previous results are intact."""


class StoreBusyError(CRMError):
    """The store file is locked by another process for longer than the retry budget."""


class ModelFileError(InputError):
    """A saved model file is unreadable or does not match what is being loaded."""


class CRMWarning(UserWarning):
    """Base class of warnings emitted by crm_analytics."""


class ConvergenceWarning(CRMWarning):
    """A model fit needed a fallback (other start values, a penalizer) to converge."""


class DataQualityWarning(CRMWarning):
    """The data allow the computation but weaken it (tiny cells, constant items...)."""


class NotFittedError(CRMError, ValueError, AttributeError):
    """A model was used before ``fit`` (same bases as scikit-learn's NotFittedError)."""
