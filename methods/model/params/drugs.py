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

from ..i18n import N_

from .records import (
    bad,
    Conversion,
    Days,
    Factor,
    GramPrice,
    GramsPerDay,
    GramsPerUser,
    Hectares,
    Key,
    PartnerCode,
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
    Price,
)

# the stages each chain may have, in order, and the unit of their quantities
CHAIN_STAGES: dict[str, dict[str, str]] = {
    "cocaine": {"coca_leaf": "t", "coca_paste_base": "kg", "cocaine_hcl": "kg"},
    "heroin": {"opium": "kg", "heroin": "kg"},
    "methamphetamine": {"methamphetamine": "kg"},
}
STAGE_LABELS = {
    "coca_leaf": N_("coca leaf"),
    "coca_paste_base": N_("coca paste and cocaine base"),
    "cocaine_hcl": N_("cocaine hydrochloride"),
    "opium": N_("opium gum"),
    "heroin": N_("heroin"),
    "methamphetamine": N_("methamphetamine"),
}


class FobRule(Strict):
    """The FOB valuation used in Colombian national-accounts work (Montenegro, Llano and Ibáñez, CEDE
    2019-44): the price at the border plus a margin share of the difference between the destination's
    wholesale price and the border price. A valuation scenario, shown beside the estimate."""

    border: Key = Field(description="The rung of the route's price ladder that is the border (or departure) price")
    destination: Key = Field(description="The rung that is the destination's wholesale price")
    margin: Share = Field(description="Share of the difference to the destination price added to the border price")


class Route(Strict):
    """A flow of one product to (exports) or from (imports) a partner, and where it is valued.

    The prices along the route form a *ladder*: the places where the drug may change hands, from
    home (production zone, laboratory, clandestine airstrip, port, border) to abroad (transit or
    destination wholesale). ``sold_at`` gives the share of the route's quantity whose ownership
    passes between a resident and a non-resident at each rung; the transaction price is the mean of
    the rungs' prices per pure kilogram weighted by those shares. These shares are *structural*
    inputs: their low and high values define the point-of-sale scenarios.

    The two-rung form ``home``/``abroad`` with ``abroad_share`` (the share whose ownership changes
    abroad) is the same thing for a ladder of two rungs. Drug that crosses the country under the
    ownership of non-residents is not on a route: it is the stage's ``transit``.
    """

    label: Text
    partner: PartnerCode = Field(description="The counterpart: a country's ISO3 code (e.g. MEX), or a region code (e.g. EUROPE)")
    partner_label: Text | None = Field(default=None, description="Name of the partner for readers, when a region code "
                                       "is too broad (e.g. 'Europe and other markets')")
    share: Share = Field(description="Share of the stage's exports (or imports) that takes this route")
    home: PricePoint | None = Field(default=None, description="Price if ownership changes hands in the reporting country")
    abroad: PricePoint | None = Field(default=None, description="Price if ownership changes hands abroad (transit or destination)")
    abroad_share: Share | None = Field(default=None, description="Share of the quantity whose ownership changes abroad")
    ladder: dict[Key, PricePoint] = Field(
        default_factory=dict, description="The prices along the route, in order from home to abroad (instead of home/abroad)")
    sold_at: dict[Key, Share] = Field(
        default_factory=dict, description="Share of the quantity whose ownership passes at each rung of the ladder (sum to 1)")
    fob: FobRule | None = Field(default=None, description="The FOB valuation rule, as a scenario (rungs of the ladder)")

    @model_validator(mode="after")
    def _one_form(self) -> "Route":
        two = (self.home, self.abroad, self.abroad_share)
        if self.ladder:
            if any(x is not None for x in two):
                raise bad("route_form", "give either ladder with sold_at, or home, abroad and abroad_share, not both")
            if not self.sold_at:
                raise bad("route_form", "a ladder needs sold_at: the share of the quantity sold at each rung")
            unknown = [k for k in self.sold_at if k not in self.ladder]
            if unknown:
                raise bad("route_form", "sold_at.{k}: not a rung of the ladder ({r})",
                          {"k": unknown[0], "r": ", ".join(self.ladder)})
        else:
            if any(x is None for x in two):
                raise bad("route_form", "give home, abroad and abroad_share (or a ladder with sold_at)")
            if self.sold_at:
                raise bad("route_form", "sold_at goes with a ladder")
        if self.fob is not None:
            for which in ("border", "destination"):
                rung = getattr(self.fob, which)
                if rung not in self.rungs():
                    raise bad("route_form", "fob.{w}: {r!r} is not a rung of the route ({a})",
                              {"w": which, "r": rung, "a": ", ".join(self.rungs())})
        return self

    def rungs(self) -> dict[str, PricePoint]:
        """The price ladder (the two-rung form is the ladder home, abroad)."""
        return dict(self.ladder) if self.ladder else {"home": self.home, "abroad": self.abroad}


class Service(Strict):
    """A service paid for moving or protecting the drug (transport, flights, protection), per kilogram.

    It is paid on the stage's exports or imports (``basis``; one ``route`` of them, or all), on
    ``share`` of that quantity, at ``price`` per kilogram carried (a purity converts the pure
    kilograms of the model into kilograms carried). Who pays and who is paid are residences:
    ``resident`` (the reporting country) or another country's ISO3 code or a region. A payment from
    a resident to a non-resident is an outward IFF; the reverse, an inward IFF."""

    label: Text
    basis: Literal["exports", "imports", "transit"] = Field(description="The stage's flow the service is paid on")
    route: Key | None = Field(default=None, description="Only this route of the flow (default: all routes)")
    share: Share = Field(description="Share of the quantity that uses (and pays for) the service")
    price: Price = Field(description="Price of the service per kilogram carried")
    purity: Purity | None = Field(default=None, description="Purity of what is carried (default: paid per pure kilogram)")
    payer: Text = Field(description="Who pays: 'resident' (of the reporting country), or an ISO3 code or region")
    payee: Text = Field(description="Who is paid: 'resident', or an ISO3 code or region")
    note: Text | None = None

    @model_validator(mode="after")
    def _parties(self) -> "Service":
        from .partners import PARTNER_HELP, is_partner_code

        for who in ("payer", "payee"):
            value = getattr(self, who)
            if value != "resident" and not is_partner_code(value):
                raise bad("parties", "{w}: {v!r} must be 'resident' or {h}", {"w": who, "v": value, "h": PARTNER_HELP})
        if (self.payer == "resident") == (self.payee == "resident"):
            raise bad("parties", "a service is a flow of the reporting country when exactly one of payer and payee is "
                      "'resident' (got payer {a!r}, payee {b!r})", {"a": self.payer, "b": self.payee})
        return self


class UserType(Strict):
    """One kind of user of a drug, by how often they use it."""

    share_of_users: Share = Field(description="Share of past-year users of this kind (all kinds sum to 1)")
    days_per_year: Days = Field(description="Days of use per year")
    grams_per_day: GramsPerDay = Field(description="Grams as sold (street purity) used per day of use")


class RetailMarket(Strict):
    """The retail market from the demand side, as the EMCDDA and RAND estimate it: past-year users
    by kind (occasional, frequent ...), days of use and grams per day, at the retail purity and
    price. A triangulation of the balance's domestic consumption, not an input to it."""

    prevalence: Share = Field(description="Past-year prevalence in the market's survey population")
    user_types: dict[Key, UserType] = Field(min_length=1)
    purity: Purity = Field(description="Purity of the drug as sold at retail")
    price: GramPrice = Field(description="Retail price per gram as sold")


class MorphineConversion(Strict):
    """Heroin from opium gum through its morphine: kg of heroin per kg of gum =
    morphine content x laboratory efficiency x 369.4 / 285.3 (molecular weights of heroin and morphine)."""

    morphine_content: Share = Field(description="Morphine content of dry opium gum (share of its weight)")
    lab_efficiency: Share = Field(description="Share of the morphine turned into heroin by the laboratories")


class CrossCheck(Strict):
    """An independent estimate of a stage's quantity, shown beside the model's (never used by it)."""

    label: Text
    quantity: Kilograms = Field(description="The independent estimate, in the stage's unit (pure kg)")
    note: Text | None = None


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


class TransitRoute(Strict):
    """Where drug in transit goes when it leaves."""

    label: Text
    partner: PartnerCode = Field(description="The country or region it leaves for")
    partner_label: Text | None = Field(default=None, description="Name of the partner for readers, when a region code "
                                       "is too broad (e.g. 'Europe and other markets')")
    share: Share = Field(description="Share of the transit that takes this route (all routes sum to 1)")


class Transit(Strict):
    """Drug that crosses the country under the ownership of non-residents. It enters and leaves
    without becoming the country's output or its residents' sales: it is no IFF of the country.
    What the owners pay residents for moving, storing or protecting it is (a service on the basis
    ``transit``).

    The quantity is given directly (``volume``), or as the part of the stage's measured imports
    that stays owned by non-residents (``share_of_imports``, a scenario input): the rest of the
    imports is bought by residents and enters the country's own balance. Seizures and losses fall on
    the drug in transit and on the country's own drug in proportion to their quantities."""

    label: Text
    owner: PartnerCode = Field(description="Residence of the owners of the drug in transit")
    volume: Volume | None = Field(default=None, description="Drug in transit, pure kilograms (or from an observed flow)")
    share_of_imports: Share | None = Field(
        default=None, description="Instead of volume: the share of the stage's imports that stays owned by non-residents")
    routes: dict[Key, TransitRoute] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_quantity(self) -> "Transit":
        if (self.volume is None) == (self.share_of_imports is None):
            raise bad("transit_form", "give the transit's volume, or its share_of_imports, not both")
        return self

    def check_routes(self, where: str) -> None:
        if not self.routes:
            raise bad("transit_form", "{w}: give the routes the drug in transit leaves by", {"w": where})


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
    partner: PartnerCode = Field(description="Country (ISO3 code) or region code of the non-resident suppliers")
    partner_label: Text | None = Field(default=None, description="Name of the suppliers' country or region for readers, "
                                       "when the code is too broad")

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
    conversion_from_morphine: MorphineConversion | None = Field(
        default=None, description="Opium only: the conversion to heroin from the gum's morphine (instead of conversion)")
    producer_price: PricePoint | None = Field(
        default=None, description="Price at the production site, for the value chain"
    )
    precursors: dict[Key, Precursor] = Field(default_factory=dict)
    transit: Transit | None = Field(default=None, description="Drug crossing the country owned by non-residents")
    services: dict[Key, Service] = Field(default_factory=dict, description="Services paid on the stage's trade")
    retail: RetailMarket | None = Field(default=None, description="The retail market from the demand side (triangulation)")
    cross_checks: dict[Key, CrossCheck] = Field(default_factory=dict,
                                                description="Independent estimates of the stage's production")


class Chain(Strict):
    """One drug's chain in the reporting country."""

    role: Literal["producer", "transit", "producer-transit", "destination"] = Field(
        description="The country's place in this drug's market: producer; transit (buys abroad, sells abroad); "
        "producer-transit (produces, and drug owned by non-residents also crosses it: a stage's transit); "
        "destination (buys abroad for its own consumption)")
    balance: Literal["exports", "imports", "production"] = Field(
        description="The balancing item of the last stage: exports (producer), imports (transit with "
        "exports given, or destination) or production (producer whose output is inferred from demand)"
    )
    description: Text | None = None
    stages: dict[str, Stage]


class FlowRef(Strict):
    """The flow a data gap leaves unestimated: shown as *not estimated*, never as zero."""

    drug: Literal["cocaine", "heroin", "methamphetamine"] | None = None
    product: Text = Field(description="The stage (e.g. cocaine_hcl), 'precursors' or 'services', or a corridor")
    direction: Literal["inward", "outward"]


class DataGap(Strict):
    """A datum the estimate needs but no public source gives, and who holds it."""

    what: Text
    institution: Text
    affects: FlowRef | None = Field(default=None, description="The flow that is not estimated for want of it")


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
                if not last and (st.conversion is None) == (st.conversion_from_morphine is None):
                    raise bad("conversion", "{w}: give the conversion to the next stage (conversion, or for opium "
                              "conversion_from_morphine), once", {"w": where})
                if st.conversion_from_morphine is not None and (name != "opium" or last):
                    raise bad("conversion", "{w}: conversion_from_morphine is for opium gum turned into heroin", {"w": where})
                if st.transit is not None and st.transit.share_of_imports is not None and (
                        st.imports is None or st.imports.volume is None):
                    raise bad("transit_form", "{w}.transit: share_of_imports needs the stage's imports with their volume "
                              "(what enters the country)", {"w": where})
                if st.transit is not None:
                    st.transit.check_routes(where + ".transit")
                for sid, service in st.services.items():
                    flow = getattr(st, service.basis)
                    if flow is None:
                        raise bad("services", "{w}.services.{s}: paid on {b}, but the stage has no {b}",
                                  {"w": where, "s": sid, "b": service.basis})
                    if service.route is not None and service.route not in flow.routes:
                        raise bad("services", "{w}.services.{s}: {r!r} is not a route of the {b}",
                                  {"w": where, "s": sid, "r": service.route, "b": service.basis})
                if st.retail is not None and self.population is None:
                    raise bad("population", "{w}: the retail market needs the market's population", {"w": where})
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
                    elif ex is not None and ex.volume is None:
                        raise bad("balance", "{w}.exports: with balance '{b}', give the volume of exports", {"w": where, "b": chain.balance})
                    elif ex is None and chain.balance == "production":
                        raise bad("balance", "{w}.exports: with balance 'production', give the volume of exports", {"w": where})
                    if chain.balance == "imports":
                        if im is None or im.volume is not None:
                            raise bad("balance", "{w}.imports: imports are the balancing item; give routes only", {"w": where})
                    elif im is not None and im.volume is None:
                        raise bad("balance", "{w}.imports: give the volume of imports", {"w": where})
                    if chain.balance == "production" and (i != 0 or st.production is not None):
                        raise bad("balance", "{w}: with balance 'production' the chain has one stage and no production section", {"w": where})
            first = chain.stages[names[0]]
            producer = chain.role in ("producer", "producer-transit")
            if producer and chain.balance != "production" and first.production is None:
                raise bad("production", "chains.{d}: a {r} chain needs production in its first stage", {"d": drug, "r": chain.role})
            if not producer and any(s.production is not None for s in chain.stages.values()):
                raise bad("production", "chains.{d}: a {r} chain has no production", {"d": drug, "r": chain.role})
            if chain.role == "producer-transit" and not any(s.transit is not None for s in chain.stages.values()):
                raise bad("transit_form", "chains.{d}: a producer-transit chain describes the drug crossing it owned by "
                          "non-residents: add transit to a stage", {"d": drug})
            if chain.role == "destination" and chain.stages[names[-1]].exports is not None:
                raise bad("balance", "chains.{d}: a destination country buys for its own use: it has no exports "
                          "(a country that also sells abroad is a transit country)", {"d": drug})
        return self


__all__ = [
    "CHAIN_STAGES",
    "STAGE_LABELS",
    "Chain",
    "Consumption",
    "CrossCheck",
    "FlowRef",
    "FobRule",
    "MorphineConversion",
    "RetailMarket",
    "Service",
    "UserType",
    "DataGap",
    "DrugMarket",
    "Factor",
    "Production",
    "Precursor",
    "Route",
    "Seizures",
    "Stage",
    "Trade",
    "Transit",
    "TransitRoute",
    "Volume",
]
