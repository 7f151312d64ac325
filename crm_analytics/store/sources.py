"""Resolve what a caller hands to ``Store.load`` into readable sources.

File-level problems (missing, empty, binary, not UTF-8, a spreadsheet instead
of a CSV) are caught here, before the store is touched, and reported in one
line that names the file and the fix.
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crm_analytics.errors import SourceError

CSV_SUFFIXES = (".csv", ".txt", ".tsv", ".dat", ".csv.gz", ".txt.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
GLOB_CHARS = "*?["
# How much of a file is checked for binary content and UTF-8 up front; the rest
# is checked line by line while DuckDB streams it (bad lines are quarantined).
HEAD_BYTES = 1 << 20


@dataclass(frozen=True)
class Source:
    """One readable input: a CSV file, a Parquet file or a DataFrame."""

    kind: str  # "csv" | "parquet" | "frame"
    name: str  # shown in messages and stored with rejects
    path: str | None = None
    frame: pd.DataFrame | None = None
    delimiter: str | None = None

    @property
    def scan_path(self) -> str | None:
        """The path as DuckDB's readers must be given it: glob characters escaped.

        DuckDB expands ``*``, ``?`` and ``[...]`` in every path it reads, so a
        file literally named ``orders[1].csv`` would read ``orders1.csv``
        instead. Sources are always single, existing files (globs are expanded
        by :func:`resolve_sources`), so each such character is escaped as a
        one-character class.

        Examples
        --------
        >>> Source("csv", "a", path="orders[1]*.csv").scan_path
        'orders[[]1][*].csv'
        """
        return None if self.path is None else glob_escape(self.path)


def glob_escape(path: str) -> str:
    """Escape ``*``, ``?`` and ``[`` so that a glob matcher reads ``path`` literally."""
    return "".join(f"[{ch}]" if ch in GLOB_CHARS else ch for ch in path)


def resolve_sources(
    source: str | os.PathLike | pd.DataFrame | list, *, name: str | None = None,
    encoding: str | None = None,
) -> list[Source]:
    """Expand ``source`` (path, glob, list of paths, DataFrame) into checked sources.

    A path that exists is used as it is, even if its name holds ``*``, ``?`` or
    ``[``; only a path that does not exist is expanded as a glob pattern.

    Examples
    --------
    >>> import pandas as pd
    >>> [s.kind for s in resolve_sources(pd.DataFrame({"a": [1]}))]
    ['frame']
    """
    if isinstance(source, pd.DataFrame):
        return [Source("frame", name or "<DataFrame>", frame=source)]
    if isinstance(source, (list, tuple)):
        out: list[Source] = []
        for item in source:
            out.extend(resolve_sources(item, encoding=encoding))
        if not out:
            raise SourceError("no sources given: the list of files is empty")
        return out
    if not isinstance(source, (str, os.PathLike)):
        raise SourceError(
            f"cannot load from a {type(source).__name__}; pass a CSV or Parquet path, "
            "a glob such as 'exports/*.csv', or a pandas DataFrame"
        )
    text = os.fspath(source)
    # A path that exists is what it says, even when its name holds glob characters
    # ('orders[1].csv', 'a*b.csv'); only a path that does not exist is a pattern.
    if any(ch in text for ch in GLOB_CHARS) and not os.path.lexists(text):
        paths = sorted(glob.glob(text))
        if not paths:
            raise SourceError(
                f"{text}: no file has this name and none matches it as a pattern "
                "(check the path and the working directory)"
            )
    else:
        paths = [text]
    return [_check_file(p, encoding=encoding) for p in paths]


def _kind_of(path: str, head: bytes) -> str:
    lower = path.lower()
    if head.startswith(b"PAR1") or lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return "csv"


def _check_file(path: str, *, encoding: str | None) -> Source:
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{path}: file not found (check the path and the working directory)")
    if p.is_dir():
        raise SourceError(f"{path}: is a folder; pass a file or a glob such as '{path}/*.csv'")
    if p.stat().st_size == 0:
        raise SourceError(f"{path}: the file is empty (0 bytes); expected a header line and rows")
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror})") from None
    kind = _kind_of(path, head)
    if kind == "parquet":
        if not head.startswith(b"PAR1"):
            raise SourceError(f"{path}: named like Parquet but is not a Parquet file")
        return Source("parquet", path, path=path)
    if head.startswith(b"PK\x03\x04"):
        raise SourceError(
            f"{path}: is a zip or Excel (.xlsx) file, not CSV; save it as CSV (UTF-8) first"
        )
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(p, "rb") as fh:
                head = fh.read(HEAD_BYTES)
        except EOFError:  # the stream ends inside the sampled block: a cut-off download/copy
            raise SourceError(
                f"{path}: is a truncated gzip file (it ends before the end of the compressed "
                "data); copy or download it again"
            ) from None
        except (OSError, zlib.error):  # gzip.BadGzipFile is an OSError
            raise SourceError(
                f"{path}: is a damaged gzip file; re-create it or load the uncompressed CSV"
            ) from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and encoding is None:
        raise SourceError(f"{path}: is UTF-16 encoded; pass encoding='utf-16' or re-save as UTF-8")
    if b"\x00" in head and encoding is None:
        raise SourceError(f"{path}: looks like a binary file, not CSV text (it contains NUL bytes)")
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise SourceError(f"{path}: the file is empty (only whitespace); expected a header line")
    if encoding is None or encoding.lower().replace("-", "") == "utf8":
        _check_utf8(path, head, truncated=len(head) == HEAD_BYTES)
    return Source("csv", path, path=path, delimiter=sniff_delimiter(head))


def sniff_delimiter(head: bytes) -> str | None:
    """The delimiter that splits the header line most often, if any.

    The header is the most reliable evidence: DuckDB's sniffer samples data rows
    and can be misled by a few ragged ones.

    Examples
    --------
    >>> sniff_delimiter(b"customer_id;name;email\\n")
    ';'
    >>> sniff_delimiter(b"customer_id\\n") is None
    True
    """
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else None


def _check_utf8(path: str, head: bytes, *, truncated: bool) -> None:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sampled block is fine.
        if truncated and exc.start >= len(head) - 4 and exc.reason == "unexpected end of data":
            return
        line = head[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"{path}: is not UTF-8 (byte 0x{head[exc.start]:02x} on line {line}); re-save it as "
            "UTF-8 or pass encoding='latin-1'"
        ) from None
