"""Schema of the drug-trafficking section of a parameter file.

A drug market is one or more *chains* (cocaine, heroin, methamphetamine). A chain is an ordered
list of *stages*, one per product (coca leaf -> coca paste/base -> cocaine hydrochloride; opium ->
heroin; methamphetamine). Every stage has its own supply-and-use balance:

    production + imports + inflow from the previous stage
        = exports + seizures + consumption + losses + licit use + outflow to the next stage

Quantities of coca leaf are in tonnes of leaf; every other stage is in kilograms of pure drug
(for coca paste/base: kilograms of pure cocaine, hydrochloride equivalent). The last stage's
balancing item (exports, imports or production) is set by the chain's ``balance``.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .records import (
    bad,
    Conversion,
    Factor,
    GramsPerUser,
    Hectares,
    Key,
    KgPerHa,
    Kilograms,
    PricePoint,
    Purity,
    Quantity,
    Share,
    Strict,
    Text,
    Tonnes,
    TonnesPerHa,
    Persons,
)

# the stages each chain may have, in order, and the unit of their quantities
CHAIN_STAGES: dict[str, dict[str, str]] = {
    "cocaine": {"coca_leaf": "t", "coca_paste_base": "kg", "cocaine_hcl": "kg"},
    "heroin": {"opium": "kg", "heroin": "kg"},
    "methamphetamine": {"methamphetamine": "kg"},
}
STAGE_LABELS = {
    "coca_leaf": "coca leaf",
    "coca_paste_base": "coca paste and cocaine base",
    "cocaine_hcl": "cocaine hydrochloride",
    "opium": "opium gum",
    "heroin": "heroin",
    "methamphetamine": "methamphetamine",
}
PartnerCode = Text


class Route(Strict):
    """A flow of one product to (exports) or from (imports) a partner, and where it is valued.

    Ownership passes between a resident and a non-resident either at home (the ``home`` price:
    production zone, airstrip, departure port or border) or abroad (the ``abroad`` price:
    transit or destination wholesale). ``abroad_share`` is the share of the route's quantity whose
    ownership changes abroad: for exports, drugs carried abroad by resident groups and sold
    there; for imports, drugs bought abroad by resident groups. It is a *structural* parameter:
    its low/central/high values define the point-of-sale scenarios. ``resident_share`` (also
    structural) is the share traded by residents at all: drugs that cross a transit country under
    the ownership of non-residents change hands between non-residents only.
    """

    label: Text
    partner: PartnerCode = Field(description="ISO3 code of the counterpart's country, or a region name")
    share: Share = Field(description="Share of the stage's exports (or imports) that takes this route")
    home: PricePoint = Field(description="Price if ownership changes hands in the reporting country")
    abroad: PricePoint = Field(description="Price if ownership changes hands abroad (transit or destination)")
    abroad_share: Share = Field(description="Share of the quantity whose ownership changes abroad")
    resident_share: Share | None = Field(
        default=None,
        description="Share of the route's quantity bought or sold by residents of the reporting country; the rest "
        "crosses under the ownership of non-residents and is no IFF of this country (default: all of it)",
    )


class Volume(Strict):
    """A quantity given directly, or derived from another observed flow (the ``base``).

    ``quantity = base x base_share / base_fraction_of_flow``: ``base_share`` is the part of the
    base that concerns this flow (e.g. the share of a partner's production that transits the
    country); ``base_fraction_of_flow`` is what fraction of the flow the base represents, when the
    base is only part of it (e.g. seizures as a share of supply). Omitted, it is one.
    """

    quantity: Kilograms | None = None
    base: Kilograms | None = Field(default=None, description="The observed flow, e.g. a partner's production or seizures")
    base_share: Share | None = Field(default=None, description="Share of `base` that concerns this flow")
    base_fraction_of_flow: Share | None = Field(
        default=None, description="Fraction of this flow that `base` represents (e.g. share of supply seized); default 1"
    )

    @model_validator(mode="after")
    def _one_way(self) -> "Volume":
        direct = self.quantity is not None
        shared = self.base is not None or self.base_share is not None or self.base_fraction_of_flow is not None
        if direct == shared:
            raise bad(
                "volume_form", "give either quantity, or base together with base_share"
            )
        if shared and (self.base is None or self.base_share is None):
            raise bad("volume_form", "base and base_share go together")
        if direct and self.base_fraction_of_flow is not None:
            raise bad("volume_form", "base_fraction_of_flow goes with base, not with quantity")
        if self.base_fraction_of_flow is not None and min(self.base_fraction_of_flow.numbers()) <= 0:
            raise bad("volume_form", "base_fraction_of_flow must be above zero")
        return self


class Trade(Strict):
    """Exports or imports of a stage.

    For an intermediate product, ``share`` is the share of the stage's supply exported as such.
    For the last stage, the quantity is either the balancing item of the chain (nothing to give)
    or given by ``volume``.
    """

    share: Share | None = None
    volume: Volume | None = None
    routes: dict[Key, Route] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares(self) -> "Trade":
        if self.share is not None and self.volume is not None:
            raise bad("flow_form", "give share or volume, not both")
        return self


class Seizures(Strict):
    """Seizures as reported (bulk weight) and the purity that converts them to pure equivalent."""

    quantity: Quantity = Field(description="Seized quantity as reported, in the stage's unit (t or kg)")
    purity: Purity = Field(description="Pure drug per unit seized (for coca paste/base: cocaine HCl equivalent)")


class Consumption(Strict):
    """Domestic consumption = population x past-year prevalence x pure grams per user per year."""

    prevalence: Share = Field(description="Past-year prevalence in the survey population")
    grams_per_user: GramsPerUser = Field(description="Pure grams consumed per user per year")


class Precursor(Strict):
    """A chemical input bought to process this stage's product.

    Only the imported part bought from non-residents is an outward IFF; domestic purchases are
    domestic transactions.
    """

    label: Text
    per_kg: Quantity = Field(description="Quantity of the chemical per kg of pure product (kg/kg or l/kg)")
    price: Quantity = Field(description="Purchase price per kg or litre of the chemical (e.g. USD/kg, USD/l)")
    imported_share: Share = Field(description="Share of the chemical bought from non-residents")
    partner: PartnerCode = Field(description="Country (ISO3) or region of the non-resident suppliers")

    @model_validator(mode="after")
    def _units(self) -> "Precursor":
        per = self.per_kg.unit
        if per not in ("kg/kg", "l/kg"):
            raise bad("unit", "per_kg: unit must be 'kg/kg' or 'l/kg', got {u!r}", {"u": per})
        measure = per.split("/")[0]
        cur, _, denom = self.price.unit.partition("/")
        if denom != measure or not (len(cur) == 3 and cur.isupper()):
            raise bad(
                "unit", "price: unit must be a currency per {m} (e.g. 'USD/{m}'), got {u!r}", {"m": measure, "u": self.price.unit}
            )
        return self


class Production(Strict):
    """Crop-based production of the first stage of a producer chain.

    Coca leaf: published leaf production (``coca_leaf``), or harvested area x ``leaf_yield``.
    Opium gum: harvested poppy ``area`` x ``gum_yield``.
    """

    leaf_basis: Literal["fresh", "sun-dried"] | None = Field(
        default=None, description="Coca only: whether tonnes of leaf are fresh or sun-dried"
    )
    coca_leaf: Tonnes | None = Field(default=None, description="Coca only: potential leaf production, if published")
    area: Hectares | None = Field(default=None, description="Harvested (productive) area")
    leaf_yield: TonnesPerHa | None = Field(default=None, description="Coca only: leaf yield per harvested hectare")
    gum_yield: KgPerHa | None = Field(default=None, description="Opium only: dry gum yield per harvested hectare")
    cultivation_census: Hectares | None = Field(
        default=None, description="Area at the survey date (e.g. 31 December); shown for context, not used"
    )

    def check_for(self, stage: str, where: str) -> None:
        if stage == "coca_leaf":
            if self.gum_yield is not None:
                raise bad("supply_form", "{w}: gum_yield is for opium, not coca leaf", {"w": where})
            if self.leaf_basis is None:
                raise bad("supply_form", "{w}: give leaf_basis (fresh or sun-dried)", {"w": where})
            if (self.coca_leaf is None) == (self.area is None or self.leaf_yield is None):
                raise bad("supply_form", "{w}: give coca_leaf, or area together with leaf_yield (not both)", {"w": where})
        elif stage == "opium":
            if self.area is None or self.gum_yield is None:
                raise bad("supply_form", "{w}: opium production needs area and gum_yield", {"w": where})
            if self.coca_leaf is not None or self.leaf_yield is not None or self.leaf_basis is not None:
                raise bad("supply_form", "{w}: coca_leaf, leaf_yield and leaf_basis are for coca leaf", {"w": where})
        else:
            raise bad("production", "{w}: {s} has no crop-based production", {"w": where, "s": stage})


class Stage(Strict):
    """The supply and use of one product in one country."""

    production: Production | None = None
    licit_use: Tonnes | None = Field(default=None, description="Quantity used for licit/traditional purposes")
    imports: Trade | None = None
    exports: Trade | None = None
    seizures: Seizures | None = None
    consumption: Consumption | None = None
    losses: Share | None = Field(default=None, description="Share of the stage's supply lost")
    conversion: Conversion | None = Field(
        default=None, description="Output of the next stage per unit of this one (kg/t or kg/kg)"
    )
    producer_price: PricePoint | None = Field(
        default=None, description="Price at the production site, for the value chain"
    )
    precursors: dict[Key, Precursor] = Field(default_factory=dict)


class Chain(Strict):
    """One drug's chain in the reporting country."""

    role: Literal["producer", "transit"] = Field(description="Producer or transit country for this drug")
    balance: Literal["exports", "imports", "production"] = Field(
        description="The balancing item of the last stage: exports (producer), imports (transit with "
        "exports given) or production (producer whose output is inferred from demand)"
    )
    description: Text | None = None
    stages: dict[str, Stage]


class DataGap(Strict):
    """A datum the estimate needs but no public source gives, and who holds it."""

    what: Text
    institution: Text


class DrugMarket(Strict):
    population: Persons | None = Field(
        default=None, description="Population covered by the prevalence survey (e.g. aged 12-65)"
    )
    chains: dict[Literal["cocaine", "heroin", "methamphetamine"], Chain]
    data_gaps: list[DataGap] = Field(default_factory=list)

    @model_validator(mode="after")
    def _stages(self) -> "DrugMarket":
        for drug, chain in self.chains.items():
            allowed = list(CHAIN_STAGES[drug])
            names = list(chain.stages)
            unknown = [n for n in names if n not in allowed]
            if unknown:
                raise bad(
                    "stage", "chains.{d}.stages: unknown stage {u!r}; the stages of {d} are {a}",
                    {"d": drug, "u": unknown[0], "a": ", ".join(allowed)},
                )
            if names != [n for n in allowed if n in names]:
                raise bad(
                    "stage_order", "chains.{d}.stages must be in chain order: {a}", {"d": drug, "a": ", ".join(allowed)}
                )
            if not names:
                raise bad("stage", "chains.{d}.stages is empty", {"d": drug})
            for i, name in enumerate(names):
                st = chain.stages[name]
                where = f"chains.{drug}.stages.{name}"
                last = i == len(names) - 1
                if not last and st.conversion is None:
                    raise bad("conversion", "{w}: conversion to the next stage is required", {"w": where})
                if st.production is not None:
                    if i > 0:
                        raise bad("production", "{w}: only the first stage has production", {"w": where})
                    st.production.check_for(name, where + ".production")
                if st.losses is not None and max(st.losses.numbers()) >= 1:
                    raise bad("losses", "{w}.losses: losses must be below 1 (a share of the supply)", {"w": where})
                if st.consumption is not None and self.population is None:
                    raise bad("population", "{w}: consumption needs the market's population", {"w": where})
                if not last and st.exports is not None and st.exports.share is None:
                    raise bad("flow_form", "{w}.exports: an intermediate product's exports need a share", {"w": where})
                if not last and st.imports is not None and st.imports.volume is None:
                    raise bad("flow_form", "{w}.imports: give the volume of imports", {"w": where})
                if last:
                    ex, im = st.exports, st.imports
                    if chain.balance == "exports":
                        if ex is None:
                            raise bad("balance", "{w}: exports (with routes) are the balancing item and need routes", {"w": where})
                        if ex.volume is not None or ex.share is not None:
                            raise bad("balance", "{w}.exports: exports are the balancing item; remove share/volume", {"w": where})
                    else:
                        if ex is None or ex.volume is None:
                            raise bad("balance", "{w}.exports: with balance '{b}', give the volume of exports", {"w": where, "b": chain.balance})
                    if chain.balance == "imports":
                        if im is None or im.volume is not None:
                            raise bad("balance", "{w}.imports: imports are the balancing item; give routes only", {"w": where})
                    elif im is not None and im.volume is None:
                        raise bad("balance", "{w}.imports: give the volume of imports", {"w": where})
                    if chain.balance == "production" and (i != 0 or st.production is not None):
                        raise bad("balance", "{w}: with balance 'production' the chain has one stage and no production section", {"w": where})
            first = chain.stages[names[0]]
            if chain.role == "producer" and chain.balance != "production" and first.production is None:
                raise bad("production", "chains.{d}: a producer chain needs production in its first stage", {"d": drug})
            if chain.role == "transit" and any(s.production is not None for s in chain.stages.values()):
                raise bad("production", "chains.{d}: a transit chain has no production", {"d": drug})
        return self


__all__ = [
    "CHAIN_STAGES",
    "STAGE_LABELS",
    "Chain",
    "Consumption",
    "DataGap",
    "DrugMarket",
    "Factor",
    "Production",
    "Precursor",
    "Route",
    "Seizures",
    "Stage",
    "Trade",
    "Volume",
]
