"""From a validated parameter file to arrays the model computes with.

Every :class:`~methods.model.params.Quantity` of a country file becomes an array over the model
years (the central value), with arrays of its low and high bounds, keyed by the input's path in the
file (``("markets", "drugs", "chains", "cocaine", ...)``). The model reads an input through the
record it names (``v(stage.seizures.quantity)``), so the code says what it uses; the Monte Carlo and
the sensitivity analysis replace inputs by path without the model knowing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .params import CountryFile, Quantity, iter_quantities

Path = tuple  # an input's path in the parameter file

STRUCTURAL_FIELDS = {"abroad_share", "share_of_imports"}
STRUCTURAL_PARENTS = {"payment_place", "smuggler_residence", "sold_at"}


@dataclass(frozen=True)
class InputInfo:
    """One input of a country file: where it is, and how the uncertainty analysis treats it."""

    path: Path
    quantity: Quantity
    structural: bool

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path)

    @property
    def uncertain(self) -> bool:
        return self.quantity.has_bounds()

    @property
    def assumed(self) -> bool:
        """True when no source backs any of the input's values (it rests on assumptions only)."""
        q = self.quantity
        if q.source is not None:
            return False
        return not any(getattr(v, "source", None) is not None for v in (q.values or {}).values())


def is_structural(path: Path) -> bool:
    """Point-of-sale shares (where ownership passes on a route) and residence shares define scenarios;
    they are not sampled."""
    return bool(path) and (path[-1] in STRUCTURAL_FIELDS or (len(path) > 1 and path[-2] in STRUCTURAL_PARENTS))


def input_infos(cf: CountryFile) -> list[InputInfo]:
    return [InputInfo(p, q, is_structural(p)) for p, q in iter_quantities(cf)]


class Values:
    """Numeric values of a country file's inputs, by path: ``v(quantity)`` is the array of the input
    that record is (over the model years), ``v.at(path)`` the same by path.

    Arrays may carry leading dimensions (Monte Carlo draws x years); the model broadcasts.
    """

    def __init__(self, cf: CountryFile, arrays: dict[Path, np.ndarray], fx_at_source: dict[Path, np.ndarray],
                 paths: dict[int, Path]):
        self.cf = cf
        self.years = cf.years
        self._arrays = arrays
        self._fx = fx_at_source
        self._paths = paths  # the record the model holds -> its path in the file

    def path_of(self, q: Quantity) -> Path:
        return self._paths[id(q)]

    def __call__(self, q: Quantity) -> np.ndarray:
        """The array of the input ``q`` (a record of this country file)."""
        return self._arrays[self._paths[id(q)]]

    def at(self, path: Path) -> np.ndarray:
        return self._arrays[path]

    def fx_for(self, q: Quantity) -> np.ndarray:
        """Local currency per US dollar for converting ``q`` (1 for US-dollar values).

        A value in local currency is converted at the annual average rate of the year it refers
        to: a 2017 price applied to 2019 keeps its 2017 dollar value.
        """
        return self._fx[self._paths[id(q)]]

    def replace(self, overrides: dict[Path, np.ndarray]) -> "Values":
        """A copy with some inputs (keyed by path) replaced."""
        arrays = dict(self._arrays)
        arrays.update(overrides)
        return Values(self.cf, arrays, self._fx, self._paths)


def _series(q: Quantity, years: Iterable[int], which: str) -> np.ndarray:
    out = []
    for y in years:
        value, low, high, _ = q.at_year(y)
        x = {"value": value, "low": low, "high": high}[which]
        out.append(value if x is None else x)
    return np.asarray(out, dtype=float)


def _fx_arrays(cf: CountryFile) -> dict[Path, np.ndarray]:
    fx_q = cf.macro.lcu_per_usd
    out: dict[Path, np.ndarray] = {}
    for path, q in iter_quantities(cf):
        currency = q.unit.split("/")[0]
        if currency == cf.currency and currency != "USD" and q is not fx_q and fx_q is not None:
            out[path] = np.asarray([fx_q.at_year(q.at_year(y)[3])[0] for y in cf.years], dtype=float)
        else:
            out[path] = np.ones(len(cf.years))
    return out


def central_values(cf: CountryFile) -> Values:
    years = cf.years
    found = list(iter_quantities(cf))
    return Values(cf, {p: _series(q, years, "value") for p, q in found}, _fx_arrays(cf), {id(q): p for p, q in found})


def bound_arrays(cf: CountryFile) -> tuple[dict[Path, np.ndarray], dict[Path, np.ndarray]]:
    """Low and high arrays of every input, by path (equal to the value where no bounds are given)."""
    years = cf.years
    lows, highs = {}, {}
    for path, q in iter_quantities(cf):
        lows[path] = _series(q, years, "low")
        highs[path] = _series(q, years, "high")
    return lows, highs
