"""One small scored store shared by the customer-view, search and web-app tests.

Synthetic data (300 customers, seed 7) plus four planted customers whose every
part is known by construction, one scoring run as of :data:`AS_OF` (all steps:
the churn part needs the churn step, trained on three cutoffs to be quick), and one
custom segment. Built once per test
session (``functools.cache``) into a temporary folder removed at exit; treat it as
read-only.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import crm_analytics as crm
from crm_analytics import segmentation
from crm_analytics.store import Store
from tests.helpers import synthetic_data

#: The date of the run and of most views (the data go on to 2025-12-30).
AS_OF = "2025-12-15"
#: A customer with no transaction, ticket or answer; accented name, odd contact formats.
EMPTY = "Z-EMPTY"
EMPTY_NAME = "Zoë Ångström-Müller"
EMPTY_EMAIL = "zoe.angstrom@example.org"
EMPTY_PHONE = "+49 30 1234567"
#: A customer with tickets and survey answers but no transactions.
TICKETS_ONLY = "Z-TICKETS"
#: A customer whose name is an HTML/JS payload.
HOSTILE = "Z-HOSTILE"
HOSTILE_NAME = '<img src=x onerror="alert(1)"><script>alert(\'x\')</script> & Co'
#: A customer created after AS_OF.
LATE = "Z-LATE"
SEGMENT = "Test EMEA"
SEGMENT_RULE = "region = 'EMEA'"


@dataclass(frozen=True)
class Scored:
    path: Path
    run_id: str
    tables: dict[str, pd.DataFrame]


def _planted() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame({
        "customer_id": [EMPTY, TICKETS_ONLY, HOSTILE, LATE],
        "name": [EMPTY_NAME, "Tess Ticket", HOSTILE_NAME, "Late Comer"],
        "email": ["  Zoe.Angstrom@Example.ORG ", "tess@example.com", "hostile@example.com",
                  "late@example.com"],
        "phone": [EMPTY_PHONE, "+44 20 7946 0958", "+1 202 555 0143", "+33 1 23 45 67 89"],
        "country": ["DE", "GB", "US", "FR"],
        "customer_type": ["consumer", "business", "consumer", "consumer"],
        "employees": [None, 40, None, None],
        "industry": [None, "Retail", None, None],
        "created_at": ["2024-02-01", "2024-03-01", "2024-04-01", "2025-12-20"],
        "marketing_opt_in": ["yes", "yes", "no", "yes"],
    })
    tickets = pd.DataFrame({
        "ticket_id": ["ZT1", "ZT2", "ZT3", "ZT4", "ZT5"],
        "customer_id": [TICKETS_ONLY] * 5,
        # ZT1 an open complaint past its SLA; ZT2 open, due within hours at the end of
        # AS_OF; ZT3 resolved in time, reopened; ZT4 resolved only after AS_OF (open then,
        # deadline not passed); ZT5 opened after AS_OF (not shown).
        "opened_at": ["2025-12-10 09:00", "2025-12-15 23:00", "2025-11-01 10:00", "2025-12-14 00:00",
                      "2025-12-20 10:00"],
        "first_response_at": ["2025-12-10 10:00", None, "2025-11-01 10:30", "2025-12-14 02:00", None],
        "resolved_at": [None, None, "2025-11-01 12:00", "2025-12-20 08:00", None],
        "priority": ["P2", "P1", "P3", "P4", "P3"],
        "category": ["billing", "technical", "delivery", "billing", "billing"],
        "channel": ["phone"] * 5,
        "sla_hours": [24, 4, 8, 72, 24],
        "is_complaint": [True, False, False, False, True],
        "reopened": [False, False, True, False, False],
    })
    answers = pd.DataFrame({
        "response_id": ["ZR1", "ZR2", "ZR3", "ZR4"],
        "customer_id": [TICKETS_ONLY] * 4,
        "responded_at": ["2025-10-01", "2025-12-01", "2025-12-02", "2025-12-20"],
        "survey": ["nps", "nps", "csat", "nps"],
        "item": ["nps", "nps", "csat", "nps"],
        "score": [8, 3, 2, 10],
        "scale_min": [0, 0, 1, 0],
        "scale_max": [10, 10, 5, 10],
    })
    return {"customers": customers, "tickets": tickets, "survey_responses": answers}


def _refunds(transactions: pd.DataFrame) -> pd.DataFrame:
    """Two refunds for the busiest customer, before AS_OF (the generator makes few)."""
    busiest = transactions["customer_id"].value_counts().index[0]
    return pd.DataFrame({
        "transaction_id": ["ZX1", "ZX2"], "customer_id": [busiest, busiest],
        "transaction_date": ["2025-12-01 10:00", "2025-12-15 23:59:59"], "amount": [-25.5, -4.25],
        "quantity": [1, 1], "product_category": ["Hardware", "Supplies"], "channel": ["online"] * 2,
    })


@functools.cache
def scored_store() -> Scored:
    """Build (once) the store file, its run and its custom segment."""
    folder = Path(tempfile.mkdtemp(prefix="crm_customers_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "crm.duckdb"
    data = synthetic_data(300, 7)
    planted = _planted()
    with Store(path) as store:
        store.load_all(data.tables())
        for name, frame in planted.items():
            store.load(name, frame)
        store.load("transactions", _refunds(data.transactions))
        # Three training cutoffs instead of twelve: the churn part needs scores, not a good model.
        run = crm.run_batch(store, as_of=AS_OF, progress=False,
                            config={"model_dir": str(folder / "models"), "churn_training_months": 3})
        segmentation.define_segment(store, SEGMENT, SEGMENT_RULE)
        tables = {name: store.table(name) for name in ("customers", "transactions", "tickets",
                                                        "survey_responses", "customer_scores")}
    return Scored(path=path, run_id=run.run_id, tables=tables)
