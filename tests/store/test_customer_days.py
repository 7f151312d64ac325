"""The loader keeps ``customer_days`` equal to the transactions grouped per customer and day,
through appends, upserts that move rows between customers and days, created customers and
retried rejects; a table that is not current is never read (the RFM summary falls back)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm_analytics.clv import rfm_summary
from crm_analytics.store import Store, derived
from crm_analytics.store import customer_days as cd
from crm_analytics.store.queries import load_query
from tests.helpers import synthetic_data

DAYS = "SELECT customer_key, day, amount, has_sale FROM customer_days ORDER BY customer_key, day"


def _from_scratch(store: Store) -> pd.DataFrame:
    """The definition, recomputed from every transaction."""
    return store.sql(f"SELECT * FROM ({load_query('store/sql/customer_days.sql')}) "
                     "ORDER BY customer_key, day")


def _by_hand(store: Store) -> pd.DataFrame:
    """The same in pandas: sum per customer and calendar day, and whether any amount >= 0."""
    tx = store.sql("SELECT customer_key, transaction_date, amount FROM transactions")
    tx["day"] = tx["transaction_date"].dt.date
    out = tx.groupby(["customer_key", "day"])["amount"].agg(["sum", "max"]).reset_index()
    out["has_sale"] = out["max"] >= 0
    return out.rename(columns={"sum": "amount"})[["customer_key", "day", "amount", "has_sale"]]


def _assert_current_and_exact(store: Store) -> None:
    assert cd.table_current(store)
    kept = store.sql(DAYS)
    pd.testing.assert_frame_equal(kept, _from_scratch(store))
    hand = _by_hand(store)
    assert len(kept) == len(hand)
    assert kept["amount"].astype(float).round(4).tolist() == hand["amount"].astype(float).round(4).tolist()
    assert kept["has_sale"].tolist() == hand["has_sale"].tolist()


def _both_paths(store: Store, as_of: str, calibration_end: str | None = None) -> None:
    """rfm_summary from customer_days equals rfm_summary from the transactions, exactly."""
    assert cd.table_current(store)
    fast = rfm_summary(store, as_of, calibration_end=calibration_end)
    params = {"cutoff": pd.Timestamp(as_of) + pd.Timedelta(days=1), "as_of": dt.date.fromisoformat(as_of),
              "calibration_end": dt.date.fromisoformat(calibration_end or as_of), "days_per_unit": 7.0}
    slow = store.sql(load_query("clv/sql/rfm_summary.sql"), params).set_index("customer_id")
    slow.index = slow.index.astype(str)
    pd.testing.assert_frame_equal(fast, slow[fast.columns].astype("float64"), check_names=False)


@pytest.fixture(scope="module")
def loaded():
    data = synthetic_data(250, 23, dirty_fraction=0.05)
    with Store(":memory:") as s:
        s.load_all(data.tables())
        yield s, data


def test_a_first_load_builds_the_table(loaded):
    store, _ = loaded
    _assert_current_and_exact(store)
    assert store.sql("SELECT count(*) AS n FROM customer_days")["n"][0] > 1000


def test_appends_upserts_and_retries_keep_it_exact(loaded):
    store, _ = loaded
    tx = store.sql("SELECT * EXCLUDE (customer_key) FROM transactions")
    # Appended rows for created customers and for existing ones, some on days they already have.
    extra = tx.sample(80, random_state=3).assign(
        transaction_id=lambda f: "N" + f["transaction_id"],
        customer_id=[f"Z{i % 7}" if i % 2 else cid
                     for i, cid in enumerate(tx.sample(80, random_state=4)["customer_id"])])
    store.load("transactions", extra, unknown_customers="create")
    _assert_current_and_exact(store)
    # An upsert moving rows to other customers, to other days, and turning sales into refunds.
    moved = tx.sample(60, random_state=5).reset_index(drop=True)
    moved.loc[:19, "customer_id"] = tx["customer_id"].sample(20, random_state=6).to_numpy()
    shifted = pd.to_datetime(moved.loc[20:39, "transaction_date"]) - pd.Timedelta(days=3)
    moved.loc[20:39, "transaction_date"] = shifted
    moved.loc[40:, "amount"] = -moved.loc[40:, "amount"].astype(float).abs() - 1
    assert store.load("transactions", moved, mode="upsert").rows_updated > 0
    _assert_current_and_exact(store)
    # Rows of unknown customers, rejected, then retried once the customers exist.
    orphans = tx.sample(10, random_state=7).assign(
        transaction_id=lambda f: "O" + f["transaction_id"], customer_id=[f"Q{i}" for i in range(10)])
    assert store.load("transactions", orphans).rows_rejected == 10
    store.load("customers", pd.DataFrame({"customer_id": [f"Q{i}" for i in range(10)]}))
    assert store.retry_rejects("transactions").rows_loaded == 10
    _assert_current_and_exact(store)
    _both_paths(store, "2024-06-30")
    last = store.sql("SELECT max(transaction_date) AS d FROM transactions")["d"][0].date()
    _both_paths(store, last.isoformat(), (last - dt.timedelta(days=120)).isoformat())


def test_a_load_that_fails_leaves_the_table_as_it_was(loaded, monkeypatch):
    store, _ = loaded
    before = store.sql(DAYS)
    tx = store.sql("SELECT * EXCLUDE (customer_key) FROM transactions LIMIT 5").assign(
        transaction_id=lambda f: "F" + f["transaction_id"])

    def boom(con, table, state_before):
        raise RuntimeError("disk full")

    monkeypatch.setattr(derived, "sync", boom)
    with pytest.raises(Exception, match="disk full"):
        store.load("transactions", tx)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(store.sql(DAYS), before)
    _assert_current_and_exact(store)


def test_a_hand_written_change_is_not_read_and_the_next_load_rebuilds():
    data = synthetic_data(60, 29)
    with Store(":memory:") as store:
        store.load_all(data.tables())
        as_of = "2024-12-31"
        before = rfm_summary(store, as_of)
        # A row written by hand, around the loader: the table no longer reflects the store.
        store.execute("INSERT INTO transactions SELECT * REPLACE ('HAND' AS transaction_id, "
                      "transaction_date - INTERVAL 400 DAY AS transaction_date) FROM transactions LIMIT 1")
        assert not cd.table_current(store)
        after = rfm_summary(store, as_of)  # read from the transactions, so it sees the row
        changed = (before != after.reindex(before.index)).any(axis=1)
        assert changed.sum() == 1
        # The next load rebuilds it from scratch.
        store.load("transactions", pd.DataFrame({
            "transaction_id": ["NEXT"], "customer_id": [before.index[0]],
            "transaction_date": ["2024-12-01"], "amount": [3.0]}))
        _assert_current_and_exact(store)


def test_a_store_without_the_table_falls_back(tmp_path):
    data = synthetic_data(40, 31)
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        store.load_all(data.tables())
        expected = rfm_summary(store, "2024-12-31")
        store.execute("DROP TABLE customer_days")
    with Store(path, read_only=True) as store:
        assert not cd.table_current(store)
        pd.testing.assert_frame_equal(rfm_summary(store, "2024-12-31"), expected)
    assert not cd.table_current(object())


def test_another_definition_is_not_current(loaded):
    import dataclasses

    store, _ = loaded
    assert derived.is_current(store.con, cd.CUSTOMER_DAYS)
    # A package upgrade that changes the definition (here its order) must not read the old table.
    changed = dataclasses.replace(cd.CUSTOMER_DAYS, order_by="day, customer_key")
    assert changed.digest != cd.CUSTOMER_DAYS.digest
    assert not derived.is_current(store.con, changed)
    with store.transaction() as con:
        derived.rebuild(con, changed)
    assert derived.is_current(store.con, changed) and not derived.is_current(store.con, cd.CUSTOMER_DAYS)
    with store.transaction() as con:
        derived.rebuild(con, cd.CUSTOMER_DAYS)
    _assert_current_and_exact(store)
