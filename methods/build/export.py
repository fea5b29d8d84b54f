"""`iff export`: the results of every country as one tidy table (csv, xlsx or sdmx-csv)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from ..model.chapter.text import FORMULA_STARTS, spreadsheet_text
from ..model.errors import IffError
from ..model.outputs import write_csv
from ..model.params.loading import FILE_KINDS
from ..model.params import MARKETS
from .files import atomic_path
from .project import Project

FORMATS = ("csv", "xlsx", "sdmx-csv")
EXPORT_COLUMNS = ["country", "ref_area", "year", "market", "drug", "product", "label", "direction", "partner", "basis",
                  "scenario", "value_usd", "mc_p05_usd", "mc_median_usd", "mc_p95_usd", "quantity_kg", "unit", "status", "sources"]
README_ROWS = [
    ("country", "ISO 3166-1 alpha-3 code of the reporting country"),
    ("ref_area", "UN M49 code of the reporting country"),
    ("year", "reference year"),
    ("market", "drugs (drug trafficking) or smuggling (smuggling of migrants)"),
    ("drug", "for drugs: the chain (cocaine, heroin, methamphetamine)"),
    ("product", "product (drugs) or corridor (smuggling), as keyed in the parameter file; 'all' is the sum over products"),
    ("label", "the product's name for readers (a corridor's label is the parameter file's text)"),
    ("direction", "inward, outward or total (inward + outward, SDG 16.4.1)"),
    ("partner", "the counterpart: a country's ISO3 code or a region code (e.g. EUROPE, OTHER); 'all' for every partner"),
    ("basis", "own: the country's own estimate, from its parameter file; reconciled: the flow between two modelled "
              "countries as both publish it (the seller's inward flow equals the buyer's outward flow), and the "
              "country's totals with its flows with modelled countries reconciled (see the regional network chapter)"),
    ("scenario", "structural scenario, ordered by outcome: low (the point-of-sale, ownership and residence shares at "
                 "the bounds that give the row's figure its lowest value in that year), central (every share at its "
                 "value), high (at the bounds that give its highest); fob: central, with the routes that give the FOB "
                 "rule valued at their FOB price. Each row's low and high are that row's own extremes, so low <= central "
                 "<= high on every row, and the low (high) rows do not add up across directions or products. The spread "
                 "between them is the uncertainty about where ownership changes hands, which no data here settle"),
    ("value_usd", "the central estimate of the row's scenario: every sampled input at its value, the median of its "
                  "distribution; current US dollars"),
    ("mc_p05_usd", "5th percentile of the Monte Carlo draws within the row's scenario: the uncertainty of the measured "
                   "and assumed inputs, each drawn with its value as the median"),
    ("mc_median_usd", "50th percentile (median) of the Monte Carlo draws within the row's scenario"),
    ("mc_p95_usd", "95th percentile of the Monte Carlo draws within the row's scenario; mc_p05_usd to mc_p95_usd is a "
                   "90% interval, which always contains value_usd"),
    ("quantity_kg", "for a drug sold or bought across the border: pure kilograms (partner rows)"),
    ("unit", "USD: current US dollars"),
    ("status", "estimated; not estimated (no value: the data are missing, see the chapter's data gaps; never zero); "
               "partial (a total that leaves out flows not estimated)"),
    ("sources", "bibliography keys (book/references.bib) of the inputs behind the estimate"),
]
ACTIVITY = {"drugs": "DRUG_TRAFFICKING", "smuggling": "SMUGGLING_MIGRANTS"}
SDMX_DATAFLOW = "IFF_HANDBOOK:DF_IFF_ILLEGAL_MARKETS(1.0)"
# the UN SDG series of indicator 16.4.1 (UN Global SDG Indicators Database)
SERIES = {"inward": "DI_ILL_IN", "outward": "DI_ILL_OUT"}


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


def load_partners(project: Project, include_fictional: bool = False) -> pd.DataFrame:
    return _read(project, "partners", include_fictional)


def load_draws(project: Project, include_fictional: bool = False) -> dict[tuple[str, str], dict]:
    """Each chapter's Monte Carlo draws (``<market>.draws.npz``), by (country, market)."""
    from ..model.outputs import read_draws

    out = {}
    for d in chapter_dirs(project, include_fictional):
        for market in MARKETS:
            files = project.chapter(d.name, market)
            if files.draws.is_file() and files.manifest.is_file():
                out[(d.name, market)] = read_draws(files.draws)
    return out


def network_pairs(partners: pd.DataFrame, draws: dict | None = None) -> pd.DataFrame:
    """The reconciled flows between the modelled countries whose chapters have results (their
    intervals from both sides' joint draws where the chapters kept them)."""
    if partners.empty:
        return pd.DataFrame()
    from ..model.network import reconcile, reconciled_intervals_from_draws

    pairs = reconcile(partners, set(partners["country"].unique()))
    if draws and len(pairs):
        years = {c: sorted(int(y) for y in g["year"].unique()) for c, g in partners.groupby("country")}
        pairs = reconciled_intervals_from_draws(pairs, draws, years)
    return pairs


def partner_rows(partners: pd.DataFrame, pairs: pd.DataFrame, summaries: pd.DataFrame) -> pd.DataFrame:
    """Rows of the export by counterpart: each country's own flows by partner and product, and the
    reconciled flows and totals (central scenario)."""
    from ..model.network import reconciled_flows, reconciled_totals

    if partners.empty:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    ref = summaries.drop_duplicates("country").set_index("country")["ref_area"]
    sources = summaries.drop_duplicates(["country", "market", "product"]).set_index(["country", "market", "product"])["sources"]
    own = partners.assign(basis="own", scenario="central", unit="USD", status="estimated")
    frames = [own]
    if pairs is not None and len(pairs):
        rec = reconciled_flows(pairs)
        label = partners.drop_duplicates(["country", "market", "product"]).set_index(["country", "market", "product"])
        rec = rec[rec["market"] == "drugs"].assign(basis="reconciled", scenario="central", unit="USD", status="estimated",
                                                   mc_median_usd=float("nan"))
        rec["drug"] = [label["drug"].get((c, m, p), "") for c, m, p in zip(rec["country"], rec["market"], rec["product"])]
        rec["label"] = [label["label"].get((c, m, p), p) for c, m, p in zip(rec["country"], rec["market"], rec["product"])]
        smug = reconciled_flows(pairs)
        smug = smug[smug["market"] == "smuggling"].assign(basis="reconciled", scenario="central", unit="USD",
                                                          status="estimated", product="all", label="all corridors",
                                                          drug="", mc_median_usd=float("nan"))
        central = summaries[(summaries["scenario"] == "central") & (summaries["product"] == "all")]
        tot = reconciled_totals(central, pairs).rename(columns={"reconciled_usd": "value_usd"}).drop(columns="own_usd")
        tot = tot.assign(basis="reconciled", scenario="central", unit="USD", status="estimated", product="all",
                         label="all products", drug="", partner="all")
        frames += [rec, smug, tot]
    out = pd.concat(frames, ignore_index=True)
    out["ref_area"] = out["country"].map(ref)
    out["sources"] = [sources.get((c, m, p), "") for c, m, p in zip(out["country"], out["market"], out["product"])]
    return out.reindex(columns=EXPORT_COLUMNS)


def not_estimated_rows(cfs) -> pd.DataFrame:
    """Rows for the markets a country's file declares but cannot estimate (only data gaps): shown as
    *not estimated*, with no value, never as zero."""
    from ..model.results import STATUS

    rows = []
    for cf in cfs:
        if cf.fictional:
            continue
        for market in cf.unestimated_markets():
            for year in cf.years:
                for direction in ("inward", "outward", "total"):
                    rows.append({"country": cf.country, "ref_area": cf.m49, "year": year, "market": market, "drug": "",
                                 "product": "all", "label": "all products", "direction": direction, "scenario": "central",
                                 "value_usd": float("nan"), "mc_p05_usd": float("nan"), "mc_median_usd": float("nan"),
                                 "mc_p95_usd": float("nan"), "unit": "USD", "status": STATUS["not_estimated"], "sources": ""})
    return pd.DataFrame(rows)


def results_table(summaries: pd.DataFrame, unestimated: pd.DataFrame | None = None, partners: pd.DataFrame | None = None,
                  pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The tidy table of results: one row per country, year, market, product, direction, partner,
    basis and scenario. Totals over partners have partner 'all'; ``partners`` (the chapters' flows by
    counterpart) and ``pairs`` (the reconciled network) add the rows by partner and the reconciled rows."""
    out = summaries.copy() if unestimated is None or unestimated.empty else pd.concat([summaries, unestimated],
                                                                                        ignore_index=True)
    out = out.assign(partner="all", basis="own")
    if partners is not None and not partners.empty:
        out = pd.concat([out, partner_rows(partners, pairs, summaries)], ignore_index=True)
    if "status" not in out:
        out["status"] = "estimated"
    out["ref_area"] = out["ref_area"].astype("Int64")
    out["drug"] = out["drug"].fillna("")
    out["label"] = out["label"].fillna("") if "label" in out else out["product"]
    out = out.reindex(columns=EXPORT_COLUMNS)
    out["partner_order"] = out["partner"] != "all"
    return (out.sort_values(["country", "basis", "market", "partner_order", "partner", "product", "direction", "scenario",
                             "year"], kind="stable")
            .drop(columns="partner_order").reset_index(drop=True))


def sdmx_csv_table(results: pd.DataFrame) -> pd.DataFrame:
    """The results in SDMX-CSV layout, with the SDG series of indicator 16.4.1 and SDG concept names.

    SERIES is ``DI_ILL_IN`` (inward IFFs) or ``DI_ILL_OUT`` (outward IFFs), the UN Global SDG
    Indicators Database series of the indicator; the indicator itself is their sum, so total rows
    are not repeated; only the own estimates over all partners are included (the rows by partner and
    the reconciled rows are in the csv and xlsx files). Dimensions: REF_AREA (M49), TIME_PERIOD, ACTIVITY (the illegal market:
    DRUG_TRAFFICKING or SMUGGLING_MIGRANTS, the handbook's own codes: the SDG code list of the
    activity was not found), PRODUCT (``_T`` for all products), SCENARIO; measure OBS_VALUE in
    UNIT_MEASURE ``USD``, current US dollars (not ``CON_USD``, which the SDG code list uses for
    constant dollars); attributes LOWER_BOUND and UPPER_BOUND (5th and 95th percentiles), NATURE
    (E: estimated; empty where there is no value), OBS_STATUS (A: normal; M: missing, a flow not estimated) and SOURCE_DETAIL.
    """
    r = results[results["ref_area"].notna() & results["direction"].isin(SERIES) & (results["partner"] == "all")
                & (results["basis"] == "own")]
    return pd.DataFrame({
        "DATAFLOW": SDMX_DATAFLOW,
        "SERIES": r["direction"].map(SERIES),
        "REF_AREA": r["ref_area"].astype(int).map(lambda x: f"{x:03d}"),
        "TIME_PERIOD": r["year"].astype(int),
        "ACTIVITY": r["market"].map(ACTIVITY),
        "PRODUCT": r["product"].map(lambda p: "_T" if p == "all" else p.upper()),
        "SCENARIO": r["scenario"].str.upper(),
        "UNIT_MEASURE": "USD",
        "UNIT_MULT": 0,
        "OBS_VALUE": r["value_usd"],
        "LOWER_BOUND": r["mc_p05_usd"],
        "UPPER_BOUND": r["mc_p95_usd"],
        "NATURE": r["status"].map(lambda st: "" if st == "not estimated" else "E"),  # no estimate: no nature
        "OBS_STATUS": r["status"].map(lambda st: "M" if st == "not estimated" else "A"),
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
    Every text cell is written as text: never read as a formula, a number or a link, whatever it
    starts with; a text that starts like a formula also carries Excel's quote prefix, so it is shown
    as typed. Written by XlsxWriter, about three times as fast as openpyxl's streaming mode (the
    regional pages write this file in every build whose results changed)."""
    import xlsxwriter

    with xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False, "nan_inf_to_errors": True}) as wb:
        quoted = wb.add_format({"quote_prefix": True})
        for name, table in sheets.items():
            ws = wb.add_worksheet(name)
            rows = ([str(c) for c in table.columns], *table.itertuples(index=False))
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                        continue  # missing: an empty cell
                    if isinstance(v, str):
                        ws.write_string(r, c, v, quoted if v.startswith(FORMULA_STARTS) else None)
                    elif isinstance(v, (bool, np.bool_)):
                        ws.write_boolean(r, c, bool(v))
                    elif isinstance(v, (int, float, np.integer, np.floating)):
                        ws.write_number(r, c, v)
                    else:  # anything else as its text, never as a formula
                        ws.write_string(r, c, str(v))


def check_output(output: Path | str) -> bool:
    """Refuse an output path that is not a regular file in an existing folder (a folder, a device, a
    named pipe, a socket, a link); True when it replaces an existing file."""
    text = str(output)
    output = Path(output)
    if text.endswith(("/", os.sep)):  # Path() drops a trailing slash: "new/" names a folder, not a file
        raise IffError(f"--output {text}: names a folder; give the path of a file, e.g. {text.rstrip('/')}/iff-results.csv")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise IffError(f"--output {output}: the folder {folder} does not exist")
    limit = os.pathconf(folder, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if len(os.fsencode(output.name)) + len(".x.0000000.tmp") > limit:
        raise IffError(f"--output: the file name is too long ({len(os.fsencode(output.name))} bytes; at most "
                       f"{limit - 20} here)")
    try:
        info = os.lstat(output)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise IffError(f"--output {output}: cannot be used ({e.strerror})") from None
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


def export(project: Project, fmt: str, output: Path | str, include_fictional: bool = False) -> tuple[Path, bool]:
    """Write the export; returns its path and whether it replaced an existing file. ``output`` as
    the user typed it (a trailing slash names a folder)."""
    replaces = check_output(output)
    output = Path(output)
    summaries = load_summaries(project, include_fictional)
    if summaries.empty:
        raise IffError("there are no results yet: run `iff build` (or `iff run`) first")
    from .pages import valid_files

    unestimated = not_estimated_rows([cf for iso, cf in valid_files(project).items() if include_fictional or not cf.fictional])
    partners = load_partners(project, include_fictional)
    pairs = network_pairs(partners, load_draws(project, include_fictional)) if not partners.empty else None
    return write_table(results_table(summaries, unestimated, partners, pairs), fmt, output), replaces
