"""The nightly scoring run: configuration, the run and its steps, the model cache.

Layer 3 of the package: it composes the domain modules (``clv``, ``churn``,
``segmentation``, ``satisfaction``) into one atomic run over a store.

* :func:`run_batch` -- score every customer as of a date, write one run;
* :mod:`~crm_analytics.scoring.config` -- :class:`RunConfig` and :func:`load_config`;
* :mod:`~crm_analytics.scoring.steps` -- the steps, one explicit table;
* :mod:`~crm_analytics.scoring.models` -- where a run finds its churn model.
"""

from crm_analytics.scoring.config import RunConfig, load_config
from crm_analytics.scoring.context import RunContext
from crm_analytics.scoring.run import RunResult, run_batch, train_churn_model
from crm_analytics.scoring.steps import STEPS

__all__ = ["STEPS", "RunConfig", "RunContext", "RunResult", "load_config", "run_batch", "train_churn_model"]
