"""Scenarios, Monte Carlo and sensitivity."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from methods.model.params import load_country
from methods.model.results import market_totals
from methods.model.uncertainty import (
    Prepared,
    deterministic_range,
    draw_from_u,
    draw_keys,
    first_order_share,
    monte_carlo,
    normal_ppf,
    ordered_scenario,
    percentile_standard_error,
    percentiles,
    split_normal_from_u,
    tornado,
    triangular_from_u,
    two_piece_triangular_from_u,
    variance_shares,
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


# two pieces around the value 5, on [4, 5] and [5, 7], each with half the probability:
# uniform: 0.5 x 4.5 + 0.5 x 6 = 5.25; triangular (densest at 5): 5 + (4 + 7 - 2 x 5) / 6
@pytest.mark.parametrize("dist,mean", [("uniform", 5.25), ("triangular", 5 + 1 / 6), ("normal", None)])
def test_the_value_is_the_median_of_every_distribution(dist, mean):
    u = (np.arange(200_000) + 0.5) / 200_000  # a fine grid of quantiles
    x = draw_from_u(dist, u, 4.0, 5.0, 7.0)
    assert np.median(x) == pytest.approx(5.0, abs=1e-4)
    assert (x < 5.0).mean() == pytest.approx(0.5, abs=1e-5)
    if mean is not None:
        assert x.mean() == pytest.approx(mean, rel=1e-4)
    assert x.min() >= 4.0 and x.max() <= 7.0


def test_split_normal_stays_in_bounds_with_the_bounds_at_two_standard_deviations():
    u = (np.arange(100_000) + 0.5) / 100_000
    x = split_normal_from_u(u, 4.0, 5.0, 7.0)
    assert x.min() >= 4.0 and x.max() <= 7.0
    # on the right, sigma = (7 - 5) / 2 = 1: the 75th percentile of the whole is the median of the right half,
    # the truncated half-normal's median, 5 + Phi^-1(0.5 + 0.5 (Phi(2) - 0.5)) = 5 + Phi^-1(0.738625) = 5 + 0.6391
    assert np.percentile(x, 75) == pytest.approx(5.6391, abs=2e-3)
    assert two_piece_triangular_from_u(np.array([0.0, 0.5, 1.0]), 1.0, 2.0, 3.0).tolist() == [1.0, 2.0, 3.0]
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
    corridor["fee"].update(value=5000, low=4000, high=7000, distribution="triangular")  # two-piece, median 5,000
    prepared = prepared_from(data, tmp_path)
    ev = evaluator(prepared.cf, "smuggling")
    draws = monte_carlo(prepared, ev, n=20_000, seed=11, prefix=SMUGGLING)[("all", "inward")][:, 0]
    # inward = fees(fee) x 0.6 + the other corridor's 1.68 million: linear, so E[inward] = inward(E[fee])
    fee_path = ("markets", "smuggling", "corridors", "syldavians_through_ruritania", "fee")
    at = lambda fee: ev(prepared.central.replace({fee_path: np.full(2, fee)}))[("all", "inward")][0]  # noqa: E731
    mean_fee = 5000 + (4000 + 7000 - 2 * 5000) / 6  # the two-piece triangular's mean
    analytic = at(mean_fee)
    grid = two_piece_triangular_from_u((np.arange(100_000) + 0.5) / 100_000, 4000.0, 5000.0, 7000.0)
    sd = (at(7000) - at(4000)) / 3000 * grid.std()
    assert abs(draws.mean() - analytic) < 4 * sd / np.sqrt(len(draws))
    # 10,000 events / 1.25 x 2 undetected x 0.75 paying x mean fee x 0.6 to Ruritanians, + 1.68 million
    assert analytic == pytest.approx(8_000 * 2.0 * 0.75 * mean_fee * 0.6 + 1_680_000)
    assert np.median(draws) == pytest.approx(at(5000), rel=2e-3)  # the value is the median


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


@pytest.mark.parametrize("market,prefix", [("drugs", DRUGS), ("smuggling", SMUGGLING)])
def test_runs_sharing_a_memo_draw_each_input_once_and_give_the_same_outputs(xru, market, prefix, monkeypatch):
    # a chapter's Monte Carlo runs (central, each output's low and high scenario) share a memo: the
    # sampled inputs, the same in each run, are drawn once. Another value of a sampled input in the
    # base must still be drawn anew, and every output must be what a run without the memo gives (a
    # model that changed its inputs in place would fail this: the memo hands the same arrays again).
    import methods.model.uncertainty as uncertainty

    ev = evaluator(xru.cf, market)
    low = ordered_scenario(xru, ev, "low", prefix=prefix)
    path = xru.sampled_inputs(prefix)[0].path
    moved = xru.central.replace({path: np.asarray(xru.central.at(path), dtype=float) * 1.1})
    bases = [xru.central, low, moved, xru.central]
    alone = [monte_carlo(xru, ev, n=3000, seed=9, prefix=prefix, base=b) for b in bases]
    calls = []
    real = uncertainty.draw_from_u
    monkeypatch.setattr(uncertainty, "draw_from_u", lambda *a: calls.append(a) or real(*a))
    memo: dict = {}
    shared = [monte_carlo(xru, ev, n=3000, seed=9, prefix=prefix, base=b, memo=memo) for b in bases]
    for a, b in zip(alone, shared):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    # every sampled input once for the central values, and the moved one once more for its new value
    assert len(calls) == len(xru.sampled_inputs(prefix)) + 1
    # the draws kept for later runs cannot be changed by one of them
    kept = xru.sample(3000, 9, xru.central, prefix, memo=memo)
    assert not any(np.asarray(kept.at(i.path)).flags.writeable for i in xru.sampled_inputs(prefix))
    assert not np.array_equal(alone[2][("all", "total")], alone[0][("all", "total")])


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


@pytest.mark.parametrize("iso", ["COL", "ECU", "MEX", "PER", "XBO", "XRU"])
def test_tornado_bars_are_the_evaluations_one_input_at_a_time(iso):
    # tornado evaluates every setting at once, as the rows of one vectorised evaluation; each bar
    # must be what its definition says: the output with that one input at its low (high) bound and
    # every other input at its central value, evaluated alone
    cf = load_country(REPO / "parameters" / f"{iso}.yml")
    prepared = Prepared.from_file(cf)
    checked = 0
    for market in ("drugs", "smuggling"):
        if getattr(cf.markets, market) is None:
            continue
        ev = evaluator(cf, market)
        prefix = ("markets", market)
        for structural in (False, True):
            for year_index in (0, -1):
                central, bars = tornado(prepared, ev, ("all", "total"), year_index, prefix=prefix, structural=structural)
                assert central == float(ev(prepared.central)[("all", "total")][year_index])
                inputs = prepared.structural_inputs(prefix) if structural else prepared.sampled_inputs(prefix)
                assert sorted(b.path for b in bars) == sorted(i.path for i in inputs)
                for b in bars:
                    alone = {bound: float(np.asarray(ev(prepared.central.replace({b.path: bounds[b.path]}))[("all", "total")])[year_index])
                             for bound, bounds in (("low", prepared.lows), ("high", prepared.highs))}
                    assert (b.output_at_low, b.output_at_high) == (alone["low"], alone["high"]), b.path
                    checked += 1
    assert checked > 20


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


def test_a_central_value_at_the_low_end_of_its_range_stays_inside_the_interval():
    # Three multiplied inputs, each with its value at the low bound 1 and high bound 3. With the value
    # as the median, half the draws of each are exactly 1, so the product is 1 in one draw out of 8:
    # the 5th percentile of the product is the central product, 1, not above it.
    rng = np.random.default_rng(7)
    product = np.prod([two_piece_triangular_from_u(rng.random(20_000), 1.0, 1.0, 3.0) for _ in range(3)], axis=0)
    assert np.percentile(product, 5) == pytest.approx(1.0)
    # the mode-based triangular of earlier versions put the whole interval above the central value
    old = np.prod([triangular_from_u(rng.random(20_000), 1.0, 1.0, 3.0) for _ in range(3)], axis=0)
    assert np.percentile(old, 5) > 1.0

    from methods.model.chapter.tables import central_vs_interval

    text = central_vs_interval([2015, 2016, 2017], [1e6, 5e6, 9e6], [2e6, 4e6, 3e6], [3e6, 6e6, 8e6])
    assert "In 2015 the central estimate lies below its 90% Monte Carlo interval (2015: 1.0 million against 2.0–3.0 million)" in text
    assert central_vs_interval([2015, 2016], [1.0, 2.0], [0.5, 1.5], [1.5, 2.5]) == ""


# ----- scenarios ordered by outcome, correlated draws, what the variance rests on -------------------------

@pytest.mark.parametrize("iso", ["COL", "ECU", "MEX", "PER", "XRU", "XBO"])
def test_scenarios_are_ordered_by_outcome_every_year(iso):
    cf = load_country(REPO / "parameters" / f"{iso}.yml")
    prepared = Prepared.from_file(cf)
    naive_disordered = False
    for market in cf.estimated_markets():
        ev = evaluator(cf, market)
        prefix = ("markets", market)
        low, central, high = (ev(ordered_scenario(prepared, ev, name, ("all", "total"), prefix))[("all", "total")]
                              for name in ("low", "central", "high"))
        assert (low <= central + 1e-6).all() and (central <= high + 1e-6).all(), market
        naive_low = ev(prepared.scenario("low", prefix))[("all", "total")]
        naive_disordered |= bool((naive_low > central + 1).any())
    # Ecuador's shares interact (a share of imports that stays foreign-owned lowers purchases and sales at once,
    # a low point-of-sale share lowers one and raises the other): every input at its low bound is not the lowest total
    assert naive_disordered == (iso in ("ECU", "XBO"))


@pytest.mark.parametrize("iso", ["ECU", "MEX", "XRU"])
def test_every_figure_has_its_own_extremes_over_every_combination_of_bounds(iso):
    """Each output's low and high scenario is its minimum and maximum over every combination of the
    structural inputs' bounds (and its central value): checked against a brute-force enumeration."""
    import itertools

    from methods.model.uncertainty import extreme_scenarios

    cf = load_country(REPO / "parameters" / f"{iso}.yml")
    prepared = Prepared.from_file(cf)
    for market in cf.estimated_markets():
        ev = evaluator(cf, market)
        prefix = ("markets", market)
        inputs = prepared.structural_inputs(prefix)
        keys = [("all", "inward"), ("all", "outward"), ("all", "total")]
        extremes = extreme_scenarios(prepared, ev, keys, prefix)
        central = ev(prepared.central)
        corners = [ev(prepared.central.replace({i.path: (prepared.highs if up else prepared.lows)[i.path]
                                                for i, up in zip(inputs, ups)}))
                   for ups in itertools.product((False, True), repeat=len(inputs))]
        for key in keys:
            values = np.array([np.broadcast_to(c[key], np.shape(central[key])) for c in corners] + [central[key]])
            low, high = ev(extremes[("low", key)])[key], ev(extremes[("high", key)])[key]
            assert np.allclose(low, values.min(axis=0)) and np.allclose(high, values.max(axis=0)), (market, key)
            assert (low <= central[key] + 1e-6).all() and (central[key] <= high + 1e-6).all()


def test_purities_of_one_product_and_shared_records_are_drawn_together(tmp_path):
    cf = load_country(REPO / "parameters" / "COL.yml")
    keys = draw_keys(cf, Prepared.from_file(cf).infos)
    stage = ("markets", "drugs", "chains", "cocaine", "stages", "cocaine_hcl")
    purities = {k for p, k in keys.items() if p[:6] == stage and p[-1] == "purity"}
    assert purities == {("shared", "cocaine_kilo_purity")}  # one key: the stage's purities, shared with Ecuador and Mexico
    ecu = load_country(REPO / "parameters" / "ECU.yml")
    ecu_keys = draw_keys(ecu, Prepared.from_file(ecu).infos)
    assert ("shared", "cocaine_kilo_purity") in set(ecu_keys.values())
    assert ("shared", "cocaine_price_delivered_in_ecuador") in set(keys.values()) & set(ecu_keys.values())
    # any other input has its own stream, keyed by the country: Colombia's and Ecuador's draws are independent
    assert keys[("macro", "lcu_per_usd")] == ("COL", "macro", "lcu_per_usd")
    col, ecu_p = Prepared.from_file(cf), Prepared.from_file(ecu)
    u_col, u_ecu = col.uniforms(1000, 3, ("markets", "drugs")), ecu_p.uniforms(1000, 3, ("markets", "drugs"))
    shared_col = next(p for p, k in keys.items() if k == ("shared", "cocaine_kilo_purity") and p in u_col)
    shared_ecu = next(p for p, k in ecu_keys.items() if k == ("shared", "cocaine_kilo_purity") and p in u_ecu)
    assert np.array_equal(u_col[shared_col], u_ecu[shared_ecu])  # the same draws in both countries' chapters
    # the same record written twice (a YAML alias) is one quantity
    aliased = [p for p, k in keys.items() if k[1] == "same"]
    assert len(aliased) >= 2


def test_first_order_shares_by_hand():
    # y = 2 x1 + x2 with x1, x2 uniform on [0, 1]: variances 4/12 and 1/12, so shares 0.8 and 0.2
    rng = np.random.default_rng(1)
    u1, u2 = rng.random(40_000), rng.random(40_000)
    y = 2 * u1 + u2
    assert first_order_share(u1, y) == pytest.approx(0.8, abs=0.01)
    assert first_order_share(u2, y) == pytest.approx(0.2, abs=0.01)
    assert first_order_share(rng.random(40_000), y) == pytest.approx(0.0, abs=0.005)  # an input that plays no part


def test_measured_and_assumed_shares_add_up(xru):
    shares = variance_shares(xru, evaluator(xru.cf, "drugs"), ("all", "total"), -1, 5000, 3, DRUGS)
    assert shares.assumed + shares.measured + shares.interactions == pytest.approx(1.0)
    assert shares.assumed > 0.9  # every input of the training country is an assumption


def test_standard_error_of_a_percentile_by_hand():
    # for n normal draws, the 5th percentile's standard error is sqrt(p (1 - p) / n) / phi(z_p) = 0.0211 at n = 10,000
    rng = np.random.default_rng(2)
    se = percentile_standard_error(rng.standard_normal(10_000), 5)
    assert se == pytest.approx(np.sqrt(0.05 * 0.95 / 10_000) / 0.10314, rel=0.25)
