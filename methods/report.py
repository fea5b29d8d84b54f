"""Tables the chapters display: inputs with their provenance, balances, flows, ranges.

These functions only arrange results for reading; every number comes from the model.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .drugs.balance import BALANCE_ITEMS, StageBalance
from .inputs import InputInfo
from .schema import STAGE_LABELS, CountryFile, Quantity

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


def musd(x) -> float:
    """US dollars to millions of US dollars."""
    return float(x) / 1e6


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


def _value_text(q: Quantity, years: list[int]) -> str:
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
    parts = [str(p) for p in path[prefix_len:] if p not in ("stages", "chains", "routes", "corridors")]
    return " › ".join(STAGE_LABELS.get(p, p).replace("_", " ") for p in parts)


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
            "Value (low–high)": _value_text(q, cf.years),
            "Unit": q.unit,
            "Year": ", ".join(map(str, q.reference_years())) if q.value is not None else "series",
            "Provenance": kind,
            "Source or reasoning": text,
            "Scenario input": "yes" if info.structural else "",
        })
    return pd.DataFrame(rows)


def styled_inputs(df: pd.DataFrame):
    """Inputs table with assumptions visibly marked."""
    def row_style(row):
        if "assumption" in row["Provenance"]:
            return ["background-color: #fff4e5"] * len(row)
        return [""] * len(row)

    return (df.style.apply(row_style, axis=1).hide(axis="index")
            .set_properties(subset=["Source or reasoning"], **{"font-size": "0.85em"}))


def balance_table(b: StageBalance, years: list[int]) -> pd.DataFrame:
    """The supply-and-use balance of one stage, items as rows and years as columns."""
    rows = {}
    for item in BALANCE_ITEMS:
        arr = np.asarray(getattr(b, item), dtype=float)
        if item == "discrepancy" and not np.any(np.abs(arr) > 1e-6):
            continue
        rows[ITEM_LABELS[item]] = arr
    df = pd.DataFrame(rows, index=years).T
    supply = b.supply()
    uses = b.uses()
    df.loc["Total supply"] = supply
    df.loc["Total uses"] = uses
    df.columns = [str(y) for y in years]
    return df


def money_table(values: dict[str, np.ndarray], years: list[int], in_millions: bool = True) -> pd.DataFrame:
    scale = 1e6 if in_millions else 1
    return pd.DataFrame({k: np.asarray(v, dtype=float) / scale for k, v in values.items()}, index=[str(y) for y in years]).T


def escape(text: str) -> str:
    return html.escape(text)
