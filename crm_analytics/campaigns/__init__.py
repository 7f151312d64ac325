"""Campaigns: who may be contacted, who was, and whether it worked.

* :mod:`~crm_analytics.campaigns.policy` - the contact policy (frequency caps,
  quiet period, campaign cooldown) and the control-group split;
* :mod:`~crm_analytics.campaigns.suppression` - the suppression list and open
  complaints;
* :mod:`~crm_analytics.campaigns.history` - the contact history and the commit
  protocol that makes an export and its history official together;
* :mod:`~crm_analytics.campaigns.results` - treatment against control after
  the export (:func:`campaign_results`).

Exports (:func:`crm_analytics.exports.export_segment`) apply all of it.
"""

from crm_analytics.campaigns.history import contact_history, repair_exports
from crm_analytics.campaigns.policy import (
    CHANNELS,
    CampaignRules,
    ContactPolicy,
    FrequencyCap,
    holdout_draw,
    load_contact_policy,
)
from crm_analytics.campaigns.results import CampaignResults, campaign_overview, campaign_results

__all__ = ["CHANNELS", "CampaignResults", "CampaignRules", "ContactPolicy", "FrequencyCap",
           "campaign_overview", "campaign_results", "contact_history", "holdout_draw",
           "load_contact_policy", "repair_exports"]
