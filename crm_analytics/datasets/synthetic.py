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
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from crm_analytics.errors import InputError
from crm_analytics.store.schema import TABLES

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

CATEGORIES: tuple[str, ...] = ("Hardware", "Software", "Services", "Supplies", "Cloud")
CHANNELS: tuple[str, ...] = ("online", "field_sales", "partner", "phone")
INDUSTRIES: tuple[str, ...] = (
    "Manufacturing",
    "Retail",
    "Finance",
    "Healthcare",
    "Technology",
    "Public sector",
    "Education",
    "Logistics",
)
REGIONS: tuple[str, ...] = ("EMEA", "Americas", "APAC")
SERVICE_GROUPS: tuple[str, ...] = ("good", "poor")
TICKET_PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
TICKET_CATEGORIES: tuple[str, ...] = ("billing", "technical", "delivery", "account", "product")
TICKET_CHANNELS: tuple[str, ...] = ("email", "phone", "portal", "chat")

# alpha-2: (English name, alpha-3, region, population weight, calling code,
# company legal suffix, company e-mail TLD, consumer mail provider).
_COUNTRIES: dict[str, tuple[str, str, str, float, str, str, str, str]] = {
    "DE": ("Germany", "DEU", "EMEA", 0.16, "49", "GmbH", "de", "web.de"),
    "GB": ("United Kingdom", "GBR", "EMEA", 0.10, "44", "Ltd", "co.uk", "btinternet.com"),
    "FR": ("France", "FRA", "EMEA", 0.08, "33", "SAS", "fr", "orange.fr"),
    "NL": ("Netherlands", "NLD", "EMEA", 0.05, "31", "B.V.", "nl", "ziggo.nl"),
    "ES": ("Spain", "ESP", "EMEA", 0.04, "34", "S.L.", "es", "telefonica.net"),
    "IT": ("Italy", "ITA", "EMEA", 0.04, "39", "S.r.l.", "it", "libero.it"),
    "SE": ("Sweden", "SWE", "EMEA", 0.03, "46", "AB", "se", "telia.com"),
    "US": ("United States", "USA", "Americas", 0.22, "1", "Inc.", "com", "gmail.com"),
    "CA": ("Canada", "CAN", "Americas", 0.04, "1", "Inc.", "ca", "gmail.com"),
    "BR": ("Brazil", "BRA", "Americas", 0.04, "55", "Ltda.", "com.br", "uol.com.br"),
    "MX": ("Mexico", "MEX", "Americas", 0.03, "52", "S.A. de C.V.", "com.mx", "hotmail.com"),
    "JP": ("Japan", "JPN", "APAC", 0.07, "81", "K.K.", "co.jp", "yahoo.co.jp"),
    "AU": ("Australia", "AUS", "APAC", 0.04, "61", "Pty Ltd", "com.au", "bigpond.com"),
    "IN": ("India", "IND", "APAC", 0.04, "91", "Pvt Ltd", "in", "gmail.com"),
    "SG": ("Singapore", "SGP", "APAC", 0.02, "65", "Pte Ltd", "com.sg", "singnet.com.sg"),
}
_COUNTRY_CODES = np.array(list(_COUNTRIES))
_COUNTRY_REGION = np.array([REGIONS.index(v[2]) for v in _COUNTRIES.values()])
_COUNTRY_WEIGHT = np.array([v[3] for v in _COUNTRIES.values()])

# fmt: off
_FIRST_NAMES = np.array([
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Grace", "Hiro", "Ines", "Jonas", "Kai",
    "Laura", "Marco", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wei", "Yuki", "Zoe", "Lucas", "Maria", "Sofia", "Ahmed", "Emma", "Noah", "Olivia", "Liam",
    "Mia", "Raj", "Ana", "Pedro", "Chloe", "Hannah", "Lars"
])
_LAST_NAMES = np.array([
    "Schmidt", "Smith", "Martin", "Jansen", "Garcia", "Rossi", "Andersson", "Johnson",
    "Tremblay", "Silva", "Hernandez", "Tanaka", "Wilson", "Sharma", "Tan", "Mueller", "Brown",
    "Dubois", "Bakker", "Lopez", "Bianchi", "Nilsson", "Williams", "Roy", "Santos", "Gonzalez",
    "Suzuki", "Taylor", "Patel", "Lim", "Weber", "Jones", "Bernard", "Visser", "Martinez",
    "Ferrari", "Berg", "Miller", "Gagnon", "Oliveira"
])
# fmt: on
# One company-name word per industry (same order as INDUSTRIES).
_INDUSTRY_WORDS = np.array(
    ["Industries", "Stores", "Capital", "Health", "Systems", "Agency", "Academy", "Logistics"]
)
_INDUSTRY_WEIGHT = np.array([0.18, 0.15, 0.12, 0.11, 0.16, 0.08, 0.08, 0.12])

# Needs groups: product-category spend mix (CATEGORIES order), channel mix
# (CHANNELS order) and a multiplicative tilt of the region shares (REGIONS order).
_NEEDS_CATEGORY_MIX = np.array(
    [
        [0.70, 0.05, 0.10, 0.10, 0.05],  # 0 hardware-heavy
        [0.03, 0.47, 0.05, 0.02, 0.43],  # 1 software + cloud
        [0.08, 0.07, 0.75, 0.05, 0.05],  # 2 services
        [0.07, 0.03, 0.05, 0.82, 0.03],  # 3 supplies
    ]
)
_NEEDS_CHANNEL_MIX = np.array(
    [
        [0.20, 0.40, 0.30, 0.10],
        [0.70, 0.10, 0.15, 0.05],
        [0.10, 0.60, 0.10, 0.20],
        [0.50, 0.05, 0.15, 0.30],
    ]
)
_NEEDS_REGION_TILT = np.array(
    [
        [1.6, 0.8, 0.6],
        [0.8, 1.6, 1.0],
        [1.2, 1.0, 0.8],
        [0.7, 0.9, 2.0],
    ]
)
_NEEDS_LABELS = ("hardware", "software_cloud", "services", "supplies")

_SLA_HOURS = np.array([4, 8, 24, 72])
_PRIORITY_WEIGHT = np.array([0.05, 0.15, 0.45, 0.35])

#: Default parameters; ``generate(params=...)`` overrides any of them. Time unit: weeks.
DEFAULT_PARAMS: dict[str, Any] = {
    "time_unit": "W",
    # BG/NBD (good service group) and the poor group's Beta b.
    "r": 0.75,
    "alpha": 4.0,
    "a": 0.8,
    "b": 2.5,
    "b_poor": 0.9,
    # Gamma-Gamma spend per purchase (basket total), the same for every customer type.
    "p": 6.0,
    "q": 4.0,
    "v": 60.0,
    "share_business": 0.6,
    "share_poor_service": 0.2,
    "needs_group_shares": [0.30, 0.25, 0.25, 0.20],
    "mix_concentration": 40.0,
    "acquisition_fraction": 2.0 / 3.0,
    "marketing_opt_in_rate": 0.8,
    "shared_contact_rate": 0.01,
    "employees_median": 50.0,
    "employees_log_sd": 1.5,
    "revenue_per_employee_median": 120_000.0,
    "revenue_log_sd": 0.6,
    "basket_line_probs": [0.85, 0.10, 0.05],
    "refund_rate": 0.02,
    "refund_delay_days_mean": 14.0,
    # Tickets, per year of active life; active life runs from the first purchase
    # to min(end, death + ticket_grace_days).
    "ticket_rate_business": 2.0,
    "ticket_rate_consumer": 0.6,
    "ticket_rate_poor_multiplier": 2.0,
    "ticket_grace_days": 60.0,
    "sla_breach_prob_good": 0.08,
    "sla_breach_prob_poor": 0.55,
    "open_ticket_fraction": 0.03,
    "complaint_prob": 0.08,
    "complaint_prob_breached": 0.35,
    "reopen_prob_good": 0.05,
    "reopen_prob_poor": 0.20,
    # NPS: score = clip(round(mean_g + sd*z + nps_breach_effect*breaches_180d), 0, 10).
    "nps_response_rate": 0.4,
    "nps_mean_good": 8.3,
    "nps_mean_poor": 5.6,
    "nps_sd": 1.6,
    "nps_breach_effect": -1.0,
    "nps_breach_window_days": 180.0,
    # CSAT: score = clip(round(csat_mean + sd*z + csat_breach_effect*breached), 1, 5).
    "csat_response_rate": 0.3,
    "csat_mean": 4.3,
    "csat_sd": 0.8,
    "csat_breach_effect": -1.5,
    # ECSI: item score = clip(round(ecsi_center + ecsi_spread * standardised indicator), 1, 10).
    "ecsi_response_rate": 0.25,
    "ecsi_center": 5.5,
    "ecsi_spread": 1.5,
}

#: Standardised ECSI path coefficients ``{(source, target): beta}``. "complaints"
#: follows the ECSI convention *complaint handling* (high = complaints handled
#: well), so satisfaction -> complaints is positive.
ECSI_PATHS: dict[tuple[str, str], float] = {
    ("image", "expectations"): 0.50,
    ("image", "satisfaction"): 0.20,
    ("image", "loyalty"): 0.20,
    ("expectations", "quality"): 0.55,
    ("expectations", "value"): 0.15,
    ("expectations", "satisfaction"): 0.10,
    ("quality", "value"): 0.50,
    ("quality", "satisfaction"): 0.35,
    ("value", "satisfaction"): 0.25,
    ("satisfaction", "complaints"): 0.50,
    ("satisfaction", "loyalty"): 0.45,
    ("complaints", "loyalty"): 0.15,
}
ECSI_CONSTRUCTS: tuple[str, ...] = (
    "image",
    "expectations",
    "quality",
    "value",
    "satisfaction",
    "complaints",
    "loyalty",
)
#: Standardised loadings of every ECSI item (item = loading * latent + noise).
ECSI_LOADINGS: dict[str, float] = {
    "image_1": 0.85,
    "image_2": 0.82,
    "image_3": 0.80,
    "expectations_1": 0.84,
    "expectations_2": 0.81,
    "expectations_3": 0.86,
    "quality_1": 0.88,
    "quality_2": 0.85,
    "quality_3": 0.83,
    "value_1": 0.87,
    "value_2": 0.84,
    "satisfaction_1": 0.90,
    "satisfaction_2": 0.86,
    "satisfaction_3": 0.84,
    "complaints_1": 0.85,
    "loyalty_1": 0.88,
    "loyalty_2": 0.83,
    "loyalty_3": 0.81,
}

_SECONDS_PER_WEEK = 7 * 86_400
_TABLE_ORDER = ("customers", "transactions", "tickets", "survey_responses")


# --------------------------------------------------------------------------- results


@dataclass(repr=False)
class GroundTruth:
    """What the generator planted, for checking models against.

    Attributes
    ----------
    params : dict
        Generating parameters (``DEFAULT_PARAMS`` plus overrides, time unit
        weeks) and derived values such as ``mean_spend``.
    ecsi_paths : dict
        ``{(source, target): standardised path coefficient}``.
    ecsi_loadings : dict
        ``{item: standardised loading}``.
    customers : pandas.DataFrame
        One row per customer, indexed by ``customer_id``: ``customer_type``,
        ``country``, ``region``, ``needs_group`` (0-3), ``needs_label``,
        ``service_group`` ("good"/"poor"), ``lambda_`` (purchases per week
        while alive), ``p_dropout``, ``b_dropout`` (the Beta ``b`` used),
        ``nu`` (Gamma-Gamma rate; mean spend ``p / nu``), ``first_purchase_at``,
        ``death_date`` (time of the purchase after which the customer dropped
        out; NaT if alive at ``end``), ``n_purchases`` (purchase events, first
        included), the category and channel mixes (``mix_*``, ``channel_*``)
        and ``is_prospect`` (extra customers without any activity, only
        created when ``dirty_fraction > 0``; their latent columns are NaN).
    shared_contacts : pandas.DataFrame
        Planted pairs ``customer_id_a``, ``customer_id_b`` sharing ``field``
        ("email" or "phone"): households and duplicate records.
    defects : pandas.DataFrame
        One row per rejected row the loader must quarantine: ``table``, ``key``
        (the row's intended key, even if the injected defect blanked it),
        ``source_row`` (line number in the written CSV, the header being line
        1, as ``Store.rejects`` reports it for CSV files), ``position`` (0-based
        row in the DataFrame, as reported for DataFrame sources),
        ``reason_code`` (a ``schema.REASON_CODES`` key), ``column`` and
        ``value`` (the injected text).
    duplicates : pandas.DataFrame
        Inserted repeated keys: ``table``, ``key``, ``source_row`` and
        ``position`` (as in ``defects``), ``first_row`` (CSV line of the row it
        repeats) and ``kind``: "exact" (same content, skipped, not a reject) or
        "conflict" (also listed in ``defects`` as ``duplicate_conflict``).
    clean : dict of pandas.DataFrame
        The typed tables before any defect or noise was injected (customers
        include the prospects). Not written by ``write_csv``.
    tickets : pandas.DataFrame
        Indexed by ``ticket_id``: ``sla_breached`` (latent; also set for open
        tickets). Not written by ``write_csv``.
    meta : dict
        ``seed``, ``n_customers``, ``n_prospects``, ``dirty_fraction``, ``start``, ``end``.
    """

    params: dict[str, Any]
    ecsi_paths: dict[tuple[str, str], float]
    ecsi_loadings: dict[str, float]
    customers: pd.DataFrame
    shared_contacts: pd.DataFrame
    defects: pd.DataFrame
    duplicates: pd.DataFrame
    clean: dict[str, pd.DataFrame] = field(default_factory=dict)
    tickets: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"GroundTruth(customers={len(self.customers)}, defects={len(self.defects)}, "
            f"duplicates={len(self.duplicates)}, shared_contacts={len(self.shared_contacts)}, "
            f"r={self.params['r']}, alpha={self.params['alpha']}, a={self.params['a']}, "
            f"b={self.params['b']}, b_poor={self.params['b_poor']})"
        )

    @property
    def service_groups(self) -> pd.Series:
        """Service group ("good"/"poor") per customer_id."""
        return self.customers["service_group"]

    @property
    def needs_groups(self) -> pd.Series:
        """Needs group (0-3) per customer_id."""
        return self.customers["needs_group"]

    def churn_probability(self, as_of: Any, horizon_days: int = 90) -> pd.Series:
        """Bayes-optimal probability of no purchase in ``(as_of, as_of + horizon_days]``.

        Uses the true population parameters ``r, alpha, a`` and each customer's
        service-group ``b``: P(alive) from Fader, Hardie & Lee, "Computing
        P(alive) using the BG/NBD model" (2008 note), and, given alive, the
        Gamma(r + x, alpha + T) posterior of lambda for the chance of no
        purchase in ``t`` weeks::

            P(alive) = 1 / (1 + a / (b_g + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
            P(churn) = 1 - P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))

        with ``P(alive) = 1`` for ``x = 0``. ``x`` counts repeat purchase days
        (same-day purchases merged, refunds excluded) on or before the day of
        ``as_of``; ``t_x``, ``T`` and ``t = horizon_days / 7`` are in weeks,
        measured in whole days from the first purchase day.

        Parameters
        ----------
        as_of : date-like
            Cut-off; only purchases on or before this day are used.
        horizon_days : int, default 90
            Length of the prediction window.

        Returns
        -------
        pandas.Series
            Named ``churn_probability``, indexed by ``customer_id``, for the
            customers whose first purchase is on or before ``as_of``.
        """
        as_of_day = pd.Timestamp(as_of).normalize()
        tx = self.clean["transactions"]
        buys = tx.loc[tx["amount"] > 0, ["customer_id", "transaction_date"]]
        days = pd.DataFrame(
            {"customer_id": buys["customer_id"], "day": buys["transaction_date"].dt.normalize()}
        )
        days = days[days["day"] <= as_of_day].drop_duplicates()
        grouped = days.groupby("customer_id")["day"]
        first, last = grouped.min(), grouped.max()
        x = (grouped.size() - 1).to_numpy(dtype=float)
        t_x = (last - first).dt.days.to_numpy(dtype=float) / 7.0
        T = (as_of_day - first).dt.days.to_numpy(dtype=float) / 7.0
        t = horizon_days / 7.0
        prm = self.params
        r, alpha, a = prm["r"], prm["alpha"], prm["a"]
        b = self.customers["b_dropout"].reindex(first.index).to_numpy(dtype=float)
        # log-odds of being dead; expit keeps huge (alpha+T)/(alpha+t_x) powers finite.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds_dead = (
                np.log(a)
                - np.log(b + x - 1.0)
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )
        p_alive = np.where(x > 0, expit(-log_odds_dead), 1.0)
        p_quiet_if_alive = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        churn = 1.0 - p_alive * (1.0 - p_quiet_if_alive)
        return pd.Series(np.clip(churn, 0.0, 1.0), index=first.index, name="churn_probability")

    def to_json_dict(self) -> dict[str, Any]:
        """Everything but the per-customer frame, as JSON-ready data."""
        return {
            "meta": self.meta,
            "params": self.params,
            "ecsi_paths": [
                {"source": s, "target": t, "coef": c} for (s, t), c in self.ecsi_paths.items()
            ],
            "ecsi_loadings": self.ecsi_loadings,
            "shared_contacts": self.shared_contacts.to_dict(orient="records"),
            "defects": self.defects.to_dict(orient="records"),
            "duplicates": self.duplicates.to_dict(orient="records"),
        }

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``truth.json`` and ``truth_customers.csv`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / "truth.json"
        json_path.write_text(
            json.dumps(self.to_json_dict(), indent=1, default=_json_default) + "\n",
            encoding="utf-8",
        )
        csv_path = directory / "truth_customers.csv"
        self.customers.to_csv(csv_path, encoding="utf-8", lineterminator="\n")
        return {"truth": json_path, "truth_customers": csv_path}


@dataclass(repr=False)
class SyntheticData:
    """The four contract tables and the ground truth behind them."""

    customers: pd.DataFrame
    transactions: pd.DataFrame
    tickets: pd.DataFrame
    survey_responses: pd.DataFrame
    truth: GroundTruth

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(frame)}" for name, frame in self.tables().items())
        return f"SyntheticData({sizes}, dirty_fraction={self.truth.meta['dirty_fraction']})"

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by contract name, in contract order."""
        return {name: getattr(self, name) for name in _TABLE_ORDER}

    def write_csv(self, directory: str | Path) -> dict[str, Path]:
        """Write the tables (UTF-8, header, no index) and the truth into ``directory``.

        Returns
        -------
        dict
            ``{"customers": path, ..., "truth": path, "truth_customers": path}``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for name, frame in self.tables().items():
            path = directory / f"{name}.csv"
            frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
            paths[name] = path
        paths.update(self.truth.write(directory))
        return paths


@dataclass(frozen=True)
class ParquetFiles:
    """Files written by :func:`generate_transactions_parquet`."""

    customers: Path
    transactions: Path
    truth_customers: Path
    params: dict[str, Any]
    n_customers: int
    n_transactions: int


# --------------------------------------------------------------------------- public API


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
    midnight). The module docstring states the processes; ``truth.params``
    holds every parameter.

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


# --------------------------------------------------------------------------- parameters


def _check_int(name: str, value: Any, low: int, func: str = "generate") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(
            f"The {name!r} parameter of {func} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )


def _resolve_params(params: dict[str, Any] | None) -> dict[str, Any]:
    cfg = dict(DEFAULT_PARAMS)
    unknown = sorted(set(params or {}) - set(cfg))
    if unknown:
        raise InputError(
            f"unknown synthetic-data parameter(s) {', '.join(map(repr, unknown))}; "
            f"the parameters are: {', '.join(cfg)}"
        )
    cfg.update(params or {})
    for key in ("r", "alpha", "a", "b", "b_poor", "p", "v"):
        if not float(cfg[key]) > 0:
            raise InputError(f"parameter {key!r} must be > 0. Got {cfg[key]!r} instead.")
    if not float(cfg["q"]) > 1:
        raise InputError(
            f"parameter 'q' must be > 1 so that the mean spend is finite. Got {cfg['q']!r} instead."
        )
    if cfg["time_unit"] != "W":
        raise InputError(f"parameter 'time_unit' must be 'W' (weeks). Got {cfg['time_unit']!r}.")
    return cfg


def _truth_params(cfg: dict[str, Any]) -> dict[str, Any]:
    out = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cfg.items()}
    out["mean_purchase_rate_per_week"] = cfg["r"] / cfg["alpha"]
    out["mean_spend"] = cfg["p"] * cfg["v"] / (cfg["q"] - 1.0)
    out["spend_scaling"] = "none: Gamma-Gamma applies unscaled to every purchase total"
    out["purchase_unit"] = (
        "a purchase is a basket written as 1-3 lines with one timestamp; "
        "its line amounts sum to the Gamma-Gamma draw; refunds are extra negative rows"
    )
    out["categories"] = list(CATEGORIES)
    out["channels"] = list(CHANNELS)
    out["needs_category_mix"] = _NEEDS_CATEGORY_MIX.tolist()
    out["needs_channel_mix"] = _NEEDS_CHANNEL_MIX.tolist()
    out["needs_region_tilt"] = _NEEDS_REGION_TILT.tolist()
    out["needs_labels"] = list(_NEEDS_LABELS)
    out["sla_hours"] = dict(zip(TICKET_PRIORITIES, _SLA_HOURS.tolist(), strict=True))
    out["nps_breach_definition"] = (
        "SLA-breached tickets (resolved_at - opened_at > sla_hours) of the customer "
        "resolved in [responded_at - nps_breach_window_days, responded_at)"
    )
    _, psi = _ecsi_structure()
    out["ecsi_r_squared"] = {
        name: round(float(1.0 - e), 6)
        for name, e in zip(ECSI_CONSTRUCTS, psi, strict=True)
        if name != "image"
    }
    out["ecsi_complaints_meaning"] = "complaint handling: high = complaints handled well"
    out["ecsi_scale_map"] = "clip(round(ecsi_center + ecsi_spread * standardised indicator), 1, 10)"
    return out


@dataclass(frozen=True)
class _Window:
    start: pd.Timestamp
    end: pd.Timestamp
    horizon_s: int  # seconds from start to end
    acquisition_s: int  # customers are acquired in [start, start + acquisition_s]

    @classmethod
    def parse(cls, start: Any, end: Any, cfg: dict[str, Any]) -> _Window:
        t0, t1 = _parse_date("start", start), _parse_date("end", end)
        if not t1 > t0 + pd.Timedelta(days=7):
            raise InputError(f"end ({t1}) must be more than a week after start ({t0})")
        horizon = int((t1 - t0).total_seconds())
        return cls(t0, t1, horizon, int(horizon * float(cfg["acquisition_fraction"])))

    def to_datetime(self, seconds: np.ndarray) -> np.ndarray:
        """Seconds after start -> datetime64[us]."""
        base = np.datetime64(self.start.to_datetime64(), "us")
        out = base + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]")
        out = out.astype("datetime64[us]")
        return out


def _parse_date(name: str, value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or pd.isna(stamp) or stamp.tzinfo is not None:
        raise InputError(
            f"The {name!r} parameter must be a date without time zone such as "
            f"'2023-01-01'. Got {value!r} instead."
        )
    return stamp


def _n_prospects(n_customers: int, dirty_fraction: float) -> int:
    if dirty_fraction <= 0:
        return 0
    # Enough activity-free customers to carry every customer-level defect.
    return int(math.ceil(1.25 * dirty_fraction * n_customers / (1.0 - dirty_fraction))) + 2


# --------------------------------------------------------------------------- customers


@dataclass
class _Customers:
    """Per-customer latent and observed attributes as parallel arrays."""

    index: np.ndarray  # global 0-based customer number (phone uniqueness)
    t0_s: np.ndarray  # first purchase, seconds after start
    business: np.ndarray
    poor: np.ndarray
    needs_group: np.ndarray
    cat_mix: np.ndarray  # (n, len(CATEGORIES))
    chan_mix: np.ndarray  # (n, len(CHANNELS))
    lam: np.ndarray
    p_drop: np.ndarray
    b_drop: np.ndarray
    nu: np.ndarray
    attrs: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.t0_s.size)


def _draw_customers(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], window: _Window, first_index: int
) -> _Customers:
    # Sorted acquisition times make customer numbers follow creation order, as in a CRM.
    t0_s = np.sort(rng.integers(0, window.acquisition_s + 1, size=n))
    business = rng.random(n) < cfg["share_business"]
    poor = rng.random(n) < cfg["share_poor_service"]
    shares = np.asarray(cfg["needs_group_shares"], dtype=float)
    needs = rng.choice(len(shares), size=n, p=shares / shares.sum())
    conc = float(cfg["mix_concentration"])
    cat_mix = _dirichlet_rows(rng, conc * _NEEDS_CATEGORY_MIX[needs])
    chan_mix = _dirichlet_rows(rng, conc * _NEEDS_CHANNEL_MIX[needs])
    lam = rng.gamma(cfg["r"], 1.0 / cfg["alpha"], size=n)
    b_drop = np.where(poor, cfg["b_poor"], cfg["b"])
    p_drop = rng.beta(cfg["a"], b_drop)
    nu = rng.gamma(cfg["q"], 1.0 / cfg["v"], size=n)
    index = np.arange(first_index, first_index + n)
    attrs = _draw_attributes(rng, index, business, needs, cfg)
    return _Customers(
        index, t0_s, business, poor, needs, cat_mix, chan_mix, lam, p_drop, b_drop, nu, attrs
    )


def _dirichlet_rows(rng: np.random.Generator, concentration: np.ndarray) -> np.ndarray:
    # numpy's dirichlet takes one alpha vector; normalised gammas give one per row.
    g = rng.gamma(concentration)
    return g / g.sum(axis=1, keepdims=True)


def _draw_attributes(
    rng: np.random.Generator,
    index: np.ndarray,
    business: np.ndarray,
    needs: np.ndarray,
    cfg: dict[str, Any],
) -> dict[str, np.ndarray]:
    n = index.size
    region_p = np.bincount(_COUNTRY_REGION, weights=_COUNTRY_WEIGHT, minlength=3)
    region = np.empty(n, dtype=np.int64)
    for g in range(len(_NEEDS_REGION_TILT)):
        rows = np.flatnonzero(needs == g)
        p = region_p * _NEEDS_REGION_TILT[g]
        region[rows] = rng.choice(3, size=rows.size, p=p / p.sum())
    country = np.empty(n, dtype=np.int64)
    for k in range(3):
        rows = np.flatnonzero(region == k)
        members = np.flatnonzero(np.equal(_COUNTRY_REGION, k))
        w = _COUNTRY_WEIGHT[members]
        country[rows] = members[rng.choice(members.size, size=rows.size, p=w / w.sum())]
    meta = list(_COUNTRIES.values())

    industry = rng.choice(len(INDUSTRIES), size=n, p=_INDUSTRY_WEIGHT)
    employees = np.maximum(
        1, np.rint(rng.lognormal(np.log(cfg["employees_median"]), cfg["employees_log_sd"], n))
    ).astype(np.int64)
    revenue = employees * rng.lognormal(
        np.log(cfg["revenue_per_employee_median"]), cfg["revenue_log_sd"], n
    )
    revenue = np.round(revenue, -3)

    first = _FIRST_NAMES[rng.integers(0, _FIRST_NAMES.size, n)]
    last = _LAST_NAMES[rng.integers(0, _LAST_NAMES.size, n)]
    suffix = np.array([m[5] for m in meta])[country]
    word = _INDUSTRY_WORDS[industry]
    # Public bodies and schools carry no legal-form suffix.
    no_suffix = np.isin(
        industry, [INDUSTRIES.index("Public sector"), INDUSTRIES.index("Education")]
    )
    company = _cat(last, " ", word)
    company = np.where(no_suffix, company, _cat(company, " ", suffix))
    person = _cat(first, " ", last)
    name = np.where(business, company, person)

    local = np.char.lower(_cat(first, ".", last))
    slug = np.char.lower(_cat(last, word))
    tld = np.array([m[6] for m in meta])[country]
    provider = np.array([m[7] for m in meta])[country]
    domain = np.where(business, _cat(slug, ".", tld), provider)
    # Collisions get the customer number appended; base local parts hold no
    # digits, so suffixed ones cannot collide with them.
    dup = pd.Series(_cat(local, "@", domain)).duplicated().to_numpy()
    local = np.where(dup, _cat(local, index.astype(str)), local)
    email = _cat(local, "@", domain)

    calling = np.array([m[4] for m in meta])[country]
    three_digit_area = np.isin(_COUNTRY_CODES[country], ["US", "CA"])
    area = np.where(three_digit_area, rng.integers(201, 990, n), rng.integers(20, 99, n)).astype(
        str
    )
    # An affine bijection of [0, 10**7) gives distinct, random-looking
    # subscriber numbers, so no phone is shared unless planted.
    subscriber = (index.astype(np.int64) * 3_932_177 + 1_234_567) % 10_000_000
    phone = _cat("+", calling, " ", area, " ", np.char.zfill(subscriber.astype(str), 7))

    return {
        "name": name,
        "email": email,
        "phone": phone,
        "country": _COUNTRY_CODES[country],
        "region": np.array(REGIONS)[region],
        "industry": np.array(INDUSTRIES)[industry],
        "employees": employees,
        "annual_revenue": revenue,
        "opt_in": rng.random(n) < cfg["marketing_opt_in_rate"],
    }


def _cat(*parts: Any) -> np.ndarray:
    out = np.asarray(parts[0]).astype(str)
    for part in parts[1:]:
        out = np.char.add(out, np.asarray(part).astype(str))
    return out


def _plant_shared_contacts(
    rng: np.random.Generator, cust: _Customers, ids: np.ndarray, cfg: dict[str, Any]
) -> pd.DataFrame:
    n_pairs = int(round(cfg["shared_contact_rate"] * len(cust) / 2))
    if n_pairs == 0:
        return pd.DataFrame({"customer_id_a": [], "customer_id_b": [], "field": []}, dtype="str")
    # Disjoint pairs, so every planted link is exactly one pair.
    chosen = rng.choice(len(cust), size=2 * n_pairs, replace=False)
    a, b = np.sort(chosen.reshape(n_pairs, 2), axis=1).T
    fields = np.where(rng.random(n_pairs) < 0.5, "email", "phone")
    for name in ("email", "phone"):
        rows = fields == name
        cust.attrs[name][b[rows]] = cust.attrs[name][a[rows]]
    order = np.argsort(a, kind="stable")
    return pd.DataFrame(
        {"customer_id_a": ids[a][order], "customer_id_b": ids[b][order], "field": fields[order]}
    )


def _customers_frame(cust: _Customers, ids: np.ndarray, window: _Window) -> pd.DataFrame:
    at = cust.attrs
    business = cust.business
    return pd.DataFrame(
        {
            "customer_id": ids,
            "name": at["name"],
            "email": at["email"],
            "phone": at["phone"],
            "country": at["country"],
            "region": at["region"],
            "industry": pd.array(np.where(business, at["industry"], None), dtype="str"),
            "employees": pd.array(np.where(business, at["employees"], None), dtype="Int64"),
            "annual_revenue": np.where(business, at["annual_revenue"], np.nan),
            "customer_type": np.where(business, "business", "consumer"),
            "created_at": window.to_datetime(cust.t0_s),
            "marketing_opt_in": at["opt_in"],
        }
    )


def _draw_prospects(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], window: _Window, first_index: int
) -> _Customers:
    """Customers with no activity at all: the only carriers of customer-row defects."""
    cust = _draw_customers(rng, n, cfg, window, first_index)
    # Prospects sign up any time in the window, not only in the acquisition period.
    cust.t0_s = np.sort(rng.integers(0, window.horizon_s + 1, size=n))
    return cust


def _truth_customers(
    cust: _Customers, purchases: _Purchases, ids: np.ndarray, window: _Window
) -> pd.DataFrame:
    death = window.to_datetime(np.where(purchases.dead, purchases.death_s, 0))
    death = np.where(purchases.dead, death, np.datetime64("NaT"))
    frame = pd.DataFrame(
        {
            "customer_type": np.where(cust.business, "business", "consumer"),
            "country": cust.attrs["country"],
            "region": cust.attrs["region"],
            "needs_group": cust.needs_group,
            "needs_label": np.array(_NEEDS_LABELS)[cust.needs_group],
            "service_group": np.where(cust.poor, "poor", "good"),
            "lambda_": cust.lam,
            "p_dropout": cust.p_drop,
            "b_dropout": cust.b_drop,
            "nu": cust.nu,
            "first_purchase_at": window.to_datetime(cust.t0_s),
            "death_date": death.astype("datetime64[us]"),
            "n_purchases": purchases.n_repeat + 1,
            "is_prospect": np.zeros(len(cust), dtype=bool),
        },
        index=pd.Index(ids, name="customer_id"),
    )
    for k, cat in enumerate(CATEGORIES):
        frame[f"mix_{cat}"] = cust.cat_mix[:, k]
    for k, chan in enumerate(CHANNELS):
        frame[f"channel_{chan}"] = cust.chan_mix[:, k]
    return frame


def _truth_prospects(cust: _Customers, ids: np.ndarray) -> pd.DataFrame:
    n = len(cust)
    frame = pd.DataFrame(
        {
            "customer_type": np.where(cust.business, "business", "consumer"),
            "country": cust.attrs["country"],
            "region": cust.attrs["region"],
            "needs_group": cust.needs_group,
            "needs_label": np.array(_NEEDS_LABELS)[cust.needs_group],
            "service_group": np.where(cust.poor, "poor", "good"),
            "lambda_": np.full(n, np.nan),
            "p_dropout": np.full(n, np.nan),
            "b_dropout": np.full(n, np.nan),
            "nu": np.full(n, np.nan),
            "first_purchase_at": np.full(n, np.datetime64("NaT"), dtype="datetime64[us]"),
            "death_date": np.full(n, np.datetime64("NaT"), dtype="datetime64[us]"),
            "n_purchases": np.zeros(n, dtype=np.int64),
            "is_prospect": np.ones(n, dtype=bool),
        },
        index=pd.Index(ids, name="customer_id"),
    )
    for cat in CATEGORIES:
        frame[f"mix_{cat}"] = np.nan
    for chan in CHANNELS:
        frame[f"channel_{chan}"] = np.nan
    return frame


# --------------------------------------------------------------------------- purchases


@dataclass
class _Purchases:
    """Purchase events (baskets) and their lines."""

    n_repeat: np.ndarray  # per customer
    dead: np.ndarray  # per customer
    death_s: np.ndarray  # per customer, seconds after start (valid where dead)
    basket_cust: np.ndarray  # per basket
    basket_s: np.ndarray  # per basket
    line_cust: np.ndarray  # per line (refunds included, after the purchase lines)
    line_s: np.ndarray
    line_cents: np.ndarray  # negative for refunds
    line_qty: np.ndarray
    line_cat: np.ndarray
    line_chan: np.ndarray


def _simulate_purchases(
    rng: np.random.Generator, cust: _Customers, cfg: dict[str, Any], window: _Window
) -> _Purchases:
    n = len(cust)
    t0 = cust.t0_s / _SECONDS_PER_WEEK
    span = window.horizon_s / _SECONDS_PER_WEEK - t0
    # While alive a customer buys as a Poisson process; n_window is how many
    # purchases that process puts in (t0, end]. Dropout happens after the
    # J-th repeat purchase, J ~ Geometric(p), so min(n_window, J) are observed.
    n_window = rng.poisson(cust.lam * span)
    j_drop = rng.geometric(np.clip(cust.p_drop, 1e-12, 1.0))
    k = np.minimum(n_window, j_drop)
    dead = j_drop <= n_window
    # The first k of n_window uniform order statistics on (0, span] without
    # drawing all n_window of them: U_(i) = S_i / S_(N+1), S partial sums of
    # Exp(1); S_(N+1) - S_k ~ Gamma(N + 1 - k).
    cust_of = np.repeat(np.arange(n), k)
    csum = np.concatenate(([0.0], np.cumsum(rng.standard_exponential(int(k.sum())))))
    ends = np.cumsum(k)
    before = csum[ends - k]
    seg_cum = csum[1:] - before[cust_of]
    seg_sum = csum[ends] - before
    scale = span / (seg_sum + rng.standard_gamma(n_window - k + 1.0))
    repeat_s = np.floor((t0[cust_of] + seg_cum * scale[cust_of]) * _SECONDS_PER_WEEK)
    repeat_s = np.clip(repeat_s.astype(np.int64), cust.t0_s[cust_of] + 1, window.horizon_s)
    death_s = np.full(n, -1, dtype=np.int64)
    death_s[dead] = repeat_s[ends[dead] - 1]  # a dead customer's last purchase

    basket_cust = np.concatenate((np.arange(n), cust_of))
    basket_s = np.concatenate((cust.t0_s, repeat_s))
    nb = basket_cust.size
    # Gamma-Gamma: the basket total is the purchase amount.
    total_cents = np.rint(rng.gamma(cfg["p"], 1.0 / cust.nu[basket_cust]) * 100).astype(np.int64)

    line_probs = np.asarray(cfg["basket_line_probs"], dtype=float)
    n_lines = 1 + rng.choice(line_probs.size, size=nb, p=line_probs / line_probs.sum())
    total_cents = np.maximum(total_cents, n_lines)
    line_basket = np.repeat(np.arange(nb), n_lines)
    line_cents = _split_cents(rng, total_cents, n_lines, line_basket)
    line_cust = basket_cust[line_basket]
    business = cust.business[line_cust]
    line_qty = 1 + rng.poisson(np.where(business, 2.0, 0.5))
    line_cat = _draw_rows(rng, np.cumsum(cust.cat_mix, axis=1), line_cust)
    line_chan = _draw_rows(rng, np.cumsum(cust.chan_mix, axis=1), basket_cust)[line_basket]
    line_s = basket_s[line_basket]

    # Refunds: part or all of a basket's first line, on a later day, if before end.
    first_line = np.concatenate(([0], np.cumsum(n_lines)[:-1]))
    refunded = first_line[rng.random(nb) < cfg["refund_rate"]]
    delay_s = 86_400 * (1.0 + rng.exponential(cfg["refund_delay_days_mean"], refunded.size))
    refund_s = line_s[refunded] + delay_s.astype(np.int64)
    full = rng.random(refunded.size) < 0.6
    frac = np.where(full, 1.0, rng.uniform(0.2, 0.8, refunded.size))
    refund_cents = -np.maximum(1, np.rint(line_cents[refunded] * frac)).astype(np.int64)
    refund_qty = np.maximum(1, np.floor(line_qty[refunded] * frac)).astype(np.int64)
    keep = refund_s <= window.horizon_s
    refunded = refunded[keep]

    return _Purchases(
        n_repeat=k,
        dead=dead,
        death_s=death_s,
        basket_cust=basket_cust,
        basket_s=basket_s,
        line_cust=np.concatenate((line_cust, line_cust[refunded])),
        line_s=np.concatenate((line_s, refund_s[keep])),
        line_cents=np.concatenate((line_cents, refund_cents[keep])),
        line_qty=np.concatenate((line_qty, refund_qty[keep])),
        line_cat=np.concatenate((line_cat, line_cat[refunded])),
        line_chan=np.concatenate((line_chan, line_chan[refunded])),
    )


def _split_cents(
    rng: np.random.Generator, total: np.ndarray, n_lines: np.ndarray, line_basket: np.ndarray
) -> np.ndarray:
    """Split integer basket totals into n_lines positive parts that add up exactly."""
    w = rng.gamma(2.0, size=line_basket.size)
    cum = np.cumsum(w)
    ends = np.cumsum(n_lines)
    before = np.concatenate(([0.0], cum))[ends - n_lines]
    seg_cum = cum - before[line_basket]
    seg_sum = (cum[ends - 1] - before)[line_basket]
    spare = (total - n_lines)[line_basket]  # one cent is reserved per line
    upper = np.floor(spare * seg_cum / seg_sum).astype(np.int64)
    upper[ends - 1] = total - n_lines  # float rounding must not lose the last cent
    lower = np.concatenate(([0], upper[:-1]))
    lower[ends - n_lines] = 0
    return 1 + upper - lower


def _draw_rows(rng: np.random.Generator, cum_probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per entry of ``rows`` from that row's cumulative probabilities."""
    u = rng.random(rows.size)
    out = (u[:, None] > cum_probs[rows]).sum(axis=1)
    return np.minimum(out, cum_probs.shape[1] - 1)


def _transactions_order(p: _Purchases) -> np.ndarray:
    return np.lexsort((np.arange(p.line_s.size), p.line_cust, p.line_s))


def _transactions_frame(p: _Purchases, ids: np.ndarray, window: _Window) -> pd.DataFrame:
    order = _transactions_order(p)
    m = order.size
    return pd.DataFrame(
        {
            "transaction_id": _format_ids("T", np.arange(1, m + 1), max(7, len(str(m)))),
            "customer_id": ids[p.line_cust[order]],
            "transaction_date": window.to_datetime(p.line_s[order]),
            "amount": p.line_cents[order] / 100.0,
            "quantity": p.line_qty[order].astype(np.int64),
            "product_category": np.array(CATEGORIES)[p.line_cat[order]],
            "channel": np.array(CHANNELS)[p.line_chan[order]],
        }
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


def _format_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded numbers, e.g. ``C000123``, as a numpy str array."""
    return _id_bytes(prefix, numbers, width).astype(str)


def _format_ids_bytes(prefix: str, numbers: np.ndarray, width: int) -> Any:
    import pyarrow as pa

    return pa.array(_id_bytes(prefix, numbers, width), type=pa.binary()).cast(pa.string())


def _id_bytes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    # Digit arithmetic on a byte matrix: far faster than string formatting for
    # tens of millions of ids.
    numbers = np.asarray(numbers, dtype=np.int64)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    buf = np.empty((numbers.size, head.size + width), dtype=np.uint8)
    buf[:, : head.size] = head
    rest = numbers.copy()
    for col in range(head.size + width - 1, head.size - 1, -1):
        buf[:, col] = 48 + rest % 10
        rest //= 10
    return buf.view(f"S{head.size + width}").ravel()


# --------------------------------------------------------------------------- tickets


def _simulate_tickets(
    rng: np.random.Generator,
    cust: _Customers,
    purchases: _Purchases,
    ids: np.ndarray,
    cfg: dict[str, Any],
    window: _Window,
) -> _Tickets:
    """Simulate tickets over each customer's active life."""
    grace_s = int(cfg["ticket_grace_days"] * 86_400)
    life_start = cust.t0_s
    life_end = np.where(
        purchases.dead, np.minimum(purchases.death_s + grace_s, window.horizon_s), window.horizon_s
    )
    life_weeks = (life_end - life_start) / _SECONDS_PER_WEEK
    per_year = np.where(cust.business, cfg["ticket_rate_business"], cfg["ticket_rate_consumer"])
    per_year = per_year * np.where(cust.poor, cfg["ticket_rate_poor_multiplier"], 1.0)
    count = rng.poisson(per_year / 52.1775 * life_weeks)
    c = np.repeat(np.arange(len(cust)), count)
    m = c.size
    opened = life_start[c] + np.floor(rng.random(m) * (life_end - life_start)[c]).astype(np.int64)
    priority = rng.choice(4, size=m, p=_PRIORITY_WEIGHT)
    sla = _SLA_HOURS[priority]
    poor = cust.poor[c]
    breached = rng.random(m) < np.where(
        poor, cfg["sla_breach_prob_poor"], cfg["sla_breach_prob_good"]
    )
    # Resolution time as a multiple of the SLA: clear of the threshold on both
    # sides, so second rounding never flips the breach flag.
    multiple = np.where(breached, 1.05 + rng.lognormal(-0.3, 0.7, m), rng.uniform(0.2, 0.95, m))
    resolve_s = np.rint(sla * multiple * 3600).astype(np.int64)
    response_s = np.rint(rng.lognormal(np.log(0.15 * sla), 0.6) * 3600).astype(np.int64)
    response_s = np.clip(response_s, 60, resolve_s // 2)
    first_response = opened + response_s
    resolved = opened + resolve_s

    still_open = resolved > window.horizon_s
    # Backlog: besides tickets that cannot have closed yet, some recent ones
    # stay open, so about open_ticket_fraction of tickets are open at end.
    missing = int(round(cfg["open_ticket_fraction"] * m)) - int(still_open.sum())
    recent = np.flatnonzero(~still_open & (opened >= window.horizon_s - 120 * 86_400))
    if missing > 0 and recent.size:
        still_open[rng.choice(recent, size=min(missing, recent.size), replace=False)] = True

    complaint = rng.random(m) < np.where(
        breached, cfg["complaint_prob_breached"], cfg["complaint_prob"]
    )
    reopened = rng.random(m) < np.where(poor, cfg["reopen_prob_poor"], cfg["reopen_prob_good"])
    reopened &= ~still_open
    category = rng.choice(len(TICKET_CATEGORIES), size=m, p=[0.25, 0.35, 0.15, 0.15, 0.10])
    chan_p = np.where(
        cust.business[c][:, None], [[0.35, 0.25, 0.30, 0.10]], [[0.30, 0.30, 0.10, 0.30]]
    )
    channel = _draw_rows(rng, np.cumsum(chan_p, axis=1), np.arange(m))

    order = np.lexsort((np.arange(m), c, opened))
    c, opened = c[order], opened[order]
    first_response, resolved = first_response[order], resolved[order]
    still_open, breached = still_open[order], breached[order]
    nat = np.datetime64("NaT", "us")
    frame = pd.DataFrame(
        {
            "ticket_id": _format_ids("TK", np.arange(1, m + 1), max(7, len(str(m)))),
            "customer_id": ids[c],
            "opened_at": window.to_datetime(opened),
            "first_response_at": np.where(
                first_response > window.horizon_s, nat, window.to_datetime(first_response)
            ).astype("datetime64[us]"),
            "resolved_at": np.where(still_open, nat, window.to_datetime(resolved)).astype(
                "datetime64[us]"
            ),
            "priority": np.array(TICKET_PRIORITIES)[priority[order]],
            "category": np.array(TICKET_CATEGORIES)[category[order]],
            "channel": np.array(TICKET_CHANNELS)[channel[order]],
            "sla_hours": sla[order].astype(np.int64),
            "is_complaint": complaint[order],
            "reopened": reopened[order],
        }
    )
    return _Tickets(frame, c, resolved, still_open, breached, life_start, life_end)


@dataclass
class _Tickets:
    """The tickets table plus the arrays the surveys depend on (rows in table order)."""

    frame: pd.DataFrame
    cust: np.ndarray
    resolved_s: np.ndarray  # planned resolution, seconds after start
    still_open: np.ndarray
    breached: np.ndarray
    life_start: np.ndarray  # per customer: active life, seconds after start
    life_end: np.ndarray


# --------------------------------------------------------------------------- surveys

_SURVEY_ITEMS: tuple[str, ...] = ("nps", "csat", *ECSI_LOADINGS)
_SURVEY_OF_ITEM = np.array(["nps", "csat"] + ["ecsi"] * len(ECSI_LOADINGS))
_SCALE_OF_ITEM = np.array([(0, 10), (1, 5)] + [(1, 10)] * len(ECSI_LOADINGS))


def _simulate_surveys(
    rng: np.random.Generator,
    rng_ecsi: np.random.Generator,
    cust: _Customers,
    tk: _Tickets,
    ids: np.ndarray,
    cfg: dict[str, Any],
    window: _Window,
) -> pd.DataFrame:
    parts = [
        _nps_answers(rng, cust, tk, cfg),
        _csat_answers(rng, tk, cfg, window),
        _ecsi_answers(rng_ecsi, cust, tk, cfg),
    ]
    c, t, item, score = (np.concatenate([p[k] for p in parts]) for k in range(4))
    order = np.lexsort((item, c, t))
    c, t, item, score = c[order], t[order], item[order], score[order]
    m = c.size
    return pd.DataFrame(
        {
            "response_id": _format_ids("R", np.arange(1, m + 1), max(7, len(str(m)))),
            "customer_id": ids[c],
            "responded_at": window.to_datetime(t),
            "survey": _SURVEY_OF_ITEM[item],
            "item": np.array(_SURVEY_ITEMS)[item],
            "score": score.astype(np.int64),
            "scale_min": _SCALE_OF_ITEM[item, 0].astype(np.int64),
            "scale_max": _SCALE_OF_ITEM[item, 1].astype(np.int64),
        }
    )


def _random_life_times(rng: np.random.Generator, tk: _Tickets, c: np.ndarray) -> np.ndarray:
    span = (tk.life_end - tk.life_start)[c]
    return tk.life_start[c] + np.floor(rng.random(c.size) * span).astype(np.int64)


def _nps_answers(
    rng: np.random.Generator, cust: _Customers, tk: _Tickets, cfg: dict[str, Any]
) -> tuple[np.ndarray, ...]:
    n = len(cust)
    answers = np.where(
        rng.random(n) < cfg["nps_response_rate"], 1 + rng.choice(3, size=n, p=[0.5, 0.3, 0.2]), 0
    )
    c = np.repeat(np.arange(n), answers)
    t = _random_life_times(rng, tk, c)
    breaches = _recent_breaches(tk, c, t, int(cfg["nps_breach_window_days"] * 86_400))
    mean = np.where(cust.poor[c], cfg["nps_mean_poor"], cfg["nps_mean_good"])
    noise = cfg["nps_sd"] * rng.standard_normal(c.size)
    latent = mean + noise + cfg["nps_breach_effect"] * breaches
    score = np.clip(np.rint(latent), 0, 10)
    return c, t, np.zeros(c.size, dtype=np.int64), score


def _recent_breaches(tk: _Tickets, c: np.ndarray, t: np.ndarray, window_s: int) -> np.ndarray:
    """Breached tickets of customer c resolved in [t - window_s, t), vectorised."""
    # (customer, time) packed into one sortable int64; 2**33 s is ~270 years.
    shift = np.int64(2**33)
    done = tk.breached & ~tk.still_open
    events = np.sort(tk.cust[done].astype(np.int64) * shift + tk.resolved_s[done])
    base = c.astype(np.int64) * shift
    hi = np.searchsorted(events, base + t, side="left")
    lo = np.searchsorted(events, base + t - window_s, side="left")
    return hi - lo


def _csat_answers(
    rng: np.random.Generator, tk: _Tickets, cfg: dict[str, Any], window: _Window
) -> tuple[np.ndarray, ...]:
    asked = np.flatnonzero(~tk.still_open & (rng.random(tk.cust.size) < cfg["csat_response_rate"]))
    t = tk.resolved_s[asked] + 300 + rng.exponential(86_400.0, asked.size).astype(np.int64)
    keep = t <= window.horizon_s
    asked, t = asked[keep], t[keep]
    latent = (
        cfg["csat_mean"]
        + cfg["csat_sd"] * rng.standard_normal(asked.size)
        + cfg["csat_breach_effect"] * tk.breached[asked]
    )
    score = np.clip(np.rint(latent), 1, 5)
    return tk.cust[asked], t, np.ones(asked.size, dtype=np.int64), score


def _ecsi_structure() -> tuple[np.ndarray, np.ndarray]:
    """Path matrix ``B[target, source]`` and the error variances that make every latent var 1."""
    k = len(ECSI_CONSTRUCTS)
    pos = {name: i for i, name in enumerate(ECSI_CONSTRUCTS)}
    B = np.zeros((k, k))
    for (source, target), coef in ECSI_PATHS.items():
        B[pos[target], pos[source]] = coef
    sigma = np.eye(k)
    psi = np.ones(k)
    # ECSI_CONSTRUCTS is in causal order, so each construct only needs the
    # covariances of the ones before it.
    for j in range(k):
        src = np.flatnonzero(B[j])
        if src.size == 0:
            continue
        beta = B[j, src]
        sigma[j, :j] = sigma[:j, j] = beta @ sigma[src, :j]
        psi[j] = 1.0 - beta @ sigma[np.ix_(src, src)] @ beta
    if (psi <= 0).any():
        raise AssertionError("ECSI path coefficients imply a latent variance above 1")
    return B, psi


def _ecsi_latents(rng: np.random.Generator, n: int) -> np.ndarray:
    B, psi = _ecsi_structure()
    eta = np.zeros((n, len(ECSI_CONSTRUCTS)))
    for j in range(len(ECSI_CONSTRUCTS)):
        eta[:, j] = eta @ B[j] + np.sqrt(psi[j]) * rng.standard_normal(n)
    return eta


def _ecsi_answers(
    rng: np.random.Generator, cust: _Customers, tk: _Tickets, cfg: dict[str, Any]
) -> tuple[np.ndarray, ...]:
    who = np.flatnonzero(rng.random(len(cust)) < cfg["ecsi_response_rate"])
    t = _random_life_times(rng, tk, who)
    eta = _ecsi_latents(rng, who.size)
    pos = {name: i for i, name in enumerate(ECSI_CONSTRUCTS)}
    scores = []
    for item, loading in ECSI_LOADINGS.items():
        latent = eta[:, pos[item.rsplit("_", 1)[0]]]
        x = loading * latent + math.sqrt(1.0 - loading**2) * rng.standard_normal(who.size)
        scores.append(np.clip(np.rint(cfg["ecsi_center"] + cfg["ecsi_spread"] * x), 1, 10))
    n_items = len(ECSI_LOADINGS)
    item = np.tile(np.arange(2, 2 + n_items), who.size)
    return np.repeat(who, n_items), np.repeat(t, n_items), item, np.column_stack(scores).ravel()


# --------------------------------------------------------------------------- dirty export

_DEFECT_CODES: dict[str, tuple[str, ...]] = {
    "customers": (
        "missing_key",
        "bad_email",
        "bad_boolean",
        "bad_category",
        "negative_value",
        "bad_integer",
        "bad_number",
        "bad_date",
        "future_date",
    ),
    "transactions": (
        "missing_key",
        "missing_value",
        "bad_number",
        "bad_integer",
        "negative_value",
        "bad_date",
        "future_date",
        "unknown_customer",
    ),
    "tickets": (
        "missing_key",
        "missing_value",
        "bad_date",
        "future_date",
        "bad_number",
        "negative_value",
        "bad_boolean",
        "unknown_customer",
        "resolved_before_opened",
        "responded_before_opened",
    ),
    "survey_responses": (
        "missing_key",
        "missing_value",
        "bad_number",
        "bad_date",
        "future_date",
        "unknown_customer",
        "score_out_of_scale",
        "bad_scale",
    ),
}
_DATE_COLUMN = {
    "customers": "created_at",
    "transactions": "transaction_date",
    "tickets": "opened_at",
    "survey_responses": "responded_at",
}
_NUMBER_COLUMN = {
    "customers": "annual_revenue",
    "transactions": "amount",
    "tickets": "sla_hours",
    "survey_responses": "score",
}
_MISSING_COLUMNS = {
    "transactions": ("transaction_date", "amount"),
    "tickets": ("opened_at",),
    "survey_responses": ("responded_at", "score"),
}
_TRUE_SPELLINGS = ("Yes", "Y", "1", "TRUE", "yes", "t")
_FALSE_SPELLINGS = ("No", "N", "0", "FALSE", "no", "f")
_CONFLICT_SHARE = 0.1  # of the defects, the share that are conflicting duplicate keys
_EXACT_DUPLICATE_SHARE = 0.2  # exact duplicate rows, relative to dirty_fraction


def _make_dirty(
    rng: np.random.Generator,
    clean: dict[str, pd.DataFrame],
    fraction: float,
    n_real_customers: int,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    defects, duplicates = [], []
    for name in _TABLE_ORDER:
        frame = clean[name]
        cols = _as_text(frame)
        _add_noise(rng, name, cols, fraction)
        # Customer rows that get a defect are activity-free prospects only.
        first_eligible = n_real_customers if name == "customers" else 0
        eligible = np.arange(first_eligible, len(frame))
        table, found, dups = _inject_defects(rng, name, frame, cols, fraction, eligible)
        tables[name] = table
        defects.append(found)
        duplicates.append(dups)
    return tables, pd.concat(defects, ignore_index=True), pd.concat(duplicates, ignore_index=True)


def _empty_defects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": pd.Series(dtype="str"),
            "key": pd.Series(dtype="str"),
            "source_row": pd.Series(dtype="int64"),
            "position": pd.Series(dtype="int64"),
            "reason_code": pd.Series(dtype="str"),
            "column": pd.Series(dtype="str"),
            "value": pd.Series(dtype="str"),
        }
    )


def _empty_duplicates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": pd.Series(dtype="str"),
            "key": pd.Series(dtype="str"),
            "source_row": pd.Series(dtype="int64"),
            "position": pd.Series(dtype="int64"),
            "first_row": pd.Series(dtype="int64"),
            "kind": pd.Series(dtype="str"),
        }
    )


def _as_text(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each column as an object array of str, missing -> '' (a CSV export's view)."""
    out: dict[str, np.ndarray] = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            values = col.to_numpy().astype("datetime64[s]")
            text = np.char.replace(np.datetime_as_string(values), "T", " ")
            text = np.where(np.isnat(values), "", text)
        elif pd.api.types.is_bool_dtype(col):
            text = np.where(col.to_numpy(dtype=bool), "True", "False")
        elif pd.api.types.is_numeric_dtype(col):
            missing = col.isna().to_numpy()
            if col.dtype.kind == "f":
                text = col.to_numpy(dtype=float, na_value=0.0).astype(str)
            else:
                text = col.to_numpy(dtype=np.int64, na_value=0).astype(str)
            text = np.where(missing, "", text)
        else:
            text = col.fillna("").to_numpy(dtype=str)
        out[name] = np.asarray(text, dtype=object)
    return out


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], k: int) -> np.ndarray:
    return np.array(options, dtype=object)[rng.integers(0, len(options), k)]


def _add_noise(
    rng: np.random.Generator, table: str, cols: dict[str, np.ndarray], frac: float
) -> None:
    """Cleanable noise: every change here must load to the same clean value."""
    n = len(next(iter(cols.values())))

    def rows(share: float, column: str | None = None) -> np.ndarray:
        hit = rng.random(n) < share
        if column is not None:
            hit &= cols[column] != ""
        return np.flatnonzero(hit)

    def pad(column: str, share: float) -> None:
        r = rows(share, column)
        left = _pick(rng, (" ", "  ", ""), r.size)
        cols[column][r] = left + cols[column][r] + _pick(rng, (" ", "\t", "  "), r.size)

    def spell_bool(column: str, share: float) -> None:
        r = rows(share, column)
        truthy = cols[column][r] == "True"
        cols[column][r] = np.where(
            truthy, _pick(rng, _TRUE_SPELLINGS, r.size), _pick(rng, _FALSE_SPELLINGS, r.size)
        )

    def iso_t(column: str, share: float) -> None:
        r = rows(share, column)
        cols[column][r] = np.array([s.replace(" ", "T", 1) for s in cols[column][r]], dtype=object)

    def utc_offset(column: str, share: float) -> None:
        r = rows(share, column)
        cols[column][r] = cols[column][r] + "+00:00"

    if table == "customers":
        pad("name", frac)
        r = rows(frac, "email")
        cols["email"][r] = np.array([s.upper() for s in cols["email"][r]], dtype=object)
        pad("email", frac / 2)
        r = rows(frac, "country")
        style = rng.integers(0, 3, r.size)
        meta = [_COUNTRIES[c] for c in cols["country"][r]]
        cols["country"][r] = np.array(
            [
                m[0] if s == 0 else m[1] if s == 1 else f" {m[0].lower()} "
                for m, s in zip(meta, style, strict=True)
            ],
            dtype=object,
        )
        spell_bool("marketing_opt_in", frac)
        r = rows(frac, "customer_type")
        business = cols["customer_type"][r] == "business"
        cols["customer_type"][r] = np.where(
            business,
            _pick(rng, ("B2B", "Business", "b2b"), r.size),
            _pick(rng, ("B2C", " Consumer ", "private"), r.size),
        )
        r = rows(frac / 2, "employees")
        cols["employees"][r] = cols["employees"][r] + ".0"
        iso_t("created_at", frac / 2)
    elif table == "transactions":
        pad("customer_id", frac / 2)
        iso_t("transaction_date", frac / 2)
        utc_offset("transaction_date", frac / 2)
        pad("product_category", frac / 2)
    elif table == "tickets":
        spell_bool("is_complaint", frac)
        spell_bool("reopened", frac)
        pad("priority", frac / 2)
        iso_t("opened_at", frac / 2)
    else:
        r = rows(frac / 2, "score")
        cols["score"][r] = cols["score"][r] + ".0"
        pad("item", frac / 2)
        utc_offset("responded_at", frac / 2)


def _inject_defects(
    rng: np.random.Generator,
    table: str,
    frame: pd.DataFrame,
    cols: dict[str, np.ndarray],
    fraction: float,
    eligible: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n = len(frame)
    key = TABLES[table].key
    keys = frame[key].to_numpy(dtype=str)
    n_defects = int(round(fraction * n))
    n_conflict = int(round(_CONFLICT_SHARE * n_defects))
    n_mutate = min(n_defects - n_conflict, eligible.size)
    n_exact = int(round(_EXACT_DUPLICATE_SHARE * fraction * n))

    mutated = rng.choice(eligible, size=n_mutate, replace=False)
    codes_all = _DEFECT_CODES[table]
    codes = np.array(codes_all)[rng.integers(0, len(codes_all), n_mutate)]
    found_rows, found_codes, found_cols, found_values = [], [], [], []
    for code in codes_all:
        rows = mutated[codes == code]
        if rows.size == 0:
            continue
        edits = _defect_edits(rng, table, code, rows, cols, frame)
        for column, sub, values in edits:
            cols[column][sub] = values
        # bad_scale edits two columns of the same rows; record each row once.
        for column, sub, values in edits if code == "missing_value" else edits[:1]:
            found_rows.append(sub)
            found_codes.append(np.full(sub.size, code, dtype=object))
            found_cols.append(np.full(sub.size, column, dtype=object))
            found_values.append(values)

    # Duplicates repeat only rows that load, so "first occurrence wins" is well defined.
    untouched = np.setdiff1d(np.arange(n), mutated)
    conflict_pool = np.setdiff1d(eligible, mutated)
    n_conflict = min(n_conflict, conflict_pool.size)
    conflict_src = rng.choice(conflict_pool, size=n_conflict, replace=False)
    exact_pool = np.setdiff1d(untouched, conflict_src)
    exact_src = rng.choice(exact_pool, size=min(n_exact, exact_pool.size), replace=False)
    copies = {name: np.concatenate((v, v[conflict_src], v[exact_src])) for name, v in cols.items()}
    conflict_at = n + np.arange(conflict_src.size)
    conflict_col, conflict_values = _conflict_edit(rng, table, conflict_src, cols, frame)
    copies[conflict_col][conflict_at] = conflict_values

    # Each copy lands somewhere after the row it repeats.
    src = np.concatenate((conflict_src, exact_src))
    sort_key = np.concatenate((np.arange(n, dtype=float), src + rng.random(src.size) * (n - src)))
    order = np.argsort(sort_key, kind="stable")
    position = np.empty(order.size, dtype=np.int64)
    position[order] = np.arange(order.size)
    line = position + 2  # CSV line number: the header is line 1
    dirty = pd.DataFrame({name: copies[name][order] for name in cols})

    rows = np.concatenate(found_rows) if found_rows else np.array([], dtype=np.int64)
    defects = pd.DataFrame(
        {
            "table": table,
            "key": np.concatenate((keys[rows], keys[conflict_src])),
            "source_row": np.concatenate((line[rows], line[conflict_at])),
            "position": np.concatenate((position[rows], position[conflict_at])),
            "reason_code": np.concatenate(
                found_codes + [np.full(conflict_src.size, "duplicate_conflict", dtype=object)]
            ),
            "column": np.concatenate(
                found_cols + [np.full(conflict_src.size, conflict_col, dtype=object)]
            ),
            "value": np.concatenate(found_values + [conflict_values]).astype(str),
        }
    )
    defects = defects.sort_values("source_row", ignore_index=True)
    defects = defects.astype(
        {"table": "str", "key": "str", "reason_code": "str", "column": "str", "value": "str"}
    )
    duplicates = pd.DataFrame(
        {
            "table": table,
            "key": keys[src],
            "source_row": line[n + np.arange(src.size)],
            "position": position[n + np.arange(src.size)],
            "first_row": line[src],
            "kind": np.repeat(["conflict", "exact"], [conflict_src.size, exact_src.size]),
        }
    ).sort_values("source_row", ignore_index=True)
    duplicates = duplicates.astype({"table": "str", "key": "str", "kind": "str"})
    return dirty, defects, duplicates


def _shift_hours(
    frame: pd.DataFrame, column: str, rows: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    values = frame[column].to_numpy()[rows].astype("datetime64[s]")
    shifted = values + np.rint(hours * 3600).astype("timedelta64[s]")
    return np.char.replace(np.datetime_as_string(shifted), "T", " ").astype(object)


def _defect_edits(
    rng: np.random.Generator,
    table: str,
    code: str,
    rows: np.ndarray,
    cols: dict[str, np.ndarray],
    frame: pd.DataFrame,
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Edits ``(column, rows, new text)`` that give ``rows`` the defect ``code``.

    ``truth.defects`` records the first edit (every edit for missing_value,
    whose edits cover disjoint rows).
    """
    k = rows.size
    if code == "missing_key":
        return [(TABLES[table].key, rows, np.full(k, "", dtype=object))]
    if code == "missing_value":
        choices = _MISSING_COLUMNS[table]
        which = rng.integers(0, len(choices), k)
        return [
            (col, rows[which == i], np.full(int((which == i).sum()), "", dtype=object))
            for i, col in enumerate(choices)
            if (which == i).any()
        ]
    if code == "bad_number":
        return [(_NUMBER_COLUMN[table], rows, _pick(rng, ("abc", "12,5€", "1.2.3"), k))]
    if code == "bad_integer":
        column = "employees" if table == "customers" else "quantity"
        return [(column, rows, _pick(rng, ("1.5", "2.7", "two"), k))]
    if code == "negative_value":
        column = {"customers": "employees", "transactions": "quantity", "tickets": "sla_hours"}[
            table
        ]
        negative = np.char.add("-", rng.integers(1, 50, k).astype(str)).astype(object)
        return [(column, rows, negative)]
    if code == "bad_date":
        bad = _pick(rng, ("2024-13-45", "yesterday", "2023-02-30"), k)
        return [(_DATE_COLUMN[table], rows, bad)]
    if code == "future_date":
        # Year 2099 is after `end` and after any real loading date; tickets get
        # a future resolution so no ordering check fires as well.
        column = "resolved_at" if table == "tickets" else _DATE_COLUMN[table]
        base = cols[_DATE_COLUMN[table]][rows]
        text = np.array(["2099" + s[4:].replace("-02-29", "-02-28") for s in base], dtype=object)
        return [(column, rows, text)]
    if code == "bad_email":
        # Malformed under any reasonable rule, even a lenient ".+@.+\..+".
        options = ("john.doe@", "no-at-sign.com", "@example.com", "john.doe@example")
        return [("email", rows, _pick(rng, options, k))]
    if code == "bad_boolean":
        column = "marketing_opt_in" if table == "customers" else "is_complaint"
        return [(column, rows, _pick(rng, ("maybe", "sometimes", "2"), k))]
    if code == "bad_category":
        return [("customer_type", rows, _pick(rng, ("alien", "robot", "reseller"), k))]
    if code == "unknown_customer":
        return [("customer_id", rows, _format_ids("CX999", rows, 7).astype(object))]
    if code == "score_out_of_scale":
        low = frame["scale_min"].to_numpy()[rows]
        high = frame["scale_max"].to_numpy()[rows]
        out = np.where(rng.random(k) < 0.5, high + 1, low - 1)
        return [("score", rows, out.astype(str).astype(object))]
    if code == "bad_scale":
        low, high = cols["scale_min"][rows].copy(), cols["scale_max"][rows].copy()
        return [("scale_min", rows, high), ("scale_max", rows, low)]
    if code == "resolved_before_opened":
        hours = -rng.uniform(1.0, 72.0, k)
        return [("resolved_at", rows, _shift_hours(frame, "opened_at", rows, hours))]
    if code == "responded_before_opened":
        hours = -rng.uniform(0.25, 24.0, k)
        return [("first_response_at", rows, _shift_hours(frame, "opened_at", rows, hours))]
    raise AssertionError(f"no defect recipe for {code!r} in {table}")


def _conflict_edit(
    rng: np.random.Generator,
    table: str,
    rows: np.ndarray,
    cols: dict[str, np.ndarray],
    frame: pd.DataFrame,
) -> tuple[str, np.ndarray]:
    """A valid but different value for a repeated key: the loader must flag a conflict."""
    if table == "customers":
        phones = cols["phone"][rows]
        changed = [s[:-1] + str((int(s[-1]) + 1) % 10) for s in phones]
        return "phone", np.array(changed, dtype=object)
    if table == "transactions":
        amount = frame["amount"].to_numpy()[rows] + 1.0
        return "amount", np.round(amount, 2).astype(str).astype(object)
    if table == "tickets":
        position = {name: i for i, name in enumerate(TICKET_CATEGORIES)}
        current = np.array(
            [position[c] for c in frame["category"].to_numpy(dtype=str)[rows]], dtype=np.int64
        )
        shift = rng.integers(1, len(TICKET_CATEGORIES), rows.size)
        idx = (current + shift) % len(TICKET_CATEGORIES)
        return "category", np.array(TICKET_CATEGORIES, dtype=object)[idx]
    score = frame["score"].to_numpy()[rows]
    high = frame["scale_max"].to_numpy()[rows]
    changed = np.where(score < high, score + 1, score - 1)
    return "score", changed.astype(str).astype(object)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to truth.json")
