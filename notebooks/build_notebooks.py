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


notebook("02_clv_and_revenue_potential.ipynb", [
    ("md", """# 2 · CLV and revenue potential

First we reproduce the published BG/NBD, Pareto/NBD and Gamma-Gamma results on the
CDNOW sample (Fader, Hardie & Lee 2005) **through the package**: raw transactions
into the Store, the RFM summary in SQL, the models fitted behind `CLVModel`. Then
the holdout check, the figures, and revenue-potential codes on the demo data."""),
    ("code", """import warnings
from pathlib import Path

import pandas as pd

import crm_analytics as crm
from crm_analytics import clv
from crm_analytics.datasets import synthetic

with warnings.catch_warnings():      # lifetimes touches warning filters at import
    import lifetimes

cdnow_file = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
raw = pd.read_csv(cdnow_file, sep=r"\\s+", header=None, dtype=str,
                  names=["master_id", "customer_id", "transaction_date", "quantity", "amount"])
raw.head()"""),
    ("md", """CDNOW has no transaction ids and no customer table: we number the rows and let
the store create the customers. Dates are `YYYYMMDD`, one of the formats the
loader reads by itself."""),
    ("code", """tx = raw.drop(columns="master_id")
tx.insert(0, "transaction_id", [f"T{i:05d}" for i in range(len(tx))])
store = crm.Store(":memory:")
store.load("transactions", tx, unknown_customers="create")"""),
    ("code", """summary = clv.rfm_summary(store, "1998-06-30", time_unit="W", calibration_end="1997-09-30")
summary.head()"""),
    ("code", """bgnbd = clv.CLVModel(purchase_model="bgnbd").fit(summary)
bgnbd.summary()"""),
    ("code", """published = pd.DataFrame({
    "published": [0.243, 4.414, 0.793, 2.426, 6.25, 3.74, 15.44],
    "ours": [bgnbd.params_[k] for k in ["r", "alpha", "a", "b", "p", "q", "v"]],
}, index=["r", "alpha", "a", "b", "p", "q", "v"])
published["difference"] = published["ours"] - published["published"]
assert (published["difference"].abs() < 0.01).all()
published.round(4)"""),
    ("code", """pareto = clv.CLVModel(purchase_model="pareto_nbd").fit(summary)
pareto.params_[["r", "alpha", "s", "beta"]].round(3)   # published: 0.553, 10.58, 0.606, 11.67"""),
    ("md", """## Holdout check

Weeks 40–78 were held out: 1,882 repeat transactions actually happened. How many
did the model predict, customer by customer, against a naive baseline?"""),
    ("code", """print("actual repeat transactions in the holdout:", int(summary["frequency_holdout"].sum()))
evaluation = bgnbd.evaluate(summary)
evaluation.metrics"""),
    ("code", """evaluation.plot_calibration_vs_holdout()"""),
    ("code", """bgnbd.plot_probability_alive_matrix()"""),
    ("code", """bgnbd.plot_cumulative_transactions(store, "1998-06-30")"""),
    ("md", """## Revenue potential on the demo data

Every customer gets a CLV, the growth of their revenue, their headroom against
comparable customers (same size band and industry) and a revenue-potential code
A–D — the code sales used to decide whom to approach."""),
    ("code", """demo = crm.Store(":memory:")
data = synthetic.generate(n_customers=3000, seed=2)
demo.load_all(data.tables())
potential = clv.revenue_potential(demo, "2025-12-31")
potential.groupby("revenue_potential_code")[["clv", "headroom", "revenue_potential"]].mean().round(0)"""),
    ("code", """potential.sort_values("revenue_potential", ascending=False).head(10)"""),
])


notebook("03_churn.ipynb", [
    ("md", """# 3 · Churn: features as of a date, an honest back-test, reasons, scores

Non-contractual churn: a customer active at `as_of` (a purchase in the year
before) churns if they buy nothing in the 90 days after. Every feature is
computed from data on or before `as_of`; the model is trained on past cutoffs
and evaluated on a later one."""),
    ("code", """import tempfile
from pathlib import Path

import crm_analytics as crm
from crm_analytics import churn
from crm_analytics.datasets import synthetic

store = crm.Store(":memory:")
data = synthetic.generate(n_customers=4000, seed=3)
store.load_all(data.tables())"""),
    ("code", """features = churn.build_features(store, "2025-03-31")
features.iloc[:5, :12]"""),
    ("code", """labels = churn.build_labels(store, "2025-03-31")
labels.mean()   # share of active customers with no purchase in the next 90 days"""),
    ("md", """## Train on past cutoffs, evaluate on a later one

Monthly cutoffs whose label windows (cutoff + 90 days) end by the evaluation
date, so no training label overlaps the evaluation period."""),
    ("code", """evaluate_at = "2025-09-30"
cutoffs = churn.training_cutoffs("2024-10-31", evaluate_at, horizon_days=90)
model = churn.ChurnModel(horizon_days=90).fit(store, cutoffs=cutoffs, evaluate_at=evaluate_at)
cutoffs"""),
    ("code", """evaluation = model.evaluate(store, evaluate_at)
evaluation.summary()"""),
    ("md", """Side by side with the baselines: the best "no purchase in N days" rule,
logistic regression on the same features, and BG/NBD expected purchases. The
generator also knows each customer's true churn probability — the best any
model could do with the purchase history:"""),
    ("code", """from sklearn.metrics import roc_auc_score

truth = data.truth.churn_probability(evaluate_at, horizon_days=90)
y = churn.build_labels(store, evaluate_at)
print("oracle ROC AUC:", round(roc_auc_score(y, truth.reindex(y.index)), 3))
evaluation.to_frame()[["roc_auc", "brier", "lift_top10", "capture_top20"]]"""),
    ("code", """evaluation.plot_roc()"""),
    ("code", """evaluation.plot_calibration()"""),
    ("code", """evaluation.plot_feature_importance()"""),
    ("md", """## Scores with reasons

Refit on the latest cutoffs, then score the customers active at the last date:
probability, risk band, revenue at risk and the top three reasons in words."""),
    ("code", """latest = churn.training_cutoffs("2025-01-31", "2025-12-30", horizon_days=90)
model = churn.ChurnModel(horizon_days=90).fit(store, cutoffs=latest, evaluate_at="2025-12-30")
scores = churn.score(model, store, "2025-12-30")
scores.sort_values("revenue_at_risk", ascending=False).head(10)"""),
    ("code", """scores["risk_band"].value_counts()"""),
    ("md", """## Saving the model

The file is not a pickle: it loads without running code, and a model whose
features no longer match the feature builder is refused with a clear message."""),
    ("code", """path = Path(tempfile.mkdtemp()) / "churn_model.skops"
model.save(path)
again = churn.ChurnModel.load(path)
assert (churn.score(again, store, "2025-12-30", reasons=False)["churn_probability"]
        == scores["churn_probability"]).all()
path.stat().st_size"""),
])


notebook("04_segments_and_exports.ipynb", [
    ("md", """# 4 · Segments and exports

Size × needs (the two criteria of the IBM programme), RFM, profiles, a custom
segment, and a marketing export with its manifest."""),
    ("code", """import json
import tempfile
from pathlib import Path

import crm_analytics as crm
from crm_analytics import segmentation as seg
from crm_analytics.datasets import synthetic

workdir = Path(tempfile.mkdtemp())
db = workdir / "crm.duckdb"
data = synthetic.generate(n_customers=3000, seed=4)
with crm.Store(db) as store:
    store.load_all(data.tables())
run = crm.run_batch(db, config={"model_dir": str(workdir / "models")})
scores = crm.latest_scores(db)
run"""),
    ("code", """scores[["size_segment", "needs_segment_name", "rfm_segment", "value_tier"]].head()"""),
    ("code", """seg.plot_size_needs_grid(scores)"""),
    ("code", """store = crm.Store(db, read_only=True)
feats = seg.needs_features(store, run.as_of)
seg.profile(scores, by="needs_segment_name", needs_features=feats)"""),
    ("code", """seg.profile(scores, by="rfm_segment")"""),
    ("code", """seg.plot_segment_treemap(scores)"""),
    ("md", """## A custom segment

Rules are parsed by the package (never passed to SQL or Python as text) and
anything outside the small grammar is rejected with a message showing what is
allowed."""),
    ("code", """with crm.Store(db) as writer:
    seg.define_segment(writer, "EMEA at risk",
                       "risk_band = 'high' and clv in top 20% and region = 'EMEA'",
                       description="retention campaign")
    print(len(seg.segment_members(writer, "EMEA at risk")), "customers")"""),
    ("code", """try:
    seg.parse_rule("clv > 10; DROP TABLE customers")
except crm.InputError as err:
    print(err)"""),
    ("code", """# The single customer view of one of them: the card an agent sees (str(view) is the text card)
members = seg.segment_members(store, "EMEA at risk")
crm.customer_view(store, members[0] if len(members) else scores.index[0])"""),
    ("md", """## The export

Consent honoured, one row per contact (shared e-mails or phones merged), each
contact in exactly one segment (priority order), spreadsheet formulas
neutralised, written atomically with a manifest."""),
    ("code", """report = crm.export_segment(store, ["EMEA at risk", "rfm:Champions"],
                            workdir / "campaign.csv", campaign="Spring")
report"""),
    ("code", """json.loads((workdir / "campaign.csv.manifest.json").read_text())"""),
])


notebook("05_satisfaction_and_service.ipynb", [
    ("md", """# 5 · Satisfaction and service

NPS with its uncertainty, the ECSI satisfaction index and its drivers, service
quality from tickets, and the link between the two."""),
    ("code", """import crm_analytics as crm
from crm_analytics import satisfaction as sat
from crm_analytics.datasets import synthetic

store = crm.Store(":memory:")
data = synthetic.generate(n_customers=5000, seed=5)
store.load_all(data.tables())"""),
    ("code", """sat.nps(store, by="region")"""),
    ("code", """by_quarter = sat.nps(store, period="quarter")
sat.plot_nps_trend(by_quarter, "quarter")"""),
    ("code", """sat.nps_change(store, before=("2024-01-01", "2024-06-30"),
               after=("2025-01-01", "2025-06-30"))"""),
    ("md", """## The satisfaction index (ECSI model, PLS path modelling)"""),
    ("code", """index = sat.fit_index(store, by="customer_type")
index.summary()"""),
    ("code", """index.index_by_group_"""),
    ("code", """sat.plot_importance_performance(index.drivers())"""),
    ("code", """sat.plot_path_diagram(index)"""),
    ("md", """## Service quality and its effect on satisfaction"""),
    ("code", """service = sat.service_quality(store, by="priority", period=None)
service"""),
    ("code", """impact = sat.service_impact(store, outcome="nps", customer_effects=True)
impact.summary()"""),
    ("code", """monthly = sat.service_quality(store, period="month")
sat.plot_sla_trend(monthly, "month", "sla_compliance")"""),
])


def build() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    build()
