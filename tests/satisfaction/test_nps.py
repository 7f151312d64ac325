"""Tests of the NPS and CSAT tables (crm_analytics.satisfaction.nps); values by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crm_analytics.errors import InputError
from crm_analytics.satisfaction.nps import csat_table, nps_change_test, nps_table, top2_threshold
from crm_analytics.satisfaction.plotting import plot_nps_trend


def answers(promoters: int, passives: int, detractors: int) -> list[int]:
    return [10] * promoters + [7] * passives + [0] * detractors


def test_nps_reference_example():
    # n=100, 50% promoters, 20% detractors: NPS 30, SE 7.81, 95% interval +-15.3.
    row = nps_table(pd.DataFrame({"score": answers(50, 30, 20)})).iloc[0]
    assert row["nps"] == pytest.approx(30.0, abs=1e-12)
    assert round(row["std_error"], 2) == 7.81
    assert round(row["nps"] - row["ci_lower"], 1) == 15.3
    assert round(row["ci_upper"] - row["nps"], 1) == 15.3
    assert (row["promoter_share"], row["passive_share"], row["detractor_share"]) == pytest.approx(
        (0.5, 0.3, 0.2))
    assert row["reportable"] and row["note"] == ""


def test_nps_by_group_hand_cases():
    df = pd.DataFrame({
        "segment": ["a"] * 6 + ["b"] * 4,
        "score": [10, 9, 8, 7, 6, 0] + [10, 10, 10, 5],
    })
    table = nps_table(df, by="segment", min_n=4, level=0.9).set_index("segment")
    # a: P = D = 2/6 -> NPS 0, Var = (4/6 - 0) / 6.
    assert table.loc["a", "nps"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["a", "std_error"] == pytest.approx(100 * math.sqrt((4 / 6) / 6))
    # b: P = 3/4, D = 1/4 -> NPS 50, Var = (1 - 0.5^2) / 4 = 0.1875.
    assert table.loc["b", "nps"] == pytest.approx(50.0)
    assert table.loc["b", "std_error"] == pytest.approx(100 * math.sqrt(0.1875))
    assert table.loc["b", "ci_upper"] == pytest.approx(50 + 1.6448536 * 100 * math.sqrt(0.1875))
    assert list(table["n"]) == [6, 4]


def test_nps_two_group_columns_and_missing_scores():
    df = pd.DataFrame({"segment": ["x", "x", "y", "y"], "period": [1, 2, 1, 1],
                       "score": [10, 0, 9, np.nan]})
    table = nps_table(df, by=["segment", "period"], min_n=1)
    assert list(table[["segment", "period"]].itertuples(index=False, name=None)) == [
        ("x", 1), ("x", 2), ("y", 1)]
    assert list(table["nps"]) == [100.0, -100.0, 100.0]
    assert list(table["n"]) == [1, 1, 1] and list(table["n_missing"]) == [0, 0, 1]


def test_small_cells_are_not_reportable():
    df = pd.DataFrame({"g": ["small"] * 29 + ["ok"] * 30, "score": [10] * 29 + [0] * 30})
    table = nps_table(df, by="g").set_index("g")
    small = table.loc["small"]
    assert not small["reportable"]
    assert small[["nps", "std_error", "ci_lower", "ci_upper", "promoter_share"]].isna().all()
    assert small["n"] == 29 and "n=29 < min_n=30" in small["note"]
    assert table.loc["ok", "reportable"] and table.loc["ok", "nps"] == -100.0


def test_nps_change_test_hand_case():
    before = answers(20, 20, 10)  # n=50: NPS 20, Var = (0.6 - 0.04) / 50
    after = answers(40, 32, 8)  # n=80: NPS 40, Var = (0.6 - 0.16) / 80
    df = pd.DataFrame({"quarter": ["Q1"] * 50 + ["Q2"] * 80, "score": before + after})
    row = nps_change_test(df, "quarter", before="Q1", after="Q2").iloc[0]
    se = 100 * math.sqrt(0.56 / 50 + 0.44 / 80)  # = sqrt(112 + 55) = 12.923
    z = 20 / se  # 1.5476
    assert row["change"] == pytest.approx(20.0)
    assert row["std_error"] == pytest.approx(se) and se == pytest.approx(12.9228, abs=1e-4)
    assert row["z"] == pytest.approx(z) and z == pytest.approx(1.54765, abs=1e-5)
    assert row["p_value"] == pytest.approx(0.12171, abs=1e-5)
    assert not row["significant"] and row["reportable"]
    assert (row["n_before"], row["n_after"]) == (50, 80)


def test_nps_change_test_by_segment_needs_both_periods_reportable():
    df = pd.DataFrame({"seg": ["a"] * 60 + ["b"] * 40, "period": (["p1", "p2"] * 50),
                       "score": [10, 0] * 50})
    table = nps_change_test(df, "period", before="p1", after="p2", by="seg").set_index("seg")
    assert table.loc["a", "reportable"] and table.loc["a", "change"] == -200.0
    assert not table.loc["b", "reportable"] and np.isnan(table.loc["b", "change"])
    assert "n=20 < min_n=30" in table.loc["b", "note"]


def test_csat_top2_on_five_and_eleven_point_scales():
    five = [5, 5, 4, 3, 2, 1, 4, 5, 3, 4]  # top-2 = {4, 5}: 6 of 10, mean 3.6
    eleven = [10, 9, 8, 7, 0, 9, 10, 6]  # top-2 = {9, 10}: 4 of 8, mean 59/8
    df = pd.DataFrame({"survey": ["five"] * 10 + ["eleven"] * 8, "score": five + eleven,
                       "scale_min": [1] * 10 + [0] * 8, "scale_max": [5] * 10 + [10] * 8})
    table = csat_table(df, by="survey", min_n=5).set_index("survey")
    assert table.loc["five", "top2_share"] == pytest.approx(0.6)
    assert table.loc["five", "top2_std_error"] == pytest.approx(math.sqrt(0.6 * 0.4 / 10))
    assert table.loc["five", "mean"] == pytest.approx(3.6)
    assert table.loc["five", "mean_std_error"] == pytest.approx(np.std(five, ddof=1) / np.sqrt(10))
    assert table.loc["five", "mean_100"] == pytest.approx(100 * (3.6 - 1) / 4)
    assert table.loc["eleven", "top2_share"] == pytest.approx(0.5)
    assert table.loc["eleven", "mean"] == pytest.approx(59 / 8)
    assert table.loc["eleven", "mean_100"] == pytest.approx(59 / 8 * 10)
    assert (table.loc["eleven", "scale_min"], table.loc["eleven", "scale_max"]) == (0, 10)


def test_csat_mixed_scales_long_scales_and_small_cells():
    df = pd.DataFrame({"score": [5, 10, 80, 79], "scale_min": [1, 0, 0, 0],
                       "scale_max": [5, 10, 100, 100]})
    row = csat_table(df, min_n=4).iloc[0]
    # 5 on 1-5 and 10 on 0-10 are top-2; on 0-100 the top 20% starts at 80.
    assert row["top2_share"] == pytest.approx(0.75)
    assert np.isnan(row["mean"]) and "mixes scales" in row["note"]
    assert row["mean_100"] == pytest.approx((100 + 100 + 80 + 79) / 4)
    np.testing.assert_allclose(top2_threshold([0, 1, 1, 1], [1, 3, 4, 7]), [0.8, 2.6, 3, 6])
    small = csat_table(df, min_n=5).iloc[0]
    assert not small["reportable"] and np.isnan(small["top2_share"])


@pytest.mark.parametrize(("frame", "call", "match"), [
    (pd.DataFrame({"score": [10, 11]}), nps_table, r"not whole numbers from 0 to 10 .*11"),
    (pd.DataFrame({"score": [9.5]}), nps_table, r"9.5 in row 0"),
    (pd.DataFrame({"rating": [1]}), nps_table, r"Required column 'score' missing"),
    (pd.DataFrame({"score": ["x"]}), nps_table, r"not numbers \(e.g. 'x'"),
    (pd.DataFrame({"score": [6], "scale_min": [1], "scale_max": [5]}), csat_table,
     r"outside their scale \(e.g. 6 not in \[1, 5\]"),
    (pd.DataFrame({"score": [3], "scale_min": [5], "scale_max": [5]}), csat_table,
     r"scale_min must be below scale_max"),
])
def test_bad_input_is_named(frame, call, match):
    with pytest.raises(InputError, match=match):
        call(frame)


def test_bad_options():
    df = pd.DataFrame({"score": [10]})
    with pytest.raises(InputError, match="'level' parameter"):
        nps_table(df, level=95)
    with pytest.raises(InputError, match="'min_n' parameter"):
        nps_table(df, min_n=0)
    with pytest.raises(InputError, match=r"Group-by column\(s\) \['segment'\] missing"):
        nps_table(df, by="segment")


def test_plot_nps_trend_traces():
    df = pd.DataFrame({"month": [2, 1, 1, 2], "segment": ["a", "a", "b", "b"],
                       "score": [10, 0, 10, 10]})
    table = nps_table(df, by=["segment", "month"], min_n=1)
    fig = plot_nps_trend(table, "month", group_col="segment")
    assert [t.name for t in fig.data] == ["a lower", "a upper", "a", "b lower", "b upper", "b"]
    assert list(fig.data[2].x) == [1, 2] and list(fig.data[2].y) == [-100.0, 100.0]
    assert fig.data[1].fill == "tonexty"


def test_pre_aggregated_counts_equal_the_answers():
    answers = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 4, "score": [10, 10, 9, 7, 3, 8, 8, 0, 9],
                            "scale_min": 0, "scale_max": 10})
    counts = answers.value_counts().rename("n_answers").reset_index()
    counts = pd.concat([counts, pd.DataFrame({"g": ["b"], "score": [5], "scale_min": [0],
                                              "scale_max": [10], "n_answers": [0]})])
    pd.testing.assert_frame_equal(nps_table(counts, by="g", min_n=1, count_col="n_answers"),
                                  nps_table(answers, by="g", min_n=1))
    pd.testing.assert_frame_equal(csat_table(counts, by="g", min_n=1, count_col="n_answers"),
                                  csat_table(answers, by="g", min_n=1))
    with pytest.raises(InputError, match=r"'n_answers' must hold whole numbers >= 0"):
        nps_table(counts.assign(n_answers=-1), count_col="n_answers")
