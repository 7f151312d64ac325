"""The read-only web app: customer search, the customer card, a JSON API and the dashboards.

Started with ``crm-analytics serve --db PATH`` (:func:`serve`); built on Starlette and
uvicorn. An application at the layer of the command line: it reads the store through
:class:`StoreGate` (read-only, one snapshot per request, out of the nightly job's way)
and shows what :mod:`crm_analytics.customers` and :mod:`crm_analytics.dashboards` make.
:mod:`.app` documents the routes and the security rules.
"""

from crm_analytics.web.app import ENV_TOKEN, check_bind, create_app, serve
from crm_analytics.web.gate import StoreGate

__all__ = ["ENV_TOKEN", "StoreGate", "check_bind", "create_app", "serve"]
