"""Cross-country results: the tidy results table, its SDMX-CSV form, and mirror flows.

Pure functions on pandas tables; the country chapters write the inputs (``<market>.summary.csv``
and ``<market>.flows.csv``), :mod:`methods.export` reads them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .accounting import discrepancy_share

EXPORT_COLUMNS = ["country", "ref_area", "year", "market", "drug", "product", "flow", "scenario",
                  "value_usd", "low_usd", "median_usd", "high_usd", "unit", "sources"]
ACTIVITY = {"drugs": "DRUG_TRAFFICKING", "smuggling": "SMUGGLING_MIGRANTS"}
SDMX_DATAFLOW = "IFF_HANDBOOK:DF_IFF_ILLEGAL_MARKETS(1.0)"
SDMX_SERIES = "IFF_ILLEGAL_MARKETS"  # placeholder: the SDG series code for 16.4.1 by activity was not retrieved


def results_table(summaries: pd.DataFrame) -> pd.DataFrame:
    """The tidy table of results: one row per country, year, market, product, flow and scenario."""
    out = summaries.copy()
    out["ref_area"] = out["ref_area"].astype("Int64")
    out["drug"] = out["drug"].fillna("")
    return (out[EXPORT_COLUMNS]
            .sort_values(["country", "market", "product", "flow", "scenario", "year"], kind="stable")
            .reset_index(drop=True))


def sdmx_csv_table(results: pd.DataFrame) -> pd.DataFrame:
    """The results in SDMX-CSV layout, with SDG concept names.

    Dimensions: REF_AREA (M49), TIME_PERIOD, ACTIVITY, PRODUCT (``_T`` for all products), FLOW
    (INWARD, OUTWARD, TOTAL), SCENARIO; measure OBS_VALUE with UNIT_MEASURE, attributes
    LOWER_BOUND and UPPER_BOUND (5th and 95th percentiles), NATURE (E: estimated) and SOURCE_DETAIL.
    """
    r = results[results["ref_area"].notna()]
    return pd.DataFrame({
        "DATAFLOW": SDMX_DATAFLOW,
        "SERIES": SDMX_SERIES,
        "REF_AREA": r["ref_area"].astype(int).map(lambda x: f"{x:03d}"),
        "TIME_PERIOD": r["year"].astype(int),
        "ACTIVITY": r["market"].map(ACTIVITY),
        "PRODUCT": r["product"].map(lambda p: "_T" if p == "all" else p.upper()),
        "FLOW": r["flow"].str.upper(),
        "SCENARIO": r["scenario"].str.upper(),
        "UNIT_MEASURE": "USD",
        "UNIT_MULT": 0,
        "OBS_VALUE": r["value_usd"],
        "LOWER_BOUND": r["low_usd"],
        "UPPER_BOUND": r["high_usd"],
        "NATURE": "E",
        "SOURCE_DETAIL": r["sources"],
    }).reset_index(drop=True)


def gdp_shares(results: pd.DataFrame, gdp: pd.DataFrame) -> pd.DataFrame:
    """Total IFFs (all products, central scenario) as a percentage of GDP.

    .. math:: s = 100 \\times IFF / GDP

    A ratio for scale only: IFFs are gross flows, not a component of GDP.
    """
    t = results[(results["product"] == "all") & (results["scenario"] == "central")]
    t = t.merge(gdp, on=["country", "year"], how="left")
    t = t.assign(percent_of_gdp=100 * t["value_usd"] / t["gdp_usd"],
                 low_percent=100 * t["low_usd"] / t["gdp_usd"], high_percent=100 * t["high_usd"] / t["gdp_usd"])
    return t


def mirror_pairs(flows: pd.DataFrame, modelled: set[str]) -> pd.DataFrame:
    """Flows between two modelled countries, seen from both sides (central scenario).

    ``flows``: the countries' flow tables stacked, with a ``country`` column (the reporter) and
    ``partner`` (the counterpart's country). For each reporter, partner, market, product and year,
    the reporter's flow is matched with the partner's flow in the mirror direction whose partner is
    the reporter. Each pair appears once, from the side of the country whose flow is inward (the
    seller or the service provider). Where only one side is modelled, the other is empty.
    """
    f = flows[flows["flow"].isin(["inward", "outward"]) & flows["partner"].isin(modelled)
              & (flows["partner"] != flows["country"])]
    keys = ["country", "partner", "market", "product", "flow", "year"]
    agg = f.groupby(keys, as_index=False).agg(value_usd=("value_usd", "sum"), quantity=("quantity", "sum"))
    agg["price_usd"] = agg["value_usd"] / agg["quantity"].where(agg["quantity"] > 0)
    a_side = agg[agg["flow"] == "inward"].rename(columns={"country": "inward_country", "partner": "outward_country"})
    b_side = agg[agg["flow"] == "outward"].rename(columns={"country": "outward_country", "partner": "inward_country"})
    on = ["inward_country", "outward_country", "market", "product", "year"]
    cols = ["value_usd", "quantity", "price_usd"]
    pairs = pd.merge(a_side[on + cols], b_side[on + cols], on=on, how="outer", suffixes=("_inward_side", "_outward_side"))
    pairs["year"] = pairs["year"].astype(int)
    pairs["discrepancy_usd"] = pairs["value_usd_inward_side"] - pairs["value_usd_outward_side"]
    pairs["discrepancy_share"] = discrepancy_share(pairs["value_usd_inward_side"].fillna(0),
                                                   pairs["value_usd_outward_side"].fillna(0))
    pairs["reason"] = [discrepancy_reason(r) for r in pairs.itertuples()]
    return pairs.sort_values(on, kind="stable").reset_index(drop=True)


def discrepancy_reason(row) -> str:
    """Why the two sides of a mirror flow differ: which side is missing, or whether the gap comes
    mainly from the quantities or from the prices each country applied.

    With :math:`V = Q \\times p` on each side, :math:`\\ln(V_a/V_b) = \\ln(Q_a/Q_b) + \\ln(p_a/p_b)`;
    the larger term names the main cause.
    """
    va, vb = row.value_usd_inward_side, row.value_usd_outward_side
    if pd.isna(vb):
        return f"not modelled by {row.outward_country} (no purchase from {row.inward_country} in its parameter file)"
    if pd.isna(va):
        return f"not modelled by {row.inward_country} (no sale to {row.outward_country} in its parameter file)"
    qa, qb, pa, pb = row.quantity_inward_side, row.quantity_outward_side, row.price_usd_inward_side, row.price_usd_outward_side
    if not all(np.isfinite(x) and x > 0 for x in (qa, qb, pa, pb)):
        return "estimated independently by each country"
    dq, dp = abs(np.log(qa / qb)), abs(np.log(pa / pb))
    if max(dq, dp) < 0.05:
        return "the two estimates agree within 5%"
    if dq >= dp:
        bigger = row.inward_country if qa > qb else row.outward_country
        return f"mainly the quantity: {bigger}'s data give a larger flow ({qa / 1e3:,.1f} t vs {qb / 1e3:,.1f} t)"
    higher = row.inward_country if pa > pb else row.outward_country
    return f"mainly the price: {higher} values the flow at a higher price (US$ {pa:,.0f} vs {pb:,.0f} per kg)"

