"""BTYD models, one per file: purchase counts (BG/NBD, MBG/NBD, Pareto/NBD) and spend
(Gamma-Gamma). They work on arrays; :class:`crm_analytics.clv.CLVModel` is the
customer-level interface."""

from __future__ import annotations

from crm_analytics.clv.models.base import FitAttempt, FitOutcome, PurchaseModel
from crm_analytics.clv.models.bgnbd import BetaGeoModel
from crm_analytics.clv.models.gamma_gamma import GammaGammaModel
from crm_analytics.clv.models.mbgnbd import ModifiedBetaGeoModel
from crm_analytics.clv.models.pareto_nbd import ParetoNBDModel

#: Purchase models by the name ``CLVModel(purchase_model=...)`` takes.
PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {
    "bgnbd": BetaGeoModel,
    "pareto_nbd": ParetoNBDModel,
    "mbgnbd": ModifiedBetaGeoModel,
}
#: Spend models by the name ``CLVModel(spend_model=...)`` takes.
SPEND_MODELS: dict[str, type[GammaGammaModel]] = {"gamma_gamma": GammaGammaModel}

__all__ = [
    "PURCHASE_MODELS",
    "SPEND_MODELS",
    "BetaGeoModel",
    "FitAttempt",
    "FitOutcome",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "PurchaseModel",
]
