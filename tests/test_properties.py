"""Property-based tests of the estimation functions (hypothesis)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from methods.model import accounting, smuggling
from methods.model.drugs import evaluate_drug_market
from methods.model.results import totals
from methods.model.params import load_country
from methods.model.uncertainty import Prepared

from conftest import REPO
CF = load_country(REPO / "parameters" / "XRU.yml")
PREPARED = Prepared.from_file(CF)
STAGES = CF.markets.drugs.chains["cocaine"].stages
AREA = STAGES["coca_leaf"].production.area

positive = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
share = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


def with_inputs(**overrides):
    """Central values of Ruritania with some inputs replaced (by record)."""
    return PREPARED.central.replace({PREPARED.central.path_of(q): np.full(len(CF.years), float(x)) for q, x in overrides.items()})


def drug_inputs(area, leaf_yield, seized, purity, prevalence, grams, losses, export_share):
    """Ruritania's central values with eight drug-market inputs replaced."""
    hcl, paste = STAGES["cocaine_hcl"], STAGES["coca_paste_base"]
    pairs = [(AREA, area), (STAGES["coca_leaf"].production.leaf_yield, leaf_yield), (hcl.seizures.quantity, seized),
             (hcl.seizures.purity, purity), (hcl.consumption.prevalence, prevalence),
             (hcl.consumption.grams_per_user, grams), (hcl.losses, losses), (paste.exports.share, export_share)]
    return PREPARED.central.replace({PREPARED.central.path_of(q): np.full(len(CF.years), float(x)) for q, x in pairs})


@given(area=positive, leaf_yield=st.floats(0, 50), seized=positive, purity=share, prevalence=share,
       grams=st.floats(0, 500), losses=share, export_share=share)
def test_valid_inputs_never_give_negative_flows_and_the_balance_holds(area, leaf_yield, seized, purity, prevalence,
                                                                       grams, losses, export_share):
    v = drug_inputs(area, leaf_yield, seized, purity, prevalence, grams, losses, export_share)
    result = evaluate_drug_market(CF.markets.drugs, v)
    for chain in result.chains.values():
        for b in chain.balances.values():
            for item, arr in b.items().items():
                if item != "discrepancy":
                    assert (arr >= 0).all(), item
            assert np.allclose(b.supply(), b.uses(), rtol=1e-9, atol=1e-6)
    for f in result.flows:
        assert (f.value_usd >= 0).all() and (f.quantity >= 0).all()


@given(area=st.floats(0, 1e6), extra=st.floats(0, 1e6))
def test_more_cultivation_never_gives_less_production_or_lower_iffs(area, extra):
    def run(a):
        return evaluate_drug_market(CF.markets.drugs, PREPARED.central.replace({PREPARED.central.path_of(AREA): np.full(2, a)}))
    small, large = run(area), run(area + extra)
    for stage in ("coca_leaf", "coca_paste_base", "cocaine_hcl"):
        s, lg = small.chains["cocaine"].balances[stage], large.chains["cocaine"].balances[stage]
        assert (lg.processed() >= s.processed() - 1e-6).all()
        assert (lg.exports >= s.exports - 1e-6).all()
    inward = lambda r: totals(r.flows, CF.country, len(CF.years))[("all", "inward")]  # noqa: E731
    assert (inward(large) >= inward(small) - 1e-3).all()


COUNTRIES = st.sampled_from(["COL", "ECU", "MEX", "PER", "USA", "GTM"])


@given(reporter=COUNTRIES, payer=COUNTRIES, payee=COUNTRIES)
def test_every_cross_border_payment_is_inward_for_the_payee_and_outward_for_the_payer(reporter, payer, payee):
    direction = accounting.flow_direction(reporter, payer, payee)
    if payer == payee:
        assert direction in ("domestic", None)
    else:
        assert accounting.flow_direction(payee, payer, payee) == "inward"
        assert accounting.flow_direction(payer, payer, payee) == "outward"
        if reporter not in (payer, payee):
            assert direction is None


@given(fees=st.floats(0, 1e9), places=st.lists(share, min_size=3, max_size=3), residences=st.lists(share, min_size=3, max_size=3))
def test_smuggling_inward_and_outward_mirror_across_countries(fees, places, residences):
    if sum(places) == 0 or sum(residences) == 0:
        return
    origin, transit, destination = "GTM", "MEX", "USA"
    countries = {"origin": origin, "transit": transit, "destination": destination}
    payments = []
    for p, pi in zip(("origin", "transit", "destination"), places):
        for r, sigma in zip(("origin", "transit", "destination"), residences):
            value = smuggling.fee_payment_usd(fees, smuggling.normalised_share(pi, sum(places)),
                                              smuggling.normalised_share(sigma, sum(residences)))
            payments.append((smuggling.payer_residence(p, origin, destination), countries[r], value))
    assert np.isclose(sum(v for *_, v in payments), fees, rtol=1e-9, atol=1e-3)  # every dollar is allocated once
    inward = sum(v for c in countries.values() for payer, payee, v in payments
                 if accounting.flow_direction(c, payer, payee) == "inward")
    outward = sum(v for c in countries.values() for payer, payee, v in payments
                  if accounting.flow_direction(c, payer, payee) == "outward")
    assert np.isclose(inward, outward, rtol=1e-9, atol=1e-3)  # mirrors: one country's inward is another's outward
