"""Value sets of the simulated company: categories, channels, industries, regions,
service groups, ticket fields, the contract tables' order, and the country, name
and industry-word tables that customer attributes are drawn from."""

from __future__ import annotations

import numpy as np

CATEGORIES: tuple[str, ...] = ("Hardware", "Software", "Services", "Supplies", "Cloud")
CHANNELS: tuple[str, ...] = ("online", "field_sales", "partner", "phone")
INDUSTRIES: tuple[str, ...] = (
    "Manufacturing",
    "Retail",
    "Finance",
    "Healthcare",
    "Technology",
    "Public sector",
    "Education",
    "Logistics",
)
REGIONS: tuple[str, ...] = ("EMEA", "Americas", "APAC")
SERVICE_GROUPS: tuple[str, ...] = ("good", "poor")
TICKET_PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
TICKET_CATEGORIES: tuple[str, ...] = ("billing", "technical", "delivery", "account", "product")
TICKET_CHANNELS: tuple[str, ...] = ("email", "phone", "portal", "chat")
# The contract tables, in contract order.
_TABLE_ORDER = ("customers", "transactions", "tickets", "survey_responses")

# alpha-2: (English name, alpha-3, region, population weight, calling code,
# company legal suffix, company e-mail TLD, consumer mail provider).
_COUNTRIES: dict[str, tuple[str, str, str, float, str, str, str, str]] = {
    "DE": ("Germany", "DEU", "EMEA", 0.16, "49", "GmbH", "de", "web.de"),
    "GB": ("United Kingdom", "GBR", "EMEA", 0.10, "44", "Ltd", "co.uk", "btinternet.com"),
    "FR": ("France", "FRA", "EMEA", 0.08, "33", "SAS", "fr", "orange.fr"),
    "NL": ("Netherlands", "NLD", "EMEA", 0.05, "31", "B.V.", "nl", "ziggo.nl"),
    "ES": ("Spain", "ESP", "EMEA", 0.04, "34", "S.L.", "es", "telefonica.net"),
    "IT": ("Italy", "ITA", "EMEA", 0.04, "39", "S.r.l.", "it", "libero.it"),
    "SE": ("Sweden", "SWE", "EMEA", 0.03, "46", "AB", "se", "telia.com"),
    "US": ("United States", "USA", "Americas", 0.22, "1", "Inc.", "com", "gmail.com"),
    "CA": ("Canada", "CAN", "Americas", 0.04, "1", "Inc.", "ca", "gmail.com"),
    "BR": ("Brazil", "BRA", "Americas", 0.04, "55", "Ltda.", "com.br", "uol.com.br"),
    "MX": ("Mexico", "MEX", "Americas", 0.03, "52", "S.A. de C.V.", "com.mx", "hotmail.com"),
    "JP": ("Japan", "JPN", "APAC", 0.07, "81", "K.K.", "co.jp", "yahoo.co.jp"),
    "AU": ("Australia", "AUS", "APAC", 0.04, "61", "Pty Ltd", "com.au", "bigpond.com"),
    "IN": ("India", "IND", "APAC", 0.04, "91", "Pvt Ltd", "in", "gmail.com"),
    "SG": ("Singapore", "SGP", "APAC", 0.02, "65", "Pte Ltd", "com.sg", "singnet.com.sg"),
}
_COUNTRY_CODES = np.array(list(_COUNTRIES))
_COUNTRY_REGION = np.array([REGIONS.index(v[2]) for v in _COUNTRIES.values()])
_COUNTRY_WEIGHT = np.array([v[3] for v in _COUNTRIES.values()])

# fmt: off
_FIRST_NAMES = np.array([
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Grace", "Hiro", "Ines", "Jonas", "Kai",
    "Laura", "Marco", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wei", "Yuki", "Zoe", "Lucas", "Maria", "Sofia", "Ahmed", "Emma", "Noah", "Olivia", "Liam",
    "Mia", "Raj", "Ana", "Pedro", "Chloe", "Hannah", "Lars"
])
_LAST_NAMES = np.array([
    "Schmidt", "Smith", "Martin", "Jansen", "Garcia", "Rossi", "Andersson", "Johnson",
    "Tremblay", "Silva", "Hernandez", "Tanaka", "Wilson", "Sharma", "Tan", "Mueller", "Brown",
    "Dubois", "Bakker", "Lopez", "Bianchi", "Nilsson", "Williams", "Roy", "Santos", "Gonzalez",
    "Suzuki", "Taylor", "Patel", "Lim", "Weber", "Jones", "Bernard", "Visser", "Martinez",
    "Ferrari", "Berg", "Miller", "Gagnon", "Oliveira"
])
# fmt: on
# One company-name word per industry (same order as INDUSTRIES).
_INDUSTRY_WORDS = np.array(
    ["Industries", "Stores", "Capital", "Health", "Systems", "Agency", "Academy", "Logistics"]
)
_INDUSTRY_WEIGHT = np.array([0.18, 0.15, 0.12, 0.11, 0.16, 0.08, 0.08, 0.12])
