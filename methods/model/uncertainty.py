"""Uncertainty: structural scenarios, a seeded Monte Carlo, and the sensitivity analyses.

Two kinds of uncertainty are kept apart.

* **Structural scenarios.** Where ownership changes hands and who is resident (the point-of-sale
  shares of each drug route, the share of imports that stays foreign-owned; the place of payment
  and the residence of smugglers) are not sampled. The scenarios are ordered by their outcome:
  for each published output (the total, the inward and the outward flows, each product), ``low``
  sets the structural inputs to the bounds that give its lowest value in that year, ``high`` to
  those that give its highest, ``central`` to their values (:func:`extreme_scenarios`).
* **Input uncertainty.** Every other input with ``low``/``high`` bounds is drawn from a two-piece
  distribution whose **median is the input's value**: half the probability lies between ``low`` and
  the value, half between the value and ``high``, each half uniform, triangular (densest at the
  value) or half-normal (``low``/``high`` at two standard deviations, truncated there). With
  asymmetric bounds the value stays the best estimate instead of a mode that the draws move away
  from. One draw per input applies to all years (the error of a conversion factor does not change
  from year to year).

**Correlated inputs.** Draws come from random streams fixed by the seed and a key
(:func:`draw_key`): inputs with the same key share their uniform draws (full rank correlation).
The same record written twice (e.g. with a YAML alias) is one quantity; the purities of one product
of one country share their measurement error; a record marked ``shared: <name>`` is drawn with
every record of that name, in any country's file (the same source for the same quantity, e.g. a
price both sides of a mirror flow use). Every other input has its own stream, keyed by the country
and its path, so widening one input's bounds changes no other input's draws, and two countries'
draws are independent except where a file says otherwise.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .inputs import InputInfo, Values, bound_arrays, central_values, input_infos
from .params import CountryFile

SCENARIOS = ("low", "central", "high")
DEFAULT_DRAWS = 10_000
DEFAULT_SEED = 20201015  # the date the Conceptual Framework was published


# ----- distributions ------------------------------------------------------------------------

def uniform_from_u(u, low, high):
    """Inverse CDF of the uniform distribution on [low, high]."""
    return low + np.multiply(u, np.subtract(high, low))


def triangular_from_u(u, low, mode, high):
    """Inverse CDF of the triangular distribution (low, mode, high).

    .. math:: x = a + \\sqrt{u (b-a)(c-a)} \\text{ if } u < \\tfrac{c-a}{b-a}, \\text{ else } b - \\sqrt{(1-u)(b-a)(b-c)}
    """
    low, mode, high = np.asarray(low, float), np.asarray(mode, float), np.asarray(high, float)
    width = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        cut = np.where(width > 0, (mode - low) / width, 0.5)
    left = low + np.sqrt(np.maximum(u * width * (mode - low), 0.0))
    right = high - np.sqrt(np.maximum((1.0 - u) * width * (high - mode), 0.0))
    return np.where(u < cut, left, right)


def two_piece_uniform_from_u(u, low, median, high):
    """Inverse CDF of the two-piece uniform: half the probability uniform on [low, m], half on [m, high].

    .. math:: x = a + 2u\\,(m - a) \\text{ if } u < \\tfrac12, \\text{ else } m + (2u - 1)(b - m)
    """
    u, low, median, high = (np.asarray(x, float) for x in (u, low, median, high))
    return np.where(u < 0.5, low + 2 * u * (median - low), median + (2 * u - 1) * (high - median))


def two_piece_triangular_from_u(u, low, median, high):
    """Inverse CDF of the two-piece triangular: densest at the median *m*, half the probability on each side.

    .. math:: x = a + (m - a)\\sqrt{2u} \\text{ if } u < \\tfrac12, \\text{ else } b - (b - m)\\sqrt{2(1-u)}
    """
    u, low, median, high = (np.asarray(x, float) for x in (u, low, median, high))
    left = low + (median - low) * np.sqrt(np.clip(2 * u, 0.0, 1.0))
    right = high - (high - median) * np.sqrt(np.clip(2 * (1 - u), 0.0, 1.0))
    return np.where(u < 0.5, left, right)


_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
      -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
      -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
      4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


def normal_ppf(p):
    """Inverse CDF of the standard normal (Acklam's rational approximation, relative error < 1.2e-9)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-300, 1 - 1e-16)
    q = np.where(p < 0.5, p, 1 - p)
    tail = q < 0.02425
    t = np.sqrt(-2 * np.log(np.where(tail, q, 0.5)))
    x_tail = (((((_C[0] * t + _C[1]) * t + _C[2]) * t + _C[3]) * t + _C[4]) * t + _C[5]) / (
        (((_D[0] * t + _D[1]) * t + _D[2]) * t + _D[3]) * t + 1)
    r = (q - 0.5) ** 2
    x_mid = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * (q - 0.5) / (
        ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    x = np.where(tail, x_tail, x_mid)  # the quantile of q (<= 0.5), negative
    return np.where(p < 0.5, x, -x)


def split_normal_from_u(u, low, median, high):
    """Inverse CDF of the split normal with median *m*: on each side a half-normal whose bound lies at
    two standard deviations (:math:`\\sigma_- = (m-a)/2`, :math:`\\sigma_+ = (b-m)/2`), truncated there,
    each side with half the probability.

    .. math:: x = m + \\sigma_- \\Phi^{-1}\\big(\\Phi(-2) + 2u(\\tfrac12 - \\Phi(-2))\\big) \\text{ if } u < \\tfrac12, \\text{ else } m + \\sigma_+ \\Phi^{-1}\\big(\\tfrac12 + (2u-1)(\\Phi(2) - \\tfrac12)\\big)
    """
    u, low, median, high = (np.asarray(x, float) for x in (u, low, median, high))
    tail = 0.022750131948179195  # Phi(-2)
    left_t = tail + 2 * np.minimum(u, 0.5) * (0.5 - tail)
    right_t = 0.5 + (2 * np.maximum(u, 0.5) - 1) * (0.5 - tail)
    left = median + (median - low) / 2 * normal_ppf(left_t)
    right = median + (high - median) / 2 * normal_ppf(right_t)
    return np.clip(np.where(u < 0.5, left, right), low, high)


def draw_from_u(distribution: str, u, low, value, high):
    """A draw of an input from its uniform ``u``: the two-piece form of ``distribution``, with its
    median at the input's value."""
    if distribution == "uniform":
        return two_piece_uniform_from_u(u, low, value, high)
    if distribution == "triangular":
        return two_piece_triangular_from_u(u, low, value, high)
    if distribution == "normal":
        return split_normal_from_u(u, low, value, high)
    raise ValueError(distribution)


def input_stream(seed: int, key: tuple) -> np.random.Generator:
    """An independent random stream for one draw key (:func:`draw_key`), fixed by the seed."""
    digest = hashlib.sha256(".".join(map(str, key)).encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def draw_keys(cf: CountryFile, infos: list[InputInfo]) -> dict[tuple, tuple]:
    """The key of each input's random stream, by path: inputs with the same key are drawn together.

    * a record with ``shared: <name>``: ``("shared", name)``, in every file;
    * the purities of one product (a stage of a chain) of one country: one key, or the ``shared``
      name one of them gives;
    * the same record written more than once in a file (e.g. through a YAML alias): one key;
    * any other input: the country and its path.
    """
    import json
    from collections import Counter

    content = {i.path: json.dumps(i.quantity.model_dump(mode="json", warnings=False), sort_keys=True) for i in infos}
    repeated = {c for c, n in Counter(content.values()).items() if n > 1}
    purity_groups: dict[tuple, list[InputInfo]] = {}
    for i in infos:
        p = i.path
        if p[-1] == "purity" and len(p) > 5 and p[:3] == ("markets", "drugs", "chains") and p[4] == "stages":
            purity_groups.setdefault(p[:6], []).append(i)
    keys: dict[tuple, tuple] = {}
    for group, members in purity_groups.items():
        shared = next((m.quantity.shared for m in members if m.quantity.shared), None)
        key = ("shared", shared) if shared else (cf.country, "purity") + group[3:6]
        for m in members:
            keys[m.path] = key
    for i in infos:
        if i.path in keys:
            continue
        if i.quantity.shared:
            keys[i.path] = ("shared", i.quantity.shared)
        elif content[i.path] in repeated:
            keys[i.path] = (cf.country, "same", hashlib.sha256(content[i.path].encode()).hexdigest()[:16])
        else:
            keys[i.path] = (cf.country,) + i.path
    return keys


# ----- scenarios and sampling ----------------------------------------------------------------

@dataclass
class Prepared:
    """A country file with its central values, bounds and inputs, ready for repeated evaluation."""

    cf: CountryFile
    central: Values
    lows: dict[tuple, np.ndarray]  # by input path
    highs: dict[tuple, np.ndarray]
    infos: list[InputInfo]
    keys: dict[tuple, tuple]  # by input path: the key of its random stream (:func:`draw_keys`)

    @classmethod
    def from_file(cls, cf: CountryFile) -> "Prepared":
        lows, highs = bound_arrays(cf)
        infos = input_infos(cf)
        return cls(cf, central_values(cf), lows, highs, infos, draw_keys(cf, infos))

    def under(self, prefix: tuple) -> list[InputInfo]:
        return [i for i in self.infos if i.path[: len(prefix)] == prefix]

    def scenario(self, name: str, prefix: tuple = ()) -> Values:
        """Values with structural inputs (under ``prefix``) at their low, central or high value."""
        if name == "central":
            return self.central
        bounds = self.lows if name == "low" else self.highs
        return self.central.replace({i.path: bounds[i.path] for i in self.under(prefix) if i.structural})

    def sampled_inputs(self, prefix: tuple = ()) -> list[InputInfo]:
        return [i for i in self.under(prefix) if i.uncertain and not i.structural]

    def structural_inputs(self, prefix: tuple = ()) -> list[InputInfo]:
        """The scenario inputs (who owns the drug where it changes hands, where fees are paid) that have bounds."""
        return [i for i in self.under(prefix) if i.uncertain and i.structural]

    def uniforms(self, n: int, seed: int, prefix: tuple = ()) -> dict[tuple, np.ndarray]:
        """The uniform draws behind ``n`` Monte Carlo draws, by input path: one stream per draw key,
        so that inputs drawn together get the same uniforms."""
        by_key: dict[tuple, np.ndarray] = {}
        out = {}
        for i in self.sampled_inputs(prefix):
            key = self.keys[i.path]
            if key not in by_key:
                by_key[key] = input_stream(seed, key).random(n)
            out[i.path] = by_key[key]
        return out

    def sample(self, n: int, seed: int, base: Values, prefix: tuple = (),
               uniforms: dict[tuple, np.ndarray] | None = None, memo: dict | None = None) -> Values:
        """``n`` Monte Carlo draws of every uncertain, non-structural input (arrays of shape n x years,
        or n x 1 when the bounds are the same every year). ``uniforms`` (from :meth:`uniforms`) gives
        the underlying uniform draws; by default they are drawn from ``seed``.

        ``memo``: a dict kept by the caller between samples of the same inputs. An input's draws
        depend only on ``n``, ``seed``, its distribution, its bounds and its value in ``base``, so an
        input with the same ones as in an earlier sample (a chapter's scenarios differ only in their
        structural inputs) gets the same arrays again, read-only, instead of being drawn anew, and the
        uniforms are made once.
        """
        if uniforms is not None:
            memo = None  # the uniforms given are the caller's: what was drawn from others does not apply
        elif memo is not None:
            if ("uniforms", n, seed, prefix) not in memo:
                memo[("uniforms", n, seed, prefix)] = self.uniforms(n, seed, prefix)
            uniforms = memo[("uniforms", n, seed, prefix)]
        else:
            uniforms = self.uniforms(n, seed, prefix)
        overrides = {}
        for info in self.sampled_inputs(prefix):
            key = info.path
            u = uniforms[key]
            low, value, high = self.lows[key], np.asarray(base.at(key), dtype=float), self.highs[key]
            seen = (n, seed, prefix, key, info.quantity.distribution, low.tobytes(), high.tobytes(), value.shape,
                    value.tobytes())
            if memo is not None and seen in memo:
                overrides[key] = memo[seen]
                continue
            if value.ndim == 1 and np.all(low == low[0]) and np.all(value == value[0]) and np.all(high == high[0]):
                overrides[key] = draw_from_u(info.quantity.distribution, u, low[0], value[0], high[0])[:, None]
            else:
                overrides[key] = draw_from_u(info.quantity.distribution, u[:, None], low, value, high)
            if memo is not None:
                overrides[key].flags.writeable = False  # handed to every run: none may change it
                memo[seen] = overrides[key]
        return base.replace(overrides)


Evaluate = Callable[[Values], dict[tuple, np.ndarray]]


def ordered_scenario(prepared: Prepared, evaluate: Evaluate, name: str, key: tuple = ("all", "total"),
                     prefix: tuple = (), passes: int = 3) -> Values:
    """The ``low`` (or ``high``) structural scenario, ordered by its outcome: each structural input
    (under ``prefix``) at the bound that lowers (raises) the output ``key``, year by year.

    A coordinate search: starting from the central values, each input's low and high bound is tried
    in turn, the others as already set, and kept in the years where it moves the output the wanted
    way; the search repeats until nothing changes (at most ``passes`` times). Since a bound is kept
    only when it improves the output, ``low <= central <= high`` holds by construction, even where
    shares interact (e.g. shares normalised to sum to one). Years are independent in the model, so
    each year gets its own choice.
    """
    if name == "central":
        return prepared.central
    sign = -1.0 if name == "low" else 1.0
    current = prepared.central
    best = sign * np.asarray(evaluate(current)[key], dtype=float)
    for _ in range(passes):
        improved = False
        for info in prepared.structural_inputs(prefix):
            k = info.path
            for bound in (prepared.lows[k], prepared.highs[k]):
                now = np.asarray(current.at(k), dtype=float)
                trial_value = np.broadcast_to(bound, now.shape)
                if np.array_equal(trial_value, now):
                    continue
                out = sign * np.asarray(evaluate(current.replace({k: trial_value}))[key], dtype=float)
                better = out > best + 1e-9 * np.maximum(np.abs(best), 1.0)
                if better.any():
                    current = current.replace({k: np.where(better, trial_value, now)})
                    best = np.where(better, out, best)
                    improved = True
        if not improved:
            break
    return current


MAX_VERTICES_INPUTS = 14  # 2**14 combinations of bounds are evaluated at once; more inputs: one search per output


def extreme_scenarios(prepared: Prepared, evaluate: Evaluate, keys: list[tuple], prefix: tuple = ()
                      ) -> dict[tuple[str, tuple], Values]:
    """For every output in ``keys``, its own ``low`` and ``high`` structural scenarios, ordered by its
    own outcome: year by year, the combination of the structural inputs' bounds (each input at its
    low or its high bound) that gives the lowest (highest) value of that output, or the central
    values where no combination lowers (raises) it. So ``low <= central <= high`` holds for every
    output — the total, inward and outward flows, each product — even where the bound that lowers
    the inward flows raises the outward ones. Keys of the result: ``(name, key)``.

    Every combination is evaluated at once, as the rows of one vectorised evaluation (the model
    computes draws side by side); with more than :data:`MAX_VERTICES_INPUTS` structural inputs, the
    coordinate search of :func:`ordered_scenario` is run for each output instead.
    """
    inputs = prepared.structural_inputs(prefix)
    central = prepared.central
    out: dict[tuple[str, tuple], Values] = {}
    if not inputs:
        return {(name, key): central for name in ("low", "high") for key in keys}
    if len(inputs) > MAX_VERTICES_INPUTS:
        return {(name, key): ordered_scenario(prepared, evaluate, name, key, prefix) for name in ("low", "high")
                for key in keys}
    n_years = len(prepared.cf.years)
    m = len(inputs)
    bits = ((np.arange(2 ** m)[:, None] >> np.arange(m)) & 1).astype(bool)  # combination x input
    vertices = {}
    for j, info in enumerate(inputs):
        low = np.broadcast_to(np.asarray(prepared.lows[info.path], dtype=float), (n_years,))
        high = np.broadcast_to(np.asarray(prepared.highs[info.path], dtype=float), (n_years,))
        vertices[info.path] = np.where(bits[:, j:j + 1], high[None, :], low[None, :])
    at_vertices = evaluate(central.replace(vertices))
    at_central = evaluate(central)
    years = np.arange(n_years)
    for key in keys:
        values = np.broadcast_to(np.asarray(at_vertices[key], dtype=float), (2 ** m, n_years))
        c = np.broadcast_to(np.asarray(at_central[key], dtype=float), (n_years,))
        for name, sign in (("low", -1.0), ("high", 1.0)):
            best = np.argmax(sign * values, axis=0)  # per year
            better = sign * values[best, years] > sign * c + 1e-9 * np.maximum(np.abs(c), 1.0)
            if not better.any():
                out[(name, key)] = central
                continue
            out[(name, key)] = central.replace({
                info.path: np.where(better, vertices[info.path][best, years],
                                    np.broadcast_to(np.asarray(central.at(info.path), dtype=float), (n_years,)))
                for info in inputs})
    return out


def scenario_fingerprint(values: Values, prepared: Prepared, prefix: tuple = ()) -> bytes:
    """What tells two scenarios apart: the values of the structural inputs (under ``prefix``)."""
    parts = [np.ascontiguousarray(np.asarray(values.at(i.path), dtype=float)).tobytes()
             for i in prepared.structural_inputs(prefix)]
    return hashlib.sha256(b"|".join(parts)).digest()


def scenario_settings(prepared: Prepared, scenarios: dict[str, Values], prefix: tuple = ()) -> list[dict]:
    """What each scenario sets: every structural input (under ``prefix``) with its value in each
    scenario, per year."""
    rows = []
    for info in prepared.structural_inputs(prefix):
        rows.append({"path": info.path, **{name: np.asarray(v.at(info.path), dtype=float) for name, v in scenarios.items()}})
    return rows


CHUNK = 2048  # draws evaluated at once: keeps temporaries small enough for the heap allocator to reuse


def monte_carlo(prepared: Prepared, evaluate: Evaluate, scenario: str = "central", n: int = DEFAULT_DRAWS,
                seed: int = DEFAULT_SEED, prefix: tuple = (), chunk: int = CHUNK,
                base: Values | None = None, memo: dict | None = None) -> dict[tuple, np.ndarray]:
    """Outputs of ``evaluate`` for ``n`` draws: arrays of shape (n, years). ``base`` (default: the
    named scenario's values) gives the structural inputs, e.g. an :func:`ordered_scenario`.
    ``memo``: a dict shared by several runs, so that the draws they have in common are made once
    (:meth:`Prepared.sample`); the outputs are the same with it and without it.

    Draws are evaluated in chunks; the draws themselves do not depend on the chunk size.
    """
    base = base if base is not None else prepared.scenario(scenario, prefix)
    n_years = len(prepared.cf.years)
    draws = prepared.sample(n, seed, base, prefix, memo=memo)
    sampled = [i.path for i in prepared.sampled_inputs(prefix)]
    out: dict[tuple, np.ndarray] = {}
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        part = evaluate(base.replace({k: draws.at(k)[start:start + m] for k in sampled}))
        for k, a in part.items():
            if k not in out:
                out[k] = np.empty((n, n_years))
            out[k][start:start + m] = np.broadcast_to(a, (m, n_years))
    return out


def percentiles(samples: dict[tuple, np.ndarray], q=(5, 50, 95)) -> dict[tuple, np.ndarray]:
    """Percentiles over draws: arrays of shape (len(q), years)."""
    return {k: np.percentile(a, q, axis=0) for k, a in samples.items()}


def percentile_standard_error(draws, q: float) -> float:
    """The Monte Carlo standard error of the ``q``-th percentile of ``draws``, from the order
    statistics that bound it (distribution-free): with *n* draws, the ranks
    :math:`nq/100 \\pm 1.96\\sqrt{n\\,p(1-p)}` give a 95% interval of the percentile, and the standard
    error is its width over :math:`2 \\times 1.96`."""
    x = np.sort(np.asarray(draws, dtype=float))
    n = len(x)
    p = q / 100.0
    half = 1.959963984540054 * np.sqrt(n * p * (1 - p))
    lo = int(np.clip(np.floor(n * p - half), 0, n - 1))
    hi = int(np.clip(np.ceil(n * p + half), 0, n - 1))
    return float((x[hi] - x[lo]) / (2 * 1.959963984540054))


@dataclass
class VarianceShares:
    """How much of an output's Monte Carlo variance each kind of input explains (first-order)."""

    assumed: float  # inputs that rest on assumptions only
    measured: float  # inputs with a source
    interactions: float  # the rest: what no input explains alone
    by_input: list[tuple[tuple, float, bool]]  # (path of the first input of a draw key, share, assumed)


def first_order_share(u, y, bins: int = 20) -> float:
    """The share of the variance of *y* explained by one input alone, from the same draws: the
    variance of the means of *y* within equal-probability bins of the input's uniform draw *u*, over
    the variance of *y* (the first-order Sobol index, estimated by binning), less its expected value
    when the input explains nothing, :math:`(k-1)/(n-1)` for *k* bins, and never below zero."""
    y = np.asarray(y, dtype=float)
    var = y.var()
    if var <= 0 or not np.isfinite(var):
        return 0.0
    which = np.minimum((np.asarray(u) * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    means = np.bincount(which, weights=y, minlength=bins) / np.maximum(counts, 1)
    between = np.sum(counts * (means - y.mean()) ** 2) / len(y)
    return float(max(between / var - (bins - 1) / (len(y) - 1), 0.0))


def variance_shares(prepared: Prepared, evaluate: Evaluate, key: tuple, year_index: int = -1, n: int = DEFAULT_DRAWS,
                    seed: int = DEFAULT_SEED, prefix: tuple = (), base: Values | None = None,
                    draws: np.ndarray | None = None) -> VarianceShares:
    """Measured versus assumed: the first-order share of the variance of output ``key`` (one year)
    that comes from each sampled input (inputs drawn together count once), summed by whether the
    inputs rest on assumptions only or have a source; what is left is interactions. ``draws``: the
    Monte Carlo draws of ``key`` (draws x years) made with the same ``n``, ``seed`` and ``base``, if
    the caller has them already (they are then not drawn again)."""
    uniforms = prepared.uniforms(n, seed, prefix)
    if draws is None:
        draws = monte_carlo(prepared, evaluate, n=n, seed=seed, prefix=prefix, base=base)[key]
    y = np.asarray(draws)[:, year_index]
    groups: dict[tuple, list[InputInfo]] = {}
    for info in prepared.sampled_inputs(prefix):
        groups.setdefault(prepared.keys[info.path], []).append(info)
    by_input, assumed, measured = [], 0.0, 0.0
    for members in groups.values():
        share = first_order_share(uniforms[members[0].path], y)
        is_assumed = all(m.assumed for m in members)
        by_input.append((members[0].path, share, is_assumed))
        if is_assumed:
            assumed += share
        else:
            measured += share
    total = assumed + measured
    if total > 1:  # estimation noise: scale so the parts do not exceed the whole
        assumed, measured = assumed / total, measured / total
    by_input.sort(key=lambda t: t[1], reverse=True)
    return VarianceShares(assumed, measured, max(1.0 - assumed - measured, 0.0), by_input)


@dataclass
class TornadoBar:
    input: str
    path: tuple
    output_at_low: float
    output_at_high: float

    @property
    def swing(self) -> float:
        return abs(self.output_at_high - self.output_at_low)


def tornado(prepared: Prepared, evaluate: Evaluate, key: tuple, year_index: int = -1,
            scenario: str = "central", prefix: tuple = (), structural: bool = False) -> tuple[float, list[TornadoBar]]:
    """One-at-a-time sensitivity of output ``key`` in one year: each uncertain input at its low
    and high bound, the others central. Returns the central output and bars sorted by swing.
    ``structural=True`` does the same for the scenario inputs instead (how much of the result each
    ownership or payment share carries)."""
    base = prepared.scenario(scenario, prefix)
    central = float(np.asarray(evaluate(base)[key])[..., year_index])
    inputs = prepared.structural_inputs(prefix) if structural else prepared.sampled_inputs(prefix)
    if not inputs:
        return central, []
    # all the one-at-a-time settings in one vectorised evaluation, two rows per input (the model
    # computes draws side by side): row 2j has input j at its low bound, row 2j + 1 at its high
    # bound, every other input at its value in ``base``; each row is the evaluation the definition
    # asks for (tests/test_uncertainty.py compares them with evaluations one at a time)
    n_years = len(prepared.cf.years)
    rows = 2 * len(inputs)
    settings = {}
    for j, info in enumerate(inputs):
        k = info.path
        column = np.repeat(np.broadcast_to(np.asarray(base.at(k), dtype=float), (n_years,))[None, :], rows, axis=0)
        column[2 * j] = np.broadcast_to(np.asarray(prepared.lows[k], dtype=float), (n_years,))
        column[2 * j + 1] = np.broadcast_to(np.asarray(prepared.highs[k], dtype=float), (n_years,))
        settings[k] = column
    out = np.broadcast_to(np.asarray(evaluate(base.replace(settings))[key], dtype=float), (rows, n_years))
    at = out[:, year_index]
    bars = [TornadoBar(info.name, info.path, float(at[2 * j]), float(at[2 * j + 1])) for j, info in enumerate(inputs)]
    bars.sort(key=lambda b: b.swing, reverse=True)
    return central, bars


def deterministic_range(prepared: Prepared, evaluate: Evaluate, key: tuple, scenario: str = "central",
                        prefix: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """Extreme-bounds range of one output: every uncertain input at the bound that lowers (raises)
    it, each bound chosen one at a time, per year."""
    base = prepared.scenario(scenario, prefix)
    lo_over, hi_over = {}, {}
    central = np.asarray(evaluate(base)[key])
    for info in prepared.sampled_inputs(prefix):
        k = info.path
        at_low = np.asarray(evaluate(base.replace({k: prepared.lows[k]}))[key])
        at_high = np.asarray(evaluate(base.replace({k: prepared.highs[k]}))[key])
        low_is_lower = at_low <= at_high
        lo_over[k] = np.where(low_is_lower, prepared.lows[k], prepared.highs[k])
        hi_over[k] = np.where(low_is_lower, prepared.highs[k], prepared.lows[k])
    low = np.asarray(evaluate(base.replace(lo_over))[key]) if lo_over else central
    high = np.asarray(evaluate(base.replace(hi_over))[key]) if hi_over else central
    return low, high
