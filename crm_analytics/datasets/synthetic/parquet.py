""":func:`generate_transactions_parquet`: customers and transactions only, in chunks,
straight to Parquet -- the fast path for benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crm_analytics.datasets.synthetic.customers import _customers_frame, _draw_customers
from crm_analytics.datasets.synthetic.ids import _format_ids, _id_bytes
from crm_analytics.datasets.synthetic.params import _check_int, _resolve_params, _Window
from crm_analytics.datasets.synthetic.purchases import (
    _Purchases,
    _simulate_purchases,
    _transactions_order,
)
from crm_analytics.datasets.synthetic.truth import _truth_customers, _truth_params
from crm_analytics.datasets.synthetic.vocab import CATEGORIES, CHANNELS


@dataclass(frozen=True)
class ParquetFiles:
    """Files written by :func:`generate_transactions_parquet`."""

    customers: Path
    transactions: Path
    truth_customers: Path
    params: dict[str, Any]
    n_customers: int
    n_transactions: int


def generate_transactions_parquet(
    path: str | Path,
    n_customers: int = 1_000_000,
    seed: int = 0,
    *,
    start: str = "2023-01-01",
    end: str = "2025-12-31",
    params: dict[str, Any] | None = None,
    chunk_size: int = 250_000,
) -> ParquetFiles:
    """Write customers and transactions only, fast, to Parquet files in ``path``.

    Same purchase (BG/NBD), spend (Gamma-Gamma), basket-line, refund and
    needs-group processes as :func:`generate`, but no tickets, surveys,
    defects or shared contacts. Customers are simulated in chunks of
    ``chunk_size``, each with its own seed derived from ``seed``, so peak
    memory stays bounded whatever ``n_customers`` is; the output depends on
    ``chunk_size``. E-mails are unique within a chunk only. Rows are sorted
    by time within each chunk.

    Parameters
    ----------
    path : str or Path
        Directory; ``customers.parquet``, ``transactions.parquet`` and
        ``truth_customers.parquet`` (latent parameters) are written there.
    n_customers : int, default 1_000_000
    seed : int, default 0
    start, end : str
        Observation window, as in :func:`generate`.
    params : dict, optional
        Overrides of :data:`DEFAULT_PARAMS`.
    chunk_size : int, default 250_000
        Customers simulated at a time.

    Returns
    -------
    ParquetFiles
        The three paths, the truth parameters and the row counts.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_int("n_customers", n_customers, 1, "generate_transactions_parquet")
    _check_int("seed", seed, 0, "generate_transactions_parquet")
    _check_int("chunk_size", chunk_size, 1, "generate_transactions_parquet")
    cfg = _resolve_params(params)
    window = _Window.parse(start, end, cfg)
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        name: directory / f"{name}.parquet"
        for name in ("customers", "transactions", "truth_customers")
    }
    id_width = max(6, len(str(n_customers)))
    writers: dict[str, Any] = {}
    n_tx = 0
    try:
        for chunk, lo in enumerate(range(0, n_customers, chunk_size)):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk,)))
            m = min(chunk_size, n_customers - lo)
            cust = _draw_customers(rng, m, cfg, window, first_index=lo)
            ids = _format_ids("C", np.arange(lo + 1, lo + m + 1), id_width)
            purchases = _simulate_purchases(rng, cust, cfg, window)
            tables = {
                "customers": pa.Table.from_pandas(
                    _customers_frame(cust, ids, window), preserve_index=False
                ),
                "transactions": _transactions_arrow(purchases, ids, window, n_tx),
                "truth_customers": pa.Table.from_pandas(
                    _truth_customers(cust, purchases, ids, window).reset_index(),
                    preserve_index=False,
                ),
            }
            n_tx += tables["transactions"].num_rows
            for name, table in tables.items():
                if name not in writers:
                    writers[name] = pq.ParquetWriter(paths[name], table.schema)
                writers[name].write_table(table)
    finally:
        for writer in writers.values():
            writer.close()
    return ParquetFiles(
        customers=paths["customers"],
        transactions=paths["transactions"],
        truth_customers=paths["truth_customers"],
        params=_truth_params(cfg),
        n_customers=int(n_customers),
        n_transactions=int(n_tx),
    )


def _transactions_arrow(p: _Purchases, ids: np.ndarray, window: _Window, offset: int) -> Any:
    import pyarrow as pa

    order = _transactions_order(p)
    m = order.size
    return pa.table(
        {
            "transaction_id": _format_ids_bytes("T", np.arange(offset + 1, offset + m + 1), 9),
            "customer_id": pa.array(ids[p.line_cust[order]], type=pa.string()),
            "transaction_date": pa.array(window.to_datetime(p.line_s[order])),
            "amount": pa.array(p.line_cents[order] / 100.0),
            "quantity": pa.array(p.line_qty[order].astype(np.int64)),
            "product_category": pa.DictionaryArray.from_arrays(
                pa.array(p.line_cat[order].astype(np.int8)), pa.array(list(CATEGORIES))
            ),
            "channel": pa.DictionaryArray.from_arrays(
                pa.array(p.line_chan[order].astype(np.int8)), pa.array(list(CHANNELS))
            ),
        }
    )


def _format_ids_bytes(prefix: str, numbers: np.ndarray, width: int) -> Any:
    import pyarrow as pa

    return pa.array(_id_bytes(prefix, numbers, width), type=pa.binary()).cast(pa.string())
