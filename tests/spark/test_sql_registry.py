"""Every SQL file of the package declares its parameters, grain and engines in a header."""

from __future__ import annotations

import pytest

from crm_analytics.store.sql_registry import (
    SqlHeaderError,
    parse_header,
    query_names,
    query_spec,
    registry,
    spark_queries,
)

NAMES = query_names()


def test_the_registry_finds_every_sql_file():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "crm_analytics"
    on_disk = sorted(str(p.relative_to(root)) for p in root.rglob("*.sql"))
    assert on_disk == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_header_is_valid_and_declares_exactly_the_parameters_used(name):
    spec = query_spec(name)  # raises SqlHeaderError on a malformed header
    declared, used = set(spec.params), spec.used_params()
    assert declared == used, (
        f"{name}: declared but unused {sorted(declared - used)}, "
        f"used but undeclared {sorted(used - declared)}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_prose_header_still_names_each_parameter(name):
    # The machine-readable line sits above the prose; both must agree on the names.
    text = query_spec(name).text
    for param in query_spec(name).params:
        assert f"${param}" in text


def test_spark_queries_are_the_contract_queries():
    names = {s.name for s in spark_queries()}
    assert len(names) == 24
    assert not any(n.startswith("customers/") for n in names)
    assert "clv/sql/rfm_summary.sql" in names and "store/sql/size_band.sql" not in names


def test_fragment_parameters_are_declared_by_every_file_including_it():
    fragment = query_spec("store/sql/size_band.sql")
    for spec in registry().values():
        if "@include store/sql/size_band.sql" in spec_source(spec.name):
            assert set(fragment.params) <= set(spec.params), spec.name


def spec_source(name: str) -> str:
    from importlib import resources

    return resources.files("crm_analytics").joinpath(name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1", "line 1 must be '-- @params ...'"),
        ("-- @params as_of:DATE\nSELECT 1", "line 2 must be '-- @grain ...'"),
        ("-- @params as_of:DAY\n-- @grain x\n-- @engines duckdb", "must be name:TYPE"),
        ("-- @params Asof:DATE\n-- @grain x\n-- @engines duckdb", "must be name:TYPE"),
        ("-- @params a:DATE a:DATE\n-- @grain x\n-- @engines duckdb", "declares 'a' twice"),
        ("-- @params\n-- @grain x\n-- @engines duckdb", "@params is empty"),
        ("-- @params (none)\n-- @grain\n-- @engines duckdb", "@grain must list"),
        ("-- @params (none)\n-- @grain x\n-- @engines spark", "must list 'duckdb'"),
        ("-- @params (none)\n-- @grain x\n-- @engines duckdb flink", "must list 'duckdb'"),
    ],
)
def test_malformed_headers_are_refused_with_the_file_and_the_rule(text, message):
    with pytest.raises(SqlHeaderError, match="q.sql: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_header(text, "q.sql")


def test_special_grains_and_list_types():
    spec = parse_header("-- @params ids:VARCHAR[]\n-- @grain (no rows)\n-- @engines duckdb", "q.sql")
    assert spec.params == {"ids": "VARCHAR[]"} and spec.kind == "statement" and spec.grain == ()
