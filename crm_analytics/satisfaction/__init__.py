"""Customer satisfaction: NPS, CSAT, the PLS-PM satisfaction index and their figures."""
