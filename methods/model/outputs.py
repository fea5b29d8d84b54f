"""The files a country chapter writes, in one place.

A chapter of market *m* lives in ``book/countries/<ISO3>/``: the executed notebook ``m.ipynb``, the
runner's record of the inputs it was computed from (``.m.manifest.json``), and the results the
cross-country pages and the exports read (``m.summary.csv``: totals with their ranges;
``m.flows.csv``: every flow record; ``m.partners.csv``: the flows by counterpart with their ranges,
which the regional network reconciles).
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

    def all(self) -> list[Path]:
        """Every file of the chapter (what is removed when the chapter is dropped)."""
        return [self.notebook, self.manifest, self.summary, self.flows, self.partners]


def write_csv(table, path: Path) -> None:
    """A table as CSV (RFC 4180: lines end with CR LF, so that a text holding a line break or a
    carriage return is quoted and read back whole)."""
    table.to_csv(path, index=False, lineterminator="\r\n")
