"""Needs segmentation: features, recovery of planted groups, stable labels, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from crm_analytics.errors import DataQualityWarning, InputError, NotFittedError
from crm_analytics.segmentation import NeedsSegmenter, load_profiles, needs_features, save_profiles
from crm_analytics.store import Store

AS_OF, MONTH_LATER = "2025-05-31", "2025-06-30"  # as in conftest.py
MIN_PURCHASES = 3  # the segmenter's fit filter; ARI is reported on these customers


@pytest.fixture(scope="module")
def fitted(synth):
    data, store = synth
    features = needs_features(store, AS_OF)
    return data, store, features, NeedsSegmenter(random_state=0).fit(features)


def _reliable(features: pd.DataFrame) -> pd.Index:
    return features.index[features["purchase_days"] >= MIN_PURCHASES]


def test_features_are_shares_and_as_of(synth):
    _, store = synth
    f = needs_features(store, AS_OF)
    spend = f.filter(like="spend_share_")
    channel = f.filter(like="channel_share_")
    region = f.filter(like="region_")
    assert list(spend.columns) == [f"spend_share_{c}" for c in
                                   ["Cloud", "Hardware", "Services", "Software", "Supplies"]]
    assert np.allclose(spend.sum(axis=1), 1.0) and np.allclose(channel.sum(axis=1), 1.0)
    assert np.allclose(region.sum(axis=1), 1.0)
    assert (f["tickets_per_purchase"] >= 0).all() and (f["purchases_per_year"] > 0).all()
    # No look-ahead: a later as_of sees at least as many customers and purchase days.
    later = needs_features(store, MONTH_LATER)
    assert set(f.index) <= set(later.index)
    assert (later.loc[f.index, "purchase_days"] >= f["purchase_days"]).all()


def test_auto_recovers_planted_needs_groups(fitted):
    data, _, features, seg = fitted
    truth = data.truth.customers["needs_group"].reindex(features.index)
    reliable = _reliable(features)
    assert seg.n_segments_ == 4
    assert max(seg.silhouette_, key=seg.silhouette_.get) == 4
    ari = adjusted_rand_score(truth[reliable], seg.labels_[reliable])
    assert ari >= 0.8, f"ARI {ari:.3f} on {len(reliable)} customers with >= {MIN_PURCHASES} purchase days"
    # Every customer with a purchase gets a segment, also those left out of the fit.
    assert seg.labels_.index.equals(features.index) and seg.labels_.notna().all()


def test_names_describe_the_profiles(fitted):
    data, _, features, seg = fitted
    truth = data.truth.customers["needs_group"].reindex(features.index)
    majority = pd.crosstab(truth, seg.labels_).idxmax(axis=1)  # planted group -> segment id
    names = {g: seg.names_[majority[g]] for g in majority.index}
    assert names[0].startswith("Hardware-heavy") and "EMEA" in names[0]
    assert names[1].startswith("Software + Cloud") and "online" in names[1]
    assert names[2].startswith("Services-heavy") and "field sales" in names[2]
    assert names[3].startswith("Supplies-heavy") and "APAC" in names[3]
    assert len(set(seg.names_.values())) == len(seg.names_)
    assert seg.profiles_["n_customers"].sum() == len(features)
    assert list(seg.profiles_.index) == sorted(seg.names_)
    # Ids 1..k by decreasing size on a first run.
    assert seg.profiles_["n_customers"].is_monotonic_decreasing


def test_other_random_state_keeps_labels_aligned(fitted):
    _, _, features, seg = fitted
    again = NeedsSegmenter(random_state=11).fit(features, previous=seg)
    reliable = _reliable(features)
    same = (again.labels_[reliable] == seg.labels_[reliable]).mean()
    assert same >= 0.95
    assert again.names_ == seg.names_


def test_month_later_keeps_labels_aligned_through_the_store(fitted):
    data, _, features, seg = fitted
    store = Store(":memory:")
    save_profiles(store, seg, run_id="run-may")
    data_later = needs_features(fitted[1], MONTH_LATER)
    later = NeedsSegmenter(random_state=3).fit(data_later, previous=load_profiles(store))
    common = _reliable(features).intersection(data_later.index)
    same = (later.labels_[common] == seg.labels_[common]).mean()
    assert same >= 0.95
    truth = data.truth.customers["needs_group"]
    before = pd.crosstab(truth[common], seg.labels_[common]).idxmax(axis=1)
    after = pd.crosstab(truth[common], later.labels_[common]).idxmax(axis=1)
    assert before.equals(after)  # planted group g is segment s in both runs
    assert later.alignment_["previous_id"].notna().all()


def test_alignment_follows_previous_ids_and_gives_new_ids_to_extra_segments(fitted):
    _, _, features, seg = fitted
    previous = seg.centroids_.rename(index={1: 7, 2: 3, 3: 12, 4: 5})
    relabelled = NeedsSegmenter(random_state=0).fit(features, previous=previous)
    mapping = {1: 7, 2: 3, 3: 12, 4: 5}
    assert (relabelled.labels_ == seg.labels_.map(mapping)).all()
    assert relabelled.names_ == {mapping[k]: v for k, v in seg.names_.items()}
    # Five clusters against four previous segments: four keep their ids, one is new (13).
    five = NeedsSegmenter(5, random_state=0).fit(features, previous=previous)
    assert set(five.names_) == {3, 5, 7, 12, 13}
    assert np.isnan(five.alignment_.loc[13, "previous_id"])


def test_save_and_load_profiles(fitted):
    _, _, _, seg = fitted
    store = Store(":memory:")
    assert load_profiles(store) is None
    assert save_profiles(store, seg, run_id="r1") == seg.n_segments_
    assert save_profiles(store, seg, run_id="r1") == seg.n_segments_  # replaces, no duplicates
    got = load_profiles(store)
    assert got.attrs["run_id"] == "r1" and len(got) == seg.n_segments_
    pd.testing.assert_frame_equal(got, seg.centroids_, check_dtype=False, check_names=False,
                                  check_like=True, check_exact=False, rtol=1e-12)
    with store.transaction():  # as the pipeline's commit hook calls it
        save_profiles(store, seg, run_id="r1")
    assert len(load_profiles(store, "r1")) == seg.n_segments_
    renamed = seg.centroids_.assign(name=lambda d: d["name"] + " v2")
    save_profiles(store, renamed, run_id="r2")
    assert load_profiles(store)["name"].str.endswith(" v2").all()
    assert not load_profiles(store, "r1")["name"].str.endswith(" v2").any()


def test_predict_and_assign(fitted):
    _, _, features, seg = fitted
    head = features.head(50)
    assert seg.predict(head).equals(seg.labels_.head(50))
    assigned = seg.assign(head)
    assert list(assigned.columns) == ["needs_segment", "needs_segment_name"]
    assert assigned["needs_segment_name"].equals(assigned["needs_segment"].map(seg.names_))
    # A category unknown at fit time is ignored; a missing one counts as zero.
    extra = head.drop(columns=["spend_share_Cloud"]).assign(spend_share_Toys=0.0)
    assert len(seg.predict(extra)) == 50


def test_deterministic(fitted):
    _, _, features, seg = fitted
    again = NeedsSegmenter(random_state=0).fit(features)
    assert again.labels_.equals(seg.labels_) and again.names_ == seg.names_


@pytest.mark.parametrize(("params", "message"), [
    ({"n_segments": 0}, "'n_segments' parameter of NeedsSegmenter must be an int"),
    ({"n_segments": "many"}, "'n_segments'"),
    ({"min_purchases": 0}, "'min_purchases'"),
    ({"k_min": 5, "k_max": 3}, "'k_max'"),
    ({"weights": {"colour": 1.0}}, "'weights'"),
    ({"weights": {"region": -1}}, "'weights'"),
    ({"silhouette_tolerance": 2}, "'silhouette_tolerance'"),
])
def test_parameter_checks(params, message):
    features = pd.DataFrame({"spend_share_A": [1.0, 0.0] * 10, "spend_share_B": [0.0, 1.0] * 10})
    seg = NeedsSegmenter(**params)
    assert seg.get_params()[next(iter(params))] == params[next(iter(params))]  # __init__ only stores
    with pytest.raises(InputError, match=message):
        seg.fit(features)


def test_errors_and_warnings():
    with pytest.raises(NotFittedError):
        NeedsSegmenter().predict(pd.DataFrame({"spend_share_A": [1.0]}))
    with pytest.raises(InputError, match="no needs feature columns"):
        NeedsSegmenter(2).fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    with pytest.raises(InputError, match="cannot form 4 segments"):
        NeedsSegmenter(4).fit(pd.DataFrame({"spend_share_A": [1.0, 0.0]}))
    few = pd.DataFrame({"spend_share_A": [1.0, 0.9, 0.0, 0.1] * 5,
                        "spend_share_B": [0.0, 0.1, 1.0, 0.9] * 5, "purchase_days": 1.0})
    with pytest.warns(DataQualityWarning, match="purchase days"):
        NeedsSegmenter(2).fit(few)


def test_names_without_category_or_channel_data_use_the_rest_of_the_profile(synth):
    """A transaction log without categories or channels (CDNOW-like): no "Unknown-heavy"."""
    _, store = synth
    tx = store.sql("SELECT transaction_id, customer_id, transaction_date, amount FROM transactions")
    customers = store.sql("SELECT customer_id, region FROM customers")
    with Store(":memory:") as bare:
        bare.load("customers", customers)
        bare.load("transactions", tx)
        features = needs_features(bare, AS_OF)
        names = NeedsSegmenter(4, random_state=0).fit(features).names_
    assert len(names) == 4
    for name in names.values():
        assert "Unknown" not in name, name
        assert name.split(" · ")[0].split(" (")[0] in {
            "Frequent buyers", "Regular buyers", "Occasional buyers"}, name
