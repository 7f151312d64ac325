"""Customer attributes as churn features: values, the label rule, scoring, saving, signal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from crm_analytics import churn
from crm_analytics.churn import features, reasons
from crm_analytics.errors import DataQualityWarning, InputError, ModelFileError
from tests.helpers import load_store
from tests.helpers import synthetic_data as generate_once

AS_OF = "2024-06-30"
CITIES = ["Aberdeen"] * 5 + ["Bergen"] * 4 + [f"Town {k:02d}" for k in range(21)]


@pytest.fixture(scope="module")
def hand_store(make_store):
    """30 customers, each with one purchase in June 2024, and Telco-like extra columns."""
    ids = [f"C{i:02d}" for i in range(1, 31)]
    tenure = [str(i) for i in range(1, 31)]
    tenure[1] = " "  # Telco's blank for a new customer: missing, not a category
    contract = ["Month-to-month", "One year", "Two year"] * 10
    contract[2] = ""
    customers = pd.DataFrame({
        "customer_id": ids, "Contract": contract, "tenure": tenure, "City": CITIES,
        "Churn": ["Yes", "No"] * 15, "Churn Score": [str(10 * (i % 9)) for i in range(30)],
        "CLTV": [str(1000 + i) for i in range(30)],
    })
    transactions = pd.DataFrame({
        "transaction_id": [f"T{i:02d}" for i in range(1, 31)], "customer_id": ids,
        "transaction_date": ["2024-06-01"] * 30, "amount": [10.0] * 30,
    })
    return make_store({"customers": customers, "transactions": transactions})


def _build(store, **kwargs):
    return churn.build_features(store, AS_OF, clv=False, satisfaction=False, **kwargs)


def test_numeric_and_categorical_attribute_columns(hand_store):
    X = _build(hand_store)
    attrs = X.filter(like="attr_")
    # Label-like columns (Churn, Churn Score, CLTV) are left out; the rest in name order.
    assert list(attrs.columns) == ["attr_city", "attr_contract", "attr_tenure"]
    assert list(X.columns) == churn.feature_names(attributes=["city", "contract", "tenure"])

    assert attrs["attr_tenure"].dtype == "float64"
    expected = pd.Series(np.arange(1.0, 31.0), index=X.index)
    expected["C02"] = np.nan
    pd.testing.assert_series_equal(attrs["attr_tenure"], expected, check_names=False)

    contract = attrs["attr_contract"]
    assert isinstance(contract.dtype, pd.CategoricalDtype)
    assert list(contract.cat.categories) == ["Month-to-month", "One year", "Two year"]
    assert contract[["C01", "C02", "C04"]].tolist() == ["Month-to-month", "One year",
                                                        "Month-to-month"]
    assert pd.isna(contract["C03"])  # blank: missing

    # 22 cities: the 20 most frequent kept (ties by name), the rarest become 'other'.
    city = attrs["attr_city"]
    levels = ["Aberdeen", "Bergen"] + [f"Town {k:02d}" for k in range(18)] + ["other"]
    assert list(city.cat.categories) == levels
    assert city[["C01", "C06", "C10", "C27", "C30"]].tolist() == [
        "Aberdeen", "Bergen", "Town 00", "Town 17", "other"]
    assert (city == "other").sum() == 3


def test_attribute_switches_and_the_label_rule(hand_store):
    assert _build(hand_store, attributes=False).filter(like="attr_").empty
    X = _build(hand_store, attributes=["Contract", "attr_tenure"])
    assert list(X.filter(like="attr_").columns) == ["attr_contract", "attr_tenure"]
    X = _build(hand_store, exclude_attributes=["City"])
    assert list(X.filter(like="attr_").columns) == ["attr_contract", "attr_tenure"]
    # Naming a label-like attribute uses it, with a warning about the leak.
    with pytest.warns(DataQualityWarning, match="'churn' looks like a churn label"):
        X = _build(hand_store, attributes=["churn"])
    assert X["attr_churn"].tolist()[:2] == ["Yes", "No"]
    with pytest.raises(InputError, match="no customer attribute 'plan'; it has churn, "
                                         "churn_score, city, cltv, contract, tenure"):
        _build(hand_store, attributes=["plan"])
    with pytest.raises(InputError, match="The 'attributes' parameter of build_features must be"):
        _build(hand_store, attributes="contract")
    assert [features.is_label_like(n) for n in
            ["churn", "churned", "Churn Label", "churn_value", "churn_reason", "churn_category",
             "cltv", "customer_status", "contract", "payment_method"]] == [True] * 8 + [False] * 2


def test_reason_names_the_attribute_in_words():
    levels = ["Month-to-month", "One year", "Two year"]
    X = pd.DataFrame({"attr_contract": pd.Categorical(["Month-to-month", "Two year"], levels),
                      "attr_monthly_charges": [99.5, 20.0]})

    def predict(frame):
        return np.where(frame["attr_contract"].astype(object) == "Month-to-month", 0.8, 0.1)

    typical = {"attr_contract": "Two year", "attr_monthly_charges": 30.0}
    out = reasons.explain(predict, X, X, predict(X), typical, horizon_days=90)
    assert out.loc[0, "reason_1"] == "Contract = Month-to-month (typical: Two year)"
    assert out.loc[0, "reason_group_1"] == "attribute:contract"
    assert reasons.group_features(list(X.columns)) == {
        "attribute:contract": ["attr_contract"],
        "attribute:monthly_charges": ["attr_monthly_charges"]}


# ----------------------------------------------------- a synthetic store with a driving attribute

CUTOFFS = ["2025-03-31", "2025-04-30", "2025-05-31"]
EVALUATE_AT = "2025-08-31"


def _tables(change=None):
    data = generate_once(3_000, 3)  # the churn tests' small synthetic data (cached, read-only)
    customers = data.customers.copy()
    truth = data.truth.customers.reindex(customers["customer_id"])
    # The generator's per-purchase dropout probability: the churn propensity it planted.
    customers["Dropout Propensity"] = truth["p_dropout"].map("{:.4f}".format).to_numpy()
    customers["Contract"] = np.random.default_rng(11).choice(
        ["Month-to-month", "One year", "Two year"], len(customers))
    # An outcome loaded as a column (dead by the end of the data): a leak if it were used.
    customers["Churn Label"] = np.where(truth["death_date"].notna(), "Yes", "No")
    if change is not None:
        change(customers)
    return {**data.tables(), "customers": customers}


@pytest.fixture(scope="module")
def driven_store():
    return load_store(_tables())


def _model(store, **kwargs):
    return churn.ChurnModel(max_iter=30, clv=False, satisfaction=False, **kwargs).fit(
        store, cutoffs=CUTOFFS, evaluate_at=EVALUATE_AT)


@pytest.fixture(scope="module")
def driven_model(driven_store):
    return _model(driven_store)


def test_a_driving_attribute_is_learned(driven_store, driven_model):
    schema = driven_model.attributes_
    assert list(schema) == ["contract", "dropout_propensity"]  # not the label-like churn_label
    assert schema["contract"]["kind"] == "categorical"  # levels: most frequent first
    assert sorted(schema["contract"]["levels"]) == ["Month-to-month", "One year", "Two year"]
    assert schema["dropout_propensity"] == {"kind": "numeric", "levels": []}
    assert "attr_churn_label" not in driven_model.feature_names_in_
    assert list(driven_model.categories_["attr_contract"]) == ["Month-to-month", "One year",
                                                               "Two year"]
    with_attrs = driven_model.evaluate(driven_store, EVALUATE_AT, n_repeats=1)
    without = _model(driven_store, attributes=False).evaluate(driven_store, EVALUATE_AT,
                                                              n_repeats=1)
    auc_with = with_attrs.metrics.loc["model", "roc_auc"]
    auc_without = without.metrics.loc["model", "roc_auc"]
    assert auc_with > auc_without + 0.01, (auc_with, auc_without)
    top = list(with_attrs.feature_importance.index[:3])
    assert "attr_dropout_propensity" in top, top
    assert "customer attributes (contract, dropout_propensity)" in repr(driven_model.summary())


def test_training_set_records_the_attributes(driven_store):
    training = churn.training_set(driven_store, CUTOFFS[-1:], clv=False, satisfaction=False,
                                  attributes=["dropout_propensity"])
    info = training.attrs[churn.model.TRAINING_SET_ATTRS]
    assert info["attributes"] == {"dropout_propensity": {"kind": "numeric", "levels": []}}
    assert training.columns[-3] == "attr_dropout_propensity"
    with pytest.raises(InputError, match="model has attributes=False"):
        churn.ChurnModel(clv=False, satisfaction=False, attributes=False).fit(training)


def test_unseen_levels_and_missing_attributes_at_scoring(driven_model, driven_store):
    active = churn.build_labels(driven_store, EVALUATE_AT).index[:3]

    def change(customers):
        rows = customers["customer_id"].isin(active)
        customers.loc[rows, "Contract"] = ["Three year", "", "One year"]
        customers.loc[rows, "Dropout Propensity"] = ["", "n/a", "0.5"]

    store = load_store(_tables(change))
    frame = driven_model._features(store, EVALUATE_AT).frame.loc[active]
    assert frame["attr_contract"].isna().tolist() == [True, True, False]  # unseen, blank
    assert frame["attr_dropout_propensity"].isna().tolist() == [True, True, False]
    scores = churn.score(driven_model, store, EVALUATE_AT)
    assert scores["churn_probability"].between(0, 1).all()


def test_save_load_round_trip_and_old_files(driven_model, driven_store, tmp_path):
    path = driven_model.save(tmp_path / "model.skops")
    loaded = churn.ChurnModel.load(path)
    assert loaded.attributes_ == driven_model.attributes_
    assert loaded.get_params() == driven_model.get_params()
    before = churn.score(driven_model, driven_store, EVALUATE_AT)
    pd.testing.assert_frame_equal(churn.score(loaded, driven_store, EVALUATE_AT), before)
    assert before["reason_1"].str.startswith("Dropout propensity = ").any()

    def rewrite(name, change):
        payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        meta = json.loads(payload["meta"])
        change(meta)
        payload["meta"] = json.dumps(meta)
        sio.dump(payload, tmp_path / name)
        return tmp_path / name

    def version_1(meta):  # as written before attributes were features
        meta["features_version"] = 1
        del meta["state"]["attributes_"]
        for name in ("attributes", "exclude_attributes"):
            del meta["params"][name]

    with pytest.raises(ModelFileError, match="churn features version 1, the current builder "
                                             f"is version {features.FEATURES_VERSION}"):
        churn.ChurnModel.load(rewrite("old.skops", version_1))
    with pytest.raises(ModelFileError, match=r"state\.'attributes_' should be an object"):
        churn.ChurnModel.load(rewrite("kind.skops", lambda m: m["state"]["attributes_"][
            "contract"].__setitem__("kind", "text")))
    with pytest.raises(ModelFileError, match=r"adds \['attr_plan'\]"):
        churn.ChurnModel.load(rewrite("extra.skops", lambda m: m["state"]["attributes_"]
                                      .__setitem__("plan", {"kind": "numeric", "levels": []})))
