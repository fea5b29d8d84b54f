"""The whole parameter file of one country."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..i18n import N_

from .drugs import DrugMarket
from .records import bad, GdpUsd, LcuPerUsd, Name, Quantity, Strict, Text, Year
from .smuggling import SmugglingMarket

MARKETS = ("drugs", "smuggling")
# The format of the parameter files this handbook reads. Format 1 (before 2026-11) named partners in
# free text and kept drug in transit out of a country's flows with resident shares on its routes;
# `iff upgrade` rewrites such a file (methods/build/upgrade.py).
FORMAT = 2
MARKET_LABELS = {"drugs": N_("drug trafficking"), "smuggling": N_("smuggling of migrants")}


class Macro(Strict):
    lcu_per_usd: LcuPerUsd | None = Field(
        default=None,
        description="Annual average exchange rate, local currency per US dollar (needed when any value is in local currency)",
    )
    gdp_usd: GdpUsd | None = Field(default=None, description="Gross domestic product, current US dollars")

    @model_validator(mode="after")
    def _units(self) -> "Macro":
        if self.lcu_per_usd is not None and not self.lcu_per_usd.unit.endswith("/USD"):
            raise bad("unit", "lcu_per_usd: unit must be '<currency>/USD', got {u!r}", {"u": self.lcu_per_usd.unit})
        if self.gdp_usd is not None and self.gdp_usd.unit != "USD":
            raise bad("unit", "gdp_usd: unit must be 'USD', got {u!r}", {"u": self.gdp_usd.unit})
        return self


class Markets(Strict):
    drugs: DrugMarket | None = None
    smuggling: SmugglingMarket | None = None


class CountryFile(Strict):
    """Everything the notebooks need to estimate one country's IFFs."""

    format: Literal[2] = Field(description="The format of the parameter file (see `iff upgrade`)")
    country: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3 code (XAA-XZZ for fictional countries)")
    name: Name
    name_es: Name | None = Field(default=None, description="Name in Spanish")
    m49: int | None = Field(default=None, ge=1, le=999, description="UN M49 numeric code (none for fictional countries)")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the local currency")
    fictional: bool = False
    first_year: Year
    last_year: Year
    summary: Text = Field(description="One paragraph: the country's place in the markets covered")
    macro: Macro
    markets: Markets

    @model_validator(mode="after")
    def _check(self) -> "CountryFile":
        if self.first_year > self.last_year:
            raise bad("years", "first_year {a} is after last_year {b}", {"a": self.first_year, "b": self.last_year})
        if self.fictional != self.country.startswith("X"):
            raise bad(
                "fictional", "fictional countries use codes XAA-XZZ, and codes starting with X are fictional"
            )
        if not self.fictional and self.m49 is None:
            raise bad("m49", "m49: a real country needs its UN M49 code")
        cur = self.macro.lcu_per_usd.unit.split("/")[0] if self.macro.lcu_per_usd is not None else self.currency
        if cur != self.currency:
            raise bad("unit", "macro.lcu_per_usd: unit {u!r} does not match currency {c}", {"u": self.macro.lcu_per_usd.unit, "c": self.currency})
        if self.markets.drugs is None and self.markets.smuggling is None:
            raise bad("markets", "markets: declare at least one market (drugs, smuggling)")
        return self

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    def name_in(self, lang: str) -> str:
        """The country's name in the edition's language (``name_es`` in Spanish, where the file gives it)."""
        return (self.name_es or self.name) if lang == "es" else self.name

    def market_names(self) -> list[str]:
        return [m for m in MARKETS if getattr(self.markets, m) is not None]

    def estimated_markets(self) -> list[str]:
        """Markets with something to compute; they get a chapter. A market that lists only its data
        gaps (a smuggling market without corridors) has none: the country's page lists the gaps."""
        return [m for m in self.market_names() if not (m == "smuggling" and not self.markets.smuggling.corridors)]

    def unestimated_markets(self) -> list[str]:
        return [m for m in self.market_names() if m not in self.estimated_markets()]
