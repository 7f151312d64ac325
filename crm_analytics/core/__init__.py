"""Shared utilities with no knowledge of the store: dates, parameters, estimators, summaries.

Layer 0 of the package (with :mod:`crm_analytics.errors`): every other layer
may import it; it imports nothing of the package but the errors.
"""
