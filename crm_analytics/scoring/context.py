"""What the steps of one scoring run share (see :mod:`crm_analytics.scoring.run`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from crm_analytics.scoring.config import RunConfig
from crm_analytics.store import Store

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What the steps of one run share: inputs, the growing score table, results."""

    store: Store
    config: RunConfig
    run_id: str
    as_of: dt.date
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: What the run skipped because the data cannot support it: a step
    #: (``"churn"``) or part of one (``"satisfaction.nps"``) -> the reason.
    skipped: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    on_commit: list[Callable[[Store], None]] = field(default_factory=list)

    def add_scores(self, frame: pd.DataFrame, *, overwrite: bool = False) -> None:
        """Join per-customer columns (indexed by customer_id) onto the scores.

        Columns the scores already have are kept (earlier steps, such as the
        customer attributes, are authoritative) unless ``overwrite``.
        """
        if frame is None or frame.empty:
            return
        frame = frame.copy()
        frame.index = frame.index.astype(str)
        frame.index.name = "customer_id"
        dupes = [c for c in frame.columns if c in self.scores.columns]
        if overwrite:
            self.scores = self.scores.drop(columns=dupes)
        else:
            frame = frame.drop(columns=dupes)
        self.scores = self.scores.join(frame, how="left")

    def skip(self, what: str, reason: str, *, expected: bool = False) -> None:
        """Record that a step (``"clv"``) or part of one (``"segments.needs"``) was skipped.

        For known data conditions only (too little history, no tickets, ...);
        a bug must still fail the run. ``expected``: the normal case for many
        stores (e.g. no subscriptions in a non-contractual business), logged at
        INFO instead of WARNING; it is recorded in ``skipped`` all the same.
        """
        self.skipped[what] = reason
        log.log(logging.INFO if expected else logging.WARNING, "%s skipped: %s", what, reason)
