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
neutralised, written atomically with a manifest, and every contact recorded in the
store's contact history (notebook 08: caps, suppressions, control groups)."""),
    ("code", """# An export records every contact it makes (the contact history), so it needs the
# store open for writing: close the read-only handle first.
store.close()
with crm.Store(db) as writer:
    report = crm.export_segment(writer, ["EMEA at risk", "rfm:Champions"],
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


notebook("06_forecast.ipynb", [
    ("md", """# 6 · Revenue forecast by segment, and its back-test

How much revenue will each segment bring in over the next months, and how sure
are we? `clv.forecast` turns the purchase model (BG/NBD) and the spend model
(Gamma-Gamma) into expected revenue per segment and month, in two components:
**existing** customers (their own histories) and **new** customers not acquired
yet (each segment's recent acquisition rate, continued). The 80 % and 95 %
intervals hold the randomness of purchases and spend *and* the uncertainty of the
fitted parameters. `clv.forecast_backtest` makes the same forecast at a past
cutoff and sets it against what happened, next to time-series baselines."""),
    ("code", """import pandas as pd

import crm_analytics as crm
from crm_analytics import clv
from crm_analytics.datasets import synthetic

store = crm.Store(":memory:")
data = synthetic.generate(n_customers=1500, seed=7, params={"acquisition_fraction": 1.0})
store.load("customers", data.customers)
store.load("transactions", data.transactions)
fc = clv.forecast(store, "2025-06-30", horizon_months=6, by="size_band")
fc.attrs["notes"]"""),
    ("md", """## Reading the table

One row per segment, month and component. `expected_revenue` is the mean; the
interval bounds say where the month's revenue should land 80 % (95 %) of the
time. The segment `all customers` has intervals of its own — not the sum of the
segments' bounds, which would be too wide. `customers` counts the existing
customers (for `new`: the customers expected to be acquired that month)."""),
    ("code", """total = fc[fc["component"] == "total"]
total.pivot(index="month", columns="segment", values="expected_revenue").round(0)"""),
    ("code", """fc[(fc["segment"] == "all customers")][
    ["month", "component", "customers", "expected_purchases", "expected_revenue",
     "revenue_lo80", "revenue_hi80", "revenue_lo95", "revenue_hi95"]].round(0)"""),
    ("md", """The fan chart: the darker band is the 80 % interval, the lighter one 95 %. A
small segment has a wide fan: fewer customers, more randomness."""),
    ("code", """clv.plot_forecast_fan(fc, "all customers")"""),
    ("code", """clv.plot_forecast_fan(fc, "large")"""),
    ("md", """## The back-test: would we have been right?

The same forecast made at 2024-12-31 — models, segments and acquisition rates
from data up to then only — against the six months that followed. Next to it,
baselines fitted on each segment's own monthly revenue: *seasonal naive* (same
month last year), *ETS* (exponential smoothing, statsmodels) and *naive* (last
month). WAPE is the sum of absolute errors over the actual revenue (lower is
better); bias > 0 means over-forecasting; coverage is the share of months whose
actual revenue fell inside the interval (it should be near 80 % and 95 %). A
baseline that the history cannot support is left out, with the reason in the
notes."""),
    ("code", """bt = clv.forecast_backtest(store, "2024-12-31", 6, by="size_band")
bt"""),
    ("code", """bt.plot("all customers")"""),
    ("md", """## A closed cohort: CDNOW

Fader, Hardie & Lee (2005) calibrate on the CDNOW cohort to 1997-09-30 and track
the cumulative repeat transactions over the next 39 weeks (1,882 actually
happened). No new customers join this cohort, so the forecast is the existing
customers' component, week by week:"""),
    ("code", """import warnings
from pathlib import Path

with warnings.catch_warnings():
    import lifetimes

raw = pd.read_csv(Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt", sep=r"\\s+",
                  header=None, dtype=str,
                  names=["master_id", "customer_id", "transaction_date", "quantity", "amount"])
tx = raw.drop(columns="master_id")
tx.insert(0, "transaction_id", [f"T{i:05d}" for i in range(len(tx))])
cdnow = crm.Store(":memory:")
cdnow.load("transactions", tx, unknown_customers="create")
track = clv.weekly_repeat_purchases(cdnow, "1997-09-30", weeks=39)
daily = clv.plotting.daily_purchases(cdnow, "1998-06-30", "1997-09-30")
track["actual"] = daily.loc["1997-10-01":, "repeat_purchases"].cumsum().iloc[6::7].to_numpy()[:39]
track.iloc[[0, 9, 19, 29, 38]].round(0)"""),
    ("md", """The model's 39-week total is about 1,653 against the actual 1,882 (12 % under;
the actual is just above the 95 % bound): the curve follows the actual one and
the gap opens with the December peak, a seasonality BG/NBD does not model. The
monthly back-test on CDNOW (seasonal naive needs a year of history, CDNOW has
nine months):"""),
    ("code", """backtest = clv.forecast_backtest(cdnow, "1997-09-30", 9, by=None, new_customers=False)
backtest.wape_table().round(3)"""),
])


notebook("07_subscriptions_telco.ipynb", [
    ("md", """# 7 · Subscriptions: cohorts, survival by contract and contractual CLV on IBM's Telco data

IBM's Telco export is a snapshot: one row per customer with `tenure` (months with the
company) and `Churn` (left in the last month). Loaded as customers, its other columns
are kept as attributes; `subscriptions_from_attributes` turns tenure and churn into
subscriptions (started `tenure` months before the snapshot, ended on it when churned),
so every contractual tool of `crm_analytics.subscriptions` applies."""),
    ("code", """import os
from pathlib import Path

import pandas as pd

import crm_analytics as crm
from crm_analytics import subscriptions as subs

# The shared reference data (see the README of the datasets folder).
candidates = [Path(os.environ.get("CRM_ANALYTICS_DATASETS", "")) / "telco_customer_churn.csv",
              Path("../../shared/datasets/telco_customer_churn.csv"),
              Path("/work/shared/datasets/telco_customer_churn.csv")]
TELCO = next((p for p in candidates if p.is_file()), None)
SNAPSHOT = "2024-06-30"   # the export's date (the data do not say; any month end works)
store = crm.Store(":memory:")
if TELCO is not None:
    store.load("customers", str(TELCO), column_map={"customerID": "customer_id"})
else:  # without the shared data: a Telco-like table from the synthetic generator
    from crm_analytics.datasets.synthetic.subscriptions import generate_subscriptions
    fake = generate_subscriptions(3000, seed=1).subscriptions
    life0 = subs.subscription_lifetimes(fake, SNAPSHOT)
    store.load("customers", pd.DataFrame({
        "customer_id": life0["customer_id"], "tenure": life0["duration"],
        "Churn": life0["event"].map({True: "Yes", False: "No"}), "Contract": life0["plan"],
        "MonthlyCharges": life0["recurring_amount"]}))
    print("Telco data not found: using synthetic subscriptions instead")
telco_subs = subs.subscriptions_from_attributes(store, SNAPSHOT)
store.load("subscriptions", telco_subs)"""),
    ("code", """life = subs.subscription_lifetimes(store, SNAPSHOT)
life[["subscription_id", "plan", "cohort", "duration", "event", "amount_per_period"]].head()"""),
    ("md", """## Cohorts

Each start month is a cohort; a cell counts only subscriptions old enough to be seen
that many months after their start. In a snapshot the cohorts differ only by tenure,
so the table is the survival curve seen cohort by cohort."""),
    ("code", """cohorts = subs.cohort_retention(life)
subs.plot_cohort_heatmap(cohorts, max_cohorts=24)"""),
    ("code", """subs.plot_revenue_retention(subs.revenue_retention(life))"""),
    ("md", """## Survival by contract: Kaplan–Meier, medians, the log-rank test

statsmodels' estimates; the tests check them against an independent numpy
implementation of the textbook formulas on this very table (to 1e-9)."""),
    ("code", """km = subs.kaplan_meier(life, by="plan")
km.summary()"""),
    ("code", """km.plot()"""),
    ("md", """## Drivers of cancellation: a Cox model

Hazard ratios against the most common level (month-to-month); below 1 means staying
longer. Other Telco columns join the lifetimes with `attach`."""),
    ("code", """if TELCO is not None:
    extra = pd.read_csv(TELCO).set_index("customerID")[["InternetService", "SeniorCitizen"]]
    life = subs.attach(life, extra)
    features = ["plan", "InternetService", "SeniorCitizen", "amount_per_period"]
else:
    features = ["plan", "amount_per_period"]
cox = subs.CoxModel().fit(life, features=features)
cox.summary()"""),
    ("md", """## Contractual CLV: the shifted-beta-geometric model by contract

Fader & Hardie (2007): each subscriber renews each month with their own probability,
heterogeneous across subscribers (Beta). The fit projects retention beyond the data;
DERL (Fader & Hardie 2010) values the active subscribers at a 10 % yearly discount rate."""),
    ("code", """monthly_rate = 1.10 ** (1 / 12) - 1
fits = subs.fit_sbg(life, by="plan")
fits.table(discount_rate=monthly_rate).round(3)"""),
    ("md", """Month-to-month subscribers fit the sBG well: heterogeneous, their retention rises
with tenure. One- and two-year contracts do not: they can leave only when the contract
ends, so their monthly churn *rises* with tenure, which a model of monthly renewals with
falling churn cannot follow; the fit goes to its constant-churn limit (see the `note`
column): use their mean churn, or fit them on yearly periods
(`subscription_lifetimes(store, SNAPSHOT, period="year")`)."""),
    ("code", """m2m = fits.models[sorted(fits.models)[0]]
curve = km.table[km.table["segment"] == sorted(fits.models)[0]].set_index("time")["survival"]
months = range(0, int(curve.index.max()) + 1)
subs.plot_sbg_projection(m2m, 96, observed=[curve[curve.index <= t].iloc[-1] for t in months],
                         period_label="Months since start")"""),
    ("code", """value = subs.subscriber_value(life, fits, discount_rate=monthly_rate)
value.groupby("segment")[["p_renew_next", "expected_remaining_periods", "derl", "residual_value"]].mean()"""),
])

notebook("08_campaigns.ipynb", [
    ("md", """# 8 · Campaigns: who may be contacted, who was, and did it work

Every export records who it reached in the store's contact history. A contact
policy caps how often a person hears from us, a suppression list and open
complaints keep people out, a control group is held back, and
`campaign_results` compares treatment with control after the export."""),
    ("code", """import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import crm_analytics as crm

rng = np.random.default_rng(3)
workdir = Path(tempfile.mkdtemp())
n = 2000
ids = [f"C{i:05d}" for i in range(n)]
emails = [f"c{i}@example.com" for i in range(n)]
emails[1] = emails[0].upper()        # two customer records, one person
store = crm.Store(":memory:")
store.load("customers", pd.DataFrame({"customer_id": ids, "email": emails,
                                      "phone": [f"+49 30 {7000000 + i}" for i in range(n)],
                                      "marketing_opt_in": rng.random(n) < 0.9}))
store.load("tickets", pd.DataFrame({"ticket_id": ["T1"], "customer_id": ["C00010"],
                                    "opened_at": ["2025-02-20"], "is_complaint": [True]}))
store.load("suppressions", pd.DataFrame({
    "suppression_id": ["S1", "S2"], "customer_id": ["C00020", None],
    "email": [None, "c30@example.com"], "suppression_reason": ["opt-out", "bounced"]}))
scores = pd.DataFrame({"risk_band": rng.choice(["high", "medium", "low"], size=n)},
                      index=pd.Index(ids, name="customer_id"))"""),
    ("md", """## The contact policy and ten days of daily exports

A newsletter goes out every day and a win-back campaign every other day. The
policy allows two e-mails a week and a quiet day after any contact; the win-back
campaign holds out 40 % of its customers as a control group."""),
    ("code", """policy = crm.campaigns.ContactPolicy.from_dict({
    "quiet_days": 1,
    "caps": [{"channel": "email", "max_contacts": 2, "days": 7}],
    "campaigns": {"Winback": {"holdout_fraction": 0.4, "cooldown_days": 30}},
})
start = pd.Timestamp("2025-03-01 08:00")
reports = []
for day in range(10):
    at = start + pd.Timedelta(days=day)
    reports.append(crm.export_segment(store, ["risk:low", "risk:medium"], workdir / f"news_{day}.csv",
                                      scores=scores, campaign="Newsletter", policy=policy, at=at))
    if day % 2 == 0:
        reports.append(crm.export_segment(store, "risk:high", workdir / f"winback_{day}.csv",
                                          scores=scores, campaign="Winback", policy=policy,
                                          at=at + pd.Timedelta(hours=1)))
pd.DataFrame([{"campaign": r.campaign, "at": r.exported_at, "written": r.rows, "control": r.control,
               **r.skipped} for r in reports]).fillna(0).head(8)"""),
    ("code", """reports[0]"""),
    ("md", """The contact history holds one row per contact, sent or held out. No person
got more than two e-mails in any seven days:"""),
    ("code", """history = crm.campaigns.contact_history(store)
sent = history[~history["is_control"]].set_index("exported_at").sort_index()
weekly = sent.groupby("customer_id")["export_id"].rolling("7D").count()
history.groupby(["campaign", "is_control"]).size(), int(weekly.max())"""),
    ("md", """## Did the win-back campaign work?

Here we plant the answer: in the 30 days after their first win-back export,
treated customers buy with probability 35 %, control customers 20 %. The
transactions are loaded like any others; `campaign_results` reads them as of the
end of the window."""),
    ("code", """first = history[history["campaign"] == "Winback"].groupby("customer_id").agg(
    at=("exported_at", "min"), control=("is_control", "first"))
buys = rng.random(len(first)) < np.where(first["control"], 0.20, 0.35)
days = rng.integers(1, 29, size=len(first))
tx = pd.DataFrame({"customer_id": first.index[buys],
                   "transaction_date": (first["at"].dt.normalize()
                                        + pd.to_timedelta(days, unit="D"))[buys].to_numpy(),
                   "amount": 80.0})
tx["transaction_id"] = [f"T{i}" for i in range(len(tx))]
store.load("transactions", tx)
result = crm.campaign_results(store, "Winback", window_days=30, as_of="2025-05-31")
result"""),
    ("code", """result.plot_effects()"""),
    ("md", """The response lift's interval holds the planted 15 points and excludes zero.
The churn rate compares customers who bought in the 30 days *before* the export;
nobody here had, so it says so instead of guessing. The newsletter had no control
group, so it is listed but not measured:"""),
    ("code", """crm.campaigns.campaign_overview(store, 30, as_of="2025-05-31")"""),
])

def build() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    build()
