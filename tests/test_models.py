"""The composed models: the training country by hand, and identities for every country."""
from pathlib import Path

import numpy as np
import pytest

from methods.model.drugs import evaluate_drug_market
from methods.model.inputs import central_values
from methods.model.params import bib_keys, load_country
from methods.model.results import evaluate_market, market_totals, totals
from methods.model.smuggling import evaluate_smuggling_market
from methods.model.uncertainty import Prepared

from conftest import REPO
BIB = bib_keys(REPO / "book" / "references.bib")
COUNTRIES = sorted(p.stem for p in (REPO / "parameters").glob("*.yml"))


def load(iso):
    return load_country(REPO / "parameters" / f"{iso}.yml", BIB)


@pytest.fixture(scope="module")
def xru():
    cf = load("XRU")
    return cf, central_values(cf)


def test_training_country_cocaine_chain_by_hand(xru):
    cf, v = xru
    chain = evaluate_drug_market(cf.markets.drugs, v).chains["cocaine"]
    leaf, paste, hcl = (chain.balances[s] for s in ("coca_leaf", "coca_paste_base", "cocaine_hcl"))
    # 2018: 10,000 ha x 5 t/ha; 2,000 t licit; 1 kg per t
    assert leaf.production.tolist() == [50_000, 60_000]
    assert leaf.outflow.tolist() == [48_000, 58_000]
    # paste: 10% exported, 2,000 kg x 0.5 seized, 10M x 0.002 x 10 g consumed
    assert paste.exports.tolist() == pytest.approx([4_800, 5_800])
    assert paste.seizures.tolist() == pytest.approx([1_000, 1_000])
    assert paste.consumption.tolist() == pytest.approx([200, 200])
    assert paste.outflow.tolist() == pytest.approx([42_000, 51_000])
    # hydrochloride: 5% lost, 10,000 kg x 0.8 seized, 10M x 0.005 x 20 g consumed, the rest exported
    assert hcl.losses.tolist() == pytest.approx([2_100, 2_550])
    assert hcl.seizures.tolist() == pytest.approx([8_000, 9_600])
    assert hcl.consumption.tolist() == pytest.approx([1_000, 1_000])
    assert hcl.exports.tolist() == pytest.approx([30_900, 37_850])


def test_training_country_iffs_by_hand(xru):
    cf, v = xru
    res = evaluate_drug_market(cf.markets.drugs, v)
    flows = {(f.product, f.route): f for f in res.flows}
    bord = flows[("cocaine_hcl", "borduria")]
    # 60% of 30,900 kg; 0.75 x 2,000/0.8 + 0.25 x 20,000/0.8 = 8,125 $/kg
    assert bord.quantity[0] == pytest.approx(18_540)
    assert bord.price_usd[0] == pytest.approx(8_125)
    assert bord.value_usd[0] == pytest.approx(150_637_500)
    # paste: XTS 1,600 at 2.0 XTS/USD = $800, /0.5 = 1,600; abroad 1,200/0.5 = 2,400; half each
    paste = flows[("coca_paste_base", "borduria")]
    assert paste.price_usd.tolist() == pytest.approx([2_000, 2_000])  # 2018 rate kept for 2019
    # oxidant: 0.5 kg per kg of the 42,000 kg processed, half imported at $10
    assert flows[("cocaine_chemicals", "permanganate")].value_usd[0] == pytest.approx(105_000)
    t = totals(res.flows, "XRU", len(cf.years))
    assert t[("all", "inward")][0] == pytest.approx(9_600_000 + 150_637_500 + 61_800_000)
    assert t[("all", "outward")][0] == pytest.approx(105_000)


def test_training_country_smuggling_by_hand(xru):
    cf, v = xru
    res = evaluate_smuggling_market(cf.markets.smuggling, v)
    syl = res.corridors["syldavians_through_ruritania"]
    # 10,000 / 1.25 x 2 x 0.75 x $5,000 = $60 million; 60% to Ruritanian smugglers, no Ruritanian payer
    assert syl.fees_usd[0] == pytest.approx(60_000_000)
    assert syl.total("XRU", "inward")[0] == pytest.approx(36_000_000)
    # smugglers' costs: 12,000 paying migrants x $200 route fee paid by Ruritanian smugglers to a
    # Bordurian gang = $2.4 million, outward; 10% of the $60 million of fees spent on Ruritanian
    # trucks and drivers = $6 million, domestic
    costs = {k.route: k for k in syl.costs}
    assert costs["route_fee"].value_usd[0] == pytest.approx(2_400_000)
    assert (costs["route_fee"].payer, costs["route_fee"].payee) == ("XRU", "XBO")
    assert costs["trucks_and_drivers"].value_usd[0] == pytest.approx(6_000_000)
    assert syl.total("XRU", "outward")[0] == pytest.approx(2_400_000)
    assert syl.total("XRU", "domestic")[0] == pytest.approx(6_000_000)  # no fee has a Ruritanian payer
    # the route fee is Borduria's inward flow: fees paid by Syldavians at home or in transit to
    # Bordurian smugglers (60 x 0.7 x 0.2 = $8.4 million) plus the gang's $2.4 million
    assert syl.total("XBO", "inward")[0] == pytest.approx(8_400_000 + 2_400_000)
    rur = res.corridors["ruritanians_to_borduria"]
    # 4,000 x 1.5 x 0.5 = 3,000 paying x XTS 4,000 / 2.0 = $6 million
    assert rur.fees_usd[0] == pytest.approx(6_000_000)
    assert rur.total("XRU", "outward")[0] == pytest.approx(6_000_000 * 0.6 * 0.3)   # paid at home to Bordurians
    assert rur.total("XRU", "inward")[0] == pytest.approx(6_000_000 * 0.4 * 0.7)    # paid by Bordurian relatives
    assert rur.total("XRU", "domestic")[0] == pytest.approx(6_000_000 * 0.6 * 0.7)
    # in Borduria's accounts the same payments are mirrored
    assert rur.total("XBO", "inward")[0] == pytest.approx(rur.total("XRU", "outward")[0])
    assert rur.total("XBO", "outward")[0] == pytest.approx(rur.total("XRU", "inward")[0])


@pytest.mark.parametrize("iso", COUNTRIES)
def test_every_parameter_file_validates(iso):
    cf = load(iso)
    assert cf.country == iso


@pytest.mark.parametrize("iso", COUNTRIES)
def test_balance_identity_every_country_year_and_draw(iso):
    cf = load(iso)
    if cf.markets.drugs is None:
        pytest.skip("no drug market")
    prepared = Prepared.from_file(cf)
    for values in (prepared.central, prepared.sample(500, 1, prepared.central, ("markets", "drugs"))):
        res = evaluate_drug_market(cf.markets.drugs, values)
        for chain in res.chains.values():
            for stage, b in chain.balances.items():
                supply, uses = b.supply(), b.uses()
                assert np.allclose(supply, uses, rtol=1e-9, atol=1e-6), f"{iso} {stage}"
                for item, arr in b.items().items():
                    if item != "discrepancy":
                        assert (arr >= -1e-9).all(), f"{iso} {stage} {item} negative"


@pytest.mark.parametrize("iso", COUNTRIES)
def test_totals_are_inward_plus_outward(iso):
    cf = load(iso)
    v = central_values(cf)
    for market in cf.market_names():
        if market == "smuggling" and not cf.markets.smuggling.corridors:
            continue
        t = market_totals(cf, market, v)
        for product, flow in t:
            if flow == "total":
                assert np.allclose(t[(product, "total")], t[(product, "inward")] + t[(product, "outward")])
        assert np.allclose(t[("all", "inward")], sum(a for (p, f), a in t.items() if f == "inward" and p != "all"))


def test_value_in_local_currency_uses_the_rate_of_its_own_year():
    cf = load("COL")
    v = central_values(cf)
    route = cf.markets.drugs.chains["cocaine"].stages["cocaine_hcl"].exports.routes["central_america_mexico"]
    fx = v.fx_for(route.ladder["exit_point"].price)
    assert fx.tolist() == pytest.approx([2951.33] * 5)  # a 2017 price: the 2017 rate every year


# ----- income by stage, chemicals, services, not estimated -----------------------------------------------

@pytest.mark.parametrize("iso", ["COL", "PER", "MEX", "XRU"])
def test_no_stage_adds_more_value_than_it_sells_and_legal_leaf_is_not_illicit_income(iso):
    from methods.model.drugs.chain import income_aggregates

    cf = load(iso)
    res = evaluate_drug_market(cf.markets.drugs, central_values(cf))
    for chain in res.chains.values():
        for row in chain.value_chain:
            assert (row.value_added_usd <= row.gross_output_usd + 1e-6).all(), (iso, row.stage)
            assert (row.intermediate_consumption_usd >= 0).all()
            if row.stage == "coca_leaf":  # only the leaf that goes to the illicit chain is output
                b = chain.balances["coca_leaf"]
                assert row.quantity == pytest.approx(b.production - b.licit_use)
        agg = income_aggregates(chain.value_chain)
        assert agg["value_added_usd"] == pytest.approx(sum(r.value_added_usd for r in chain.value_chain))


def test_training_country_leaf_income_excludes_traditional_use(xru):
    cf, v = xru
    leaf = next(r for r in evaluate_drug_market(cf.markets.drugs, v).chains["cocaine"].value_chain if r.stage == "coca_leaf")
    # (50,000 - 2,000) t x US$1 per kg: 48 million, not 50
    assert leaf.gross_output_usd[0] == pytest.approx(48_000_000)


@pytest.mark.parametrize("iso", ["COL", "PER", "MEX"])
def test_real_countries_have_chemical_inputs_above_zero_in_every_year(iso):
    cf = load(iso)
    _, records = evaluate_market(cf, "drugs", central_values(cf))
    chemicals = [r for r in records if r.component == "precursors"]
    assert chemicals
    total = sum(r.value_usd for r in chemicals)
    assert (np.asarray(total) > 0).all()
    for r in chemicals:  # quantity x imported share x price, by hand
        assert r.value_usd == pytest.approx(r.quantity * r.detail["imported_share"] * r.price_usd)


def test_a_flow_listed_as_a_data_gap_is_not_estimated_never_zero():
    from methods.model.results import summary_frame

    cf = load("MEX")
    summary = summary_frame(cf, "drugs", Prepared.from_file(cf), 200, 1)
    gap = summary[(summary["product"] == "methamphetamine_chemicals") & (summary["direction"] == "outward")]
    assert len(gap) and (gap["status"] == "not estimated").all() and gap["value_usd"].isna().all()
    totals_rows = summary[(summary["product"] == "all") & (summary["direction"].isin(["outward", "total"]))]
    assert (totals_rows["status"] == "partial: excludes flows not estimated").all()
    assert not ((summary["status"] == "not estimated") & (summary["value_usd"] == 0)).any()


def test_peru_estimates_paste_consumption_from_prevalence():
    cf = load("PER")
    res = evaluate_drug_market(cf.markets.drugs, central_values(cf))
    paste = res.chains["cocaine"].balances["coca_paste_base"]
    st = cf.markets.drugs.chains["cocaine"].stages["coca_paste_base"]
    expected = (cf.markets.drugs.population.value * st.consumption.prevalence.value * st.consumption.grams_per_user.value / 1000)
    assert paste.consumption == pytest.approx([expected] * 5)
    assert (paste.exports > 0).all()  # base flown to Bolivia


def test_retail_triangulation_is_set_beside_the_balance():
    from methods.model.chapter.tables import retail_table

    cf = load("MEX")
    chain = evaluate_drug_market(cf.markets.drugs, central_values(cf)).chains["cocaine"]
    estimate = chain.retail["cocaine_hcl"]
    retail = cf.markets.drugs.chains["cocaine"].stages["cocaine_hcl"].retail
    users = cf.markets.drugs.population.value * retail.prevalence.value
    shares = {k: t.share_of_users.value for k, t in retail.user_types.items()}
    grams = sum(users * shares[k] / sum(shares.values()) * t.days_per_year.value * t.grams_per_day.value
                for k, t in retail.user_types.items())
    assert estimate.pure_kg[0] == pytest.approx(grams * retail.purity.value / 1000)
    table = retail_table(estimate, chain.balances["cocaine_hcl"].consumption, cf.years)
    ratio = table.loc[("ratio, demand side / balance", "")]
    assert ratio.iloc[0] == pytest.approx(estimate.pure_kg[0] / chain.balances["cocaine_hcl"].consumption[0])


def test_heroin_is_made_from_gum_through_its_morphine_and_checked_against_the_us_estimate():
    cf = load("MEX")
    chain = evaluate_drug_market(cf.markets.drugs, central_values(cf)).chains["heroin"]
    m = cf.markets.drugs.chains["heroin"].stages["opium"].conversion_from_morphine
    kappa = m.morphine_content.value * m.lab_efficiency.value * 369.4 / 285.3
    assert chain.conversions["opium"] == pytest.approx(kappa)
    assert chain.balances["heroin"].inflow == pytest.approx(chain.balances["opium"].outflow * kappa)
    assert cf.markets.drugs.chains["heroin"].stages["heroin"].cross_checks["ondcp"].quantity.values[2017].value == 111000
