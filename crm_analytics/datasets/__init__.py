"""Data made for tests, demos and benchmarks -- kept apart from the runtime core.

* :mod:`~crm_analytics.datasets.synthetic` -- a mixed B2B/B2C company simulated
  from known processes (BG/NBD purchases, Gamma-Gamma spend, needs groups,
  tickets, surveys, churn), with injected defects and the ground truth.

Nothing in the store, the domain modules or the scoring run imports this package.
"""
