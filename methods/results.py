"""One tidy shape for every market's results: flow records, totals and tables.

A *flow record* is one cross-border flow of the reporting country (or, for smuggling, a domestic
payment kept for information): market, drug, product, direction, partner, route and its value per
year. Totals add records up by product and direction; the SDG total is inward + outward.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .accounting import flow_direction
from .drugs import DrugResult, evaluate_drug_market
from .inputs import Values
from .schema import CountryFile
from .smuggling import SmugglingResult, evaluate_smuggling_market
from .drugs.valuation import total_iff_usd

DIRECTIONS = ("inward", "outward")


@dataclass
class FlowRecord:
    market: str
    drug: str
    product: str
    direction: str
    component: str
    partner: str
    route: str
    label: str
    value_usd: np.ndarray
    quantity: np.ndarray | None = None
    quantity_unit: str = ""
    price_usd: np.ndarray | None = None


def drug_flow_records(result: DrugResult) -> list[FlowRecord]:
    out = []
    for f in result.flows:
        product = "precursors" if f.component == "precursors" else f.product
        out.append(FlowRecord("drugs", f.drug, product, f.direction, f.component, f.partner, f.route, f.label,
                              f.value_usd, f.quantity_kg, f.quantity_unit, f.price_usd_per_kg))
    return out


def smuggling_flow_records(country: str, result: SmugglingResult) -> list[FlowRecord]:
    """Fees and smugglers' costs as flows of ``country`` (payments between two non-residents are left out)."""
    out = []
    for cid, c in result.corridors.items():
        entries = [(p, "smuggling_fees", p.place,
                    f"{c.label}: paid at {p.place} by residents of {p.payer} to smugglers resident in {p.payee}")
                   for p in c.payments]
        entries += [(k, "smugglers_costs", k.cost, f"{c.label}: {k.label} (smugglers' cost, paid by smugglers resident "
                     f"in {k.payer} to residents of {k.payee})") for k in c.costs]
        for pay, component, route, label in entries:
            direction = flow_direction(country, pay.payer, pay.payee)
            if direction is None:
                continue
            partner = pay.payer if direction == "inward" else pay.payee if direction == "outward" else country
            out.append(FlowRecord("smuggling", "", cid, direction, component, partner, route, label, pay.value_usd))
    return out


def evaluate_market(cf: CountryFile, market: str, v: Values, detail: bool = True) -> tuple[Any, list[FlowRecord]]:
    """Run one market's model; return its detailed result and its flow records."""
    if market == "drugs":
        res = evaluate_drug_market(cf.markets.drugs, v, detail)
        return res, drug_flow_records(res)
    if market == "smuggling":
        res = evaluate_smuggling_market(cf.markets.smuggling, v)
        return res, smuggling_flow_records(cf.country, res)
    raise ValueError(f"unknown market {market!r}")


def totals(records: list[FlowRecord], n_years: int) -> dict[tuple[str, str], np.ndarray]:
    """Sums by (product, direction), plus ('all', inward|outward|total). Domestic flows are excluded."""
    out: dict[tuple[str, str], np.ndarray] = {}
    zero = np.zeros(n_years)
    for r in records:
        if r.direction not in DIRECTIONS:
            continue
        key = (r.product, r.direction)
        out[key] = out.get(key, zero) + r.value_usd
    products = sorted({k[0] for k in out})
    for p in products:
        for d in DIRECTIONS:
            out.setdefault((p, d), zero)
        out[(p, "total")] = total_iff_usd(out[(p, "inward")], out[(p, "outward")])
    for d in DIRECTIONS:
        out[("all", d)] = sum((out[(p, d)] for p in products), zero)
    out[("all", "total")] = total_iff_usd(out[("all", "inward")], out[("all", "outward")])
    return out


RECORD_COLUMNS = ["year", "market", "drug", "product", "flow", "component", "partner", "route", "label",
                  "quantity", "quantity_unit", "price_usd", "value_usd"]


def records_frame(records: list[FlowRecord], years: list[int]) -> pd.DataFrame:
    """Long table: one row per record and year (with its columns even when there is no record)."""
    rows = []
    for r in records:
        for i, y in enumerate(years):
            rows.append({
                "year": y, "market": r.market, "drug": r.drug, "product": r.product, "flow": r.direction,
                "component": r.component, "partner": r.partner, "route": r.route, "label": r.label,
                "quantity": None if r.quantity is None else float(np.asarray(r.quantity)[..., i]),
                "quantity_unit": r.quantity_unit,
                "price_usd": None if r.price_usd is None else float(np.asarray(r.price_usd)[..., i]),
                "value_usd": float(np.asarray(r.value_usd)[..., i]),
            })
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


# ----- summaries with ranges ---------------------------------------------------------------------

def market_prefix(market: str) -> tuple:
    return ("markets", market)


def sources_by_product(cf: CountryFile, market: str) -> dict[str, list[str]]:
    """Bibliography keys behind each product's estimate (its chain or corridor, plus exchange rates)."""
    from .loading import iter_sources

    fx_keys = {s.key for _, s in iter_sources(cf.macro)}
    out: dict[str, set[str]] = {}
    if market == "drugs" and cf.markets.drugs is not None:
        common = fx_keys | ({s.key for _, s in iter_sources(cf.markets.drugs.population)} if cf.markets.drugs.population else set())
        for drug, chain in cf.markets.drugs.chains.items():
            keys = {s.key for _, s in iter_sources(chain)} | common
            for stage in chain.stages:
                out.setdefault(stage, set()).update(keys)
            out.setdefault("precursors", set()).update(keys)
    if market == "smuggling" and cf.markets.smuggling is not None:
        for cid, c in cf.markets.smuggling.corridors.items():
            out[cid] = {s.key for _, s in iter_sources(c)} | fx_keys
    return {k: sorted(v) for k, v in out.items()}


def summary_frame(cf: CountryFile, market: str, prepared, n_draws: int, seed: int) -> pd.DataFrame:
    """Inward, outward and total IFFs by product, year and structural scenario, with the
    Monte Carlo 5th, 50th and 95th percentiles (current US dollars)."""
    from .uncertainty import SCENARIOS, monte_carlo, percentiles

    years = cf.years
    prefix = market_prefix(market)

    def evaluate(v):
        return totals(evaluate_market(cf, market, v, detail=False)[1], len(years))

    drug_of = {}
    if market == "drugs":
        for drug, chain in cf.markets.drugs.chains.items():
            for stage in chain.stages:
                drug_of[stage] = drug
    sources = sources_by_product(cf, market)
    rows = []
    for scenario in SCENARIOS:
        det = evaluate(prepared.scenario(scenario, prefix))
        pct = percentiles(monte_carlo(prepared, evaluate, scenario, n_draws, seed, prefix))
        for (product, flow), arr in det.items():
            for i, year in enumerate(years):
                rows.append({
                    "country": cf.country, "ref_area": cf.m49, "year": year, "market": market,
                    "drug": drug_of.get(product, ""), "product": product, "flow": flow, "scenario": scenario,
                    "value_usd": float(np.asarray(arr)[..., i]),
                    "low_usd": float(pct[(product, flow)][0, i]),
                    "median_usd": float(pct[(product, flow)][1, i]),
                    "high_usd": float(pct[(product, flow)][2, i]),
                    "unit": "USD", "sources": ";".join(sources.get(product, sorted({k for v in sources.values() for k in v}))),
                })
    return pd.DataFrame(rows)
