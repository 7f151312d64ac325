"""NPS, CSAT, survey_wide and the satisfaction index read from the store.

Hand-checked values on the three-customer demo store, agreement with the DataFrame
statistics on synthetic data, recovery of the generator's ECSI paths, and the messages
for data that cannot be used.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crm_analytics import satisfaction as sat
from crm_analytics.errors import DataQualityWarning, InputError
from crm_analytics.satisfaction._demo import CUSTOMERS, SURVEY_RESPONSES
from crm_analytics.satisfaction.pls import ECSI_CONSTRUCTS, SatisfactionIndex
from crm_analytics.store.attributes import customer_attributes


# --- NPS and CSAT --------------------------------------------------------------------------
def test_nps_by_segment_and_period_by_hand(demo):
    table = sat.nps(demo, by="region", min_n=1).set_index("region")
    # Americas: C3 answered 8 and 3; EMEA: C1 10 and 9, C2 6.
    assert table.loc["Americas", "nps"] == -50.0 and table.loc["Americas", "n"] == 2
    assert table.loc["EMEA", "nps"] == pytest.approx(100 / 3)
    assert table.loc["EMEA", "std_error"] == pytest.approx(100 * np.sqrt((1 - 1 / 9) / 3))
    quarters = sat.nps(demo, period="quarter", min_n=1)
    assert list(quarters["quarter"]) == list(pd.to_datetime(["2024-01-01", "2024-04-01"]))
    assert list(quarters["nps"]) == [0.0, 0.0] and list(quarters["n"]) == [2, 3]
    early = sat.nps(demo, "2024-03-31", since="2024-02-02", min_n=1)
    assert (early["n"].iloc[0], early["nps"].iloc[0]) == (1, -100.0)  # only C2's 6
    bands = sat.nps(demo, by=["customer_type", "size_band"], min_n=1)
    assert list(bands["size_band"]) == ["large", "small_medium", "consumer"]
    assert list(bands["nps"]) == [100.0, -100.0, -50.0]


def test_nps_change_by_hand(demo):
    res = sat.nps_change(demo, before=("2024-01-01", "2024-02-29"),
                         after=("2024-03-01", "2024-06-30"), min_n=1).iloc[0]
    # Before: C1's 10 (NPS 100, SE 0). After: 6, 8, 9, 3 (NPS 25 - 50 = -25).
    assert (res["n_before"], res["n_after"]) == (1, 4)
    assert (res["nps_before"], res["nps_after"], res["change"]) == (100.0, -25.0, -125.0)
    assert res["std_error"] == pytest.approx(100 * np.sqrt((0.75 - 0.0625) / 4))


def test_csat_by_hand(demo):
    table = sat.csat(demo, by="customer_type", min_n=1).set_index("customer_type")
    # business: 5 and 2 (top-2 {4, 5}: 1 of 2); consumer: 4 and 3.
    assert table.loc["business", "top2_share"] == 0.5 and table.loc["business", "mean"] == 3.5
    assert table.loc["consumer", "mean_100"] == pytest.approx(100 * (3.5 - 1) / 4)
    assert (table.loc["consumer", "scale_min"], table.loc["consumer", "scale_max"]) == (1, 5)


@pytest.mark.parametrize("period", [None, "quarter"])
def test_store_tables_equal_the_dataframe_statistics(synthetic_store, synthetic_data, period):
    """Counting in SQL then nps_table(count_col=) equals nps_table on the raw answers."""
    answers = synthetic_data.survey_responses.merge(
        synthetic_data.customers[["customer_id", "region", "customer_type"]], on="customer_id")
    keys = ["region", "customer_type"]
    if period:
        answers[period] = answers["responded_at"].dt.to_period("Q").dt.start_time
        keys.append(period)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # small quarterly cells
        got_nps = sat.nps(synthetic_store, by=["region", "customer_type"], period=period)
        got_csat = sat.csat(synthetic_store, by=["region", "customer_type"], period=period)
    want = sat.nps_table(answers[answers["item"] == "nps"], by=keys)
    pd.testing.assert_frame_equal(got_nps, want, check_dtype=False, atol=1e-9)
    want = sat.csat_table(answers[answers["item"] == "csat"], by=keys)
    pd.testing.assert_frame_equal(got_csat, want, check_dtype=False, atol=1e-9)


def test_size_band_follows_the_shared_customer_attributes(synthetic_store, synthetic_data):
    got = sat.nps(synthetic_store, by="size_band").set_index("size_band")["n"]
    bands = customer_attributes(synthetic_store)["size_band"]
    answers = synthetic_data.survey_responses.query("item == 'nps'")
    want = bands.loc[answers["customer_id"]].value_counts()
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)


def test_tiny_segments_are_flagged_not_reported(synthetic_store):
    with pytest.warns(DataQualityWarning, match=r"cell\(s\) have fewer than min_n=30 answers "
                                                r"and are not reportable .* e\.g\. country="):
        table = sat.nps(synthetic_store, by="country", period="month")
    small = table[~table["reportable"]]
    assert len(small) > 0 and small["nps"].isna().all()
    assert small["note"].str.contains("< min_n=30: not reportable").all()


# --- survey_wide and the index ---------------------------------------------------------------
def test_survey_wide_keeps_each_customers_latest_questionnaire(demo):
    responses, scale = sat.survey_wide(demo)
    assert list(responses.index) == ["C1", "C2"] and responses.index.name == "customer_id"
    assert list(responses.columns) == ["responded_at", "quality_1", "quality_2"]
    np.testing.assert_array_equal(responses["quality_1"], [7.0, 4.0])
    np.testing.assert_array_equal(responses["quality_2"], [8.0, np.nan])
    assert scale == {"quality_1": (1.0, 10.0), "quality_2": (1.0, 10.0)}
    every = sat.survey_wide(demo, latest=False).responses
    assert list(every.index) == ["C1", "C1", "C2"]
    np.testing.assert_array_equal(every["quality_1"], [5.0, 7.0, 4.0])
    before = sat.survey_wide(demo, "2024-04-30").responses
    assert list(before.columns) == ["responded_at", "quality_1"]
    assert before.loc["C1", "quality_1"] == 5.0
    ordered = sat.survey_wide(demo, items=["quality_2", "quality_1"]).responses
    assert list(ordered.columns) == ["responded_at", "quality_2", "quality_1"]


def test_survey_wide_keeps_the_later_answer_of_a_day(make_store):
    again = pd.DataFrame({"response_id": ["R99"], "customer_id": ["C2"],
                          "responded_at": ["2024-05-02 10:00"], "survey": ["ecsi"],
                          "item": ["quality_1"], "score": [6], "scale_min": [1],
                          "scale_max": [10]})
    store = make_store({"customers": CUSTOMERS,
                        "survey_responses": pd.concat([SURVEY_RESPONSES, again])})
    responses = sat.survey_wide(store).responses
    assert responses.loc["C2", "quality_1"] == 6.0
    assert responses.loc["C2", "responded_at"] == pd.Timestamp("2024-05-02 10:00")


def ecsi_limits(truth) -> dict[tuple[str, str], float]:
    """Population PLS paths for the generator's ECSI items.

    Items are ``round(5.5 + 1.5 x)`` with ``x = loading * latent + noise``: rounding adds
    noise of variance 1 / (12 * 1.5^2) to x, so each loading shrinks by sqrt(1 + that).
    Population Mode A weights are proportional to the loadings; a composite correlates
    with its latent by ``rho = w'l / sqrt(w' S w)``, and PLS paths are the OLS paths on
    the latent correlations attenuated by ``rho_j * rho_k``.
    """
    order = list(ECSI_CONSTRUCTS)
    phi = np.eye(len(order))
    for j, target in enumerate(order):
        for k in range(j):
            phi[j, k] = phi[k, j] = sum(b * phi[order.index(s), k]
                                        for (s, t), b in truth.ecsi_paths.items() if t == target)
    noise = 1 / (12 * truth.params["ecsi_spread"] ** 2)
    rho = []
    for construct in order:
        lam = np.array([truth.ecsi_loadings[i] for i in ECSI_CONSTRUCTS[construct]])
        lam = lam / np.sqrt(1 + noise)
        cov = np.outer(lam, lam)
        np.fill_diagonal(cov, 1.0)
        rho.append(lam @ lam / np.sqrt(lam @ cov @ lam))
    corr = phi * np.outer(rho, rho)
    np.fill_diagonal(corr, 1.0)
    limits = {}
    for target in order:
        preds = [order.index(s) for (s, t) in truth.ecsi_paths if t == target]
        if preds:
            beta = np.linalg.solve(corr[np.ix_(preds, preds)], corr[preds, order.index(target)])
            limits.update({(order[p], target): b for p, b in zip(preds, beta, strict=True)})
    return limits


def test_ecsi_paths_are_recovered_from_the_store(synthetic_store, synthetic_data):
    truth = synthetic_data.truth
    model = sat.fit_index(synthetic_store)
    limits = ecsi_limits(truth)
    table = pd.DataFrame([(s, t, b, limits[s, t], model.path_coefficients_.loc[s, t])
                          for (s, t), b in truth.ecsi_paths.items()],
                         columns=["source", "target", "true", "limit", "estimate"])
    # ~2,500 respondents: standard errors 0.02-0.03. Against the PLS limit only sampling
    # error remains (at 50,000 respondents the largest gap is 0.007).
    assert model.n_obs_ > 2000
    assert (table["estimate"] - table["limit"]).abs().max() < 0.07, table
    # Against the true paths add PLS's attenuation (up to 0.1 on the 0.5 paths).
    assert (table["estimate"] - table["true"]).abs().max() < 0.15, table
    assert (np.sign(table["estimate"]) == np.sign(table["true"])).all()
    assert (model.scale_ == [1.0, 10.0]).all().all()  # read from scale_min / scale_max


def test_fit_accepts_the_store_and_equals_the_wide_frame(synthetic_store):
    responses, scale = sat.survey_wide(synthetic_store, "2025-06-30")
    assert set(scale.values()) == {(1.0, 10.0)}
    from_frame = SatisfactionIndex(scale=(1, 10)).fit(responses)
    from_store = SatisfactionIndex().fit(synthetic_store, as_of="2025-06-30")
    pd.testing.assert_frame_equal(from_store.path_coefficients_, from_frame.path_coefficients_)
    pd.testing.assert_series_equal(from_store.index_, from_frame.index_)


def test_index_by_segment_and_period(synthetic_store):
    model = sat.fit_index(synthetic_store, by="region", period="year")
    groups = model.index_by_group_
    assert groups.index.names == ["region", "year"]
    every = sat.survey_wide(synthetic_store, latest=False).responses
    assert groups["n"].sum() == len(every) == model.n_obs_
    # One level: each customer's latest questionnaire, labelled with their region.
    by_region = sat.fit_index(synthetic_store, by="region", min_group_n=1)
    responses = sat.survey_wide(synthetic_store).responses
    region = customer_attributes(synthetic_store)["region"].reindex(responses.index)
    direct = SatisfactionIndex(scale=(1, 10), min_group_n=1).fit(responses, groups=region)
    pd.testing.assert_frame_equal(by_region.index_by_group_, direct.index_by_group_)
    tiny = sat.fit_index(synthetic_store, by="industry", min_group_n=300).index_by_group_
    assert not tiny["reportable"].all() and tiny["note"].str.contains("< min_group_n=300").any()


# --- messages ----------------------------------------------------------------------------------
def test_missing_survey_and_items_are_named(demo, make_store):
    with pytest.raises(InputError, match=r"survey 'ecsi' has no answers to item\(s\) "
                                         r"\['image_1', .* it has \['quality_1', 'quality_2'\]"):
        sat.fit_index(demo)
    nps_only = make_store({"customers": CUSTOMERS,
                           "survey_responses": SURVEY_RESPONSES.query("item == 'nps'")})
    with pytest.raises(InputError, match=r"no answers to survey 'ecsi' up to 2024-06-01; "
                                         r"found survey 'nps': nps \(5\)"):
        SatisfactionIndex().fit(nps_only)
    with pytest.raises(InputError, match=r"no answers to survey item 'recommend' up to "
                                         r"2024-06-20; found survey 'csat': csat \(4\)"):
        sat.nps(demo, survey_item="recommend")


def test_constant_and_out_of_scale_items_on_the_store_path(make_store, synthetic_store):
    rng = np.random.default_rng(0)
    n = 40
    customers = pd.DataFrame({"customer_id": [f"K{i}" for i in range(n)]})
    latent = rng.normal(size=n)
    items = {"a1": latent, "a2": latent + rng.normal(size=n) * 0.5,
             "b1": latent + rng.normal(size=n), "b2": np.zeros(n)}
    rows = [(f"K{i}", item, float(np.clip(np.round(4 + values[i]), 1, 7)))
            for item, values in items.items() for i in range(n)]
    answers = pd.DataFrame({
        "response_id": [f"R{k}" for k in range(len(rows))],
        "customer_id": [r[0] for r in rows], "responded_at": "2024-05-01",
        "survey": "pulse", "item": [r[1] for r in rows], "score": [r[2] for r in rows],
        "scale_min": 1, "scale_max": 7})
    store = make_store({"customers": customers, "survey_responses": answers})
    with pytest.raises(InputError, match=r"Item 'b2' \(construct 'b'\) is constant"):
        sat.fit_index(store, constructs={"a": ["a1", "a2"], "b": ["b1", "b2"]},
                      paths=[("a", "b")], target="b", survey="pulse", min_n=20)
    with pytest.raises(InputError, match=r"Item 'image_1' has \d+ score\(s\) outside its "
                                         r"scale \[1, 5\]"):
        sat.fit_index(synthetic_store, scale=(1, 5))


def test_wrong_nps_scale_and_mixed_item_scales(make_store):
    odd = SURVEY_RESPONSES.copy()
    odd.loc[odd["item"] == "nps", "scale_min"] = 1
    odd.loc[odd["response_id"] == "R13", ["scale_min", "scale_max"]] = [0, 10]
    store = make_store({"customers": CUSTOMERS, "survey_responses": odd})
    with pytest.raises(InputError, match=r"5 answer\(s\) to item 'nps' are on the scale "
                                         r"\[1, 10\], not \[0, 10\]"):
        sat.nps(store)
    with pytest.raises(InputError, match=r"other than 0-10"):
        sat.customer_features(store, "2024-06-30")
    with pytest.raises(InputError, match=r"item 'quality_1' of survey 'ecsi' was asked on more "
                                         r"than one scale"):
        sat.survey_wide(store, latest=False)


@pytest.mark.parametrize(("call", "match"), [
    (lambda s: sat.nps(s, by="colour"), r"'by' parameter must name up to 3 of"),
    (lambda s: sat.nps(s, by=["region", "industry", "country", "size_band"]), "up to 3"),
    (lambda s: sat.csat(s, period="week"), r"'period' parameter must be one of"),
    (lambda s: sat.nps(s, min_n=0), r"'min_n' parameter must be an int"),
    (lambda s: sat.nps_change(s, before=("2024-01-01", "2024-03-31"),
                              after=("2024-03-01", "2024-06-30")), "The ranges overlap"),
    (lambda s: sat.nps_change(s, before=("2024-03-01", "2024-01-01"),
                              after=("2024-04-01", "2024-06-30")), "ends .* before it starts"),
    (lambda s: sat.nps_change(s, before="2024-01", after=("2024-04-01", "2024-06-30")),
     r"'before' parameter of nps_change must be a \(start, end\) pair"),
    (lambda s: sat.fit_index(s, by="colour"), r"groups must name customer attributes"),
    (lambda s: sat.fit_index(s, period="week"), r"'period' parameter must be one of"),
    (lambda s: SatisfactionIndex().fit(s, groups=pd.Series([1, 2])),
     r"With a store, groups must name customer attributes or a period"),
    (lambda s: sat.nps(SURVEY_RESPONSES), r"nps needs a crm_analytics.Store"),
])
def test_bad_options_get_clear_messages(demo, call, match):
    with pytest.raises(InputError, match=match):
        call(demo)


def test_nps_trend_figure_from_the_store(synthetic_store):
    table = sat.nps(synthetic_store, by="customer_type", period="year")
    fig = sat.plot_nps_trend(table, "year", group_col="customer_type")
    assert [t.name for t in fig.data][2::3] == ["business", "consumer"]
    business = table[table["customer_type"] == "business"]
    assert list(fig.data[2].y) == pytest.approx(list(business["nps"]))
    assert list(fig.data[1].y) == pytest.approx(list(business["ci_upper"]))
