"""Scenarios, Monte Carlo and sensitivity."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from methods.model.params import load_country
from methods.model.results import evaluate_market, market_totals, totals
from methods.model.uncertainty import (
    Prepared,
    deterministic_range,
    draw_from_u,
    monte_carlo,
    normal_ppf,
    percentiles,
    tornado,
    triangular_from_u,
    truncated_normal_from_u,
)

from conftest import REPO
BASE = yaml.safe_load((REPO / "parameters" / "XRU.yml").read_text())
DRUGS, SMUGGLING = ("markets", "drugs"), ("markets", "smuggling")


def prepared_from(data, tmp_path) -> Prepared:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "XRU.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return Prepared.from_file(load_country(path))


def evaluator(cf, market):
    return lambda v: market_totals(cf, market, v)


@pytest.fixture(scope="module")
def xru():
    return Prepared.from_file(load_country(REPO / "parameters" / "XRU.yml"))


# ----- distributions ---------------------------------------------------------------------------------

def test_normal_ppf_matches_known_quantiles():
    assert normal_ppf(0.975) == pytest.approx(1.959963985, abs=1e-8)
    assert normal_ppf(0.5) == pytest.approx(0.0, abs=1e-12)
    assert normal_ppf(0.01) == pytest.approx(-2.326347874, abs=1e-8)


@pytest.mark.parametrize("dist,mean", [("uniform", 5.5), ("triangular", (4 + 5 + 7) / 3)])
def test_distribution_means(dist, mean):
    u = (np.arange(200_000) + 0.5) / 200_000  # a fine grid of quantiles
    x = draw_from_u(dist, u, 4.0, 5.0, 7.0)
    assert x.mean() == pytest.approx(mean, rel=1e-4)
    assert x.min() >= 4.0 and x.max() <= 7.0


def test_truncated_normal_stays_in_bounds_and_is_centred():
    u = (np.arange(100_000) + 0.5) / 100_000
    x = truncated_normal_from_u(u, 4.0, 5.0, 6.0)
    assert x.min() >= 4.0 and x.max() <= 6.0
    assert x.mean() == pytest.approx(5.0, abs=1e-6)
    assert triangular_from_u(np.array([0.0, 1.0]), 1.0, 2.0, 3.0).tolist() == [1.0, 3.0]


# ----- Monte Carlo ----------------------------------------------------------------------------------------

def test_same_seed_same_numbers(xru):
    ev = evaluator(xru.cf, "drugs")
    a = monte_carlo(xru, ev, n=3000, seed=7, prefix=DRUGS)
    b = monte_carlo(xru, ev, n=3000, seed=7, prefix=DRUGS)
    c = monte_carlo(xru, ev, n=3000, seed=8, prefix=DRUGS)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a[("all", "total")], c[("all", "total")])


def test_chunking_does_not_change_the_draws(xru):
    ev = evaluator(xru.cf, "drugs")
    a = monte_carlo(xru, ev, n=5000, seed=3, prefix=DRUGS, chunk=512)
    b = monte_carlo(xru, ev, n=5000, seed=3, prefix=DRUGS, chunk=5000)
    assert all(np.allclose(a[k], b[k]) for k in a)


@pytest.mark.parametrize("market,prefix", [("drugs", DRUGS), ("smuggling", SMUGGLING)])
def test_central_estimate_lies_within_the_monte_carlo_interval(xru, market, prefix):
    ev = evaluator(xru.cf, market)
    central = ev(xru.central)[("all", "total")]
    low, _, high = percentiles(monte_carlo(xru, ev, n=10_000, prefix=prefix))[("all", "total")]
    assert (low <= central).all() and (central <= high).all()


def test_monte_carlo_mean_of_a_linear_model_matches_the_analytic_mean(tmp_path):
    # Ruritania's smuggling model with one uncertain input, the Syldavians' fee: the total is linear in it
    data = copy.deepcopy(BASE)
    corridor = data["markets"]["smuggling"]["corridors"]["syldavians_through_ruritania"]
    for key in ("low", "high"):
        corridor["undetected_factor"].pop(key)
    corridor["fee"].update(value=5000, low=4000, high=7000, distribution="triangular")
    prepared = prepared_from(data, tmp_path)
    ev = evaluator(prepared.cf, "smuggling")
    draws = monte_carlo(prepared, ev, n=20_000, seed=11, prefix=SMUGGLING)[("all", "inward")][:, 0]
    # inward = fees(fee) x 0.6 + the other corridor's 1.68 million: linear, so E[inward] = inward(E[fee])
    fee_path = ("markets", "smuggling", "corridors", "syldavians_through_ruritania", "fee")
    at = lambda fee: ev(prepared.central.replace({fee_path: np.full(2, fee)}))[("all", "inward")][0]  # noqa: E731
    analytic = at((4000 + 5000 + 7000) / 3)
    sd = (at(7000) - at(4000)) / 3000 * np.sqrt((4000**2 + 5000**2 + 7000**2 - 4000 * 5000 - 4000 * 7000 - 5000 * 7000) / 18)
    assert abs(draws.mean() - analytic) < 4 * sd / np.sqrt(len(draws))
    # 10,000 events / 1.25 x 2 undetected x 0.75 paying x mean fee x 0.6 to Ruritanians, + 1.68 million
    assert analytic == pytest.approx(8_000 * 2.0 * 0.75 * (16_000 / 3) * 0.6 + 1_680_000)


def test_widening_one_inputs_bounds_never_narrows_the_interval(tmp_path):
    base = prepared_from(copy.deepcopy(BASE), tmp_path / "a")
    wider = copy.deepcopy(BASE)
    yield_ = wider["markets"]["drugs"]["chains"]["cocaine"]["stages"]["coca_leaf"]["production"]["leaf_yield"]
    yield_.update(low=3, high=7)
    wide = prepared_from(wider, tmp_path / "b")
    lo1, _, hi1 = percentiles(monte_carlo(base, evaluator(base.cf, "drugs"), n=10_000, seed=5, prefix=DRUGS))[("all", "total")]
    lo2, _, hi2 = percentiles(monte_carlo(wide, evaluator(wide.cf, "drugs"), n=10_000, seed=5, prefix=DRUGS))[("all", "total")]
    assert (lo2 <= lo1).all() and (hi2 >= hi1).all()
    assert (hi2 - lo2 > hi1 - lo1).all()


# ----- scenarios and sensitivity --------------------------------------------------------------------------

def test_structural_inputs_define_scenarios_and_are_not_sampled(xru):
    sampled = {i.path[-1] for i in xru.sampled_inputs(DRUGS)}
    assert "abroad_share" not in sampled
    ev = evaluator(xru.cf, "drugs")
    low, central, high = (ev(xru.scenario(s, DRUGS))[("all", "inward")] for s in ("low", "central", "high"))
    # selling more abroad raises the transaction price, so inward IFFs rise from low to high
    assert (low < central).all() and (central < high).all()


def test_tornado_ranks_inputs_by_swing(xru):
    ev = evaluator(xru.cf, "drugs")
    central, bars = tornado(xru, ev, ("all", "total"), prefix=DRUGS)
    swings = [b.swing for b in bars]
    assert swings == sorted(swings, reverse=True)
    assert bars[0].path[-1] in ("leaf_yield", "conversion")
    # seizure purity moves exports down when it rises
    purity = next(b for b in bars if b.path[-2:] == ("seizures", "purity") and "cocaine_hcl" in b.path)
    assert purity.output_at_high < central < purity.output_at_low


def test_deterministic_range_brackets_the_central_estimate(xru):
    ev = evaluator(xru.cf, "drugs")
    low, high = deterministic_range(xru, ev, ("all", "total"), prefix=DRUGS)
    central = ev(xru.central)[("all", "total")]
    assert (low <= central).all() and (central <= high).all()


def test_normal_ppf_agrees_with_the_standard_library_everywhere():
    from statistics import NormalDist

    p = np.concatenate([np.linspace(1e-6, 0.02425, 50), np.linspace(0.03, 0.97, 200), np.linspace(0.976, 1 - 1e-6, 50)])
    expected = np.array([NormalDist().inv_cdf(x) for x in p])
    assert np.allclose(normal_ppf(p), expected, atol=5e-9)


def test_central_at_the_low_end_of_skewed_ranges_lies_below_the_interval_and_the_chapter_says_so():
    # Three multiplied inputs, each triangular with its mode at the low bound 1 and high bound 3:
    # the product of the central values is 1, but P(product < 1) = 0, so the whole 90% interval lies
    # above the central estimate. (Mexico's smuggling of migrants apprehended in Mexico is such a case.)
    rng = np.random.default_rng(7)
    product = np.prod([triangular_from_u(rng.random(20_000), 1.0, 1.0, 3.0) for _ in range(3)], axis=0)
    assert np.percentile(product, 5) > 1.0

    from methods.model.chapter.tables import central_vs_interval

    text = central_vs_interval([2015, 2016, 2017], [1e6, 5e6, 9e6], [2e6, 4e6, 3e6], [3e6, 6e6, 8e6])
    assert "In 2015 the central estimate lies below its 90% Monte Carlo interval (2015: 1.0 million against 2.0–3.0 million)" in text
    assert "In 2017 the central estimate lies above" in text and "2017: 9.0 million against 3.0–8.0 million" in text
    assert "2016" not in text
    assert central_vs_interval([2015, 2016], [1.0, 2.0], [0.5, 1.5], [1.5, 2.5]).startswith("In every year")
    assert central_vs_interval([2015], [np.nan], [np.nan], [np.nan]) == ""
