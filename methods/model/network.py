"""The regional network: flows between modelled countries, seen from both sides, and reconciled.

Every cross-border payment is an inward IFF of the payee's country and an outward IFF of the
payer's. When both countries have a parameter file, the same flow is estimated twice, from each
country's own data; the handbook shows both *own* estimates and one *reconciled* estimate that both
countries publish, so that in the reconciled results the seller's inward flow equals the buyer's
outward flow.

**The reconciliation rule** [a reconstruction, in the spirit of CEPII's BACI, which reconciles
exporters' and importers' declarations of merchandise trade by the reliability of each reporter;
it is not a documented UNODC formula]. For each seller *s*, buyer *b*, market, product and year:

* Both sides modelled: the reconciled value is the precision-weighted mean, in logarithms, of the
  two own estimates,

  .. math:: \\ln V^* = \\frac{w_s \\ln V_s + w_b \\ln V_b}{w_s + w_b}, \\qquad
            w = 1/\\sigma^2, \\quad \\sigma = \\frac{\\ln V_{95} - \\ln V_{5}}{2 \\times 1.645}

  where :math:`V_5, V_{95}` are each side's Monte Carlo percentiles: the side whose inputs are
  better measured (narrower interval) weighs more, and a side with no uncertainty at all (an
  observed flow) takes precedence. The quantity of drug is reconciled the same way, so that the
  exporter's volume and the importer's come from one number.
* One side modelled: the reconciled flow is that side's estimate, for both countries (*mirror
  imputation*). If the other country's file counts the trade under another partner, the
  imputation double counts it; the regional page lists every imputed flow so the team can check.

A country's reconciled total is its own total with each of its flows with modelled countries
replaced by the reconciled flow (and the imputed flows added).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .accounting import discrepancy_share
from .i18n import Translator
from .params.partners import partner_name

EN = Translator("en")

Z90 = 1.6448536269514722  # the 95th percentile of the standard normal
PRECEDENCE = 1e12  # the weight of a side whose interval has no width (an observed flow)
KEYS = ["seller", "buyer", "market", "product", "year"]
SIDE_COLUMNS = ["value_usd", "mc_p05_usd", "mc_p95_usd", "quantity_kg", "quantity_p05_kg", "quantity_p95_kg"]


def log_sigma(value, low, high):
    """The spread of an estimate in logarithms, from its 90% interval (NaN where it cannot be read).

    .. math:: \\sigma = \\frac{\\ln V_{95} - \\ln V_{5}}{2 \\times 1.645}
    """
    value, low, high = (np.asarray(x, dtype=float) for x in (value, low, high))
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = (np.log(high) - np.log(low)) / (2 * Z90)
    return np.where((low > 0) & (high > 0) & (value > 0), sigma, np.nan)


def precision_weight(sigma):
    """:math:`w = 1/\\sigma^2`; a side with no spread takes precedence (a very large weight)."""
    sigma = np.asarray(sigma, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(sigma > 0, 1.0 / np.square(np.where(sigma > 0, sigma, 1.0)), PRECEDENCE)


def weighted_log_mean(value_a, weight_a, value_b, weight_b):
    """The precision-weighted mean of two positive estimates, in logarithms (a weighted geometric
    mean): :math:`\\exp\\big((w_a \\ln a + w_b \\ln b)/(w_a + w_b)\\big)`. Where one of the two is
    zero, the weighted arithmetic mean."""
    a, b, wa, wb = (np.asarray(x, dtype=float) for x in (value_a, value_b, weight_a, weight_b))
    both = (a > 0) & (b > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        geometric = np.exp((wa * np.log(np.where(both, a, 1.0)) + wb * np.log(np.where(both, b, 1.0))) / (wa + wb))
    arithmetic = (wa * a + wb * b) / (wa + wb)
    return np.where(both, geometric, arithmetic)


def sides(partners: pd.DataFrame, modelled: set[str]) -> pd.DataFrame:
    """Each flow between two modelled countries with both sides' own estimates in one row.

    ``partners``: the chapters' flows by counterpart (``<market>.partners.csv``) stacked. The
    seller's side is its inward row with the buyer as partner; the buyer's side its outward row
    with the seller as partner. Smuggling is matched by market (the corridors of two countries are
    keyed differently); drugs by product (the stage, the chemical inputs or the services).
    """
    f = partners[partners["partner"].isin(modelled) & (partners["partner"] != partners["country"])
                 & partners["direction"].isin(["inward", "outward"])].copy()
    if f.empty:
        return pd.DataFrame(columns=KEYS + [f"{c}_{s}" for s in ("seller", "buyer") for c in SIDE_COLUMNS])
    f["product"] = np.where(f["market"] == "smuggling", "smuggling of migrants", f["product"])
    f["seller"] = np.where(f["direction"] == "inward", f["country"], f["partner"])
    f["buyer"] = np.where(f["direction"] == "inward", f["partner"], f["country"])
    agg = {c: (c, lambda s: s.sum(min_count=1)) for c in SIDE_COLUMNS}
    grouped = f.groupby(KEYS + ["direction"], as_index=False).agg(**agg)
    seller = grouped[grouped["direction"] == "inward"].drop(columns="direction")
    buyer = grouped[grouped["direction"] == "outward"].drop(columns="direction")
    out = pd.merge(seller, buyer, on=KEYS, how="outer", suffixes=("_seller", "_buyer"))
    out["year"] = out["year"].astype(int)
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


def reconcile(partners: pd.DataFrame, modelled: set[str]) -> pd.DataFrame:
    """The reconciled flow between every pair of modelled countries (see the module's rule).

    Columns: the keys (seller, buyer, market, product, year), each side's own estimate, the
    ``reconciled_usd`` value with its 90% interval, the ``reconciled_kg`` quantity, the seller's
    weight, the ``rule`` applied, whether the own intervals ``disagree`` (do not overlap), the gap
    between the own estimates as a share of their mean and its main cause."""
    p = sides(partners, modelled)
    if p.empty:
        return p.assign(reconciled_usd=[], reconciled_p05_usd=[], reconciled_p95_usd=[], reconciled_kg=[],
                        seller_weight=[], rule=[], disagree=[], gap_share=[], reason=[])
    vs, vb = p["value_usd_seller"], p["value_usd_buyer"]
    ws = precision_weight(log_sigma(vs, p["mc_p05_usd_seller"], p["mc_p95_usd_seller"]))
    wb = precision_weight(log_sigma(vb, p["mc_p05_usd_buyer"], p["mc_p95_usd_buyer"]))
    both = vs.notna() & vb.notna()
    value = np.where(both, weighted_log_mean(vs.fillna(0), ws, vb.fillna(0), wb), np.where(vs.notna(), vs, vb))
    qs, qb = p["quantity_kg_seller"], p["quantity_kg_buyer"]
    wqs = precision_weight(log_sigma(qs, p["quantity_p05_kg_seller"], p["quantity_p95_kg_seller"]))
    wqb = precision_weight(log_sigma(qb, p["quantity_p05_kg_buyer"], p["quantity_p95_kg_buyer"]))
    qboth = qs.notna() & qb.notna()
    quantity = np.where(qboth, weighted_log_mean(qs.fillna(0), wqs, qb.fillna(0), wqb), np.where(qs.notna(), qs, qb))
    sigma = np.where(both, 1 / np.sqrt(ws + wb), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(both, value * np.exp(-Z90 * sigma), np.where(vs.notna(), p["mc_p05_usd_seller"], p["mc_p05_usd_buyer"]))
        high = np.where(both, value * np.exp(Z90 * sigma), np.where(vs.notna(), p["mc_p95_usd_seller"], p["mc_p95_usd_buyer"]))
    out = p.assign(
        reconciled_usd=value, reconciled_p05_usd=low, reconciled_p95_usd=high, reconciled_kg=quantity,
        seller_weight=np.where(both, ws / (ws + wb), np.where(vs.notna(), 1.0, 0.0)),
        rule=np.where(both, "both sides, weighted by precision",
                      np.where(vs.notna(), "seller only: imputed to the buyer", "buyer only: imputed to the seller")),
        disagree=both & ((p["mc_p95_usd_seller"] < p["mc_p05_usd_buyer"]) | (p["mc_p95_usd_buyer"] < p["mc_p05_usd_seller"])),
        gap_share=np.where(both, discrepancy_share(vs.fillna(0), vb.fillna(0)), np.nan),
    )
    out["reason"] = [discrepancy_reason(r) for r in out.itertuples()]
    return out


def reconciled_flows(pairs: pd.DataFrame) -> pd.DataFrame:
    """The reconciled pairs from each country's side: the seller's inward row and the buyer's
    outward row carry the same value (and quantity). Columns: country, partner, market, product,
    direction, year, own_usd (NaN where the country's file does not model the flow), value_usd,
    quantity_kg, rule."""
    rows = []
    for side, direction, other in (("seller", "inward", "buyer"), ("buyer", "outward", "seller")):
        rows.append(pd.DataFrame({
            "country": pairs[side], "partner": pairs[other], "market": pairs["market"], "product": pairs["product"],
            "direction": direction, "year": pairs["year"], "own_usd": pairs[f"value_usd_{side}"],
            "value_usd": pairs["reconciled_usd"], "mc_p05_usd": pairs["reconciled_p05_usd"],
            "mc_p95_usd": pairs["reconciled_p95_usd"], "quantity_kg": pairs["reconciled_kg"], "rule": pairs["rule"]}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def reconciled_totals(own_totals: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Each country's inward, outward and total IFFs by market and year, own and reconciled.

    ``own_totals``: rows (country, market, direction, year, value_usd) of the central scenario,
    product 'all', direction inward or outward. The reconciled total replaces each of the country's
    flows with a modelled partner by the reconciled flow:
    :math:`T^{rec} = T^{own} + \\sum_{pairs} (V^* - V^{own})`, with :math:`V^{own} = 0` for a flow
    the country's file does not model.
    """
    base = own_totals[own_totals["direction"].isin(["inward", "outward"])][
        ["country", "market", "direction", "year", "value_usd"]].rename(columns={"value_usd": "own_usd"})
    flows = reconciled_flows(pairs)
    if len(flows):
        flows = flows.assign(market=flows["market"])
        adjust = (flows.assign(change=flows["value_usd"] - flows["own_usd"].fillna(0.0))
                  .groupby(["country", "market", "direction", "year"], as_index=False)["change"].sum())
        out = base.merge(adjust, on=["country", "market", "direction", "year"], how="outer")
    else:
        out = base.assign(change=0.0)
    out["own_usd"] = out["own_usd"].fillna(0.0)
    out["reconciled_usd"] = out["own_usd"] + out["change"].fillna(0.0)
    out = out.drop(columns="change")
    total = (out.groupby(["country", "market", "year"], as_index=False)[["own_usd", "reconciled_usd"]].sum()
             .assign(direction="total"))
    return (pd.concat([out, total], ignore_index=True)
            .sort_values(["country", "market", "direction", "year"], kind="stable").reset_index(drop=True))


def discrepancy_reason(row, tr: Translator = EN) -> str:
    """Why the two own estimates of a flow differ: which side is missing, or whether the gap comes
    mainly from the quantities or from the prices each country applied (in the language of ``tr``).

    With :math:`V = Q \\times p` on each side, :math:`\\ln(V_s/V_b) = \\ln(Q_s/Q_b) + \\ln(p_s/p_b)`;
    the larger term names the main cause.
    """
    vs, vb = row.value_usd_seller, row.value_usd_buyer
    seller, buyer = partner_name(row.seller, tr.lang), partner_name(row.buyer, tr.lang)
    if pd.isna(vb):
        return tr("not modelled by {buyer} (no purchase from {seller} in its parameter file)").format(buyer=buyer, seller=seller)
    if pd.isna(vs):
        return tr("not modelled by {seller} (no sale to {buyer} in its parameter file)").format(buyer=buyer, seller=seller)
    qs, qb = row.quantity_kg_seller, row.quantity_kg_buyer
    if not all(np.isfinite(x) and x > 0 for x in (vs, vb)):
        return tr("one side is zero")
    if not all(np.isfinite(x) and x > 0 for x in (qs, qb)):
        return (tr("the two estimates agree within 5%") if abs(np.log(vs / vb)) < 0.05
                else tr("estimated independently by each country"))
    ps, pb = vs / qs, vb / qb
    dq, dp = abs(np.log(qs / qb)), abs(np.log(ps / pb))
    if max(dq, dp) < 0.05:
        return tr("the two estimates agree within 5%")
    if dq >= dp:
        bigger = seller if qs > qb else buyer
        return tr("mainly the quantity: {country}'s data give a larger flow ({seller_t} t vs {buyer_t} t)").format(
            country=bigger, seller_t=tr.number(qs / 1e3, 1), buyer_t=tr.number(qb / 1e3, 1))
    higher = seller if ps > pb else buyer
    return tr("mainly the price: {country} values the flow at a higher price (US$ {seller_p} vs {buyer_p} per kg)").format(
        country=higher, seller_p=tr.number(ps, 0), buyer_p=tr.number(pb, 0))


def joint_total_draws(draws: dict[tuple[str, str], dict[tuple, np.ndarray]], key: tuple = ("all", "total"),
                      countries: set[str] | None = None) -> dict[str, np.ndarray]:
    """Each country's total over its markets, draw by draw (arrays draws x years), and the total over
    the countries (``"all"``): aggregates computed from joint draws, whose percentiles are
    percentiles of the total, not sums of the parts' bounds.

    ``draws``: each chapter's draws, by (country, market). Draw *i* of every chapter uses the same
    uniforms for the inputs drawn together (:func:`~methods.model.uncertainty.draw_keys`); the
    chapters must have the same number of draws (the smallest is used otherwise).
    """
    out: dict[str, np.ndarray] = {}
    chosen = {k: d[key] for k, d in draws.items() if key in d and (countries is None or k[0] in countries)}
    if not chosen:
        return out
    n = min(a.shape[0] for a in chosen.values())
    for (country, _market), a in sorted(chosen.items()):
        out[country] = out.get(country, 0.0) + a[:n]
    out["all"] = sum(out[c] for c in sorted(out))
    return out


def summarise_draws(draws: np.ndarray, q=(5, 50, 95)) -> np.ndarray:
    """Percentiles over draws (axis 0): shape (len(q), years)."""
    return np.percentile(np.asarray(draws, dtype=float), q, axis=0)


def _side_draws(draws: dict, country: str, market: str, product: str, direction: str, partner: str):
    chapter = draws.get((country, market))
    if chapter is None:
        return None
    parts = [a for k, a in chapter.items() if len(k) == 4 and k[0] == "value" and k[2] == direction and k[3] == partner
             and (market == "smuggling" or k[1] == product)]
    return sum(parts) if parts else None


def reconciled_intervals_from_draws(pairs: pd.DataFrame, draws: dict, years: dict[str, list[int]]) -> pd.DataFrame:
    """The reconciled flows' 90% intervals computed draw by draw, where both sides' draws are kept:
    :math:`V^*_i = \\exp(a \\ln V_{s,i} + (1-a) \\ln V_{b,i})` with the seller's weight *a* of
    :func:`reconcile`. Draw *i* of the two chapters shares the draws of the inputs drawn together,
    so a correlation between the two sides widens the interval as it should. Rows without both
    sides' draws keep their analytic interval. ``years``: each country's model years."""
    out = pairs.copy()
    for idx, r in pairs.iterrows():
        if not str(r["rule"]).startswith("both"):
            continue
        s = _side_draws(draws, r["seller"], r["market"], r["product"], "inward", r["buyer"])
        b = _side_draws(draws, r["buyer"], r["market"], r["product"], "outward", r["seller"])
        if s is None or b is None or r["year"] not in years.get(r["seller"], []) or r["year"] not in years.get(r["buyer"], []):
            continue
        n = min(len(s), len(b))
        vs = s[:n, years[r["seller"]].index(r["year"])]
        vb = b[:n, years[r["buyer"]].index(r["year"])]
        a = float(r["seller_weight"])
        v = weighted_log_mean(vs, a, vb, 1 - a)
        out.loc[idx, ["reconciled_p05_usd", "reconciled_p95_usd"]] = np.percentile(v, [5, 95])
    return out
