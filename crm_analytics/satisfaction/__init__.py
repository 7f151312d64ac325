"""Customer satisfaction: NPS, CSAT, the PLS-PM satisfaction index, service quality.

Statistics on DataFrames
    :func:`nps_table`, :func:`nps_change_test`, :func:`csat_table`,
    :class:`SatisfactionIndex` (ACSI/ECSI PLS path model; ``save`` / ``load`` as
    versioned JSON). Every ``summary()`` returns a :class:`~crm_analytics.core.summary.Summary`.
On the store (answers and tickets as of a date)
    :func:`nps`, :func:`nps_change`, :func:`csat`, :func:`survey_wide`,
    :func:`fit_index`, :func:`service_quality`, :func:`service_impact`,
    :func:`customer_features`.
Figures (plotly)
    :func:`plot_nps_trend`, :func:`plot_sla_trend`, :func:`plot_importance_performance`,
    :func:`plot_path_diagram`, :func:`plot_coefficients`.
"""

from crm_analytics.satisfaction.features import FEATURE_COLUMNS, customer_features
from crm_analytics.satisfaction.nps import (
    DEFAULT_MIN_N,
    csat_table,
    nps_change_test,
    nps_table,
    top2_threshold,
)
from crm_analytics.satisfaction.plotting import (
    plot_coefficients,
    plot_importance_performance,
    plot_nps_trend,
    plot_path_diagram,
    plot_sla_trend,
)
from crm_analytics.satisfaction.pls import ECSI_CONSTRUCTS, ECSI_PATHS, SatisfactionIndex
from crm_analytics.satisfaction.service import (
    IMPACT_TERMS,
    ServiceImpact,
    service_impact,
    service_quality,
)
from crm_analytics.satisfaction.store_io import SurveyResponses, survey_inventory, survey_wide
from crm_analytics.satisfaction.surveys import csat, fit_index, nps, nps_change

__all__ = [
    "DEFAULT_MIN_N",
    "ECSI_CONSTRUCTS",
    "ECSI_PATHS",
    "FEATURE_COLUMNS",
    "IMPACT_TERMS",
    "SatisfactionIndex",
    "ServiceImpact",
    "SurveyResponses",
    "csat",
    "csat_table",
    "customer_features",
    "fit_index",
    "nps",
    "nps_change",
    "nps_change_test",
    "nps_table",
    "plot_coefficients",
    "plot_importance_performance",
    "plot_nps_trend",
    "plot_path_diagram",
    "plot_sla_trend",
    "service_impact",
    "service_quality",
    "survey_inventory",
    "survey_wide",
    "top2_threshold",
]
