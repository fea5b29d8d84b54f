"""The drug-trafficking model of one country: chains of stages, balanced and valued.

This module composes the small functions of :mod:`supply`, :mod:`demand`, :mod:`balance`,
:mod:`prices` and :mod:`valuation`. It reads inputs through a :class:`~methods.inputs.Values`
object and does no I/O. Works on arrays over years, or over draws x years.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..accounting import FlowRecord
from ..inputs import Values
from ..params import CHAIN_STAGES, Chain, DrugMarket, Route, Stage, Trade
from ..params.drugs import Precursor, RetailMarket, Transit, Volume
from . import balance as bal
from .demand import (
    consumption_pure_kg,
    losses_kg,
    past_year_users,
    retail_grams,
    retail_pure_kg,
    retail_spending_usd,
    seizures_pure_kg,
)
from .prices import (
    fob_price_usd_per_pure_kg,
    ladder_price_usd_per_pure_kg,
    price_usd_per_kg,
    price_usd_per_pure_kg,
    transaction_price_usd_per_pure_kg,
)
from .supply import coca_leaf_t, heroin_per_kg_gum, next_stage_kg, opium_gum_kg
from .valuation import (
    cross_border_value_usd,
    gross_output_usd,
    precursor_imports_usd,
    precursor_quantity,
    service_payments_usd,
    value_added_usd,
)

KG_PER_UNIT = {"t": 1000.0, "kg": 1.0}


@dataclass
class ValueChainRow:
    """Output, intermediate consumption and value added of one stage (or of trafficking), a year per element."""

    stage: str
    quantity: np.ndarray
    unit: str
    price_usd: np.ndarray
    gross_output_usd: np.ndarray
    intermediate_consumption_usd: np.ndarray
    value_added_usd: np.ndarray


@dataclass
class RetailEstimate:
    """The retail market of one product from the demand side (a triangulation of the balance)."""

    stage: str
    users: np.ndarray
    grams_by_type: dict[str, np.ndarray]  # grams as sold, by kind of user
    pure_kg: np.ndarray
    spending_usd: np.ndarray
    price_usd_per_gram: np.ndarray


@dataclass
class TransitResult:
    """Drug that crossed a stage owned by non-residents: it keeps its owner from entry to exit."""

    stage: str
    label: str
    owner: str  # residence of the owners (country or region code)
    entering: np.ndarray  # pure kg (the stage's unit)
    seized: np.ndarray
    lost: np.ndarray
    leaving: np.ndarray
    routes: dict[str, tuple[str, str, np.ndarray]]  # route -> (label, partner, quantity leaving by it)


@dataclass
class ChainResult:
    drug: str
    role: str
    balances: dict[str, bal.StageBalance]
    flows: list[FlowRecord] = field(default_factory=list)
    value_chain: list[ValueChainRow] = field(default_factory=list)
    retail: dict[str, RetailEstimate] = field(default_factory=dict)
    conversions: dict[str, np.ndarray] = field(default_factory=dict)  # stage -> output of the next stage per unit
    transits: dict[str, TransitResult] = field(default_factory=dict)  # stage -> drug in transit


@dataclass
class DrugResult:
    chains: dict[str, ChainResult]

    @property
    def flows(self) -> list[FlowRecord]:
        return [f for c in self.chains.values() for f in c.flows]


def volume_kg(volume: Volume, v: Values) -> np.ndarray:
    """A quantity given directly, or derived from an observed flow (:func:`balance.flow_from_base_kg`)."""
    if volume.quantity is not None:
        return v(volume.quantity)
    fraction = v(volume.base_fraction_of_flow) if volume.base_fraction_of_flow is not None else 1.0
    return bal.flow_from_base_kg(v(volume.base), v(volume.base_share), fraction)


def price_point_usd_per_pure_kg(point, v: Values) -> np.ndarray:
    """A price point converted to US dollars per pure kilogram."""
    return price_usd_per_pure_kg(price_usd_per_kg(v(point.price), v.fx_for(point.price)), v(point.purity))


def stage_production(stage_name: str, st: Stage, v: Values):
    """Crop-based production of the first stage, in the stage's unit."""
    p = st.production
    if p is None:
        return 0.0
    if stage_name == "coca_leaf":
        if p.coca_leaf is not None:
            return v(p.coca_leaf)
        return coca_leaf_t(v(p.area), v(p.leaf_yield))
    return opium_gum_kg(v(p.area), v(p.gum_yield))


def stage_conversion(stage_name: str, st: Stage, v: Values):
    """Output of the next stage per unit of this one: given, or for opium from its morphine
    (:func:`supply.heroin_per_kg_gum`)."""
    if st.conversion_from_morphine is not None:
        m = st.conversion_from_morphine
        return heroin_per_kg_gum(v(m.morphine_content), v(m.lab_efficiency))
    return v(st.conversion)


def rung_prices_usd_per_pure_kg(route: Route, v: Values) -> dict[str, np.ndarray]:
    """The prices along a route, in US dollars per pure kilogram, by rung."""
    return {k: price_point_usd_per_pure_kg(point, v) for k, point in route.rungs().items()}


def route_price_usd_per_pure_kg(route: Route, prices: dict[str, np.ndarray], v: Values):
    """The route's transaction price: the home/abroad mix, or the ladder's weighted mean."""
    if route.ladder:
        rungs = list(route.sold_at)
        return ladder_price_usd_per_pure_kg([prices[k] for k in rungs], [v(route.sold_at[k]) for k in rungs])
    return transaction_price_usd_per_pure_kg(prices["home"], prices["abroad"], v(route.abroad_share))


def route_flows(country: str, drug: str, product: str, unit: str, trade: Trade, quantity, direction: str,
                v: Values, path: tuple = ()) -> list[FlowRecord]:
    """Split a stage's exports (``direction`` inward) or imports (outward) by route, and value each
    route at its transaction price (and, where the file gives the rule, at the FOB price)."""
    routes: dict[str, Route] = trade.routes
    total_share = sum(v(r.share) for r in routes.values())
    out = []
    for rid, r in routes.items():
        q_kg = bal.route_quantity(quantity, v(r.share), total_share) * KG_PER_UNIT[unit]
        prices = rung_prices_usd_per_pure_kg(r, v)
        price = route_price_usd_per_pure_kg(r, prices, v)
        detail = {f"rung_{k}_price_usd": p for k, p in prices.items()}
        if not r.ladder:
            detail.update(home_price_usd=prices["home"], abroad_price_usd=prices["abroad"], abroad_share=v(r.abroad_share))
        if r.fob is not None:
            fob = fob_price_usd_per_pure_kg(prices[r.fob.border], prices[r.fob.destination], v(r.fob.margin))
            detail.update(fob_price_usd=fob, fob_value_usd=cross_border_value_usd(q_kg, fob))
        sale = direction == "inward"
        out.append(FlowRecord(
            market="drugs", drug=drug, product=product, component="drug_sales" if sale else "drug_purchases",
            route=rid, label=r.label, payer=r.partner if sale else country, payee=country if sale else r.partner,
            value_usd=cross_border_value_usd(q_kg, price), quantity=q_kg, quantity_unit="kg pure", price_usd=price,
            detail=detail, path=path + ("routes", rid), partner_label=r.partner_label or "",
        ))
    return out


def transit_routes_kg(transit: Transit, leaving, unit: str, v: Values) -> dict[str, np.ndarray]:
    """The drug in transit leaving by each of its routes, in kilograms (:func:`balance.route_quantity`)."""
    total_share = sum(v(r.share) for r in transit.routes.values())
    return {rid: bal.route_quantity(leaving, v(r.share), total_share) * KG_PER_UNIT[unit] for rid, r in transit.routes.items()}


def service_flows(country: str, drug: str, stage: str, st: Stage, route_records: list[FlowRecord],
                  transit_kg: dict[str, np.ndarray], v: Values, path: tuple) -> list[FlowRecord]:
    """The services paid on a stage's trade (or on the drug in transit that leaves, ``transit_kg`` by
    route), each a flow from its payer to its payee."""
    out = []
    for sid, s in st.services.items():
        if s.basis == "transit":
            basis = [q for rid, q in transit_kg.items() if s.route is None or rid == s.route]
        else:
            component = "drug_sales" if s.basis == "exports" else "drug_purchases"
            basis = [r.quantity for r in route_records
                     if r.component == component and (s.route is None or r.route == s.route)]
        quantity = sum(basis, np.zeros(len(v.years)))
        purity = v(s.purity) if s.purity is not None else 1.0
        price = price_usd_per_kg(v(s.price), v.fx_for(s.price))
        payer = country if s.payer == "resident" else s.payer
        payee = country if s.payee == "resident" else s.payee
        out.append(FlowRecord(
            market="drugs", drug=drug, product=f"{drug}_services", component="services", route=sid, label=s.label,
            payer=payer, payee=payee, value_usd=service_payments_usd(quantity, v(s.share), price, purity),
            quantity=np.multiply(quantity, v(s.share)) / purity, quantity_unit="kg carried",
            price_usd=np.broadcast_to(price, np.shape(quantity)), detail={"stage": stage}, path=path + ("services", sid)))
    return out


def retail_estimate(stage: str, retail: RetailMarket, population, v: Values) -> RetailEstimate:
    """The retail market of a product from the demand side: users by kind, grams, purity and price."""
    users = past_year_users(population, v(retail.prevalence))
    shares = {k: v(t.share_of_users) for k, t in retail.user_types.items()}
    total_share = sum(shares.values())
    grams = {k: retail_grams(users, shares[k] / total_share, v(t.days_per_year), v(t.grams_per_day))
             for k, t in retail.user_types.items()}
    all_grams = sum(grams.values())
    price = price_usd_per_kg(v(retail.price), v.fx_for(retail.price))  # per gram here: the same conversion
    return RetailEstimate(stage, users, grams, retail_pure_kg(all_grams, v(retail.purity)),
                          retail_spending_usd(all_grams, price), price)


def precursor_purchases(pc: Precursor, processed_pure_kg, v: Values):
    """(quantity of the chemical, its price in US dollars per unit, the value of all of it): the
    cost of one chemical input of a stage, bought at home or abroad."""
    qty = precursor_quantity(processed_pure_kg, v(pc.per_kg))
    price = price_usd_per_kg(v(pc.price), v.fx_for(pc.price))
    return qty, price, np.multiply(qty, price)


def evaluate_chain(country: str, drug: str, chain: Chain, population, v: Values, detail: bool = True) -> ChainResult:
    """Balance every stage of a chain and value its cross-border flows."""
    stage_units = CHAIN_STAGES[drug]
    names = list(chain.stages)
    balances: dict[str, bal.StageBalance] = {}
    flows: list[FlowRecord] = []
    retail: dict[str, RetailEstimate] = {}
    conversions: dict[str, np.ndarray] = {}
    transits: dict[str, TransitResult] = {}
    previous: tuple[Stage, np.ndarray, np.ndarray] | None = None
    for i, name in enumerate(names):
        st = chain.stages[name]
        unit = stage_units[name]
        where = ("markets", "drugs", "chains", drug, "stages", name)
        last = i == len(names) - 1
        production = stage_production(name, st, v)
        inflow = next_stage_kg(previous[1], previous[2]) if previous is not None else 0.0
        seizures = seizures_pure_kg(v(st.seizures.quantity), v(st.seizures.purity)) if st.seizures else 0.0
        consumption = (
            consumption_pure_kg(past_year_users(population, v(st.consumption.prevalence)), v(st.consumption.grams_per_user))
            if st.consumption else 0.0
        )
        licit = v(st.licit_use) if st.licit_use is not None else 0.0
        loss_share = v(st.losses) if st.losses is not None else 0.0
        imports = volume_kg(st.imports.volume, v) if st.imports is not None and st.imports.volume is not None else 0.0
        transit_in = 0.0
        if st.transit is not None:  # drug owned by non-residents: it enters and leaves, and is no resident's import
            if st.transit.share_of_imports is not None:
                transit_in = bal.transit_in_kg(imports, v(st.transit.share_of_imports))
                imports = np.subtract(imports, transit_in)
            else:
                transit_in = volume_kg(st.transit.volume, v)
        exports = 0.0
        outflow = 0.0
        if not last or chain.balance == "exports":
            supply = bal.supply_kg(production, imports, inflow)
            seized_in_transit = bal.transit_part(seizures, supply, transit_in) if st.transit is not None else 0.0
            own_seizures = np.subtract(seizures, seized_in_transit)
            losses = losses_kg(loss_share, supply)
            if not last:
                exports = np.multiply(v(st.exports.share), supply) if st.exports is not None else 0.0
                outflow, _ = bal.residual_and_discrepancy(supply, exports + own_seizures + consumption + losses + licit)
            else:
                exports, _ = bal.residual_and_discrepancy(supply, own_seizures + consumption + losses + licit)
        else:
            exports = volume_kg(st.exports.volume, v) if st.exports is not None else 0.0
            own_uses = np.add(np.add(exports, consumption), licit)
            seized_in_transit = bal.transit_part(seizures, own_uses, transit_in) if st.transit is not None else 0.0
            own_seizures = np.subtract(seizures, seized_in_transit)
            losses = bal.losses_given_uses_kg(loss_share, exports, own_seizures, consumption)
            uses = exports + own_seizures + consumption + losses + licit
            if chain.balance == "imports":
                imports, _ = bal.residual_and_discrepancy(uses, bal.supply_kg(production, 0.0, inflow))
            else:  # production
                production, _ = bal.residual_and_discrepancy(uses, bal.supply_kg(0.0, imports, inflow))
        transit_out = 0.0
        if st.transit is not None:
            lost_in_transit = losses_kg(loss_share, transit_in)
            transit_out = bal.transit_out_kg(transit_in, seized_in_transit, lost_in_transit)
            losses = np.add(losses, lost_in_transit)
            n = len(v.years)
            by_route = transit_routes_kg(st.transit, transit_out, unit, v)
            transits[name] = TransitResult(
                name, st.transit.label, st.transit.owner, *(np.broadcast_to(np.asarray(x, dtype=float) * KG_PER_UNIT[unit],
                                                                            np.broadcast_shapes(np.shape(x), (n,)))
                                                         for x in (transit_in, seized_in_transit, lost_in_transit, transit_out)),
                {rid: (r.label, r.partner, by_route[rid]) for rid, r in st.transit.routes.items()})
        items = dict(production=production, imports=imports, transit_in=transit_in, inflow=inflow, exports=exports,
                     transit_out=transit_out, seizures=seizures, consumption=consumption, losses=losses, licit_use=licit,
                     outflow=outflow)
        present = {k for k, x in items.items() if not (isinstance(x, float) and x == 0.0)}  # items not absent
        shape = np.broadcast_shapes(*(np.shape(x) for x in items.values()), (len(v.years),))
        items = {k: np.broadcast_to(np.asarray(x, dtype=float), shape) for k, x in items.items()}
        uses = sum((items[k] for k in bal.USE_ITEMS if k in present), np.zeros(shape[-1]))
        supply = sum((items[k] for k in ("production", "imports", "transit_in", "inflow") if k in present), np.zeros(shape[-1]))
        balances[name] = bal.StageBalance(product=name, unit=unit,
                                          discrepancy=np.broadcast_to(np.subtract(uses, supply), shape), **items)
        routes = []
        if st.exports is not None:
            routes += route_flows(country, drug, name, unit, st.exports, items["exports"], "inward", v, where + ("exports",))
        if st.imports is not None:
            routes += route_flows(country, drug, name, unit, st.imports, items["imports"], "outward", v, where + ("imports",))
        transit_kg = {rid: q for rid, (_, _, q) in transits[name].routes.items()} if name in transits else {}
        flows += routes + service_flows(country, drug, name, st, routes, transit_kg, v, where)
        processed_kg = (items["production"] + items["inflow"]) * KG_PER_UNIT[unit]
        for pid, pc in st.precursors.items():
            qty, price, _ = precursor_purchases(pc, processed_kg, v)
            flows.append(FlowRecord(
                market="drugs", drug=drug, product=f"{drug}_chemicals", component="precursors", route=pid, label=pc.label,
                payer=country, payee=pc.partner, value_usd=precursor_imports_usd(qty, v(pc.imported_share), price),
                quantity=qty, quantity_unit=pc.per_kg.unit.split("/")[0] + " chemical",
                price_usd=np.broadcast_to(price, np.shape(qty)),
                detail={"stage": name, "imported_share": v(pc.imported_share)}, path=where + ("precursors", pid),
                partner_label=pc.partner_label or "",
            ))
        if not last:
            conversions[name] = stage_conversion(name, st, v)
        if detail and st.retail is not None:
            retail[name] = retail_estimate(name, st.retail, population, v)
        previous = (st, items["outflow"], conversions.get(name))
    result = ChainResult(drug=drug, role=chain.role, balances=balances, flows=flows, retail=retail,
                         conversions=conversions, transits=transits)
    if detail:
        result.value_chain = value_chain(drug, chain, result, v)
    return result


def value_chain(drug: str, chain: Chain, result: ChainResult, v: Values) -> list[ValueChainRow]:
    """Output, intermediate consumption and value added by stage [a reconstruction, not an IFF].

    A stage with a producer price has an output: what it made for the illicit market (leaf sold to
    the licit or traditional market is not illicit income) at that price. Its intermediate
    consumption is the previous stage's product it used, at what that product was worth, plus every
    chemical input (bought at home or abroad). A stage without a price passes its costs on: its
    product is worth what it cost. The last row, trafficking, is the value of sales to non-residents
    less what the drugs sold were worth where they were made, less purchases from non-residents and
    the services paid by residents. No intermediate consumption is negative, so no stage's value
    added exceeds its output.
    """
    rows: list[ValueChainRow] = []
    units = CHAIN_STAGES[drug]
    zero = np.zeros(len(v.years))
    prev_unit_value = None  # US dollars per unit of the previous stage's product
    prev_name = None
    at_origin = zero  # what the exported products were worth where they were made
    for name, st in chain.stages.items():
        b = result.balances[name]
        unit = units[name]
        processed = b.processed()
        used = zero if prev_name is None else result.balances[prev_name].outflow * prev_unit_value
        chemicals = sum((precursor_purchases(pc, processed * KG_PER_UNIT[unit], v)[2] for pc in st.precursors.values()),
                        zero)
        if st.producer_price is not None:
            unit_value = price_point_usd_per_pure_kg(st.producer_price, v) * KG_PER_UNIT[unit]
            illicit = np.subtract(processed, b.licit_use)
            output = gross_output_usd(illicit, unit_value)
            inputs = np.add(used, chemicals)
            rows.append(ValueChainRow(name, illicit, unit, unit_value / KG_PER_UNIT[unit], output, inputs,
                                      value_added_usd(output, inputs)))
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                unit_value = np.where(processed > 0, np.divide(np.add(used, chemicals), processed), 0.0)
        at_origin = at_origin + b.exports * unit_value
        prev_unit_value, prev_name = unit_value, name
    last = list(chain.stages)[-1]
    sales = sum((f.value_usd for f in result.flows if f.component == "drug_sales"), zero)
    purchases = sum((f.value_usd for f in result.flows if f.component == "drug_purchases"), zero)
    services = sum((f.value_usd for f in result.flows if f.component == "services" and f.payer == v.cf.country), zero)
    inputs = at_origin + purchases + services
    rows.append(ValueChainRow("trafficking", result.balances[last].exports, units[last], np.zeros_like(sales), sales,
                              inputs, value_added_usd(sales, inputs)))
    return rows


def income_aggregates(rows: list[ValueChainRow]) -> dict[str, np.ndarray]:
    """UNODC's aggregates of illicit income, beside the IFFs [a reconstruction]: gross illicit income
    (the sales of every stage, trafficking included) and value added (sales less the inputs bought)."""
    zero = np.zeros_like(rows[0].gross_output_usd) if rows else np.zeros(1)
    return {"gross_income_usd": sum((r.gross_output_usd for r in rows), zero),
            "value_added_usd": sum((r.value_added_usd for r in rows), zero)}


def evaluate_drug_market(market: DrugMarket, v: Values, detail: bool = True) -> DrugResult:
    """Every chain of a country's drug market (``detail=False`` skips the value-added table, which
    the IFF totals do not need: the Monte Carlo uses it)."""
    population = v(market.population) if market.population is not None else None
    country = v.cf.country
    return DrugResult({drug: evaluate_chain(country, drug, chain, population, v, detail)
                       for drug, chain in market.chains.items()})
