"""A simulated quarter of daily exports from several campaigns (the issue's "done when").

Three campaigns, two channels, a contact policy with per-channel and cross-channel
caps, a quiet period, a cooldown and a control group, over 90 days of a world with
shared contacts, opt-outs, suppressions and complaints that start and end. The
checks recompute everything from the exported files and the world's truth.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from crm_analytics.campaigns import ContactPolicy, contact_history
from crm_analytics.exports import export_segment, verify_export
from crm_analytics.store import Store
from tests.campaigns.world import START, build_world, consent_ok, draw, load_world, suppressed

POLICY = {
    "quiet_days": 1,
    "campaign_cooldown_days": 3,
    "caps": [
        {"channel": "email", "max_contacts": 2, "days": 7},
        {"channel": "any", "max_contacts": 4, "days": 30},
        {"channel": "any", "max_contacts": 1, "days": 1},
    ],
    "campaigns": {"winback": {"holdout_fraction": 0.25, "cooldown_days": 10}},
}
# (campaign, channel, segments, every n days)
CAMPAIGNS = [
    ("newsletter", "email", ["risk:low", "risk:medium"], 3),
    ("winback", "email", ["risk:high"], 4),
    ("sms_promo", "sms", ["risk:medium", "risk:high"], 5),
]
DAYS = 90
# 71 exports: ~6 s on a quiet machine.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quarter")
    world = build_world()
    store = Store(":memory:")
    load_world(store, world)
    policy = ContactPolicy.from_dict(POLICY)
    exports = []
    for day in range(DAYS):
        for k, (campaign, channel, segments, every) in enumerate(CAMPAIGNS):
            if day % every:
                continue
            at = START + pd.Timedelta(days=day, minutes=10 * k)
            out = folder / f"{campaign}_{day:02d}.csv"
            report = export_segment(store, segments, out, scores=world.scores, campaign=campaign,
                                    channel=channel, policy=policy, at=at)
            exports.append((at, campaign, channel, out, report))
    yield world, store, exports
    store.close()


def _files(exports) -> pd.DataFrame:
    frames = []
    for at, campaign, channel, out, report in exports:
        manifest = verify_export(out)  # every file agrees with its manifest
        got = pd.read_csv(out, dtype=str, keep_default_na=False)
        frames.append(pd.DataFrame({"export_id": manifest["export_id"], "campaign": campaign,
                                    "channel": channel, "customer_id": got["customer_id"],
                                    "at": at}))
        assert manifest["export_id"] == report.export_id and len(got) == report.rows
    return pd.concat(frames, ignore_index=True)


def test_history_equals_the_union_of_the_files_row_for_row(quarter):
    world, store, exports = quarter
    files = _files(exports)
    history = contact_history(store)
    sent = history[~history["is_control"]]
    key = ["export_id", "customer_id"]
    a = sent[[*key, "campaign", "channel"]].sort_values(key).reset_index(drop=True)
    b = files[[*key, "campaign", "channel"]].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(files) > 500
    # Every export is committed; its control rows are exactly the customers the hash holds out.
    status = store.sql("SELECT status, count(*) AS n FROM contact_exports GROUP BY 1")
    assert status.set_index("status")["n"].to_dict() == {"committed": len(exports)}
    controls = history[history["is_control"]]
    assert set(controls["campaign"]) == {"winback"}
    assert all(draw(c, "winback") < 0.25 for c in controls["customer_id"])
    assert all(draw(c, "winback") >= 0.25 for c in files.loc[files["campaign"] == "winback", "customer_id"])
    assert len(controls) > 5


def test_no_cap_quiet_period_or_cooldown_is_ever_exceeded(quarter):
    world, store, exports = quarter
    files = _files(exports)
    files["person"] = files["customer_id"].map(world.group)
    day = pd.Timedelta(days=1)
    for _, rows in files.groupby("person"):
        rows = rows.sort_values("at")
        times, channels, campaigns = list(rows["at"]), list(rows["channel"]), list(rows["campaign"])
        for i, t in enumerate(times):
            before = [j for j in range(i) if times[j] > t - 30 * day]
            assert len(before) + 1 <= 4  # any channel, 4 in 30 days
            assert not [j for j in before if times[j] > t - 1 * day]  # one a day, quiet period
            if channels[i] == "email":
                assert len([j for j in before if times[j] > t - 7 * day and channels[j] == "email"]) + 1 <= 2
            cooldown = 10 if campaigns[i] == "winback" else 3
            assert not [j for j in before if campaigns[j] == campaigns[i] and times[j] > t - cooldown * day]
    # ... and the rules did bind: each skipped someone at some point.
    skipped = defaultdict(int)
    for *_, report in exports:
        for rule, count in report.skipped.items():
            skipped[rule] += count
    assert {"campaign cooldown", "quiet period", "cap any 4 in 30d"} <= {r for r, n in skipped.items() if n}


def test_nobody_suppressed_opted_out_complaining_or_in_control_is_exported(quarter):
    world, store, exports = quarter
    files = _files(exports)
    for row in files.itertuples():
        assert consent_ok(world, row.customer_id), row
        assert not suppressed(world, row.customer_id, row.channel, row.at), row
        if row.campaign == "winback":
            assert draw(row.customer_id, "winback") >= 0.25
    # Suppressions and complaints did remove people (the check is not vacuous).
    assert sum(r.suppressed_list for *_, r in exports) > 0
    assert sum(r.suppressed_complaint for *_, r in exports) > 0
    # Each export's accounting adds up.
    for *_, r in exports:
        assert r.members == (r.rows + r.suppressed_no_consent + r.suppressed_contact_opt_out
                             + r.suppressed_list + r.suppressed_complaint + r.merged_duplicates
                             + sum(r.skipped.values()) + r.control)


def test_manifest_reports_the_skips_and_the_policy(quarter):
    *_, exports = quarter
    at, campaign, channel, out, report = exports[-1]
    manifest = json.loads(Path(str(out) + ".manifest.json").read_text())
    assert manifest["skipped"] == report.skipped and manifest["channel"] == channel
    assert manifest["contact_policy"]["caps"][0] == {"max_contacts": 2, "days": 7, "channel": "email"}
    assert manifest["exported_at"] == at.isoformat()


def test_dry_run_records_nothing_and_writes_nothing(quarter, tmp_path):
    world, store, exports = quarter
    before = len(contact_history(store))
    out = tmp_path / "preview.csv"
    report = export_segment(store, ["risk:low"], out, scores=world.scores, campaign="preview",
                            policy=POLICY, at=START + pd.Timedelta(days=DAYS), dry_run=True)
    assert report.dry_run and report.export_id is None and report.rows > 0
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert len(contact_history(store)) == before
    assert "dry run" in report.summary()
