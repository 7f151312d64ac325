"""The single customer view: every part equals what the tables hold for the customer as of the date.

Expected values are computed here with pandas from the loaded tables (and the run's
``customer_scores``), independently of the view's SQL.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import crm_analytics as crm
from crm_analytics.core.timeutils import cutoff
from crm_analytics.customers import (
    ACTION_RULES,
    PARTS,
    ActionFacts,
    UnknownCustomerError,
    action_rules,
    customer_view,
    next_best_action,
)
from crm_analytics.errors import InputError
from crm_analytics.store import Store
from crm_analytics.store.attributes import size_band
from tests.customers.scored import (
    AS_OF,
    EMPTY,
    EMPTY_EMAIL,
    EMPTY_NAME,
    HOSTILE,
    HOSTILE_NAME,
    LATE,
    SEGMENT,
    TICKETS_ONLY,
    scored_store,
)

END = pd.Timestamp(cutoff(AS_OF))


# Tests on the shared scored store (built once per session, 10-20 s): slow.
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def scored():
    return scored_store()


@pytest.fixture(scope="module")
def store(scored):
    with Store(scored.path, read_only=True) as s, s.session():
        yield s


@pytest.fixture(scope="module")
def sample_ids(scored):
    """The busiest customer (refunds planted), one with a churn score, and the planted ones."""
    tx = scored.tables["transactions"]
    busiest = tx["customer_id"].value_counts().index[0]
    scores = scored.tables["customer_scores"]
    churned = scores.loc[scores["risk_band"] == "high", "customer_id"].sort_values().iloc[0]
    return [busiest, churned, EMPTY, TICKETS_ONLY, HOSTILE]


@pytest.fixture(scope="module")
def views(store, sample_ids):
    return {cid: customer_view(store, cid, AS_OF) for cid in sample_ids}


def _close(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NaT
    return a == pytest.approx(b, rel=1e-9, abs=1e-9) if isinstance(a, float) else a == b


def _scores_row(scored, cid):
    s = scored.tables["customer_scores"]
    row = s[(s["run_id"] == scored.run_id) & (s["customer_id"] == cid)]
    assert len(row) == 1
    return row.iloc[0]


def _tx(scored, cid):
    tx = scored.tables["transactions"]
    return tx[(tx["customer_id"] == cid) & (tx["transaction_date"] < END)]


@slow
def test_every_part_is_there(views):
    for view in views.values():
        for part in PARTS:
            assert getattr(view, part) is not None, part
        assert view.as_of.isoformat() == AS_OF


@slow
def test_profile_equals_the_customers_table(scored, views):
    customers = scored.tables["customers"].set_index("customer_id")
    for cid, view in views.items():
        row = customers.loc[cid]
        for col in ("name", "email", "phone", "customer_type", "industry", "country", "region",
                    "marketing_opt_in"):
            assert _close(view.profile[col], None if pd.isna(row[col]) else row[col]), (cid, col)
        assert view.profile["size_band"] == size_band(row["customer_type"], row["employees"],
                                                      row["annual_revenue"])
        created = pd.Timestamp(row["created_at"])
        assert view.profile["tenure_days"] == (pd.Timestamp(AS_OF) - created.normalize()).days
    assert views[EMPTY].profile["name"] == EMPTY_NAME
    assert views[EMPTY].profile["email"] == EMPTY_EMAIL  # cleansed: trimmed, lower-cased


@slow
def test_value_equals_the_transactions_as_of_the_date(scored, views):
    for cid, view in views.items():
        tx = _tx(scored, cid)
        last_year = tx[tx["transaction_date"] >= END - pd.Timedelta(days=365)]
        v = view.value
        assert v["transactions"] == len(tx)
        assert v["revenue_lifetime"] == pytest.approx(float(tx["amount"].sum()), abs=1e-6)
        assert v["revenue_365d"] == pytest.approx(float(last_year["amount"].sum()), abs=1e-6)
        assert v["transactions_365d"] == len(last_year)
        assert v["refunds"] == int((tx["amount"] < 0).sum())
        assert v["refund_amount"] == pytest.approx(float(-tx.loc[tx["amount"] < 0, "amount"].sum()), abs=1e-6)
        assert _close(v["last_purchase_at"], tx["transaction_date"].max() if len(tx) else None)
        by_year = tx.groupby(tx["transaction_date"].dt.year)["amount"].agg(["sum", "count"])
        assert view.revenue_by_year["year"].tolist() == by_year.index.tolist()
        assert view.revenue_by_year["revenue"].to_numpy() == pytest.approx(by_year["sum"].to_numpy())
        assert view.revenue_by_year["transactions"].tolist() == by_year["count"].tolist()


@slow
def test_value_churn_and_segments_equal_the_runs_scores(scored, views):
    for cid, view in views.items():
        row = _scores_row(scored, cid)
        assert view.run_id == scored.run_id
        for k in ("clv", "revenue_potential", "revenue_potential_code", "p_alive", "expected_purchases"):
            assert _close(view.value[k], None if pd.isna(row[k]) else row[k]), (cid, k)
        for k in ("churn_probability", "risk_band", "revenue_at_risk"):
            assert _close(view.churn[k], None if pd.isna(row[k]) else row[k]), (cid, k)
        reasons = [r for r in (row[f"reason_{i}"] for i in (1, 2, 3)) if isinstance(r, str) and r]
        assert view.churn["reasons"] == reasons
        for k in ("size_segment", "needs_segment_name", "rfm_segment", "value_tier"):
            assert _close(view.segments[k], None if pd.isna(row[k]) else row[k]), (cid, k)
        assert view.segments["custom"] == ([SEGMENT] if row["region"] == "EMEA" else [])


@slow
def test_a_high_risk_customer_shows_its_reasons_in_words(views, sample_ids):
    view = views[sample_ids[1]]
    assert view.churn["risk_band"] == "high"
    assert 1 <= len(view.churn["reasons"]) <= 3  # the run's reasons; a baseline scorer gives one
    assert view.churn["reasons"][0] in str(view) and view.churn["reasons"][0] in view._repr_html_()


@slow
def test_recent_transactions_newest_first_with_refunds_marked(scored, views, sample_ids):
    for cid, view in views.items():
        tx = _tx(scored, cid).sort_values(["transaction_date", "transaction_id"], ascending=False).head(10)
        assert view.transactions["transaction_id"].tolist() == tx["transaction_id"].tolist()
        assert view.transactions["is_refund"].tolist() == (tx["amount"] < 0).tolist()
    busiest = views[sample_ids[0]]
    refunds = busiest.transactions[busiest.transactions["is_refund"]]
    assert set(refunds["transaction_id"]) == {"ZX1", "ZX2"}  # the one at 23:59:59 of AS_OF counts


def _sla(row) -> str:
    if pd.isna(row["sla_hours"]):
        return "no_sla"
    deadline = row["opened_at"] + pd.Timedelta(hours=row["sla_hours"])
    resolved = row["resolved_at"] if row["resolved_at"] < END else pd.NaT
    if pd.notna(resolved):
        return "met" if resolved <= deadline else "breached"
    if deadline < END:
        return "breached"
    return "due_soon" if deadline - END <= pd.Timedelta(hours=4) else "pending"


@slow
def test_tickets_open_first_with_sla_status(scored, views):
    tickets = scored.tables["tickets"]
    for cid, view in views.items():
        mine = tickets[(tickets["customer_id"] == cid) & (tickets["opened_at"] < END)].copy()
        mine["status"] = np.where(mine["resolved_at"].isna() | (mine["resolved_at"] >= END), "open",
                                  "resolved")
        mine["sla_status"] = mine.apply(_sla, axis=1)
        mine = mine.sort_values(["status", "opened_at", "ticket_id"], ascending=[True, False, False])
        assert view.tickets["ticket_id"].tolist() == mine["ticket_id"].tolist()
        assert view.tickets["sla_status"].tolist() == mine["sla_status"].tolist()
        assert view.tickets["status"].tolist() == mine["status"].tolist()
        assert view.ticket_summary["open"] == int((mine["status"] == "open").sum())
        assert view.ticket_summary["reopened"] == int(mine["reopened"].fillna(False).sum())
    t = views[TICKETS_ONLY]
    assert dict(zip(t.tickets["ticket_id"], t.tickets["sla_status"], strict=True)) == {
        "ZT2": "due_soon", "ZT4": "pending", "ZT1": "breached", "ZT3": "met"}
    assert t.ticket_summary == {"tickets": 4, "open": 3, "open_complaints": 1, "complaints_365d": 1,
                                "sla_breached": 1, "open_breached": 1, "due_soon": 1, "reopened": 1}
    assert t.tickets.loc[t.tickets["ticket_id"] == "ZT4", "resolved_at"].isna().all()  # not known yet


@slow
def test_satisfaction_latest_answers_and_trend(scored, views):
    answers = scored.tables["survey_responses"]
    for cid, view in views.items():
        mine = answers[(answers["customer_id"] == cid) & (answers["responded_at"] < END)]
        for item in ("nps", "csat"):
            rows = mine[mine["item"] == item].sort_values(["responded_at", "response_id"], ascending=False)
            got = view.satisfaction[item]
            assert got["latest"] == (float(rows["score"].iloc[0]) if len(rows) else None)
            assert got["previous"] == (float(rows["score"].iloc[1]) if len(rows) > 1 else None)
    s = views[TICKETS_ONLY].satisfaction
    assert (s["nps"]["latest"], s["nps"]["previous"], s["nps"]["trend"], s["nps"]["class"]) == (
        3.0, 8.0, "declining", "detractor")  # the 10 given after AS_OF is not known
    assert (s["csat"]["latest"], s["csat"]["trend"], s["csat"]["scale"]) == (2.0, "first answer", "1-5")


@slow
def test_customer_without_transactions(views):
    view = views[EMPTY]
    assert view.value["transactions"] == 0 and view.value["revenue_lifetime"] == 0.0
    assert view.transactions.empty and view.revenue_by_year.empty and view.tickets.empty
    assert view.value["last_purchase_at"] is None
    assert view.satisfaction["nps"]["latest"] is None
    assert view.profile["tenure_days"] == (pd.Timestamp(AS_OF) - pd.Timestamp("2024-02-01")).days


@slow
def test_customer_with_only_tickets_gets_resolve_first_and_no_selling(views):
    view = views[TICKETS_ONLY]
    assert view.transactions.empty and len(view.tickets) == 4
    nba = view.next_best_action
    assert nba.rule == "resolve_complaint"
    assert any("open complaint" in d for d in nba.do_not)
    assert any("detractor" in d for d in nba.do_not)


@slow
def test_contact_history_is_an_empty_named_part(views):
    view = views[EMPTY]
    assert view.contact_history.empty
    assert list(view.contact_history.columns) == ["sent_at", "channel", "campaign", "segment", "status"]
    assert view.to_dict()["contact_history"] == {"recorded": False, "note": "not recorded yet", "items": []}


@slow
def test_unknown_id_and_customer_created_later(store):
    with pytest.raises(UnknownCustomerError, match="no customer 'NOPE'"):
        customer_view(store, "NOPE", AS_OF)
    with pytest.raises(UnknownCustomerError, match="created on 2025-12-20"):
        customer_view(store, LATE, AS_OF)
    with pytest.raises(InputError):
        customer_view(store, "  ", AS_OF)
    with pytest.raises(InputError, match="future"):
        customer_view(store, EMPTY, "2999-01-01")


@slow
def test_default_as_of_and_a_date_before_any_run(store, scored):
    latest = customer_view(store, LATE)  # as of the store's latest day: LATE exists then
    assert latest.as_of == crm.default_as_of(store) and latest.run_id == scored.run_id
    assert any("no scores for this customer" in n for n in latest.notes)
    early = customer_view(store, TICKETS_ONLY, "2025-06-30")
    assert early.run_id is None and early.value["clv"] is None and early.churn["reasons"] == []
    assert early.tickets.empty  # its tickets are all later
    assert any("no successful scoring run" in n for n in early.notes)


@slow
def test_to_dict_is_json_and_matches_the_parts(views):
    view = views[TICKETS_ONLY]
    data = json.loads(json.dumps(view.to_dict(), allow_nan=False))
    assert data["customer_id"] == TICKETS_ONLY and data["as_of"] == AS_OF
    assert [t["ticket_id"] for t in data["tickets"]["items"]] == view.tickets["ticket_id"].tolist()
    assert data["next_best_action"]["rule"] == "resolve_complaint"
    assert data["satisfaction"]["nps"]["latest"] == 3.0


@slow
def test_cards_escape_customer_text(views):
    view = views[HOSTILE]
    card = view._repr_html_()
    assert "<script>" not in card and "<img" not in card and "onerror=\"" not in card
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in card
    assert HOSTILE_NAME in str(view)
    text = str(views[TICKETS_ONLY])
    assert "Next best action: Resolve the open complaint first" in text
    assert "Contact history: not recorded yet" in text


def test_next_best_action_rule_table():
    table = action_rules()
    assert table["rule"].tolist() == [r.name for r in ACTION_RULES]
    assert table["when"].iloc[-1] == "otherwise"
    cases = {
        ActionFacts(open_complaints=1, risk_band="high", value_tier="Top 10%", marketing_opt_in=True):
            "resolve_complaint",
        ActionFacts(open_breached=1, marketing_opt_in=True): "escalate_overdue_ticket",
        ActionFacts(risk_band="high", value_tier="Next 20%", marketing_opt_in=False): "retention_call",
        ActionFacts(detractor_days_ago=30, marketing_opt_in=True): "service_recovery",
        ActionFacts(detractor_days_ago=400, marketing_opt_in=True): "keep_in_programme",
        ActionFacts(risk_band="high", value_tier="Bottom 30%", marketing_opt_in=True): "win_back_offer",
        ActionFacts(risk_band="high", marketing_opt_in=None): "keep_in_programme",  # no consent
        ActionFacts(revenue_potential_code="A", risk_band="low", marketing_opt_in=True): "grow",
        ActionFacts(revenue_potential_code="A", risk_band="medium", marketing_opt_in=True):
            "keep_in_programme",
    }
    for facts, rule in cases.items():
        assert next_best_action(facts).rule == rule, facts
    assert next_best_action(ActionFacts(marketing_opt_in=False)).do_not == (
        "no marketing: no marketing consent",)


@slow
def test_the_view_reads_one_snapshot_in_one_session(scored, monkeypatch):
    opened = []
    original = Store._connect

    def counting(self):
        opened.append(1)
        return original(self)

    store = Store(scored.path, read_only=True)
    monkeypatch.setattr(Store, "_connect", counting)
    customer_view(store, TICKETS_ONLY, AS_OF)
    assert len(opened) == 1  # every query of the view on one connection


def test_readme_lists_the_rule_table_as_the_code_has_it():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in readme.splitlines() if line.startswith("| ") and "` | " in line
            and line.split("|")[1].strip().isdigit()]
    listed = [(int(r[0]), r[1].strip("`"), r[2], r[3], r[4], r[5] == "yes") for r in rows]
    assert listed == [(i + 1, r.name, r.when, r.action, r.channel, r.no_selling)
                      for i, r in enumerate(ACTION_RULES)]


@slow
def test_a_shared_context_gives_the_same_view(store):
    from crm_analytics.customers import view_context

    context = view_context(store, AS_OF)
    assert customer_view(store, TICKETS_ONLY, context=context).to_dict() == \
        customer_view(store, TICKETS_ONLY, AS_OF).to_dict()
    with pytest.raises(InputError, match="differs from the context"):
        customer_view(store, TICKETS_ONLY, "2025-06-30", context=context)


def test_text_card_shows_control_characters_harmlessly():
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({"customer_id": ["E1"], "name": ["Eve \x1b[31mRed\x1b[0m"]}))
    text = str(customer_view(store, "E1", as_of="2024-01-31"))
    assert "\x1b" not in text and "Eve \ufffd[31mRed" in text


@slow
def test_a_held_read_only_store_works_out_the_context_once(scored, monkeypatch):
    from crm_analytics.customers import view as view_module

    calls = []
    original = view_module.view_context
    monkeypatch.setattr(view_module, "view_context", lambda *a, **k: calls.append(a[1:]) or original(*a, **k))
    store = Store(scored.path, read_only=True)
    with store.session():  # no writer can commit while the file is held: one context for all views
        first = customer_view(store, TICKETS_ONLY, AS_OF)
        customer_view(store, EMPTY, AS_OF)
        customer_view(store, EMPTY)  # another date: its own context
    assert len(calls) == 2
    with store.session():  # a new session may see another state of the file
        again = customer_view(store, TICKETS_ONLY, AS_OF)
    assert len(calls) == 3 and again.to_dict() == first.to_dict()
    customer_view(store, EMPTY, AS_OF)  # the file opened for the call: no reuse either
    assert len(calls) == 4


@slow
def test_view_context_of_a_chosen_run(store, scored):
    from crm_analytics.customers import view_context

    context = view_context(store, AS_OF, run_id=scored.run_id)
    assert context.run_id == scored.run_id and context.ready
    assert customer_view(store, TICKETS_ONLY, context=context).run_id == scored.run_id
    with pytest.raises(InputError, match="not a successful run as of 2025-06-30"):
        view_context(store, "2025-06-30", run_id=scored.run_id)  # a run never shows the future
    with pytest.raises(InputError, match="'no-such-run'"):
        view_context(store, run_id="no-such-run")


@slow
def test_custom_segments_computed_in_the_background(scored, tmp_path):
    import shutil

    from crm_analytics import segmentation
    from crm_analytics.customers import view_context

    path = tmp_path / "copy.duckdb"
    shutil.copyfile(scored.path, path)
    with Store(path) as writable:  # a new definition: members not computed yet in this process
        segmentation.define_segment(writable, "background test", "region = 'EMEA'")
    with Store(path, read_only=True) as s, s.session():
        context = view_context(s, AS_OF, wait_for_segments=False)
        if not context.ready:  # computed in a thread of its own meanwhile
            with pytest.raises(InputError, match="still being computed"):
                customer_view(s, TICKETS_ONLY, context=context)
            assert context.pending.wait(60)
            context = view_context(s, AS_OF, wait_for_segments=False)
        assert context.ready and "background test" in context.segment_members
