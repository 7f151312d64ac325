"""CLV scores on Spark (aggregate in Spark, fit on the driver, score in mapInPandas) equal the
nightly run's CLV scores on DuckDB for the same data and as_of, to 1e-9 relative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.clv import CLVModel, rfm_summary
from crm_analytics.clv.model import customer_value_scores
from crm_analytics.errors import InputError, ModelFileError
from tests.spark.conftest import AS_OF

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
]


def test_clv_scores_on_spark_equal_duckdbs(spark, spark_tables, duck_store):
    from crm_analytics.spark import engine, scoring

    model, frame = scoring.clv_scores(spark, AS_OF)
    got = engine.to_pandas(frame).set_index("customer_id").sort_index()
    summary = rfm_summary(duck_store, AS_OF, time_unit="W")
    local = CLVModel().fit(summary)
    want = customer_value_scores(local, summary).sort_index()
    # Same parameters: the fit on the histories with counts is the fit on every customer.
    np.testing.assert_allclose(model.params_.to_numpy(), local.params_.to_numpy(), rtol=1e-9)
    assert model.n_customers_ == len(summary) == len(got) > 100
    assert got.index.tolist() == want.index.tolist()
    numeric = want.select_dtypes("number").columns
    assert {"clv", "p_alive", "expected_purchases"} <= set(numeric)
    np.testing.assert_allclose(got[numeric].to_numpy(float), want[numeric].to_numpy(float),
                               rtol=1e-9, atol=1e-12)
    assert got["spend_basis"].tolist() == want["spend_basis"].astype(object).tolist()


def test_histories_count_every_customer_once(spark, spark_tables, duck_store):
    from crm_analytics.spark import scoring

    found = scoring.histories(spark, AS_OF)
    summary = rfm_summary(duck_store, AS_OF, time_unit="W")
    assert found["customers"].sum() == len(summary)
    by_hand = summary.groupby(["frequency", "recency", "T", "monetary_value"]).size()
    mine = found.set_index(["frequency", "recency", "T", "monetary_value"])["customers"]
    pd.testing.assert_series_equal(mine.sort_index().astype(int), by_hand.sort_index(),
                                   check_names=False)


def test_nothing_to_fit_is_an_input_error(spark, spark_tables):
    from crm_analytics.spark import scoring

    with pytest.raises(InputError, match="no customer with a purchase up to 1990-01-01"):
        scoring.clv_scores(spark, "1990-01-01")


def test_a_model_travels_as_json_not_pickle():
    m = CLVModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert CLVModel.from_dict(m.to_dict()).params_.equals(m.params_)
    with pytest.raises(ModelFileError, match="not a CLV model description"):
        CLVModel.from_dict({"format": "pickle"})
    bad = m.to_dict()
    bad["purchase_model"]["params"]["alpha"] = -1.0
    with pytest.raises(ModelFileError, match="damaged"):
        CLVModel.from_dict(bad)
