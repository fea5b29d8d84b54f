"""`iff export`: the results of every country as one tidy table (csv, xlsx or sdmx-csv)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd

from ..model.chapter.text import FORMULA_STARTS, spreadsheet_text
from ..model.errors import IffError
from ..model.outputs import write_csv
from ..model.params.loading import FILE_KINDS
from ..model.params import MARKETS
from .files import atomic_path
from .project import Project

FORMATS = ("csv", "xlsx", "sdmx-csv")
EXPORT_COLUMNS = ["country", "ref_area", "year", "market", "drug", "product", "label", "direction", "scenario",
                  "value_usd", "low_usd", "median_usd", "high_usd", "unit", "sources"]
README_ROWS = [
    ("country", "ISO 3166-1 alpha-3 code of the reporting country"),
    ("ref_area", "UN M49 code of the reporting country"),
    ("year", "reference year"),
    ("market", "drugs (drug trafficking) or smuggling (smuggling of migrants)"),
    ("drug", "for drugs: the chain (cocaine, heroin, methamphetamine)"),
    ("product", "product (drugs) or corridor (smuggling), as keyed in the parameter file; 'all' is the sum over products"),
    ("label", "the product's name for readers (a corridor's label is the parameter file's text)"),
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
    out["label"] = out["label"].fillna("") if "label" in out else out["product"]
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


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell that a spreadsheet would read as a formula neutralised
    (:func:`~methods.model.chapter.text.spreadsheet_text`); numbers are left as they are."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: spreadsheet_text(v) if isinstance(v, str) else v)
    return out


def _write_xlsx(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """A workbook with one sheet per table, header in the first row, empty cells for missing values.
    Every text cell is stored as text (never as a formula, whatever it starts with); a text that
    starts like a formula carries Excel's quote prefix, so it is shown as typed. openpyxl's
    streaming (write-only) mode: about twice as fast as pandas' writer."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    for name, table in sheets.items():
        ws = wb.create_sheet(name)

        def cell(v):
            if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                return None
            if isinstance(v, str):
                c = WriteOnlyCell(ws, value=v)
                c.data_type = "s"  # openpyxl would store text starting with '=' as a formula
                c.quotePrefix = v.startswith(FORMULA_STARTS)
                return c
            return v

        ws.append([cell(str(c)) for c in table.columns])
        for row in table.itertuples(index=False):
            ws.append([cell(v) for v in row])
    wb.save(path)


def check_output(output: Path) -> bool:
    """Refuse an output path that is not a regular file in an existing folder (a folder, a device, a
    named pipe, a socket, a link); True when it replaces an existing file."""
    output = Path(output)
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise IffError(f"--output {output}: the folder {folder} does not exist")
    try:
        info = os.lstat(output)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise IffError(f"--output {output}: is a link; give the path of a regular file")
    if not stat.S_ISREG(info.st_mode):
        kind = next((what for test, what in FILE_KINDS if test(info.st_mode)), "a special file")
        raise IffError(f"--output {output}: is {kind}; give the path of a regular file")
    return True


def write_table(results: pd.DataFrame, fmt: str, output: Path) -> Path:
    """Write the tidy results in one format, atomically (a failed write leaves no partial file)."""
    if fmt not in FORMATS:
        raise IffError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    output = Path(output)
    check_output(output)
    with atomic_path(output) as tmp:
        if fmt == "csv":
            write_csv(spreadsheet_safe(results), tmp)
        elif fmt == "sdmx-csv":
            write_csv(spreadsheet_safe(sdmx_csv_table(results)), tmp)
        else:
            _write_xlsx(tmp, {"results": results, "about": pd.DataFrame(README_ROWS, columns=["column", "meaning"])})
    return output


def export(project: Project, fmt: str, output: Path, include_fictional: bool = False) -> tuple[Path, bool]:
    """Write the export; returns its path and whether it replaced an existing file."""
    replaces = check_output(output)
    summaries = load_summaries(project, include_fictional)
    if summaries.empty:
        raise IffError("there are no results yet: run `iff build` (or `iff run`) first")
    return write_table(results_table(summaries), fmt, output), replaces
