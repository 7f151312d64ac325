"""Subscriptions through the store (loading, rejects, as-of reads), the nightly step and the dashboard."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.dashboards import render, write_dashboards
from crm_analytics.datasets.synthetic.subscriptions import generate_subscriptions
from crm_analytics.errors import InputError
from crm_analytics.store import Store
from crm_analytics.store.schema import REASON_CODES, SCHEMA_VERSION, SYSTEM_DDL, TABLES
from crm_analytics.subscriptions import (
    subscription_count,
    subscription_lifetimes,
    subscription_report,
    subscriptions_from_attributes,
)

RAW = pd.DataFrame({
    "Subscription ID": ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S1"],
    "customer_id": ["C1", "C2", "C9", "C1", "C2", "C1", "C2", "C1"],
    "plan": ["basic"] * 8,
    "started_at": ["2024-01-05", "2024-02-01", "2024-01-01", "2024-03-01", "2024-03-01", "2024-04-01",
                   "2024-04-01", "2024-01-05"],
    "ended_at": ["2024-03-20", "", "", "2024-02-01", "", "", "not a date", "2024-03-20"],
    "billing_period": ["Monthly", "annual", "month", "month", "fortnightly", "month", "month", "Monthly"],
    "recurring_amount": ["9.90", "99", "5", "5", "5", "-3", "5", "9.90"],
})


@pytest.fixture
def store():
    s = Store(":memory:")
    s.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"]}))
    return s


def test_loading_keeps_every_rejected_row_with_its_reason(store):
    report = store.load("subscriptions", RAW)
    assert report.balanced and report.rows_read == 8
    assert (report.rows_loaded, report.rows_rejected, report.rows_duplicate) == (2, 5, 1)
    rejects = store.rejects("subscriptions").set_index("source_row")
    assert rejects.loc[rejects["kind"] == "rejected", "reason_code"].to_dict() == {
        2: "unknown_customer", 3: "ended_before_started", 4: "bad_category", 5: "negative_value",
        6: "bad_date"}
    assert "ended_at 2024-02-01 00:00:00 is before started_at 2024-03-01" in rejects.loc[3, "reason"]
    assert "billing_period 'fortnightly' is not one of month/quarter/week/year" in rejects.loc[4, "reason"]
    assert "ended_before_started" in REASON_CODES
    stored = store.table("subscriptions").set_index("subscription_id")
    assert stored["billing_period"].to_dict() == {"S1": "month", "S2": "year"}
    # loading the same file again changes nothing
    again = store.load("subscriptions", RAW)
    assert again.rows_loaded == 0 and len(store.table("subscriptions")) == 2
    # the missing customer arrives: the retry loads its subscription
    store.load("customers", pd.DataFrame({"customer_id": ["C9"]}))
    assert store.retry_rejects("subscriptions").rows_loaded == 1


def test_store_and_frame_give_the_same_lifetimes(store):
    store.load("subscriptions", RAW)
    from_store = subscription_lifetimes(store, "2024-03-31")
    from_frame = subscription_lifetimes(store.table("subscriptions").drop(columns="customer_key"),
                                        "2024-03-31")
    pd.testing.assert_frame_equal(from_store.reset_index(drop=True), from_frame.reset_index(drop=True),
                                  check_dtype=False)
    assert from_store.set_index("subscription_id")["event"].to_dict() == {"S1": True, "S2": False}
    # as of before the end: S1 is active; S2 did not exist yet
    early = subscription_lifetimes(store, "2024-01-31")
    assert early["subscription_id"].tolist() == ["S1"] and not early["event"].iloc[0]
    assert subscription_count(store, "2024-01-31") == 1 and subscription_count(store, "2023-12-31") == 0


def test_a_store_from_before_the_marker_without_the_new_tables_is_still_recognised(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for name in ("customers", "transactions", "tickets", "survey_responses"):
        table = TABLES[name]
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in table.columns)
        con.execute(f'CREATE TABLE "{name}" ({cols}, customer_key BIGINT)')
    for ddl in SYSTEM_DDL:
        con.execute(ddl)
    con.execute("INSERT INTO store_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    con.close()
    with Store(path, read_only=True) as reader:  # read as it is: no subscriptions yet
        assert subscription_count(reader, "2024-01-01") == 0
        with pytest.raises(InputError, match="no subscriptions table.*open it once for writing"):
            subscription_lifetimes(reader, "2024-01-01")
    with Store(path) as writer:  # opening for writing adds the table
        assert "subscriptions" in writer.tables()


def test_subscriptions_from_a_telco_style_customers_file(store):
    telco = pd.DataFrame({"customer_id": ["T1", "T2", "T3"], "tenure": ["3", "0", "12"],
                          "Churn": ["Yes", "No", "No"],
                          "Contract": ["Month-to-month", "One year", "Two year"],
                          "MonthlyCharges": ["20", "30.5", "45"]})
    store.load("customers", telco)
    subs = subscriptions_from_attributes(store, "2024-06-30")
    assert store.load("subscriptions", subs).rows_loaded == 3
    life = subscription_lifetimes(store, "2024-06-30").set_index("subscription_id")
    assert life["duration"].to_dict() == {"T1": 3, "T2": 0, "T3": 12}
    assert life["event"].to_dict() == {"T1": True, "T2": False, "T3": False}
    assert life.loc["T2", "plan"] == "One year" and life.loc["T2", "recurring_amount"] == 30.5
    with pytest.raises(InputError, match="no customer attributes named"):
        subscriptions_from_attributes(Store(":memory:"), "2024-06-30")


def test_the_report_skips_what_small_data_cannot_support(store):
    assert subscription_report(store, "2024-06-30").skipped == {
        "subscriptions": "no subscriptions up to 2024-06-30"}
    store.load("subscriptions", RAW)
    small = subscription_report(store, "2024-06-30")
    assert "only 2 subscriptions" in small.skipped["subscriptions.survival"]
    assert set(small.tables) == {"subscription_cohorts", "subscription_revenue_retention"}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    data = generate_subscriptions(900, seed=11, start="2022-01-01", as_of="2024-12-31")
    store = Store(":memory:")
    store.load_all(data.tables())
    run = crm.run_batch(store, as_of=data.as_of,
                        config={"steps": ["inputs", "attributes", "subscriptions"]})
    out = tmp_path_factory.mktemp("site")
    write_dashboards(store, out)
    return store, run, out, data


def test_the_nightly_step_writes_its_tables(scored):
    store, run, _, data = scored
    assert run.status == "succeeded" and not any(k.startswith("subscriptions") for k in run.skipped)
    results = crm.run_results(store)
    for name in ("subscription_cohorts", "subscription_revenue_retention", "subscription_survival",
                 "subscription_medians", "subscription_sbg", "subscription_value"):
        assert name in results and not results[name].empty, name
    sbg = results["subscription_sbg"].set_index("segment")
    assert set(sbg.index) == {"basic", "standard", "premium"}
    # the stored numbers are the package's numbers as of the run's date
    report = subscription_report(store, data.as_of)
    assert sbg["alpha"].to_dict() == pytest.approx(report.tables["subscription_sbg"].set_index(
        "segment")["alpha"].to_dict(), rel=1e-9)
    assert run.metrics["subscriptions"]["subscriptions"] == 900
    cohorts = results["subscription_cohorts"]
    assert (cohorts.loc[cohorts["period"] == 0, "retention"] == 1).all()


def test_the_dashboard_page_shows_heatmap_and_curves_only_when_present(scored, tmp_path):
    _, _, out, _ = scored
    page = (out / "subscriptions.html").read_text()
    assert page.count('class="plotly-graph-div"') >= 3
    assert 'id="subscription-cohorts"' in page and 'id="subscription-survival"' in page
    assert 'href="subscriptions.html"' in (out / "index.html").read_text()
    # a run without subscriptions has no such page and no link to it
    pages = render.build_pages(pd.DataFrame(index=pd.Index([], name="customer_id")), {},
                               {"run_id": "r", "as_of": "2025-01-01", "finished_at": "now"})
    assert "subscriptions.html" not in pages
    assert all('href="subscriptions.html"' not in html for html in pages.values())
