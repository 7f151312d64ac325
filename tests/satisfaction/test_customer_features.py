"""Customer-level satisfaction features (satisfaction.customer_features): hand values,
an independent pandas computation on synthetic data, and a leakage test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics import satisfaction as sat
from crm_analytics.errors import InputError

AS_OF = "2024-09-30"


def test_hand_values_on_the_demo_store(demo):
    # 2 March: T2 (opened 1 March, 24 h SLA) is open past its deadline; C2's CSAT of
    # 5 March and everything later do not exist yet; C3 has no answers or tickets.
    f = sat.customer_features(demo, "2024-03-02")
    assert list(f.index) == ["C1", "C2", "C3"]
    assert list(f.columns) == list(sat.FEATURE_COLUMNS)
    assert f.loc["C1", "latest_nps"] == 10 and f.loc["C1", "nps_class"] == "promoter"
    assert f.loc["C1", "latest_nps_date"] == pd.Timestamp("2024-02-01")
    assert f.loc["C2", "nps_class"] == "detractor" and f.loc["C2", "is_detractor"]
    assert np.isnan(f.loc["C3", "latest_nps"]) and pd.isna(f.loc["C3", "nps_class"])
    assert not f.loc["C3", "is_detractor"]
    assert (f.loc["C1", "csat_latest"], f.loc["C1", "csat_mean_180d"]) == (5.0, 5.0)
    assert np.isnan(f.loc["C2", "csat_latest"])
    c2 = f.loc["C2"]
    assert (c2["open_tickets"], c2["sla_breaches_90d"], c2["sla_breaches_365d"]) == (1, 1, 1)
    assert (c2["complaints_90d"], c2["tickets_90d"], c2["reopened_365d"]) == (1, 1, 0)
    assert np.isnan(c2["mean_resolution_hours_365d"])
    assert f.loc["C1", "mean_resolution_hours_365d"] == 4.0
    assert (f.loc["C3", ["tickets_90d", "open_tickets", "sla_breaches_365d"]] == 0).all()
    # 20 June: T2 was resolved 48 h after opening (a breach, 3 March) and reopened.
    june = sat.customer_features(demo, "2024-06-20").loc["C2"]
    assert (june["open_tickets"], june["sla_breaches_90d"], june["sla_breaches_365d"]) == (0, 0, 1)
    assert (june["mean_resolution_hours_365d"], june["reopened_365d"]) == (48.0, 1)
    assert june["csat_latest"] == 2.0
    # Customers created after as_of are not there yet.
    assert list(sat.customer_features(demo, "2023-12-31").index) == ["C1", "C2"]


def test_against_a_pandas_computation(synthetic_store, synthetic_data):
    f = sat.customer_features(synthetic_store, AS_OF)
    cutoff = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    customers = synthetic_data.customers
    assert len(f) == (customers["created_at"] < cutoff).sum()
    answers = synthetic_data.survey_responses
    nps = answers[(answers["item"] == "nps") & (answers["responded_at"] < cutoff)]
    latest = nps.sort_values(["responded_at", "response_id"]).groupby("customer_id").last()
    pd.testing.assert_series_equal(f["latest_nps"].dropna(), latest["score"].astype(float),
                                   check_names=False)
    csat = answers[(answers["item"] == "csat") & (answers["responded_at"] < cutoff)
                   & (answers["responded_at"] >= cutoff - pd.Timedelta(days=180))]
    pd.testing.assert_series_equal(f["csat_mean_180d"].dropna(),
                                   csat.groupby("customer_id")["score"].mean(),
                                   check_names=False)
    tickets = synthetic_data.tickets
    recent = tickets[(tickets["opened_at"] < cutoff)
                     & (tickets["opened_at"] >= cutoff - pd.Timedelta(days=365))]
    complaints = recent[recent["is_complaint"]].groupby("customer_id").size()
    got = f["complaints_365d"]
    pd.testing.assert_series_equal(got[got > 0], complaints.astype("int64"), check_names=False)
    resolved = tickets["resolved_at"].where(tickets["resolved_at"] < cutoff)
    hours = (resolved - tickets["opened_at"]).dt.total_seconds() / 3600
    late = (hours > tickets["sla_hours"]) & (resolved >= cutoff - pd.Timedelta(days=90))
    overdue = (resolved.isna() & (tickets["opened_at"] < cutoff)
               & ((cutoff - tickets["opened_at"]).dt.total_seconds() / 3600
                  > tickets["sla_hours"]))
    breaches = (late | overdue).groupby(tickets["customer_id"]).sum()
    got = f["sla_breaches_90d"]
    pd.testing.assert_series_equal(got[got > 0], breaches[breaches > 0].astype("int64"),
                                   check_names=False)
    assert f["is_detractor"].sum() == (latest["score"] <= 6).sum()


def rewrite_after(tables: dict[str, pd.DataFrame], as_of: str) -> dict[str, pd.DataFrame]:
    """Change everything that happens after ``as_of``; keep everything before it."""
    cutoff = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    out = {name: frame.copy() for name, frame in tables.items()}
    answers = out["survey_responses"]
    later = answers["responded_at"] >= cutoff
    low, high = answers["scale_min"], answers["scale_max"]
    answers.loc[later, "score"] = (high + low - answers["score"])[later]  # mirror the scale
    tickets = out["tickets"]
    for column in ("first_response_at", "resolved_at"):
        after = tickets[column] >= cutoff
        tickets.loc[after, column] = tickets.loc[after, column] + pd.Timedelta(days=30)
    tickets.loc[tickets["opened_at"] >= cutoff, ["is_complaint", "sla_hours"]] = [True, 1]
    first = tickets.iloc[:200]
    extra = first.assign(ticket_id="X" + first["ticket_id"],
                         opened_at=cutoff + pd.Timedelta(hours=1), first_response_at=pd.NaT,
                         resolved_at=cutoff + pd.Timedelta(days=2), is_complaint=True)
    out["tickets"] = pd.concat([tickets, extra], ignore_index=True)
    extra_answers = answers.iloc[:200].assign(
        response_id="X" + answers["response_id"].iloc[:200], responded_at=cutoff,
        score=answers["scale_min"].iloc[:200])
    out["survey_responses"] = pd.concat([answers, extra_answers], ignore_index=True)
    newcomers = out["customers"].iloc[:50].assign(
        customer_id="X" + out["customers"]["customer_id"].iloc[:50], created_at=cutoff)
    out["customers"] = pd.concat([out["customers"], newcomers], ignore_index=True)
    return out


def test_no_leakage_from_after_as_of(synthetic_data, synthetic_store, make_store):
    tables = synthetic_data.tables()
    tables.pop("transactions")
    other = make_store(rewrite_after(tables, AS_OF))
    loaded = other.summary().set_index("table")
    assert (loaded["rejected"] == 0).all()
    assert loaded.loc["tickets", "rows"] == len(tables["tickets"]) + 200
    pd.testing.assert_frame_equal(sat.customer_features(other, AS_OF),
                                  sat.customer_features(synthetic_store, AS_OF))
    # The other as-of functions read the same way.
    pd.testing.assert_frame_equal(sat.service_quality(other, AS_OF, by="priority", min_n=1),
                                  sat.service_quality(synthetic_store, AS_OF, by="priority",
                                                      min_n=1))
    pd.testing.assert_frame_equal(sat.nps(other, AS_OF, by="region"),
                                  sat.nps(synthetic_store, AS_OF, by="region"))
    pd.testing.assert_frame_equal(sat.survey_wide(other, AS_OF).responses,
                                  sat.survey_wide(synthetic_store, AS_OF).responses)
    impact = [sat.service_impact(store, AS_OF, outcome="csat").coefficients
              for store in (other, synthetic_store)]
    pd.testing.assert_frame_equal(*impact)
    # ...and the rewrite does show later on.
    later = "2025-06-30"
    assert not sat.customer_features(other, later).equals(
        sat.customer_features(synthetic_store, later))


def test_feature_messages(demo):
    with pytest.raises(InputError, match="is not a date"):
        sat.customer_features(demo, "soon")
    with pytest.raises(InputError, match="as_of is required"):
        sat.customer_features(demo, None)
