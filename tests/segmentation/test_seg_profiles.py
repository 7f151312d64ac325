"""Profiles and figures: values by hand, absent columns, traces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from crm_analytics.errors import InputError
from crm_analytics.segmentation import (
    plot_segment_bars,
    plot_segment_treemap,
    plot_size_needs_grid,
    profile,
)


@pytest.fixture
def scores():
    return pd.DataFrame({
        "size_segment": ["Large · Finance", "Large · Finance", "Consumer", "Consumer", "Unknown size"],
        "needs_segment_name": ["Hardware-heavy", "Cloud-heavy", "Hardware-heavy", None, "Cloud-heavy"],
        "clv": [1000.0, 500.0, 100.0, 50.0, None],
        "net_spend_365d": [400.0, 200.0, 100.0, 0.0, 300.0],
        "churn_probability": [0.1, 0.5, 0.3, 0.9, np.nan],
        "risk_band": ["low", "medium", "low", "high", None],
        "revenue_at_risk": [10.0, 20.0, 5.0, 45.0, None],
        "nps_class": ["promoter", "detractor", "passive", None, "promoter"],
        "csat_mean_180d": [4.0, 2.0, None, None, 5.0],
        "region": ["EMEA", "APAC", "EMEA", "EMEA", "APAC"],
    }, index=pd.Index([f"C{i}" for i in range(1, 6)], name="customer_id"))


def test_profile_by_hand(scores):
    prof = profile(scores, by="needs_segment_name")
    assert list(prof.index) == ["Cloud-heavy", "Hardware-heavy", "(no segment)"]
    hw = prof.loc["Hardware-heavy"]
    assert hw["customers"] == 2 and hw["customer_share"] == pytest.approx(0.4)
    assert hw["revenue_365d"] == 500.0 and hw["revenue_share"] == pytest.approx(0.5)
    assert hw["clv_sum"] == 1100.0 and hw["clv_mean"] == 550.0
    assert hw["churn_probability_mean"] == pytest.approx(0.2) and hw["high_risk_share"] == 0.0
    assert hw["revenue_at_risk"] == 15.0
    assert hw["nps"] == pytest.approx(50.0) and hw["nps_n"] == 2  # 1 promoter, 1 passive
    assert hw["csat_mean"] == 4.0 and hw["top_regions"] == "EMEA 100%"
    cloud = prof.loc["Cloud-heavy"]
    assert cloud["nps"] == 0.0 and cloud["nps_n"] == 2
    assert cloud["top_regions"] == "APAC 100%"
    assert prof["customers"].sum() == len(scores)  # no customer dropped


def test_profile_two_keys_and_missing_score_columns(scores):
    small = scores[["size_segment", "needs_segment_name", "region"]]
    prof = profile(small, by=["size_segment", "needs_segment_name"])
    assert prof.index.names == ["size_segment", "needs_segment_name"]
    assert prof.loc[("Large · Finance", "Cloud-heavy"), "customers"] == 1
    assert "clv_sum" not in prof.columns and "nps" not in prof.columns
    with pytest.raises(InputError, match="value_tier"):
        profile(small, by="value_tier")


def test_profile_nps_from_latest_nps_and_categories():
    scores = pd.DataFrame({"needs_segment_name": ["A", "A", "A", "B"],
                           "latest_nps": [10, 8, 3, np.nan]},
                          index=pd.Index(["C1", "C2", "C3", "C4"], name="customer_id"))
    features = pd.DataFrame({"spend_share_Hardware": [0.9, 0.7, 0.8],
                             "spend_share_Cloud": [0.1, 0.3, 0.2]}, index=["C1", "C2", "C3"])
    prof = profile(scores, needs_features=features)
    assert prof.loc["A", "nps"] == 0.0 and prof.loc["A", "nps_n"] == 3
    assert prof.loc["A", "top_categories"] == "Hardware 80% · Cloud 20%"
    assert prof.loc["B", "nps_n"] == 0 and np.isnan(prof.loc["B", "nps"])


def test_ordered_vocabularies():
    scores = pd.DataFrame({"value_tier": ["Bottom 30%", "Unknown", "Top 10%", "Next 20%"]})
    assert list(profile(scores, by="value_tier").index) == ["Top 10%", "Next 20%", "Bottom 30%",
                                                           "Unknown"]


def test_profile_is_notebook_and_dashboard_ready(scores):
    prof = profile(scores, by="size_segment")
    assert "<table" in prof._repr_html_()
    assert pd.read_json(__import__("io").StringIO(prof.to_json(orient="table")), orient="table").shape[0] == 3


def test_grid_heatmap(scores):
    fig = plot_size_needs_grid(scores)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    heat = fig.data[0]
    assert heat.type == "heatmap"
    grid = pd.DataFrame(heat.z, index=heat.y, columns=heat.x)
    assert grid.loc["Large · Finance", "Hardware-heavy"] == 1
    assert grid.loc["Consumer", "(no segment)"] == 1
    assert grid.to_numpy().sum() == len(scores)
    by_clv = pd.DataFrame(plot_size_needs_grid(scores, "clv").data[0].z, index=heat.y, columns=heat.x)
    assert by_clv.loc["Large · Finance", "Hardware-heavy"] == 1000.0
    with pytest.raises(InputError, match="needs_segment_name"):
        plot_size_needs_grid(scores.drop(columns="needs_segment_name"))


def test_treemap(scores):
    trace = plot_segment_treemap(scores, value="clv", color="churn_probability").data[0]
    values = dict(zip(trace.ids, trace.values, strict=True))
    parents = dict(zip(trace.ids, trace.parents, strict=True))
    assert values["All"] == 1650.0 and values["All/Large · Finance"] == 1500.0
    assert values["All/Large · Finance/Cloud-heavy"] == 500.0
    assert parents["All/Consumer/Hardware-heavy"] == "All/Consumer"
    assert trace.branchvalues == "total"
    # Children add up to their parent.
    for node in ("All/Large · Finance", "All/Consumer"):
        kids = [v for i, v in values.items() if parents[i] == node]
        assert sum(kids) == pytest.approx(values[node])
    assert len(trace.marker.colors) == len(trace.ids)


def test_bars(scores):
    prof = profile(scores, by="size_segment")
    fig = plot_segment_bars(prof, ["customers", "clv_sum", "not_there"])
    assert [t.name for t in fig.data] == ["customers", "clv_sum"]
    assert list(fig.data[0].y) == list(prof.index)
    assert list(fig.data[0].x) == prof["customers"].tolist()
    with pytest.raises(InputError, match="none of the metrics"):
        plot_segment_bars(prof, "nps_x")
