"""Reading the store from many requests at once without ever standing in a writer's way.

DuckDB lets a process write a file only while no other process has it open, even
read-only. A web app answering requests back to back would hold the file all the
time, and the scoring run (or a load) retrying for the write lock would wait until
its ``busy_timeout`` and fail; letting go of the file now and then instead makes the
requests that come meanwhile wait. :class:`StoreGate` does neither: it reads a
**snapshot**, a private copy of the store file.

* **one snapshot, many requests** — the gate copies the store file (and its WAL, if
  any) into a private temporary folder and opens the copy read-only; every request
  reads the copy on a connection of its own, reused from request to request. The
  store file itself is held only while it is copied (a fraction of a second for a
  million customers: the operating system copies from its cache), under a read lock,
  so the copy is one consistent state, never half of a commit.
* **a new snapshot after every write** — the gate looks at the store file every
  ``poll`` seconds (its size, times and inode, and its WAL's). When they changed and no
  other process holds the write lock, it copies the file again and sends new requests
  to the new copy; requests under way finish on the old one, which is then closed and
  deleted. A page shows the previous state or the new one, never a mix, and no request
  ever waits for a writer.
* **what requests work out about the store** (the date, the latest run) is kept per
  snapshot: :meth:`StoreGate.memo`.

The cost: disk space for one copy of the store per app process (two while a new
snapshot replaces the old), and the copying (about 0.3 s for a 700 MB store from the
page cache). Copies are deleted when the app stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crm_analytics.errors import InputError, StoreBusyError
from crm_analytics.store import Store

__all__ = ["StoreGate", "foreign_locks"]

log = logging.getLogger(__name__)

_PROC_LOCKS = Path("/proc/locks")


def _file_mark(path: str) -> tuple:
    """What changes when a writer commits: size, times and inode of the file and of its WAL."""
    mark = []
    for name in (path, path + ".wal"):
        try:
            st = os.stat(name)
            mark.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            mark.append(None)
    return tuple(mark)


def foreign_locks(path: str | os.PathLike, locks_file: Path = _PROC_LOCKS) -> set[str]:
    """Kinds of lock (``READ``, ``WRITE``) other processes hold on ``path``, from /proc/locks.

    Empty where /proc/locks does not exist (not Linux) or cannot be read. Blocked
    requests for a lock (lines with ``->``) count as ``WAIT``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     foreign_locks(f.name)
    set()
    """
    try:
        st = os.stat(path)
        text = locks_file.read_text()
    except OSError:
        return set()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    me = str(os.getpid())
    kinds: set[str] = set()
    for line in text.splitlines():
        fields = line.split()
        waiting = len(fields) > 1 and fields[1] == "->"
        if waiting:
            fields = [fields[0], *fields[2:]]
        if len(fields) < 6 or fields[5] != device or fields[4] == me:
            continue
        kinds.add("WAIT" if waiting else fields[3])
    return kinds


class _Snapshot:
    """One copy of the store file, its open connections and what was worked out from it."""

    def __init__(self, path: str, mark: tuple, number: int, threads: int) -> None:
        self.path, self.mark, self.number, self.threads = path, mark, number, threads
        self.idle: list[Store] = []
        self.sessions: list[contextlib.ExitStack] = []
        self.active = 0
        self.memo: dict[Any, Any] = {}
        self.memo_lock = threading.Lock()  # one computation at a time: the others wait for it
        self.lock = threading.Lock()  # guards sessions

    def open(self) -> Store:
        store = Store(self.path, read_only=True, threads=self.threads)
        stack = contextlib.ExitStack()
        stack.enter_context(store.session())
        with self.lock:
            self.sessions.append(stack)
        return store

    def discard(self) -> None:
        with self.lock:
            sessions, self.sessions, self.idle = self.sessions, [], []
        for stack in sessions:
            stack.close()
        for name in (self.path, self.path + ".wal"):
            with contextlib.suppress(OSError):
                os.remove(name)


#: Prefix of the private folders holding the snapshots, in the system's temporary folder.
SNAPSHOT_PREFIX = "crm_analytics_web_"
#: The file in such a folder naming the process that owns it.
OWNER_FILE = "owner.pid"


def sweep_stale_snapshots(parent: str | os.PathLike | None = None) -> list[str]:
    """Delete snapshot folders whose owning app process is gone (it was killed); their names.

    The copies hold customer data: an app stopped with ``kill -9`` cannot delete its
    own, so the next app started on the machine does. Only folders of this user whose
    owner process no longer runs are touched.

    Examples
    --------
    >>> import tempfile
    >>> parent = tempfile.mkdtemp()
    >>> stale = Path(parent, SNAPSHOT_PREFIX + "x")
    >>> stale.mkdir()
    >>> _ = Path(stale, OWNER_FILE).write_text("999999999")
    >>> [Path(p).name for p in sweep_stale_snapshots(parent)]
    ['crm_analytics_web_x']
    """
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for folder in parent.glob(SNAPSHOT_PREFIX + "*"):
        try:
            if not folder.is_dir() or (hasattr(os, "getuid") and folder.stat().st_uid != os.getuid()):
                continue
            pid = int((folder / OWNER_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue  # not ours to judge (no owner file yet: being created)
        if _alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it runs, as another user
    except (OverflowError, OSError):  # no such process (or no such pid at all)
        return False
    return True


class StoreGate:
    """Hands out read-only stores on a snapshot of the store, one per request (module docstring).

    Parameters
    ----------
    path : str or Path
        The store file (read only while it is copied; never written).
    busy_timeout : float, default 60
        Seconds a request waits for its turn (``max_readers``) before it gives up.
    poll : float, default 0.05
        Seconds between two looks at the store file.
    threads : int, default 1
        DuckDB threads per query: requests run side by side, each on one thread.
    max_readers : int, default 4
        Requests reading at once; more wait their turn. On two cores four at a time
        answered a third more requests per second than twenty (measured).
    folder : str or Path, optional
        Where the snapshots go (default: a new private folder in the system's temporary
        folder, deleted by :meth:`close`).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "crm.duckdb")
    >>> Store(path).close()
    >>> gate = StoreGate(path)
    >>> with gate.reading() as store:
    ...     int(store.sql("SELECT count(*) AS n FROM customers")["n"].iloc[0])
    0
    >>> gate.close()
    """

    def __init__(self, path: str | os.PathLike, *, busy_timeout: float = 60.0, poll: float = 0.05,
                 threads: int = 1, max_readers: int = 4, folder: str | os.PathLike | None = None) -> None:
        self.path = os.fspath(path)
        self.busy_timeout, self.poll = busy_timeout, poll
        self.threads, self.max_readers = threads, max_readers
        # A file that is not a current store is refused now, in one line, not at a request.
        Store(self.path, read_only=True, busy_timeout=busy_timeout, threads=threads)
        self._own_folder = folder is None
        if folder is None:
            sweep_stale_snapshots()
            self.folder = tempfile.mkdtemp(prefix=SNAPSHOT_PREFIX)
            Path(self.folder, OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        else:
            self.folder = os.fspath(folder)
        self._cond = threading.Condition()
        self._active = 0
        self._local = threading.local()  # the snapshot the calling thread reads
        self.stats = {"snapshots": 0, "copy_seconds": 0.0, "writer_waits": 0}
        self._stopped = False
        self._stop = threading.Event()
        self._refresh_lock = threading.Lock()
        self._current: _Snapshot | None = None
        try:
            self._current = self._take(self.busy_timeout)
        except BaseException:
            self._remove_folder()
            raise
        self._watcher = threading.Thread(target=self._watch, name="crm-store-gate", daemon=True)
        self._watcher.start()

    @property
    def epoch(self) -> int:
        """The number of the snapshot new requests read (1, 2, ... one per state of the store)."""
        current = self._current
        return 0 if current is None else current.number

    # -- snapshots -------------------------------------------------------------------------
    def _take(self, busy_timeout: float) -> _Snapshot:
        """A new snapshot: the store copied under a read lock, one connection opened on it."""
        number = self.stats["snapshots"] + 1
        target = os.path.join(self.folder, f"store-{number}.duckdb")
        t = time.monotonic()
        source = Store(self.path, read_only=True, busy_timeout=busy_timeout, threads=self.threads)
        with source.session():  # the read lock: no writer can commit while the file is copied
            mark = _file_mark(self.path)
            try:
                shutil.copyfile(self.path, target + ".part")
                if os.path.exists(self.path + ".wal"):
                    shutil.copyfile(self.path + ".wal", target + ".wal")
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.remove(target + ".part")
                raise InputError(f"cannot copy the store {self.path} to {self.folder} for the web app: "
                                 f"{exc.strerror or exc}; free some space there or pass another "
                                 "folder") from None
        os.replace(target + ".part", target)
        snapshot = _Snapshot(target, mark, number, self.threads)
        snapshot.idle.append(snapshot.open())  # the first connection opens the copy: tens of ms
        self.stats["snapshots"] = number
        self.stats["copy_seconds"] = round(time.monotonic() - t, 3)
        log.info("store gate: snapshot %d of %s taken in %.2f s", number, self.path, time.monotonic() - t)
        return snapshot

    def refresh(self) -> bool:
        """Take a new snapshot if the store file changed since the current one; True if taken.

        Not while another process holds the write lock (it is not done yet): the next
        look takes it.
        """
        with self._refresh_lock:
            current = self._current
            if self._stopped or current is None or _file_mark(self.path) == current.mark:
                return False
            if {"WRITE", "WAIT"} & foreign_locks(self.path):
                self.stats["writer_waits"] += 1
                return False
            try:
                fresh = self._take(busy_timeout=self.poll)
            except StoreBusyError:  # a writer got there first: look again later
                return False
            with self._cond:
                old, self._current = self._current, fresh
                idle_old = old is not None and old.active == 0
                self._cond.notify_all()
            if old is not None and idle_old:
                old.discard()
            return True

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.refresh()
            except Exception:  # the gate must outlive any surprise; requests keep the old snapshot
                log.exception("store gate: taking a new snapshot failed (the previous one is served)")
                self._stop.wait(min(5.0, 50 * self.poll))

    # -- requests --------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """Whether the gate serves a snapshot (until :meth:`close`)."""
        return self._current is not None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Store]:
        """A read-only store on one connection for the block (one request): one snapshot."""
        deadline = time.monotonic() + self.busy_timeout
        with self._cond:
            while self._active >= self.max_readers and not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreBusyError(f"{self.max_readers} requests have been reading for more than "
                                         f"{self.busy_timeout:.0f} s")
                self._cond.wait(min(left, 1.0))
            snapshot = self._current
            if snapshot is None:
                raise InputError("the store gate is closed")
            store = snapshot.idle.pop() if snapshot.idle else None
            self._active += 1
            snapshot.active += 1
        outer = getattr(self._local, "snapshot", None)  # a reading inside a reading
        try:
            if store is None:
                store = snapshot.open()
            self._local.snapshot = snapshot
            yield store
        finally:
            self._local.snapshot = outer
            with self._cond:
                self._active -= 1
                snapshot.active -= 1
                keep = snapshot is self._current and store is not None
                if keep:
                    snapshot.idle.append(store)
                retired = snapshot is not self._current and snapshot.active == 0
                self._cond.notify_all()
            if retired:  # the last request on a replaced snapshot: close and delete it
                snapshot.discard()

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per snapshot (call it inside :meth:`reading`).

        A snapshot never changes, so what is computed from it stays true for every
        request reading it; requests on the next snapshot compute it afresh.
        """
        snapshot = getattr(self._local, "snapshot", None)
        if snapshot is None:
            raise InputError("StoreGate.memo is called inside StoreGate.reading()")
        with snapshot.memo_lock:
            if key not in snapshot.memo:
                snapshot.memo[key] = compute()
            return snapshot.memo[key]

    def forget(self, key: Any) -> None:
        """Drop what :meth:`memo` keeps under ``key`` for the calling request's snapshot."""
        snapshot = getattr(self._local, "snapshot", None)
        if snapshot is not None:
            with snapshot.memo_lock:
                snapshot.memo.pop(key, None)

    def close(self) -> None:
        """Stop the watcher, close the snapshots and delete them (idempotent)."""
        self._stopped = True
        self._stop.set()
        watcher = getattr(self, "_watcher", None)
        if watcher is not None and watcher.is_alive() and watcher is not threading.current_thread():
            watcher.join(timeout=5.0)
        with self._refresh_lock, self._cond:
            current, self._current = self._current, None
            self._cond.notify_all()
            deadline = time.monotonic() + 5.0  # requests under way finish first
            while current is not None and current.active and time.monotonic() < deadline:
                self._cond.wait(0.05)
        if current is not None:
            current.discard()
        self._remove_folder()

    def _remove_folder(self) -> None:
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
