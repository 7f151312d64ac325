"""`crm-analytics load` and `rejects` take every table of the data contract, including the
suppressions (#15) and subscriptions (#17) added after the first four."""

from __future__ import annotations

from crm_analytics.cli import main
from crm_analytics.store import Store


def test_suppressions_and_subscriptions_load_from_the_command_line(tmp_path, capsys):
    db = str(tmp_path / "crm.duckdb")
    (tmp_path / "customers.csv").write_text("customer_id,email\nC1,a@x.org\nC2,b@x.org\n")
    (tmp_path / "suppressions.csv").write_text(
        "suppression_id,customer_id,email,phone,suppression_reason\n"
        "S1,C1,,,opt-out\n"
        "S2,,b@x.org,,bounced\n"
        "S3,,,,legal\n")  # names nobody: rejected
    (tmp_path / "subscriptions.csv").write_text(
        "subscription_id,customer_id,plan,started_at,ended_at,billing_period,recurring_amount\n"
        "U1,C1,basic,2024-01-01,,month,9.90\n"
        "U2,C2,pro,2024-03-01,2024-02-01,month,19.90\n")  # ends before it starts: rejected
    assert main(["init", "--db", db]) == 0
    assert main(["load", "customers", str(tmp_path / "customers.csv"), "--db", db]) == 0
    assert main(["load", "suppressions", str(tmp_path / "suppressions.csv"), "--db", db]) == 0
    assert main(["load", "subscriptions", str(tmp_path / "subscriptions.csv"), "--db", db]) == 0
    capsys.readouterr()
    with Store(db, read_only=True) as store:
        assert sorted(store.table("suppressions")["suppression_id"]) == ["S1", "S2"]
        assert store.table("subscriptions")["subscription_id"].tolist() == ["U1"]
        rejected = store.rejects("suppressions")
        codes = dict(zip(rejected["source_row"], rejected["reason_code"], strict=True))
        assert codes == {4: "missing_contact"}
        assert store.rejects("subscriptions")["reason_code"].tolist() == ["ended_before_started"]
    assert main(["rejects", "--table", "subscriptions", "--db", db]) == 0
    assert "ended_before_started" in capsys.readouterr().out
