"""Segmentation: size, needs, RFM, value tiers, profiles, figures and custom segments.

Following the IBM programme (Kumar & Reinartz), customers are segmented on
**size** (large, split by industry / small-medium / consumer / unknown) and on
**needs and geography** (:class:`NeedsSegmenter`), completed by **RFM** cells and
**value tiers**. :func:`profile` describes any segmentation; the ``plot_*``
functions return plotly figures. Custom segments are named rules saved in the
store (:func:`define_segment`); with the built-in ``kind:value`` segments they are
what :func:`crm_analytics.exports.export_segment` exports.

>>> from crm_analytics import segmentation
>>> segmentation.rfm_cell(5, 5, 5)
'Champions'
"""

from __future__ import annotations

from crm_analytics.segmentation.needs import (
    DEFAULT_WEIGHTS,
    NeedsSegmenter,
    load_profiles,
    needs_features,
    save_profiles,
)
from crm_analytics.segmentation.plotting import (
    plot_segment_bars,
    plot_segment_treemap,
    plot_size_needs_grid,
)
from crm_analytics.segmentation.profiles import profile
from crm_analytics.segmentation.rfm import RFM_SEGMENTS, rfm_cell, rfm_scores, rfm_segments
from crm_analytics.segmentation.rules import (
    KNOWN_COLUMNS,
    RuleError,
    SegmentDefinition,
    compile_rule,
    define_segment,
    delete_segment,
    get_segment,
    list_segments,
    parse_rule,
    segment_members,
)
from crm_analytics.segmentation.size import size_segments
from crm_analytics.segmentation.value import DEFAULT_TIERS, value_tiers

__all__ = [
    "DEFAULT_TIERS",
    "DEFAULT_WEIGHTS",
    "KNOWN_COLUMNS",
    "RFM_SEGMENTS",
    "NeedsSegmenter",
    "RuleError",
    "SegmentDefinition",
    "compile_rule",
    "define_segment",
    "delete_segment",
    "get_segment",
    "list_segments",
    "load_profiles",
    "needs_features",
    "parse_rule",
    "plot_segment_bars",
    "plot_segment_treemap",
    "plot_size_needs_grid",
    "profile",
    "rfm_cell",
    "rfm_scores",
    "rfm_segments",
    "save_profiles",
    "segment_members",
    "size_segments",
    "value_tiers",
]
