"""Who is on the other side of a flow: a country (its ISO 3166-1 alpha-3 code) or a region.

Every cross-border flow names its counterpart, so that a flow out of one country can be matched
with the flow into another. A counterpart that has its own parameter file is a *modelled* country;
any other country is named by its ISO3 code too, and where only a region is known, by one of the
region codes below. Names for readers come from pycountry's ISO 3166 tables (and their
translations), never from the code.
"""
from __future__ import annotations

import re

import pycountry

ISO3_PATTERN = re.compile(r"[A-Z]{3}")
REGIONS = {
    "AFRICA": "Africa",
    "ASIA": "Asia",
    "CARIBBEAN": "the Caribbean",
    "CENTRAL_AMERICA": "Central America",
    "EUROPE": "Europe",
    "NORTH_AMERICA": "North America",
    "NORTHERN_TRIANGLE": "Guatemala, Honduras and El Salvador",
    "OCEANIA": "Oceania",
    "SOUTH_AMERICA": "South America",
    "OTHER": "other countries",
}
# the fictional countries of the training material
FICTIONAL = {"XRU": "Ruritania", "XBO": "Borduria", "XSY": "Syldavia"}


def is_partner_code(code: str) -> bool:
    """An ISO 3166-1 alpha-3 code of a country (or a fictional training country), or a region code."""
    if code in REGIONS:
        return True
    if not ISO3_PATTERN.fullmatch(code or ""):
        return False
    return code.startswith("X") or pycountry.countries.get(alpha_3=code) is not None


def partner_name(code: str) -> str:
    """The name of a counterpart for readers, in English."""
    if code in REGIONS:
        return REGIONS[code]
    if code in FICTIONAL:
        return FICTIONAL[code]
    country = pycountry.countries.get(alpha_3=code) if ISO3_PATTERN.fullmatch(code or "") else None
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


PARTNER_HELP = ("an ISO3 country code such as COL or USA, or a region: " + ", ".join(REGIONS))
