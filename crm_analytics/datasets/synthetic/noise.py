"""Cleanable noise of a messy export: every column as text, then padding, spellings
and formats that must load to the same clean value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_analytics.datasets.synthetic.vocab import _COUNTRIES

_TRUE_SPELLINGS = ("Yes", "Y", "1", "TRUE", "yes", "t")
_FALSE_SPELLINGS = ("No", "N", "0", "FALSE", "no", "f")


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
