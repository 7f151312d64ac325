"""Write the analyst notebooks from the cell sources below (outputs are never committed).

Run ``python notebooks/build_notebooks.py`` after editing; the tests execute the
resulting ``.ipynb`` files top to bottom.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}


def notebook(name: str, cells: list[tuple[str, str]]) -> None:
    NOTEBOOKS[name] = cells


notebook("01_quickstart.ipynb", [
    ("md", """# 1 · Quickstart: a store, your CSV exports, the load report and the rejects

A `Store` is one DuckDB file holding the four canonical tables (customers,
transactions, tickets, survey_responses). Loading validates and cleanses every
row; rows that fail a check are kept in a quarantine with the reason and the
line they came from — nothing is lost."""),
    ("code", """import tempfile
from pathlib import Path

import pandas as pd

import crm_analytics as crm

workdir = Path(tempfile.mkdtemp())
sample = Path("..") / "data" / "sample"      # 300 synthetic customers with 5 % defects
store = crm.Store(workdir / "crm.duckdb")
store"""),
    ("md", """## Your own column names

Real exports rarely use our column names. Say the CRM system exports customers
with German headers; `column_map` maps them once at the boundary (headers that
only differ in case, spaces or dashes, such as `Customer ID`, match by themselves)."""),
    ("code", """export = pd.read_csv(sample / "customers.csv", dtype=str).rename(columns={
    "customer_id": "Kundennummer", "email": "E-Mail", "marketing_opt_in": "Newsletter"})
export.to_csv(workdir / "kunden.csv", index=False)
export.head(3)"""),
    ("code", """report = store.load(
    "customers", workdir / "kunden.csv",
    column_map={"Kundennummer": "customer_id", "E-Mail": "email", "Newsletter": "marketing_opt_in"},
)
report"""),
    ("md", """`rows_read = rows_loaded + rows_rejected + rows_duplicate` always holds. The
transactions, tickets and survey answers use the canonical names already:"""),
    ("code", """for table in ["transactions", "tickets", "survey_responses"]:
    print(store.load(table, sample / f"{table}.csv"), end="\\n\\n")"""),
    ("md", """## The rejects

Every rejected row with its reason code, the message, the source file and line
(the header is line 1, as a spreadsheet shows it) and the raw values as read."""),
    ("code", """rejects = store.rejects()
rejects.groupby(["table_name", "reason_code"]).size().unstack(fill_value=0)"""),
    ("code", """rejects[["table_name", "source_row", "reason"]].head(10)"""),
    ("md", """Loading the same files again changes nothing — every row is a duplicate or the
same reject as before:"""),
    ("code", """again = store.load("transactions", sample / "transactions.csv")
assert again.rows_loaded == 0
again"""),
    ("md", """## Status

`store.summary()` (and `crm-analytics status` on the command line): rows, date
ranges and quarantine counts per table."""),
    ("code", """store.summary()"""),
    ("code", """store.sql(
    "SELECT country, region, count(*) AS customers FROM customers "
    "GROUP BY ALL ORDER BY customers DESC LIMIT 5"
)"""),
    ("code", """store.close()"""),
])


def build() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    build()
