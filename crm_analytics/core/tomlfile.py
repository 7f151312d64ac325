"""Reading the package's TOML config file: one function, one set of error messages."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from crm_analytics.errors import InputError

__all__ = ["read_toml"]


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The content of a TOML config file, or an InputError naming the file and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "crm.toml"
    >>> _ = p.write_text("[crm_analytics]\\nthreads = 1\\n")
    >>> read_toml(p)
    {'crm_analytics': {'threads': 1}}
    >>> read_toml(p.parent / "missing.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crm_analytics.errors.InputError: .../missing.toml: config file not found; give a TOML file ...
    """
    if not str(path).strip():
        raise InputError("config file: the path is empty; give a TOML file such as crm.toml")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: config file not found; give a TOML file such as crm.toml")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; the config must be a TOML file such as crm.toml")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise InputError(f"{p}: config file cannot be read ({exc.strerror})") from None
