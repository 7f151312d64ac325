"""``crm-analytics customer``: one customer's card as text or JSON, found by id, e-mail, phone or name."""

from __future__ import annotations

import json

import pytest

from crm_analytics.cli import main
from crm_analytics.customers import customer_view
from crm_analytics.store import Store
from tests.customers.scored import AS_OF, EMPTY, EMPTY_NAME, TICKETS_ONLY, scored_store

# Every test here uses the shared scored store (built once per session, 10-20 s).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db():
    return str(scored_store().path)


def test_card_as_text(db, capsys):
    assert main(["customer", TICKETS_ONLY, "--db", db, "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tess Ticket (Z-TICKETS)")
    assert "Next best action: Resolve the open complaint first" in out
    assert "ZT1" in out and "breached" in out and "Contact history: not recorded yet" in out


def test_card_as_json_equals_the_view(db, capsys):
    assert main(["customer", TICKETS_ONLY, "--db", db, "--as-of", AS_OF, "--json"]) == 0
    with Store(db, read_only=True) as store:
        expected = json.loads(json.dumps(customer_view(store, TICKETS_ONLY, AS_OF).to_dict()))
    assert json.loads(capsys.readouterr().out) == expected


@pytest.mark.parametrize("flags", [["--email", "  ZOE.ANGSTROM@EXAMPLE.ORG "], ["--phone", "(030) 123 45 67"],
                                   ["--name", "zoe angstrom muller"]])
def test_one_match_shows_its_card(db, capsys, flags):
    assert main(["customer", *flags, "--db", db]) == 0
    assert capsys.readouterr().out.startswith(f"{EMPTY_NAME} ({EMPTY})")


def test_several_matches_are_listed(db, capsys):
    assert main(["customer", "--name", "a", "--limit", "3", "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 customers match --name 'a'")
    assert main(["customer", "--name", "a", "--limit", "3", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["matches"]) == 3 and data["matches"][0]["rank"] == 1


@pytest.mark.parametrize("argv, message", [
    (["customer", "NO-SUCH"], "no customer 'NO-SUCH'"),
    (["customer", "--name", "nobody-at-all"], "no customer matches --name"),
    (["customer"], "needs an ID or one of"),
    (["customer", EMPTY, "--email", "a@b.cd"], "needs an ID or one of"),
    (["customer", "--phone", "12-34"], "at least 6 digits"),
])
def test_input_errors_exit_2_in_one_line(db, capsys, argv, message):
    assert main([*argv, "--db", db]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_store_exits_2(tmp_path, capsys):
    assert main(["customer", "C1", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no store here" in capsys.readouterr().err
