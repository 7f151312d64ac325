"""Every run option is range-checked: one line naming the option and what it must be."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from crm_analytics.errors import InputError
from crm_analytics.scoring.config import RunConfig, load_config

BAD_VALUES = [
    ("clv_horizon_days", 1_000_000, "a whole number of days in [1, 3650]"),
    ("clv_horizon_days", 0, "[1, 3650]"),
    ("clv_horizon_days", -1, "[1, 3650]"),
    ("clv_horizon_days", "365.5", "[1, 3650]"),
    ("clv_horizon_days", "inf", "[1, 3650]"),
    ("clv_horizon_days", "1e400", "[1, 3650]"),
    ("clv_horizon_days", True, "[1, 3650]"),
    ("clv_horizon_days", [365], "[1, 3650]"),
    ("churn_horizon_days", 731, "[1, 730]"),
    ("churn_horizon_days", 0, "[1, 730]"),
    ("churn_horizon_days", "ninety", "[1, 730]"),
    ("churn_active_days", 3651, "[1, 3650]"),
    ("churn_active_days", 0, "[1, 3650]"),
    ("churn_training_months", 61, "[1, 60]"),
    ("churn_training_months", 0, "[1, 60]"),
    ("threads", 257, "[0, 256]"),
    ("threads", -1, "[0, 256]"),
    ("memory_limit", "0GB", "at least 64MB"),
    ("memory_limit", "10MB", "at least 64MB"),
    ("memory_limit", "lots", "at least 64MB"),
    ("memory_limit", "2", "at least 64MB"),
    ("memory_limit", "-2GB", "at least 64MB"),
    ("seed", -1, "[0, 4294967295]"),
    ("seed", 2**32, "[0, 4294967295]"),
    ("keep_runs", 0, "[1, 10000]"),
    ("keep_runs", 10_001, "[1, 10000]"),
    ("busy_timeout", -1, "[0, 86400]"),
    ("busy_timeout", 86_401, "[0, 86400]"),
    ("busy_timeout", "nan", "[0, 86400]"),
    ("busy_timeout", math.inf, "[0, 86400]"),
    ("model_max_age_days", -1, "[0, 3650]"),
    ("model_max_age_days", 3651, "[0, 3650]"),
    ("min_n", 0, "[1, 1000000]"),
    ("min_n", 1_000_001, "[1, 1000000]"),
    ("large_employees", 0, "a positive number"),
    ("large_employees", -5, "a positive number"),
    ("large_employees", "nan", "a positive number"),
    ("large_revenue", "inf", "a positive number"),
    ("large_revenue", math.nan, "a positive number"),
    ("large_revenue", "big", "a positive number"),
    ("annual_discount_rate", 1, "a rate in [0, 1)"),
    ("annual_discount_rate", -0.01, "[0, 1)"),
    ("annual_discount_rate", "nan", "[0, 1)"),
    ("annual_discount_rate", "-inf", "[0, 1)"),
    ("needs_segments", "1", "'auto' or a whole number in [2, 50]"),
    ("needs_segments", "51", "[2, 50]"),
    ("needs_segments", "many", "[2, 50]"),
    ("needs_segments", 0, "[2, 50]"),
    ("needs_segments", "-3", "[2, 50]"),
    ("as_of", "2024-13-45", "YYYY-MM-DD"),
    ("as_of", "01/02/2024", "YYYY-MM-DD"),
    ("as_of", "yesterday", "YYYY-MM-DD"),
    ("as_of", "2023-02-29", "YYYY-MM-DD"),
    ("as_of", "20240102", "YYYY-MM-DD"),
    ("as_of", 20240102, "text"),
    ("retrain", "maybe", "true or false"),
    ("retrain", 2, "true or false"),
    ("retrain", 1.5, "true or false"),
    ("purchase_model", "gamma", "one of bgnbd"),
    ("model_dir", ["models"], "text"),
    ("steps", 5, "a list of names"),
]


@pytest.mark.parametrize(("name", "value", "rule"), BAD_VALUES,
                         ids=[f"{n}={v!r}" for n, v, _ in BAD_VALUES])
def test_bad_values_are_one_line_naming_the_option(name, value, rule):
    with pytest.raises(InputError) as info:
        load_config(overrides={name: value}, environ={})
    message = str(info.value)
    assert message.startswith(f"config option {name} must be ")
    assert rule in message and "; got " in message
    assert "\n" not in message


def test_message_shape():
    with pytest.raises(InputError) as info:
        load_config(overrides={"clv_horizon_days": 1_000_000}, environ={})
    assert str(info.value) == ("config option clv_horizon_days must be a whole number of days "
                               "in [1, 3650]; got 1000000")


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("clv_horizon_days", 1, 1), ("clv_horizon_days", 3650, 3650), ("clv_horizon_days", "30", 30),
    ("clv_horizon_days", 365.0, 365),
    ("churn_horizon_days", 730, 730), ("churn_active_days", 3650, 3650),
    ("churn_training_months", 60, 60), ("churn_training_months", 1, 1),
    ("threads", 0, 0), ("threads", 256, 256),
    ("memory_limit", "64MB", "64MB"), ("memory_limit", "2GB", "2GB"),
    ("memory_limit", "1.5 GiB", "1.5 GiB"), ("memory_limit", "", ""),
    ("seed", 0, 0), ("seed", 2**32 - 1, 2**32 - 1),
    ("keep_runs", 1, 1), ("keep_runs", 10_000, 10_000),
    ("busy_timeout", 0, 0), ("busy_timeout", "86400", 86_400.0),
    ("model_max_age_days", 0, 0), ("model_max_age_days", 3650, 3650),
    ("min_n", 1, 1), ("min_n", 1_000_000, 1_000_000),
    ("large_employees", 0.5, 0.5), ("large_employees", 250, 250), ("large_revenue", "1e9", 1e9),
    ("annual_discount_rate", 0, 0), ("annual_discount_rate", 0.999, 0.999),
    ("needs_segments", "auto", "auto"), ("needs_segments", "AUTO", "auto"),
    ("needs_segments", 2, "2"), ("needs_segments", "50", "50"),
    ("as_of", "", ""), ("as_of", "2024-02-29", "2024-02-29"), ("as_of", " 2024-12-31 ", "2024-12-31"),
    ("as_of", dt.date(2024, 12, 31), "2024-12-31"),
    ("as_of", dt.datetime(2024, 12, 31, 13, 5), "2024-12-31"),
    ("retrain", "true", True), ("retrain", "False", False), ("retrain", "yes", True),
    ("retrain", 1, True), ("retrain", False, False),
    ("steps", "inputs, clv", ["inputs", "clv"]), ("steps", [], []),
    ("model_dir", "", ""),
])
def test_edge_values_are_accepted(name, value, expected):
    got = getattr(load_config(overrides={name: value}, environ={}), name)
    assert got == expected and type(got) is type(expected)


def test_defaults_stay_valid():
    assert load_config(environ={}).to_dict() == RunConfig().to_dict()


def test_folders_must_not_be_files(tmp_path):
    (tmp_path / "afile").write_text("x")
    load_config(overrides={"model_dir": str(tmp_path / "new" / "models")}, environ={})
    for name in ("model_dir", "dashboard_dir"):
        for value, where in ((tmp_path / "afile", "is a file"),
                             (tmp_path / "afile" / "sub", "which is a file")):
            with pytest.raises(InputError, match=f"config option {name} must be a folder") as info:
                load_config(overrides={name: str(value)}, environ={})
            assert where in str(info.value)


def test_environment_values_are_checked_too():
    with pytest.raises(InputError, match=r"config option threads must be .*\[0, 256\]; got 1000"):
        load_config(environ={"CRM_ANALYTICS_THREADS": "1000"})
    with pytest.raises(InputError, match="config option busy_timeout"):
        load_config(environ={"CRM_ANALYTICS_BUSY_TIMEOUT": "nan"})


@pytest.mark.parametrize(("text", "needle"), [
    ("clv_horizon_days = 1000000\n", "config option clv_horizon_days must be"),
    ("annual_discount_rate = nan\n", "config option annual_discount_rate must be"),
    ("large_revenue = inf\n", "config option large_revenue must be"),
    ("as_of = 2024-12-31T10:00:00\n", None),
    ("as_of = 2024-12-31\n", None),
    ("retrain = 1\n", None),
    ("crm_analytics = 5\n", "must be a table of options"),
    ("[crm_analytics]\nseed = -1\n", "config option seed must be"),
    ("needs_segments = 4\n", None),
])
def test_toml_values(tmp_path, text, needle):
    path = tmp_path / "crm.toml"
    path.write_text(text)
    if needle is None:
        load_config(path, environ={})
        return
    with pytest.raises(InputError, match=needle):
        load_config(path, environ={})


@pytest.mark.parametrize(("make", "needle"), [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: None, "config file not found"),
])
def test_config_path_problems(tmp_path, make, needle):
    path = tmp_path / "crm.toml"
    make(path)
    with pytest.raises(InputError, match=needle):
        load_config(path, environ={})
    with pytest.raises(InputError, match="the path is empty"):
        load_config("", environ={})
