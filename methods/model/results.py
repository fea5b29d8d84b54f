"""One tidy shape for every market's results: the flow records of a country, their totals and tables.

A country's transactions are :class:`~methods.model.accounting.FlowRecord` s; seen from the
reporting country each is inward, outward or domestic (or not the country's flow at all, e.g. a
smuggling fee paid between two non-residents). Totals add records up by product and direction;
the SDG total is inward + outward.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .accounting import DIRECTIONS, FlowRecord
from .errors import ModelError
from .drugs import evaluate_drug_market
from .drugs.valuation import total_iff_usd
from .inputs import Values
from .params import STAGE_LABELS, CountryFile, iter_sources
from .smuggling import evaluate_smuggling_market


def evaluate_market(cf: CountryFile, market: str, v: Values, detail: bool = True) -> tuple[Any, list[FlowRecord]]:
    """Run one market's model; return its detailed result and the country's flow records
    (every transaction with a resident of the country on at least one side). Every value must be a
    finite number (see :func:`check_finite`)."""
    if market == "drugs":
        res = evaluate_drug_market(cf.markets.drugs, v, detail)
        records = res.flows
    elif market == "smuggling":
        res = evaluate_smuggling_market(cf.markets.smuggling, v)
        records = [r for c in res.corridors.values() for r in [*c.payments, *c.costs] if r.direction(cf.country) is not None]
    else:
        raise ValueError(f"unknown market {market!r}")
    check_finite(cf, records)
    return res, records


def check_finite(cf: CountryFile, records: list[FlowRecord]) -> None:
    """The model checks its own output: a value that is not a finite number (from an input that
    overflows or divides by zero) stops the chapter with a message naming where in the file the
    flow is described, so that nothing non-finite can reach a chapter or an export."""
    for r in records:
        for what, arr in (("value", r.value_usd), ("quantity", r.quantity), ("price", r.price_usd)):
            if arr is not None and not np.all(np.isfinite(arr)):
                where = ".".join(map(str, r.path)) or r.product
                raise ModelError(f"parameters/{cf.country}.yml: {where}: the {what} of the flow '{r.label}' is not a "
                                 "finite number; check the inputs of this item (a value of zero where the model divides, "
                                 "or a value far too large)")


def totals(records: list[FlowRecord], country: str, n_years: int, valuation: str = "transaction") -> dict[tuple[str, str], np.ndarray]:
    """Sums by (product, direction), plus ('all', inward|outward|total). Domestic flows are excluded.
    ``valuation="fob"`` values the routes that give the FOB rule at their FOB price instead."""
    out: dict[tuple[str, str], np.ndarray] = {}
    zero = np.zeros(n_years)
    for r in records:
        direction = r.direction(country)
        if direction not in DIRECTIONS:
            continue
        key = (r.product, direction)
        value = r.detail.get("fob_value_usd", r.value_usd) if valuation == "fob" else r.value_usd
        out[key] = out.get(key, zero) + value
    products = sorted({k[0] for k in out})
    for p in products:
        for d in DIRECTIONS:
            out.setdefault((p, d), zero)
        out[(p, "total")] = total_iff_usd(out[(p, "inward")], out[(p, "outward")])
    for d in DIRECTIONS:
        out[("all", d)] = sum((out[(p, d)] for p in products), zero)
    out[("all", "total")] = total_iff_usd(out[("all", "inward")], out[("all", "outward")])
    return out


def partner_totals(records: list[FlowRecord], country: str, n_years: int) -> dict[tuple, np.ndarray]:
    """The country's cross-border flows by counterpart: keys ``("value", product, direction,
    partner)`` in US dollars, and ``("quantity", product, direction, partner)`` in pure kilograms
    for the drug itself (sales and purchases). What the regional network reconciles."""
    out: dict[tuple, np.ndarray] = {}
    zero = np.zeros(n_years)
    for r in records:
        direction = r.direction(country)
        if direction not in DIRECTIONS:
            continue
        key = (r.product, direction, r.partner(country))
        out[("value",) + key] = out.get(("value",) + key, zero) + r.value_usd
        if r.component in ("drug_sales", "drug_purchases") and r.quantity is not None:
            out[("quantity",) + key] = out.get(("quantity",) + key, zero) + r.quantity
    return out


def market_results(cf: CountryFile, market: str, v: Values, valuation: str = "transaction") -> dict[tuple, np.ndarray]:
    """A market's totals (:func:`totals`) and its flows by counterpart (:func:`partner_totals`)."""
    records = evaluate_market(cf, market, v, detail=False)[1]
    return {**totals(records, cf.country, len(cf.years), valuation), **partner_totals(records, cf.country, len(cf.years))}


def market_totals(cf: CountryFile, market: str, v: Values, valuation: str = "transaction") -> dict[tuple[str, str], np.ndarray]:
    """A market's totals by (product, direction) for the inputs ``v``: what the Monte Carlo, the
    scenarios and the sensitivity analysis evaluate (the value-added table is skipped)."""
    return totals(evaluate_market(cf, market, v, detail=False)[1], cf.country, len(cf.years), valuation)


def has_fob_rule(cf: CountryFile) -> bool:
    """True when a route of the file gives the FOB valuation rule (a valuation scenario)."""
    if cf.markets.drugs is None:
        return False
    return any(r.fob is not None for chain in cf.markets.drugs.chains.values() for st in chain.stages.values()
               for trade in (st.exports, st.imports) if trade is not None for r in trade.routes.values())


RECORD_COLUMNS = ["year", "market", "drug", "product", "direction", "component", "partner", "partner_label", "route", "label",
                  "quantity", "quantity_unit", "price_usd", "value_usd"]


def records_frame(records: list[FlowRecord], country: str, years: list[int]) -> pd.DataFrame:
    """Long table: one row per record and year (with its columns even when there is no record)."""
    rows = []
    for r in records:
        direction, partner = r.direction(country), r.partner(country)
        for i, y in enumerate(years):
            rows.append({
                "year": y, "market": r.market, "drug": r.drug, "product": r.product, "direction": direction,
                "component": r.component, "partner": partner, "partner_label": r.partner_label, "route": r.route,
                "label": r.label,
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
    fx_keys = {s.key for _, s in iter_sources(cf.macro)}
    out: dict[str, set[str]] = {}
    if market == "drugs" and cf.markets.drugs is not None:
        common = fx_keys | ({s.key for _, s in iter_sources(cf.markets.drugs.population)} if cf.markets.drugs.population else set())
        for drug, chain in cf.markets.drugs.chains.items():
            keys = {s.key for _, s in iter_sources(chain)} | common
            for product in [*chain.stages, f"{drug}_chemicals", f"{drug}_services"]:
                out.setdefault(product, set()).update(keys)
    if market == "smuggling" and cf.markets.smuggling is not None:
        for cid, c in cf.markets.smuggling.corridors.items():
            out[cid] = {s.key for _, s in iter_sources(c)} | fx_keys
    return {k: sorted(v) for k, v in out.items()}


def product_labels(cf: CountryFile, market: str) -> dict[str, str]:
    """A reader's name for each product of a market: the stage of a drug chain, the chemical inputs,
    or the smuggling corridor's label from the parameter file."""
    out = {"all": "all products"}
    if market == "drugs" and cf.markets.drugs is not None:
        for drug, chain in cf.markets.drugs.chains.items():
            out.update({stage: STAGE_LABELS[stage] for stage in chain.stages})
            out.update({f"{drug}_chemicals": f"chemical inputs ({drug})", f"{drug}_services": f"services ({drug})"})
    if market == "smuggling" and cf.markets.smuggling is not None:
        out.update({cid: c.label for cid, c in cf.markets.smuggling.corridors.items()})
    return out


def not_estimated_flows(cf: CountryFile, market: str) -> list[tuple[str, str, str, str]]:
    """(drug, product, direction, what is missing) for every flow the file's data gaps leave
    unestimated: shown as *not estimated*, never as zero."""
    section = getattr(cf.markets, market)
    out = []
    for gap in (section.data_gaps if section is not None else []):
        if gap.affects is not None:
            drug, product = gap.affects.drug or "", gap.affects.product
            if product in ("chemicals", "precursors", "services"):
                product = f"{drug}_{'services' if product == 'services' else 'chemicals'}"
            out.append((drug, product, gap.affects.direction, gap.what))
    return out


STATUS = {"estimated": "estimated", "not_estimated": "not estimated",
          "partial": "partial: excludes flows not estimated"}


PARTNER_COLUMNS = ["country", "year", "market", "drug", "product", "label", "direction", "partner", "value_usd",
                   "mc_p05_usd", "mc_median_usd", "mc_p95_usd", "quantity_kg", "quantity_p05_kg", "quantity_p95_kg"]


@dataclass
class ChapterResults:
    """What a chapter computes for the cross-country pages and the exports.

    *summary*: inward, outward and total IFFs by product, year and structural scenario, with the
    Monte Carlo 5th, 50th and 95th percentiles within each scenario (current US dollars). A flow
    that the file's data gaps leave unestimated has a row with no value and the status *not
    estimated*; the totals it would belong to are marked *partial*.

    *partners*: the central scenario's flows by counterpart (value, and pure kilograms of drug), with
    their Monte Carlo percentiles from the same draws: what the regional network reconciles.

    *draws*: the central scenario's Monte Carlo draws of the totals and of the flows by counterpart
    (arrays draws x years), for aggregates computed draw by draw (over markets, countries, GDP).

    *scenarios*: the inputs of the low, central and high scenarios of the total, ordered by outcome
    (:func:`~methods.model.uncertainty.extreme_scenarios`; each other output has its own).
    """

    summary: pd.DataFrame
    partners: pd.DataFrame
    draws: dict[tuple, np.ndarray]
    scenarios: dict[str, Values]


def summary_frame(cf: CountryFile, market: str, prepared, n_draws: int, seed: int) -> pd.DataFrame:
    """The summary table of :func:`chapter_results` (totals by product, direction and scenario)."""
    return chapter_results(cf, market, prepared, n_draws, seed).summary


def chapter_results(cf: CountryFile, market: str, prepared, n_draws: int, seed: int) -> ChapterResults:
    """Scenarios ordered by outcome, the Monte Carlo within each, and the tables of
    :class:`ChapterResults`."""
    from .uncertainty import SCENARIOS, extreme_scenarios, monte_carlo, percentiles, scenario_fingerprint

    years = cf.years
    prefix = market_prefix(market)

    def evaluate(v):
        return market_totals(cf, market, v)

    drug_of = {}
    if market == "drugs":
        for drug, chain in cf.markets.drugs.chains.items():
            for product in [*chain.stages, f"{drug}_chemicals", f"{drug}_services"]:
                drug_of[product] = drug
    sources = sources_by_product(cf, market)
    labels = product_labels(cf, market)
    missing = not_estimated_flows(cf, market)
    rows = []

    def row(scenario, product, direction, i, year, status, value=float("nan"), low=float("nan"), median=float("nan"),
            high=float("nan"), drug=None):
        return {"country": cf.country, "ref_area": cf.m49, "year": year, "market": market,
                "drug": drug if drug is not None else drug_of.get(product, ""), "product": product,
                "label": labels.get(product, product), "direction": direction, "scenario": scenario,
                "value_usd": value, "mc_p05_usd": low, "mc_median_usd": median, "mc_p95_usd": high, "unit": "USD",
                "status": STATUS[status],
                "sources": ";".join(sources.get(product, sorted({k for v in sources.values() for k in v})))}

    at_central = market_results(cf, market, prepared.central)  # the flows by partner, from the same draws
    keys = [k for k in at_central if len(k) == 2]
    # each output's own low and high scenario (low <= central <= high for every row); the table of
    # what each scenario sets shows those of the total
    extremes = extreme_scenarios(prepared, evaluate, keys, prefix)
    scenario_values = {"low": extremes[("low", ("all", "total"))], "central": prepared.central,
                       "high": extremes[("high", ("all", "total"))]}
    runs: dict[bytes, tuple[dict, dict]] = {}  # one Monte Carlo per distinct scenario
    memo: dict = {}  # the runs share their seed and differ in structural inputs: each input is drawn once
    # the outputs whose own low or high scenario each distinct scenario is: only their percentiles
    # are taken from its draws (a percentile of every output of every run was a sixth of the model's time)
    fingerprint = {k: scenario_fingerprint(base, prepared, prefix) for k, base in extremes.items()}
    wanted: dict[bytes, set] = {}
    for (_, key), fp in fingerprint.items():
        wanted.setdefault(fp, set()).add(key)

    def run(name, key):
        fp = fingerprint[(name, key)]
        if fp not in runs:
            base = extremes[(name, key)]
            drawn = monte_carlo(prepared, evaluate, n=n_draws, seed=seed, prefix=prefix, base=base, memo=memo)
            runs[fp] = (evaluate(base), percentiles({k: drawn[k] for k in wanted[fp]}))
        return runs[fp]

    draws = monte_carlo(prepared, lambda v: market_results(cf, market, v), n=n_draws, seed=seed, prefix=prefix,
                        base=prepared.central, memo=memo)
    pct_central = percentiles(draws)
    partner_rows = _partner_rows(cf, market, at_central, pct_central, drug_of, labels)
    kept_draws = {k: a for k, a in draws.items() if (len(k) == 2 and k[0] == "all") or k[0] == "value"}
    det_central = {k: a for k, a in at_central.items() if len(k) == 2}
    runs[scenario_fingerprint(prepared.central, prepared, prefix)] = (det_central, pct_central)
    estimated = set(det_central)
    gaps = [(drug, p, d) for drug, p, d, _ in missing if (p, d) not in estimated or not np.any(det_central[(p, d)])]
    partial_directions = {d for _, _, d in gaps} | ({"total"} if gaps else set())
    scenarios = SCENARIOS + (("fob",) if market == "drugs" and has_fob_rule(cf) else ())
    for scenario in scenarios:
        if scenario == "fob":
            fob = lambda v: market_totals(cf, market, v, valuation="fob")  # noqa: E731
            fob_det = fob(prepared.central)
            fob_pct = percentiles(monte_carlo(prepared, fob, n=n_draws, seed=seed, prefix=prefix, base=prepared.central,
                                              memo=memo))
        for (product, direction) in det_central:
            if any(p == product and d == direction for _, p, d in gaps):
                continue  # shown below as not estimated
            if scenario == "fob":
                det, pct = fob_det, fob_pct
            elif scenario == "central":
                det, pct = det_central, pct_central
            else:
                det, pct = run(scenario, (product, direction))
            arr = det[(product, direction)]
            status = "partial" if product == "all" and direction in partial_directions else "estimated"
            for i, year in enumerate(years):
                rows.append(row(scenario, product, direction, i, year, status, float(np.asarray(arr)[..., i]),
                                float(pct[(product, direction)][0, i]), float(pct[(product, direction)][1, i]),
                                float(pct[(product, direction)][2, i])))
        for drug, product, direction in gaps:
            for i, year in enumerate(years):
                rows.append(row(scenario, product, direction, i, year, "not_estimated", drug=drug))
    summary = pd.DataFrame(rows)
    numbers = summary[["value_usd", "mc_p05_usd", "mc_median_usd", "mc_p95_usd"]].to_numpy(dtype=float)
    if np.isinf(numbers).any():  # the model checks its own outputs: nothing infinite reaches a chapter
        bad = summary[np.isinf(numbers).any(axis=1)].iloc[0]
        raise ModelError(f"parameters/{cf.country}.yml: markets.{market}: the {bad['scenario']} scenario of "
                         f"{bad['product']} ({bad['direction']}, {bad['year']}) is not a finite number: check the "
                         "bounds of its inputs (a bound of zero where the model divides, or far too large)")
    return ChapterResults(summary, pd.DataFrame(partner_rows, columns=PARTNER_COLUMNS), kept_draws,
                          scenario_values)


def _partner_rows(cf: CountryFile, market: str, det: dict, pct: dict, drug_of: dict, labels: dict) -> list[dict]:
    rows = []
    nan = float("nan")
    for key, arr in det.items():
        if key[0] != "value":
            continue
        _, product, direction, partner = key
        q = ("quantity", product, direction, partner)
        for i, year in enumerate(cf.years):
            rows.append({
                "country": cf.country, "year": year, "market": market, "drug": drug_of.get(product, ""),
                "product": product, "label": labels.get(product, product), "direction": direction, "partner": partner,
                "value_usd": float(np.asarray(arr)[..., i]), "mc_p05_usd": float(pct[key][0, i]),
                "mc_median_usd": float(pct[key][1, i]), "mc_p95_usd": float(pct[key][2, i]),
                "quantity_kg": float(np.asarray(det[q])[..., i]) if q in det else nan,
                "quantity_p05_kg": float(pct[q][0, i]) if q in det else nan,
                "quantity_p95_kg": float(pct[q][2, i]) if q in det else nan,
            })
    return rows
