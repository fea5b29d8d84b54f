"""The regional network (own and reconciled mirror flows) and the SDMX layout, on small tables written by hand."""
import math

import pandas as pd
import pytest

from methods.build.export import results_table, sdmx_csv_table
from methods.model.network import Z90, reconcile, reconciled_flows, reconciled_totals

COLS = ["country", "partner", "market", "product", "direction", "year", "value_usd", "mc_p05_usd", "mc_p95_usd",
        "quantity_kg", "quantity_p05_kg", "quantity_p95_kg"]


def partners(rows):
    return pd.DataFrame(rows, columns=COLS)


def test_two_own_estimates_are_reconciled_by_their_precision():
    # Colombia: 3,000 (90% interval 1,500-6,000); Mexico: 2,000 (1,000-4,000): the same spread in
    # logs (ln 4 / 3.29), so equal weights, and the reconciled value is the geometric mean.
    f = partners([
        ("COL", "MEX", "drugs", "cocaine_hcl", "inward", 2019, 3_000.0, 1_500.0, 6_000.0, 1.0, 0.5, 2.0),
        ("MEX", "COL", "drugs", "cocaine_hcl", "outward", 2019, 2_000.0, 1_000.0, 4_000.0, 1.0, 0.8, 1.25),
        ("MEX", "USA", "drugs", "cocaine_hcl", "inward", 2019, 9_000.0, 8_000.0, 10_000.0, 1.0, 1.0, 1.0),  # not modelled
    ])
    pairs = reconcile(f, {"COL", "MEX"})
    assert len(pairs) == 1
    p = pairs.iloc[0]
    assert (p.seller, p.buyer) == ("COL", "MEX")
    assert p.seller_weight == pytest.approx(0.5)
    assert p.reconciled_usd == pytest.approx(math.sqrt(3_000 * 2_000))
    # quantities: Mexico's interval is narrower (ln 1.5625 vs ln 4), so it weighs more
    ws, wb = 1 / (math.log(4) / (2 * Z90)) ** 2, 1 / (math.log(1.5625) / (2 * Z90)) ** 2
    assert p.reconciled_kg == pytest.approx(1.0)  # both say 1 kg
    sigma = 1 / math.sqrt(2 * ws)
    assert p.reconciled_p05_usd == pytest.approx(p.reconciled_usd * math.exp(-Z90 * sigma))
    assert not p.disagree  # the intervals overlap
    assert p.reason.startswith("mainly the price: Colombia")  # same quantity, different price
    assert wb > ws
    # the seller's inward flow and the buyer's outward flow are the same number
    both = reconciled_flows(pairs)
    assert both.set_index("country").loc["COL", "value_usd"] == both.set_index("country").loc["MEX", "value_usd"]


def test_the_more_precise_side_weighs_more_and_an_observed_side_takes_precedence():
    f = partners([
        ("COL", "ECU", "drugs", "cocaine_hcl", "inward", 2019, 4_000.0, 2_000.0, 8_000.0, 2_000.0, 1_000.0, 4_000.0),
        ("ECU", "COL", "drugs", "cocaine_hcl", "outward", 2019, 2_000.0, 1_800.0, 2_200.0, 1_000.0, 1_000.0, 1_000.0),
    ])
    p = reconcile(f, {"COL", "ECU"}).iloc[0]
    ws = 1 / (math.log(4) / (2 * Z90)) ** 2
    wb = 1 / (math.log(2_200 / 1_800) / (2 * Z90)) ** 2
    assert p.seller_weight == pytest.approx(ws / (ws + wb))
    assert p.reconciled_usd == pytest.approx(math.exp((ws * math.log(4_000) + wb * math.log(2_000)) / (ws + wb)))
    assert p.reconciled_kg == pytest.approx(1_000.0, rel=1e-9)  # Ecuador's quantity has no spread: it is observed
    assert not p.disagree  # 2,000-8,000 and 1,800-2,200 overlap
    assert p.reason.startswith("mainly the quantity: Colombia")


def test_a_flow_modelled_on_one_side_is_imputed_to_the_other_and_totals_follow():
    f = partners([("ECU", "MEX", "drugs", "cocaine_hcl", "inward", 2019, 500.0, 400.0, 600.0, 50.0, 40.0, 60.0)])
    p = reconcile(f, {"ECU", "MEX"}).iloc[0]
    assert pd.isna(p.value_usd_buyer) and p.reconciled_usd == 500.0 and p.rule.startswith("seller only")
    assert p.reason == "not modelled by Mexico (no purchase from Ecuador in its parameter file)"
    own = pd.DataFrame([("ECU", "drugs", "inward", 2019, 900.0), ("ECU", "drugs", "outward", 2019, 100.0),
                        ("MEX", "drugs", "inward", 2019, 5_000.0), ("MEX", "drugs", "outward", 2019, 1_000.0)],
                       columns=["country", "market", "direction", "year", "value_usd"])
    t = reconciled_totals(own, reconcile(f, {"ECU", "MEX"})).set_index(["country", "direction"])
    assert t.loc[("ECU", "inward"), "reconciled_usd"] == 900.0  # Ecuador's own side is the reconciled one
    assert t.loc[("MEX", "outward"), "reconciled_usd"] == 1_500.0  # Mexico gains the imputed purchase
    assert t.loc[("MEX", "total"), "reconciled_usd"] == 6_500.0


def test_sdmx_layout():
    rows = [dict(country="COL", ref_area=170, year=2019, market="drugs", drug="cocaine", product="all", label="all products",
                 direction=d, scenario="central", value_usd=v, mc_p05_usd=lo, mc_median_usd=v, mc_p95_usd=hi, unit="USD",
                 status="estimated", sources="a;b") for d, v, lo, hi in (("inward", 6.0, 5.0, 8.0), ("outward", 4.0, 3.0, 5.0),
                                                                          ("total", 10.0, 8.0, 13.0))]
    rows.append(dict(rows[0], market="smuggling", value_usd=float("nan"), mc_p05_usd=float("nan"), mc_median_usd=float("nan"),
                     mc_p95_usd=float("nan"), status="not estimated", sources=""))
    sdmx = sdmx_csv_table(results_table(pd.DataFrame(rows)))  # own basis, all partners
    # the two SDG series of indicator 16.4.1; the total is their sum and is not repeated
    assert sorted(sdmx.SERIES) == ["DI_ILL_IN", "DI_ILL_IN", "DI_ILL_OUT"]
    first = sdmx[(sdmx.SERIES == "DI_ILL_IN") & (sdmx.ACTIVITY == "DRUG_TRAFFICKING")].iloc[0]
    assert first.REF_AREA == "170" and first.TIME_PERIOD == 2019 and first.PRODUCT == "_T"
    assert first.UNIT_MEASURE == "USD"  # current US dollars, not CON_USD (constant)
    assert (first.OBS_VALUE, first.LOWER_BOUND, first.UPPER_BOUND, first.OBS_STATUS) == (6.0, 5.0, 8.0, "A")
    missing = sdmx[sdmx.ACTIVITY == "SMUGGLING_MIGRANTS"].iloc[0]
    assert missing.OBS_STATUS == "M" and pd.isna(missing.OBS_VALUE)  # not estimated: no value, never zero
