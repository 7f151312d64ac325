"""Tests of the synthetic data generator: contract, determinism and planted truth.

The statistical tests refit the planted models with the field's reference
implementations (lifetimes, scikit-learn) and compare with the truth, so they
fail if the generator drifts from the process it documents.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

import crm_analytics
from crm_analytics.datasets.synthetic import (
    CATEGORIES,
    ECSI_LOADINGS,
    generate,
    generate_transactions_parquet,
)
from crm_analytics.datasets.synthetic.vocab import _COUNTRIES
from crm_analytics.errors import InputError
from crm_analytics.store.schema import REASON_CODES, TABLES

END = pd.Timestamp("2025-12-31")
COUNTRIES_CSV = Path(crm_analytics.__file__).parent / "store" / "data" / "countries.csv"


@pytest.fixture(scope="module")
def small() -> object:
    return generate(n_customers=5000, seed=11)


@pytest.fixture(scope="module")
def big() -> object:
    # 20,000 customers: enough for ~16,000 good-service customers in the fits.
    return generate(n_customers=20_000, seed=7)


@pytest.fixture(scope="module")
def dirty() -> object:
    return generate(n_customers=3000, seed=5, dirty_fraction=0.05)


def _purchases(data: object) -> pd.DataFrame:
    tx = data.truth.clean["transactions"]
    return tx[tx["amount"] > 0].reset_index(drop=True)


def _weekly_summary(purchases: pd.DataFrame) -> pd.DataFrame:
    """lifetimes RFM summary on days (same-day rows merged), converted to weeks."""
    summary = summary_data_from_transaction_data(
        purchases,
        "customer_id",
        "transaction_date",
        monetary_value_col="amount",
        observation_period_end=END,
        freq="D",
    )
    # lifetimes under pandas 3 can return all-NaN rows for a non-default index.
    summary = summary.dropna()
    summary["recency"] /= 7.0
    summary["T"] /= 7.0
    return summary


# --------------------------------------------------------------------------- contract


def test_same_seed_gives_identical_bytes(tmp_path):
    for fraction in (0.0, 0.05):
        a = generate(n_customers=300, seed=3, dirty_fraction=fraction, out_dir=tmp_path / "a")
        b = generate(n_customers=300, seed=3, dirty_fraction=fraction, out_dir=tmp_path / "b")
        for name, frame in a.tables().items():
            pd.testing.assert_frame_equal(frame, getattr(b, name))
        for path in (tmp_path / "a").iterdir():
            assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_different_seed_gives_different_data():
    a = generate(n_customers=300, seed=1)
    b = generate(n_customers=300, seed=2)
    assert not a.transactions["amount"].equals(b.transactions["amount"])
    assert not a.customers["created_at"].equals(b.customers["created_at"])


@pytest.mark.parametrize("fraction", [0.0, 0.05])
def test_tables_have_exactly_the_contract_columns(fraction):
    data = generate(n_customers=200, seed=0, dirty_fraction=fraction)
    for name, frame in data.tables().items():
        assert list(frame.columns) == TABLES[name].column_names, name


def test_clean_tables_are_typed_and_within_the_window(small):
    for name, frame in small.tables().items():
        table = TABLES[name]
        assert frame[table.key].is_unique, name
        for column in table.columns:
            values = frame[column.name]
            if column.kind == "timestamp":
                assert pd.api.types.is_datetime64_dtype(values), (name, column.name)
                present = values.dropna()
                assert present.max() <= END and present.min() >= pd.Timestamp("2023-01-01")
            elif column.kind in {"number", "int"}:
                assert pd.api.types.is_numeric_dtype(values), (name, column.name)
            elif column.kind == "bool":
                assert pd.api.types.is_bool_dtype(values), (name, column.name)
            if column.required:
                assert values.notna().all(), (name, column.name)


def test_customers_look_like_a_crm_export(small):
    customers = small.customers
    assert customers["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert customers["email"].str.fullmatch(r"[a-z0-9.]+@[a-z0-9.]+\.[a-z]+").all()
    assert customers["phone"].str.fullmatch(r"\+\d{1,2} \d{2,3} \d{7}").all()
    share_business = (customers["customer_type"] == "business").mean()
    assert 0.55 < share_business < 0.65
    consumers = customers[customers["customer_type"] == "consumer"]
    assert consumers[["industry", "employees", "annual_revenue"]].isna().all().all()
    business = customers[customers["customer_type"] == "business"]
    assert business["employees"].median() == pytest.approx(50, rel=0.2)
    assert business["employees"].max() > 1000  # heavy tail
    log_size = np.log(business[["employees", "annual_revenue"]].astype(float))
    assert log_size.corr().iloc[0, 1] > 0.8
    countries = pd.read_csv(COUNTRIES_CSV, keep_default_na=False)
    region_of = dict(zip(countries["alpha2"], countries["region"], strict=True))
    assert (customers["country"].map(region_of) == customers["region"]).all()
    assert 0.75 < customers["marketing_opt_in"].mean() < 0.85
    # created_at is the first purchase.
    first = small.transactions.groupby("customer_id")["transaction_date"].min()
    pd.testing.assert_series_equal(
        customers.set_index("customer_id")["created_at"], first, check_names=False
    )
    assert (
        customers["created_at"].max()
        <= pd.Timestamp("2023-01-01") + (END - pd.Timestamp("2023-01-01")) * 2 / 3
    )


def test_country_spellings_used_as_noise_are_in_the_country_table():
    countries = pd.read_csv(COUNTRIES_CSV, keep_default_na=False).set_index("alpha2")
    for code, (name, alpha3, region, *_) in _COUNTRIES.items():
        assert countries.loc[code, "alpha3"] == alpha3
        assert countries.loc[code, "region"] == region
        assert name in countries.loc[code, "names"].split("|")


def test_shared_contacts_are_exactly_the_planted_pairs(small):
    customers = small.customers.set_index("customer_id")
    pairs = small.truth.shared_contacts
    assert len(pairs) == 25  # 1% of 5000 customers, in pairs
    for field in ("email", "phone"):
        shared = customers[customers[field].duplicated(keep=False)]
        planted = pairs[pairs["field"] == field]
        assert len(shared) == 2 * len(planted)
        assert (
            customers.loc[planted["customer_id_a"], field].to_numpy()
            == customers.loc[planted["customer_id_b"], field].to_numpy()
        ).all()


def test_refunds_follow_a_purchase_of_the_same_customer(small):
    tx = small.transactions
    refunds = tx[tx["amount"] < 0]
    n_purchases = small.truth.customers["n_purchases"].sum()
    assert 0.01 < len(refunds) / n_purchases < 0.025
    first_buy = tx[tx["amount"] > 0].groupby("customer_id")["transaction_date"].min()
    assert (
        refunds["transaction_date"].dt.normalize()
        > first_buy.loc[refunds["customer_id"]].dt.normalize().to_numpy()
    ).all()
    assert (tx["quantity"] >= 1).all()
    # Baskets of several lines share one timestamp, so same-day rows exist.
    assert tx.duplicated(["customer_id", "transaction_date"]).mean() > 0.05


# --------------------------------------------------------------------------- planted models


def test_bgnbd_fit_on_good_service_customers_recovers_the_truth(big):
    """Fit BG/NBD on the good-service group, where it is exactly the generating model.

    Tolerance 15 % relative. Over 10 seeds the estimates' spread is about
    1.5 % (r, alpha, a) and 4 % (b). Merging same-day purchases (as lifetimes
    does with freq='D') trims the heaviest buyers' counts and biases alpha up
    by about 6 % (a fit on exact timestamps gives alpha within 1 %). 15 % thus
    leaves more than 3 standard deviations for b, yet fails if the poor
    group leaks in (b drops to ~1.9, -24 %) or the time unit is wrong.
    """
    truth = big.truth.params
    good = big.truth.customers.index[big.truth.service_groups == "good"]
    purchases = _purchases(big)
    summary = _weekly_summary(purchases[purchases["customer_id"].isin(good)].reset_index(drop=True))
    fitter = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    for name in ("r", "alpha", "a", "b"):
        assert fitter.params_[name] == pytest.approx(truth[name], rel=0.15), name


def test_gamma_gamma_fit_on_repeat_buyers_recovers_the_truth(big):
    """Gamma-Gamma p, q, v within 20 % and the mean spend p*v/(q-1) within 5 %.

    Over 10 seeds the spread is about 5 % (p), 1.5 % (q) and 6 % (v); p and v
    trade off, which is why their product (the mean spend) is tested tighter.
    Amounts are divided by 100 for the fit (v scales the same way) because
    lifetimes' optimiser loses precision on amounts in the hundreds.
    """
    truth = big.truth.params
    summary = _weekly_summary(_purchases(big))
    repeat = summary[summary["frequency"] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fitter = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"] / 100.0)
    p, q, v = fitter.params_["p"], fitter.params_["q"], fitter.params_["v"] * 100.0
    assert p == pytest.approx(truth["p"], rel=0.2)
    assert q == pytest.approx(truth["q"], rel=0.2)
    assert v == pytest.approx(truth["v"], rel=0.2)
    assert p * v / (q - 1) == pytest.approx(truth["mean_spend"], rel=0.05)


def test_needs_groups_are_separable_from_spend_shares(small):
    purchases = _purchases(small)
    lines = purchases.groupby("customer_id").size()
    enough = lines.index[lines >= 8]  # shares of a handful of purchases are noise
    shares = (
        pd.crosstab(
            purchases["customer_id"],
            purchases["product_category"],
            values=purchases["amount"],
            aggfunc="sum",
            normalize="index",
        )
        .fillna(0.0)
        .reindex(columns=list(CATEGORIES), fill_value=0.0)
    )
    features = shares.loc[enough]
    labels = KMeans(n_clusters=4, n_init=10, random_state=0).fit_predict(features)
    truth = small.truth.needs_groups.loc[enough]
    assert len(enough) > 1000
    assert adjusted_rand_score(truth, labels) >= 0.9


def test_churn_probability_matches_the_bgnbd_formula(big):
    as_of, horizon_days = pd.Timestamp("2025-06-30"), 90
    churn = big.truth.churn_probability(as_of, horizon_days=horizon_days)
    prm = big.truth.params
    assert churn.between(0.0, 1.0).all()
    first = big.truth.customers["first_purchase_at"]
    assert set(churn.index) == set(first.index[first.dt.normalize() <= as_of])

    summary = summary_data_from_transaction_data(
        _purchases(big),
        "customer_id",
        "transaction_date",
        observation_period_end=as_of,
        freq="D",
    ).dropna()
    x, t_x, T = summary["frequency"], summary["recency"] / 7, summary["T"] / 7
    t = horizon_days / 7
    service = big.truth.service_groups.loc[summary.index]
    # lifetimes' P(alive) with the true parameters is the reference, per service group.
    for group, b in (("good", prm["b"]), ("poor", prm["b_poor"])):
        rows = service == group
        reference = BetaGeoFitter()
        reference.params_ = pd.Series({"r": prm["r"], "alpha": prm["alpha"], "a": prm["a"], "b": b})
        alive = reference.conditional_probability_alive(x[rows], t_x[rows], T[rows])
        quiet = ((prm["alpha"] + T[rows]) / (prm["alpha"] + T[rows] + t)) ** (prm["r"] + x[rows])
        expected = 1.0 - alive * (1.0 - quiet)
        np.testing.assert_allclose(churn.loc[expected.index], expected, rtol=1e-9, atol=1e-12)

    # Customers without a repeat purchase: P(alive) = 1.
    new = x.index[x == 0]
    expected = 1.0 - (1.0 - ((prm["alpha"] + T[new]) / (prm["alpha"] + T[new] + t)) ** prm["r"])
    np.testing.assert_allclose(churn.loc[new], expected, rtol=1e-12)


def test_churn_probability_is_calibrated_and_higher_for_poor_service(big):
    as_of, horizon_days = pd.Timestamp("2025-06-30"), 90
    churn = big.truth.churn_probability(as_of, horizon_days=horizon_days)
    purchases = _purchases(big)
    day = purchases["transaction_date"].dt.normalize()
    window = (day > as_of) & (day <= as_of + pd.Timedelta(days=horizon_days))
    bought = set(purchases.loc[window, "customer_id"])
    realised = pd.Series([cid not in bought for cid in churn.index], index=churn.index)
    # The truth is the generating model, so predictions match outcomes on average.
    assert churn.mean() == pytest.approx(realised.mean(), abs=0.02)
    by_group = churn.groupby(big.truth.service_groups.loc[churn.index]).mean()
    assert by_group["poor"] > by_group["good"] + 0.05


def test_sla_breaches_and_open_tickets(small):
    tickets = small.tickets
    service = small.truth.service_groups.loc[tickets["customer_id"]].to_numpy()
    resolved = tickets["resolved_at"].notna().to_numpy()
    hours = (tickets["resolved_at"] - tickets["opened_at"]).dt.total_seconds() / 3600
    breached = (hours > tickets["sla_hours"]).to_numpy()
    good = breached[resolved & (service == "good")].mean()
    poor = breached[resolved & (service == "poor")].mean()
    assert 0.05 < good < 0.11 and 0.48 < poor < 0.62
    assert 0.02 < (~resolved).mean() < 0.04
    assert (
        tickets["first_response_at"].dropna()
        > tickets.loc[tickets["first_response_at"].notna(), "opened_at"]
    ).all()
    assert (tickets["resolved_at"] >= tickets["first_response_at"]).where(resolved, True).all()
    sla = tickets["priority"].map({"P1": 4, "P2": 8, "P3": 24, "P4": 72})
    assert (sla == tickets["sla_hours"]).all()
    complaint_rate = tickets.groupby(breached)["is_complaint"].mean()
    assert complaint_rate[True] > 2 * complaint_rate[False]
    reopen_rate = tickets.groupby(service)["reopened"].mean()
    assert reopen_rate["poor"] > 2 * reopen_rate["good"]


def test_survey_scales_and_service_effects(small):
    responses = small.survey_responses
    for survey, (low, high) in {"nps": (0, 10), "csat": (1, 5), "ecsi": (1, 10)}.items():
        rows = responses[responses["survey"] == survey]
        assert rows["score"].between(low, high).all(), survey
        assert (rows["scale_min"] == low).all() and (rows["scale_max"] == high).all()
    ecsi = responses[responses["survey"] == "ecsi"]
    assert set(ecsi["item"]) == set(ECSI_LOADINGS)
    assert ecsi.groupby("customer_id").size().eq(len(ECSI_LOADINGS)).all()
    share_ecsi = ecsi["customer_id"].nunique() / len(small.customers)
    assert 0.22 < share_ecsi < 0.28

    nps = responses[responses["survey"] == "nps"]
    service = small.truth.service_groups.loc[nps["customer_id"]].to_numpy()
    detractors = nps["score"].le(6).groupby(service).mean()
    assert detractors["poor"] > 0.7 and detractors["good"] < 0.25
    assert 0.36 < nps["customer_id"].nunique() / len(small.customers) < 0.44


def test_nps_breach_effect_is_recovered(big):
    """OLS of NPS on service group and breaches in the prior 180 days gives about -1.0.

    Rounding and clipping at 0 shrink the slope a little (about -0.95 on this
    size); the standard error is about 0.04.
    """
    tickets = big.tickets
    hours = (tickets["resolved_at"] - tickets["opened_at"]).dt.total_seconds() / 3600
    breaches = tickets.loc[hours > tickets["sla_hours"], ["customer_id", "resolved_at"]]
    nps = big.survey_responses.query("survey == 'nps'")[
        ["response_id", "customer_id", "responded_at", "score"]
    ]
    pairs = nps.merge(breaches, on="customer_id")
    window = pd.Timedelta(days=big.truth.params["nps_breach_window_days"])
    hit = (pairs["resolved_at"] < pairs["responded_at"]) & (
        pairs["resolved_at"] >= pairs["responded_at"] - window
    )
    count = hit.groupby(pairs["response_id"]).sum().reindex(nps["response_id"], fill_value=0)
    poor = (big.truth.service_groups.loc[nps["customer_id"]] == "poor").to_numpy(dtype=float)
    design = np.column_stack([np.ones(len(nps)), poor, count.to_numpy(dtype=float)])
    coef, *_ = np.linalg.lstsq(design, nps["score"].to_numpy(dtype=float), rcond=None)
    assert coef[2] == pytest.approx(big.truth.params["nps_breach_effect"], abs=0.2)


def test_csat_follows_resolved_tickets_and_drops_after_breaches(small):
    csat = small.survey_responses.query("survey == 'csat'")
    resolved = small.tickets.dropna(subset=["resolved_at"])
    # Each answer comes after some resolved ticket of the same customer.
    first_resolved = resolved.groupby("customer_id")["resolved_at"].min()
    assert (
        csat["responded_at"].to_numpy() > first_resolved.loc[csat["customer_id"]].to_numpy()
    ).all()
    assert 0.2 < len(csat) / len(resolved) < 0.32
    assert csat["score"].mean() < small.truth.params["csat_mean"]


def test_ecsi_items_follow_the_measurement_model(big):
    ecsi = big.survey_responses.query("survey == 'ecsi'").pivot(
        index="customer_id", columns="item", values="score"
    )
    corr = ecsi.corr()
    loadings = big.truth.ecsi_loadings
    # Same-construct items correlate as loading * loading (rounding attenuates a little).
    implied = loadings["quality_1"] * loadings["quality_2"]
    assert corr.loc["quality_1", "quality_2"] == pytest.approx(implied, abs=0.06)
    assert big.truth.ecsi_paths[("satisfaction", "complaints")] > 0
    assert set(big.truth.params["ecsi_r_squared"]) == {
        "expectations",
        "quality",
        "value",
        "satisfaction",
        "complaints",
        "loyalty",
    }


# --------------------------------------------------------------------------- dirty export


def test_dirty_tables_are_text_with_recorded_defects(dirty):
    defects = dirty.truth.defects
    assert set(defects["reason_code"]) <= set(REASON_CODES)
    for name, frame in dirty.tables().items():
        assert all(pd.api.types.is_string_dtype(frame[c]) for c in frame.columns), name
        found = defects[defects["table"] == name]
        assert len(found) == pytest.approx(0.05 * len(frame), rel=0.2), name
        assert found["source_row"].is_unique
        # The recorded text is what the file holds at that row and column.
        for row in found.itertuples():
            assert frame.iloc[row.position][row.column] == row.value
        assert (found["source_row"] == found["position"] + 2).all()  # CSV line, header = 1
    codes = set(defects["reason_code"])
    assert {
        "missing_key",
        "missing_value",
        "bad_number",
        "bad_integer",
        "negative_value",
        "bad_date",
        "future_date",
        "bad_email",
        "bad_boolean",
        "bad_category",
        "unknown_customer",
        "score_out_of_scale",
        "bad_scale",
        "resolved_before_opened",
        "responded_before_opened",
        "duplicate_conflict",
    } <= codes
    future = defects[defects["reason_code"] == "future_date"]
    assert future["value"].str.startswith("2099").all()


def test_customer_defects_only_hit_customers_without_activity(dirty):
    bad = dirty.truth.defects.query("table == 'customers'")["key"]
    active = set()
    for name in ("transactions", "tickets", "survey_responses"):
        active |= set(dirty.truth.clean[name]["customer_id"])
    assert not set(bad) & active
    assert dirty.truth.customers.loc[bad, "is_prospect"].all()


def test_duplicates_are_exact_or_conflicting(dirty):
    duplicates = dirty.truth.duplicates
    conflicts = dirty.truth.defects.query("reason_code == 'duplicate_conflict'")
    assert len(duplicates.query("kind == 'conflict'")) == len(conflicts)
    for row in duplicates.itertuples():
        frame = getattr(dirty, row.table)
        copy, first = frame.iloc[row.source_row - 2], frame.iloc[row.first_row - 2]
        assert row.first_row < row.source_row
        assert copy[TABLES[row.table].key] == first[TABLES[row.table].key] == row.key
        assert copy.equals(first) == (row.kind == "exact")


def test_rows_add_up_and_clean_noise_is_only_cosmetic(dirty):
    truth = dirty.truth
    for name, frame in dirty.tables().items():
        codes = truth.defects.loc[truth.defects["table"] == name, "reason_code"]
        kinds = truth.duplicates.loc[truth.duplicates["table"] == name, "kind"]
        mutated = (codes != "duplicate_conflict").sum()
        # read = loaded + rejected + skipped, where loaded = clean rows not mutated.
        loaded = len(truth.clean[name]) - mutated
        assert len(frame) == loaded + len(codes) + (kinds == "exact").sum(), name
    customers = dirty.customers
    bad_rows = truth.defects.query("table == 'customers'")["position"]
    ok = customers.drop(index=bad_rows)
    assert (
        ok["customer_type"]
        .str.strip()
        .str.lower()
        .isin(["business", "consumer", "b2b", "b2c", "private"])
        .all()
    )
    assert (ok["country"].str.len() > 2).any()  # names and alpha-3 codes present
    assert (ok["email"] != ok["email"].str.lower()).any()  # upper-case e-mails present


def test_base_data_do_not_depend_on_dirty_fraction(dirty):
    clean = generate(n_customers=3000, seed=5)
    pd.testing.assert_frame_equal(clean.transactions, dirty.truth.clean["transactions"])
    n = len(clean.customers)
    pd.testing.assert_frame_equal(
        clean.customers, dirty.truth.clean["customers"].iloc[:n].reset_index(drop=True)
    )


# --------------------------------------------------------------------------- files and API


def test_write_csv_writes_tables_and_truth(tmp_path, dirty):
    paths = dirty.write_csv(tmp_path)
    assert {p.name for p in paths.values()} == {
        "customers.csv",
        "transactions.csv",
        "tickets.csv",
        "survey_responses.csv",
        "truth.json",
        "truth_customers.csv",
    }
    back = pd.read_csv(paths["transactions"], dtype=str, keep_default_na=False)
    assert back.shape == dirty.transactions.shape
    assert (back.to_numpy() == dirty.transactions.to_numpy()).all()
    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    assert truth["params"]["r"] == 0.75 and truth["params"]["time_unit"] == "W"
    assert len(truth["defects"]) == len(dirty.truth.defects)
    assert len(truth["ecsi_paths"]) == 12
    customers = pd.read_csv(paths["truth_customers"], index_col="customer_id")
    assert {"lambda_", "p_dropout", "nu", "service_group", "needs_group", "death_date"} <= set(
        customers.columns
    )


def test_parquet_fast_path(tmp_path):
    import pyarrow.parquet as pq

    files = generate_transactions_parquet(tmp_path / "a", n_customers=2000, seed=4, chunk_size=700)
    again = generate_transactions_parquet(tmp_path / "b", n_customers=2000, seed=4, chunk_size=700)
    tx = pq.read_table(files.transactions).to_pandas()
    assert list(tx.columns) == TABLES["transactions"].column_names
    assert len(tx) == files.n_transactions and tx["transaction_id"].is_unique
    customers = pq.read_table(files.customers).to_pandas()
    assert list(customers.columns) == TABLES["customers"].column_names
    assert customers["customer_id"].is_unique and len(customers) == 2000
    assert set(tx["customer_id"]) <= set(customers["customer_id"])
    assert tx["transaction_date"].max() <= END
    assert files.params["r"] == 0.75
    assert pq.read_table(again.transactions).equals(pq.read_table(files.transactions))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_customers": 0}, "'n_customers' parameter of generate must be an int"),
        ({"dirty_fraction": 0.9}, "'dirty_fraction' parameter"),
        ({"params": {"lambda": 1}}, "unknown synthetic-data parameter"),
        ({"params": {"q": 1.0}}, "'q' must be > 1"),
        ({"start": "2025-01-01", "end": "2024-01-01"}, "must be more than a week after"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        generate(**kwargs)
