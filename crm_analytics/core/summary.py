"""The one result class of the package: text for the console, HTML for Jupyter, a DataFrame for code.

Every ``summary()`` (CLVModel, ChurnModel, NeedsSegmenter, SatisfactionIndex,
evaluations) returns a :class:`Summary`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Summary"]


@dataclass
class Summary:
    """What ``summary()`` returns: a titled table with facts and notes.

    ``str(report)`` is plain text, ``report._repr_html_()`` renders in Jupyter
    and :meth:`to_frame` returns the main table.

    Examples
    --------
    >>> r = Summary("Demo", [("customers", "3")], pd.DataFrame({"estimate": [1.5]}, index=["r"]))
    >>> print(r)
    Demo
    ====
    customers : 3
    <BLANKLINE>
       estimate
    r       1.5
    """

    title: str
    facts: Sequence[tuple[str, str]] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: Sequence[str] = field(default_factory=list)
    extra_tables: Sequence[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The main table (a copy)."""
        return self.table.copy()

    def __str__(self) -> str:
        lines = [self.title, "=" * len(self.title)]
        width = max((len(k) for k, _ in self.facts), default=0)
        lines += [f"{k.ljust(width)} : {v}" for k, v in self.facts]
        if not self.table.empty:
            lines += ["", self.table.to_string(float_format=_fmt)]
        for name, frame in self.extra_tables:
            lines += ["", name, frame.to_string(float_format=_fmt)]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        if self.facts:
            rows = "".join(
                f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                for k, v in self.facts
            )
            parts.append(f"<table>{rows}</table>")
        if not self.table.empty:
            parts.append(self.table.to_html(float_format=_fmt, na_rep="n/a"))
        for name, frame in self.extra_tables:
            parts.append(f"<h5>{html.escape(name)}</h5>")
            parts.append(frame.to_html(float_format=_fmt, na_rep="n/a"))
        if self.notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
            parts.append(f"<p>Notes:</p><ul>{items}</ul>")
        return "\n".join(parts)


def _fmt(value: float) -> str:
    return f"{value:.4g}"
