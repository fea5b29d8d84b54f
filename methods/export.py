"""`iff export`: the results of every country as one tidy table (csv, xlsx or sdmx-csv)."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .errors import IffError
from .project import Project
from .synthesis import EXPORT_COLUMNS, results_table, sdmx_csv_table

FORMATS = ("csv", "xlsx", "sdmx-csv")
README_ROWS = [
    ("country", "ISO 3166-1 alpha-3 code of the reporting country"),
    ("ref_area", "UN M49 code of the reporting country"),
    ("year", "reference year"),
    ("market", "drugs (drug trafficking) or smuggling (smuggling of migrants)"),
    ("drug", "for drugs: the chain (cocaine, heroin, methamphetamine)"),
    ("product", "product (drugs) or corridor (smuggling); 'all' is the sum over products"),
    ("flow", "inward, outward or total (inward + outward, SDG 16.4.1)"),
    ("scenario", "structural scenario: low, central or high point-of-sale / residence shares"),
    ("value_usd", "estimate with every other input at its central value, current US dollars"),
    ("low_usd", "5th percentile of the Monte Carlo draws within the scenario"),
    ("median_usd", "50th percentile of the Monte Carlo draws"),
    ("high_usd", "95th percentile of the Monte Carlo draws"),
    ("unit", "USD: current US dollars"),
    ("sources", "bibliography keys (book/references.bib) of the inputs behind the estimate"),
]


def chapter_dirs(project: Project, include_fictional: bool = False) -> list[Path]:
    base = project.book_dir / "countries"
    if not base.is_dir():
        return []
    return [d for d in sorted(base.iterdir())
            if d.is_dir() and (include_fictional or not d.name.startswith("X"))
            and (project.parameters_dir / f"{d.name}.yml").is_file()]


def _read(project: Project, kind: str, include_fictional: bool) -> pd.DataFrame:
    frames = []
    for d in chapter_dirs(project, include_fictional):
        for market in ("drugs", "smuggling"):
            f = d / f"{market}.{kind}.csv"
            if f.is_file() and (d / f".{market}.manifest.json").is_file():
                frame = pd.read_csv(f, keep_default_na=False, na_values=[""])
                frames.append(frame.assign(country=d.name) if "country" not in frame else frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_summaries(project: Project, include_fictional: bool = False) -> pd.DataFrame:
    return _read(project, "summary", include_fictional)


def load_flows(project: Project, include_fictional: bool = False) -> pd.DataFrame:
    return _read(project, "flows", include_fictional)


def _write_xlsx(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """A workbook with one sheet per table, header in the first row, empty cells for missing values.
    openpyxl's streaming (write-only) mode: about twice as fast as pandas' writer."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for name, table in sheets.items():
        ws = wb.create_sheet(name)
        ws.append([str(c) for c in table.columns])
        for row in table.itertuples(index=False):
            ws.append([None if v is None or (isinstance(v, float) and v != v) or v is pd.NA else v for v in row])
    wb.save(path)


def write_table(results: pd.DataFrame, fmt: str, output: Path) -> Path:
    """Write the tidy results in one format, atomically (a failed write leaves no partial file)."""
    if fmt not in FORMATS:
        raise IffError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    output = Path(output)
    if output.parent and not output.parent.exists():
        raise IffError(f"--output {output}: the folder {output.parent} does not exist")
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        if fmt == "csv":
            results.to_csv(tmp, index=False)
        elif fmt == "sdmx-csv":
            sdmx_csv_table(results).to_csv(tmp, index=False)
        else:
            _write_xlsx(tmp, {"results": results, "about": pd.DataFrame(README_ROWS, columns=["column", "meaning"])})
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def export(project: Project, fmt: str, output: Path, include_fictional: bool = False) -> Path:
    summaries = load_summaries(project, include_fictional)
    if summaries.empty:
        raise IffError("there are no results yet: run `iff build` (or `iff run`) first")
    return write_table(results_table(summaries), fmt, output)


__all__ = ["EXPORT_COLUMNS", "FORMATS", "export", "load_flows", "load_summaries", "write_table"]
