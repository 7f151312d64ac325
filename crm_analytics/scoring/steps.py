"""The steps of a scoring run, as one explicit table (:data:`STEPS`).

Each step reads through ``ctx.store``, adds per-customer columns to
``ctx.scores`` (only columns declared in :mod:`crm_analytics.store.score_columns`)
and aggregate tables to ``ctx.results`` (what the dashboards show). A step
(or part of one) that cannot run on the data present — no transactions, too
little history, no tickets, no survey answers, too few customers — is skipped
with :meth:`RunContext.skip` and its reason (``ctx.skipped``), checked before
the computation: only these known data conditions are skips. Any other error
fails the run (nothing is written but the failure record).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import pandas as pd

from crm_analytics import clv as clv_module
from crm_analytics import satisfaction as sat
from crm_analytics import segmentation as seg
from crm_analytics.clv.model import customer_value_scores
from crm_analytics.core.timeutils import as_of_params
from crm_analytics.errors import DataQualityWarning, InputError, RunError
from crm_analytics.scoring.config import BASE_STEPS
from crm_analytics.scoring.context import RunContext
from crm_analytics.scoring.forecast_step import step_forecast
from crm_analytics.scoring.models import churn_model_for_run
from crm_analytics.scoring.subscriptions_step import step_subscriptions
from crm_analytics.store import customer_attributes, load_query

log = logging.getLogger(__name__)


#: Fewest customers with purchases the CLV step fits its purchase model on.
MIN_CLV_CUSTOMERS = 20
#: Fewest customers with purchases the needs segmentation clusters.
MIN_NEEDS_CUSTOMERS = 50


def _rows(ctx: RunContext, table: str) -> int:
    """Rows of an input table as of the run's date (counted by the inputs step)."""
    return int(ctx.metrics.get("input_rows", {}).get(table, 0))


def step_inputs(ctx: RunContext) -> None:
    cutoff = as_of_params(ctx.as_of)["cutoff"]
    counts = ctx.store.sql(load_query("store/sql/table_counts.sql"), {"cutoff": cutoff})
    ctx.metrics["input_rows"] = {r.table_name: int(r.n_rows) for r in counts.itertuples()}
    if _rows(ctx, "customers") == 0:
        # The store has customers (run_batch checks that before the run starts), just
        # none as of this date: the run would score nobody, so it fails (and is recorded).
        first = ctx.store.sql("SELECT min(created_at) AS first FROM customers")["first"].iloc[0]
        since = f"; the first customer was created on {pd.Timestamp(first).date()}" if (
            first is not None and not pd.isna(first)) else ""
        raise RunError(f"no customers as of {ctx.as_of}{since}: nothing to score")


def step_attributes(ctx: RunContext) -> None:
    thresholds = ctx.config.size_thresholds()
    attrs = customer_attributes(ctx.store, ctx.as_of, thresholds)
    keep = ["name", "customer_type", "size_band", "industry", "country", "region",
            "employees", "annual_revenue", "created_at", "marketing_opt_in"]
    ctx.scores = attrs[keep].copy()
    ctx.scores.index.name = "customer_id"
    ctx.artifacts["attributes"] = attrs
    end = pd.Timestamp(as_of_params(ctx.as_of)["cutoff"])
    revenue = ctx.store.sql(load_query("store/sql/customer_revenue.sql"),
                            {"cutoff": end, "start": end - pd.Timedelta(days=365)})
    revenue = revenue.set_index("customer_id")
    ctx.add_scores(revenue)
    for col in ("revenue_365d", "transactions_365d"):
        # No transactions in the window (or none at all): nothing bought is 0, not unknown.
        ctx.scores[col] = ctx.scores[col].fillna(0) if col in ctx.scores.columns else 0.0
    ctx.results["revenue_by_month"] = ctx.store.sql(
        load_query("store/sql/revenue_by_month.sql"), {"cutoff": end, "start": end - pd.DateOffset(months=24)}
    )


def step_clv(ctx: RunContext) -> None:
    clv = clv_module
    cfg = ctx.config
    if _rows(ctx, "transactions") == 0:
        ctx.skip("clv", f"no transactions up to {ctx.as_of}")
        return
    summary = clv.rfm_summary(ctx.store, ctx.as_of, time_unit="W")
    if len(summary) < MIN_CLV_CUSTOMERS:
        ctx.skip("clv", f"only {len(summary)} customers with purchases up to {ctx.as_of}; the "
                        f"purchase model needs at least {MIN_CLV_CUSTOMERS}")
        return
    model = clv.CLVModel(purchase_model=cfg.purchase_model).fit(summary)
    out = customer_value_scores(model, summary, horizon_days=cfg.clv_horizon_days,
                                annual_discount_rate=cfg.annual_discount_rate)
    ctx.add_scores(out)
    ctx.artifacts["clv_model"] = model
    ctx.artifacts["rfm_summary"] = summary
    ctx.metrics["clv"] = {
        "params": {k: float(v) for k, v in dict(model.params_).items()},
        "notes": list(getattr(model, "fit_notes_", []) or []),
        "customers": int(len(summary)),
    }
    potential = clv.revenue_potential(
        ctx.store, ctx.as_of, model=model, summary=summary, horizon_days=cfg.clv_horizon_days,
        annual_discount_rate=cfg.annual_discount_rate,
        thresholds=cfg.size_thresholds(),
    )
    # P(alive) and CLV are already in the scores under their run names.
    ctx.add_scores(potential.drop(columns=["clv", "probability_alive"], errors="ignore"))


def step_churn(ctx: RunContext) -> None:
    from crm_analytics import churn  # imported here: step_churn is the only user in this module

    if _rows(ctx, "transactions") == 0:
        ctx.skip("churn", f"no transactions up to {ctx.as_of}")
        return
    model = churn_model_for_run(ctx)
    if model is None:  # skipped (too little history), the reason recorded
        return
    # The back-test decided the scorer: the model, or a baseline that is as good.
    scorer = ctx.artifacts.get("churn_scorer", "model")
    scores = churn.score(model, ctx.store, ctx.as_of, scorer=scorer)
    low, high = model.risk_thresholds_
    ctx.metrics["churn_risk_bands"] = {
        "medium_from": low, "high_from": high, "base_rate": float(model.base_rate_),
        "rule": ("medium from the training churn base rate b, high from (1 + b) / 2"
                 if model.risk_thresholds == "auto" else "fixed risk_thresholds"),
        "high_share": float((scores["risk_band"] == "high").mean()) if len(scores) else 0.0,
    }
    if "clv" in ctx.scores.columns:
        # Revenue at risk on the run's own CLV, so the dashboard's numbers agree.
        clv = ctx.scores["clv"].reindex(scores.index)
        scores["revenue_at_risk"] = scores["churn_probability"] * clv
        scores["revenue_at_risk_basis"] = "churn_probability x run clv"
        scores = scores.drop(columns=["clv"], errors="ignore")
    ctx.add_scores(scores)


def step_satisfaction(ctx: RunContext) -> None:
    """NPS and CSAT (survey answers), service quality (tickets), the satisfaction index.

    Each part needs its own data: without survey answers the NPS, CSAT and
    index parts are skipped ("no survey data"), without tickets the service
    parts ("no tickets"); what the data support is still computed.
    """
    cfg = ctx.config
    inventory = sat.survey_inventory(ctx.store, ctx.as_of)
    items = set(inventory["item"].astype(str)) if not inventory.empty else set()
    has_tickets = _rows(ctx, "tickets") > 0
    if not items:
        for part in ("nps", "csat", "index"):
            ctx.skip(f"satisfaction.{part}", f"no survey data up to {ctx.as_of}")
    else:
        for part, item in (("nps", cfg.nps_item), ("csat", cfg.csat_item)):
            if item not in items:
                ctx.skip(f"satisfaction.{part}",
                         f"no answers to survey item {item!r} up to {ctx.as_of} (set {part}_item "
                         f"to the item your surveys use; found: {', '.join(sorted(items)[:8])})")
    if not has_tickets:
        ctx.skip("satisfaction.service", f"no tickets up to {ctx.as_of}")
    has_nps = "satisfaction.nps" not in ctx.skipped
    has_csat = "satisfaction.csat" not in ctx.skipped
    feats = sat.customer_features(ctx.store, ctx.as_of, nps_item=cfg.nps_item,
                                  csat_item=cfg.csat_item)
    wanted = (["latest_nps", "nps_class"] * has_nps + ["csat_mean_180d"] * has_csat
              + ["complaints_365d", "sla_breaches_365d", "open_tickets"] * has_tickets)
    keep = [c for c in wanted if c in feats.columns]
    ctx.add_scores(feats[keep])
    with warnings.catch_warnings(record=True) as caught:
        # Small monthly cells are expected: they are marked not reportable in the
        # tables themselves; the run records the warning once instead of spamming cron mail.
        warnings.simplefilter("always", DataQualityWarning)
        if has_nps:
            ctx.results["nps_by_month"] = sat.nps(ctx.store, ctx.as_of, period="month",
                                                  survey_item=cfg.nps_item, min_n=cfg.min_n)
            ctx.results["nps_overall"] = sat.nps(ctx.store, ctx.as_of, survey_item=cfg.nps_item,
                                                 min_n=cfg.min_n)
        if has_tickets:
            ctx.results["service_by_month"] = sat.service_quality(ctx.store, ctx.as_of,
                                                                  period="month")
            ctx.results["service_overall"] = sat.service_quality(ctx.store, ctx.as_of,
                                                                 period=None)
    for w in caught:
        if issubclass(w.category, DataQualityWarning):
            log.info("satisfaction: %s", w.message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not items:
        return
    try:
        index = sat.fit_index(ctx.store, ctx.as_of, min_n=cfg.min_n)
    except InputError as exc:  # no ECSI survey, too few respondents: the rest still stands
        ctx.skip("satisfaction.index", str(exc))
        return
    ctx.results["satisfaction_index"] = index.index_.to_frame("index") if isinstance(
        index.index_, pd.Series) else pd.DataFrame(index.index_)
    ctx.results["satisfaction_drivers"] = index.drivers()
    ctx.results["satisfaction_paths"] = index.path_coefficients_


def step_segments(ctx: RunContext) -> None:
    attrs = ctx.artifacts.get("attributes")
    thresholds = ctx.config.size_thresholds()
    if attrs is not None:
        ctx.add_scores(seg.size_segments(attrs, thresholds).to_frame("size_segment"))
    ctx.add_scores(seg.rfm_segments(ctx.store, ctx.as_of))
    feats = seg.needs_features(ctx.store, ctx.as_of)
    if len(feats) >= MIN_NEEDS_CUSTOMERS:
        n = ctx.config.needs_segments
        previous = seg.load_profiles(ctx.store)
        segmenter = seg.NeedsSegmenter(
            n_segments="auto" if n == "auto" else int(n), random_state=ctx.config.seed,
        ).fit(feats, previous=previous)
        labels = pd.DataFrame({"needs_segment": segmenter.labels_}, index=feats.index)
        labels["needs_segment_name"] = labels["needs_segment"].map(segmenter.names_)
        ctx.add_scores(labels)
        ctx.on_commit.append(lambda w: seg.save_profiles(w, segmenter, run_id=ctx.run_id))
    else:
        ctx.skip("segments.needs", f"only {len(feats)} customers with purchases up to "
                                   f"{ctx.as_of}; needs segments need at least "
                                   f"{MIN_NEEDS_CUSTOMERS}")
    ctx.add_scores(seg.value_tiers(ctx.scores).to_frame("value_tier"))
    for by in ("size_segment", "needs_segment_name", "rfm_segment", "value_tier"):
        if by in ctx.scores.columns:
            ctx.results[f"profile_{by}"] = seg.profile(ctx.scores, by=by, needs_features=feats)


# The run executes the configured subset of these, in this order (names: config.STEP_NAMES).
STEPS: dict[str, Callable[[RunContext], None]] = {
    "inputs": step_inputs,
    "attributes": step_attributes,
    "clv": step_clv,
    "churn": step_churn,
    "satisfaction": step_satisfaction,
    "segments": step_segments,
    "forecast": step_forecast,
    "subscriptions": step_subscriptions,
}


def run_steps(configured: list[str]) -> list[str]:
    """The steps a run executes: the configured ones in table order, inputs and attributes always.

    Every later step joins its columns onto the customers the attributes step
    lists, so a run without it would score nobody.

    Examples
    --------
    >>> run_steps(["segments", "clv"])
    ['inputs', 'attributes', 'clv', 'segments']
    """
    wanted = set(configured) | set(BASE_STEPS)
    return [name for name in STEPS if name in wanted]
