"""The registry of score columns: every per-customer column a scoring run writes.

``customer_scores`` holds one row per customer and run: ``run_id``,
``customer_id`` and the columns listed in :data:`SCORE_COLUMNS`, typed as
listed. This tuple is the single list: the table's DDL is generated from it
(:func:`customer_scores_ddl`), a run refuses a column that is not in it, segment
rules accept its columns, exports choose from its ``exportable`` columns, the
dashboards show its labels and the README's table is generated from it
(:func:`score_columns_markdown`).

A step that starts producing a new column must add it here (name, SQL type,
step, one-line description, short label); otherwise the run fails, naming the
column.

Types: numbers are ``DOUBLE`` (counts too: a count is NULL for a customer the
step did not score, and the stored values have always been doubles), flags
``BOOLEAN``, moments ``TIMESTAMP`` (UTC, no zone), everything else ``VARCHAR``.

Examples
--------
>>> score_column("clv").label
'CLV'
>>> score_column("recency")
Traceback (most recent call last):
...
crm_analytics.errors.InputError: unknown score column 'recency'; did you mean 'recency_weeks' or ...
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crm_analytics.errors import InputError

__all__ = [
    "KEY_COLUMNS",
    "SCORE_COLUMNS",
    "SQL_TYPES",
    "STEPS",
    "ScoreColumn",
    "customer_scores_ddl",
    "did_you_mean",
    "missing_score_columns_ddl",
    "score_column",
    "score_column_names",
    "score_columns_markdown",
]

#: The SQL types a score column may have.
SQL_TYPES = ("DOUBLE", "BIGINT", "VARCHAR", "BOOLEAN", "TIMESTAMP")
#: The scoring steps that produce score columns, in run order.
STEPS = ("attributes", "clv", "churn", "satisfaction", "segments")
#: The key of ``customer_scores``; not score columns.
KEY_COLUMNS = (("run_id", "VARCHAR"), ("customer_id", "VARCHAR"))


@dataclass(frozen=True)
class ScoreColumn:
    """One column of ``customer_scores``.

    ``exportable`` is False for columns a marketing export must not copy from
    the scores (contact details and consent, which the export reads live from
    the ``customers`` table).
    """

    name: str
    sql_type: str
    step: str
    description: str
    label: str
    exportable: bool = True

    def __post_init__(self) -> None:
        if self.sql_type not in SQL_TYPES:
            raise ValueError(f"score column {self.name}: sql_type {self.sql_type!r} not in {SQL_TYPES}")
        if self.step not in STEPS:
            raise ValueError(f"score column {self.name}: step {self.step!r} not in {STEPS}")


_C = ScoreColumn

#: Every column a scoring run writes, in the order the steps add them.
SCORE_COLUMNS: tuple[ScoreColumn, ...] = (
    # -- attributes: the customers table as of the run, and recent revenue
    _C("name", "VARCHAR", "attributes", "Customer name (a contact detail: not for rules or score exports)",
       "Name", exportable=False),
    _C("customer_type", "VARCHAR", "attributes", "'business' or 'consumer'", "Customer type"),
    _C("size_band", "VARCHAR", "attributes", "Size band from employees and annual revenue: large, "
       "small_medium, consumer or unknown", "Size band"),
    _C("industry", "VARCHAR", "attributes", "Industry as loaded", "Industry"),
    _C("country", "VARCHAR", "attributes", "Country, ISO 3166 alpha-2 where recognisable", "Country"),
    _C("region", "VARCHAR", "attributes", "Sales region (as loaded, else from the country)", "Region"),
    _C("employees", "DOUBLE", "attributes", "Number of employees", "Employees"),
    _C("annual_revenue", "DOUBLE", "attributes", "The customer's own annual revenue (firmographic)",
       "Annual revenue"),
    _C("created_at", "TIMESTAMP", "attributes", "When the customer record was created", "Customer since"),
    _C("marketing_opt_in", "BOOLEAN", "attributes", "Marketing consent at the run (exports re-read it "
       "live)", "Marketing opt-in", exportable=False),
    _C("revenue_365d", "DOUBLE", "attributes", "Net revenue (refunds subtracted) over the last 365 days",
       "Revenue, last 365 days"),
    _C("transactions_365d", "DOUBLE", "attributes", "Transactions over the last 365 days",
       "Transactions, last 365 days"),
    _C("revenue_lifetime", "DOUBLE", "attributes", "Net revenue of all transactions up to as_of",
       "Lifetime revenue"),
    _C("last_purchase_at", "TIMESTAMP", "attributes", "Time of the latest transaction up to as_of",
       "Last purchase"),
    # -- clv: RFM summary, purchase and spend models, revenue potential
    _C("frequency", "DOUBLE", "clv", "Repeat purchase periods (weeks with a purchase after the first)",
       "Repeat purchases"),
    _C("recency_weeks", "DOUBLE", "clv", "Weeks from the first to the latest purchase", "Recency (weeks)"),
    _C("tenure_weeks", "DOUBLE", "clv", "Weeks from the first purchase to as_of", "Tenure (weeks)"),
    _C("monetary_value", "DOUBLE", "clv", "Mean value of the repeat purchases", "Mean repeat purchase"),
    _C("p_alive", "DOUBLE", "clv", "Probability the customer is still active (purchase model)", "P(alive)"),
    _C("expected_purchases", "DOUBLE", "clv", "Expected purchases over the CLV horizon",
       "Expected purchases"),
    _C("clv", "DOUBLE", "clv", "Discounted expected revenue over the CLV horizon", "CLV"),
    _C("expected_spend", "DOUBLE", "clv", "Expected value per purchase (Gamma-Gamma)", "Expected spend"),
    _C("spend_basis", "VARCHAR", "clv", "What expected_spend rests on (model, fallback or unavailable)",
       "Spend basis"),
    _C("revenue_last_12m", "DOUBLE", "clv", "Net revenue over the 365 days before as_of",
       "Revenue, last 12 months"),
    _C("revenue_prior_12m", "DOUBLE", "clv", "Net revenue over the 365 days before those",
       "Revenue, prior 12 months"),
    _C("growth_rate", "DOUBLE", "clv", "Annualised revenue growth, last 12 months vs the prior 12",
       "Growth rate"),
    _C("growth_basis", "VARCHAR", "clv", "Why growth_rate is set or NaN: history, new_customer, zero_base",
       "Growth basis"),
    _C("annual_spend", "DOUBLE", "clv", "Last 12 months' revenue annualised over the active days",
       "Annual spend"),
    _C("peer_group", "VARCHAR", "clv", "Peers the spend is compared with (size band, industry)",
       "Peer group"),
    _C("peer_count", "DOUBLE", "clv", "Customers in the peer group", "Peers"),
    _C("peer_annual_spend_q75", "DOUBLE", "clv", "Upper quartile of the peers' annual spend",
       "Peer spend, 75th pct"),
    _C("headroom", "DOUBLE", "clv", "Peer upper-quartile annual spend minus own annual spend (>= 0)",
       "Headroom"),
    _C("headroom_value", "DOUBLE", "clv", "Present value of the headroom, weighted by P(alive)",
       "Headroom value"),
    _C("revenue_potential", "DOUBLE", "clv", "CLV plus headroom value", "Revenue potential"),
    _C("revenue_potential_code", "VARCHAR", "clv", "A/B/C/D by the quartiles of revenue_potential",
       "Potential code"),
    # -- churn: the saved churn model
    _C("churn_probability", "DOUBLE", "churn", "Calibrated probability of churning within the churn "
       "horizon", "Churn probability"),
    _C("risk_band", "VARCHAR", "churn", "low, medium or high (churn_probability vs the risk thresholds)",
       "Risk band"),
    _C("revenue_at_risk", "DOUBLE", "churn", "churn_probability times CLV", "Revenue at risk"),
    _C("revenue_at_risk_basis", "VARCHAR", "churn", "Which CLV revenue_at_risk uses", "At-risk basis"),
    _C("reason_1", "VARCHAR", "churn", "Largest driver of the churn probability, as text", "Reason 1"),
    _C("reason_2", "VARCHAR", "churn", "Second driver of the churn probability", "Reason 2"),
    _C("reason_3", "VARCHAR", "churn", "Third driver of the churn probability", "Reason 3"),
    # -- satisfaction: surveys and service tickets
    _C("latest_nps", "DOUBLE", "satisfaction", "Latest 0-10 recommendation score", "Latest NPS answer"),
    _C("nps_class", "VARCHAR", "satisfaction", "promoter (9-10), passive (7-8) or detractor (0-6)",
       "NPS class"),
    _C("csat_mean_180d", "DOUBLE", "satisfaction", "Mean CSAT score over the last 180 days",
       "CSAT, last 180 days"),
    _C("complaints_365d", "DOUBLE", "satisfaction", "Complaint tickets opened in the last 365 days",
       "Complaints, last 365 days"),
    _C("sla_breaches_365d", "DOUBLE", "satisfaction", "Tickets that missed their SLA in the last 365 days",
       "SLA breaches, last 365 days"),
    _C("open_tickets", "DOUBLE", "satisfaction", "Tickets open at as_of", "Open tickets"),
    # -- segments: size, RFM, needs, value
    _C("size_segment", "VARCHAR", "segments", "Large · industry, Small/medium, Consumer or Unknown size",
       "Size segment"),
    _C("recency_days", "DOUBLE", "segments", "Days since the latest purchase", "Recency (days)"),
    _C("purchase_days_365d", "DOUBLE", "segments", "Days with a purchase in the last 365 days",
       "Purchase days, last 365 days"),
    _C("net_spend_365d", "DOUBLE", "segments", "Net spend over the last 365 days (RFM monetary)",
       "Net spend, last 365 days"),
    _C("r_score", "DOUBLE", "segments", "RFM recency quintile score, 1-5", "R score"),
    _C("f_score", "DOUBLE", "segments", "RFM frequency quintile score, 1-5", "F score"),
    _C("m_score", "DOUBLE", "segments", "RFM monetary quintile score, 1-5", "M score"),
    _C("rfm_segment", "VARCHAR", "segments", "Named RFM cell (Champions, Loyal, ..., Lost)", "RFM segment"),
    _C("needs_segment", "DOUBLE", "segments", "Needs segment id (k-means, stable across runs)",
       "Needs segment id"),
    _C("needs_segment_name", "VARCHAR", "segments", "Needs segment name, from its profile",
       "Needs segment"),
    _C("value_tier", "VARCHAR", "segments", "Top 10% / Next 20% / Middle 40% / Bottom 30% by CLV",
       "Value tier"),
)

_BY_NAME: dict[str, ScoreColumn] = {c.name: c for c in SCORE_COLUMNS}
if len(_BY_NAME) != len(SCORE_COLUMNS):  # pragma: no cover - a typo in the tuple above
    raise RuntimeError("SCORE_COLUMNS lists a column twice")


def score_column_names() -> tuple[str, ...]:
    """The names of the score columns, in registry order.

    Examples
    --------
    >>> score_column_names()[:3]
    ('name', 'customer_type', 'size_band')
    """
    return tuple(_BY_NAME)


def did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` for a mistyped ``name``, or ``""``.

    Candidates that start with ``name`` (ignoring case) come first, in the order
    given; otherwise the closest by :func:`difflib.get_close_matches`.

    Examples
    --------
    >>> did_you_mean("recency", ["frequency", "recency_weeks", "recency_days"])
    "; did you mean 'recency_weeks' or 'recency_days'?"
    >>> did_you_mean("churn_probabilty", ["clv", "churn_probability"])
    "; did you mean 'churn_probability'?"
    >>> did_you_mean("zzz", ["clv"])
    ''
    """
    folded = name.casefold()
    found = [c for c in candidates if c.casefold().startswith(folded) and c != name][:3]
    if not found:
        by_fold = {c.casefold(): c for c in candidates}
        found = [by_fold[m] for m in difflib.get_close_matches(folded, list(by_fold), n=3, cutoff=0.6)]
    if not found:
        return ""
    quoted = [repr(c) for c in found]
    shown = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"; did you mean {shown}?"


def score_column(name: str) -> ScoreColumn:
    """The registry entry of a score column.

    Raises
    ------
    InputError
        ``name`` is not a score column (with the closest names).

    Examples
    --------
    >>> score_column("revenue_365d").label
    'Revenue, last 365 days'
    """
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        hint = did_you_mean(name, score_column_names()) if isinstance(name, str) else ""
        hint = hint or "; the score columns are listed in crm_analytics/store/score_columns.py"
        raise InputError(f"unknown score column {name!r}{hint}") from None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def customer_scores_ddl() -> str:
    """``CREATE TABLE IF NOT EXISTS customer_scores (...)``: the key, then every score column, typed.

    Examples
    --------
    >>> customer_scores_ddl().splitlines()[:3]
    ['CREATE TABLE IF NOT EXISTS customer_scores (', '    run_id VARCHAR,', '    customer_id VARCHAR,']
    """
    parts = [f"    {name} {sql_type}" for name, sql_type in KEY_COLUMNS]
    parts += [f"    {_ident(c.name)} {c.sql_type}" for c in SCORE_COLUMNS]
    return "CREATE TABLE IF NOT EXISTS customer_scores (\n" + ",\n".join(parts) + "\n)"


def missing_score_columns_ddl(existing: Iterable[str]) -> list[str]:
    """``ALTER TABLE`` statements adding the registry columns ``customer_scores`` lacks.

    For stores created before the registry (``customer_scores`` with the key
    only, plus columns added run by run). Columns not in the registry are never
    added.

    Examples
    --------
    >>> missing_score_columns_ddl(["run_id", "customer_id", *score_column_names()[1:]])
    ['ALTER TABLE customer_scores ADD COLUMN "name" VARCHAR']
    """
    have = set(existing)
    return [f"ALTER TABLE customer_scores ADD COLUMN {_ident(c.name)} {c.sql_type}"
            for c in SCORE_COLUMNS if c.name not in have]


def score_columns_markdown() -> str:
    """The registry as a Markdown table (name | type | step | description), as in the README.

    Examples
    --------
    >>> print(score_columns_markdown().splitlines()[2])
    | `name` | VARCHAR | attributes | Customer name (a contact detail: not for rules or score exports) |
    """
    lines = ["| name | type | step | description |", "| --- | --- | --- | --- |"]
    for c in SCORE_COLUMNS:
        text = c.description.replace("|", "\\|")
        lines.append(f"| `{c.name}` | {c.sql_type} | {c.step} | {text} |")
    return "\n".join(lines) + "\n"
