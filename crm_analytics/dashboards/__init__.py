"""Self-contained HTML dashboards of a scoring run, readable offline.

:func:`write_dashboards` renders six pages — overview, segments, value,
churn, satisfaction & service — from one run's result tables (``runs``,
``customer_scores``, ``run_results``), and campaigns, from the contact history
(:func:`crm_analytics.campaigns.campaign_overview`). plotly.js is written once beside the
pages (``plotly.min.js``, from the installed plotly package): no CDN, no
network. Every figure on a page is computed from the run's tables, and every
headline number carries a ``data-kpi`` attribute holding the exact value the
run stored, so tests (and auditors) can compare them.
"""

from __future__ import annotations

from crm_analytics.dashboards.render import PAGES, build_pages, write_dashboards

__all__ = ["PAGES", "build_pages", "write_dashboards"]
