"""The ground truth: :class:`GroundTruth`, the recorded parameters and the
per-customer latent frame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from crm_analytics.datasets.synthetic.customers import (
    _NEEDS_CATEGORY_MIX,
    _NEEDS_CHANNEL_MIX,
    _NEEDS_LABELS,
    _NEEDS_REGION_TILT,
    _Customers,
)
from crm_analytics.datasets.synthetic.params import _Window
from crm_analytics.datasets.synthetic.purchases import _Purchases
from crm_analytics.datasets.synthetic.service import _SLA_HOURS
from crm_analytics.datasets.synthetic.surveys import ECSI_CONSTRUCTS, _ecsi_structure
from crm_analytics.datasets.synthetic.vocab import CATEGORIES, CHANNELS, TICKET_PRIORITIES


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
