"""The command line: one-line errors with exit code 2, help everywhere, load/status/init."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

import crm_analytics
from crm_analytics.cli import COMMANDS, build_parser, main
from crm_analytics.datasets import synthetic
from crm_analytics.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


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
    assert err == ("error: config option churn_horizon_days must be a whole number of days "
                   "in [1, 730]; got 'ninety'\n")
    cfg.write_text("colour = 'blue'\n")
    assert main(["score", "--db", str(db), "--config", str(cfg)]) == 2
    assert "unknown option 'colour'" in capsys.readouterr().err


# -- bad invocations: every one is exit 2 and one line, never a traceback ----------------

@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """A small loaded store (no scoring run) and the files a user might give by mistake."""
    root = tmp_path_factory.mktemp("cli")
    store = crm_analytics.Store(root / "crm.duckdb")
    store.load_all(synthetic.generate(n_customers=50, seed=1).tables())
    store.close()
    (root / "afile.txt").write_text("hello\n")
    (root / "adir").mkdir()
    (root / "garbage.toml").write_text("this is = = not toml [[\n")
    (root / "binary.toml").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" * 20)
    packed = gzip.compress(b"customer_id,email\n" + b"C1,a@b.de\n" * 5000)
    (root / "trunc.csv.gz").write_bytes(packed[: len(packed) // 2])
    (root / "notgz.csv.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    (root / "people.csv").write_text("customer_id,email\nX1,x@y.de\n")
    return root


def call(argv):
    """Exit code of ``main(argv)``, whether argparse exits or main returns."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


DB = ["--db", "{d}/crm.duckdb"]
LOAD = ["load", "customers", "{d}/people.csv", *DB]
BAD_INVOCATIONS = {
    # init / --db shapes (every command shares --db)
    "init --db empty": ["init", "--db", ""],
    "init --db folder": ["init", "--db", "{d}/adir"],
    "init --db under a file": ["init", "--db", "{d}/afile.txt/x.duckdb"],
    "init --db a CSV": ["init", "--db", "{d}/people.csv"],
    "status --db missing": ["status", "--db", "{d}/missing.duckdb"],
    "status --db folder": ["status", "--db", "{d}/adir"],
    "runs --db under a file": ["runs", "--db", "{d}/afile.txt/x.duckdb"],
    # load
    "load table unknown": ["load", "nope", "{d}/people.csv", *DB],
    "load path empty": ["load", "customers", "", *DB],
    "load missing file": ["load", "customers", "{d}/missing.csv", *DB],
    "load folder": ["load", "customers", "{d}/adir", *DB],
    "load path under a file": ["load", "customers", "{d}/afile.txt/x.csv", *DB],
    "load truncated gz": ["load", "customers", "{d}/trunc.csv.gz", *DB],
    "load not gzip": ["load", "customers", "{d}/notgz.csv.gz", *DB],
    "load glob matches nothing": ["load", "customers", "{d}/nomatch*.csv", *DB],
    "load --map without =": [*LOAD, "--map", "oops"],
    "load --map empty": [*LOAD, "--map", ""],
    "load --const without =": [*LOAD, "--const", "x"],
    "load --mode unknown": [*LOAD, "--mode", "replace"],
    "load --encoding unknown": [*LOAD, "--encoding", "klingon"],
    "load --encoding empty": [*LOAD, "--encoding", ""],
    "load --date-format empty": [*LOAD, "--date-format", ""],
    "load --date-format no %": [*LOAD, "--date-format", "dd/mm/yyyy"],
    "load --max-reject-share negative": [*LOAD, "--max-reject-share", "-1"],
    "load --max-reject-share above 1": [*LOAD, "--max-reject-share", "5"],
    "load --max-reject-share nan": [*LOAD, "--max-reject-share", "nan"],
    "load --max-reject-share text": [*LOAD, "--max-reject-share", "abc"],
    # rejects
    "rejects --limit negative": ["rejects", *DB, "--limit", "-1"],
    "rejects --limit text": ["rejects", *DB, "--limit", "abc"],
    "rejects --limit empty": ["rejects", *DB, "--limit", ""],
    "rejects --limit fraction": ["rejects", *DB, "--limit", "1.5"],
    "rejects --table unknown": ["rejects", *DB, "--table", "nope"],
    "rejects --retry without --table": ["rejects", *DB, "--retry"],
    # score / train
    "score --as-of impossible date": ["score", *DB, "--as-of", "2024-13-45"],
    "score --as-of 30 February": ["score", *DB, "--as-of", "2023-02-30"],
    "score --as-of yesterday": ["score", *DB, "--as-of", "yesterday"],
    "score --as-of 01/02/2024": ["score", *DB, "--as-of", "01/02/2024"],
    "score --as-of empty": ["score", *DB, "--as-of", ""],
    "score --config missing": ["score", *DB, "--config", "{d}/missing.toml"],
    "score --config folder": ["score", *DB, "--config", "{d}/adir"],
    "score --config empty": ["score", *DB, "--config", ""],
    "score --config not TOML": ["score", *DB, "--config", "{d}/garbage.toml"],
    "score --config binary": ["score", *DB, "--config", "{d}/binary.toml"],
    "score --dashboard-dir a file": ["score", *DB, "--dashboard-dir", "{d}/afile.txt"],
    "score --dashboard-dir under a file": ["score", *DB, "--dashboard-dir", "{d}/afile.txt/sub"],
    "score --db missing": ["score", "--db", "{d}/missing.duckdb"],
    "train --as-of x": ["train", *DB, "--as-of", "x"],
    "train --config folder": ["train", *DB, "--config", "{d}/adir"],
    # runs
    "runs --limit negative": ["runs", *DB, "--limit", "-3"],
    "runs --limit text": ["runs", *DB, "--limit", "abc"],
    # dashboard
    "dashboard --out a file": ["dashboard", *DB, "--out", "{d}/afile.txt"],
    "dashboard --out under a file": ["dashboard", *DB, "--out", "{d}/afile.txt/sub"],
    "dashboard --out empty": ["dashboard", *DB, "--out", ""],
    "dashboard --run empty": ["dashboard", *DB, "--run", "", "--out", "{d}/dash"],
    "dashboard without a run": ["dashboard", *DB, "--out", "{d}/dash"],
    # export
    "export --out under a file": ["export", *DB, "--segment", "risk:high", "--out",
                                  "{d}/afile.txt/x.csv"],
    "export --out folder": ["export", *DB, "--segment", "risk:high", "--out", "{d}/adir"],
    "export --out empty": ["export", *DB, "--segment", "risk:high", "--out", ""],
    "export --segment empty": ["export", *DB, "--segment", "", "--out", "{d}/e.csv"],
    "export --segment unknown": ["export", *DB, "--segment", "nope", "--out", "{d}/e.csv"],
    "export --format unknown": ["export", *DB, "--segment", "risk:high", "--out", "{d}/e.csv",
                                "--format", "xlsx"],
    "export --campaign empty": ["export", *DB, "--segment", "risk:high", "--out", "{d}/e.csv",
                                "--campaign", ""],
    # segment
    "segment action unknown": ["segment", "rename", *DB],
    "segment define without NAME": ["segment", "define", *DB],
    "segment define without RULE": ["segment", "define", "vip", *DB],
    "segment define empty RULE": ["segment", "define", "vip", "", *DB],
    "segment define bad RULE": ["segment", "define", "vip", "clv >>> 3", *DB],
    "segment define bad NAME": ["segment", "define", "-", "clv > 3", *DB],
    "segment define missing store": ["segment", "define", "vip", "clv > 3", "--db",
                                     "{d}/missing.duckdb"],
    "segment delete unknown": ["segment", "delete", "nosuch", *DB],
    "segment delete missing store": ["segment", "delete", "x", "--db", "{d}/missing.duckdb"],
    "segment members unknown": ["segment", "members", "nosuch", *DB],
    "segment members without a run": ["segment", "members", "risk:high", *DB],
    "segment list with RULE": ["segment", "list", "x", "y", *DB],
    # demo
    "demo --customers 0": ["demo", "--dir", "{d}/demo", "--customers", "0"],
    "demo --customers negative": ["demo", "--dir", "{d}/demo", "--customers", "-5"],
    "demo --customers huge": ["demo", "--dir", "{d}/demo", "--customers", "1000000000"],
    "demo --customers text": ["demo", "--dir", "{d}/demo", "--customers", "abc"],
    "demo --seed negative": ["demo", "--dir", "{d}/demo", "--customers", "10", "--seed", "-1"],
    "demo --dir a file": ["demo", "--dir", "{d}/afile.txt", "--customers", "10"],
    "demo --dir under a file": ["demo", "--dir", "{d}/afile.txt/sub", "--customers", "10"],
    "demo --dir empty": ["demo", "--dir", "", "--customers", "10"],
    # the command itself
    "no command": [],
    "unknown command": ["frobnicate"],
    "example-config extra argument": ["example-config", "extra"],
}


def assert_one_line_exit_2(code, err):
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].strip(), err
    assert "Traceback" not in err and "unexpected" not in err


@pytest.mark.parametrize("argv", BAD_INVOCATIONS.values(), ids=BAD_INVOCATIONS.keys())
def test_bad_invocation_is_exit_2_and_one_line(fx, capsys, argv):
    code = call([a.format(d=fx) for a in argv])
    assert_one_line_exit_2(code, capsys.readouterr().err)
    assert not (fx / "demo").exists() and not (fx / "missing.duckdb").exists()


@pytest.mark.parametrize(("argv", "needle"), [
    (["score", "--as-of", "2024-13-45"], "argument --as-of: '2024-13-45' is not a date"),
    (["rejects", "--limit", "-1"], "argument --limit: must be a whole number of at least 0"),
    (["demo", "--customers", "0"], "argument --customers: must be a whole number of at least 1"),
    (["dashboard", "--out", "{d}/afile.txt/sub"], "argument --out: "),
])
def test_option_errors_use_option_names(fx, capsys, argv, needle):
    assert call([a.format(d=fx) for a in argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "as_of=" not in err and "n_customers" not in err


def test_segment_delete_says_whether_it_existed(fx, capsys):
    db = ["--db", str(fx / "crm.duckdb")]
    assert main(["segment", "define", "Big spenders", "clv in top 10%", *db]) == 0
    assert main(["segment", "delete", "Big spenders", *db]) == 0
    assert "deleted" in capsys.readouterr().out
    code = main(["segment", "delete", "Big spenders", *db])
    err = capsys.readouterr().err
    assert_one_line_exit_2(code, err)
    assert "'Big spenders' does not exist" in err


@pytest.mark.parametrize("argv", [
    ["rejects", "--limit", "0"], ["rejects", "--limit", "1000000"], ["runs", "--limit", "0"],
    ["score", "--as-of", "2024-02-29"], ["train", "--as-of", "1999-12-31"],
    ["load", "customers", "x.csv", "--max-reject-share", "0"],
    ["load", "customers", "x.csv", "--max-reject-share", "1"],
    ["demo", "--customers", "1", "--seed", str(2**32 - 1)],
    ["init", "--db", ":memory:"], ["status", "--db", "new/folder/crm.duckdb"],
    ["export", "--segment", "risk:high", "--out", "new/folder/contacts.csv"],
    ["dashboard", "--out", "new/folder"],
])
def test_good_edge_values_parse(argv):
    assert build_parser().parse_args(argv).command == argv[0]


def test_good_limit_zero_runs(fx, capsys):
    assert main(["rejects", "--db", str(fx / "crm.duckdb"), "--limit", "0"]) == 0
    assert main(["runs", "--db", str(fx / "crm.duckdb"), "--limit", "0"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("exc", "needle"), [
    (PermissionError(13, "Permission denied", "/data/locked.csv"), "/data/locked.csv"),
    (FileNotFoundError(2, "No such file or directory", "/data/gone.csv"), "/data/gone.csv"),
    (IsADirectoryError(21, "Is a directory", "/data"), "/data"),
    (NotADirectoryError(20, "Not a directory", "/data/file.csv/x"), "/data/file.csv/x"),
    (FileExistsError(17, "File exists", "/data/file.csv"), "/data/file.csv"),
    (EOFError("Compressed file ended before the end-of-stream marker was reached"), "truncated"),
    (gzip.BadGzipFile("Not a gzipped file (b'xx')"), "damaged"),
])
def test_os_errors_on_user_paths_are_input_errors(monkeypatch, capsys, exc, needle):
    def boom(args):
        raise exc

    monkeypatch.setitem(COMMANDS, "status", boom)
    code = main(["status", "--db", "crm.duckdb"])
    err = capsys.readouterr().err
    assert_one_line_exit_2(code, err)
    assert needle in err


def test_unreadable_files_are_refused(fx, monkeypatch, capsys):
    config = fx / "locked.toml"
    config.write_text("seed = 1\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if Path(p) == config else real_access(p, mode, **kw)))
    code = call(["score", "--db", str(fx / "crm.duckdb"), "--config", str(config)])
    err = capsys.readouterr().err
    assert_one_line_exit_2(code, err)
    assert "no permission to read" in err and str(config) in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_source_file_really(fx, capsys):  # pragma: no cover - not as root
    src = fx / "locked.csv"
    src.write_text("customer_id\nC1\n")
    src.chmod(0)
    try:
        code = main(["load", "customers", str(src), "--db", str(fx / "crm.duckdb")])
    finally:
        src.chmod(0o644)
    err = capsys.readouterr().err
    assert_one_line_exit_2(code, err)
    assert str(src) in err


def test_multiline_error_messages_are_cut_to_one_line(fx, capsys):
    code = main(["segment", "define", "vip", "clv >>> 3", "--db", str(fx / "crm.duckdb")])
    err = capsys.readouterr().err
    assert_one_line_exit_2(code, err)
    assert err.startswith("error: rule error at position")


def test_closed_stdout_exits_quietly(fx):
    """``crm-analytics rejects | head -1``: the reader goes away before the output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm_analytics.cli", "rejects", "--db", str(fx / "crm.duckdb")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # closed before the command writes a byte
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=300) in (0, 141)
    assert err == ""


def test_closed_stdout_through_head(fx):
    proc = subprocess.run(
        f"'{sys.executable}' -m crm_analytics.cli rejects --db '{fx / 'crm.duckdb'}' "
        "--limit 100000 | head -1; exit ${PIPESTATUS[0]}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode in (0, 141) and proc.stderr == ""
    assert proc.stdout.count("\n") == 1


def test_load_prints_one_report_and_advice_in_cli_terms(tmp_path):
    db = str(tmp_path / "crm.duckdb")
    tx = tmp_path / "tx.csv"
    tx.write_text("transaction_id,customer_id,transaction_date,amount\nT1,C1,2024-01-01,5\n")
    proc = run("load", "transactions", str(tx), "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("LoadReport(") == 1 and "loaded transactions" not in proc.stderr
    assert "see `crm-analytics rejects --table transactions`" in proc.stdout
    assert "store.rejects(" not in proc.stdout
    proc = run("rejects", "--db", db, "--table", "transactions")
    assert "crm-analytics rejects --table transactions --retry" in proc.stdout, proc.stdout
    bad = tmp_path / "nocols.csv"
    bad.write_text("x,y\n1,2\n")
    proc = run("load", "customers", str(bad), "--db", db)
    assert proc.returncode == 2 and "--map '<your column>=customer_id'" in proc.stderr, proc.stderr


# -- real files through the CLI: CDNOW as distributed, Telco with extra columns ----------------
def test_cdnow_master_end_to_end_through_the_cli(tmp_path, capsys):
    from decimal import Decimal

    lifetimes = pytest.importorskip("lifetimes")
    master = Path(os.path.dirname(lifetimes.__file__)) / "datasets" / "CDNOW_master.txt"
    db = str(tmp_path / "crm.duckdb")
    assert main(["init", "--db", db]) == 0
    # The lifetimes copy starts with a header line (' customer_id  date number_of_cds
    # dollar_value'): --header says so, --columns renames its columns.
    argv = ["load", "transactions", str(master), "--db", db, "--delimiter", "whitespace",
            "--header", "--columns", "customer_id,transaction_date,quantity,amount",
            "--key", "row", "--create-customers"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "read 69,659 = loaded 69,659 + rejected 0 + duplicate 0" in out
    assert "created 23,570 customers" in out
    lines = master.read_text().splitlines()[1:]
    file_sum = sum((Decimal(ln.split()[3]) for ln in lines if ln.strip()), Decimal(0))
    with Store(db, read_only=True) as store:
        got = store.sql("SELECT count(*) n, CAST(sum(amount) AS VARCHAR) s, "
                        "(SELECT count(*) FROM customers) c FROM transactions")
    assert got["n"].iloc[0] == 69659 and got["c"].iloc[0] == 23570
    assert Decimal(got["s"].iloc[0]) == file_sum
    # The same file again changes nothing; told there is no header, line 1 is a rejected row.
    assert main(argv) == 0
    assert "loaded 0 + rejected 0 + duplicate 69,659" in capsys.readouterr().out
    argv[argv.index("--header")] = "--no-header"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "read 69,660 = loaded 0 + rejected 1 + duplicate 69,659" in out


def test_load_options_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "tx.txt"
    path.write_text("00001 19970101 1 11.77\n00002 19970112 1\n")
    db = str(tmp_path / "crm.duckdb")
    code = main(["load", "transactions", str(path), "--db", db, "--header"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "has 1 column '00001 19970101 1 11.77'" in err and "--delimiter whitespace" in err


def test_readme_map_example(tmp_path, capsys):
    db = str(tmp_path / "crm.duckdb")
    orders = tmp_path / "orders.csv"
    orders.write_text("ORDER NO,Customer ID,Transaction Date,Amount\nT1,C1,2024-01-05,10.5\n")
    assert main(["load", "transactions", str(orders), "--db", db,
                 "--map", "Order No=transaction_id", "--create-customers"]) == 0
    assert "loaded 1 + rejected 0" in capsys.readouterr().out


def test_telco_customers_keep_attributes_through_the_cli(tmp_path, capsys):
    telco = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "telco_customer_churn.csv"
    if not telco.exists():
        pytest.skip(f"{telco} not present (shared datasets folder)")
    db = str(tmp_path / "crm.duckdb")
    assert main(["load", "customers", str(telco), "--db", db, "--map", "customerID=customer_id"]) == 0
    assert "kept as attributes (20" in capsys.readouterr().out
    with Store(db, read_only=True) as store:
        assert len(store.table("customer_attributes")) == 7043 * 20 - 11  # 11 blank TotalCharges
