"""Contact policy, suppressions and control groups on hand-made cases, and hostile input."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from crm_analytics.campaigns import ContactPolicy, contact_history, holdout_draw, load_contact_policy
from crm_analytics.cli import main
from crm_analytics.errors import InputError
from crm_analytics.exports import export_segment
from crm_analytics.scoring.config import load_config
from crm_analytics.store import Store

IDS = ["C1", "C2", "C3", "C4", "C5", "C6"]


@pytest.fixture
def hand():
    """C1/C2 share an e-mail (one person); C3 has an open complaint; C4's phone is do-not-call;
    C5's e-mail bounced; C6 is suppressed by id from 2025-02-01 to 2025-02-10."""
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({
        "customer_id": IDS, "email": ["a@x.com", "A@X.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"],
        "phone": ["+49 30 1000001", "+49 30 1000002", "+49 30 1000003", "+49 30 1000004",
                  "+49 30 1000005", "+49 30 1000006"],
        "marketing_opt_in": True}))
    store.load("tickets", pd.DataFrame({
        "ticket_id": ["T1", "T2"], "customer_id": ["C3", "C5"],
        "opened_at": ["2025-01-10", "2025-01-10"], "resolved_at": [None, "2025-01-12"],
        "is_complaint": [True, True]}))
    store.load("suppressions", pd.DataFrame({
        "suppression_id": ["S1", "S2", "S3"], "customer_id": [None, None, "C6"],
        "email": [None, "E@x.com", None], "phone": ["+49 (30) 1000004", None, None],
        "suppression_reason": ["do not call", "bounced", "opt-out"],
        "valid_from": [None, None, "2025-02-01"], "valid_until": [None, None, "2025-02-10"]}))
    scores = pd.DataFrame({"risk_band": "high", "clv": [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]},
                          index=pd.Index(IDS, name="customer_id"))
    yield store, scores
    store.close()


def _ids(path) -> list[str]:
    return sorted(pd.read_csv(path, dtype=str)["customer_id"])


def test_suppressions_apply_per_channel_and_date(hand, tmp_path):
    store, scores = hand
    email = export_segment(store, "risk:high", tmp_path / "e.csv", scores=scores, at="2025-02-05")
    # C2 merged into C1 (one person); C3 complaining; C5 bounced e-mail; C6 opted out until 02-10;
    # C4's do-not-call does not cover e-mail.
    assert _ids(tmp_path / "e.csv") == ["C1", "C4"]
    assert (email.suppressed_complaint, email.suppressed_list, email.merged_duplicates) == (1, 2, 1)
    sms = export_segment(store, "risk:high", tmp_path / "s.csv", scores=scores, channel="sms",
                         at="2025-02-11")
    # On sms: the bounced e-mail does not apply, do-not-call does; C6's opt-out has ended.
    assert _ids(tmp_path / "s.csv") == ["C1", "C5", "C6"] and sms.suppressed_list == 1
    # Complaints suppress only while open, and can be switched off.
    off = export_segment(store, "risk:high", tmp_path / "o.csv", scores=scores, channel="mail",
                         at="2025-02-11", policy={"suppress_open_complaints": False})
    assert "C3" in _ids(tmp_path / "o.csv") and off.suppressed_complaint == 0


def test_caps_count_a_person_once_across_customer_ids(hand, tmp_path):
    store, scores = hand
    policy = {"caps": [{"channel": "email", "max_contacts": 2, "days": 7}]}
    day = pd.Timestamp("2025-03-01 08:00")
    kept = []
    for d in range(5):
        report = export_segment(store, "risk:high", tmp_path / f"{d}.csv", scores=scores,
                                policy=policy, at=day + pd.Timedelta(days=d))
        kept.append(_ids(tmp_path / f"{d}.csv"))
        if d >= 2:
            assert report.skipped == {"cap email 2 in 7d": report.members - report.rows
                                      - report.merged_duplicates - report.suppressed_list
                                      - report.suppressed_complaint}
    assert kept[0] == kept[1] and kept[2] == [] and kept[3] == []
    # The person {C1, C2} counts once: history shows two e-mails to C1, none to C2.
    history = contact_history(store)
    assert set(history["customer_id"]) <= {"C1", "C4", "C5", "C6"}
    # A sms does not count against the e-mail cap, and is not limited by it.
    export_segment(store, "risk:high", tmp_path / "sms.csv", scores=scores, channel="sms",
                   policy=policy, at=day + pd.Timedelta(days=3))
    assert "C1" in _ids(tmp_path / "sms.csv")
    # Seven days after the first e-mail, the window has moved on.
    export_segment(store, "risk:high", tmp_path / "later.csv", scores=scores, policy=policy,
                   at=day + pd.Timedelta(days=7))
    assert "C1" in _ids(tmp_path / "later.csv")


def test_the_control_group_is_the_documented_hash(hand, tmp_path):
    store, scores = hand
    assert holdout_draw(["C1"], "spring")[0] == (
        int(hashlib.sha256(b"spring\x1fC1").hexdigest()[:16], 16) >> 11) / 2**53
    draws = holdout_draw([f"X{i}" for i in range(20_000)], "spring")
    assert 0.49 < (draws < 0.5).mean() < 0.51 and draws.min() >= 0 and draws.max() < 1
    report = export_segment(store, "risk:high", tmp_path / "h.csv", scores=scores,
                            campaign="spring", holdout_fraction=0.6, at="2025-01-05")
    history = contact_history(store, campaign="spring").set_index("customer_id")["is_control"]
    expected = holdout_draw(list(history.index), "spring") < 0.6
    assert list(history) == list(expected) and report.control == int(expected.sum()) > 0
    assert set(_ids(tmp_path / "h.csv")) == set(history.index[~history])


def test_policy_from_toml_and_the_scoring_config_ignores_it(tmp_path):
    path = tmp_path / "crm.toml"
    path.write_text('churn_horizon_days = 60\n[contact_policy]\nquiet_days = 2\n'
                    'caps = [{ channel = "sms", max_contacts = 1, days = 3 }]\n'
                    '[contact_policy.campaigns.spring]\nholdout_fraction = 0.1\ncooldown_days = 9\n')
    policy = load_contact_policy(path)
    assert policy.quiet_days == 2 and policy.caps[0].rule == "cap sms 1 in 3d"
    assert policy.cooldown_days("spring") == 9 and policy.cooldown_days("other") == 0
    assert load_config(path, environ={}).churn_horizon_days == 60
    assert load_contact_policy(environ={}) == ContactPolicy()


@pytest.mark.parametrize("bad", [
    {"caps": [{"channel": "fax", "max_contacts": 1, "days": 1}]},
    {"caps": [{"max_contacts": 0, "days": 1}]},
    {"caps": [{"max_contacts": 1}]},
    {"caps": {"max_contacts": 1, "days": 2}},
    {"quiet_days": -1}, {"quiet_days": 1.5}, {"quiet_days": "2"},
    {"suppress_open_complaints": "yes"},
    {"campaigns": {"x": {"holdout_fraction": 1.0}}},
    {"campaigns": {"x": {"holdout": 0.1}}},
    {"frequency": 3},
])
def test_a_bad_policy_is_one_line_naming_the_option(bad):
    with pytest.raises(InputError) as info:
        ContactPolicy.from_dict(bad)
    assert "\n" not in str(info.value) and "contact policy" in str(info.value) \
        or "holdout_fraction" in str(info.value)


def test_export_refuses_bad_options_in_one_line(hand, tmp_path):
    store, scores = hand
    cases = [({"channel": "fax"}, "channel"), ({"holdout_fraction": 0.2}, "needs a campaign"),
             ({"holdout_fraction": 1.5, "campaign": "x"}, "holdout_fraction"),
             ({"at": "yesterday-ish"}, "at must be"), ({"at": 12}, "at must be"),
             ({"dry_run": "no"}, "dry_run"), ({"policy": 3}, "policy must be")]
    for options, words in cases:
        with pytest.raises(InputError, match=words) as info:
            export_segment(store, "risk:high", tmp_path / "x.csv", scores=scores, **options)
        assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == [] and contact_history(store).empty


def test_a_read_only_store_can_preview_but_not_export(tmp_path):
    db = tmp_path / "crm.duckdb"
    with Store(db) as store:
        store.load("customers", pd.DataFrame({"customer_id": ["C1"], "email": ["a@x.com"],
                                              "marketing_opt_in": True}))
    scores = pd.DataFrame({"risk_band": ["high"]}, index=pd.Index(["C1"], name="customer_id"))
    with Store(db, read_only=True) as store:
        assert export_segment(store, "risk:high", tmp_path / "x.csv", scores=scores,
                              dry_run=True).rows == 1
        with pytest.raises(InputError, match="dry_run=True"):
            export_segment(store, "risk:high", tmp_path / "x.csv", scores=scores)


def test_cli_export_dry_run_holdout_and_campaign_results(tmp_path, capsys, monkeypatch):
    import crm_analytics.exports as exports

    db = str(tmp_path / "crm.duckdb")
    with Store(db) as store:
        store.load("customers", pd.DataFrame({"customer_id": IDS, "marketing_opt_in": True,
                                              "email": [f"{c}@x.com" for c in IDS]}))
    scores = pd.DataFrame({"risk_band": "high"}, index=pd.Index(IDS, name="customer_id"))
    monkeypatch.setattr(exports, "latest_scores", lambda store: scores)  # no scoring run needed
    monkeypatch.setattr(exports, "latest_run_id", lambda store: "r1")
    out = str(tmp_path / "e.csv")
    assert main(["export", "--db", db, "--segment", "risk:high", "--out", out, "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out and not (tmp_path / "e.csv").exists()
    assert main(["export", "--db", db, "--segment", "risk:high", "--out", out, "--campaign", "spring",
                 "--channel", "sms", "--holdout", "0.5"]) == 0
    with Store(db, read_only=True) as store:
        history = contact_history(store)
    assert len(history) == 6 and set(history["channel"]) == {"sms"} and history["is_control"].any()
    assert main(["campaign-results", "--db", db, "--campaign", "spring", "--as-of", "2030-01-01"]) == 0
    assert "CampaignResults('spring'" in capsys.readouterr().out
    assert main(["campaign-results", "--db", db, "--as-of", "2030-01-01"]) == 0
    assert "spring" in capsys.readouterr().out
    # A policy file for the export: the quiet period now skips everyone just contacted.
    config = tmp_path / "crm.toml"
    config.write_text("[contact_policy]\nquiet_days = 1\n")
    assert main(["export", "--db", db, "--segment", "risk:high", "--out", out, "--config",
                 str(config), "--channel", "sms", "--dry-run"]) == 0
    treated = int((~history["is_control"]).sum())  # the control group was not contacted
    assert f"quiet period: {treated}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["export", "--db", db, "--segment", "risk:high", "--out", out, "--holdout", "2"])
    assert info.value.code == 2


def test_suppressions_load_with_validation_and_reject_codes():
    store = Store(":memory:")
    store.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
    report = store.load("suppressions", pd.DataFrame({
        "suppression_id": ["S1", "S2", "S3", "S4", "S5", "S6", "S7"],
        "customer_id": ["C1", None, None, None, "C9", None, None],
        "email": [None, " Ann@X.com ", None, None, None, "not-an-email", None],
        "phone": [None, None, "+49 30 1234567", None, None, None, "+1 555 0000000"],
        "suppression_reason": ["opt-out", "BOUNCED", "do not call", "legal", "legal", "legal", "spam"],
        "valid_from": ["2025-01-01", None, "2031-01-01", None, None, None, None],
        "valid_until": ["2024-12-31", None, "2032-01-01", None, None, None, None]}))
    assert report.rows_read == 7 and report.rows_loaded == 2
    assert report.reasons == {"until_before_from": 1, "missing_contact": 1, "unknown_customer": 1,
                              "bad_email": 1, "bad_category": 1}
    loaded = store.sql("SELECT suppression_id, coalesce(email, '-'), suppression_reason FROM suppressions "
                       "ORDER BY 1").values.tolist()
    assert loaded == [["S2", "ann@x.com", "bounced"], ["S3", "-", "do-not-call"]]  # future dates kept
    rejects = store.rejects("suppressions")
    assert rejects["reason"].str.contains("no customer_id, email or phone").any()


def test_a_contact_through_one_customer_id_counts_for_its_twin(hand, tmp_path):
    store, scores = hand
    split = scores.assign(risk_band=["high", "low", "high", "high", "high", "high"])
    policy = {"caps": [{"channel": "any", "max_contacts": 1, "days": 7}]}
    export_segment(store, "risk:high", tmp_path / "a.csv", scores=split, policy=policy,
                   at="2025-03-01 09:00")
    assert "C1" in _ids(tmp_path / "a.csv")
    # C2 shares C1's e-mail: the person was contacted yesterday, through C1.
    report = export_segment(store, "risk:low", tmp_path / "b.csv", scores=split, policy=policy,
                            at="2025-03-02 09:00")
    assert _ids(tmp_path / "b.csv") == [] and report.skipped == {"cap any 1 in 7d": 1}
    # C2 was the one member, and nothing else held it back (consent, suppression, complaint).
    assert report.members == 1 and report.suppressed_list == report.suppressed_complaint == 0


def test_the_customer_view_shows_the_contact_history(hand, tmp_path):
    from crm_analytics.customers import customer_view

    store, scores = hand
    assert customer_view(store, "C1", as_of="2025-03-31").to_dict()["contact_history"]["recorded"] is False
    export_segment(store, "risk:high", tmp_path / "a.csv", scores=scores, campaign="spring",
                   at="2025-03-01 09:00")
    export_segment(store, "risk:high", tmp_path / "b.csv", scores=scores, campaign="summer",
                   channel="sms", at="2025-06-01 09:00")
    view = customer_view(store, "C1", as_of="2025-03-31")  # the June export is after as_of
    assert view.contact_history[["channel", "campaign", "status"]].values.tolist() == [
        ["email", "spring", "sent"]]
    assert view.to_dict()["contact_history"]["recorded"] is True
    assert view.contact_history_note == "1 contact(s) sent, latest 2025-03-01 by email (spring)"
    assert "spring" in view._repr_html_() and "spring" in str(view)
    assert customer_view(store, "C2", as_of="2025-03-31").contact_history_note == "no contact recorded"
