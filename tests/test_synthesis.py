"""Mirror flows and the SDMX layout on small tables written by hand."""
import pandas as pd
import pytest

from methods.build.export import results_table, sdmx_csv_table
from methods.model.network import mirror_pairs


def flows(rows):
    cols = ["country", "partner", "market", "product", "direction", "year", "value_usd", "quantity"]
    return pd.DataFrame(rows, columns=cols)


def test_a_sale_and_the_mirror_purchase_are_paired():
    f = flows([
        ("COL", "MEX", "drugs", "cocaine_hcl", "inward", 2019, 3_000.0, 1.0),    # Colombia sells 1 kg for 3,000
        ("MEX", "COL", "drugs", "cocaine_hcl", "outward", 2019, 2_000.0, 1.0),   # Mexico records buying it for 2,000
        ("MEX", "USA", "drugs", "cocaine_hcl", "inward", 2019, 9_000.0, 1.0),    # the US is not modelled
    ])
    pairs = mirror_pairs(f, {"COL", "MEX"})
    assert len(pairs) == 1
    p = pairs.iloc[0]
    assert (p.inward_country, p.outward_country) == ("COL", "MEX")
    assert p.value_usd_inward_side == 3_000 and p.value_usd_outward_side == 2_000
    assert p.discrepancy_usd == 1_000
    assert p.discrepancy_share == pytest.approx(1_000 / 2_500)
    assert p.reason.startswith("mainly the price: COL")  # same quantity, different price


def test_a_flow_modelled_on_one_side_is_reported_with_its_reason():
    f = flows([("ECU", "MEX", "drugs", "cocaine_hcl", "inward", 2019, 500.0, 1.0)])
    p = mirror_pairs(f, {"ECU", "MEX"}).iloc[0]
    assert pd.isna(p.value_usd_outward_side)
    assert p.reason == "not modelled by MEX (no purchase from ECU in its parameter file)"


def test_quantity_gap_is_named():
    f = flows([
        ("COL", "ECU", "drugs", "cocaine_hcl", "inward", 2019, 4_000.0, 2_000.0),
        ("ECU", "COL", "drugs", "cocaine_hcl", "outward", 2019, 2_000.0, 1_000.0),
    ])
    assert mirror_pairs(f, {"COL", "ECU"}).iloc[0].reason.startswith("mainly the quantity: COL")


def test_sdmx_layout():
    rows = [dict(country="COL", ref_area=170, year=2019, market="drugs", drug="cocaine", product="all", label="all products",
                 direction=d, scenario="central", value_usd=v, low_usd=lo, median_usd=v, high_usd=hi, unit="USD",
                 status="estimated", sources="a;b") for d, v, lo, hi in (("inward", 6.0, 5.0, 8.0), ("outward", 4.0, 3.0, 5.0),
                                                                          ("total", 10.0, 8.0, 13.0))]
    rows.append(dict(rows[0], market="smuggling", value_usd=float("nan"), low_usd=float("nan"), median_usd=float("nan"),
                     high_usd=float("nan"), status="not estimated", sources=""))
    sdmx = sdmx_csv_table(results_table(pd.DataFrame(rows)))
    # the two SDG series of indicator 16.4.1; the total is their sum and is not repeated
    assert sorted(sdmx.SERIES) == ["DI_ILL_IN", "DI_ILL_IN", "DI_ILL_OUT"]
    first = sdmx[(sdmx.SERIES == "DI_ILL_IN") & (sdmx.ACTIVITY == "DRUG_TRAFFICKING")].iloc[0]
    assert first.REF_AREA == "170" and first.TIME_PERIOD == 2019 and first.PRODUCT == "_T"
    assert first.UNIT_MEASURE == "USD"  # current US dollars, not CON_USD (constant)
    assert (first.OBS_VALUE, first.LOWER_BOUND, first.UPPER_BOUND, first.OBS_STATUS) == (6.0, 5.0, 8.0, "A")
    missing = sdmx[sdmx.ACTIVITY == "SMUGGLING_MIGRANTS"].iloc[0]
    assert missing.OBS_STATUS == "M" and pd.isna(missing.OBS_VALUE)  # not estimated: no value, never zero
