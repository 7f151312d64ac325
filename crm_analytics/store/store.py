"""The DuckDB store: canonical tables, validated loading, quarantine, reading.

Only this module (and the loader it drives) talks to DuckDB directly; every
other module asks the store for DataFrames through :meth:`Store.sql` with
bound parameters.

Concurrency
-----------
DuckDB lets one process write a database file at a time. A writing store keeps
its connection open for its lifetime. A store opened with ``read_only=True``
opens the file only for each query and retries with back-off while a writer
holds it, so an analyst's notebook never fails because the nightly run is
writing (it waits, at most ``busy_timeout`` seconds).
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from crm_analytics.core.threads import default_threads, thread_limit
from crm_analytics.errors import CRMError, InputError, StoreBusyError
from crm_analytics.store.cleansing import country_regions, country_rows, q
from crm_analytics.store.loading import Loader, LoadReport
from crm_analytics.store.schema import (
    LEGACY_TABLES,
    MIGRATIONS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    SEQUENCE_DDL,
    STORE_MARKER_KEY,
    STORE_MARKER_VALUE,
    SYSTEM_DDL,
    TABLES,
    get_table,
    table_ddl,
)
from crm_analytics.store.sources import resolve_sources

log = logging.getLogger(__name__)

DEFAULT_PATH = "crm.duckdb"
ENV_PATH = "CRM_ANALYTICS_DB"

# Names of files that hold data to load, not a store: Store("orders.csv") is a
# mistake for store.load(...), and DuckDB would happily open a view on the CSV.
DATA_FILE_SUFFIXES = (
    ".csv", ".tsv", ".txt", ".dat", ".parquet", ".pq", ".parq", ".json", ".jsonl", ".ndjson",
    ".gz", ".bz2", ".xz", ".zst", ".zip", ".xlsx", ".xls", ".xlsm", ".ods", ".arrow",
    ".feather", ".avro",
)
# Every DuckDB database file carries these bytes at offset 8 (after a checksum).
_DUCKDB_MAGIC = b"DUCK"
MAX_THREADS = 256
# Every table the store owns: canonical, bookkeeping and results.
_SYSTEM_TABLES = tuple(d.split("(")[0].split()[-1] for d in SYSTEM_DDL)
_OWN_TABLES = (*TABLES, *_SYSTEM_TABLES)
# Migrations from schema version n to n + 1 (defined in schema.py with the DDL), run
# in one transaction on opening a store written by an older crm_analytics.
_MIGRATIONS: dict[int, tuple[str, ...]] = MIGRATIONS

DATE_COLUMNS = {
    "customers": "created_at",
    "transactions": "transaction_date",
    "tickets": "opened_at",
    "survey_responses": "responded_at",
    "subscriptions": "started_at",
    "suppressions": "valid_from",
}

_LOCK_MARKERS = ("lock", "Conflicting lock", "being used by another process")


ENV_MEMORY = "CRM_ANALYTICS_MEMORY_LIMIT"
ENV_THREADS = "CRM_ANALYTICS_THREADS"
_MEMORY_PATTERN = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def default_memory_limit() -> str | None:
    """A quarter of the machine's RAM, kept between 1 GB and 8 GB.

    DuckDB's own default (80 % of RAM) lets a 20-million-row load take 11 GB;
    with 2 GB it took 54 s instead of 52 s, spilling to disk (measured), so a
    modest limit costs little and leaves the laptop usable.
    """
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    quarter_mb = int(ram / 4 / 2**20)
    return f"{min(max(quarter_mb, 1024), 8192)}MB"


def _check_memory_limit(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not _MEMORY_PATTERN.match(text):
        raise InputError(f"memory_limit {value!r} is not a size such as '2GB' or '512MB'")
    return text


def _check_threads(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    n: int | None = None
    if isinstance(value, bool):
        n = None
    elif isinstance(value, numbers.Real):
        with contextlib.suppress(OverflowError, ValueError):
            n = int(value) if float(value).is_integer() else None
    elif isinstance(value, str) and value.strip().isdigit():
        n = int(value.strip())
    if n is None or not 1 <= n <= MAX_THREADS:
        raise InputError(
            f"threads {value!r} must be a whole number, at least 1 and at most {MAX_THREADS} "
            "(leave it unset to use the free cores)"
        )
    return n


def _is_memory(path: str) -> bool:
    return path.startswith(":memory:")


def _check_store_path(path: str) -> None:
    """Refuse paths that cannot be a store: data files, folders, non-DuckDB files."""
    if _is_memory(path):
        return
    lower = path.lower()
    suffix = next((x for x in DATA_FILE_SUFFIXES if lower.endswith(x)), None)
    if suffix is not None:
        raise InputError(
            f"{path}: is named like a data file ({suffix}), not a store; a store is a DuckDB "
            f"file such as crm.duckdb. To load the file: Store('crm.duckdb').load(TABLE, "
            f"{path!r}) or `crm-analytics load TABLE {path} --db crm.duckdb`"
        )
    p = Path(path)
    if p.is_dir():
        raise InputError(
            f"{path}: is a folder; a store is a DuckDB file such as {os.path.join(path, DEFAULT_PATH)}"
        )
    if not p.exists():
        return
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from None
    if not head:
        raise InputError(
            f"{path}: is an empty file, not a DuckDB database; delete it or choose another path "
            "(a store is created where no file exists)"
        )
    if head[8:12] != _DUCKDB_MAGIC:
        what = "an SQLite database" if head.startswith(b"SQLite format 3") else "some other file"
        raise InputError(
            f"{path}: is not a DuckDB database ({what}); choose another path for the store "
            "(a store is created where no file exists)"
        )


def _foreign_message(path: str) -> str:
    return (
        f"{path} is a DuckDB database but not a crm_analytics store; to add the crm_analytics "
        f"tables to it, run `crm-analytics init --db {path} --adopt` or Store({path!r}, adopt=True)"
    )


def _inspect(con: duckdb.DuckDBPyConnection) -> tuple[str, int | None]:
    """What the open database is: ``('empty' | 'store' | 'foreign', schema version)``.

    Reads only; a database that is not a store is left exactly as it was.
    """
    rows = con.execute(
        """
        SELECT schema_name, table_name FROM duckdb_tables()
        WHERE database_name = current_database() AND NOT temporary
        UNION ALL
        SELECT schema_name, view_name FROM duckdb_views()
        WHERE database_name = current_database() AND NOT temporary AND NOT internal
        """
    ).fetchall()
    if not rows:
        return "empty", None
    main = {name for schema, name in rows if schema == "main"}
    if "store_meta" not in main:
        return "foreign", None
    try:
        meta = dict(con.execute("SELECT CAST(key AS VARCHAR), CAST(value AS VARCHAR) "
                                "FROM main.store_meta").fetchall())
    except duckdb.Error:
        return "foreign", None
    raw = meta.get(SCHEMA_VERSION_KEY)
    marked = meta.get(STORE_MARKER_KEY) == STORE_MARKER_VALUE
    # Stores written before the marker existed: a schema version and the canonical tables.
    if not marked and (raw is None or not set(LEGACY_TABLES) <= main):
        return "foreign", None
    if raw is None or not str(raw).strip().isdigit():
        raise InputError(
            f"the store's schema version {raw!r} (table store_meta) is not a number; "
            "the store is damaged: restore it from a backup"
        )
    return "store", int(str(raw).strip())


def default_path() -> str:
    """The store path used when none is given: ``$CRM_ANALYTICS_DB`` or ``./crm.duckdb``.

    Examples
    --------
    >>> import os
    >>> default_path() == os.environ.get("CRM_ANALYTICS_DB", "crm.duckdb")
    True
    """
    return os.environ.get(ENV_PATH) or DEFAULT_PATH


def _names(sources: list[Any]) -> str:
    names = [s.name for s in sources]
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"


@contextmanager
def _duckdb_errors(what: str) -> Iterator[None]:
    """Turn an unforeseen DuckDB failure into one line; the load is rolled back.

    Bad values never get here (they are quarantined): this is the safety net for
    the database itself failing (memory, disk, a bug), so callers see a package error.
    """
    try:
        yield
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CRMError(f"{what} failed, nothing was loaded: {type(exc).__name__}: {first}") from exc


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and any(m in str(exc) for m in _LOCK_MARKERS)


class Store:
    """An embedded DuckDB store holding the canonical CRM tables and results.

    Parameters
    ----------
    path : str or Path, optional
        Database file. Defaults to ``$CRM_ANALYTICS_DB``, else ``./crm.duckdb``.
        ``":memory:"`` gives a private in-memory store (tests, experiments).
    read_only : bool, default False
        Open for reading only. The file is opened per query, so a writer in
        another process is never blocked for long; queries retry while the
        writer holds the file.
    busy_timeout : float, default 120
        Seconds a read-only store keeps retrying while the file is locked.
    memory_limit : str, optional
        DuckDB's memory limit, e.g. ``"2GB"`` (default ``$CRM_ANALYTICS_MEMORY_LIMIT``,
        else a quarter of RAM between 1 and 8 GB). Beyond it DuckDB spills to disk.
    threads : int, optional
        DuckDB worker threads (default ``$CRM_ANALYTICS_THREADS``, else all cores); a scoring
        run applies one count to DuckDB, OpenMP and BLAS (:meth:`thread_budget`); 1 to 256.
    adopt : bool, default False
        Add the crm_analytics tables to an existing DuckDB database that is not a
        store yet. Without it such a file is refused (and left untouched), so a
        wrong ``--db`` never writes into another application's database.

    A store file carries a marker and its schema version in ``store_meta``. A
    store written by a newer crm_analytics (higher schema version) is refused;
    an older one is migrated on opening. Paths named like data files
    (``.csv``, ``.parquet``, ``.json``, ``.gz``, ...) and existing files that are
    not DuckDB databases are refused.

    Examples
    --------
    >>> import pandas as pd
    >>> with Store(":memory:") as store:
    ...     report = store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"],
    ...                                                    "email": [" A@X.COM ", "bad"]}))
    ...     print(report.rows_loaded, report.rows_rejected)
    ...     print(store.table("customers")["email"].tolist())
    1 1
    ['a@x.com']
    """

    def __init__(
        self, path: str | os.PathLike | None = None, *, read_only: bool = False,
        busy_timeout: float = 120.0, memory_limit: str | None = None, threads: int | None = None,
        adopt: bool = False,
    ):
        if path is not None and not isinstance(path, str | os.PathLike):
            raise InputError(f"Store needs a file path (or ':memory:'); got {type(path).__name__} {path!r}")
        self.path = os.fspath(path) if path is not None else default_path()
        self.read_only = read_only
        _check_store_path(self.path)
        self.busy_timeout = busy_timeout
        self.memory_limit = _check_memory_limit(
            memory_limit or os.environ.get(ENV_MEMORY) or default_memory_limit()
        )
        self.threads = _check_threads(threads if threads is not None else os.environ.get(ENV_THREADS))
        self._con: duckdb.DuckDBPyConnection | None = None
        if self.read_only:
            if _is_memory(self.path):
                raise InputError("a read-only store needs a file; ':memory:' is always empty")
            if not Path(self.path).exists():
                raise InputError(f"{self.path}: no store here; create one with `crm-analytics init`")
            if adopt:
                raise InputError("adopt=True needs a writable store; drop read_only=True")
            con = self._connect()
            try:
                self._check_kind(con, adopt=False)
            finally:
                con.close()
        else:
            if not _is_memory(self.path):
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._con = self._connect()
            try:
                version = self._check_kind(self._con, adopt=adopt)
                self._init_schema(version)
            except BaseException:
                self.close()
                raise

    # -- connection handling ---------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(self.path, read_only=self.read_only)
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    if _is_lock_error(exc):
                        raise StoreBusyError(
                            f"{self.path}: locked by another process for more than "
                            f"{self.busy_timeout:.0f} s"
                        ) from None
                    raise InputError(f"{self.path}: cannot open the store ({exc})") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)
        con.execute("SET TimeZone = 'UTC'")
        if self.memory_limit:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")  # noqa: S608 - validated
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        # Progress goes to our log, not DuckDB's bar; in Jupyter without ipywidgets
        # DuckDB refuses to change the setting at all, which is harmless.
        with contextlib.suppress(duckdb.Error):
            con.execute("SET enable_progress_bar = false")
        return con

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work (opened per use when read-only)."""
        if self._con is not None:
            yield self._con
            return
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def session(self) -> Iterator[Store]:
        """Keep one connection open for a block of queries (read-only stores).

        A read-only store normally opens the file per query; a batch of queries
        (a scoring run) holds one read-only connection instead. Other readers are
        not blocked by it; a writer in another process waits until the block ends.
        """
        if self._con is not None:
            yield self
            return
        self._con = self._connect()
        try:
            yield self
        finally:
            self._con.close()
            self._con = None

    @contextmanager
    def thread_budget(self, threads: int | None = None) -> Iterator[int]:
        """Run a block with one thread count for DuckDB, OpenMP and BLAS.

        ``threads`` (else the store's ``threads``, else
        :func:`~crm_analytics.core.threads.default_threads`) is applied to this
        store's DuckDB connections and, through threadpoolctl, to scikit-learn's
        OpenMP and numpy's BLAS pools, so nothing in the block oversubscribes
        the cores. The previous settings are restored afterwards.

        Examples
        --------
        >>> store = Store(":memory:")
        >>> with store.thread_budget(1) as n:
        ...     n, int(store.sql("SELECT current_setting('threads') AS t")["t"].iloc[0])
        (1, 1)
        """
        n = _check_threads(threads) or self.threads or default_threads()
        previous = self.threads
        self.threads = n
        if self._con is not None:
            self._con.execute(f"SET threads = {int(n)}")
        try:
            with thread_limit(n):
                yield n
        finally:
            self.threads = previous
            if self._con is not None:
                if previous:
                    self._con.execute(f"SET threads = {int(previous)}")
                else:
                    self._con.execute("RESET threads")

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The open read-write connection (internal; modules should use :meth:`sql`)."""
        if self._con is None:
            raise InputError("this store is read-only or closed; open Store(path) to write")
        return self._con

    def close(self) -> None:
        """Close the store (idempotent)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else ("closed" if self._con is None else "read-write")
        return f"Store({self.path!r}, {mode})"

    def _check_kind(self, con: duckdb.DuckDBPyConnection, *, adopt: bool) -> int | None:
        """Refuse a database that is not (or not yet, or no longer) this code's store.

        Returns the schema version of an existing store, ``None`` for an empty
        database or one being adopted. Only reads: a refused file is untouched.
        """
        kind, version = _inspect(con)
        if kind == "empty":
            if self.read_only:
                raise InputError(
                    f"{self.path}: is an empty DuckDB database, not yet a crm_analytics store; "
                    f"create the tables with `crm-analytics init --db {self.path}`"
                )
            return None
        if kind == "foreign":
            if not adopt:
                raise InputError(_foreign_message(self.path))
            clash = [t for t in _OWN_TABLES if con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name = ? AND NOT temporary", [t]
            ).fetchone()[0]]
            if clash:
                raise InputError(
                    f"{self.path}: cannot adopt this database: it already has table(s) "
                    f"{', '.join(clash)}, names crm_analytics uses; rename them or use another file"
                )
            return None
        assert version is not None
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.path}: the store has schema version {version}, newer than this "
                f"crm_analytics understands (schema version {SCHEMA_VERSION}); upgrade "
                "crm_analytics (pip install --upgrade crm-analytics) to open it"
            )
        if version < SCHEMA_VERSION and self.read_only:
            raise InputError(
                f"{self.path}: the store has schema version {version}, older than this "
                f"crm_analytics (schema version {SCHEMA_VERSION}); open it once for writing "
                f"(`crm-analytics init --db {self.path}`) to migrate it"
            )
        return version

    def _init_schema(self, version: int | None = None) -> None:
        """Create the tables (if missing), migrate an older store, record the marker.

        ``version`` is the schema version the store had (``None``: a new store).
        Nothing is written to an existing, current, marked store.
        """
        con = self.con
        con.execute("BEGIN")
        try:
            con.execute(SEQUENCE_DDL)
            for table in TABLES.values():
                con.execute(table_ddl(table))
            for ddl in SYSTEM_DDL:
                con.execute(ddl)
            for step in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
                log.info("%s: migrating the store from schema version %d to %d", self.path,
                         step, step + 1)
                for statement in _MIGRATIONS.get(step, ()):
                    con.execute(statement)
            meta = dict(con.execute("SELECT key, value FROM store_meta").fetchall())
            wanted = {STORE_MARKER_KEY: STORE_MARKER_VALUE, SCHEMA_VERSION_KEY: str(SCHEMA_VERSION)}
            for key, value in wanted.items():
                if meta.get(key) != value:
                    con.execute("DELETE FROM store_meta WHERE key = ?", [key])
                    con.execute("INSERT INTO store_meta VALUES (?, ?)", [key, value])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        # Lookup tables for cleansing; built from DataFrames (executemany is row by row).
        countries = pd.DataFrame(country_rows(), columns=["key", "alpha2"])
        regions = pd.DataFrame(sorted(country_regions().items()), columns=["alpha2", "region"])
        con.register("_crm_countries_df", countries)
        con.register("_crm_regions_df", regions)
        con.execute("CREATE OR REPLACE TEMP TABLE _crm_countries AS SELECT * FROM _crm_countries_df")
        con.execute("CREATE OR REPLACE TEMP TABLE _crm_regions AS SELECT * FROM _crm_regions_df")
        con.unregister("_crm_countries_df")
        con.unregister("_crm_regions_df")

    def _writable(self) -> duckdb.DuckDBPyConnection:
        if self.read_only:
            raise InputError(f"{self.path} is open read-only; open Store(path) to write")
        return self.con

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block atomically: everything or nothing is written."""
        con = self._writable()
        con.execute("BEGIN")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    # -- loading ---------------------------------------------------------------------------
    def load(
        self,
        table: str,
        source: str | os.PathLike | pd.DataFrame | list,
        *,
        column_map: dict[str, str] | None = None,
        mode: str = "append",
        date_format: str | list[str] | None = None,
        constants: dict[str, Any] | None = None,
        unknown_customers: str = "reject",
        encoding: str | None = None,
        source_name: str | None = None,
        delimiter: str | None = None,
        header: bool | None = None,
        column_names: list[str] | str | None = None,
        key: str | None = None,
    ) -> LoadReport:
        """Validate, cleanse and load rows into a canonical table.

        Parameters
        ----------
        table : {'customers', 'transactions', 'tickets', 'survey_responses'}
        source : path, glob, list of paths, or DataFrame
            CSV (any delimiter DuckDB can sniff, optionally gzipped) or Parquet.
        column_map : dict, optional
            ``{source column: canonical column}``. Headers are also matched
            after normalisation ('Customer ID' -> customer_id).
        mode : {'append', 'upsert'}
            ``append`` never changes an existing row: a key that exists with other
            values is a duplicate kept in the quarantine with its reason.
            ``upsert`` updates it (only the columns the source has).
        date_format : str or list of str, optional
            strptime formats tried after ISO 8601, e.g. ``'%d/%m/%Y'``.
        constants : dict, optional
            Values for columns the source does not have, e.g.
            ``{'scale_min': 0, 'scale_max': 10}``.
        unknown_customers : {'reject', 'create'}
            Rows for customers not in ``customers`` are quarantined (default),
            or a bare customer record (only customer_id) is created for each
            (counted in ``LoadReport.customers_created``; load the customers file
            later with ``mode='upsert'`` to fill them in).
        encoding : str, optional
            'utf-8' (default), 'utf-16' or 'latin-1'.
        source_name : str, optional
            Name recorded for a DataFrame source (default ``'<DataFrame>'``).
        delimiter : str, optional
            One character (``','``, ``';'``, ``'|'``, ``'\\t'`` or ``'tab'``) or
            ``'whitespace'`` (runs of spaces/tabs, e.g. CDNOW). Default: sniffed
            from the first lines (``, ; TAB |``, whitespace); an ambiguous file
            raises an error asking for it.
        header : bool, optional
            Whether line 1 holds column names. Default ``None``: sniffed — a
            header when a value of line 1 is a known column name, or when line 1
            holds text where the lines below hold numbers/dates; data when it
            holds numbers/dates there too; when it cannot tell, a header (an
            error if ``column_names`` is given).
        column_names : list of str or 'a,b,c', optional
            Names of the file's columns in order (needed without a header; with
            one, they replace it). ``column_map`` applies after them.
        key : {'row'}, optional
            For a source without a key column (CDNOW has no transaction_id):
            derive the key from the row's own values and its occurrence in the
            file, so loading the same file again changes nothing.

        Returns
        -------
        LoadReport
            ``rows_read = rows_loaded + rows_rejected + rows_duplicate``.

        Raises
        ------
        SourceError
            The file is missing, empty, binary, not UTF-8 or not a CSV/Parquet file.
        MissingColumnsError
            Required columns are missing (nothing is loaded).

        Examples
        --------
        >>> import pandas as pd
        >>> store = Store(":memory:")
        >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
        >>> tx = pd.DataFrame({"transaction_id": ["T1", "T2", "T3"],
        ...                    "customer_id": ["C1", "C1", "C9"],
        ...                    "transaction_date": ["2024-01-05", "2024-13-01", "2024-02-01"],
        ...                    "amount": ["19.90", "5", "7"]})
        >>> store.load("transactions", tx)
        LoadReport(transactions <- <DataFrame>, mode=append)
          read 3 = loaded 1 + rejected 2 + duplicate 0
          reasons: bad_date 1, unknown_customer 1  (see store.rejects('transactions'))
          ...
        >>> store.rejects("transactions")[["source_row", "reason_code"]].to_records(index=False).tolist()
        [(1, 'bad_date'), (2, 'unknown_customer')]
        """
        spec = get_table(table)
        sources = resolve_sources(source, name=source_name, encoding=encoding)
        loader = Loader(
            self._writable(), spec, mode=mode, date_format=date_format, constants=constants,
            unknown_customers=unknown_customers, encoding=encoding, delimiter=delimiter,
            header=header, column_names=column_names, key=key,
        )
        with self.transaction(), _duckdb_errors(f"loading {table} from {_names(sources)}"):
            report = loader.run(sources, column_map)
        log.debug("loaded %s: read %d = loaded %d + rejected %d + duplicate %d", table,
                 report.rows_read, report.rows_loaded, report.rows_rejected, report.rows_duplicate)
        return report

    def load_all(
        self, sources: dict[str, Any] | str | os.PathLike, **options: Any,
    ) -> dict[str, LoadReport]:
        """Load several tables in dependency order (customers first).

        Parameters
        ----------
        sources : dict or folder
            ``{table: source}`` (any source :meth:`load` takes), or a folder
            holding ``customers.csv``, ``transactions.csv``, ... (CSV or Parquet).
        **options
            Passed to every :meth:`load`.

        Examples
        --------
        >>> from crm_analytics.datasets import synthetic
        >>> reports = Store(":memory:").load_all(synthetic.generate(n_customers=50, seed=1).tables())
        >>> list(reports), all(r.rows_rejected == 0 for r in reports.values())
        (['customers', 'transactions', 'tickets', 'survey_responses'], True)
        """
        if not isinstance(sources, dict):
            folder = Path(os.fspath(sources))
            if not folder.is_dir():
                raise InputError(f"{folder}: not a folder; pass a folder or {{table: source}}")
            found = {}
            for name in TABLES:
                files = [folder / f"{name}{ext}" for ext in (".csv", ".csv.gz", ".parquet")]
                files = [p for p in files if p.exists()]
                if files:
                    found[name] = [str(f) for f in files]
            if not found:
                raise InputError(f"{folder}: no {', '.join(f'{t}.csv' for t in TABLES)} found")
            sources = found
        unknown = [t for t in sources if t not in TABLES]
        if unknown:
            raise InputError(f"unknown table(s) {unknown}; the tables are: {', '.join(TABLES)}")
        return {name: self.load(name, sources[name], **options) for name in TABLES if name in sources}

    def retry_rejects(self, table: str, *, date_format: str | list[str] | None = None) -> LoadReport:
        """Re-validate the quarantined rows of ``table`` and load those that now pass.

        Typical use: transactions were rejected as ``unknown_customer``; after the
        missing customers are loaded, a retry loads them. Rows that still fail stay
        in the quarantine with their current reason. Lines that could not be parsed
        at all (``malformed_row``, ``bad_encoding``) are not retried.

        Examples
        --------
        >>> import pandas as pd
        >>> store = Store(":memory:")
        >>> tx = pd.DataFrame({"transaction_id": ["T1"], "customer_id": ["C1"],
        ...                    "transaction_date": ["2024-01-05"], "amount": [10.0]})
        >>> store.load("transactions", tx).rows_rejected
        1
        >>> _ = store.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
        >>> store.retry_rejects("transactions").rows_loaded
        1
        >>> len(store.rejects("transactions"))
        0
        """
        spec = get_table(table)
        loader = Loader(self._writable(), spec, mode="append", date_format=date_format)
        with self.transaction(), _duckdb_errors(f"re-validating the rejects of {table}"):
            report = loader.run(None, None, from_quarantine=True)
        return report

    # -- reading ---------------------------------------------------------------------------
    def sql(self, query: str, params: dict[str, Any] | list | None = None) -> pd.DataFrame:
        """Run a query with bound parameters and return a DataFrame.

        Parameters are bound, never formatted into the text: use ``$name`` with a
        dict or ``?`` with a list.

        Examples
        --------
        >>> Store(":memory:").sql("SELECT $x + 1 AS y", {"x": 41})
            y
        0  42
        """
        with self.connection() as con:
            return con.execute(query, params if params is not None else []).df()

    def execute(self, query: str, params: dict[str, Any] | list | None = None) -> None:
        """Run a statement for its effect (write stores only)."""
        self._writable().execute(query, params if params is not None else [])

    def tables(self) -> list[str]:
        """Names of the tables in the store (canonical, system and result tables)."""
        with self.connection() as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' ORDER BY table_name"
            ).fetchall()
        return [r[0] for r in rows]

    def has_table(self, name: str) -> bool:
        """True if the store has a table or view called ``name``."""
        return name in self.tables()

    def table(self, name: str, *, limit: int | None = None) -> pd.DataFrame:
        """Return a whole table (or its first ``limit`` rows) as a DataFrame.

        Examples
        --------
        >>> Store(":memory:").table("customers").columns[:3].tolist()
        ['customer_id', 'name', 'email']
        """
        if name not in self.tables():
            raise InputError(
                f"no table {name!r} in {self.path}; tables: {', '.join(self.tables())}"
            )
        query = f"SELECT * FROM {q(name)}"  # noqa: S608 - name checked against the catalog
        if name in TABLES:  # stable, readable order for the canonical tables
            query += f" ORDER BY {q(TABLES[name].key)}"
        if limit is not None:
            return self.sql(query + " LIMIT ?", [int(limit)])
        return self.sql(query)

    def rejects(self, table: str | None = None, *, kind: str | None = None) -> pd.DataFrame:
        """Quarantined rows with their reason, source file and source row.

        ``source_row`` is the line number in a CSV file (the header is line 1, as a
        spreadsheet shows it) and the 0-based position in a Parquet file or
        DataFrame. ``raw`` holds the values as read (JSON). ``kind`` is
        ``'rejected'`` (failed a check) or ``'duplicate'`` (key already present or
        repeated with other values).
        """
        if table is not None:
            get_table(table)
        return self.sql(
            """
            SELECT table_name, kind, reason_code, reason, source, source_row, record_key, raw,
                   load_id, rejected_at
            FROM quarantine
            WHERE ($table IS NULL OR table_name = $table) AND ($kind IS NULL OR kind = $kind)
            ORDER BY table_name, source, source_row
            """,
            {"table": table, "kind": kind},
        )

    def loads(self) -> pd.DataFrame:
        """History of loads, newest first."""
        return self.sql("SELECT * FROM loads ORDER BY loaded_at DESC")

    def summary(self) -> pd.DataFrame:
        """Row counts, date ranges and quarantine counts per canonical table.

        The date range is of each table's event date: created_at, transaction_date,
        opened_at, responded_at, started_at (subscriptions), valid_from (suppressions).

        Examples
        --------
        >>> Store(":memory:").summary()[["table", "rows", "rejected"]]
                      table  rows  rejected
        0         customers     0         0
        1      transactions     0         0
        2           tickets     0         0
        3  survey_responses     0         0
        4     subscriptions     0         0
        5      suppressions     0         0
        """
        rows = []
        rej = self.sql(
            "SELECT table_name, kind, count(*) AS n FROM quarantine GROUP BY ALL"
        )
        present = set(self.tables())
        for name in DATE_COLUMNS:
            if name not in present:  # a read-only store older than the table (created on writing)
                continue
            got = self.sql(
                f"SELECT count(*) AS n, min({q(DATE_COLUMNS[name])}) AS first, "  # noqa: S608
                f"max({q(DATE_COLUMNS[name])}) AS last FROM {q(name)}"
            ).iloc[0]
            r = rej[rej["table_name"] == name]
            rows.append({
                "table": name,
                "rows": int(got["n"]),
                "first": got["first"],
                "last": got["last"],
                "rejected": int(r.loc[r["kind"] == "rejected", "n"].sum()),
                "conflicts": int(r.loc[r["kind"] == "duplicate", "n"].sum()),
            })
        return pd.DataFrame(rows)
