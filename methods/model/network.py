"""The regional network: flows between modelled countries, seen from both sides.

Pure functions on pandas tables. The country chapters write their flow records
(``<market>.flows.csv``); the regional pages pair each country's sales with its partners' purchases.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .accounting import discrepancy_share


def mirror_pairs(flows: pd.DataFrame, modelled: set[str]) -> pd.DataFrame:
    """Flows between two modelled countries, seen from both sides (central scenario).

    ``flows``: the countries' flow tables stacked, with a ``country`` column (the reporter) and
    ``partner`` (the counterpart's country). For each reporter, partner, market, product and year,
    the reporter's flow is matched with the partner's flow in the mirror direction whose partner is
    the reporter. Each pair appears once, from the side of the country whose flow is inward (the
    seller or the service provider). Where only one side is modelled, the other is empty.
    """
    f = flows[flows["direction"].isin(["inward", "outward"]) & flows["partner"].isin(modelled)
              & (flows["partner"] != flows["country"])]
    keys = ["country", "partner", "market", "product", "direction", "year"]
    agg = f.groupby(keys, as_index=False).agg(value_usd=("value_usd", "sum"), quantity=("quantity", "sum"))
    agg["price_usd"] = agg["value_usd"] / agg["quantity"].where(agg["quantity"] > 0)
    a_side = agg[agg["direction"] == "inward"].rename(columns={"country": "inward_country", "partner": "outward_country"})
    b_side = agg[agg["direction"] == "outward"].rename(columns={"country": "outward_country", "partner": "inward_country"})
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

