"""`iff diff OLD.csv NEW.csv [--inputs REF]`: what moved between two editions of the results.

National teams that re-execute a chapter need to see what changed: which results moved, by how
much, and which inputs changed. The results come from two exports (`iff export --format csv`, or
the ``iff-results.csv`` download of two editions); the inputs from the parameter files of the
checkout compared with those of an earlier commit (``--inputs REF``, any git revision).
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..model.errors import IffError, ParameterError
from ..model.params import iter_quantities, load_country
from .project import Project

KEYS = ["country", "market", "product", "direction", "partner", "basis", "scenario", "year"]


def read_export(path: Path) -> pd.DataFrame:
    """An export of the results, as `iff export --format csv` writes it (earlier editions too: a
    table without partner or basis columns has only the own totals)."""
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"country": str, "product": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise IffError(f"{path}: cannot be read as a csv export ({type(e).__name__})") from None
    missing = [c for c in ("country", "market", "product", "direction", "scenario", "year", "value_usd") if c not in table]
    if missing:
        raise IffError(f"{path}: not an export of the results (no column {', '.join(missing)}); "
                       "write one with `iff export --format csv`")
    for col, default in (("partner", "all"), ("basis", "own")):
        if col not in table:
            table[col] = default
    return table


def moved(old: pd.DataFrame, new: pd.DataFrame, threshold: float = 0.001, everything: bool = False) -> pd.DataFrame:
    """The results that moved by more than ``threshold`` (a share of the old value), appeared or
    disappeared, largest moves first. By default only the central own totals (the headline numbers);
    ``everything`` compares every row."""
    def pick(t):
        if everything:
            return t
        return t[(t["scenario"] == "central") & (t["partner"] == "all") & (t["basis"] == "own") & (t["product"] == "all")]

    a, b = pick(old)[KEYS + ["value_usd"]], pick(new)[KEYS + ["value_usd"]]
    m = a.merge(b, on=KEYS, how="outer", suffixes=("_old", "_new"), indicator=True)
    m["change_usd"] = m["value_usd_new"] - m["value_usd_old"]
    with np.errstate(invalid="ignore", divide="ignore"):
        m["change_share"] = m["change_usd"] / m["value_usd_old"].abs()
    changed = (m["_merge"] != "both") | (m["value_usd_old"].isna() != m["value_usd_new"].isna()) | (
        m["change_share"].abs() > threshold) | ((m["value_usd_old"] == 0) & (m["value_usd_new"].fillna(0) != 0))
    out = m[changed].copy()
    out["order"] = out["change_usd"].abs().fillna(np.inf)
    return out.sort_values(["order"], ascending=False, kind="stable").drop(columns=["order"]).reset_index(drop=True)


def _money(x) -> str:
    return "not estimated" if pd.isna(x) else f"{x / 1e6:,.1f}"


def moved_lines(table: pd.DataFrame) -> list[str]:
    """One line per result that moved: what, old → new in millions of US dollars, and by how much."""
    lines = []
    for r in table.to_dict("records"):
        what = f"{r['country']} {r['market']} {r['product']} {r['direction']} {r['year']}"
        if r["partner"] != "all" or r["basis"] != "own" or r["scenario"] != "central":
            what += f" (partner {r['partner']}, {r['basis']}, {r['scenario']} scenario)"
        if r["_merge"] == "left_only":
            lines.append(f"{what}: {_money(r['value_usd_old'])} → no longer in the results")
        elif r["_merge"] == "right_only":
            lines.append(f"{what}: new, {_money(r['value_usd_new'])}")
        else:
            share = r["change_share"]
            pct = f" ({100 * share:+.1f}%)" if np.isfinite(share) else ""
            lines.append(f"{what}: {_money(r['value_usd_old'])} → {_money(r['value_usd_new'])} US$ million{pct}")
    return lines


def _quantities(path: Path) -> dict[tuple, tuple]:
    cf = load_country(path)
    out = {}
    for p, q in iter_quantities(cf):
        out[p] = tuple((y, *q.at_year(y)[:3]) for y in cf.years)
    return out


def changed_inputs(project: Project, ref: str) -> list[str]:
    """The inputs of the checkout's parameter files that differ from those at git revision ``ref``
    (value or bounds of a year), one line each; files added or removed are named."""
    lines = []
    now = {p.name: p for p in project.parameter_files()}
    listing = subprocess.run(["git", "-C", str(project.root), "ls-tree", "--name-only", ref, "parameters/"],
                             capture_output=True, text=True)
    if listing.returncode != 0:
        raise IffError(f"--inputs {ref!r}: not a revision of this repository's history ({listing.stderr.strip()})")
    before = {Path(n).name for n in listing.stdout.split() if n.endswith(".yml")}
    for name in sorted(before - set(now)):
        lines.append(f"parameters/{name}: removed")
    for name in sorted(set(now) - before):
        lines.append(f"parameters/{name}: new")
    with tempfile.TemporaryDirectory(prefix="iff-diff-") as tmp:
        for name in sorted(before & set(now)):
            show = subprocess.run(["git", "-C", str(project.root), "show", f"{ref}:parameters/{name}"], capture_output=True)
            old_path = Path(tmp) / name
            old_path.write_bytes(_current_format(show.stdout, f"{ref}:parameters/{name}"))
            try:
                old, new = _quantities(old_path), _quantities(now[name])
            except ParameterError as e:
                lines.append(f"parameters/{name}: cannot be compared ({e.problems[0].message})")
                continue
            for p in sorted(set(old) | set(new), key=str):
                where = ".".join(map(str, p))
                if p not in old:
                    lines.append(f"parameters/{name}: {where}: new input")
                elif p not in new:
                    lines.append(f"parameters/{name}: {where}: removed")
                elif old[p] != new[p]:
                    ob = {y: v for y, *v in old[p]}
                    for y, *v in new[p]:
                        if ob.get(y) != v:
                            was = ob.get(y)
                            lines.append(f"parameters/{name}: {where}, {y}: {_triple(was)} → {_triple(v)}")
    return lines


def _current_format(content: bytes, name: str) -> bytes:
    """A file of an earlier format, upgraded in memory (as `iff upgrade` would) so it can be compared."""
    from .upgrade import upgrade_text

    try:
        return upgrade_text(content, name).text.encode("utf-8")
    except (IffError, ParameterError):
        return content  # already the current format, or not readable: the comparison says so


def _triple(v) -> str:
    if v is None:
        return "none"
    value, low, high = v
    text = f"{value:,.6g}"
    return text + (f" ({low:,.6g}–{high:,.6g})" if low is not None else "")
