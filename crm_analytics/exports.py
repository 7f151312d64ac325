"""Marketing exports: consent-respecting, de-duplicated, injection-safe segment files.

:func:`export_segment` writes the customers of one or more segments (custom
rules or built-in ``kind:value`` segments, see
:mod:`crm_analytics.segmentation.rules`) as CSV or Parquet for a campaign tool,
with a manifest JSON beside it. Its guarantees:

Consent
    Only customers whose ``marketing_opt_in`` is TRUE in the store's
    ``customers`` table *at export time* are written (NULL counts as no
    consent; a withdrawal since the scoring run is honoured). An explicit
    opt-out (FALSE) also suppresses every other record that shares its e-mail
    or phone: the person behind a shared address said no.
One row per contact
    Records sharing an e-mail (trimmed, case-insensitive) or a phone number
    (digits only; a leading ``+`` or ``00`` read as the international prefix;
    fewer than 6 digits never links) are one contact, transitively (connected
    components over all customers, so A-B sharing an e-mail and B-C sharing a
    phone are one contact). Each contact keeps one **survivor**: the eligible
    record in the contact's highest-priority segment with the highest CLV
    (missing CLV last), then the lowest ``customer_id``; the others are
    counted as ``merged_duplicates``.
One segment per contact
    With several segments (one campaign), a contact goes to the first segment,
    in the order given, that any of its eligible records belongs to.
No spreadsheet formulas
    Every text cell starting (after spaces) with ``=``, ``+``, ``-``, ``@``,
    tab, carriage return or line feed is prefixed with a single quote
    (OWASP CSV injection advice), in CSV and Parquet alike. This includes
    phone numbers: ``+49 30 1234567`` is written ``'+49 30 1234567``. For
    dialling, the column ``phone_digits`` holds the number's digits only
    (``49301234567``; an international number starts with its country code),
    which never needs quoting.
Atomic
    The file is written to a temporary file in the same directory, flushed to
    disk (fsync) and renamed over the target (``os.replace``); a failure
    leaves any previous export untouched and no partial file. The manifest
    (``<file>.manifest.json``) is written the same way after the file: segment
    definitions, run id and as-of date of the scores, row, suppressed and
    merged counts, per-segment counts, the file's sha256, creation time and
    package version. New files are readable by their owner only (they hold
    personal data).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from crm_analytics.errors import InputError
from crm_analytics.segmentation.rules import get_segment, segment_members
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import latest_run_id, latest_scores
from crm_analytics.store.score_columns import SCORE_COLUMNS

__all__ = [
    "EXPORTABLE_COLUMNS",
    "KEY_SCORE_COLUMNS",
    "ExportReport",
    "email_key",
    "export_segment",
    "neutralize_formula",
    "phone_key",
]

log = logging.getLogger(__name__)

#: Score columns written by default, when the scores have them.
KEY_SCORE_COLUMNS: tuple[str, ...] = (
    "clv", "churn_probability", "risk_band", "revenue_potential_code", "value_tier",
)
#: Score columns an export may include (``columns=``): the registry's exportable ones
#: (:mod:`crm_analytics.store.score_columns`); contact details and consent are not
#: copied from the scores (they are read live from the customers table).
EXPORTABLE_COLUMNS: tuple[str, ...] = tuple(c.name for c in SCORE_COLUMNS if c.exportable)
CONTACT_COLUMNS: tuple[str, ...] = ("customer_id", "name", "email", "phone", "phone_digits")
FORMATS = ("csv", "parquet")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_MIN_PHONE_DIGITS = 6


@dataclass
class ExportReport:
    """What :func:`export_segment` wrote.

    ``rows = sum(segment_counts.values())``; every member of the segments is
    either written, suppressed (no consent, or a shared contact opted out) or
    merged into another record of the same contact:
    ``members = rows + suppressed_no_consent + suppressed_contact_opt_out + merged_duplicates``.
    """

    path: Path
    manifest_path: Path
    format: str
    segments: list[str]
    rows: int
    members: int
    suppressed_no_consent: int
    suppressed_contact_opt_out: int
    merged_duplicates: int
    segment_counts: dict[str, int]
    sha256: str
    run_id: str | None = None
    as_of: str | None = None
    campaign: str | None = None
    columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        out = asdict(self)
        out["path"], out["manifest_path"] = str(self.path), str(self.manifest_path)
        return out

    def summary(self) -> str:
        """A few lines for a log or a notebook."""
        per = ", ".join(f"{k}: {v:,}" for k, v in self.segment_counts.items())
        return "\n".join([
            f"ExportReport({self.path}, {self.format})",
            f"  {self.rows:,} contacts written ({per})",
            f"  of {self.members:,} segment members: {self.suppressed_no_consent:,} without consent, "
            f"{self.suppressed_contact_opt_out:,} sharing an opted-out contact, "
            f"{self.merged_duplicates:,} merged duplicates",
            f"  scores: run {self.run_id or '?'} as of {self.as_of or '?'}; sha256 {self.sha256[:12]}…",
            f"  manifest: {self.manifest_path}",
        ])

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows = [("file", str(self.path)), ("format", self.format), ("rows", f"{self.rows:,}")]
        rows += [(f"segment {k}", f"{v:,}") for k, v in self.segment_counts.items()]
        rows += [
            ("segment members", f"{self.members:,}"),
            ("suppressed: no consent", f"{self.suppressed_no_consent:,}"),
            ("suppressed: shared contact opted out", f"{self.suppressed_contact_opt_out:,}"),
            ("merged duplicates", f"{self.merged_duplicates:,}"),
            ("scores run", f"{self.run_id or '?'} (as of {self.as_of or '?'})"),
            ("sha256", self.sha256),
            ("manifest", str(self.manifest_path)),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<table><caption>Segment export</caption>{body}</table>"


# --------------------------------------------------------------------------- cleaning


def neutralize_formula(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with a single quote.

    Examples
    --------
    >>> neutralize_formula("=HYPERLINK(\\"http://x\\")"), neutralize_formula("+49 30 1234567")
    ('\\'=HYPERLINK("http://x")', "'+49 30 1234567")
    >>> neutralize_formula("Anna"), neutralize_formula(None), neutralize_formula(3.5)
    ('Anna', None, 3.5)
    """
    if isinstance(value, str) and (value.startswith(_FORMULA_START)
                                   or value.lstrip(" ").startswith(_FORMULA_START)):
        return "'" + value
    return value


def _none_for_missing(series: pd.Series) -> pd.Series:
    out = series.astype(object)
    return out.where(out.notna(), None)


def email_key(email: pd.Series) -> pd.Series:
    """E-mail as a matching key: trimmed, case-folded; missing or without '@' -> None.

    Examples
    --------
    >>> email_key(pd.Series([" Ann@X.com ", "", None, "nope"])).tolist()
    ['ann@x.com', None, None, None]
    """
    key = email.astype(object).astype("str").str.strip().str.casefold()
    return _none_for_missing(key.where(email.notna() & key.str.contains("@", regex=False)))


def phone_key(phone: pd.Series) -> pd.Series:
    """Phone as a matching key: digits only, ``+`` kept for international numbers.

    A leading ``00`` is read as the international prefix (``0049…`` = ``+49…``);
    fewer than 6 digits -> None (too short to identify a person).

    Examples
    --------
    >>> phone_key(pd.Series(["+49 30 1234567", "0049-30-1234567", "(030) 123 4567", "12", None])).tolist()
    ['+49301234567', '+49301234567', '0301234567', None, None]
    """
    text = phone.astype(object).where(phone.notna(), "").astype("str").str.strip()
    digits = text.str.replace(r"\D", "", regex=True)
    double_zero = ~text.str.startswith("+") & digits.str.startswith("00")
    digits = digits.where(~double_zero, digits.str[2:])
    international = text.str.startswith("+") | double_zero
    key = digits.where(~international, "+" + digits)
    return _none_for_missing(key.where(digits.str.len() >= _MIN_PHONE_DIGITS))


def _phone_digits(phone: pd.Series) -> pd.Series:
    key = phone_key(phone)
    return _none_for_missing(key.astype("str").str.lstrip("+").where(key.notna()))


def _contact_groups(contacts: pd.DataFrame) -> np.ndarray:
    """Connected components of customers linked by a shared e-mail or phone key."""
    n = len(contacts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    emails, phones = email_key(contacts["email"]), phone_key(contacts["phone"])
    links = pd.concat([
        pd.DataFrame({"row": np.arange(n), "key": "e:" + emails.astype("str")})[emails.notna().to_numpy()],
        pd.DataFrame({"row": np.arange(n), "key": "p:" + phones.astype("str")})[phones.notna().to_numpy()],
    ])
    key_ids = pd.factorize(links["key"])[0] + n
    rows = links["row"].to_numpy()
    size = n + (int(key_ids.max()) + 1 - n if len(key_ids) else 0)
    graph = coo_matrix((np.ones(len(rows)), (rows, key_ids)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels[:n]


# --------------------------------------------------------------------------- writing


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> str:
    """Write via a temp file in the same directory, fsync, rename; return the sha256."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        digest = hashlib.sha256()
        with open(tmp, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return digest.hexdigest()


def _write_frame(frame: pd.DataFrame, fmt: str) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        if fmt == "csv":
            frame.to_csv(target, index=False, encoding="utf-8", lineterminator="\n")
        else:
            frame.to_parquet(target, index=False, engine="pyarrow")

    return write


# --------------------------------------------------------------------------- export


def _scores_meta(scores: pd.DataFrame, store: Any, loaded: bool) -> tuple[str | None, str | None]:
    run_id, as_of = scores.attrs.get("run_id"), scores.attrs.get("as_of")
    if run_id is None and "run_id" in scores.columns and scores["run_id"].nunique() == 1:
        run_id = scores["run_id"].iloc[0]
    if run_id is None and loaded:
        run_id = latest_run_id(store)
    return (None if run_id is None else str(run_id)), (None if as_of is None else str(as_of))


def export_segment(
    store: Any,
    segment: str | Sequence[str],
    path: str | os.PathLike,
    format: str = "csv",
    *,
    scores: pd.DataFrame | None = None,
    campaign: str | None = None,
    columns: Sequence[str] | None = None,
) -> ExportReport:
    """Write the contacts of one or more segments for a campaign (see the module docstring).

    Parameters
    ----------
    store : Store
    segment : str or list of str
        Segment name(s): custom (:func:`~crm_analytics.segmentation.define_segment`)
        or built-in (``"size:Large · Finance"``, ``"needs:3"``, ``"rfm:Champions"``,
        ``"value:Top 10%"``, ``"risk:high"``). Several names: each contact lands in
        the first segment it belongs to, in this order.
    path : str or Path
        Output file; its directory is created if needed.
    format : {"csv", "parquet"}, default "csv"
        CSV is UTF-8 with a header and ``\\n`` line ends.
    scores : DataFrame, optional
        One row per customer (index ``customer_id``). Default: the latest
        successful run (``crm_analytics.scoring.run.latest_scores``); its
        ``attrs['run_id']`` and ``attrs['as_of']`` go into the manifest.
    campaign : str, optional
        Written as a ``campaign`` column and into the manifest.
    columns : list of str, optional
        Score columns to write instead of the default :data:`KEY_SCORE_COLUMNS`
        (those present): any of :data:`EXPORTABLE_COLUMNS` the scores have.

    Returns
    -------
    ExportReport

    Examples
    --------
    >>> import tempfile
    >>> from crm_analytics import Store
    >>> store = Store(":memory:")
    >>> _ = store.load("customers", pd.DataFrame({
    ...     "customer_id": ["C1", "C2", "C3"], "name": ["Ann", "=cmd()", "Cy"],
    ...     "email": ["ann@x.com", "ANN@x.com", "cy@y.org"], "marketing_opt_in": [True, True, False]}))
    >>> scores = pd.DataFrame({"risk_band": ["high"] * 3, "clv": [10.0, 99.0, 5.0]},
    ...                       index=pd.Index(["C1", "C2", "C3"], name="customer_id"))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     report = export_segment(store, "risk:high", Path(tmp) / "risk.csv", scores=scores)
    ...     rows = pd.read_csv(report.path)[["customer_id", "name", "segment"]].values.tolist()
    >>> report.rows, report.suppressed_no_consent, report.merged_duplicates
    (1, 1, 1)
    >>> rows
    [['C2', "'=cmd()", 'risk:high']]
    """
    names = [segment] if isinstance(segment, str) else list(segment)
    if not names:
        raise InputError("export_segment: give at least one segment name")
    folded = [n.casefold() if isinstance(n, str) else n for n in names]
    if len(set(folded)) != len(folded):
        raise InputError(f"export_segment: a segment is listed twice in {names}")
    if format not in FORMATS:
        raise InputError(f"export_segment: format must be one of {list(FORMATS)}. Got {format!r} instead.")
    if campaign is not None and (not isinstance(campaign, str) or len(campaign) > 200):
        raise InputError("export_segment: campaign must be text of at most 200 characters")
    target = Path(path)
    if target.is_dir():
        raise InputError(
            f"export_segment: {target} is a directory; give a file path such as {target / 'x.csv'}"
        )
    definitions = [get_segment(store, n) for n in names]

    loaded = scores is None
    if scores is None:
        scores = latest_scores(store)
    run_id, as_of = _scores_meta(scores, store, loaded)
    score_columns = _score_columns(scores, columns)

    # Segment priority per customer: the first listed segment holding them.
    priority = pd.Series(dtype="int64")
    for i, name in enumerate(names):
        members = segment_members(store, name, scores)
        priority = pd.concat([priority, pd.Series(i, index=members.difference(priority.index))])
    contacts = store.sql(load_query("segmentation/sql/export_contacts.sql")).set_index("customer_id")
    contacts["group"] = _contact_groups(contacts.reset_index())
    opt_in = contacts["marketing_opt_in"]
    contacts["consent"] = opt_in.eq(True).fillna(False).astype(bool)
    opted_out = opt_in.eq(False).fillna(False).astype(bool)
    contacts["group_opted_out"] = opted_out.groupby(contacts["group"]).transform("any").astype(bool)

    cand = pd.DataFrame({"priority": priority})
    cand = cand.join(contacts, how="left")  # a scored customer missing from customers: no consent
    cand["consent"] = cand["consent"].astype("boolean").fillna(False).astype(bool)
    cand["group_opted_out"] = cand["group_opted_out"].astype("boolean").fillna(False).astype(bool)
    no_consent = ~cand["consent"]
    shared_opt_out = cand["consent"] & cand["group_opted_out"]
    eligible = cand[~no_consent & ~shared_opt_out].copy()
    eligible["clv_rank"] = (
        pd.to_numeric(scores["clv"], errors="coerce").reindex(eligible.index)
        if "clv" in scores.columns else np.nan
    )
    eligible["customer_id"] = eligible.index.astype(str)
    # Survivor: best segment, then highest CLV (missing last), then lowest customer_id.
    eligible = eligible.sort_values(["group", "priority", "clv_rank", "customer_id"],
                                    ascending=[True, True, False, True], na_position="last")
    survivors = eligible.drop_duplicates("group", keep="first")
    survivors = survivors.sort_values(["priority", "customer_id"])

    out = pd.DataFrame({
        "customer_id": survivors["customer_id"].to_numpy(),
        "name": survivors["name"].to_numpy(dtype=object),
        "email": survivors["email"].to_numpy(dtype=object),
        "phone": survivors["phone"].to_numpy(dtype=object),
        "phone_digits": _phone_digits(survivors["phone"]).to_numpy(dtype=object),
        "segment": [names[int(p)] for p in survivors["priority"]],
    })
    if campaign is not None:
        out["campaign"] = campaign
    for column in score_columns:
        out[column] = scores[column].reindex(survivors.index).to_numpy()
    out = _neutralized(out)

    segment_counts = {n: int((out["segment"] == _neutral_text(n)).sum()) for n in names}
    target.parent.mkdir(parents=True, exist_ok=True)
    sha = _atomic_write(target, _write_frame(out, format))
    report = ExportReport(
        path=target, manifest_path=target.with_name(target.name + ".manifest.json"),
        format=format, segments=names, rows=len(out), members=len(cand),
        suppressed_no_consent=int(no_consent.sum()),
        suppressed_contact_opt_out=int(shared_opt_out.sum()),
        merged_duplicates=int(len(eligible) - len(survivors)),
        segment_counts=segment_counts, sha256=sha, run_id=run_id, as_of=as_of,
        campaign=campaign, columns=list(out.columns),
    )
    manifest = _manifest(report, definitions)
    _atomic_write(report.manifest_path, lambda p: p.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"))
    log.info("exported %s rows of %s to %s (%s suppressed, %s merged)", report.rows, names, target,
             report.suppressed_no_consent + report.suppressed_contact_opt_out, report.merged_duplicates)
    return report


def _score_columns(scores: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return [c for c in KEY_SCORE_COLUMNS if c in scores.columns]
    wanted = [columns] if isinstance(columns, str) else list(columns)
    exportable = set(EXPORTABLE_COLUMNS)
    bad = [c for c in wanted if c not in scores.columns or c not in exportable]
    if bad:
        available = [c for c in EXPORTABLE_COLUMNS if c in scores.columns]
        raise InputError(f"export_segment: columns {bad} cannot be exported; score columns: {available}")
    return list(dict.fromkeys(wanted))


def _neutral_text(value: Any) -> Any:
    return neutralize_formula(value)


def _neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        out[column] = series.astype(object).map(neutralize_formula).astype(object)
    return out


def _manifest(report: ExportReport, definitions: list[Any]) -> dict[str, Any]:
    from crm_analytics import __version__

    return {
        "file": report.path.name,
        "format": report.format,
        "sha256": report.sha256,
        "rows": report.rows,
        "segments": [
            {"name": d.name, "kind": d.kind, "definition": d.definition,
             "description": d.description, "priority": i + 1,
             "rows": report.segment_counts[report.segments[i]]}
            for i, d in enumerate(definitions)
        ],
        "segment_counts": report.segment_counts,
        "members": report.members,
        "suppressed_no_consent": report.suppressed_no_consent,
        "suppressed_contact_opt_out": report.suppressed_contact_opt_out,
        "merged_duplicates": report.merged_duplicates,
        "campaign": report.campaign,
        "columns": report.columns,
        "run_id": report.run_id,
        "as_of": report.as_of,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "rules": {
            "consent": "marketing_opt_in is TRUE in customers at export time; NULL = no consent; "
                       "an explicit opt-out suppresses every record sharing its e-mail or phone",
            "deduplication": "records sharing a normalised e-mail or phone are one contact "
                             "(transitively); survivor: first segment, highest clv, lowest customer_id",
            "formula_injection": "text cells starting with = + - @ tab CR LF are prefixed with '",
        },
    }
