"""Each estimation function against values computed by hand from its formula."""
import numpy as np
import pytest

from conftest import REPO
from methods.model import accounting, smuggling
from methods.model.drugs import balance, demand, prices, supply, valuation


# ----- supply ----------------------------------------------------------------------------------

def test_coca_leaf_is_area_times_yield():
    # 12,000 ha x 5 t/ha = 60,000 t
    assert supply.coca_leaf_t(12_000, 5.0) == 60_000


def test_opium_gum_is_area_times_gum_yield():
    # 28,000 ha x 16.1 kg/ha = 450,800 kg (UNODC-Mexico 2017-18 reported about 450 t)
    assert supply.opium_gum_kg(28_000, 16.1) == pytest.approx(450_800)


def test_next_stage_converts_processed_quantity():
    # 58,000 t of illicit leaf at 1.145 kg pure cocaine per tonne = 66,410 kg
    assert supply.next_stage_kg(58_000, 1.145) == pytest.approx(66_410)
    # 450,000 kg of gum at 1 kg of heroin per 10 kg of gum
    assert supply.next_stage_kg(450_000, 0.1) == pytest.approx(45_000)


def test_supply_functions_broadcast_over_draws():
    area = np.array([[10.0, 20.0], [30.0, 40.0]])  # 2 draws x 2 years
    assert supply.coca_leaf_t(area, 2.0).tolist() == [[20.0, 40.0], [60.0, 80.0]]


# ----- demand and seizures -------------------------------------------------------------------------

def test_consumption_is_users_times_grams():
    users = demand.past_year_users(34_000_000, 0.006)  # 204,000 users
    assert users == pytest.approx(204_000)
    # 204,000 users x 15 g = 3,060,000 g = 3,060 kg
    assert demand.consumption_pure_kg(users, 15) == pytest.approx(3_060)


def test_seizures_are_purity_adjusted():
    # 428,000 kg seized at 70% purity = 299,600 kg pure
    assert demand.seizures_pure_kg(428_000, 0.7) == pytest.approx(299_600)


def test_losses_are_a_share_of_supply():
    assert demand.losses_kg(0.05, 1_137_000) == pytest.approx(56_850)


# ----- prices --------------------------------------------------------------------------------------

def test_price_conversion_to_dollars_and_pure():
    usd = prices.price_usd_per_kg(7_000_000, 2_951.33)  # COP 7 million at the 2017 rate
    assert usd == pytest.approx(2_371.81, abs=0.01)
    assert prices.price_usd_per_pure_kg(2_000, 0.8) == pytest.approx(2_500)


def test_transaction_price_mixes_home_and_abroad():
    # 75% sold at home at 2,500, 25% abroad at 25,000 per pure kg
    assert prices.transaction_price_usd_per_pure_kg(2_500, 25_000, 0.25) == pytest.approx(8_125)
    assert prices.transaction_price_usd_per_pure_kg(2_500, 25_000, 0.0) == pytest.approx(2_500)
    assert prices.transaction_price_usd_per_pure_kg(2_500, 25_000, 1.0) == pytest.approx(25_000)


# ----- balance ---------------------------------------------------------------------------------------

def test_supply_is_production_plus_imports_plus_inflow():
    assert balance.supply_kg(100, 20, 5) == 125


def test_residual_never_negative_and_discrepancy_closes_the_gap():
    residual, discrepancy = balance.residual_and_discrepancy(np.array([100.0, 50.0]), np.array([60.0, 80.0]))
    assert residual.tolist() == [40.0, 0.0]
    assert discrepancy.tolist() == [0.0, 30.0]
    # identity: supply + discrepancy = uses + residual
    assert (np.array([100.0, 50.0]) + discrepancy == np.array([60.0, 80.0]) + residual).all()


def test_losses_given_uses_equal_the_loss_share_of_the_implied_supply():
    x, s, c, lam = 250_000.0, 10_000.0, 5_000.0, 0.05
    losses = balance.losses_given_uses_kg(lam, x, s, c)
    # lambda/(1-lambda) * (X+S+C) = 0.05/0.95 * 265,000
    assert losses == pytest.approx(13_947.368, rel=1e-6)
    assert losses == pytest.approx(lam * (x + s + c + losses))


def test_route_quantity_normalises_shares():
    assert balance.route_quantity(1_000, 0.6, 1.0) == pytest.approx(600)
    # shares drawn to 0.7 and 0.5 (sum 1.2): the first route carries 0.7/1.2 of the flow
    assert balance.route_quantity(1_200, 0.7, 1.2) == pytest.approx(700)


def test_flow_from_base():
    # a third of Colombia's 1,137 t transits Ecuador
    assert balance.flow_from_base_kg(1_137_000, 1 / 3) == pytest.approx(379_000)
    # US seizures of 41,396 kg, 90% Mexican-made, are a fifth of the supply
    assert balance.flow_from_base_kg(41_396, 0.9, 0.2) == pytest.approx(186_282)


def test_transit_quantities_by_hand():
    # 1,000 kg enter, 40 per cent stays foreign-owned: 400 kg in transit
    assert balance.transit_in_kg(1_000, 0.4) == pytest.approx(400)
    # 90 kg seized where 600 kg of own drug and 400 kg in transit are present: 36 kg of it in transit
    assert balance.transit_part(90, 600, 400) == pytest.approx(36)
    assert balance.transit_part(90, 0, 0) == 0  # nothing present: nothing falls on the transit
    # what leaves: 400 - 36 seized - 20 lost
    assert balance.transit_out_kg(400, 36, 20) == pytest.approx(344)
    assert balance.transit_out_kg(10, 36, 20) == 0  # never negative


# ----- valuation ---------------------------------------------------------------------------------------

def test_cross_border_value_is_quantity_times_price():
    assert valuation.cross_border_value_usd(22_710, 8_125) == pytest.approx(184_518_750)


def test_precursor_imports():
    qty = valuation.precursor_quantity(51_000, 0.5)  # 25,500 kg of oxidant
    assert qty == pytest.approx(25_500)
    # half bought abroad at US$10/kg
    assert valuation.precursor_imports_usd(qty, 0.5, 10) == pytest.approx(127_500)


def test_value_added_and_totals():
    assert valuation.value_added_usd(valuation.gross_output_usd(42_000, 1_875), 67_410_000) == pytest.approx(11_340_000)
    assert valuation.total_iff_usd(300.0, 100.0) == 400.0
    assert valuation.net_iff_usd(300.0, 100.0) == 200.0


# ----- smuggling -----------------------------------------------------------------------------------------

def test_smuggling_chain_by_hand():
    persons = smuggling.persons_apprehended(12_500, 1.25)
    assert persons == pytest.approx(10_000)
    journeys = smuggling.smuggled_journeys(persons, 2.0)
    assert journeys == pytest.approx(20_000)
    paying = smuggling.paying_migrants(journeys, 0.75)
    assert paying == pytest.approx(15_000)
    fees = smuggling.smuggling_fees_usd(paying, 5_000)
    assert fees == pytest.approx(75_000_000)
    assert smuggling.fee_payment_usd(fees, 0.3, 0.6) == pytest.approx(13_500_000)


def test_normalised_shares():
    assert smuggling.normalised_share(0.2, 0.8) == pytest.approx(0.25)


def test_payer_residence_follows_the_place_of_payment():
    assert smuggling.payer_residence("origin", "GTM", "USA") == "GTM"
    assert smuggling.payer_residence("transit", "GTM", "USA") == "GTM"  # migrants stay residents of their origin
    assert smuggling.payer_residence("destination", "GTM", "USA") == "USA"


# ----- residence rules ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("payer,payee,expected", [
    ("USA", "MEX", "inward"),     # relatives in the US pay a smuggler resident in Mexico
    ("MEX", "USA", "outward"),    # a Mexican resident pays a smuggler resident in the US
    ("MEX", "MEX", "domestic"),
    ("GTM", "USA", None),          # neither party is resident in Mexico
])
def test_flow_direction_for_mexico(payer, payee, expected):
    assert accounting.flow_direction("MEX", payer, payee) == expected


def test_payment_at_destination_to_transit_smuggler_is_a_mirror_pair():
    # paid in the destination (USA) to a smuggler resident in the transit country (MEX)
    payer = smuggling.payer_residence("destination", "GTM", "USA")
    assert accounting.flow_direction("MEX", payer, "MEX") == "inward"
    assert accounting.flow_direction("USA", payer, "MEX") == "outward"
    assert accounting.mirror_direction("inward") == "outward"


def test_discrepancy_share():
    assert accounting.discrepancy_share(150.0, 50.0) == pytest.approx(1.0)
    assert accounting.discrepancy_share(0.0, 0.0) == 0.0


# ----- the methodology chapters quote the docstrings -------------------------------------------

def _normalised_tex(text: str) -> str:
    """TeX without spacing commands and spaces, so that layout differences do not count."""
    import re

    return re.sub(r"\\[,;!]|\\qquad|\\quad|\s", "", text)


@pytest.mark.parametrize("chapter, modules", [
    ("drugs", [supply, demand, balance, prices, valuation, accounting]),
    ("smuggling", [smuggling, accounting]),
])
def test_each_formula_in_the_methodology_chapter_is_the_docstring_of_the_function_named(chapter, modules):
    import inspect
    import re
    from pathlib import Path

    text = (REPO / "book" / "methodology" / f"{chapter}.md").read_text()
    named = set(re.findall(r"`(\w+)`", text))
    body = _normalised_tex(text)
    checked, missing = 0, []
    for module in modules:
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ != module.__name__ or name not in named:
                continue
            for formula in re.findall(r"\.\. math:: (.+)", func.__doc__ or ""):
                checked += 1
                if _normalised_tex(formula) not in body:
                    missing.append(f"{name}: {formula}")
    assert checked >= (15 if chapter == "drugs" else 5)
    assert not missing, f"book/methodology/{chapter}.md does not show: " + "; ".join(missing)


def test_the_chapters_compare_total_iffs_with_gdp():
    from methods.model.chapter.tables import gdp_share_sentence

    # US$ 5.27 billion against a GDP of US$ 323 billion: 100 x 5.27 / 323 = 1.63%
    assert "**1.63% of Colombia's GDP** in 2019" in gdp_share_sentence("Colombia", 2019, 5.27e9, 323e9)
    assert "not compared with GDP" in gdp_share_sentence("Ruritania", 2019, 1e6, None)


# ----- the national teams' requests: ladders, FOB, heroin from gum, services, retail ----------------------

def test_heroin_from_gum_through_its_morphine():
    # 16.2% morphine, 48% turned into heroin, 369.4 / 285.3 heavier: 0.162 x 0.48 x 1.294777 = 0.100682 kg per kg
    assert supply.heroin_per_kg_gum(0.162, 0.48) == pytest.approx(0.162 * 0.48 * 369.4 / 285.3)
    assert supply.heroin_per_kg_gum(0.162, 0.48) == pytest.approx(0.1006819, rel=1e-6)


def test_ladder_price_weights_the_rungs_where_ownership_passes():
    # 0.5 x 1,000 + 0.3 x 2,000 + 0.2 x 4,000 = 1,900
    assert prices.ladder_price_usd_per_pure_kg([1000, 2000, 4000], [0.5, 0.3, 0.2]) == pytest.approx(1900)
    # shares that do not sum to one are normalised: 1 x 1,000 + 1 x 3,000 over 2
    assert prices.ladder_price_usd_per_pure_kg([1000, 3000], [1, 1]) == pytest.approx(2000)
    # all shares at zero (a scenario at its low bounds): the rungs count equally
    assert prices.ladder_price_usd_per_pure_kg([1000, 3000], [0.0, 0.0]) == pytest.approx(2000)
    # with two rungs it is the home/abroad mix
    assert prices.ladder_price_usd_per_pure_kg([2500, 25000], [0.75, 0.25]) == pytest.approx(
        prices.transaction_price_usd_per_pure_kg(2500, 25000, 0.25))


def test_fob_rule_adds_a_tenth_of_the_gap_to_the_destination():
    # 7,000 + 0.1 x (35,000 - 7,000) = 9,800
    assert prices.fob_price_usd_per_pure_kg(7000, 35000, 0.1) == pytest.approx(9800)


def test_services_are_paid_per_kilogram_carried():
    # 1,000 pure kg, half of it moved by the service, carried at 80% purity: 625 kg x US$50 = 31,250
    assert valuation.service_payments_usd(1000, 0.5, 50, 0.8) == pytest.approx(31_250)


def test_retail_market_from_users_days_and_grams():
    grams = demand.retail_grams(1000, 0.1, 100, 1.0)  # 1,000 users x 10% x 100 days x 1 g
    assert grams == pytest.approx(10_000)
    assert demand.retail_pure_kg(grams, 0.4) == pytest.approx(4.0)  # 10,000 g x 0.4 / 1,000
    assert demand.retail_spending_usd(grams, 20) == pytest.approx(200_000)
