"""The parameter file of one country (``parameters/<ISO3>.yml``): its schema and its safe loading.

The pydantic models (:mod:`.records`, :mod:`.country`, :mod:`.drugs`, :mod:`.smuggling`) say what a
file may hold; :mod:`.loading` parses YAML safely and turns every problem into one line naming the
file, the line, the field and what is wrong.
"""
from .country import FORMAT, MARKET_LABELS, MARKETS, CountryFile, Macro, Markets
from .drugs import CHAIN_STAGES, STAGE_LABELS, Chain, DrugMarket, Route, Stage, Trade
from .records import MISSING, PricePoint, Quantity, SourceRef, YearValue
from .smuggling import PLACES, Corridor, SmugglingMarket
from .loading import bib_keys, check_country, iter_quantities, iter_sources, load_country  # noqa: E402 (after the models it uses)

__all__ = [
    "CHAIN_STAGES", "FORMAT", "MARKETS", "MARKET_LABELS", "MISSING", "PLACES", "STAGE_LABELS",
    "Chain", "Corridor", "CountryFile", "DrugMarket", "Macro", "Markets", "PricePoint",
    "Quantity", "Route", "SmugglingMarket", "SourceRef", "Stage", "Trade", "YearValue",
    "bib_keys", "check_country", "iter_quantities", "iter_sources", "load_country",
]
