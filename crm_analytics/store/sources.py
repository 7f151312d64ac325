"""Resolve what a caller hands to ``Store.load`` into readable sources.

File-level problems (missing, empty, binary, not UTF-8, a spreadsheet instead
of a CSV) are caught here, before the store is touched, and reported in one
line that names the file and the fix.
"""

from __future__ import annotations

import csv
import glob
import gzip
import os
import re
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
# How much of the head is kept for sniffing the layout (delimiter, header line).
SAMPLE_BYTES = 1 << 16
SAMPLE_LINES = 50
# Delimiters recognised without being asked for; "whitespace" = runs of spaces/tabs.
SNIFFED_DELIMITERS = (",", ";", "\t", "|")
WHITESPACE = "whitespace"


@dataclass(frozen=True)
class Source:
    """One readable input: a CSV file, a Parquet file or a DataFrame."""

    kind: str  # "csv" | "parquet" | "frame"
    name: str  # shown in messages and stored with rejects
    path: str | None = None
    frame: pd.DataFrame | None = None
    delimiter: str | None = None
    #: The first bytes of a CSV file (decompressed): evidence for sniffing the
    #: delimiter and whether the first line is a header.
    head: bytes = b""

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
    return Source("csv", path, path=path, delimiter=sniff_delimiter(head),
                  head=head[:SAMPLE_BYTES])


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


def sample_lines(head: bytes, encoding: str | None = None, limit: int = SAMPLE_LINES) -> list[str]:
    """The first non-blank lines of a file head (the last, possibly cut, line dropped)."""
    codec = "utf-8"
    if encoding and encoding.lower().replace("-", "") not in ("utf8", "utf16"):
        codec = encoding
    try:
        text = head.lstrip(b"\xef\xbb\xbf").decode(codec, "replace")
    except LookupError:  # an unknown encoding is reported by the reader, with the file
        text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(head) >= SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]
    return [ln for ln in lines if ln.strip()][:limit]


def split_line(line: str, delimiter: str) -> list[str]:
    """Fields of one line: CSV rules for a delimiter, runs of blanks for 'whitespace'.

    Examples
    --------
    >>> split_line(" 00001 19970101  1   11.77", "whitespace")
    ['00001', '19970101', '1', '11.77']
    >>> split_line('a;"b;c"', ";")
    ['a', 'b;c']
    """
    if delimiter == WHITESPACE:
        return line.split()
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return line.split(delimiter)


def sniff_layout_delimiter(lines: list[str], known: set[str]) -> str | None:
    """The delimiter of a file from its first lines, ``'whitespace'``, or None.

    The header line decides as before (the delimiter it holds most often). A
    tie between two delimiters is broken by the one that splits every sampled
    line into the same number of fields; if that does not decide, a clear
    error asks for ``delimiter=``. With none of ``, ; TAB |`` anywhere, lines
    that all split on runs of blanks into the same number (>= 2) of fields are
    whitespace-separated, unless the whole first line is a known column name
    ('Customer ID' is one column, not two).

    Examples
    --------
    >>> sniff_layout_delimiter(["a;b", "1;2"], set())
    ';'
    >>> sniff_layout_delimiter([" 00001 19970101  1 11.77", " 00002 19970112  1 12.00"], set())
    'whitespace'
    >>> sniff_layout_delimiter(["Customer ID", "C 1"], {"customer_id"}) is None
    True
    """
    if not lines:
        return None
    first = lines[0]
    counts = {d: first.count(d) for d in SNIFFED_DELIMITERS}
    top = max(counts.values())
    if top > 0:
        best = [d for d in SNIFFED_DELIMITERS if counts[d] == top]
        if len(best) == 1:
            return best[0]
        steady = [d for d in best if len({len(split_line(ln, d)) for ln in lines}) == 1]
        if len(steady) == 1:
            return steady[0]
        shown = " and ".join(f"{top} {d!r}" for d in best)
        raise SourceError(
            f"cannot tell the delimiter: the first line has {shown} ({first[:60]!r}); "
            f"pass delimiter= one of {', '.join(repr(d) for d in best)} (CLI --delimiter)"
        )
    if any(d in ln for ln in lines for d in SNIFFED_DELIMITERS):
        return None
    widths = {len(ln.split()) for ln in lines}
    if len(widths) == 1 and widths.pop() >= 2 and normalise(first) not in known:
        return WHITESPACE
    return None


def normalise(name: str) -> str:
    """Header spelling -> canonical spelling (see ``loading.normalise_name``)."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


_NUMBER = re.compile(r"[+-]?[$€£]?([0-9][0-9,]*\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?%?")
_DATE = re.compile(r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([ T].*)?")


def _value_kind(value: str) -> str | None:
    v = value.strip().strip('"')
    if not v:
        return None
    if _NUMBER.fullmatch(v) or _DATE.fullmatch(v):
        return "data"
    return "text"


def sniff_header(rows: list[list[str]], known: set[str]) -> bool | None:
    """Whether the first of ``rows`` is a header line: True, False or None (cannot tell).

    True when a first-row value is a known column name after normalisation, or
    when in every column whose values below are all numbers or dates the first
    row holds text; False when the first row holds numbers/dates there too.

    Examples
    --------
    >>> sniff_header([["customer_id", "date"], ["00001", "19970101"]], set())
    True
    >>> sniff_header([["00004", "19970101"], ["00004", "19970118"]], set())
    False
    >>> sniff_header([["Alice", "Berlin"], ["Bob", "Paris"]], set()) is None
    True
    >>> sniff_header([["Customer ID", "x"], ["C1", "y"]], {"customer_id"})
    True
    """
    if not rows:
        return None
    first, data = rows[0], rows[1:]
    if any(normalise(v) in known for v in first):
        return True
    votes = []
    for i, value in enumerate(first):
        kinds = {_value_kind(r[i]) for r in data if i < len(r)} - {None}
        if kinds == {"data"}:
            votes.append(_value_kind(value) == "text")
    if not votes:
        return None
    if all(votes):
        return True
    if not any(votes):
        return False
    return None
