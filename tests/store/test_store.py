"""Store: loading, cleansing, quarantine, idempotency, atomicity, reading."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_analytics.datasets import synthetic
from crm_analytics.errors import InputError, MissingColumnsError, SourceError
from crm_analytics.store import Store
from crm_analytics.store.loading import Loader

CUSTOMERS_CSV = (
    "Customer ID,Name,Email,Country,marketing_opt_in,customer_type,employees,created_at\n"
    "C1, Ann ,ANN@X.COM , germany ,Yes,B2B,10,2023-01-05\n"
    "C2,Bob,bob@y.org,DEU,no,b2c,,2023-02-01T10:00:00+02:00\n"
    "C3,Cy,,United Kingdom,1,consumer,,\n"
    "C4,Di,di@z.io,Narnia,,,12.0,\n"
)

TX_CSV = (
    "transaction_id,customer_id,transaction_date,amount,quantity\n"
    "T1,C1,2024-01-01,10,1\n"                 # line 2 ok
    "T2,C1,2024-01-02,abc,1\n"                # line 3 bad_number
    "T3,C1,2024-01-03,5,1,extra\n"            # line 4 malformed_row
    "T4,C9,2024-01-04,5,1\n"                  # line 5 unknown_customer
    "T5,C2,2099-01-01,5,1\n"                  # line 6 future_date
    "T1,C1,2024-01-01,10,1\n"                 # line 7 exact duplicate of line 2
    "T6,C1,20240105,7.5,2\n"                  # line 8 ok (yyyymmdd)
    "T1,C1,2024-01-01,11,1\n"                 # line 9 conflicting duplicate
    "T7,C2,2024-01-06,1,-2\n"                 # line 10 negative_value
    "T8,C2,2024-01-07,1,1.5\n"                # line 11 bad_integer
    ",C2,2024-01-07,1,1\n"                    # line 12 missing_key
    "T9,C2,,1,1\n"                            # line 13 missing_value
    "T10,C2,2024-02-30,1,1\n"                 # line 14 bad_date
)


@pytest.fixture
def store():
    with Store(":memory:") as s:
        yield s


@pytest.fixture
def loaded(store, tmp_path):
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV)
    (tmp_path / "tx.csv").write_text(TX_CSV)
    store.load("customers", tmp_path / "customers.csv")
    return store, tmp_path


def test_default_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_ANALYTICS_DB", str(tmp_path / "env.duckdb"))
    with Store() as s:
        assert s.path == str(tmp_path / "env.duckdb")
    assert (tmp_path / "env.duckdb").exists()
    monkeypatch.delenv("CRM_ANALYTICS_DB")
    monkeypatch.chdir(tmp_path)
    with Store() as s:
        assert s.path == "crm.duckdb"


def test_canonical_tables_have_contract_columns_and_types(store):
    cols = store.sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'transactions' ORDER BY ordinal_position"
    )
    # The contract columns, then the store's own integer customer key (schema version 2).
    assert cols["column_name"].tolist() == [
        "transaction_id", "customer_id", "transaction_date", "amount", "quantity",
        "product_category", "channel", "customer_key",
    ]
    assert cols["data_type"].tolist() == [
        "VARCHAR", "VARCHAR", "TIMESTAMP", "DECIMAL(18,4)", "BIGINT", "VARCHAR", "VARCHAR",
        "BIGINT",
    ]


def test_cleansing_of_customers(loaded):
    store, _ = loaded
    c = store.table("customers").set_index("customer_id")
    assert c.loc["C1", "name"] == "Ann"                       # trimmed
    assert c.loc["C1", "email"] == "ann@x.com"                # trimmed and lower-cased
    assert pd.isna(c.loc["C3", "email"])                      # empty -> NULL
    assert c[["country"]].loc[["C1", "C2", "C3"], "country"].tolist() == ["DE", "DE", "GB"]
    assert c.loc["C4", "country"] == "Narnia"                 # unrecognised kept as given
    assert c.loc["C1", "region"] == "EMEA"                    # derived from the country
    assert c.loc[["C1", "C2", "C3"], "marketing_opt_in"].tolist() == [True, False, True]
    assert c.loc["C1", "customer_type"] == "business"
    assert c.loc["C2", "customer_type"] == "consumer"
    assert c.loc["C4", "employees"] == 12                     # '12.0' is whole
    # an offset is converted to UTC
    assert c.loc["C2", "created_at"] == pd.Timestamp("2023-02-01 08:00:00")


def test_row_problems_are_quarantined_with_reason_and_line(loaded):
    store, tmp = loaded
    rep = store.load("transactions", tmp / "tx.csv")
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected, rep.rows_duplicate) == (13, 2, 9, 2)
    rej = store.rejects("transactions").set_index("source_row")
    expected = {
        3: "bad_number", 4: "malformed_row", 5: "unknown_customer", 6: "future_date",
        9: "duplicate_conflict", 10: "negative_value", 11: "bad_integer", 12: "missing_key",
        13: "missing_value", 14: "bad_date",
    }
    assert rej["reason_code"].to_dict() == expected
    assert set(rej["source"]) == {str(tmp / "tx.csv")}
    assert rej.loc[3, "reason"] == "amount 'abc' is not an amount (a number below 10^14)"
    assert json.loads(rej.loc[3, "raw"])["amount"] == "abc"
    assert "extra" in json.loads(rej.loc[4, "raw"])["line"]
    assert rej.loc[9, "kind"] == "duplicate"
    assert "repeats line 2" in rej.loc[9, "reason"]
    tx = store.table("transactions").set_index("transaction_id")
    assert sorted(tx.index) == ["T1", "T6"]
    assert tx.loc["T1", "amount"] == 10.0                     # first occurrence kept
    assert tx.loc["T6", "transaction_date"] == pd.Timestamp("2024-01-05")


def test_second_load_changes_nothing(loaded):
    store, tmp = loaded
    store.load("transactions", tmp / "tx.csv")
    before = (store.summary(), len(store.rejects()), store.table("transactions"))
    rep = store.load("transactions", tmp / "tx.csv")
    assert rep.rows_loaded == 0
    assert rep.rows_read == rep.rows_rejected + rep.rows_duplicate
    pd.testing.assert_frame_equal(store.summary(), before[0])
    assert len(store.rejects()) == before[1]
    pd.testing.assert_frame_equal(store.table("transactions"), before[2])


def test_existing_key_with_other_values_is_a_conflict_unless_upsert(store):
    store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["A", "B"],
                                          "email": ["a@x.com", "b@x.com"]}))
    changed = pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["A2", "B"]})
    rep = store.load("customers", changed)
    assert (rep.rows_loaded, rep.rows_duplicate) == (0, 2)
    conflict = store.rejects("customers", kind="duplicate")
    assert conflict["record_key"].tolist() == ["C1"]
    assert "name" in conflict["reason"].iloc[0] and "upsert" in conflict["reason"].iloc[0]
    rep = store.load("customers", changed, mode="upsert")
    assert (rep.rows_loaded, rep.rows_updated, rep.rows_duplicate) == (1, 1, 1)
    c = store.table("customers").set_index("customer_id")
    assert c.loc["C1", "name"] == "A2"
    assert c.loc["C1", "email"] == "a@x.com"   # a column the source lacks is kept


def test_missing_required_columns_names_missing_and_found(store, tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("id,cust,amount\n1,C1,5\n")
    with pytest.raises(MissingColumnsError) as err:
        store.load("transactions", path)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg
    assert "transaction_id, customer_id, transaction_date" in msg
    assert "found columns: id, cust, amount" in msg
    assert err.value.missing == ["transaction_id", "customer_id", "transaction_date"]
    assert store.summary()["rows"].sum() == 0 and len(store.loads()) == 0


def test_column_map_and_constants(store):
    store.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
    answers = pd.DataFrame({"rid": ["R1", "R2"], "cust": ["C1", "C1"], "when": ["2024-01-01"] * 2,
                            "question": ["nps", "nps"], "answer": [9, 11]})
    rep = store.load(
        "survey_responses", answers,
        column_map={"rid": "response_id", "cust": "customer_id", "when": "responded_at",
                    "question": "item", "answer": "score"},
        constants={"scale_min": 0, "scale_max": 10, "survey": "relationship"},
    )
    assert (rep.rows_loaded, rep.rows_rejected) == (1, 1)
    assert store.rejects()["reason_code"].tolist() == ["score_out_of_scale"]
    assert store.table("survey_responses")["survey"].tolist() == ["relationship"]
    with pytest.raises(InputError, match="not a column of survey_responses"):
        store.load("survey_responses", answers, column_map={"rid": "response_key"})


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (None, "absent.csv", "file not found"),
        (b"", "empty.csv", "empty"),
        (b"   \n\n", "blank.csv", "empty"),
        ("customer_id,name\nC1,Jos\xe9\n".encode("latin-1"), "latin.csv", "not UTF-8"),
        (bytes(range(256)) * 4, "blob.csv", "binary"),
        (b"PK\x03\x04" + b"\x00" * 100, "book.xlsx", "Excel"),
        (b"not parquet at all", "t.parquet", "not a Parquet file"),
    ],
)
def test_unreadable_files_give_one_line_errors_naming_the_file(store, tmp_path, content, name, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=match) as err:
        store.load("customers", path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)
    assert store.summary()["rows"].sum() == 0


def test_latin1_file_loads_with_encoding(store, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("customer_id,name\nC1,Jos\xe9\n".encode("latin-1"))
    store.load("customers", path, encoding="latin-1")
    assert store.table("customers")["name"].tolist() == ["José"]


def test_semicolon_gzip_glob_and_parquet_sources(store, tmp_path):
    (tmp_path / "a.csv").write_text("customer_id;name\nC1;A\nC2;B\n")
    with gzip.open(tmp_path / "b.csv.gz", "wt") as fh:
        fh.write("customer_id;name\nC3;C\n")
    pd.DataFrame({"customer_id": ["C4", "C5"]}).to_parquet(tmp_path / "c.parquet")
    rep = store.load("customers", str(tmp_path / "*.csv*"))
    assert rep.rows_loaded == 3 and len(rep.sources) == 2
    rep = store.load("customers", tmp_path / "c.parquet")
    assert rep.rows_loaded == 2
    assert sorted(store.table("customers")["customer_id"]) == ["C1", "C2", "C3", "C4", "C5"]


def test_dataframe_rows_are_numbered_by_position(store):
    n = 200_000
    ids = np.array([f"C{i}" for i in range(n)], dtype=object)
    emails = np.array([f"c{i}@x.com" for i in range(n)], dtype=object)
    bad = np.arange(7, n, 9973)
    emails[bad] = "broken"
    store.load("customers", pd.DataFrame({"customer_id": ids, "email": emails},
                                         index=np.arange(n)[::-1]))
    rej = store.rejects("customers")
    assert rej["source_row"].tolist() == bad.tolist()
    assert rej["record_key"].tolist() == ids[bad].tolist()


def test_failed_load_leaves_nothing_behind(store, monkeypatch):
    store.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
    tx = pd.DataFrame({"transaction_id": ["T1", "T2"], "customer_id": ["C1", "C9"],
                       "transaction_date": ["2024-01-01"] * 2, "amount": [1, 2]})
    original = Loader.write

    def crash(self):
        original(self)          # rows are written inside the transaction ...
        raise RuntimeError("disk full")  # ... then the load fails

    monkeypatch.setattr(Loader, "write", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        store.load("transactions", tx)
    assert len(store.table("transactions")) == 0
    assert len(store.rejects()) == 0
    assert len(store.loads()) == 1   # only the customers load
    tables = store.sql("SELECT table_name FROM duckdb_tables()")["table_name"].tolist()
    assert "_crm_stage" not in tables


def test_retry_rejects_after_customers_arrive(store):
    tx = pd.DataFrame({"transaction_id": ["T1", "T2"], "customer_id": ["C1", "C2"],
                       "transaction_date": ["2024-01-01", "2024-01-02"], "amount": ["1", "x"]})
    rep = store.load("transactions", tx, source_name="tx_2024.csv")
    assert rep.reasons == {"bad_number": 1, "unknown_customer": 1}
    store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"]}))
    rep = store.retry_rejects("transactions")
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (2, 1, 1)
    left = store.rejects("transactions")
    assert left["reason_code"].tolist() == ["bad_number"]
    assert left["source"].tolist() == ["tx_2024.csv"] and left["source_row"].tolist() == [1]
    assert store.table("transactions")["transaction_id"].tolist() == ["T1"]


def test_unknown_customers_can_be_created(store):
    tx = pd.DataFrame({"transaction_id": ["T1", "T2"], "customer_id": ["C1", "C1"],
                       "transaction_date": ["2024-01-01", "2024-01-02"], "amount": [1, 2]})
    rep = store.load("transactions", tx, unknown_customers="create")
    assert (rep.rows_loaded, rep.customers_created) == (2, 1)
    assert store.table("customers")["customer_id"].tolist() == ["C1"]


def test_ticket_and_survey_rules(store):
    store.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
    tickets = pd.DataFrame({
        "ticket_id": ["K1", "K2", "K3"], "customer_id": ["C1"] * 3,
        "opened_at": ["2024-01-02 10:00"] * 3,
        "first_response_at": ["2024-01-02 11:00", "2024-01-02 09:00", None],
        "resolved_at": ["2024-01-02 12:00", "2024-01-02 12:00", "2024-01-01"],
        "sla_hours": [4, 4, -1], "is_complaint": ["no", "yes", "0"],
    })
    store.load("tickets", tickets)
    assert store.rejects("tickets")["reason_code"].tolist() == [
        "responded_before_opened", "negative_value"]
    assert "resolved_at 2024-01-01 00:00:00 is before opened_at" in store.rejects("tickets")["reason"].iloc[1]
    answers = pd.DataFrame({
        "response_id": ["R1", "R2", "R3"], "customer_id": ["C1"] * 3,
        "responded_at": ["2024-01-01"] * 3, "item": ["csat"] * 3, "score": [5, 6, 3],
        "scale_min": [1, 1, 5], "scale_max": [5, 5, 1],
    })
    store.load("survey_responses", answers)
    assert store.rejects("survey_responses")["reason_code"].tolist() == [
        "score_out_of_scale", "bad_scale"]


def test_hostile_column_names_and_values_are_data(store):
    frame = pd.DataFrame({
        "customer_id": ["C1'; DROP TABLE customers; --", "C2"],
        'name"); DROP TABLE transactions; --': ["x", "y"],
        "name": ["=cmd|' /C calc'!A0", "Robert'); DROP TABLE students;--"],
    })
    rep = store.load("customers", frame)
    assert rep.rows_loaded == 2
    assert rep.ignored_columns == ['name"); DROP TABLE transactions; --']
    assert set(store.tables()) >= {"customers", "transactions"}
    names = store.table("customers").set_index("customer_id")["name"]
    assert names["C2"] == "Robert'); DROP TABLE students;--"


def test_sql_binds_parameters_and_table_checks_names(store):
    store.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"]}))
    got = store.sql("SELECT customer_id FROM customers WHERE customer_id = $id", {"id": "C2"})
    assert got["customer_id"].tolist() == ["C2"]
    with pytest.raises(InputError, match="no table"):
        store.table("customers; DROP TABLE customers")


def test_summary_counts_and_ranges(loaded):
    store, tmp = loaded
    store.load("transactions", tmp / "tx.csv")
    s = store.summary().set_index("table")
    assert s.loc["customers", "rows"] == 4
    assert s.loc["transactions", "rows"] == 2
    assert s.loc["transactions", "first"] == pd.Timestamp("2024-01-01")
    assert s.loc["transactions", "last"] == pd.Timestamp("2024-01-05")
    assert s.loc["transactions", "rejected"] == 9
    assert s.loc["transactions", "conflicts"] == 1


def test_read_only_store_reads_a_file_another_connection_wrote(tmp_path):
    path = tmp_path / "crm.duckdb"
    with Store(path) as s:
        s.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
    reader = Store(path, read_only=True)
    assert reader.table("customers")["customer_id"].tolist() == ["C1"]
    with pytest.raises(InputError, match="read-only"):
        reader.load("customers", pd.DataFrame({"customer_id": ["C2"]}))
    with pytest.raises(InputError, match="no store here"):
        Store(tmp_path / "absent.duckdb", read_only=True)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dirty")
    data = synthetic.generate(n_customers=1500, seed=3, dirty_fraction=0.05)
    data.write_csv(folder)
    return data, Path(folder)


def _load_all(store: Store, folder: Path) -> dict:
    return {t: store.load(t, folder / f"{t}.csv")
            for t in ("customers", "transactions", "tickets", "survey_responses")}


def test_dirty_synthetic_data_every_defect_found_under_its_reason(dirty):
    data, folder = dirty
    with Store(":memory:") as store:
        reports = _load_all(store, folder)
        for rep in reports.values():
            assert rep.balanced
        defects = data.truth.defects
        assert len(defects) > 100
        rej = store.rejects()
        for table, group in defects.groupby("table"):
            got = rej[rej["table_name"] == table].set_index("source_row")["reason_code"]
            want = group.set_index("source_row")["reason_code"]
            assert got.reindex(want.index).tolist() == want.tolist(), table
            # nothing rejected that was not injected
            assert sorted(got.index) == sorted(want.index), table
        for table, rep in reports.items():
            exact = data.truth.duplicates
            n_exact = int(((exact["table"] == table) & (exact["kind"] == "exact")).sum())
            n_conflict = int(((defects["table"] == table)
                              & (defects["reason_code"] == "duplicate_conflict")).sum())
            assert rep.rows_duplicate == n_exact + n_conflict, table
            # every clean row arrives, except those whose only copy carries a defect
            lost = defects[(defects["table"] == table)
                           & (defects["reason_code"] != "duplicate_conflict")]
            assert rep.rows_loaded == len(data.truth.clean[table]) - len(lost), table


def test_dirty_synthetic_data_loads_to_the_clean_values(dirty):
    data, folder = dirty
    with Store(":memory:") as store:
        _load_all(store, folder)
        tx = store.table("transactions").sort_values("transaction_id").reset_index(drop=True)
        clean = data.truth.clean["transactions"]
        defects = data.truth.defects
        lost = defects.loc[(defects["table"] == "transactions")
                           & (defects["reason_code"] != "duplicate_conflict"), "key"]
        clean = (clean[~clean["transaction_id"].isin(lost)]
                 .sort_values("transaction_id").reset_index(drop=True))
        assert tx["transaction_id"].tolist() == clean["transaction_id"].tolist()
        np.testing.assert_allclose(tx["amount"], clean["amount"], rtol=0, atol=1e-9)
        assert (tx["transaction_date"].astype("datetime64[us]")
                == clean["transaction_date"].astype("datetime64[us]")).all()
        cust = store.table("customers").set_index("customer_id").sort_index()
        cc = data.truth.clean["customers"].set_index("customer_id").loc[cust.index]
        assert cust["country"].tolist() == cc["country"].tolist()
        assert cust["email"].tolist() == cc["email"].tolist()


def test_dirty_synthetic_data_second_load_changes_no_count(dirty):
    _, folder = dirty
    with Store(":memory:") as store:
        _load_all(store, folder)
        summary, n_rejects = store.summary(), len(store.rejects())
        again = _load_all(store, folder)
        assert all(r.rows_loaded == 0 for r in again.values())
        pd.testing.assert_frame_equal(store.summary(), summary)
        assert len(store.rejects()) == n_rejects


def test_memory_limit_and_threads_options(monkeypatch):
    with Store(":memory:", memory_limit="512MB", threads=1) as s:
        got = s.sql("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t")
    assert got["m"].iloc[0].startswith("488") and int(got["t"].iloc[0]) == 1
    monkeypatch.setenv("CRM_ANALYTICS_MEMORY_LIMIT", "1GB")
    with Store(":memory:") as s:
        assert s.memory_limit == "1GB"
    with pytest.raises(InputError, match="not a size"):
        Store(":memory:", memory_limit="1GB'; DROP TABLE customers; --")
    with pytest.raises(InputError, match="at least 1"):
        Store(":memory:", threads=0)


def test_load_all_from_a_folder_in_dependency_order(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    # transactions sorted first by name, but customers must load first to avoid rejects
    (folder / "transactions.csv").write_text(
        "transaction_id,customer_id,transaction_date,amount\nT1,C1,2024-01-01,5\n")
    (folder / "customers.csv").write_text("customer_id\nC1\n")
    with Store(":memory:") as s:
        reports = s.load_all(folder)
        assert list(reports) == ["customers", "transactions"]
        assert reports["transactions"].rows_loaded == 1 and reports["transactions"].rows_rejected == 0
        with pytest.raises(InputError, match="no customers.csv"):
            s.load_all(tmp_path)
        with pytest.raises(InputError, match="unknown table"):
            s.load_all({"orders": folder / "transactions.csv"})


def test_float_ids_from_pandas_gaps_are_whole_numbers(store):
    frame = pd.DataFrame({"customer_id": [101.0, 102.0, np.nan], "name": ["a", "b", "c"]})
    rep = store.load("customers", frame)
    assert (rep.rows_loaded, rep.rows_rejected) == (2, 1)
    assert store.table("customers")["customer_id"].tolist() == ["101", "102"]
    tx = pd.DataFrame({"transaction_id": [1, 2], "customer_id": [101, 102],
                       "transaction_date": ["2024-01-01"] * 2, "amount": [1.5, 2]})
    assert store.load("transactions", tx).rows_loaded == 2   # int ids match the same customers


def test_bom_z_suffix_and_offsets(store, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffcustomer_id,created_at\r\nC1,2024-01-01T10:00:00Z\r\n"
                     "C2,2024-01-02T10:00:00.5+05:30\r\n".encode())
    assert store.load("customers", path).rows_loaded == 2
    created = store.table("customers").set_index("customer_id")["created_at"]
    assert created["C1"] == pd.Timestamp("2024-01-01 10:00:00")
    assert created["C2"] == pd.Timestamp("2024-01-02 04:30:00.5")


# -- literal paths with glob characters (issue "Total functions") ---------------------------

TX_ONE = "transaction_id,customer_id,transaction_date,amount\n{id},C1,2024-01-01,1\n"


def test_existing_path_with_glob_characters_is_read_literally(loaded):
    store, tmp = loaded
    (tmp / "orders[1].csv").write_text(TX_ONE.format(id="BRACKET"))
    (tmp / "orders1.csv").write_text(TX_ONE.format(id="PLAIN1"))
    (tmp / "a*b.csv").write_text(TX_ONE.format(id="STAR"))
    (tmp / "aXb.csv").write_text(TX_ONE.format(id="AXB"))
    (tmp / "q?.csv").write_text(TX_ONE.format(id="QMARK"))
    (tmp / "qZ.csv").write_text(TX_ONE.format(id="QZ"))
    for name in ("orders[1].csv", "a*b.csv", "q?.csv"):
        rep = store.load("transactions", tmp / name)
        assert (rep.sources, rep.rows_read, rep.rows_loaded) == ([str(tmp / name)], 1, 1)
    assert sorted(store.table("transactions")["transaction_id"]) == ["BRACKET", "QMARK", "STAR"]


def test_a_path_that_does_not_exist_is_expanded_as_a_glob(loaded):
    store, tmp = loaded
    (tmp / "orders[1].csv").write_text(TX_ONE.format(id="BRACKET"))
    (tmp / "orders1.csv").write_text(TX_ONE.format(id="PLAIN1"))
    rep = store.load("transactions", str(tmp / "orders*.csv"))
    # Each matched file is read as itself: 'orders[1].csv' is not re-globbed by DuckDB.
    assert rep.sources == [str(tmp / "orders1.csv"), str(tmp / "orders[1].csv")]
    assert sorted(store.table("transactions")["transaction_id"]) == ["BRACKET", "PLAIN1"]
    with pytest.raises(SourceError, match="no file has this name and none matches it"):
        store.load("transactions", str(tmp / "nothing[0-9].csv"))


def test_parquet_with_glob_characters_in_its_name(store, tmp_path):
    pd.DataFrame({"customer_id": ["P1"]}).to_parquet(tmp_path / "cust[1].parquet")
    pd.DataFrame({"customer_id": ["WRONG"]}).to_parquet(tmp_path / "cust1.parquet")
    assert store.load("customers", tmp_path / "cust[1].parquet").rows_loaded == 1
    assert store.table("customers")["customer_id"].tolist() == ["P1"]
