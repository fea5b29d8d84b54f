"""`iff export`: the results of every country as one tidy table (csv, xlsx or sdmx-csv)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..model.errors import IffError
from ..model.params import MARKETS
from .files import atomic_path
from .project import Project

FORMATS = ("csv", "xlsx", "sdmx-csv")
EXPORT_COLUMNS = ["country", "ref_area", "year", "market", "drug", "product", "direction", "scenario",
                  "value_usd", "low_usd", "median_usd", "high_usd", "unit", "sources"]
README_ROWS = [
    ("country", "ISO 3166-1 alpha-3 code of the reporting country"),
    ("ref_area", "UN M49 code of the reporting country"),
    ("year", "reference year"),
    ("market", "drugs (drug trafficking) or smuggling (smuggling of migrants)"),
    ("drug", "for drugs: the chain (cocaine, heroin, methamphetamine)"),
    ("product", "product (drugs) or corridor (smuggling); 'all' is the sum over products"),
    ("direction", "inward, outward or total (inward + outward, SDG 16.4.1)"),
    ("scenario", "structural scenario: low, central or high point-of-sale / residence shares"),
    ("value_usd", "estimate with every other input at its central value, current US dollars"),
    ("low_usd", "5th percentile of the Monte Carlo draws within the scenario"),
    ("median_usd", "50th percentile of the Monte Carlo draws"),
    ("high_usd", "95th percentile of the Monte Carlo draws"),
    ("unit", "USD: current US dollars"),
    ("sources", "bibliography keys (book/references.bib) of the inputs behind the estimate"),
]
ACTIVITY = {"drugs": "DRUG_TRAFFICKING", "smuggling": "SMUGGLING_MIGRANTS"}
SDMX_DATAFLOW = "IFF_HANDBOOK:DF_IFF_ILLEGAL_MARKETS(1.0)"
SDMX_SERIES = "IFF_ILLEGAL_MARKETS"  # placeholder: the SDG series code for 16.4.1 by activity was not retrieved


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
        for market in MARKETS:
            files = project.chapter(d.name, market)
            f = getattr(files, kind)
            if f.is_file() and files.manifest.is_file():
                frame = pd.read_csv(f, keep_default_na=False, na_values=[""])
                frames.append(frame.assign(country=d.name) if "country" not in frame else frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_summaries(project: Project, include_fictional: bool = False) -> pd.DataFrame:
    return _read(project, "summary", include_fictional)


def load_flows(project: Project, include_fictional: bool = False) -> pd.DataFrame:
    return _read(project, "flows", include_fictional)


def results_table(summaries: pd.DataFrame) -> pd.DataFrame:
    """The tidy table of results: one row per country, year, market, product, direction and scenario."""
    out = summaries.copy()
    out["ref_area"] = out["ref_area"].astype("Int64")
    out["drug"] = out["drug"].fillna("")
    return (out[EXPORT_COLUMNS]
            .sort_values(["country", "market", "product", "direction", "scenario", "year"], kind="stable")
            .reset_index(drop=True))


def sdmx_csv_table(results: pd.DataFrame) -> pd.DataFrame:
    """The results in SDMX-CSV layout, with SDG concept names.

    Dimensions: REF_AREA (M49), TIME_PERIOD, ACTIVITY, PRODUCT (``_T`` for all products), FLOW
    (INWARD, OUTWARD, TOTAL), SCENARIO; measure OBS_VALUE with UNIT_MEASURE, attributes
    LOWER_BOUND and UPPER_BOUND (5th and 95th percentiles), NATURE (E: estimated) and SOURCE_DETAIL.
    """
    r = results[results["ref_area"].notna()]
    return pd.DataFrame({
        "DATAFLOW": SDMX_DATAFLOW,
        "SERIES": SDMX_SERIES,
        "REF_AREA": r["ref_area"].astype(int).map(lambda x: f"{x:03d}"),
        "TIME_PERIOD": r["year"].astype(int),
        "ACTIVITY": r["market"].map(ACTIVITY),
        "PRODUCT": r["product"].map(lambda p: "_T" if p == "all" else p.upper()),
        "FLOW": r["direction"].str.upper(),
        "SCENARIO": r["scenario"].str.upper(),
        "UNIT_MEASURE": "USD",
        "UNIT_MULT": 0,
        "OBS_VALUE": r["value_usd"],
        "LOWER_BOUND": r["low_usd"],
        "UPPER_BOUND": r["high_usd"],
        "NATURE": "E",
        "SOURCE_DETAIL": r["sources"],
    }).reset_index(drop=True)


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
    with atomic_path(output) as tmp:
        if fmt == "csv":
            results.to_csv(tmp, index=False)
        elif fmt == "sdmx-csv":
            sdmx_csv_table(results).to_csv(tmp, index=False)
        else:
            _write_xlsx(tmp, {"results": results, "about": pd.DataFrame(README_ROWS, columns=["column", "meaning"])})
    return output


def export(project: Project, fmt: str, output: Path, include_fictional: bool = False) -> Path:
    summaries = load_summaries(project, include_fictional)
    if summaries.empty:
        raise IffError("there are no results yet: run `iff build` (or `iff run`) first")
    return write_table(results_table(summaries), fmt, output)
