"""Bounded training: a uniform customer sample, a stratified cut per cutoff, shared builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics import churn
from crm_analytics.errors import InputError
from crm_analytics.store.sampling import sample_customers
from tests.helpers import load_store, synthetic_data

CUTOFFS = ["2025-03-31", "2025-04-30", "2025-05-31"]


@pytest.fixture(scope="module")
def store():
    data = synthetic_data(2000, 5)
    s = load_store(data.tables())
    yield s
    s.close()


def test_stratified_sample_keeps_each_label_share_exactly():
    y = np.array([1] * 300 + [0] * 700)
    keep = churn.stratified_sample(y, 100, seed=(0, 1))
    assert len(keep) == 100 and len(np.unique(keep)) == 100
    assert int(y[keep].sum()) == 30
    assert np.all(np.diff(keep) > 0)
    # Deterministic per seed, different across seeds.
    assert np.array_equal(keep, churn.stratified_sample(y, 100, seed=(0, 1)))
    assert not np.array_equal(keep, churn.stratified_sample(y, 100, seed=(0, 2)))
    # Odd quotas still add up: 3 classes, 10 rows.
    z = np.array([0] * 5 + [1] * 3 + [2] * 2)
    assert len(churn.stratified_sample(z, 7)) == 7
    assert np.array_equal(churn.stratified_sample(z, 20), np.arange(10))
    assert len(churn.stratified_sample(z, 0)) == 0
    for bad in (-1, 2.5, "3", None, True):
        with pytest.raises(InputError, match="stratified_sample: n"):
            churn.stratified_sample(z, bad)
    with pytest.raises(InputError, match="one-dimensional"):
        churn.stratified_sample(np.zeros((2, 2)), 1)


def test_sample_customers_copies_every_row_of_the_sampled_customers(store):
    sample = sample_customers(store, 0.25, seed=3)
    try:
        ids = set(sample.table("customers")["customer_id"])
        n_all = len(store.table("customers"))
        # Uniform: about a quarter (binomial sd ~ 19 on 2000).
        assert abs(len(ids) - n_all / 4) < 5 * np.sqrt(n_all * 0.25 * 0.75)
        for table in ("transactions", "tickets", "survey_responses"):
            full = store.table(table)
            mine = sample.table(table)
            expected = full[full["customer_id"].isin(ids)]
            assert len(mine) == len(expected) > 0, table
            assert set(mine["customer_id"]) <= ids
        # Same seed, same customers; other seed, others.
        again = sample_customers(store, 0.25, seed=3)
        assert set(again.table("customers")["customer_id"]) == ids
        other = sample_customers(store, 0.25, seed=4)
        assert set(other.table("customers")["customer_id"]) != ids
    finally:
        sample.close()


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, "half", None])
def test_sample_customers_refuses_bad_fractions(store, fraction):
    with pytest.raises(InputError, match="fraction"):
        sample_customers(store, fraction)


def test_training_set_samples_before_building_and_keeps_the_churn_rate(store):
    full = churn.training_set(store, CUTOFFS, clv=False, satisfaction=False)
    capped = churn.training_set(store, CUTOFFS, clv=False, satisfaction=False,
                                max_examples_per_cutoff=200, random_state=7)
    info = capped.attrs[churn.model.TRAINING_SET_ATTRS]["sample"]
    active_last = int((full["cutoff"] == pd.Timestamp(CUTOFFS[-1])).sum())
    assert info["active_at_last_cutoff"] == active_last
    assert info["customer_fraction"] == pytest.approx(1.25 * 200 / active_last, abs=1e-6)
    for cutoff in CUTOFFS:
        part = capped[capped["cutoff"] == pd.Timestamp(cutoff)]
        whole = full[full["cutoff"] == pd.Timestamp(cutoff)]
        assert len(part) <= 200
        # Every sampled example is a real one: same features as in the full build.
        common = whole.loc[part.index]
        pd.testing.assert_frame_equal(part[["recency_days", "purchases_total", "churned"]],
                                      common[["recency_days", "purchases_total", "churned"]])
        # The churn rate of a stratified cut of a uniform sample stays close.
        assert abs(part["churned"].mean() - whole["churned"].mean()) < 0.1
    again = churn.training_set(store, CUTOFFS, clv=False, satisfaction=False,
                               max_examples_per_cutoff=200, random_state=7)
    pd.testing.assert_frame_equal(capped, again)


def test_select_cutoffs_feeds_a_fit_like_its_own_training_set(store):
    union = churn.training_set(store, CUTOFFS, clv=False, satisfaction=False)
    part = churn.select_cutoffs(union, CUTOFFS[:2])
    own = churn.training_set(store, CUTOFFS[:2], clv=False, satisfaction=False)
    pd.testing.assert_frame_equal(part.drop(columns=[]), own)
    a = churn.ChurnModel(max_iter=10, clv=False, satisfaction=False).fit(part)
    b = churn.ChurnModel(max_iter=10, clv=False, satisfaction=False).fit(own)
    assert a.cutoffs_ == b.cutoffs_
    X = own.drop(columns=["cutoff", "churned"])
    np.testing.assert_allclose(a.predict_proba(X)[:, 1], b.predict_proba(X)[:, 1])
    with pytest.raises(InputError, match="not in the training set"):
        churn.select_cutoffs(union, ["2024-01-31"])


def test_fitted_model_records_its_sample(store):
    model = churn.ChurnModel(max_iter=5, clv=False, satisfaction=False,
                             max_examples_per_cutoff=150).fit(store, cutoffs=CUTOFFS)
    assert model.training_summary_["n_examples"].max() <= 150
    assert model.training_sample_["max_examples_per_cutoff"] == 150
    assert 0 < model.training_sample_["customer_fraction"] < 1
    evaluation = model.evaluate(store, "2025-08-31", max_examples=120)
    assert evaluation.n_customers == 120
    assert any("stratified sample of 120" in n for n in evaluation.notes)


def test_batched_scoring_equals_one_pass(store):
    model = churn.ChurnModel(max_iter=20).fit(store, cutoffs=CUTOFFS)
    whole = churn.score(model, store, "2025-08-31")
    batched = churn.score(model, store, "2025-08-31", batch_size=300)
    assert len(whole) > 3 * 300  # several batches
    assert batched.index.equals(whole.index)
    np.testing.assert_allclose(batched["churn_probability"], whole["churn_probability"],
                               rtol=1e-12)
    np.testing.assert_allclose(batched["clv"], whole["clv"], rtol=1e-12)
    assert (batched["risk_band"] == whole["risk_band"]).all()
    # Below the screening size every group is computed: the reasons agree too.
    assert (batched["reason_1"] == whole["reason_1"]).all()
    with pytest.raises(InputError, match="batch_size"):
        churn.score(model, store, "2025-08-31", batch_size=0)
