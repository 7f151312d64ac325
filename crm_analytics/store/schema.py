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
    "duplicate_conflict": "the key already exists (or repeats in the batch) with other values",
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: str
    required: bool = False
    nonnegative: bool = False
    allowed: dict[str, str] | None = None  # normalised input -> stored value
    description: str = ""

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
    """A canonical table: name, key and columns (key first)."""

    name: str
    key: str
    columns: tuple[Column, ...]
    references_customers: bool = True
    description: str = ""
    checks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

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

TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, TRANSACTIONS, TICKETS, SURVEY_RESPONSES)
}

# What makes a DuckDB file a crm_analytics store: two rows of store_meta. The
# marker tells the store apart from any other DuckDB database (which the store
# refuses to touch unless adopted); the schema version is the layout of the
# tables, raised whenever it changes (a store migrates older layouts on opening
# and refuses newer ones). Stores written before the marker existed have only
# the schema_version row and the canonical tables: they are recognised and marked.
SCHEMA_VERSION = 1
STORE_MARKER_KEY = "application"
STORE_MARKER_VALUE = "crm_analytics"
SCHEMA_VERSION_KEY = "schema_version"

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
