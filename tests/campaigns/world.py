"""A small, seeded world for the campaign tests: customers sharing contacts, consent,
suppressions and complaint tickets that start and end during a quarter.

Everything the tests check is known here by construction (``World`` holds the
truth), so the tests compare the exports against it, not against the code under test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-01 09:00")


@dataclass
class World:
    customers: pd.DataFrame
    scores: pd.DataFrame
    tickets: pd.DataFrame
    suppressions: pd.DataFrame
    group: dict[str, int]  # customer_id -> person (shared e-mail/phone, transitively)

    def __post_init__(self) -> None:
        self.members: dict[int, list[str]] = {}
        for c, g in self.group.items():
            self.members.setdefault(g, []).append(c)
        self.by_id = self.customers.set_index("customer_id")


def _union_find(customers: pd.DataFrame) -> dict[str, int]:
    parent = {c: c for c in customers["customer_id"]}

    def find(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for column in ("email", "phone"):
        keys = customers[column].map(lambda v: v.lower() if isinstance(v, str) else None)
        first: dict[str, str] = {}
        for cid, key in zip(customers["customer_id"], keys, strict=True):
            if key is None:
                continue
            if key in first:
                parent[find(cid)] = find(first[key])
            else:
                first[key] = cid
    roots = {c: find(c) for c in parent}
    ids = {r: i for i, r in enumerate(sorted(set(roots.values())))}
    return {c: ids[r] for c, r in roots.items()}


def build_world(n: int = 240, seed: int = 7) -> World:
    rng = np.random.default_rng(seed)
    ids = [f"C{i:04d}" for i in range(n)]
    email = [f"c{i}@shop.example" for i in range(n)]
    phone = [f"+49 30 {5000000 + i}" for i in range(n)]
    # 20 records share the e-mail of another one (spelt in capitals), 10 the phone.
    for i in range(0, 40, 2):
        email[i + 1] = email[i].upper()
    for i in range(40, 60, 2):
        phone[i + 1] = phone[i]
    opt = rng.choice(np.array([True, False, None], dtype=object), size=n, p=[0.9, 0.05, 0.05])
    customers = pd.DataFrame({"customer_id": ids, "name": [f"Name {i}" for i in range(n)],
                              "email": email, "phone": phone, "marketing_opt_in": opt})
    scores = pd.DataFrame({
        "risk_band": rng.choice(["high", "medium", "low"], size=n),
        "clv": rng.gamma(2.0, 100.0, size=n).round(2),
    }, index=pd.Index(ids, name="customer_id"))
    # Complaint tickets: opened during the quarter, some resolved, some still open.
    who = rng.choice(n, size=30, replace=False)
    opened = START.normalize() + pd.to_timedelta(rng.integers(0, 80, size=30), unit="D")
    resolved = [o + pd.Timedelta(days=int(d)) if d < 25 else pd.NaT
                for o, d in zip(opened, rng.integers(1, 35, size=30), strict=True)]
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i}" for i in range(30)], "customer_id": [ids[i] for i in who],
        "opened_at": opened, "resolved_at": resolved,
        "is_complaint": [True] * 24 + [False] * 6,
    })
    # Suppressions by id, e-mail and phone, with every reason and some date ranges.
    rows = []
    pick = rng.choice(n, size=40, replace=False)
    reasons = ["opt-out", "bounced", "legal", "do-not-call"]
    for k, i in enumerate(pick):
        by = ("customer_id", "email", "phone")[k % 3]
        reason = reasons[k % 4]
        start = START.normalize() + pd.Timedelta(days=int(rng.integers(0, 60))) if k % 2 else pd.NaT
        until = start + pd.Timedelta(days=20) if k % 4 == 1 else pd.NaT
        value = {"customer_id": ids[i], "email": email[i].upper(), "phone": phone[i]}[by]
        rows.append({"suppression_id": f"S{k}", "customer_id": None, "email": None, "phone": None,
                     by: value, "suppression_reason": reason, "valid_from": start,
                     "valid_until": until})
    suppressions = pd.DataFrame(rows)
    return World(customers, scores, tickets, suppressions, _union_find(customers))


def load_world(store, world: World) -> None:
    store.load("customers", world.customers)
    store.load("tickets", world.tickets)
    report = store.load("suppressions", world.suppressions)
    assert report.rows_rejected == 0, store.rejects("suppressions")


def draw(customer_id: str, campaign: str) -> float:
    """The documented holdout hash, computed independently of the package."""
    digest = hashlib.sha256(f"{campaign}\x1f{customer_id}".encode()).hexdigest()
    return (int(digest[:16], 16) >> 11) / 2**53


def _suppression_persons(world: World) -> list[tuple[object, set[int]]]:
    """Each suppression with the persons it matches (cached on the world)."""
    cached = getattr(world, "_persons", None)
    if cached is None:
        c = world.by_id
        emails = c["email"].str.lower()
        cached = []
        for s in world.suppressions.itertuples():
            if isinstance(s.customer_id, str):
                hit = c.index == s.customer_id
            elif isinstance(s.email, str):
                hit = (emails == s.email.lower()).to_numpy()
            else:
                hit = (c["phone"] == s.phone).to_numpy()
            cached.append((s, {world.group[m] for m in c.index[hit]}))
        world._persons = cached
    return cached


def suppressed(world: World, customer_id: str, channel: str, at: pd.Timestamp) -> bool:
    """Whether the world's suppressions or open complaints cover this customer's person."""
    person = world.group[customer_id]
    members = world.members[person]
    for s, persons in _suppression_persons(world):
        if person not in persons:
            continue
        if pd.notna(s.valid_from) and s.valid_from > at:
            continue
        if pd.notna(s.valid_until) and s.valid_until.date() < at.date():
            continue
        via = "customer_id" if isinstance(s.customer_id, str) else (
            "email" if isinstance(s.email, str) else "phone")
        if s.suppression_reason == "do-not-call" and channel not in ("phone", "sms"):
            continue
        if s.suppression_reason == "bounced" and via == "email" and channel != "email":
            continue
        if s.suppression_reason == "bounced" and via == "phone" and channel not in ("phone", "sms"):
            continue
        return True
    for t in world.tickets.itertuples():
        if t.is_complaint and t.customer_id in members and t.opened_at <= at \
                and (pd.isna(t.resolved_at) or t.resolved_at > at):
            return True
    return False


def consent_ok(world: World, customer_id: str) -> bool:
    c = world.by_id
    members = world.members[world.group[customer_id]]
    return c.loc[customer_id, "marketing_opt_in"] is True and not any(
        c.loc[m, "marketing_opt_in"] is False for m in members)
