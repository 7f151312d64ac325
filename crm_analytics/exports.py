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
Normalised contact details
    E-mails and phones are compared, checked for consent and written in one
    normal form (:func:`crm_analytics.store.cleansing.normalize_contact`):
    Unicode NFKC (fullwidth ``ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ`` is
    ``alice@example.com``), format and control characters removed (zero-width
    space and joiners, word joiner, BOM, soft hyphen...), whitespace collapsed;
    e-mails case-folded, phones compared by their digits (any script's digits).
One row per contact
    Records sharing an e-mail (normalised, case-insensitive) or a phone number
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
    Every text cell starting (after spaces and invisible characters) with
    ``=``, ``+``, ``-``, ``@``, tab, carriage return or line feed, or with a
    character whose NFKC form is one of those or the minus sign U+2212
    (fullwidth ``＝ ＋ － ＠``, small ``﹢ ﹣ ﹦ ﹫``, superscript ``⁺ ⁻ ⁼``, ``−``)
    is prefixed with a single quote (OWASP CSV injection advice), in CSV and
    Parquet alike. This includes
    phone numbers: ``+49 30 1234567`` is written ``'+49 30 1234567``. For
    dialling, the column ``phone_digits`` holds the number's digits only
    (``49301234567``; an international number starts with its country code),
    which never needs quoting.
Atomic, file and manifest together
    The file and its manifest (``<file>.manifest.json``: segment definitions,
    run id and as-of date of the scores, row, suppressed and merged counts,
    per-segment counts, the file's sha256, creation time and package version)
    are both written to temporary files in the same directory and flushed to
    disk (fsync); then the manifest is renamed into place and the data file
    last (``os.replace``). A failure before the renames leaves the previous
    export untouched and no partial file; a failure between them puts the
    previous manifest back. Only a kill between the two renames can leave a
    pair that disagrees (the new manifest beside the previous file):
    :func:`verify_export` detects it (and a file without a manifest) by the
    sha256, and the next export to the same path replaces both and removes the
    temporary files a killed export left. New files are readable by their
    owner only (they hold personal data).
Contact history, official with the file
    Every export that is not a dry run records one row per selected contact
    (sent or held out as control) in ``contact_history`` and its file in
    ``contact_exports``; the history rows are committed in DuckDB between the
    temporary files and the renames, and a commit marker follows the renames.
    The protocol and how a crash at each step is repaired are described in
    :mod:`crm_analytics.campaigns.history`. ``dry_run=True`` computes the
    report and writes nothing: no file, no manifest, no history.
Suppression and contact policy
    After consent, every record of a contact that the ``suppressions`` table
    covers on the export's channel, or with an open complaint ticket (unless
    the policy's ``suppress_open_complaints`` is off), is suppressed
    (:mod:`crm_analytics.campaigns.suppression`). The survivors then meet the
    contact policy (:class:`~crm_analytics.campaigns.ContactPolicy`: campaign
    cooldown, quiet period, frequency caps, counted per contact over the
    history); skipped contacts are counted per rule in the report and the
    manifest. On the ``email``, ``sms`` and ``phone`` channels a contact's
    survivor is preferably a record with a value for the channel (a contact
    without one is still written, as before, and its history row has no
    ``contact_hash``).
Control groups
    With a ``holdout_fraction`` (argument, or the campaign's in the policy) the
    remaining contacts are split by a deterministic hash of (customer_id,
    campaign) (:func:`crm_analytics.campaigns.holdout_draw`): the control
    group is recorded in the history, flagged ``is_control``, and not written
    to the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import html
import json
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from crm_analytics.campaigns import history as _history
from crm_analytics.campaigns.policy import CHANNELS, ContactPolicy, as_policy, holdout_draw, policy_skips
from crm_analytics.campaigns.suppression import complaint_suppressed, list_suppressed
from crm_analytics.errors import InputError
from crm_analytics.segmentation.rules import get_segment, segment_members
from crm_analytics.store.cleansing import contact_digits, normalize_contact, normalize_email
from crm_analytics.store.queries import load_query
from crm_analytics.store.results import latest_run_id, latest_scores
from crm_analytics.store.score_columns import SCORE_COLUMNS

__all__ = [
    "EXPORTABLE_COLUMNS",
    "KEY_SCORE_COLUMNS",
    "ExportIntegrityError",
    "ExportReport",
    "email_key",
    "export_segment",
    "neutralize_formula",
    "phone_key",
    "verify_export",
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
#: How numeric score columns are written (the scores in the store keep full precision):
#: money to cents, counts as whole numbers, everything else (probabilities, rates,
#: weeks, means) to 4 decimals.
MONEY_COLUMNS: frozenset[str] = frozenset({
    "annual_revenue", "revenue_365d", "revenue_lifetime", "monetary_value", "clv",
    "expected_spend", "revenue_last_12m", "revenue_prior_12m", "annual_spend",
    "peer_annual_spend_q75", "headroom", "headroom_value", "revenue_potential",
    "revenue_at_risk", "net_spend_365d",
})
COUNT_COLUMNS: frozenset[str] = frozenset({
    "employees", "transactions_365d", "frequency", "peer_count", "latest_nps", "complaints_365d",
    "sla_breaches_365d", "open_tickets", "recency_days", "purchase_days_365d", "r_score",
    "f_score", "m_score", "needs_segment",
})
MONEY_DECIMALS, OTHER_DECIMALS = 2, 4
FORMATS = ("csv", "parquet")
# A cell is a formula when its first character that is not a space or invisible is one
# of these, or NFKC-normalises to one (the minus sign U+2212 is what NFKC makes of
# superscript and subscript minus); tab, CR and LF count wherever the spaces end.
_FORMULA_CHARS = frozenset("=+-@\u2212")
_LINE_CONTROLS = frozenset("\t\r\n")
_MIN_PHONE_DIGITS = 6
MANIFEST_SUFFIX = ".manifest.json"


class ExportIntegrityError(InputError):
    """An export file and its manifest disagree (or one is missing): the export is unusable."""


@dataclass
class ExportReport:
    """What :func:`export_segment` wrote.

    ``rows = sum(segment_counts.values())``; every member of the segments is
    either written, suppressed (no consent, a shared contact opted out, on the
    suppression list, an open complaint), merged into another record of the
    same contact, skipped by a rule of the contact policy, or held out as control:
    ``members = rows + suppressed_no_consent + suppressed_contact_opt_out +
    suppressed_list + suppressed_complaint + merged_duplicates + sum(skipped.values())
    + control``.
    ``export_id`` is None for a dry run (nothing was written or recorded).
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
    channel: str = "email"
    suppressed_list: int = 0
    suppressed_complaint: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    control: int = 0
    holdout_fraction: float = 0.0
    exported_at: str | None = None
    export_id: str | None = None
    dry_run: bool = False
    repaired: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        out = asdict(self)
        out["path"], out["manifest_path"] = str(self.path), str(self.manifest_path)
        return out

    def summary(self) -> str:
        """A few lines for a log or a notebook."""
        per = ", ".join(f"{k}: {v:,}" for k, v in self.segment_counts.items())
        skipped = ", ".join(f"{k}: {v:,}" for k, v in self.skipped.items() if v) or "none"
        verb = "would be written (dry run: nothing written or recorded)" if self.dry_run else "written"
        return "\n".join([
            f"ExportReport({self.path}, {self.format}, {self.channel})",
            f"  {self.rows:,} contacts {verb} ({per})",
            f"  of {self.members:,} segment members: {self.suppressed_no_consent:,} without consent, "
            f"{self.suppressed_contact_opt_out:,} sharing an opted-out contact, "
            f"{self.suppressed_list:,} on the suppression list, "
            f"{self.suppressed_complaint:,} with an open complaint, "
            f"{self.merged_duplicates:,} merged duplicates",
            f"  skipped by the contact policy: {skipped}",
            f"  control group: {self.control:,} (holdout {self.holdout_fraction:g}), recorded, not exported",
            f"  export {self.export_id or '-'} at {self.exported_at}; scores: run {self.run_id or '?'} "
            f"as of {self.as_of or '?'}; sha256 {self.sha256[:12] or '-'}…",
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
            ("suppressed: suppression list", f"{self.suppressed_list:,}"),
            ("suppressed: open complaint", f"{self.suppressed_complaint:,}"),
            ("merged duplicates", f"{self.merged_duplicates:,}"),
            *((f"skipped: {k}", f"{v:,}") for k, v in self.skipped.items()),
            ("control group (not exported)", f"{self.control:,}"),
            ("channel", self.channel),
            ("export id", self.export_id or "dry run: nothing written"),
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
    >>> neutralize_formula("\uff1dcmd()"), neutralize_formula("\u200b -1")
    ("'\uff1dcmd()", "'\u200b -1")
    >>> neutralize_formula("Anna"), neutralize_formula(None), neutralize_formula(3.5)
    ('Anna', None, 3.5)
    """
    if isinstance(value, str) and _formula_like(value):
        return "'" + value
    return value


def _formula_like(text: str) -> bool:
    """True if a spreadsheet could read ``text`` as a formula (see the module docstring)."""
    for ch in text:
        if ch in _LINE_CONTROLS:
            return True
        if ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc"):
            continue  # leading spaces and invisible characters: look further
        return ch in _FORMULA_CHARS or unicodedata.normalize("NFKC", ch)[:1] in _FORMULA_CHARS
    return False


def _none_for_missing(series: pd.Series) -> pd.Series:
    out = series.astype(object)
    return out.where(out.notna(), None)


def _text_map(series: pd.Series, function: Callable[[str], Any]) -> pd.Series:
    """``function`` of every text value (others: None), computed once per distinct value."""
    values = series.astype(object)
    present = values.map(lambda v: isinstance(v, str))
    out = pd.Series(None, index=series.index, dtype=object)
    if present.any():
        texts = values[present]
        uniques = pd.unique(texts.to_numpy(dtype=object))
        mapped = {u: function(u) for u in uniques}
        out[present] = texts.map(mapped).to_numpy(dtype=object)
    return out


def _normalized_contact(series: pd.Series) -> pd.Series:
    """Contact text in its normal form (:func:`normalize_contact`); empty or missing -> None."""
    out = _text_map(series, normalize_contact)
    return _none_for_missing(out.where(out.astype(bool)))


def email_key(email: pd.Series) -> pd.Series:
    """E-mail as a matching key: normalised (NFKC, invisible characters removed), case-folded.

    Missing, empty or without '@' -> None.

    Examples
    --------
    >>> email_key(pd.Series([" Ann@X.com ", "", None, "nope", "\uff41nn\u200b@x.com"])).tolist()
    ['ann@x.com', None, None, None, 'ann@x.com']
    """
    key = _text_map(email, normalize_email)
    return _none_for_missing(key.where(key.map(lambda k: isinstance(k, str) and "@" in k)))


def phone_key(phone: pd.Series) -> pd.Series:
    """Phone as a matching key: digits only, ``+`` kept for international numbers.

    A leading ``00`` is read as the international prefix (``0049…`` = ``+49…``);
    fewer than 6 digits -> None (too short to identify a person).

    Examples
    --------
    >>> phone_key(pd.Series(["+49 30 1234567", "0049-30-1234567", "(030) 123 4567", "12", None])).tolist()
    ['+49301234567', '+49301234567', '0301234567', None, None]
    >>> phone_key(pd.Series(["\uff0b49\u200b 30 \uff11\uff12\uff13\uff14\uff15\uff16\uff17"])).tolist()
    ['+49301234567']
    """
    text = _normalized_contact(phone).fillna("").astype("str")
    digits = _text_map(text, contact_digits).astype("str")
    double_zero = ~text.str.startswith("+") & digits.str.startswith("00")
    digits = digits.where(~double_zero, digits.str[2:])
    international = text.str.startswith("+") | double_zero
    key = digits.where(~international, "+" + digits)
    return _none_for_missing(key.where(digits.str.len() >= _MIN_PHONE_DIGITS))


def _phone_digits(phone: pd.Series) -> pd.Series:
    key = phone_key(phone)
    return _none_for_missing(key.astype("str").str.lstrip("+").where(key.notna()))


def _contact_groups(contacts: pd.DataFrame, emails: pd.Series | None = None,
                    phones: pd.Series | None = None) -> np.ndarray:
    """Connected components of customers linked by a shared e-mail or phone key."""
    n = len(contacts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    emails = email_key(contacts["email"]) if emails is None else emails
    phones = phone_key(contacts["phone"]) if phones is None else phones
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


def _manifest_path(path: str | os.PathLike) -> Path:
    """The manifest beside an export file: ``<file>.manifest.json``."""
    target = Path(path)
    return target.with_name(target.name + MANIFEST_SUFFIX)


def _temp_file(path: Path) -> Path:
    """A new empty file beside ``path``, named ``.<name>.<pid>.<random>.tmp`` (owner-only)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def _sha256_fsync(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
        os.fsync(fh.fileno())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # never remove what this process or (elsewhere) an unknown one may be writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_leftovers(target: Path) -> list[Path]:
    """Remove temporary files a killed export of ``target`` left (their process is gone)."""
    pattern = re.compile(
        r"^\." + re.escape(target.name) + r"(?:" + re.escape(MANIFEST_SUFFIX) + r")?\.(\d+)\.[^.]+\.tmp$"
    )
    removed = []
    if not target.parent.is_dir():
        return removed
    for leftover in target.parent.glob(f".{glob.escape(target.name)}*.tmp"):
        m = pattern.match(leftover.name)
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                leftover.unlink()
                removed.append(leftover)
    return removed


@dataclass
class _Prepared:
    """The temporary files of an export, written and flushed, not yet renamed into place."""

    target: Path
    data_tmp: Path
    manifest_tmp: Path | None = None
    sha256: str = ""

    def discard(self) -> None:
        for leftover in (self.data_tmp, self.manifest_tmp):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink(missing_ok=True)


def _prepare_pair(target: Path, write: Callable[[Path], None],
                  manifest_for: Callable[[str], dict[str, Any]]) -> _Prepared:
    """Write the data file and its manifest to temporary files beside ``target`` (fsync)."""
    prepared = _Prepared(target, _temp_file(target))
    try:
        write(prepared.data_tmp)
        prepared.sha256 = _sha256_fsync(prepared.data_tmp)
        prepared.manifest_tmp = _temp_file(_manifest_path(target))
        prepared.manifest_tmp.write_text(
            json.dumps(manifest_for(prepared.sha256), indent=2, ensure_ascii=False, default=str)
            + "\n", encoding="utf-8",
        )
        _sha256_fsync(prepared.manifest_tmp)
    except BaseException:
        prepared.discard()
        raise
    return prepared


def _publish_pair(prepared: _Prepared) -> None:
    """Rename the manifest, then the data file, into place.

    If the data rename fails, the previous manifest is put back (kept as a hard
    link, or a copy, until then). The temporary files are gone afterwards.
    """
    target, data_tmp, manifest_tmp = prepared.target, prepared.data_tmp, prepared.manifest_tmp
    assert manifest_tmp is not None
    manifest_path = _manifest_path(target)
    backup: Path | None = None
    try:
        if manifest_path.exists():
            backup = _temp_file(manifest_path)
            backup.unlink()
            try:
                os.link(manifest_path, backup)
            except OSError:  # no hard links here: a copy does as well
                backup.write_bytes(manifest_path.read_bytes())
        os.replace(manifest_tmp, manifest_path)
        try:
            os.replace(data_tmp, target)
        except BaseException:
            # The new manifest must not describe the previous file: put the previous one back.
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, manifest_path)
                else:
                    manifest_path.unlink()
            raise
    finally:
        for leftover in (data_tmp, manifest_tmp, backup):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink(missing_ok=True)
    _fsync_dir(target.parent)


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
    channel: str = "email",
    policy: ContactPolicy | dict[str, Any] | None = None,
    holdout_fraction: float | None = None,
    dry_run: bool = False,
    at: Any = None,
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
        Written as a ``campaign`` column, into the manifest and the contact
        history; names the campaign's rules in ``policy`` (cooldown, holdout).
    columns : list of str, optional
        Score columns to write instead of the default :data:`KEY_SCORE_COLUMNS`
        (those present): any of :data:`EXPORTABLE_COLUMNS` the scores have.
    channel : {"email", "sms", "phone", "mail"}, default "email"
        The channel the campaign uses: recorded in the history, counted by the
        caps, and deciding which suppressions apply.
    policy : ContactPolicy or dict, optional
        The contact policy (default: no caps, open complaints suppress); see
        :func:`crm_analytics.campaigns.load_contact_policy` to read it from the config.
    holdout_fraction : float, optional
        Share of the contacts held out as control group (default: the
        campaign's in ``policy``, else 0). Needs a ``campaign``.
    dry_run : bool, default False
        Compute the report only: no file, no manifest, no contact history.
    at : datetime or str, optional
        The moment of the export (UTC; default now): the contact history's
        ``exported_at``, and the end of the policy's windows.

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
    >>> store.sql("SELECT customer_id, channel, is_control FROM contact_history").values.tolist()
    [['C2', 'email', False]]
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
    if channel not in CHANNELS:
        raise InputError(f"export_segment: channel must be one of {list(CHANNELS)}. Got {channel!r} instead.")
    if not isinstance(dry_run, bool):
        raise InputError(f"export_segment: dry_run must be True or False. Got {dry_run!r} instead.")
    rules = as_policy(policy)
    holdout = _holdout(holdout_fraction, rules, campaign)
    moment = _moment(at)
    if not dry_run and getattr(store, "read_only", False):
        raise InputError(
            f"export_segment: {store.path} is open read-only, but an export records its contacts "
            "in the contact history; open Store(path) for writing, or pass dry_run=True to preview")
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
    # One normal form for consent, de-duplication and the file (values loaded before
    # the loader normalised them, or written by other means, are normalised here).
    contacts["email"] = _none_for_missing(
        _normalized_contact(contacts["email"]).map(lambda e: e.lower() if isinstance(e, str) else e))
    contacts["phone"] = _normalized_contact(contacts["phone"])
    contacts["email_key"], contacts["phone_key"] = email_key(contacts["email"]), phone_key(contacts["phone"])
    contacts["group"] = _contact_groups(contacts.reset_index(), contacts["email_key"], contacts["phone_key"])
    repaired = [] if dry_run else _history.repair_exports(store)
    contacts["listed"] = list_suppressed(store, contacts, channel, moment, email_key, phone_key)
    contacts["complaint"] = (complaint_suppressed(store, contacts, moment)
                             if rules.suppress_open_complaints else False)
    opt_in = contacts["marketing_opt_in"]
    contacts["consent"] = opt_in.eq(True).fillna(False).astype(bool)
    opted_out = opt_in.eq(False).fillna(False).astype(bool)
    contacts["group_opted_out"] = opted_out.groupby(contacts["group"]).transform("any").astype(bool)

    cand = pd.DataFrame({"priority": priority})
    cand = cand.join(contacts, how="left")  # a scored customer missing from customers: no consent
    cand["consent"] = cand["consent"].astype("boolean").fillna(False).astype(bool)
    cand["group_opted_out"] = cand["group_opted_out"].astype("boolean").fillna(False).astype(bool)
    for flag in ("listed", "complaint"):
        cand[flag] = cand[flag].astype("boolean").fillna(False).astype(bool)
    no_consent = ~cand["consent"]
    shared_opt_out = cand["consent"] & cand["group_opted_out"]
    listed = ~no_consent & ~shared_opt_out & cand["listed"]
    complaint = ~no_consent & ~shared_opt_out & ~listed & cand["complaint"]
    eligible = cand[~no_consent & ~shared_opt_out & ~listed & ~complaint].copy()
    eligible["clv_rank"] = (
        pd.to_numeric(scores["clv"], errors="coerce").reindex(eligible.index)
        if "clv" in scores.columns else np.nan
    )
    eligible["customer_id"] = eligible.index.astype(str)
    value = {"email": "email_key", "sms": "phone_key", "phone": "phone_key"}.get(channel)
    eligible["unreachable"] = eligible[value].isna() if value else False
    # Survivor: best segment, then reachable on the channel, then highest CLV (missing
    # last), then lowest customer_id.
    eligible = eligible.sort_values(["group", "priority", "unreachable", "clv_rank", "customer_id"],
                                    ascending=[True, True, True, False, True], na_position="last")
    survivors = eligible.drop_duplicates("group", keep="first")
    survivors = survivors.sort_values(["priority", "customer_id"])
    merged = len(eligible) - len(survivors)
    # The contact policy, then the control group: both arms come from the same contacts.
    rule = policy_skips(store, survivors["group"], contacts["group"], channel=channel,
                        campaign=campaign, at=moment, policy=rules)
    skipped = {k: int(v) for k, v in rule.value_counts(sort=False).items()}
    survivors = survivors[rule.isna().to_numpy()]
    is_control = np.zeros(len(survivors), dtype=bool)
    if holdout > 0:
        is_control = holdout_draw(survivors["customer_id"], str(campaign)) < holdout
    selected = survivors
    survivors = selected[~is_control]

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
        out[column] = _rounded(column, scores[column].reindex(survivors.index))
    out = _neutralized(out)

    segment_counts = {n: int((out["segment"] == _neutral_text(n)).sum()) for n in names}
    report = ExportReport(
        path=target, manifest_path=_manifest_path(target),
        format=format, segments=names, rows=len(out), members=len(cand),
        suppressed_no_consent=int(no_consent.sum()),
        suppressed_contact_opt_out=int(shared_opt_out.sum()),
        merged_duplicates=int(merged),
        segment_counts=segment_counts, sha256="", run_id=run_id, as_of=as_of,
        campaign=campaign, columns=list(out.columns), channel=channel,
        suppressed_list=int(listed.sum()), suppressed_complaint=int(complaint.sum()),
        skipped=skipped, control=int(is_control.sum()), holdout_fraction=holdout,
        exported_at=moment.isoformat(), dry_run=dry_run, repaired=repaired,
    )
    if dry_run:
        log.info("dry run: %s rows of %s would be exported to %s", report.rows, names, target)
        return report
    report.export_id = _history.new_export_id(moment)
    history = pd.DataFrame({
        "export_id": report.export_id, "campaign": campaign, "channel": channel,
        "customer_id": selected["customer_id"].to_numpy(),
        "contact_hash": _history.contact_hash(
            selected[value] if value else "customer:" + selected["customer_id"]).to_numpy(),
        "segment": [names[int(p)] for p in selected["priority"]],
        "is_control": is_control, "exported_at": moment,
    })
    _official_write(store, target, out, format, report,
                    lambda: _manifest(report, definitions, rules), history)
    log.info("exported %s rows of %s to %s (%s suppressed, %s merged, %s skipped, %s control)",
             report.rows, names, target,
             report.suppressed_no_consent + report.suppressed_contact_opt_out
             + report.suppressed_list + report.suppressed_complaint, report.merged_duplicates,
             sum(skipped.values()), report.control)
    return report


def _official_write(store: Any, target: Path, out: pd.DataFrame, fmt: str, report: ExportReport,
                    manifest: Callable[[], dict[str, Any]], history: pd.DataFrame) -> None:
    """The commit protocol (see :mod:`crm_analytics.campaigns.history`): prepare, record, publish, commit."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _remove_leftovers(target):
        log.warning("removed %s, left by an export that was killed", leftover)
    problem = _pair_problem(target)[0]
    if problem is not None and (target.exists() or _manifest_path(target).exists()):
        log.warning("%s; this export replaces both", problem)
    started = pd.Timestamp.now(tz="UTC").tz_localize(None)

    def manifest_for(sha: str) -> dict[str, Any]:
        report.sha256 = sha
        return manifest()

    prepared = _prepare_pair(target, _write_frame(out, fmt), manifest_for)
    try:
        _history.record_pending(store, {
            "export_id": report.export_id, "campaign": report.campaign, "channel": report.channel,
            "path": str(target.resolve()), "sha256": report.sha256, "rows": report.rows,
            "controls": report.control, "started_at": started,
            "exported_at": pd.Timestamp(report.exported_at), "manifest": manifest(),
        }, history)
    except BaseException:
        prepared.discard()
        raise
    try:
        _publish_pair(prepared)
    except BaseException:
        with contextlib.suppress(Exception):
            _history.roll_back(store, str(report.export_id))
        raise
    _history.mark_committed(store, str(report.export_id))


def _holdout(fraction: Any, policy: ContactPolicy, campaign: str | None) -> float:
    if fraction is None:
        fraction = policy.holdout_fraction(campaign)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise InputError(f"export_segment: holdout_fraction must be a share in [0, 1) such as 0.1. "
                         f"Got {fraction!r} instead.")
    if fraction > 0 and campaign is None:
        raise InputError("export_segment: a control group needs a campaign name; pass campaign=")
    return float(fraction)


def _moment(at: Any) -> pd.Timestamp:
    """The export's moment as a naive UTC timestamp (default: now)."""
    if at is None:
        return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    try:
        if isinstance(at, bool) or not isinstance(at, (str, dt.date, pd.Timestamp)):
            raise ValueError
        moment = pd.Timestamp(at)
    except (ValueError, TypeError):
        raise InputError(f"export_segment: at must be a date or date-time such as "
                         f"'2025-03-01 09:00'. Got {at!r} instead.") from None
    if pd.isna(moment):
        raise InputError(f"export_segment: at must be a date or date-time. Got {at!r} instead.")
    return (moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment).floor("s")


def _pair_problem(target: Path) -> tuple[str | None, dict[str, Any] | None]:
    """(what is wrong with the export at ``target`` or None, its manifest if readable)."""
    manifest_path = _manifest_path(target)
    has_data, has_manifest = target.is_file(), manifest_path.is_file()
    if not has_data and not has_manifest:
        return f"no export at {target} (neither the file nor {manifest_path.name})", None
    if not has_manifest:
        return (f"{target} has no manifest ({manifest_path.name}): an interrupted or foreign "
                "export, which cannot be verified; export it again"), None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{manifest_path} cannot be read as an export manifest ({type(exc).__name__})", None
    expected = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(expected, str) or not isinstance(manifest.get("rows"), int):
        return f"{manifest_path} is not an export manifest (no sha256 or rows)", None
    if not has_data:
        return (f"{target} is missing but its manifest {manifest_path.name} exists: the export "
                "was interrupted; export it again"), manifest
    if manifest.get("file") not in (None, target.name):
        return f"{manifest_path} describes {manifest.get('file')!r}, not {target.name!r}", manifest
    actual = _file_sha256(target)
    if actual != expected:
        return (f"{target} does not match its manifest (sha256 {actual[:12]}… on disk, "
                f"{expected[:12]}… in {manifest_path.name}): the export was interrupted or the "
                "file was changed; export it again"), manifest
    rows = _count_rows(target, str(manifest.get("format") or target.suffix.lstrip(".")))
    if rows != manifest["rows"]:
        return f"{target} has {rows} rows but its manifest says {manifest['rows']}", manifest
    return None, manifest


def _count_rows(path: Path, fmt: str) -> int | None:
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        return len(pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8"))
    except Exception:  # noqa: BLE001 - any unreadable file is reported as such
        return None


def verify_export(path: str | os.PathLike) -> dict[str, Any]:
    """Check an export file against its manifest; return the manifest.

    The file must exist, its sha256 and row count must equal the manifest's,
    and the manifest must name it.

    Raises
    ------
    ExportIntegrityError
        One line saying what is wrong: the file or the manifest missing (an
        export killed between its two renames, or a file from elsewhere), or the
        file not matching its manifest.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "x.csv").write_text("customer_id")
    ...     verify_export(Path(tmp) / "x.csv")
    Traceback (most recent call last):
    ...
    crm_analytics.exports.ExportIntegrityError: ... has no manifest (x.csv.manifest.json): ...
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"verify_export: path must be a file path. Got {type(path).__name__} instead.")
    problem, manifest = _pair_problem(Path(path))
    if problem is not None or manifest is None:
        raise ExportIntegrityError(problem or f"{path}: no manifest")
    return manifest


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


def _rounded(column: str, values: pd.Series) -> Any:
    """A score column as written: money to cents, counts as integers, other numbers to 4 decimals.

    >>> _rounded("clv", pd.Series([1234.567891234, -0.001, None])).tolist()
    [1234.57, 0.0, nan]
    >>> _rounded("frequency", pd.Series([3.0, None])).tolist()
    [3, <NA>]
    """
    if not pd.api.types.is_float_dtype(values):  # text, flags, timestamps, integers: as they are
        return values.to_numpy()
    if column in COUNT_COLUMNS:
        whole = values.round()
        if np.isfinite(whole.dropna()).all():
            return whole.astype("Int64").array
        return whole.to_numpy()
    decimals = MONEY_DECIMALS if column in MONEY_COLUMNS else OTHER_DECIMALS
    return (values.round(decimals) + 0.0).to_numpy()  # + 0.0: no "-0.0" in the file


def _neutral_text(value: Any) -> Any:
    return neutralize_formula(value)


# Line breaks inside a cell (CR, LF, VT, FF, NEL, U+2028/9): campaign tools read
# exports line by line, and a bare CR is not even quoted by the CSV writer, so
# they become a space (found by the export property test with a name '0\r0').
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x85\u2028\u2029]+")


def _one_line(value: Any) -> Any:
    return _LINE_BREAKS.sub(" ", value) if isinstance(value, str) else value


def _neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        out[column] = series.astype(object).map(
            lambda v: neutralize_formula(_one_line(v))).astype(object)
    return out


def _manifest(report: ExportReport, definitions: list[Any],
              policy: ContactPolicy | None = None) -> dict[str, Any]:
    from crm_analytics import __version__

    return {
        "export_id": report.export_id,
        "channel": report.channel,
        "exported_at": report.exported_at,
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
        "suppressed_list": report.suppressed_list,
        "suppressed_complaint": report.suppressed_complaint,
        "skipped": report.skipped,
        "control": report.control,
        "holdout_fraction": report.holdout_fraction,
        "contact_policy": policy.to_dict() if policy is not None else None,
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
            "rounding": "money columns to cents, counts as whole numbers, other numbers to 4 decimals",
        },
    }
