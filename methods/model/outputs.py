"""The files a country chapter writes, in one place.

A chapter of market *m* lives in ``book/countries/<ISO3>/``: the executed notebook ``m.ipynb``, the
runner's record of the inputs it was computed from (``.m.manifest.json``), and the results the
cross-country pages and the exports read (``m.summary.csv``: totals with their ranges;
``m.flows.csv``: every flow record; ``m.partners.csv``: the flows by counterpart with their ranges,
which the regional network reconciles; ``m.draws.npz``: the Monte Carlo draws of the totals and of
the flows by counterpart, from which aggregates over markets and countries are computed draw by
draw).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChapterFiles:
    folder: Path
    market: str

    @property
    def notebook(self) -> Path:
        return self.folder / f"{self.market}.ipynb"

    @property
    def notebook_es(self) -> Path:
        """The Spanish chapter, written from the same execution."""
        return self.folder / f"{self.market}.es.ipynb"

    @property
    def manifest(self) -> Path:
        return self.folder / f".{self.market}.manifest.json"

    @property
    def summary(self) -> Path:
        return self.folder / f"{self.market}.summary.csv"

    @property
    def flows(self) -> Path:
        return self.folder / f"{self.market}.flows.csv"

    @property
    def partners(self) -> Path:
        return self.folder / f"{self.market}.partners.csv"

    @property
    def draws(self) -> Path:
        return self.folder / f"{self.market}.draws.npz"

    def all(self) -> list[Path]:
        """Every file of the chapter (what is removed when the chapter is dropped)."""
        return [self.notebook, self.notebook_es, self.manifest, self.summary, self.flows, self.partners, self.draws]


def write_csv(table, path: Path) -> None:
    """A table as CSV (RFC 4180: lines end with CR LF, so that a text holding a line break or a
    carriage return is quoted and read back whole)."""
    table.to_csv(path, index=False, lineterminator="\r\n")


def _draw_name(key: tuple) -> str:
    return "|".join(map(str, key))


def write_draws(draws: dict, path: Path) -> None:
    """Monte Carlo draws (arrays draws x years, by key) as a NumPy archive, in single precision
    (seven significant digits: more than the draws' own precision). Not compressed: random draws
    shrink by a seventh at most, and compressing them took 0.1 s of every chapter."""
    import numpy as np

    with open(path, "wb") as fh:
        np.savez(fh, **{_draw_name(k): np.asarray(a, dtype=np.float32) for k, a in draws.items()})


def read_draws(path: Path) -> dict[tuple, "np.ndarray"]:
    """The draws :func:`write_draws` wrote, by key (text only: no pickled objects are loaded)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {tuple(name.split("|")): data[name].astype(float) for name in data.files}
