"""Saving and loading models without executing code on load.

Two formats, one envelope and one error:

* parametric models (CLV, the satisfaction index) are **versioned JSON**
  (:func:`write_json_model` / :func:`read_json_model`);
* models holding scikit-learn objects (churn, needs segments) are **skops**
  archives restricted to a reviewed list of types (:func:`write_skops` /
  :func:`read_skops`).

Both write atomically (temporary file, then rename) and both refuse, with
:class:`~crm_analytics.errors.ModelFileError`, a missing, oversized, damaged,
foreign or wrong-version file. Validating the *content* (parameter ranges,
shapes) is the model's own ``load``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from crm_analytics.errors import ModelFileError

__all__ = [
    "MAX_MODEL_BYTES", "atomic_write", "package_version", "read_json_model", "read_skops",
    "write_json_model", "write_skops",
]

#: Largest model file (and, for skops archives, largest uncompressed content) read.
MAX_MODEL_BYTES = 512 * 2**20


def package_version() -> str:
    """The installed crm_analytics version (``'unknown'`` in a source tree)."""
    try:
        return metadata.version("crm_analytics")
    except metadata.PackageNotFoundError:
        return "unknown"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ModelFileError(f"{path}: no such {what} file")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{path}: {size:,} bytes is larger than any {what} file "
                             f"({MAX_MODEL_BYTES:,}); refusing to read it")


def write_json_model(path: str | os.PathLike, fmt: str, version: int, body: dict[str, Any]) -> Path:
    """Write ``body`` under a ``format``/``format_version`` envelope as JSON (no NaN allowed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> _ = write_json_model(p, "demo.Model", 1, {"params": {"a": 1.0}})
    >>> read_json_model(p, "demo.Model", 1)["params"]
    {'a': 1.0}
    """
    payload = {"format": fmt, "format_version": version, "package_version": package_version(),
               "saved_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(), **body}
    text = json.dumps(payload, indent=1, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_json_model(path: str | os.PathLike, fmt: str, version: int) -> dict[str, Any]:
    """Read a file written by :func:`write_json_model`; refuse anything else.

    Raises
    ------
    ModelFileError
        Missing, too large, not JSON, another format, or another format version.
    """
    path = Path(path)
    what = fmt.rsplit(".", 1)[-1]
    _check_file(path, what)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"),
                             parse_constant=lambda c: _bad_constant(path, c),
                             parse_float=lambda s: _finite_float(path, s))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a {what} file (not JSON: {exc})") from None
    return _check_envelope(path, payload, fmt, version, what)


def _check_envelope(path: Path, payload: Any, fmt: str, version: int, what: str) -> dict[str, Any]:
    """The payload if it is a dict of this format and version (both file kinds share the envelope)."""
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ModelFileError(f"{path}: not a {what} file (format {found!r}, expected {fmt!r})")
    if payload.get("format_version") != version:
        raise ModelFileError(
            f"{path}: {what} file format version {payload.get('format_version')!r}; this "
            f"crm_analytics {package_version()} reads version {version} (refit and save the model)")
    return payload


def _finite_float(path: Path, text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _bad_constant(path, text)
    return value


def _bad_constant(path: Path, constant: str) -> Any:
    raise ModelFileError(f"{path}: damaged model file (holds {constant}, not a finite number)")


def write_skops(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (a dict of JSON text and scikit-learn objects) as a skops archive."""
    import skops.io as sio

    return atomic_write(path, lambda tmp: sio.dump(payload, tmp))


def read_skops(path: str | os.PathLike, fmt: str, version: int, trusted: Iterable[str]) -> dict[str, Any]:
    """Load a skops archive holding only ``trusted`` types (beyond skops' safe set).

    The archive's uncompressed size is checked before anything is read, so a
    small file that inflates to gigabytes is refused.

    Raises
    ------
    ModelFileError
        Missing, too large, not a skops archive, untrusted types, damaged,
        another format or another format version.
    """
    import skops.io as sio

    path = Path(path)
    what = fmt.rsplit(".", 1)[-1]
    _check_file(path, what)
    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a {what} file (not a skops archive: {exc})") from None
    if inflated > MAX_MODEL_BYTES:
        raise ModelFileError(f"{path}: the archive inflates to {inflated:,} bytes, more than any "
                             f"{what} ({MAX_MODEL_BYTES:,}); refusing to read it")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises many types on damaged archives
        raise ModelFileError(f"{path}: not a {what} file (not a skops archive: {exc})") from None
    unknown = sorted(set(untrusted) - set(trusted))
    if unknown:
        raise ModelFileError(f"{path}: refusing to load: the file contains types outside the "
                             f"{what}'s trusted list: {', '.join(unknown)}")
    try:
        payload = sio.load(path, trusted=sorted(set(untrusted)))
    except Exception as exc:  # damaged content: any exception type is possible
        raise ModelFileError(f"{path}: the {what} file is damaged ({type(exc).__name__}: {exc})") from None
    return _check_envelope(path, payload, fmt, version, what)
