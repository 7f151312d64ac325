"""The integer customer key: assigned at load, stable, never reused, carried into every
table, rows stored in key order, and a store of schema version 1 migrated on opening."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.store import Store
from crm_analytics.store.loading import Loader
from crm_analytics.store.schema import (
    SCHEMA_VERSION,
    STORE_MARKER_KEY,
    STORE_MARKER_VALUE,
    SYSTEM_DDL,
    TABLES,
)


def _keys(store: Store) -> dict[str, int]:
    rows = store.sql("SELECT customer_id, customer_key FROM customers")
    return dict(zip(rows["customer_id"], rows["customer_key"].astype(int), strict=True))


def _customers(*ids: str, **columns: list) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(ids), **columns})


def _tx(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(transaction_id, customer_id, transaction_date) with amount 10."""
    frame = pd.DataFrame(rows, columns=["transaction_id", "customer_id", "transaction_date"])
    return frame.assign(amount="10")


def _mismatched(store: Store, table: str) -> int:
    """Rows of ``table`` whose customer_key is not their customer's key (or is missing)."""
    return int(store.sql(
        f"SELECT count(*) AS n FROM {table} t LEFT JOIN customers c USING (customer_id) "  # noqa: S608
        "WHERE t.customer_key IS DISTINCT FROM c.customer_key")["n"].item())


@pytest.fixture
def store():
    with Store(":memory:") as s:
        yield s


def test_new_customers_are_numbered_in_customer_id_order(store):
    store.load("customers", _customers("C3", "C1", "C2"))
    assert _keys(store) == {"C1": 1, "C2": 2, "C3": 3}
    store.load("customers", _customers("B9", "D1"))  # a later load continues after the highest key
    assert _keys(store) == {"C1": 1, "C2": 2, "C3": 3, "B9": 4, "D1": 5}


def test_keys_are_stable_across_reloads_and_upserts(store):
    store.load("customers", _customers("C1", "C2", "C3", name=["a", "b", "c"]))
    before = _keys(store)
    store.load("customers", _customers("C1", "C2", "C3", name=["a", "b", "c"]))  # same file again
    assert _keys(store) == before
    report = store.load("customers", _customers("C2", "C4", name=["B", "d"]), mode="upsert")
    assert report.rows_updated == 1
    assert _keys(store) == {**before, "C4": 4}
    assert store.sql("SELECT name FROM customers WHERE customer_id = 'C2'")["name"].item() == "B"


def test_a_key_is_never_handed_out_twice(store):
    store.load("customers", _customers("C1", "C2", "C3"))
    store.execute("DELETE FROM customers WHERE customer_id = 'C3'")  # e.g. an erasure request
    store.load("customers", _customers("C4"))
    store.load("customers", _customers("C3"))  # comes back: a new key, not its old one
    assert _keys(store) == {"C1": 1, "C2": 2, "C4": 4, "C3": 5}


def test_a_load_rolled_back_after_drawing_keys_leaves_a_gap_not_a_clash(store, monkeypatch):
    store.load("customers", _customers("C1"))

    def fail(self):
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(Loader, "report", fail)  # after the keys were drawn and the rows written
        with pytest.raises(RuntimeError, match="disk full"):
            store.load("customers", _customers("C2", "C3"))
    assert _keys(store) == {"C1": 1}
    store.load("customers", _customers("C2"))
    assert _keys(store) == {"C1": 1, "C2": 4}  # keys 2 and 3 went with the rolled-back load


def test_a_customer_inserted_by_hand_draws_a_key_from_the_sequence(store):
    store.load("customers", _customers("C1", "C2"))
    store.execute("INSERT INTO customers (customer_id, name) VALUES ('H1', 'by hand')")
    store.load("customers", _customers("C3"))
    keys = _keys(store)
    assert len(set(keys.values())) == 4 and keys["H1"] > 2 and keys["C3"] > keys["H1"]


def test_the_same_data_get_the_same_keys_in_another_store():
    frames = _customers(*[f"C{i:03d}" for i in range(200)][::-1])
    with Store(":memory:") as a, Store(":memory:") as b:
        a.load("customers", frames)
        b.load("customers", frames.sample(frac=1.0, random_state=0))
        assert _keys(a) == _keys(b)


def test_transactions_tickets_and_responses_carry_their_customers_key(store):
    store.load("customers", _customers("C2", "C1"))
    store.load("transactions", _tx([("T1", "C1", "2024-01-02"), ("T2", "C2", "2024-01-01")]))
    store.load("tickets", pd.DataFrame({"ticket_id": ["K1", "K2"], "customer_id": ["C2", "C1"],
                                        "opened_at": ["2024-01-03", "2024-01-04"]}))
    store.load("survey_responses", pd.DataFrame({
        "response_id": ["R1"], "customer_id": ["C2"], "responded_at": ["2024-01-05"],
        "item": ["nps"], "score": [9], "scale_min": [0], "scale_max": [10]}))
    for table in ("transactions", "tickets", "survey_responses"):
        assert _mismatched(store, table) == 0, table
    assert store.sql("SELECT customer_key FROM transactions WHERE transaction_id = 'T2'"
                     )["customer_key"].item() == _keys(store)["C2"]


def test_created_customers_get_keys_and_their_transactions_carry_them(store):
    store.load("customers", _customers("C1"))
    report = store.load("transactions", _tx([
        ("T1", "C1", "2024-01-01"), ("T2", "N2", "2024-01-02"), ("T3", "N1", "2024-01-03"),
        ("T4", "N2", "2024-01-04")]), unknown_customers="create")
    assert report.customers_created == 2
    assert _keys(store) == {"C1": 1, "N1": 2, "N2": 3}
    assert _mismatched(store, "transactions") == 0


def test_retried_rejects_carry_the_key_of_the_customer_loaded_since(store):
    store.load("customers", _customers("C1"))
    assert store.load("transactions", _tx([("T1", "C9", "2024-01-01")])).rows_rejected == 1
    store.load("customers", _customers("C9"))
    assert store.retry_rejects("transactions").rows_loaded == 1
    assert _mismatched(store, "transactions") == 0


def test_an_upsert_moving_a_transaction_to_another_customer_moves_its_key(store):
    store.load("customers", _customers("C1", "C2"))
    store.load("transactions", _tx([("T1", "C1", "2024-01-01"), ("T2", "C1", "2024-01-02")]))
    store.load("transactions", _tx([("T2", "C2", "2024-01-02")]), mode="upsert")
    store.load("transactions", _tx([("T1", "N1", "2024-01-01")]), mode="upsert",
               unknown_customers="create")
    assert _mismatched(store, "transactions") == 0
    got = store.sql("SELECT transaction_id, customer_key FROM transactions ORDER BY 1")
    assert got["customer_key"].tolist() == [_keys(store)["N1"], _keys(store)["C2"]]


def test_a_batch_is_stored_in_customer_key_then_date_order(store):
    store.load("customers", _customers("C1", "C2", "C3"))
    rows = [(f"T{i}", f"C{3 - i % 3}", f"2024-01-{28 - i:02d}") for i in range(12)]
    store.load("transactions", _tx(rows))
    stored = store.sql("SELECT customer_key, transaction_date FROM transactions ORDER BY rowid")
    assert list(stored.itertuples(index=False)) == sorted(stored.itertuples(index=False))
    store.load("tickets", pd.DataFrame({"ticket_id": ["K1", "K2", "K3"],
                                        "customer_id": ["C3", "C1", "C1"],
                                        "opened_at": ["2024-01-01", "2024-01-03", "2024-01-02"]}))
    assert store.sql("SELECT ticket_id FROM tickets ORDER BY rowid")["ticket_id"].tolist() == [
        "K3", "K2", "K1"]


# --------------------------------------------------------------------------- migration
def _version_1_store(path) -> None:
    """A store as crm_analytics wrote it at schema version 1: no customer_key anywhere."""
    con = duckdb.connect(str(path))
    for table in TABLES.values():
        cols = ", ".join(f'"{c.name}" {c.sql_type}' + (" NOT NULL" if c.name == table.key else "")
                         for c in table.columns)
        con.execute(f'CREATE TABLE "{table.name}" ({cols})')
    for ddl in SYSTEM_DDL:
        con.execute(ddl)
    con.execute("INSERT INTO store_meta VALUES (?, ?), ('schema_version', '1')",
                [STORE_MARKER_KEY, STORE_MARKER_VALUE])
    con.execute("INSERT INTO customers (customer_id, name) VALUES ('C2', 'b'), ('C1', 'a'), "
                "('C3', 'c')")
    con.execute("INSERT INTO transactions (transaction_id, customer_id, transaction_date, amount) "
                "VALUES ('T1', 'C3', '2024-01-01', 1), ('T2', 'C1', '2024-01-03', 2), "
                "('T3', 'C1', '2024-01-02', 3), ('T4', 'C2', '2024-01-01', 4)")
    con.execute("INSERT INTO tickets (ticket_id, customer_id, opened_at) "
                "VALUES ('K1', 'C2', '2024-01-01')")
    con.execute("INSERT INTO survey_responses (response_id, customer_id, responded_at, item, "
                "score, scale_min, scale_max) VALUES ('R1', 'C3', '2024-01-01', 'nps', 9, 0, 10)")
    con.close()


def test_a_version_1_store_is_migrated_on_opening(tmp_path):
    path = tmp_path / "old.duckdb"
    _version_1_store(path)
    with pytest.raises(InputError, match="schema version 1, older.*open it once for writing"):
        Store(path, read_only=True)
    with Store(path) as store:
        assert _keys(store) == {"C1": 1, "C2": 2, "C3": 3}
        for table in ("transactions", "tickets", "survey_responses"):
            assert _mismatched(store, table) == 0, table
        stored = store.sql("SELECT transaction_id FROM transactions ORDER BY rowid")
        assert stored["transaction_id"].tolist() == ["T3", "T2", "T4", "T1"]
        # the data are kept, the key column comes last, new customers continue the numbering
        assert store.table("customers")["name"].tolist() == ["a", "b", "c"]
        assert store.table("transactions").columns[-1] == "customer_key"
        store.load("customers", _customers("C0"))
        assert _keys(store)["C0"] == 4
        assert store.load("transactions", _tx([("T5", "C0", "2024-02-01")])).rows_loaded == 1
        assert _mismatched(store, "transactions") == 0
    with Store(path, read_only=True) as reader:
        meta = dict(reader.sql("SELECT key, value FROM store_meta").itertuples(index=False))
        assert meta["schema_version"] == str(SCHEMA_VERSION) == "2"
        assert len(reader.table("transactions")) == 5


def test_the_migration_is_atomic(tmp_path, monkeypatch):
    """A migration that fails midway leaves the version-1 store as it was."""
    from crm_analytics.store import store as store_module

    path = tmp_path / "old.duckdb"
    _version_1_store(path)
    steps = store_module._MIGRATIONS[1]
    monkeypatch.setitem(store_module._MIGRATIONS, 1, (*steps[:-1], "SELECT no_such_column"))
    with pytest.raises(duckdb.Error):
        Store(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        version = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'transactions'"
        ).fetchall()]
        assert version == ("1",) and "customer_key" not in columns
        assert con.execute("SELECT count(*) FROM transactions").fetchone() == (4,)
    finally:
        con.close()
