"""Test data of the CLV tests: the CDNOW sample and a hand-made toy log.

A uniquely named module (not ``conftest``) so that test modules can import it
whatever other test folders hold.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

with warnings.catch_warnings():  # lifetimes changes warning filters at import
    import lifetimes

CDNOW_SAMPLE = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
CALIBRATION_END = "1997-09-30"
AS_OF = "1998-06-30"


def cdnow_raw() -> pd.DataFrame:
    """The raw CDNOW sample: master id, sample id, yyyymmdd date, quantity, amount."""
    return pd.read_csv(
        CDNOW_SAMPLE, sep=r"\s+", header=None, dtype=str,
        names=["master_id", "customer_id", "transaction_date", "quantity", "amount"],
    )


# A hand-made log; expected summaries are worked out in test_clv_summary.py.
TOY_TRANSACTIONS = [
    # id, customer, timestamp, amount
    ("A1", "A", "2024-01-01 10:00:00", 10.0),   # basket of two lines: one occasion, 15
    ("A2", "A", "2024-01-01 10:00:00", 5.0),
    ("A3", "A", "2024-01-08 09:00:00", 20.0),   # sale and same-day refund: occasion worth 15
    ("A4", "A", "2024-01-08 17:00:00", -5.0),
    ("A5", "A", "2024-01-15 12:00:00", -10.0),  # refund only: not an occasion
    ("A6", "A", "2024-01-22 12:00:00", 0.0),    # a free item is a sale: occasion worth 0
    ("A7", "A", "2024-01-31 23:30:00", 30.0),   # last minute of as_of: counts
    ("B1", "B", "2024-01-10 08:00:00", 40.0),   # one-time buyer who returned everything
    ("B2", "B", "2024-01-20 08:00:00", -40.0),
    ("C1", "C", "2024-01-05 08:00:00", -10.0),  # refunds only: never a customer here
    ("D1", "D", "2024-01-20 23:59:59", 25.0),
    ("D2", "D", "2024-02-01 00:00:00", 25.0),   # the day after as_of: ignored
    ("E1", "E", "2024-01-03 08:00:00", 10.0),   # first day nets to -10 but has a sale
    ("E2", "E", "2024-01-03 09:00:00", -20.0),
    ("E3", "E", "2024-01-10 08:00:00", 50.0),
    ("F1", "F", "2024-01-02 08:00:00", 30.0),
    ("F2", "F", "2024-01-09 08:00:00", 5.0),    # repeat day nets to -20
    ("F3", "F", "2024-01-09 09:00:00", -25.0),
]
