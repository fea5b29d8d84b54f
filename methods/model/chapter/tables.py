"""Tables the chapters display: inputs with their provenance, balances, flows, ranges.

These functions only arrange results for reading; every number comes from the model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..drugs.balance import BALANCE_ITEMS, StageBalance
from ..inputs import InputInfo
from ..params import STAGE_LABELS, CountryFile, Quantity
from .text import html_text, md_text

EVIDENCE_LABELS = {
    "primary": "source",
    "secondary": "source (secondary report)",
    "derived": "derived from sources",
}
ITEM_LABELS = {
    "production": "Production", "imports": "Imports", "inflow": "From previous stage",
    "discrepancy": "Statistical discrepancy", "exports": "Exports", "seizures": "Seizures (pure)",
    "consumption": "Domestic consumption", "losses": "Losses", "licit_use": "Licit/traditional use",
    "outflow": "To next stage",
}


def plain(x):
    """A plain Python number (or text) for myst-nb's glue, which cannot format numpy scalars."""
    if isinstance(x, (str, int)) and not isinstance(x, bool):
        return x
    return float(x)


def fmt_number(x: float) -> str:
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:,.1f}".rstrip("0").rstrip(".")
    if a >= 0.01:
        return f"{x:.3g}"
    return f"{x:.2e}"


def value_text(q: Quantity, years: list[int]) -> str:
    if q.value is not None:
        text = fmt_number(q.value)
        if q.low is not None:
            text += f" ({fmt_number(q.low)}–{fmt_number(q.high)})"
        return text
    parts = []
    for y in sorted(q.values or {}):
        val, lo, hi, _ = q.at_year(y)
        t = f"{y}: {fmt_number(val)}"
        if lo is not None:
            t += f" ({fmt_number(lo)}–{fmt_number(hi)})"
        parts.append(t)
    if q.extend == "nearest":
        missing = [y for y in years if y not in (q.values or {})]
        if missing:
            parts.append(f"(nearest year used for {', '.join(map(str, missing))})")
    return "; ".join(parts)


def provenance_text(q: Quantity) -> tuple[str, str]:
    """(kind, text): kind is 'source', 'source (secondary report)', 'derived from sources',
    'assumption', or 'mixed' for a series whose years differ."""
    kinds, texts = [], []
    if q.source is not None:
        kinds.append(EVIDENCE_LABELS[q.source.evidence])
        texts.append(f"[{q.source.key}] {q.source.at}")
    if q.assumption is not None:
        kinds.append("assumption")
        texts.append(q.assumption)
    for y, v in sorted((q.values or {}).items()):
        src, ass = getattr(v, "source", None), getattr(v, "assumption", None)
        if src is not None:
            kinds.append(EVIDENCE_LABELS[src.evidence])
            texts.append(f"{y}: [{src.key}] {src.at}")
        if ass is not None:
            kinds.append("assumption")
            texts.append(f"{y}: {ass}")
    uniq = sorted(set(kinds))
    kind = uniq[0] if len(uniq) == 1 else "mixed: " + ", ".join(uniq)
    text = " · ".join(texts)
    if q.range_note:
        text += f" · Range: {q.range_note}"
    if q.note:
        text += f" · Note: {q.note}"
    return kind, text


def input_label(path: tuple, prefix_len: int) -> str:
    """A readable name for an input: the product (or corridor) and the field, without container names."""
    parts = list(path[prefix_len:])
    if parts[:1] == ["chains"] and len(parts) > 3 and parts[2] == "stages":
        parts = parts[3:]  # the stage names the drug; the chain name would repeat it
    parts = [str(p) for p in parts if p not in ("stages", "chains", "routes", "corridors")]
    return " › ".join(STAGE_LABELS.get(p, p).replace("_", " ") for p in parts)


def input_glue_names(infos: list[InputInfo], prefix: tuple) -> dict[str, InputInfo]:
    """Names under which a chapter glues its inputs' central values, ``in_<field path>`` without
    container names, e.g. ``in_coca_leaf_production_area`` (the year is appended per value).
    Raises ValueError if two inputs would share a name."""
    out: dict[str, InputInfo] = {}
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        parts = list(info.path[len(prefix):])
        if parts[:1] == ["chains"] and len(parts) > 3 and parts[2] == "stages":
            parts = parts[3:]
        name = "in_" + "_".join(str(p) for p in parts if p not in ("stages", "chains", "routes", "corridors"))
        if name in out:
            raise ValueError(f"two inputs would be glued as {name}: {out[name].name} and {info.name}")
        out[name] = info
    return out


def inputs_table(cf: CountryFile, infos: list[InputInfo], prefix: tuple) -> pd.DataFrame:
    """Every input under ``prefix``: value (with bounds), unit, year(s), provenance and its kind."""
    rows = []
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        kind, text = provenance_text(q)
        rows.append({
            "Input": input_label(info.path, len(prefix)),
            "Value (low–high)": value_text(q, cf.years).replace("; ", "\n"),
            "Unit": q.unit,
            "Year": ", ".join(map(str, q.reference_years())) if q.value is not None else "series",
            "Provenance": kind,
            "Source or reasoning": text.replace(" · ", "\n"),
            "Scenario input": "yes" if info.structural else "",
        })
    return pd.DataFrame(rows)


def provenance_summary(infos: list[InputInfo], prefix: tuple) -> pd.DataFrame:
    """How many inputs rest on each kind of evidence. A series whose years differ counts under each."""
    counts = {"a publication (read in it)": 0, "a secondary report quoting a publication": 0,
              "arithmetic on sourced values": 0, "an assumption, with its reasoning": 0}
    keys = list(counts)
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        kinds = {s.evidence for s in q.sources()}
        if "primary" in kinds:
            counts[keys[0]] += 1
        if "secondary" in kinds:
            counts[keys[1]] += 1
        if "derived" in kinds:
            counts[keys[2]] += 1
        if q.assumptions():
            counts[keys[3]] += 1
    return pd.DataFrame({"Inputs resting on": keys, "Number": list(counts.values())})


def assumptions_markdown(infos: list[InputInfo], prefix: tuple) -> str:
    """Markdown list of every assumption under ``prefix``, with the value it concerns and its reasoning
    (the reasoning is the parameter file's text, shown literally).

    Years of a series that share the same reasoning are listed together.
    """
    items = []
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        label = md_text(input_label(info.path, len(prefix)))
        if q.assumption is not None:
            value = fmt_number(q.value) if q.value is not None else "series"
            items.append(f"- **{label}** ({md_text(f'{value} {q.unit}')}): {md_text(q.assumption)}")
        by_reason: dict[str, list[str]] = {}
        for y, v in sorted((q.values or {}).items()):
            if getattr(v, "assumption", None):
                by_reason.setdefault(v.assumption, []).append(f"{y}: {fmt_number(v.value)}")
        for reason, years in by_reason.items():
            items.append(f"- **{label}** ({md_text('; '.join(years) + ' ' + q.unit)}): {md_text(reason)}")
    return "\n".join(items) if items else "No input of this chapter is an assumption."


def styled(df: pd.DataFrame, number_format=None, caption: str | None = None):
    """A table for display, every text (cells, row and column labels, caption) escaped for HTML: a
    label from a parameter file is shown as typed. Line breaks inside a cell are kept."""
    style = (df.style.format(number_format, escape="html", na_rep="")
             .format_index(escape="html", axis=0).format_index(escape="html", axis=1)
             .set_properties(**{"white-space": "pre-line"}))
    return style.set_caption(html_text(caption)) if caption else style


def styled_inputs(df: pd.DataFrame):
    """Inputs table with assumptions visibly marked."""
    def row_style(row):
        if "assumption" in row["Provenance"]:
            return ["background-color: #fff4e5"] * len(row)
        return [""] * len(row)

    return (styled(df).apply(row_style, axis=1).hide(axis="index")
            .set_properties(**{"font-size": "0.8em", "vertical-align": "top", "text-align": "left"}))


def collapsible(summary: str, html_body: str) -> str:
    """HTML that shows ``summary`` and reveals ``html_body`` (already safe HTML) on a click (no script needed)."""
    return f"<details><summary><strong>{html_text(summary)}</strong></summary>\n{html_body}\n</details>"


def data_gaps_markdown(gaps) -> str:
    """The data a market lacks and who holds them, as a Markdown list of literal text."""
    if not gaps:
        return "No data gaps are recorded in the parameter file."
    return "\n".join(f"- **{md_text(g.what)}** — held by: {md_text(g.institution)}" for g in gaps)


def stage_unit_label(stage: str) -> str:
    return {"coca_leaf": "t of leaf", "opium": "kg of gum"}.get(stage, "kg pure")


def product_label(product: str) -> str:
    return STAGE_LABELS.get(product, product.replace("_", " "))


def balance_table(balances: dict[str, StageBalance], years: list[int]) -> pd.DataFrame:
    """The supply-and-use balance of every stage of a chain: rows (product, item), columns years.

    Items that are zero in every year are left out; each product ends with its total supply and
    total uses, which are equal by construction.
    """
    blocks = []
    for stage, b in balances.items():
        unit = stage_unit_label(stage)
        name = f"{STAGE_LABELS.get(stage, stage).capitalize()} ({unit})"
        rows = {}
        for item in BALANCE_ITEMS:
            arr = np.asarray(getattr(b, item), dtype=float)
            if np.any(np.abs(arr) > 1e-6):
                rows[(name, ITEM_LABELS[item])] = arr
        rows[(name, "Total supply")] = b.supply()
        rows[(name, "Total uses")] = b.uses()
        blocks.append(pd.DataFrame(rows, index=[str(y) for y in years]).T)
    return pd.concat(blocks)


def gdp_share_sentence(country: str, year: int, total_usd: float, gdp_usd: float | None) -> str:
    """Total IFFs as a percentage of GDP, as a sentence: :math:`s = 100 \\times IFF / GDP`."""
    if gdp_usd is None or not np.isfinite(total_usd):
        return "No GDP is given in the parameter file, so IFFs are not compared with GDP."
    share = 100 * total_usd / gdp_usd
    return (f"That total is **{share:.2f}% of {md_text(country)}'s GDP** in {year} (US\\$ {gdp_usd / 1e9:,.1f} billion), a "
            f"comparison of scale only: IFFs are gross values of transactions, not a part of GDP. The source of "
            f"GDP is on the country's page of inputs.")


def _year_list(years: list) -> str:
    years = [str(y) for y in years]
    return years[0] if len(years) == 1 else ", ".join(years[:-1]) + " and " + years[-1]


def central_vs_interval(years: list[int], central, low, high) -> str:
    """A sentence placing the central estimate of each year against its 90% Monte Carlo interval.

    Years where the central estimate lies outside the interval are named, with both numbers.
    """
    central, low, high = (np.asarray(a, dtype=float) for a in (central, low, high))
    shown = [i for i in range(len(years)) if np.isfinite(central[i])]
    if not shown:
        return ""
    below = [i for i in shown if central[i] < low[i]]
    above = [i for i in shown if central[i] > high[i]]
    if not below and not above:
        return ("In every year the central estimate lies inside its 90% interval: the inputs' stated uncertainty "
                "is roughly balanced around their central values.")
    parts = []
    for idx, where, side in ((below, "below", "above"), (above, "above", "below")):
        if not idx:
            continue
        detail = "; ".join(f"{years[i]}: {central[i] / 1e6:,.1f} million against {low[i] / 1e6:,.1f}–"
                           f"{high[i] / 1e6:,.1f} million" for i in idx)
        parts.append(f"In {_year_list([years[i] for i in idx])} the central estimate lies {where} its 90% Monte "
                     f"Carlo interval ({detail}): several inputs have ranges that extend much further {side} their "
                     f"central value than the other way (the sources disagree, or the central value is the lowest "
                     f"or highest figure found), so most combinations of inputs give a total {side} it.")
    return ("**Note.** " + " ".join(parts) + " The central estimate combines each input's central value; both "
            "numbers are reported, and the tornado chart below shows which inputs are responsible.")
