"""rfm_summary: exact values on a hand-made log, time units, the as-of boundary, and
equality with lifetimes' summary on CDNOW."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crm_analytics.clv import DAYS_PER_UNIT, rfm_summary
from crm_analytics.clv.summary import check_summary
from crm_analytics.errors import InputError
from tests.clv.clv_testdata import AS_OF, CALIBRATION_END, cdnow_raw

with warnings.catch_warnings():
    from lifetimes.utils import summary_data_from_transaction_data


def frame(rows: dict[str, tuple]) -> pd.DataFrame:
    columns = ["frequency", "recency", "T", "monetary_value", "frequency_holdout",
               "monetary_value_holdout", "duration_holdout"]
    width = len(next(iter(rows.values())))
    out = pd.DataFrame.from_dict(rows, orient="index", columns=columns[:width], dtype=float)
    out.index = out.index.astype(str)
    out.index.name = "customer_id"
    return out


def test_toy_log_exact_values(toy_store):
    got = rfm_summary(toy_store, "2024-01-31")
    expected = frame({
        # A: occasions 01-01 (15), 01-08 (20 - 5), 01-22 (free item, 0), 01-31 23:30 (30);
        #    the refund-only 01-15 is no occasion. Mean repeat value (15 + 0 + 30) / 3.
        "A": (3, 30 / 7, 30 / 7, 15.0),
        # B: the refund-only day is no occasion, so B stays a one-time buyer.
        "B": (0, 0.0, 21 / 7, 0.0),
        # C (refunds only) is absent; D's 02-01 purchase is after as_of.
        "D": (0, 0.0, 11 / 7, 0.0),
        # E: the first day nets to -10 but holds a sale, so it starts the clock.
        "E": (1, 1.0, 4.0, 50.0),
        # F: the repeat day nets to -20 (same-day refund > sale): monetary_value < 0.
        "F": (1, 1.0, 29 / 7, -20.0),
    })
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=0, atol=1e-12)
    assert got.attrs == {"time_unit": "W", "as_of": "2024-01-31", "calibration_end": None}


def test_toy_log_with_holdout(toy_store):
    got = rfm_summary(toy_store, "2024-01-31", calibration_end="2024-01-15")
    d = 16 / 7
    expected = frame({
        "A": (1, 1.0, 2.0, 15.0, 2, 15.0, d),        # holdout: 01-22 (0) and 01-31 (30)
        "B": (0, 0.0, 5 / 7, 0.0, 0, 0.0, d),
        # D's first purchase (01-20) is after calibration_end: not in the calibration cohort.
        "E": (1, 1.0, 12 / 7, 50.0, 0, 0.0, d),
        "F": (1, 1.0, 13 / 7, -20.0, 0, 0.0, d),
    })
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=0, atol=1e-12)


@pytest.mark.parametrize("unit", ["D", "W", "M"])
def test_time_units_are_days_divided_by_the_unit(toy_store, unit):
    days = rfm_summary(toy_store, "2024-01-31", time_unit="D")
    got = rfm_summary(toy_store, "2024-01-31", time_unit=unit)
    assert DAYS_PER_UNIT[unit] == {"D": 1.0, "W": 7.0, "M": 365.25 / 12}[unit]
    for column in ("recency", "T"):
        np.testing.assert_allclose(got[column], days[column] / DAYS_PER_UNIT[unit], rtol=1e-15)
    pd.testing.assert_series_equal(got["frequency"], days["frequency"])
    assert days.loc["A", "T"] == 30.0 and got.attrs["time_unit"] == unit


def test_as_of_is_inclusive(toy_store):
    # A's 23:30 purchase on 01-31 counts as of 01-31, not as of 01-30.
    assert rfm_summary(toy_store, "2024-01-31").loc["A", "frequency"] == 3
    assert rfm_summary(toy_store, "2024-01-30").loc["A", "frequency"] == 2
    # Customers whose first purchase is after as_of do not appear.
    assert "D" not in rfm_summary(toy_store, "2024-01-19").index


def test_parameter_errors(toy_store):
    with pytest.raises(InputError, match="The 'time_unit' parameter of rfm_summary must be"):
        rfm_summary(toy_store, "2024-01-31", time_unit="Q")
    with pytest.raises(InputError, match="calibration_end .* must be before as_of"):
        rfm_summary(toy_store, "2024-01-31", calibration_end="2024-01-31")
    with pytest.raises(InputError, match="not a date"):
        rfm_summary(toy_store, "31/31/2024")


def test_check_summary_names_rule_and_customer():
    ok = pd.DataFrame({"frequency": [1.0, 0.0], "recency": [2.0, 0.0], "T": [3.0, 3.0]},
                      index=pd.Index(["C101", "C102"], name="customer_id"))
    check_summary(ok)
    bad = ok.copy()
    bad.loc["C102", "recency"] = 5.0
    with pytest.raises(InputError, match=r"1 customers have recency > T \(e.g. customer_id='C102'\)"):
        check_summary(bad)
    bad = ok.copy()
    bad.loc["C101", "frequency"] = 1.5
    with pytest.raises(InputError, match="frequency that is not a whole number.*C101"):
        check_summary(bad)
    with pytest.raises(InputError, match="Required column T missing"):
        check_summary(ok.drop(columns="T"))
    with pytest.raises(InputError, match="Column customer_id has duplicate entries"):
        check_summary(pd.concat([ok, ok]))


def test_cdnow_counts(cdnow_summary):
    assert len(cdnow_summary) == 2357
    assert int((cdnow_summary["frequency"] > 0).sum()) == 946
    # Repeat transactions in weeks 40-78 (days, not calendar weeks: lifetimes' freq="W"
    # would give 1,788).
    assert cdnow_summary["frequency_holdout"].sum() == 1882
    assert cdnow_summary["duration_holdout"].unique().tolist() == [39.0]


def test_cdnow_equals_lifetimes_summary(cdnow_store):
    raw = cdnow_raw()
    tx = pd.DataFrame({
        "customer_id": raw["customer_id"],
        "date": pd.to_datetime(raw["transaction_date"], format="%Y%m%d"),
        "amount": raw["amount"].astype(float),
    })
    for end in (CALIBRATION_END, AS_OF):
        part = tx[tx["date"] <= end].reset_index(drop=True)  # pandas 3: default index needed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = summary_data_from_transaction_data(
                part, "customer_id", "date", "amount", observation_period_end=end,
                freq="D", freq_multiplier=7,
            )
        reference = reference.sort_index()
        reference.index = reference.index.astype(str)
        reference.index.name = "customer_id"
        ours = rfm_summary(cdnow_store, end, time_unit="W")
        assert not reference.isna().any().any()
        pd.testing.assert_frame_equal(ours, reference, check_exact=False, rtol=1e-9, atol=1e-9,
                                      check_index_type=False)
