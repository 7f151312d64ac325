"""The result of :func:`~crm_analytics.datasets.synthetic.generate`: the tables and their truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crm_analytics.datasets.synthetic.truth import GroundTruth
from crm_analytics.datasets.synthetic.vocab import _TABLE_ORDER


@dataclass(repr=False)
class SyntheticData:
    """The four contract tables and the ground truth behind them."""

    customers: pd.DataFrame
    transactions: pd.DataFrame
    tickets: pd.DataFrame
    survey_responses: pd.DataFrame
    truth: GroundTruth

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(frame)}" for name, frame in self.tables().items())
        return f"SyntheticData({sizes}, dirty_fraction={self.truth.meta['dirty_fraction']})"

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by contract name, in contract order."""
        return {name: getattr(self, name) for name in _TABLE_ORDER}

    def write_csv(self, directory: str | Path) -> dict[str, Path]:
        """Write the tables (UTF-8, header, no index) and the truth into ``directory``.

        Returns
        -------
        dict
            ``{"customers": path, ..., "truth": path, "truth_customers": path}``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for name, frame in self.tables().items():
            path = directory / f"{name}.csv"
            frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
            paths[name] = path
        paths.update(self.truth.write(directory))
        return paths
