"""The store marker and schema version: foreign databases, newer stores, adoption, bad paths."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from crm_analytics.cli import main
from crm_analytics.errors import InputError
from crm_analytics.store import Store
from crm_analytics.store.schema import SCHEMA_VERSION, STORE_MARKER_KEY, STORE_MARKER_VALUE


def _digest(path: Path) -> tuple[str, list[str]]:
    """File bytes and the folder listing (a WAL file appearing would be a change too)."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(p.name for p in path.parent.iterdir())


def _meta(path: Path) -> dict[str, str]:
    """store_meta without the loader's derived-table states (crm_analytics.store.derived)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT key, value FROM store_meta WHERE NOT suffix(key, '_state')")
        return dict(rows.fetchall())
    finally:
        con.close()


def _tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    finally:
        con.close()


@pytest.fixture
def foreign(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales AS SELECT range AS id, range * 2 AS value FROM range(1000)")
    con.close()
    return path


def test_a_new_store_carries_the_marker_and_schema_version(tmp_path):
    path = tmp_path / "crm.duckdb"
    Store(path).close()
    assert _meta(path) == {STORE_MARKER_KEY: STORE_MARKER_VALUE,
                           "schema_version": str(SCHEMA_VERSION)}
    # Reopening a current store writes nothing.
    before = _digest(path)
    Store(path).close()
    Store(path, read_only=True).sql("SELECT 1")
    assert _digest(path) == before
    with Store(":memory:") as s:
        assert s.sql("SELECT value FROM store_meta WHERE key = ?", [STORE_MARKER_KEY])["value"].item() \
            == STORE_MARKER_VALUE


def test_a_foreign_duckdb_file_is_refused_and_left_untouched(foreign):
    before = _digest(foreign)
    expected = (
        f"{foreign} is a DuckDB database but not a crm_analytics store; to add the crm_analytics "
        f"tables to it, run `crm-analytics init --db {foreign} --adopt` or "
        f"Store('{foreign}', adopt=True)"
    )
    with pytest.raises(InputError) as err:
        Store(foreign)
    assert str(err.value) == expected
    with pytest.raises(InputError, match="not a crm_analytics store"):
        Store(foreign, read_only=True)
    assert _digest(foreign) == before
    assert _tables(foreign) == ["sales"]


def test_cli_on_a_foreign_file_is_one_line_and_changes_nothing(foreign, tmp_path, capsys):
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id\nC1\n")
    before = _digest(foreign)
    for argv in (["status", "--db", str(foreign)],
                 ["load", "customers", str(csv), "--db", str(foreign)],
                 ["init", "--db", str(foreign)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert "not a crm_analytics store" in err[0] and "--adopt" in err[0]
    assert _digest(foreign) == before


def test_adopt_adds_the_tables_and_keeps_the_data(foreign):
    with Store(foreign, adopt=True) as s:
        assert {"customers", "transactions", "store_meta", "sales"} <= set(s.tables())
        assert s.load("customers", pd.DataFrame({"customer_id": ["C1"]})).rows_loaded == 1
        assert s.sql("SELECT count(*) AS n FROM sales")["n"].item() == 1000
    assert _meta(foreign)[STORE_MARKER_KEY] == STORE_MARKER_VALUE
    with Store(foreign) as s:  # now a store: no adopt needed
        assert len(s.table("customers")) == 1
    with Store(foreign, read_only=True) as s:
        assert s.summary()["rows"].tolist() == [1, 0, 0, 0, 0, 0]


def test_cli_init_adopt(foreign, capsys):
    assert main(["init", "--db", str(foreign), "--adopt"]) == 0
    assert "store ready" in capsys.readouterr().out
    assert main(["status", "--db", str(foreign)]) == 0


def test_adopt_refuses_a_database_with_clashing_table_names(tmp_path):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER, full_name VARCHAR)")
    con.close()
    before = _digest(path)
    with pytest.raises(InputError, match="cannot adopt.*customers.*rename"):
        Store(path, adopt=True)
    assert _digest(path) == before


def test_a_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "crm.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE store_meta SET value = ? WHERE key = 'schema_version'",
                [str(SCHEMA_VERSION + 1)])
    con.close()
    before = _digest(path)
    for read_only in (False, True):
        with pytest.raises(InputError) as err:
            Store(path, read_only=read_only)
        msg = str(err.value)
        assert f"schema version {SCHEMA_VERSION + 1}" in msg
        assert f"schema version {SCHEMA_VERSION})" in msg
        assert "upgrade crm_analytics" in msg
    assert _digest(path) == before


def test_a_damaged_schema_version_is_an_input_error(tmp_path):
    path = tmp_path / "crm.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE store_meta SET value = 'one' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(InputError, match="schema version 'one'.*damaged"):
        Store(path)


def test_a_store_from_before_the_marker_is_recognised_and_marked(tmp_path):
    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        s.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
        s.execute("DELETE FROM store_meta WHERE key = ?", [STORE_MARKER_KEY])
    assert _meta(path) == {"schema_version": str(SCHEMA_VERSION)}
    with Store(path, read_only=True) as s:  # readable as it is
        assert len(s.table("customers")) == 1
    with Store(path) as s:
        assert len(s.table("customers")) == 1
    assert _meta(path) == {STORE_MARKER_KEY: STORE_MARKER_VALUE,
                           "schema_version": str(SCHEMA_VERSION)}


def test_an_empty_duckdb_database_becomes_a_store(tmp_path):
    path = tmp_path / "blank.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(InputError, match="empty DuckDB database.*crm-analytics init"):
        Store(path, read_only=True)
    with Store(path) as s:
        assert "customers" in s.tables()
    assert _meta(path)[STORE_MARKER_KEY] == STORE_MARKER_VALUE


@pytest.mark.parametrize("name", ["data.csv", "orders.parquet", "export.json", "tx.csv.gz",
                                  "Customers.CSV", "book.xlsx"])
def test_a_data_file_name_is_refused(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(InputError, match=r"named like a data file .*not a store.*\.load\(TABLE"):
        Store(path)
    assert not path.exists()
    path.write_text("customer_id\nC1\n")
    with pytest.raises(InputError, match="named like a data file"):
        Store(path, read_only=True)
    assert path.read_text() == "customer_id\nC1\n"


def test_existing_files_that_are_not_duckdb_are_refused(tmp_path):
    text = tmp_path / "crm.duckdb"
    text.write_text("customer_id\nC1\n")
    with pytest.raises(InputError, match="is not a DuckDB database"):
        Store(text)
    assert text.read_text() == "customer_id\nC1\n"
    lite = tmp_path / "lite.db"
    sqlite3.connect(lite).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(InputError, match="not a DuckDB database \\(an SQLite database\\)"):
        Store(lite)
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    with pytest.raises(InputError, match="empty file, not a DuckDB database"):
        Store(empty)
    with pytest.raises(InputError, match="is a folder"):
        Store(tmp_path)


@pytest.mark.parametrize("bad", [0, -1, 257, 10**6, "abc", "2.5", 2.5, True, float("nan"), 10**400])
def test_threads_must_be_between_1_and_256(bad):
    with pytest.raises(InputError, match="at least 1 and at most 256"):
        Store(":memory:", threads=bad)


@pytest.mark.parametrize(("good", "n"), [(1, 1), (256, 256), ("4", 4), (2.0, 2)])
def test_threads_in_range_are_accepted(good, n):
    with Store(":memory:", threads=good) as s:
        assert s.threads == n
        with pytest.raises(InputError, match="at most 256"), s.thread_budget(1000):
            pass
