"""Drug that keeps its owner, partner codes, files that survive upgrades, and the roles of new countries."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from conftest import REPO, copy_repo, run_iff
from methods.model.params import load_country
from methods.model.params.partners import is_partner_code, partner_name
from methods.model.results import evaluate_market
from methods.model.uncertainty import Prepared

# A producer that is also crossed by foreign-owned drug, as a trained Bolivian team wrote it against
# format 1 of the parameter files: partners in free text, and two unlinked resident shares (on the
# imports and on the exports of base) to keep Peruvian-owned base out of Bolivia's flows.
BOLIVIA_FORMAT_1 = """\
# Bolivia: parameters written by the national team (format 1).
country: BOL
name: Bolivia
m49: 68
currency: USD
first_year: 2018
last_year: 2019
summary: Bolivia grows coca, makes base and hydrochloride, and is crossed by Peruvian base.
macro:
  gdp_usd: {unit: USD, values: {2018: 40.0e+9, 2019: 41.0e+9}, assumption: Round numbers for the test.}
markets:
  drugs:
    chains:
      cocaine:
        role: producer
        balance: exports
        stages:
          coca_leaf:
            production:
              leaf_basis: sun-dried
              area: {unit: ha, value: 20000, year: 2018, assumption: Round number for the test.}
              leaf_yield: {unit: t/ha, value: 1.5, year: 2018, assumption: Round number for the test.}
            conversion: {unit: kg/t, value: 2.0, year: 2018, assumption: Round number for the test.}
          coca_paste_base:
            imports:
              volume:
                quantity: {unit: kg, value: 30000, year: 2018, assumption: Peruvian base entering Bolivia (round number).}
              routes:
                peru:
                  label: Base from Peru
                  partner: Peru
                  share: {unit: share, value: 1.0, year: 2018, assumption: All base imports come from Peru.}
                  home: {place: border, price: {unit: USD/kg, value: 1000, year: 2018, assumption: A round number for the test.}, purity: {unit: share, value: 0.5, year: 2018, assumption: A round number for the test.}}
                  abroad: {place: Peruvian valleys, price: {unit: USD/kg, value: 800, year: 2018, assumption: A round number for the test.}, purity: {unit: share, value: 0.5, year: 2018, assumption: A round number for the test.}}
                  abroad_share: {unit: share, value: 0.5, year: 2018, low: 0.0, high: 1.0, assumption: Not measured and set to a round number.}
                  # the team's first hand-set share: Bolivians buy 40 per cent of the Peruvian base
                  resident_share: {unit: share, value: 0.4, year: 2018, low: 0.2, high: 0.6, assumption: Most Peruvian base is moved by its Peruvian owners.}
            exports:
              share: {unit: share, value: 0.5, year: 2018, assumption: Half of the base leaves as base.}
              routes:
                brazil:
                  label: Base to Brazil
                  partner: Brazil
                  share: {unit: share, value: 1.0, year: 2018, assumption: All base exports go to Brazil.}
                  home: {place: eastern border, price: {unit: USD/kg, value: 1500, year: 2018, assumption: A round number for the test.}, purity: {unit: share, value: 0.5, year: 2018, assumption: A round number for the test.}}
                  abroad: {place: Brazil, price: {unit: USD/kg, value: 4000, year: 2018, assumption: A round number for the test.}, purity: {unit: share, value: 0.5, year: 2018, assumption: A round number for the test.}}
                  abroad_share: {unit: share, value: 0.2, year: 2018, low: 0.0, high: 0.5, assumption: Not measured and set to a round number.}
                  # the second hand-set share, unlinked to the first
                  resident_share: {unit: share, value: 0.7, year: 2018, assumption: The part of the base exports that is Bolivian-owned.}
            conversion: {unit: kg/kg, value: 1.0, year: 2018, assumption: A round number for the test.}
          cocaine_hcl:
            exports:
              routes:
                europe:
                  label: To Europe through Brazil and Paraguay
                  partner: Europe
                  share: {unit: share, value: 1.0, year: 2018, assumption: All hydrochloride goes to Europe.}
                  home: {place: airstrips, price: {unit: USD/kg, value: 2500, year: 2018, assumption: A round number for the test.}, purity: {unit: share, value: 0.8, year: 2018, assumption: A round number for the test.}}
                  abroad: {place: Europe, price: {unit: USD/kg, value: 35000, year: 2018, assumption: A round number for the test.}, purity: {unit: share, value: 0.7, year: 2018, assumption: A round number for the test.}}
                  abroad_share: {unit: share, value: 0.1, year: 2018, low: 0.0, high: 0.3, assumption: Not measured and set to a round number.}
"""


def _fresh(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    (root / "parameters" / "BOL.yml").write_text(BOLIVIA_FORMAT_1)
    return root


def test_a_format_1_file_is_refused_with_the_command_that_upgrades_it(tmp_path):
    root = _fresh(tmp_path)
    result = run_iff("validate", "parameters/BOL.yml", cwd=root)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines == ["parameters/BOL.yml:1: format: the file has no format line: it is written for format 1 of the "
                     "parameter files; run `iff upgrade parameters/BOL.yml` to rewrite it for format 2 (it keeps your "
                     "comments and lists what it changed)"]


def test_upgrade_keeps_comments_names_partners_and_turns_resident_shares_into_transit(tmp_path):
    root = _fresh(tmp_path)
    dry = run_iff("upgrade", "--dry-run", "parameters/BOL.yml", cwd=root)
    assert dry.returncode == 0 and "would be upgraded" in dry.stdout
    assert (root / "parameters" / "BOL.yml").read_text() == BOLIVIA_FORMAT_1  # nothing written
    result = run_iff("upgrade", "parameters/BOL.yml", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "parameters/BOL.yml: ok" in result.stdout
    assert "'Peru' -> PER" in result.stdout and "'Brazil' -> BRA" in result.stdout and "'Europe' -> EUROPE" in result.stdout
    text = (root / "parameters" / "BOL.yml").read_text()
    assert (root / "parameters" / "BOL.yml.format1.bak").read_text() == BOLIVIA_FORMAT_1
    assert "# Bolivia: parameters written by the national team (format 1)." in text  # comments survive
    assert "resident_share" not in text and text.count("format: 2") == 1
    data = yaml.safe_load(text)
    base = data["markets"]["drugs"]["chains"]["cocaine"]["stages"]["coca_paste_base"]
    assert data["markets"]["drugs"]["chains"]["cocaine"]["role"] == "producer-transit"
    # 1 - the residents' share of imports, bounds swapped
    share = base["transit"]["share_of_imports"]
    assert (share["value"], share["low"], share["high"]) == pytest.approx((0.6, 0.4, 0.8))
    assert base["transit"]["owner"] == "PER" and base["transit"]["routes"]["brazil"]["partner"] == "BRA"
    again = run_iff("upgrade", "parameters/BOL.yml", cwd=root)
    assert again.returncode == 1 and "already format 2; nothing to do" in again.stderr


def test_transit_keeps_its_owner_through_the_stage_by_hand(tmp_path):
    """Borduria, 2018: 20,000 kg enter from Ruritania, half stays Ruritanian-owned (10,000 kg).
    Own supply: 10,000 kg of leaf-based base (2,000 ha x 5 t/ha x 1 kg/t) + 4,000 kg of imported
    paste, all turned into hydrochloride, + 10,000 kg bought by residents = 24,000 kg. Seizures of
    3,000 kg at 0.8 purity (2,400 kg) fall on both in proportion: 2,400 x 10/34 on the transit."""
    cf = load_country(REPO / "parameters" / "XBO.yml")
    result, records = evaluate_market(cf, "drugs", Prepared.from_file(cf).central)
    chain = result.chains["cocaine"]
    t = chain.transits["cocaine_hcl"]
    b = chain.balances["cocaine_hcl"]
    seized_transit = 2_400 * 10_000 / 34_000
    assert t.entering[0] == pytest.approx(10_000) and t.owner == "XRU"
    assert t.seized[0] == pytest.approx(seized_transit)
    assert t.lost[0] == pytest.approx(0.05 * 10_000)
    assert t.leaving[0] == pytest.approx(10_000 - seized_transit - 500)
    assert t.routes["syldavia"][2][0] == pytest.approx(t.leaving[0])
    assert b.imports[0] == pytest.approx(10_000)  # only the residents' purchases
    own_exports = 24_000 - (2_400 - seized_transit) - 5e6 * 0.004 * 20 / 1000 - 0.05 * 24_000
    assert b.exports[0] == pytest.approx(own_exports)
    assert np.allclose(b.supply(), b.uses())
    # the sales abroad are the residents' exports only; the transit is no IFF of Borduria
    sold = sum(r.quantity[0] for r in records if r.component == "drug_sales" and r.product == "cocaine_hcl")
    assert sold == pytest.approx(own_exports)
    bought = sum(r.quantity[0] for r in records if r.component == "drug_purchases" and r.product == "cocaine_hcl")
    assert bought == pytest.approx(10_000)
    # what the owners pay Bordurians to move it is an inward IFF: 0.5 of the transit leaving, at US$100 per kg carried
    service = next(r for r in records if r.component == "services")
    assert (service.payer, service.payee, service.direction("XBO")) == ("XRU", "XBO", "inward")
    assert service.value_usd[0] == pytest.approx(0.5 * t.leaving[0] / 0.8 * 100)


def test_partners_are_codes_with_names_for_readers():
    assert is_partner_code("COL") and is_partner_code("EUROPE") and is_partner_code("XBO")
    assert not is_partner_code("Europe and other markets") and not is_partner_code("ZZZ")
    assert partner_name("MEX") == "Mexico" and partner_name("NORTHERN_TRIANGLE") == "Guatemala, Honduras and El Salvador"
    assert partner_name("XBO") == "Borduria"
    for iso in ("COL", "ECU", "MEX", "PER", "XRU", "XBO"):
        cf = load_country(REPO / "parameters" / f"{iso}.yml")
        _, records = evaluate_market(cf, "drugs", Prepared.from_file(cf).central)
        assert all(is_partner_code(r.partner(iso)) or r.partner(iso) == iso for r in records)


def test_new_country_offers_the_roles(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    helptext = run_iff("new-country", "--help", cwd=root).stdout
    assert "producer,transit,producer-transit,destination" in helptext.replace(" ", "").replace("{", "").replace("}", "")
    from test_new_country import fill

    for i, role in enumerate(("producer", "transit", "producer-transit", "destination")):
        iso = f"XA{'ABCD'[i]}"
        assert run_iff("new-country", iso, "--name", f"Test {role}", "--role", role, cwd=root).returncode == 0
        path = root / "parameters" / f"{iso}.yml"
        data = yaml.safe_load(path.read_text())
        assert data["markets"]["drugs"]["chains"]["cocaine"]["role"] == role
        path.write_text(yaml.safe_dump(fill(data, fictional=True), sort_keys=False))
        result = run_iff("validate", f"parameters/{iso}.yml", cwd=root)
        assert result.returncode == 0, (role, result.stdout)
    assert run_iff("new-country", "XZZ", "--name", "x", "--role", "smuggler", cwd=root).returncode == 2


@pytest.mark.slow
def test_a_producer_transit_country_upgraded_builds_with_its_transit(tmp_path):
    root = _fresh(tmp_path)
    assert run_iff("upgrade", "parameters/BOL.yml", cwd=root).returncode == 0
    result = run_iff("build", "--draws", "300", cwd=root)
    assert result.returncode == 0, result.stderr
    html = (root / "_build" / "html" / "countries" / "BOL" / "drugs.html").read_text()
    assert "Drug in transit: it keeps its owner" in html and "owned by residents of Peru" in html
    cf = load_country(root / "parameters" / "BOL.yml")
    result_, records = evaluate_market(cf, "drugs", Prepared.from_file(cf).central)
    t = result_.chains["cocaine"].transits["coca_paste_base"]
    assert t.entering[0] == pytest.approx(0.6 * 30_000) and t.owner == "PER"
    # Bolivians buy the other 40 per cent: the outward IFF is on 12,000 kg, not on 30,000
    bought = sum(r.quantity[0] for r in records if r.component == "drug_purchases")
    assert bought == pytest.approx(0.4 * 30_000)


def test_draws_written_by_a_chapter_are_read_back_by_key(tmp_path):
    """What the regional network reads of a chapter's Monte Carlo draws: the same keys, the values in
    single precision, and nothing but arrays (an archive holding a pickled object is refused)."""
    from methods.model.outputs import read_draws, write_draws

    rng = np.random.default_rng(7)
    draws = {("all", "total"): rng.lognormal(20, 1, (500, 3)), ("cocaine_hcl", "inward"): rng.lognormal(18, 1, (500, 3))}
    path = tmp_path / "drugs.draws.npz"
    write_draws(draws, path)
    back = read_draws(path)
    assert set(back) == set(draws)
    for key, a in draws.items():
        assert back[key].shape == a.shape
        np.testing.assert_allclose(back[key], a, rtol=1e-7)
    np.savez(path, bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        read_draws(path)
