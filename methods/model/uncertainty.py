"""Uncertainty: structural scenarios, a seeded Monte Carlo, and one-at-a-time sensitivity.

Two kinds of uncertainty are kept apart.

* **Structural scenarios.** Where ownership changes hands and who is resident (the point-of-sale
  share of each drug route; the place of payment and the residence of smugglers) are not sampled.
  Scenario ``low`` sets every structural input to its low bound, ``high`` to its high bound,
  ``central`` to its value.
* **Input uncertainty.** Every other input with ``low``/``high`` bounds is drawn from its
  distribution (uniform; triangular with its mode at the value; or normal with its mean at the
  value and ``low``/``high`` at two standard deviations, truncated at the bounds). One draw per
  input applies to all years (the error of a conversion factor does not change from year to year).

Each input has its own random stream, derived from the seed and the input's path, so the same seed
gives the same numbers and widening one input's bounds changes no other input's draws.
"""
from __future__ import annotations

import hashlib
import math
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


def normal_cdf(x):
    """CDF of the standard normal."""
    return 0.5 * (1 + np.vectorize(math.erf)(np.asarray(x, dtype=float) / math.sqrt(2)))


def truncated_normal_from_u(u, low, mean, high):
    """Inverse CDF of a normal with mean ``mean`` and sd (high-low)/4, truncated at [low, high]."""
    low, mean, high = np.asarray(low, float), np.asarray(mean, float), np.asarray(high, float)
    sd = (high - low) / 4.0
    safe = np.where(sd > 0, sd, 1.0)
    a, b = normal_cdf((low - mean) / safe), normal_cdf((high - mean) / safe)
    x = mean + safe * normal_ppf(a + np.multiply(u, b - a))
    return np.where(sd > 0, np.clip(x, low, high), mean)


def draw_from_u(distribution: str, u, low, value, high):
    if distribution == "uniform":
        return uniform_from_u(u, low, high)
    if distribution == "triangular":
        return triangular_from_u(u, low, value, high)
    if distribution == "normal":
        return truncated_normal_from_u(u, low, value, high)
    raise ValueError(distribution)


def input_stream(seed: int, path: tuple) -> np.random.Generator:
    """An independent random stream for one input, fixed by the seed and the input's path."""
    digest = hashlib.sha256(".".join(map(str, path)).encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


# ----- scenarios and sampling ----------------------------------------------------------------

@dataclass
class Prepared:
    """A country file with its central values, bounds and inputs, ready for repeated evaluation."""

    cf: CountryFile
    central: Values
    lows: dict[tuple, np.ndarray]  # by input path
    highs: dict[tuple, np.ndarray]
    infos: list[InputInfo]

    @classmethod
    def from_file(cls, cf: CountryFile) -> "Prepared":
        lows, highs = bound_arrays(cf)
        return cls(cf, central_values(cf), lows, highs, input_infos(cf))

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
        """The uniform draws behind ``n`` Monte Carlo draws: one stream per input (by path)."""
        return {i.path: input_stream(seed, i.path).random(n) for i in self.sampled_inputs(prefix)}

    def sample(self, n: int, seed: int, base: Values, prefix: tuple = (),
               uniforms: dict[tuple, np.ndarray] | None = None) -> Values:
        """``n`` Monte Carlo draws of every uncertain, non-structural input (arrays of shape n x years,
        or n x 1 when the bounds are the same every year). ``uniforms`` (from :meth:`uniforms`) gives
        the underlying uniform draws; by default they are drawn from ``seed``."""
        uniforms = uniforms if uniforms is not None else self.uniforms(n, seed, prefix)
        overrides = {}
        for info in self.sampled_inputs(prefix):
            key = info.path
            u = uniforms[key]
            low, value, high = self.lows[key], np.asarray(base.at(key), dtype=float), self.highs[key]
            if value.ndim == 1 and np.all(low == low[0]) and np.all(value == value[0]) and np.all(high == high[0]):
                overrides[key] = draw_from_u(info.quantity.distribution, u, low[0], value[0], high[0])[:, None]
            else:
                overrides[key] = draw_from_u(info.quantity.distribution, u[:, None], low, value, high)
        return base.replace(overrides)


Evaluate = Callable[[Values], dict[tuple, np.ndarray]]


CHUNK = 2048  # draws evaluated at once: keeps temporaries small enough for the heap allocator to reuse


def monte_carlo(prepared: Prepared, evaluate: Evaluate, scenario: str = "central", n: int = DEFAULT_DRAWS,
                seed: int = DEFAULT_SEED, prefix: tuple = (), chunk: int = CHUNK) -> dict[tuple, np.ndarray]:
    """Outputs of ``evaluate`` for ``n`` draws: arrays of shape (n, years).

    Draws are evaluated in chunks; the draws themselves do not depend on the chunk size.
    """
    base = prepared.scenario(scenario, prefix)
    n_years = len(prepared.cf.years)
    draws = prepared.sample(n, seed, base, prefix)
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
    bars = []
    for info in (prepared.structural_inputs(prefix) if structural else prepared.sampled_inputs(prefix)):
        k = info.path
        lo = float(np.asarray(evaluate(base.replace({k: prepared.lows[k]}))[key])[..., year_index])
        hi = float(np.asarray(evaluate(base.replace({k: prepared.highs[k]}))[key])[..., year_index])
        bars.append(TornadoBar(info.name, info.path, lo, hi))
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
