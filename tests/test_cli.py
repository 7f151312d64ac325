"""The command line: one-line errors with exit code 2, help everywhere, load/status/init."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crm_analytics.cli import COMMANDS, main
from crm_analytics.store import Store

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crm_analytics.cli", *argv],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: crm-analytics" in capsys.readouterr().out


def test_init_load_status(tmp_path, capsys):
    db = str(tmp_path / "crm.duckdb")
    assert main(["init", "--db", db]) == 0
    assert main(["load", "customers", str(SAMPLE / "customers.csv"), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "LoadReport(customers" in out and "rejected" in out
    assert main(["status", "--db", db]) == 0
    status = capsys.readouterr().out
    with Store(db, read_only=True) as s:
        n = int(s.summary().set_index("table").loc["customers", "rows"])
    line = next(row for row in status.splitlines() if "customers" in row.split())
    assert line.split()[1:3] == ["customers", str(n)]
    assert "no scoring run yet" in status


@pytest.mark.parametrize(
    ("content", "name", "needle"),
    [
        (None, "absent.csv", "file not found"),
        (b"", "empty.csv", "empty"),
        ("customer_id\nJos\xe9\n".encode("latin-1"), "latin1.csv", "not UTF-8"),
        (b"\x00\x01\x02binary\xff" * 50, "blob.csv", "binary"),
        (b"x,y\n1,2\n", "nocols.csv", "missing required column(s) customer_id"),
    ],
)
def test_bad_files_one_line_exit_2(tmp_path, capsys, content, name, needle):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code = main(["load", "customers", str(path), "--db", str(tmp_path / "crm.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert str(path) in err and needle in err
    assert "Traceback" not in err


def test_console_script_exit_codes(tmp_path):
    db = tmp_path / "crm.duckdb"
    proc = run("load", "customers", str(tmp_path / "missing.csv"), "--db", str(db))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("file not found (check the path and the working directory)")
    assert "Traceback" not in proc.stderr
    proc = run("load", "nonsense", "x.csv")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = run("score", "--db", str(tmp_path / "nowhere.duckdb"))
    assert proc.returncode == 2 and "no store here" in proc.stderr


def test_load_options_map_const_and_reject_share(tmp_path, capsys):
    db = str(tmp_path / "crm.duckdb")
    src = tmp_path / "people.csv"
    src.write_text("Kundennummer;Mail\nK1;A@B.DE\nK2;broken\n")
    code = main(["load", "customers", str(src), "--db", db, "--map", "Kundennummer=customer_id",
                 "--map", "Mail=email", "--max-reject-share", "0.25"])
    captured = capsys.readouterr()
    assert code == 1 and "50.0% of rows rejected" in captured.err
    with Store(db, read_only=True) as s:
        assert s.table("customers")["email"].tolist() == ["a@b.de"]
    assert main(["load", "customers", str(src), "--db", db, "--map", "oops"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_rejects_command_lists_and_retries(tmp_path, capsys):
    db = str(tmp_path / "crm.duckdb")
    tx = tmp_path / "tx.csv"
    tx.write_text("transaction_id,customer_id,transaction_date,amount\nT1,C1,2024-01-01,5\n")
    assert main(["load", "transactions", str(tx), "--db", db]) == 0
    assert main(["rejects", "--db", db]) == 0
    assert "unknown_customer" in capsys.readouterr().out
    cust = tmp_path / "c.csv"
    cust.write_text("customer_id\nC1\n")
    assert main(["load", "customers", str(cust), "--db", db]) == 0
    assert main(["rejects", "--db", db, "--table", "transactions", "--retry"]) == 0
    out = capsys.readouterr().out
    assert "loaded 1" in out and "0 quarantined rows" in out


def test_bad_config_is_one_line(tmp_path, capsys):
    db = tmp_path / "crm.duckdb"
    Store(db).close()
    cfg = tmp_path / "crm.toml"
    cfg.write_text("churn_horizon_days = 'ninety'\n")
    assert main(["score", "--db", str(db), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err == "error: config option churn_horizon_days: 'ninety' is not a valid int\n"
    cfg.write_text("colour = 'blue'\n")
    assert main(["score", "--db", str(db), "--config", str(cfg)]) == 2
    assert "unknown option 'colour'" in capsys.readouterr().err
