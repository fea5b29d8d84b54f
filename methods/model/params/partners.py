"""Who is on the other side of a flow: a country (its ISO 3166-1 alpha-3 code) or a region.

Every cross-border flow names its counterpart, so that a flow out of one country can be matched
with the flow into another. A counterpart that has its own parameter file is a *modelled* country;
any other country is named by its ISO3 code too, and where only a region is known, by one of the
region codes below. Names for readers come from pycountry's ISO 3166 tables (and their
translations), never from the code.
"""
from __future__ import annotations

import re

from functools import lru_cache

import pycountry

from ..i18n import N_, catalogue

ISO3_PATTERN = re.compile(r"[A-Z]{3}")
REGIONS = {
    "AFRICA": N_("Africa"),
    "ASIA": N_("Asia"),
    "CARIBBEAN": N_("the Caribbean"),
    "CENTRAL_AMERICA": N_("Central America"),
    "EUROPE": N_("Europe"),
    "NORTH_AMERICA": N_("North America"),
    "NORTHERN_TRIANGLE": N_("Guatemala, Honduras and El Salvador"),
    "OCEANIA": N_("Oceania"),
    "SOUTH_AMERICA": N_("South America"),
    "OTHER": N_("other countries"),
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


@lru_cache(maxsize=None)
def _iso_names(lang: str):
    """pycountry's translation of ISO 3166 names into ``lang`` (identity for English)."""
    import gettext

    if lang == "en":
        return lambda name: name
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True).gettext


SHORT_NAMES_ES = {"USA": "Estados Unidos", "BOL": "Bolivia", "VEN": "Venezuela", "GBR": "Reino Unido"}


def partner_name(code: str, lang: str = "en") -> str:
    """The name of a counterpart for readers, in English or Spanish (ISO 3166 names from pycountry,
    regions from the handbook's catalogue)."""
    if code in REGIONS:
        return catalogue(lang, "iff").get(REGIONS[code], REGIONS[code]) if lang != "en" else REGIONS[code]
    if code in FICTIONAL:
        return FICTIONAL[code]
    country = pycountry.countries.get(alpha_3=code) if ISO3_PATTERN.fullmatch(code or "") else None
    if country is None:
        return code
    if lang == "es" and code in SHORT_NAMES_ES:
        return SHORT_NAMES_ES[code]
    name = getattr(country, "common_name", None) or country.name
    return _iso_names(lang)(name) if lang != "en" else name


PARTNER_HELP = ("an ISO3 country code such as COL or USA, or a region: " + ", ".join(REGIONS))
