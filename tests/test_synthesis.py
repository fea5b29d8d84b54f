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
    summary = pd.DataFrame([dict(country="COL", ref_area=170, year=2019, market="drugs", drug="cocaine",
                                 product="all", direction="total", scenario="central", value_usd=10.0, low_usd=8.0,
                                 median_usd=10.5, high_usd=13.0, unit="USD", sources="a;b")])
    sdmx = sdmx_csv_table(results_table(summary)).iloc[0]
    assert sdmx.REF_AREA == "170" and sdmx.TIME_PERIOD == 2019 and sdmx.ACTIVITY == "DRUG_TRAFFICKING"
    assert sdmx.PRODUCT == "_T" and sdmx.FLOW == "TOTAL" and sdmx.UNIT_MEASURE == "USD"
    assert (sdmx.OBS_VALUE, sdmx.LOWER_BOUND, sdmx.UPPER_BOUND) == (10.0, 8.0, 13.0)
