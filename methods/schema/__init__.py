"""Pydantic models of the parameter files (``parameters/<ISO3>.yml``)."""
from .country import MARKET_LABELS, MARKETS, CountryFile, Macro, Markets
from .drugs import CHAIN_STAGES, STAGE_LABELS, Chain, DrugMarket, Route, Stage
from .records import MISSING, PricePoint, Quantity, SourceRef, YearValue
from .smuggling import PLACES, Corridor, SmugglingMarket

__all__ = [
    "CHAIN_STAGES", "MARKETS", "MARKET_LABELS", "MISSING", "PLACES", "STAGE_LABELS",
    "Chain", "Corridor", "CountryFile", "DrugMarket", "Macro", "Markets", "PricePoint",
    "Quantity", "Route", "SmugglingMarket", "SourceRef", "Stage", "YearValue",
]
