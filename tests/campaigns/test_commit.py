"""kill -9 at each moment of an export leaves file, manifest and history consistent.

Each moment runs in its own process, killed with ``os._exit(9)`` (no handler, no
clean-up, as a SIGKILL) at one step of the commit protocol of
:mod:`crm_analytics.campaigns.history`. Then the state on disk and in the store is
checked, and the next export repairs what can be repaired.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crm_analytics.campaigns import contact_history, repair_exports
from crm_analytics.exports import ExportIntegrityError, export_segment, verify_export
from crm_analytics.store import Store

ROOT = Path(__file__).resolve().parents[2]

# argv: store path, export path, moment
KILLED = r"""
import os, sys
import pandas as pd
from crm_analytics.store import Store
from crm_analytics import exports
from crm_analytics.campaigns import history
db, out, moment = sys.argv[1:4]
store = Store(db)
store.load("customers", pd.DataFrame({
    "customer_id": [f"C{i}" for i in range(6)], "email": [f"c{i}@x.com" for i in range(6)],
    "marketing_opt_in": [True] * 6}))
scores = pd.DataFrame({"risk_band": ["high", "high", "high", "low", "low", "low"]},
                      index=pd.Index([f"C{i}" for i in range(6)], name="customer_id"))
exports.export_segment(store, "risk:high", out, scores=scores, campaign="first")

def die(*_, **__):
    os._exit(9)  # killed: no exception handler, no clean-up

def after(function):
    def run(*args, **kwargs):
        function(*args, **kwargs)
        die()
    return run

if moment == "prepared":          # temporary files written, nothing recorded
    history.record_pending = die
elif moment == "recorded":        # history committed as pending, nothing renamed
    history.record_pending = after(history.record_pending)
elif moment == "between_renames": # the new manifest beside the previous file
    real, calls = os.replace, []
    def replace(src, dst):
        calls.append(dst)
        if len(calls) > 1:
            die()
        return real(src, dst)
    os.replace = replace
elif moment == "published":       # both renamed, no commit marker
    history.mark_committed = die
elif moment == "committed":       # everything done, killed before returning
    history.mark_committed = after(history.mark_committed)
exports.export_segment(store, "risk:low", out, scores=scores, campaign="second")
"""
MOMENTS = ("prepared", "recorded", "between_renames", "published", "committed")
# Five processes (each imports the package and opens a file store): ~6 s on a quiet machine.
pytestmark = pytest.mark.slow


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """One killed export per moment, run in parallel processes."""
    runs = {}
    for moment in MOMENTS:
        folder = tmp_path_factory.mktemp(moment)
        db, out = folder / "crm.duckdb", folder / "export.csv"
        proc = subprocess.Popen([sys.executable, "-c", KILLED, str(db), str(out), moment],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[moment] = (proc, db, out)
    for moment, (proc, _db, _out) in runs.items():
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 9, (moment, err[-2000:])
    return {m: (db, out) for m, (_, db, out) in runs.items()}


def _state(db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Store(db, read_only=True) as store:
        return (store.sql("SELECT * FROM contact_exports ORDER BY started_at"),
                contact_history(store))


def _consistent(db: Path) -> None:
    """Every committed export: its file and manifest agree and the history holds its rows."""
    exports, history = _state(db)
    assert set(exports["status"]) <= {"committed", "rolled_back"}
    for row in exports.itertuples():
        rows = history[history["export_id"] == row.export_id]
        if row.status == "rolled_back":
            assert rows.empty
            continue
        path = Path(row.path)
        if path.is_file() and _sha(path) == row.sha256:
            manifest = verify_export(path)
            assert manifest["export_id"] == row.export_id
            got = pd.read_csv(path, dtype=str)
            assert sorted(got["customer_id"]) == sorted(rows.loc[~rows["is_control"], "customer_id"])


@pytest.mark.parametrize("moment", MOMENTS)
def test_kill_at_each_moment_then_repair(killed, moment, tmp_path):
    db, out = killed[moment]
    exports, history = _state(db)
    first, second = exports.iloc[0], (exports.iloc[1] if len(exports) > 1 else None)
    assert first["status"] == "committed"
    names = sorted(p.name for p in out.parent.iterdir() if not p.name.startswith("crm.duckdb"))
    if moment == "prepared":
        # Nothing recorded; the previous pair is untouched; temporary files remain.
        assert second is None and set(history["export_id"]) == {first["export_id"]}
        assert verify_export(out)["export_id"] == first["export_id"]
        assert any(n.endswith(".tmp") for n in names)
    elif moment in ("recorded", "between_renames", "published"):
        assert second is not None and second["status"] == "pending"
        if moment == "recorded":
            assert verify_export(out)["export_id"] == first["export_id"]
        elif moment == "between_renames":
            with pytest.raises(ExportIntegrityError, match="does not match its manifest"):
                verify_export(out)
        else:
            assert verify_export(out)["export_id"] == second["export_id"]
    else:
        assert second is not None and second["status"] == "committed"
        assert verify_export(out)["export_id"] == second["export_id"]

    # The next export (to another file) repairs the store first.
    with Store(db) as store:
        scores = pd.DataFrame({"risk_band": ["high"] * 6},
                              index=pd.Index([f"C{i}" for i in range(6)], name="customer_id"))
        report = export_segment(store, "risk:high", tmp_path / "next.csv", scores=scores,
                                campaign="third")
    expected_status = {"prepared": None, "recorded": "rolled_back", "between_renames": "rolled_back",
                       "published": "committed", "committed": "committed"}[moment]
    exports, history = _state(db)
    if expected_status is None:
        assert len(exports) == 2 and report.repaired == []
    else:
        assert exports.iloc[1]["status"] == expected_status
        assert len(report.repaired) == (moment != "committed")
    _consistent(db)
    if moment == "between_renames":
        # The repair put the previous manifest back beside the previous file.
        assert verify_export(out)["export_id"] == first["export_id"]
        assert "previous manifest put back" in report.repaired[0]
        with Store(db) as store:
            export_segment(store, "risk:low", out, scores=pd.DataFrame(
                {"risk_band": ["low"] * 6}, index=pd.Index([f"C{i}" for i in range(6)],
                                                           name="customer_id")), campaign="again")
        assert [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")] == []
        _consistent(db)
    # History rows of committed exports only, each exactly once.
    committed = set(exports.loc[exports["status"] == "committed", "export_id"])
    assert set(history["export_id"]) <= committed
    assert not history.duplicated(["export_id", "customer_id"]).any()


def test_repair_on_a_read_only_store_only_reports(killed):
    db, _ = killed["published"]  # repaired above only if that test ran first: check both cases
    with Store(db, read_only=True) as store:
        lines = repair_exports(store)
    assert all("open the store for writing" in line for line in lines)
    manifest = json.loads(Path(str(killed["published"][1]) + ".manifest.json").read_text())
    assert manifest["export_id"]
