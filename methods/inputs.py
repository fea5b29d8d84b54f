"""From a validated parameter file to arrays the model computes with.

Every :class:`~methods.schema.Quantity` of a country file becomes an array over the model years
(the central value), with arrays of its low and high bounds. The model reads them by the record
itself (``v(stage.seizures.quantity)``), so the code names what it uses, and the Monte Carlo and the
sensitivity analysis can replace any input without the model knowing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .loading import iter_quantities
from .schema import CountryFile, Quantity

STRUCTURAL_FIELDS = {"abroad_share", "resident_share"}
STRUCTURAL_PARENTS = {"payment_place", "smuggler_residence"}


@dataclass(frozen=True)
class InputInfo:
    """One input of a country file: where it is, and how the uncertainty analysis treats it."""

    path: tuple
    quantity: Quantity
    structural: bool

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path)

    @property
    def uncertain(self) -> bool:
        return self.quantity.has_bounds()


def is_structural(path: tuple) -> bool:
    """Point-of-sale and residence shares define scenarios; they are not sampled."""
    return bool(path) and (path[-1] in STRUCTURAL_FIELDS or (len(path) > 1 and path[-2] in STRUCTURAL_PARENTS))


def input_infos(cf: CountryFile) -> list[InputInfo]:
    return [InputInfo(p, q, is_structural(p)) for p, q in iter_quantities(cf)]


class Values:
    """Numeric values of a country file's inputs: ``v(quantity)`` is an array over the model years.

    Arrays may carry leading dimensions (Monte Carlo draws x years); the model broadcasts.
    """

    def __init__(self, cf: CountryFile, arrays: dict[int, np.ndarray], fx_at_source: dict[int, np.ndarray]):
        self.cf = cf
        self.years = cf.years
        self._arrays = arrays
        self._fx = fx_at_source

    def __call__(self, q: Quantity | int) -> np.ndarray:
        """The array of an input, given the record (or its ``id``)."""
        return self._arrays[q if isinstance(q, int) else id(q)]

    def fx_for(self, q: Quantity) -> np.ndarray:
        """Local currency per US dollar for converting ``q`` (1 for US-dollar values).

        A value in local currency is converted at the annual average rate of the year it refers
        to: a 2017 price applied to 2019 keeps its 2017 dollar value.
        """
        return self._fx[id(q)]

    def replace(self, overrides: dict[int, np.ndarray]) -> "Values":
        """A copy with some inputs replaced (keys are ``id(quantity)``)."""
        arrays = dict(self._arrays)
        arrays.update(overrides)
        return Values(self.cf, arrays, self._fx)


def _series(q: Quantity, years: Iterable[int], which: str) -> np.ndarray:
    out = []
    for y in years:
        value, low, high, _ = q.at_year(y)
        x = {"value": value, "low": low, "high": high}[which]
        out.append(value if x is None else x)
    return np.asarray(out, dtype=float)


def _fx_arrays(cf: CountryFile) -> dict[int, np.ndarray]:
    fx_q = cf.macro.lcu_per_usd
    out: dict[int, np.ndarray] = {}
    for _, q in iter_quantities(cf):
        currency = q.unit.split("/")[0]
        if currency == cf.currency and currency != "USD" and q is not fx_q and fx_q is not None:
            rates = []
            for y in cf.years:
                src_year = q.at_year(y)[3]
                rates.append(fx_q.at_year(src_year)[0])
            out[id(q)] = np.asarray(rates, dtype=float)
        else:
            out[id(q)] = np.ones(len(cf.years))
    return out


def central_values(cf: CountryFile) -> Values:
    years = cf.years
    arrays = {id(q): _series(q, years, "value") for _, q in iter_quantities(cf)}
    return Values(cf, arrays, _fx_arrays(cf))


def bound_arrays(cf: CountryFile) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Low and high arrays of every input (equal to the value where no bounds are given)."""
    years = cf.years
    lows, highs = {}, {}
    for _, q in iter_quantities(cf):
        lows[id(q)] = _series(q, years, "low")
        highs[id(q)] = _series(q, years, "high")
    return lows, highs
