"""Synthetic CRM data with a known ground truth.

:func:`generate` builds the four contract tables of :mod:`crm_analytics.store.schema`
for a mixed B2B/B2C company, drawn from stated statistical processes whose
parameters are returned alongside the data, so every model in the package can
be checked against the answer it should find:

* **Purchases** follow the BG/NBD model (Fader, Hardie & Lee 2005, "Counting
  your customers the easy way"), time unit one week: ``lambda_i ~ Gamma(r,
  rate=alpha)``, ``p_i ~ Beta(a, b_g)`` where ``b_g`` is ``b`` for the "good"
  service group and ``b_poor`` for the "poor" one. The first purchase is at
  ``created_at``; after every repeat purchase the customer drops out with
  probability ``p_i``. Within the good group BG/NBD with ``(r, alpha, a, b)`` is
  exactly the generating model.
* **Spend** follows the Gamma-Gamma model (Fader & Hardie, "The Gamma-Gamma
  model of monetary value", 2013 note): ``nu_i ~ Gamma(q, rate=v)``, each
  purchase total ``~ Gamma(p, rate=nu_i)``, unscaled for every customer type.
  A purchase (basket) is written as 1-3 lines with the same timestamp whose
  amounts add up to the purchase total, so models must merge same-day rows,
  as on real data. About 2 % of purchases are followed by a refund row.
* **Needs groups** (4) fix each customer's product-category and channel mix
  and tilt their region; **service groups** ("good"/"poor") drive dropout, SLA
  breaches, complaints, NPS and CSAT.
* **Surveys**: NPS (0-10) with a known effect per SLA breach in the 180 days
  before the answer, CSAT (1-5) after tickets with a known breach effect, and
  an ECSI questionnaire (1-10) generated from the standard ECSI path model
  with known standardised path coefficients and loadings.

With ``dirty_fraction > 0`` the tables are written as a messy export (every
column text) with cleanable noise and recorded defects; see :func:`generate`.
:func:`generate_transactions_parquet` is a chunked fast path for benchmarks.

Modules: :mod:`.vocab` (value sets, country and name tables), :mod:`.params`
(parameters, observation window), :mod:`.customers`, :mod:`.purchases`,
:mod:`.service` (tickets), :mod:`.surveys`, :mod:`.noise` and :mod:`.defects`
(the messy export), :mod:`.truth`, :mod:`.data`, :mod:`.generator`
(:func:`generate`) and :mod:`.parquet` (:func:`generate_transactions_parquet`).
"""

from __future__ import annotations

from crm_analytics.datasets.synthetic.data import SyntheticData
from crm_analytics.datasets.synthetic.generator import generate
from crm_analytics.datasets.synthetic.params import DEFAULT_PARAMS
from crm_analytics.datasets.synthetic.parquet import ParquetFiles, generate_transactions_parquet

# Names marked F401 were public in the single module without being in __all__; they stay importable.
from crm_analytics.datasets.synthetic.surveys import ECSI_CONSTRUCTS, ECSI_LOADINGS, ECSI_PATHS  # noqa: F401
from crm_analytics.datasets.synthetic.truth import GroundTruth
from crm_analytics.datasets.synthetic.vocab import (
    CATEGORIES,
    CHANNELS,
    INDUSTRIES,  # noqa: F401
    REGIONS,  # noqa: F401
    SERVICE_GROUPS,  # noqa: F401
    TICKET_CATEGORIES,  # noqa: F401
    TICKET_CHANNELS,  # noqa: F401
    TICKET_PRIORITIES,  # noqa: F401
)

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "DEFAULT_PARAMS",
    "ECSI_LOADINGS",
    "ECSI_PATHS",
    "GroundTruth",
    "ParquetFiles",
    "SyntheticData",
    "generate",
    "generate_transactions_parquet",
]
