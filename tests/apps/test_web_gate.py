"""The web app's store gate: requests keep being answered and writers never wait for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest

from crm_analytics.store import Store
from crm_analytics.web.gate import StoreGate, foreign_locks

# A scoring run in miniature: a long read-only session, then a short write transaction.
WRITER = textwrap.dedent("""
    import json, sys, time
    import pandas as pd
    from crm_analytics.store import Store
    path, read_seconds = sys.argv[1], float(sys.argv[2])
    if read_seconds:
        reader = Store(path, read_only=True)
        with reader.session():
            time.sleep(read_seconds)
    t = time.monotonic()
    with Store(path, busy_timeout=30) as store:
        waited = time.monotonic() - t
        store.load("customers", pd.DataFrame({"customer_id": ["W1"], "name": ["Written"]}))
    print(json.dumps({"waited": waited}))
""")


@pytest.fixture()
def path(tmp_path):
    db = tmp_path / "crm.duckdb"
    with Store(db) as store:
        store.load("customers", pd.DataFrame({"customer_id": [f"C{i}" for i in range(50)]}))
    return db


def _hammer(gate: StoreGate, stop: threading.Event, seen: list, errors: list) -> None:
    while not stop.is_set():
        try:
            with gate.reading() as store:
                seen.append(int(store.sql("SELECT count(*) AS n FROM customers")["n"].iloc[0]))
                time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
            errors.append(repr(exc))


def _writer_under_load(path, gate: StoreGate, read_seconds: float) -> tuple[dict, list, list]:
    stop, seen, errors = threading.Event(), [], []
    threads = [threading.Thread(target=_hammer, args=(gate, stop, seen, errors)) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        done = subprocess.run([sys.executable, "-c", WRITER, str(path), str(read_seconds)],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
        deadline = time.monotonic() + 3
        while (not seen or seen[-1] != 51) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
        gate.close()
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), seen, errors


def test_a_run_that_read_for_a_while_gets_its_write_in_at_once(path):
    gate = StoreGate(path)
    report, seen, errors = _writer_under_load(path, gate, read_seconds=1.2)
    assert errors == []
    assert report["waited"] < 1.0, report  # the gate holds the store only to copy it
    assert set(seen) == {50, 51} and seen[-1] == 51  # before or after the write, never an error


def test_any_writer_gets_in_at_once_and_requests_read_the_new_snapshot(path):
    gate = StoreGate(path)
    report, seen, errors = _writer_under_load(path, gate, read_seconds=0)
    assert errors == [] and seen[-1] == 51
    assert report["waited"] < 1.0 and gate.stats["snapshots"] >= 2


def test_snapshots_are_private_copies_deleted_when_replaced_and_at_close(path):
    gate = StoreGate(path, poll=600)  # refreshed by hand here, not by its watcher
    folder = gate.folder
    assert sorted(os.listdir(folder)) == ["owner.pid", "store-1.duckdb"] and gate.epoch == 1
    with gate.reading() as store:
        assert os.path.dirname(store.path) == folder and store.read_only
        assert gate.memo("n", lambda: 1) == 1 and gate.memo("n", lambda: 2) == 1  # once per snapshot
        with Store(path) as writer:  # a writer gets in while a request reads the snapshot
            writer.load("customers", pd.DataFrame({"customer_id": ["W2"]}))
        assert gate.refresh() and gate.epoch == 2
        # The request under way keeps its snapshot: one state, never a mix.
        assert int(store.sql("SELECT count(*) AS n FROM customers")["n"].iloc[0]) == 50
    # The old one went with its last reader.
    assert sorted(os.listdir(folder)) == ["owner.pid", "store-2.duckdb"]
    with gate.reading() as store:
        assert int(store.sql("SELECT count(*) AS n FROM customers")["n"].iloc[0]) == 51
        assert gate.memo("n", lambda: 2) == 2
        gate.forget("n")
        assert gate.memo("n", lambda: 3) == 3
    assert not gate.refresh()  # nothing changed
    gate.close()
    assert not os.path.exists(folder)


def test_foreign_locks_reads_proc_locks(tmp_path):
    target = tmp_path / "crm.duckdb"
    target.write_bytes(b"x")
    st = os.stat(target)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    locks = tmp_path / "locks"
    locks.write_text(
        f"1: POSIX  ADVISORY  READ 999991 {dev} 0 EOF\n"
        f"2: POSIX  ADVISORY  READ {os.getpid()} {dev} 0 EOF\n"  # our own: not foreign
        f"3: POSIX  ADVISORY  WRITE 999992 00:11:{st.st_ino + 1} 0 EOF\n"  # another file
    )
    assert foreign_locks(target, locks) == {"READ"}
    locks.write_text(f"4: POSIX  ADVISORY  WRITE 999993 {dev} 0 EOF\n"
                     f"4: -> POSIX  ADVISORY  WRITE 999994 {dev} 0 EOF\n")
    assert foreign_locks(target, locks) == {"WRITE", "WAIT"}
    assert foreign_locks(tmp_path / "missing", locks) == set()


def test_a_killed_apps_snapshot_copies_are_swept_by_the_next(tmp_path):
    """Snapshot copies hold customer data: the next gate deletes those of a dead app."""
    import subprocess
    import sys

    from crm_analytics.web.gate import OWNER_FILE, SNAPSHOT_PREFIX, sweep_stale_snapshots

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale, live = tmp_path / (SNAPSHOT_PREFIX + "dead"), tmp_path / (SNAPSHOT_PREFIX + "live")
    for folder, pid in ((stale, dead), (live, str(os.getpid()))):
        folder.mkdir()
        (folder / OWNER_FILE).write_text(pid)
        (folder / "store-1.duckdb").write_bytes(b"customer data")
    (tmp_path / (SNAPSHOT_PREFIX + "unowned")).mkdir()  # no owner file: left alone
    assert sweep_stale_snapshots(tmp_path) == [str(stale)]
    assert not stale.exists() and live.exists() and (tmp_path / (SNAPSHOT_PREFIX + "unowned")).exists()
