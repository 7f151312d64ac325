"""The data contract: canonical tables, their columns, types and rules; every table definition.

:data:`SYSTEM_DDL` creates the store's own tables (quarantine, loads,
store_meta) and the result tables of scoring runs (runs, run_results,
customer_scores; the columns of customer_scores come from
:mod:`crm_analytics.store.score_columns`).

Everything that touches a table's shape reads it from here, so the loader,
the docs and the tests agree. Column names are the contract (see
``DESIGN.md``); loaders accept a ``column_map`` for other names.

Column kinds
------------
``id``        text key, trimmed, must not be empty when required
``text``      free text, trimmed, empty -> NULL
``email``     trimmed, lower-cased, must look like ``local@domain.tld``
``phone``     trimmed text
``country``   names and ISO codes mapped to ISO 3166 alpha-2 where recognisable
``category``  text with an allowed set of values (after normalisation)
``int``       whole number (``'3.0'`` accepted, ``'1.5'`` rejected)
``number``    finite real number
``money``     amount of money, stored exactly as DECIMAL(18, 4): sums of money do
              not depend on the order parallel threads add them in, so the same
              data always give the same totals (and the same scores)
``timestamp`` date or date-time; offsets converted to UTC; never in the future
``bool``      yes/no/true/false/y/n/t/f/1/0 (any case)

The customer key
----------------
Besides its contract columns every canonical table stores ``customer_key``, an
integer surrogate for ``customer_id`` that the store assigns (it is not read
from sources): a new customer gets the next number of the sequence
``crm_customer_key_seq``, an existing one keeps its key through reloads and
upserts, and a number is never handed out twice, even after a customer row is
deleted. The loader copies the key into every transaction, ticket and survey
response, and inserts the rows of a batch ordered by (customer_key, date), so
per-customer GROUP BYs hash integers instead of text and a lookup of one
customer's rows reads few row groups (DuckDB's zone maps). Queries that work per
customer group on ``customer_key`` and join ``customer_id`` back at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crm_analytics.store.score_columns import customer_scores_ddl

# Reason codes stored in quarantine.reason_code. Stable: tests, the synthetic
# generator and downstream users filter on them.
REASON_CODES: dict[str, str] = {
    "malformed_row": "the CSV line could not be split into the header's columns",
    "bad_encoding": "the line is not valid UTF-8",
    "missing_key": "the table key is empty",
    "missing_value": "a required value is empty",
    "bad_number": "a number column holds something that is not a finite number",
    "bad_integer": "a whole-number column holds a fraction or text",
    "negative_value": "a column that cannot be negative holds a negative number",
    "bad_date": "a date column holds something that is not a date",
    "future_date": "a date is later than the moment of loading",
    "bad_email": "an e-mail address is malformed",
    "bad_boolean": "a yes/no column holds something else",
    "bad_category": "a value is not one of the allowed categories",
    "unknown_customer": "the customer_id is not in the customers table",
    "bad_scale": "scale_min is not below scale_max",
    "score_out_of_scale": "a survey score lies outside [scale_min, scale_max]",
    "resolved_before_opened": "a ticket is resolved before it was opened",
    "responded_before_opened": "a ticket's first response is before it was opened",
    "ended_before_started": "a subscription ends before it started",
    "duplicate_conflict": "the key already exists (or repeats in the batch) with other values",
    "missing_contact": "a suppression names no customer_id, e-mail or phone",
    "until_before_from": "a suppression ends (valid_until) before it starts (valid_from)",
}


#: The integer surrogate key of a customer, stored in every canonical table.
CUSTOMER_KEY = "customer_key"
#: The sequence customer keys are drawn from (never reset: a key is never reused).
CUSTOMER_KEY_SEQUENCE = "crm_customer_key_seq"


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: str
    required: bool = False
    nonnegative: bool = False
    allowed: dict[str, str] | None = None  # normalised input -> stored value
    description: str = ""
    #: A date that may lie in the future (the end of a suppression); others may not.
    future_ok: bool = False

    @property
    def sql_type(self) -> str:
        return {
            "id": "VARCHAR",
            "text": "VARCHAR",
            "email": "VARCHAR",
            "phone": "VARCHAR",
            "country": "VARCHAR",
            "category": "VARCHAR",
            "int": "BIGINT",
            "number": "DOUBLE",
            "money": "DECIMAL(18, 4)",
            "timestamp": "TIMESTAMP",
            "bool": "BOOLEAN",
        }[self.kind]


@dataclass(frozen=True)
class Table:
    """A canonical table: name, key and columns (key first).

    ``columns`` is the contract; the stored table also has ``customer_key``
    (see :attr:`stored_columns` and the module docstring).
    """

    name: str
    key: str
    columns: tuple[Column, ...]
    references_customers: bool = True
    description: str = ""
    checks: tuple[str, ...] = field(default_factory=tuple)
    #: The event date: rows are stored ordered by (customer_key, date_column).
    date_column: str | None = None

    @property
    def column_names(self) -> list[str]:
        """The contract columns (what sources provide), key first."""
        return [c.name for c in self.columns]

    @property
    def stored_columns(self) -> list[str]:
        """The columns of the stored table: the contract columns, then ``customer_key``."""
        return [*self.column_names, CUSTOMER_KEY]

    @property
    def order_by(self) -> list[str]:
        """The order the loader inserts a batch in: by customer, then by date."""
        return [CUSTOMER_KEY] + ([self.date_column] if self.date_column else [])

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


CUSTOMER_TYPES = {
    "business": "business",
    "b2b": "business",
    "company": "business",
    "corporate": "business",
    "organisation": "business",
    "organization": "business",
    "consumer": "consumer",
    "b2c": "consumer",
    "individual": "consumer",
    "person": "consumer",
    "private": "consumer",
}

CUSTOMERS = Table(
    name="customers",
    key="customer_id",
    references_customers=False,
    description="One row per customer (business or consumer).",
    date_column=None,
    columns=(
        Column("customer_id", "id", required=True),
        Column("name", "text"),
        Column("email", "email"),
        Column("phone", "phone"),
        Column("country", "country", description="ISO 3166 alpha-2 where recognisable"),
        Column("region", "text"),
        Column("industry", "text"),
        Column("employees", "int", nonnegative=True),
        Column("annual_revenue", "number", nonnegative=True),
        Column("customer_type", "category", allowed=CUSTOMER_TYPES),
        Column("created_at", "timestamp"),
        Column("marketing_opt_in", "bool"),
    ),
)

TRANSACTIONS = Table(
    name="transactions",
    key="transaction_id",
    description="One row per purchase; a negative amount is a refund or return.",
    date_column="transaction_date",
    columns=(
        Column("transaction_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("transaction_date", "timestamp", required=True),
        Column("amount", "money", required=True),
        Column("quantity", "int", nonnegative=True),
        Column("product_category", "text"),
        Column("channel", "text"),
    ),
)

TICKETS = Table(
    name="tickets",
    key="ticket_id",
    description="Service tickets; resolved_at NULL means still open.",
    date_column="opened_at",
    checks=("resolved_before_opened", "responded_before_opened"),
    columns=(
        Column("ticket_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("opened_at", "timestamp", required=True),
        Column("first_response_at", "timestamp"),
        Column("resolved_at", "timestamp"),
        Column("priority", "text"),
        Column("category", "text"),
        Column("channel", "text"),
        Column("sla_hours", "number", nonnegative=True),
        Column("is_complaint", "bool"),
        Column("reopened", "bool"),
    ),
)

SURVEY_RESPONSES = Table(
    name="survey_responses",
    key="response_id",
    description="One row per answered survey item.",
    date_column="responded_at",
    checks=("bad_scale", "score_out_of_scale"),
    columns=(
        Column("response_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("responded_at", "timestamp", required=True),
        Column("survey", "text"),
        Column("item", "text", required=True),
        Column("score", "number", required=True),
        Column("scale_min", "number", required=True),
        Column("scale_max", "number", required=True),
    ),
)

#: Reasons a contact is suppressed (see crm_analytics.campaigns.suppression).
SUPPRESSION_REASONS = {
    "opt-out": "opt-out", "optout": "opt-out", "opt out": "opt-out", "unsubscribed": "opt-out",
    "bounced": "bounced", "bounce": "bounced",
    "legal": "legal",
    "do-not-call": "do-not-call", "do not call": "do-not-call", "dnc": "do-not-call",
}

SUPPRESSIONS = Table(
    name="suppressions",
    key="suppression_id",
    description="Contacts that must not be messaged: a customer_id, an e-mail or a phone, "
                "with a reason and dates (see crm_analytics.campaigns).",
    date_column="valid_from",
    checks=("missing_contact", "until_before_from"),
    columns=(
        Column("suppression_id", "id", required=True),
        Column("customer_id", "id"),
        Column("email", "email"),
        Column("phone", "phone"),
        Column("suppression_reason", "category", required=True, allowed=SUPPRESSION_REASONS),
        Column("valid_from", "timestamp", future_ok=True),
        Column("valid_until", "timestamp", future_ok=True),
    ),
)

#: Billing periods a subscription source may name (after trimming and lower-casing).
BILLING_PERIODS = {
    "week": "week", "weekly": "week",
    "month": "month", "monthly": "month",
    "quarter": "quarter", "quarterly": "quarter",
    "year": "year", "yearly": "year", "annual": "year", "annually": "year",
}

SUBSCRIPTIONS = Table(
    name="subscriptions",
    key="subscription_id",
    description="One row per subscription (contract); ended_at NULL means still active "
                "(see crm_analytics.subscriptions).",
    date_column="started_at",
    checks=("ended_before_started",),
    columns=(
        Column("subscription_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("plan", "text"),
        Column("started_at", "timestamp", required=True),
        Column("ended_at", "timestamp"),
        Column("billing_period", "category", required=True, allowed=BILLING_PERIODS,
               description="week, month, quarter or year"),
        Column("recurring_amount", "money", nonnegative=True,
               description="amount billed per billing period"),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, TRANSACTIONS, TICKETS, SURVEY_RESPONSES, SUPPRESSIONS, SUBSCRIPTIONS)
}
#: The canonical tables of stores written before the store marker existed: a database
#: with these and a schema_version row is recognised as such a store. Tables added to
#: the contract later are created (empty) the first time the store is opened for
#: writing, so they must not be part of the recognition.
LEGACY_TABLES = ("customers", "transactions", "tickets", "survey_responses")

# What makes a DuckDB file a crm_analytics store: two rows of store_meta. The
# marker tells the store apart from any other DuckDB database (which the store
# refuses to touch unless adopted); the schema version is the layout of the
# tables, raised whenever it changes (a store migrates older layouts on opening
# and refuses newer ones). Stores written before the marker existed have only
# the schema_version row and the canonical tables: they are recognised and marked.
#
# Version 2 added customer_key (see the module docstring); a version-1 store is
# migrated by MIGRATIONS[1]. A table added to the contract later (subscriptions) is
# created empty by the CREATE TABLE IF NOT EXISTS pass of every writable opening, with
# no change of layout for the existing tables, so it needs no new version; code reading
# it copes with its absence in a store opened read-only.
SCHEMA_VERSION = 2
STORE_MARKER_KEY = "application"
STORE_MARKER_VALUE = "crm_analytics"
SCHEMA_VERSION_KEY = "schema_version"

SEQUENCE_DDL = f"CREATE SEQUENCE IF NOT EXISTS {CUSTOMER_KEY_SEQUENCE}"


def table_ddl(table: Table, name: str | None = None) -> str:
    """``CREATE TABLE`` for a canonical table (under ``name`` if given).

    The key is NOT NULL; a customer inserted without a ``customer_key`` (by hand,
    not by the loader) draws one from the sequence.

    Examples
    --------
    >>> table_ddl(SURVEY_RESPONSES)[:62]
    'CREATE TABLE IF NOT EXISTS "survey_responses" ("response_id" V'
    """
    cols = [f'"{c.name}" {c.sql_type}' + (" NOT NULL" if c.name == table.key else "")
            for c in table.columns]
    default = f" DEFAULT nextval('{CUSTOMER_KEY_SEQUENCE}')" if table is CUSTOMERS else ""
    cols.append(f'"{CUSTOMER_KEY}" BIGINT{default}')
    return f'CREATE TABLE IF NOT EXISTS "{name or table.name}" ({", ".join(cols)})'


def _rewrite_with_keys(table: Table) -> tuple[str, ...]:
    """Statements rebuilding a version-1 canonical table with ``customer_key``, in key order."""
    tmp = f"_crm_migrate_{table.name}"
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    src = ", ".join(f'o."{c}"' for c in table.column_names)
    if table is CUSTOMERS:
        # Keys in customer_id order; rowid only breaks ties a loader never leaves.
        select = (f"SELECT {src}, row_number() OVER (ORDER BY o.customer_id, o.rowid) AS k "  # noqa: S608
                  "FROM customers o ORDER BY k")
    else:
        order = ", ".join(["k", *(f'o."{c}"' for c in table.order_by[1:])])
        # One key per customer_id (min: safe even if a customer_id were stored twice).
        keys = "SELECT customer_id, min(customer_key) AS customer_key FROM customers GROUP BY 1"
        select = (f'SELECT {src}, c.customer_key AS k FROM "{table.name}" o '  # noqa: S608
                  f"LEFT JOIN ({keys}) c ON c.customer_id = o.customer_id ORDER BY {order}")
    return (
        f'DROP TABLE IF EXISTS "{tmp}"',
        table_ddl(table, tmp),
        f'INSERT INTO "{tmp}" ({cols}, "{CUSTOMER_KEY}") {select}',
        f'DROP TABLE "{table.name}"',
        f'ALTER TABLE "{tmp}" RENAME TO "{table.name}"',
    )


# Migrations from schema version n to n + 1, run in one transaction on opening a
# store written by an older crm_analytics (after SEQUENCE_DDL and the CREATE TABLE
# IF NOT EXISTS of every table).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1 -> 2: customer_key. Customers are numbered in customer_id order, the
    # sequence is moved past their keys, and the tables referencing customers
    # are rebuilt with the key, ordered by (customer_key, date).
    1: (
        *_rewrite_with_keys(CUSTOMERS),
        f"SELECT max(nextval('{CUSTOMER_KEY_SEQUENCE}')) FROM customers",  # noqa: S608
        *(s for t in (TRANSACTIONS, TICKETS, SURVEY_RESPONSES) for s in _rewrite_with_keys(t)),
    ),
}

# Tables the store creates besides the canonical ones: its own bookkeeping and
# the results of scoring runs (see crm_analytics.scoring.run). customer_scores is
# generated from the registry of score columns (crm_analytics.store.score_columns).
SYSTEM_DDL: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS quarantine (
        load_id VARCHAR, table_name VARCHAR, kind VARCHAR, reason_code VARCHAR,
        reason VARCHAR, source VARCHAR, source_row BIGINT, record_key VARCHAR,
        raw VARCHAR, rejected_at TIMESTAMP)
    """,
    """
    CREATE TABLE IF NOT EXISTS loads (
        load_id VARCHAR, table_name VARCHAR, sources VARCHAR, mode VARCHAR,
        loaded_at TIMESTAMP, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
        rows_duplicate BIGINT, rows_updated BIGINT, seconds DOUBLE)
    """,
    "CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR, value VARCHAR)",
    # Columns of a customers source outside the contract (e.g. Telco's Contract,
    # tenure): one row per customer and attribute; name = normalised column name,
    # value = the text as read. Written by the loader (see Loader.write_attributes).
    """
    CREATE TABLE IF NOT EXISTS customer_attributes (
        customer_id VARCHAR, name VARCHAR, value VARCHAR)
    """,
    """
    CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR, as_of DATE, status VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        config VARCHAR, versions VARCHAR, input_rows VARCHAR, metrics VARCHAR,
        step_seconds VARCHAR, customers BIGINT, message VARCHAR)
    """,
    "CREATE TABLE IF NOT EXISTS run_results (run_id VARCHAR, name VARCHAR, payload VARCHAR)",
    customer_scores_ddl(),
    # Marketing exports and who they reached (crm_analytics.campaigns.history: the
    # commit protocol). status: pending -> committed, or rolled_back by the repair.
    """
    CREATE TABLE IF NOT EXISTS contact_exports (
        export_id VARCHAR, campaign VARCHAR, channel VARCHAR, path VARCHAR, sha256 VARCHAR,
        rows BIGINT, controls BIGINT, status VARCHAR, started_at TIMESTAMP,
        exported_at TIMESTAMP, committed_at TIMESTAMP, manifest VARCHAR)
    """,
    """
    CREATE TABLE IF NOT EXISTS contact_history (
        export_id VARCHAR, campaign VARCHAR, channel VARCHAR, customer_id VARCHAR,
        contact_hash VARCHAR, segment VARCHAR, is_control BOOLEAN, exported_at TIMESTAMP)
    """,
)
#: The tables a scoring run writes (a subset of SYSTEM_DDL, in the same order).
RESULT_TABLES = ("runs", "run_results", "customer_scores")
RESULT_DDL: tuple[str, ...] = tuple(
    d for d in SYSTEM_DDL if d.split("(")[0].split()[-1] in RESULT_TABLES
)

# Values read as missing, whatever the column (pandas and spreadsheet spellings).
# 'NA' is deliberately absent: it is Namibia's country code.
NULL_TOKENS = ("", "nan", "NaN", "NAN", "null", "NULL", "Null", "None", "NaT", "#N/A", "N/A", "n/a")

TRUE_TOKENS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_TOKENS = ("false", "f", "no", "n", "0", "0.0")


def get_table(name: str) -> Table:
    """Return the canonical table called ``name`` or raise a clear error.

    Examples
    --------
    >>> get_table("transactions").key
    'transaction_id'
    """
    try:
        return TABLES[name]
    except KeyError:
        from crm_analytics.errors import InputError

        raise InputError(
            f"unknown table {name!r}; the tables are: {', '.join(TABLES)}"
        ) from None
