"""Injected defects and duplicate keys, recorded for ``truth.defects`` and
``truth.duplicates``: the rows a loader must reject or skip."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_analytics.datasets.synthetic.ids import _format_ids
from crm_analytics.datasets.synthetic.noise import _add_noise, _as_text, _pick
from crm_analytics.datasets.synthetic.vocab import _TABLE_ORDER, TICKET_CATEGORIES
from crm_analytics.store.schema import TABLES

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
