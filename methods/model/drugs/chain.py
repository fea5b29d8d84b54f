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
from ..params.drugs import Precursor, Volume
from . import balance as bal
from .demand import consumption_pure_kg, losses_kg, past_year_users, seizures_pure_kg
from .prices import price_usd_per_kg, price_usd_per_pure_kg, transaction_price_usd_per_pure_kg
from .supply import coca_leaf_t, next_stage_kg, opium_gum_kg
from .valuation import (
    cross_border_value_usd,
    gross_output_usd,
    precursor_imports_usd,
    precursor_quantity,
    value_added_usd,
)

KG_PER_UNIT = {"t": 1000.0, "kg": 1.0}


@dataclass
class ValueChainRow:
    stage: str
    quantity: np.ndarray
    unit: str
    price_usd: np.ndarray
    gross_output_usd: np.ndarray
    intermediate_consumption_usd: np.ndarray
    value_added_usd: np.ndarray


@dataclass
class ChainResult:
    drug: str
    role: str
    balances: dict[str, bal.StageBalance]
    flows: list[FlowRecord] = field(default_factory=list)
    value_chain: list[ValueChainRow] = field(default_factory=list)


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


def route_flows(country: str, drug: str, product: str, unit: str, trade: Trade, quantity, direction: str,
                v: Values, path: tuple = ()) -> list[FlowRecord]:
    """Split a stage's exports (``direction`` inward) or imports (outward) by route, and value each
    route at its transaction price."""
    routes: dict[str, Route] = trade.routes
    total_share = sum(v(r.share) for r in routes.values())
    out = []
    for rid, r in routes.items():
        q_kg = bal.route_quantity(quantity, v(r.share), total_share) * KG_PER_UNIT[unit]
        if r.resident_share is not None:
            q_kg = bal.traded_by_residents_kg(q_kg, v(r.resident_share))
        home = price_point_usd_per_pure_kg(r.home, v)
        abroad = price_point_usd_per_pure_kg(r.abroad, v)
        phi = v(r.abroad_share)
        price = transaction_price_usd_per_pure_kg(home, abroad, phi)
        sale = direction == "inward"
        out.append(FlowRecord(
            market="drugs", drug=drug, product=product, component="drug_sales" if sale else "drug_purchases",
            route=rid, label=r.label, payer=r.partner if sale else country, payee=country if sale else r.partner,
            value_usd=cross_border_value_usd(q_kg, price), quantity=q_kg, quantity_unit="kg pure", price_usd=price,
            detail={"home_price_usd": home, "abroad_price_usd": abroad, "abroad_share": phi}, path=path + ("routes", rid),
        ))
    return out


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
    previous: tuple[Stage, np.ndarray] | None = None
    for i, name in enumerate(names):
        st = chain.stages[name]
        unit = stage_units[name]
        where = ("markets", "drugs", "chains", drug, "stages", name)
        last = i == len(names) - 1
        production = stage_production(name, st, v)
        inflow = next_stage_kg(previous[1], v(previous[0].conversion)) if previous is not None else 0.0
        seizures = seizures_pure_kg(v(st.seizures.quantity), v(st.seizures.purity)) if st.seizures else 0.0
        consumption = (
            consumption_pure_kg(past_year_users(population, v(st.consumption.prevalence)), v(st.consumption.grams_per_user))
            if st.consumption else 0.0
        )
        licit = v(st.licit_use) if st.licit_use is not None else 0.0
        loss_share = v(st.losses) if st.losses is not None else 0.0
        imports = volume_kg(st.imports.volume, v) if st.imports is not None and st.imports.volume is not None else 0.0
        exports = 0.0
        outflow = 0.0
        if not last or chain.balance == "exports":
            supply = bal.supply_kg(production, imports, inflow)
            losses = losses_kg(loss_share, supply)
            if not last:
                exports = np.multiply(v(st.exports.share), supply) if st.exports is not None else 0.0
                outflow, _ = bal.residual_and_discrepancy(supply, exports + seizures + consumption + losses + licit)
            else:
                exports, _ = bal.residual_and_discrepancy(supply, seizures + consumption + losses + licit)
        else:
            exports = volume_kg(st.exports.volume, v)
            losses = bal.losses_given_uses_kg(loss_share, exports, seizures, consumption)
            uses = exports + seizures + consumption + losses + licit
            if chain.balance == "imports":
                imports, _ = bal.residual_and_discrepancy(uses, bal.supply_kg(production, 0.0, inflow))
            else:  # production
                production, _ = bal.residual_and_discrepancy(uses, bal.supply_kg(0.0, imports, inflow))
        items = dict(production=production, imports=imports, inflow=inflow, exports=exports, seizures=seizures,
                     consumption=consumption, losses=losses, licit_use=licit, outflow=outflow)
        present = {k for k, x in items.items() if not (isinstance(x, float) and x == 0.0)}  # items not absent
        shape = np.broadcast_shapes(*(np.shape(x) for x in items.values()), (len(v.years),))
        items = {k: np.broadcast_to(np.asarray(x, dtype=float), shape) for k, x in items.items()}
        uses = sum((items[k] for k in bal.USE_ITEMS if k in present), np.zeros(shape[-1]))
        supply = sum((items[k] for k in ("production", "imports", "inflow") if k in present), np.zeros(shape[-1]))
        balances[name] = bal.StageBalance(product=name, unit=unit,
                                          discrepancy=np.broadcast_to(np.subtract(uses, supply), shape), **items)
        if st.exports is not None:
            flows += route_flows(country, drug, name, unit, st.exports, items["exports"], "inward", v, where + ("exports",))
        if st.imports is not None:
            flows += route_flows(country, drug, name, unit, st.imports, items["imports"], "outward", v, where + ("imports",))
        processed_kg = (items["production"] + items["inflow"]) * KG_PER_UNIT[unit]
        for pid, pc in st.precursors.items():
            qty, price, _ = precursor_purchases(pc, processed_kg, v)
            flows.append(FlowRecord(
                market="drugs", drug=drug, product="precursors", component="precursors", route=pid, label=pc.label,
                payer=country, payee=pc.partner, value_usd=precursor_imports_usd(qty, v(pc.imported_share), price),
                quantity=qty, quantity_unit=pc.per_kg.unit.split("/")[0] + " chemical",
                price_usd=np.broadcast_to(price, np.shape(qty)), detail={"stage": name}, path=where + ("precursors", pid),
            ))
        previous = (st, items["outflow"])
    result = ChainResult(drug=drug, role=chain.role, balances=balances, flows=flows)
    if detail:
        result.value_chain = value_chain(drug, chain, result, v)
    return result


def value_chain(drug: str, chain: Chain, result: ChainResult, v: Values) -> list[ValueChainRow]:
    """Output, intermediate consumption and value added by stage [a reconstruction, not an IFF].

    Each stage's output is valued at its producer price; its intermediate consumption is the
    previous stage's product it used (at that stage's producer price) plus chemical inputs. The
    last row, trafficking, is the value of sales to non-residents less the value of what was sold
    at the last producer price, less purchases from non-residents.
    """
    rows: list[ValueChainRow] = []
    units = CHAIN_STAGES[drug]
    prev_price = None
    prev_name = None
    for name, st in chain.stages.items():
        b = result.balances[name]
        unit = units[name]
        chemicals = sum((precursor_purchases(pc, b.processed() * KG_PER_UNIT[unit], v)[2] for pc in st.precursors.values()),
                        np.zeros_like(b.production))
        if st.producer_price is None:
            prev_price = None
            prev_name = name
            continue
        price = price_point_usd_per_pure_kg(st.producer_price, v)
        quantity_kg = b.processed() * KG_PER_UNIT[unit]
        output = gross_output_usd(quantity_kg, price)
        inputs = chemicals
        if prev_price is not None and prev_name is not None:
            used = result.balances[prev_name].outflow * KG_PER_UNIT[units[prev_name]]
            inputs = inputs + gross_output_usd(used, prev_price)
        rows.append(ValueChainRow(name, b.processed(), unit, price, output, inputs, value_added_usd(output, inputs)))
        prev_price, prev_name = price, name
    last = list(chain.stages)[-1]
    zero = np.zeros(len(v.years))
    sales = sum((f.value_usd for f in result.flows if f.component == "drug_sales"), zero)
    purchases = sum((f.value_usd for f in result.flows if f.component == "drug_purchases"), zero)
    # what the exported products were worth where they were made (or what they cost, for transit)
    at_origin = purchases
    for name, st in chain.stages.items():
        if st.producer_price is not None:
            exported_kg = result.balances[name].exports * KG_PER_UNIT[units[name]]
            at_origin = at_origin + gross_output_usd(exported_kg, price_point_usd_per_pure_kg(st.producer_price, v))
    rows.append(ValueChainRow("trafficking", result.balances[last].exports, units[last], np.zeros_like(sales), sales,
                              at_origin, value_added_usd(sales, at_origin)))
    return rows


def evaluate_drug_market(market: DrugMarket, v: Values, detail: bool = True) -> DrugResult:
    """Every chain of a country's drug market (``detail=False`` skips the value-added table, which
    the IFF totals do not need: the Monte Carlo uses it)."""
    population = v(market.population) if market.population is not None else None
    country = v.cf.country
    return DrugResult({drug: evaluate_chain(country, drug, chain, population, v, detail)
                       for drug, chain in market.chains.items()})
