""":func:`generate`: the full simulation, clean or as a messy export, with its truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.datasets.synthetic.customers import (
    _customers_frame,
    _draw_customers,
    _draw_prospects,
    _n_prospects,
    _plant_shared_contacts,
)
from crm_analytics.datasets.synthetic.data import SyntheticData
from crm_analytics.datasets.synthetic.defects import _empty_defects, _empty_duplicates, _make_dirty
from crm_analytics.datasets.synthetic.ids import _format_ids
from crm_analytics.datasets.synthetic.params import _check_int, _resolve_params, _Window
from crm_analytics.datasets.synthetic.purchases import _simulate_purchases, _transactions_frame
from crm_analytics.datasets.synthetic.service import _simulate_tickets
from crm_analytics.datasets.synthetic.surveys import ECSI_LOADINGS, ECSI_PATHS, _simulate_surveys
from crm_analytics.datasets.synthetic.truth import (
    GroundTruth,
    _truth_customers,
    _truth_params,
    _truth_prospects,
)
from crm_analytics.errors import InputError


def generate(
    n_customers: int = 5000,
    seed: int = 0,
    dirty_fraction: float = 0.0,
    *,
    start: str = "2023-01-01",
    end: str = "2025-12-31",
    out_dir: str | Path | None = None,
    params: dict[str, Any] | None = None,
) -> SyntheticData:
    """Generate customers, transactions, tickets and survey responses with known truth.

    Customers are acquired uniformly over the first ``acquisition_fraction``
    (2/3) of ``[start, end]``; their first purchase is ``created_at``. Every
    timestamp lies in ``[start, end]`` (``end`` parsed by pandas, i.e.
    midnight). The package docstring (:mod:`crm_analytics.datasets.synthetic`)
    states the processes; ``truth.params`` holds every parameter.

    With ``dirty_fraction = 0`` the tables are typed (timestamps
    ``datetime64``, numbers numeric, flags bool). With ``dirty_fraction > 0``
    every column is text, as in a messy CSV export, and:

    * about ``dirty_fraction`` of the rows of each table carry exactly one
      defect that a loader must reject, listed in ``truth.defects`` with its
      ``schema.REASON_CODES`` code (about a tenth of them are inserted rows
      that repeat a key with other content: ``duplicate_conflict``);
    * exact duplicate rows (about ``dirty_fraction / 5`` of the rows) are
      inserted and listed in ``truth.duplicates`` (kind "exact"); they are
      skipped, not rejected;
    * cleanable noise that must load fine is added: surrounding whitespace,
      upper-case e-mails, countries as names or alpha-3 codes, yes/no spelled
      "Yes"/"N"/"1", customer types "B2B"/"B2C", "T"-separated or "+00:00"
      timestamps, "12.0" for whole numbers;
    * customer-level defects go only into extra *prospect* customers that have
      no transactions, tickets or responses (about ``1.25 * dirty_fraction``
      of ``n_customers`` are added for that), so rejecting a customer row never
      cascades into ``unknown_customer`` rejects elsewhere.

    The base data do not depend on ``dirty_fraction``: the same seed gives the
    same customers and events, dirty or clean.

    Parameters
    ----------
    n_customers : int, default 5000
        Number of (purchasing) customers.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; same seed, same bytes.
    dirty_fraction : float, default 0.0
        Fraction of rows per table carrying a defect, in ``[0, 0.5]``.
    start, end : str, default "2023-01-01", "2025-12-31"
        Observation window.
    out_dir : str or Path, optional
        If given, the tables and the truth are written there (see
        :meth:`SyntheticData.write_csv`).
    params : dict, optional
        Overrides of :data:`DEFAULT_PARAMS`.

    Returns
    -------
    SyntheticData

    Examples
    --------
    >>> data = generate(n_customers=50, seed=1)
    >>> list(data.survey_responses.columns)
    ['response_id', 'customer_id', 'responded_at', 'survey', 'item', 'score',
     'scale_min', 'scale_max']
    >>> data.truth.params["r"], data.truth.params["alpha"]
    (0.75, 4.0)
    >>> bool((data.transactions["transaction_date"] <= pd.Timestamp("2025-12-31")).all())
    True
    """
    _check_int("n_customers", n_customers, 1)
    _check_int("seed", seed, 0)
    if not isinstance(dirty_fraction, (int, float)) or not 0.0 <= dirty_fraction <= 0.5:
        raise InputError(
            "The 'dirty_fraction' parameter of generate must be a float in the range "
            f"[0, 0.5]. Got {dirty_fraction!r} instead."
        )
    cfg = _resolve_params(params)
    window = _Window.parse(start, end, cfg)
    streams = np.random.SeedSequence(seed).spawn(6)
    rng_cust, rng_buy, rng_tick, rng_survey, rng_ecsi, rng_dirty = (
        np.random.default_rng(s) for s in streams
    )

    id_width = max(6, len(str(n_customers + _n_prospects(n_customers, dirty_fraction))))
    cust = _draw_customers(rng_cust, n_customers, cfg, window, first_index=0)
    ids = _format_ids("C", np.arange(1, n_customers + 1), id_width)
    shared = _plant_shared_contacts(rng_cust, cust, ids, cfg)
    purchases = _simulate_purchases(rng_buy, cust, cfg, window)
    tx = _transactions_frame(purchases, ids, window)
    tk = _simulate_tickets(rng_tick, cust, purchases, ids, cfg, window)
    tickets = tk.frame
    surveys = _simulate_surveys(rng_survey, rng_ecsi, cust, tk, ids, cfg, window)
    customers = _customers_frame(cust, ids, window)
    truth_customers = _truth_customers(cust, purchases, ids, window)

    n_prospects = 0
    if dirty_fraction > 0:
        n_prospects = _n_prospects(n_customers, dirty_fraction)
        pros = _draw_prospects(rng_dirty, n_prospects, cfg, window, first_index=n_customers)
        pros_ids = _format_ids(
            "C", np.arange(n_customers + 1, n_customers + n_prospects + 1), id_width
        )
        customers = pd.concat(
            [customers, _customers_frame(pros, pros_ids, window)], ignore_index=True
        )
        truth_customers = pd.concat([truth_customers, _truth_prospects(pros, pros_ids)])

    clean = {
        "customers": customers,
        "transactions": tx,
        "tickets": tickets,
        "survey_responses": surveys,
    }
    if dirty_fraction > 0:
        tables, defects, duplicates = _make_dirty(rng_dirty, clean, dirty_fraction, n_customers)
    else:
        tables, defects, duplicates = dict(clean), _empty_defects(), _empty_duplicates()

    truth = GroundTruth(
        params=_truth_params(cfg),
        ecsi_paths=dict(ECSI_PATHS),
        ecsi_loadings=dict(ECSI_LOADINGS),
        customers=truth_customers,
        shared_contacts=shared,
        defects=defects,
        duplicates=duplicates,
        clean=clean,
        tickets=pd.DataFrame(
            {"sla_breached": tk.breached},
            index=pd.Index(tickets["ticket_id"], name="ticket_id"),
        ),
        meta={
            "seed": int(seed),
            "n_customers": int(n_customers),
            "n_prospects": int(n_prospects),
            "dirty_fraction": float(dirty_fraction),
            "start": str(window.start),
            "end": str(window.end),
        },
    )
    data = SyntheticData(truth=truth, **tables)
    if out_dir is not None:
        data.write_csv(out_dir)
    return data
