"""`iff upgrade FILE`: rewrite a parameter file written for an earlier format, keeping its comments.

Format 1 → 2 (November 2026):

* ``format: 2`` is added at the top.
* **A partner on every flow.** Partners of routes and chemical inputs, the parties of services and
  the countries of smuggling corridors were free text; they become codes (a country's ISO3 code,
  or a region code such as ``EUROPE``, see :mod:`methods.model.params.partners`). A text that names
  exactly one country or region becomes its code; any other text becomes ``OTHER``, and the text
  is kept as the route's ``partner_label`` so that readers still see it. Each such change is listed.
* **Drug that keeps its owner.** Format 1 kept drug owned by non-residents out of a country's flows
  with ``resident_share`` on its routes. Format 2 describes that drug as the stage's ``transit``:
  the share of the imports that stays owned by non-residents (1 − the imports' resident share,
  with its bounds swapped) enters and leaves by the stage's export routes without becoming the
  country's output, and the export routes lose their resident shares (the model now works out
  which part of the exports is the residents'). With equal shares on the imports and the exports,
  as format 1 asked, the results are the same.

The file is parsed with the handbook's own safe loader first (size, nesting and YAML 1.1 checks), so
a hostile file fails here as it would in ``iff validate``; it is then rewritten with ruamel.yaml,
which keeps comments, key order and flow style. A copy of the original is kept beside it
(``<ISO3>.yml.format1.bak``).
"""
from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pycountry
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from ..model.errors import IffError
from ..model.params import FORMAT, STAGE_LABELS
from ..model.params.loading import parse_yaml, read_bounded, _failure
from ..model.params.partners import FICTIONAL, REGIONS, is_partner_code
from .files import atomic_path


@dataclass
class Upgrade:
    text: str
    changes: list[str] = field(default_factory=list)  # what was changed, for the user
    to_check: list[str] = field(default_factory=list)  # what the user should look at


def _norm(text: str) -> str:
    t = " ".join(str(text).split()).strip().lower()
    return t[4:] if t.startswith("the ") else t


def partner_code(text) -> str | None:
    """The code of a partner written as text in format 1: a code as it is, or the exact name of a
    country (English, as in ISO 3166) or of a region; None when the text names neither exactly."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    if is_partner_code(t):
        return t
    wanted = _norm(t)
    for code, name in {**REGIONS, **FICTIONAL}.items():
        if wanted in (_norm(name), _norm(code.replace("_", " "))):
            return code
    try:
        return pycountry.countries.lookup(t).alpha_3
    except LookupError:
        return None


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long line
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _set_partner(mapping: CommentedMap, key: str, where: str, up: Upgrade, label_key: str | None) -> None:
    value = mapping.get(key)
    if value is None:
        return
    code = partner_code(value)
    if code == value:
        return
    if code is None:
        mapping[key] = "OTHER"
        if label_key is not None and label_key not in mapping:
            mapping.insert(list(mapping).index(key) + 1, label_key, str(value))
        up.to_check.append(f"{where}.{key}: {value!r} names no single country or region: set to OTHER"
                           + (f" (the text is kept as {label_key})" if label_key else "")
                           + "; replace it with a country's ISO3 code or a region code if you can")
    else:
        mapping[key] = code
        up.changes.append(f"{where}.{key}: {value!r} -> {code}")


def _bounds_complement(q: CommentedMap) -> CommentedMap:
    """1 - a share quantity, its low and high bounds swapped (a share of residents becomes the share
    of non-residents)."""
    out = CommentedMap()
    for k, val in q.items():
        if k == "value":
            out[k] = round(1 - float(val), 10)
        elif k == "values" and isinstance(val, dict):
            out[k] = CommentedMap((y, round(1 - float(x), 10) if isinstance(x, (int, float)) else x)
                                  for y, x in val.items())
        elif k == "low":
            out["high"] = round(1 - float(val), 10)
        elif k == "high":
            out["low"] = round(1 - float(val), 10)
        elif k == "assumption":
            out[k] = f"Format 1 gave the share of these imports bought by residents; this is 1 minus it. {val}"
        elif k == "range_note":
            out[k] = f"(For the residents' share, 1 minus this.) {val}"
        else:
            out[k] = val
    if "low" in out and "high" in out:  # keep the usual key order: value, year, low, high
        low, high = out.pop("low"), out.pop("high")
        keys = list(out)
        at = keys.index("year") + 1 if "year" in keys else (keys.index("value") + 1 if "value" in keys else len(keys))
        out.insert(at, "low", low)
        out.insert(at + 1, "high", high)
    return out


def _upgrade_stage(stage: CommentedMap, stage_name: str, where: str, up: Upgrade) -> bool:
    """Turn a stage's format-1 resident shares into its transit; True when a transit was written."""
    imports, exports = stage.get("imports"), stage.get("exports")
    import_routes = (imports or {}).get("routes") or {}
    export_routes = (exports or {}).get("routes") or {}
    held = [(rid, r) for rid, r in import_routes.items() if isinstance(r, dict) and "resident_share" in r]
    if held:
        rid, route = held[0]
        if len(held) > 1:
            up.to_check.append(f"{where}.imports.routes: several routes give a resident share; the transit takes the "
                               f"first ({rid}): check it")
        share = route["resident_share"]
        owner = route.get("partner", "OTHER")
        transit = CommentedMap()
        transit["label"] = f"{STAGE_LABELS.get(stage_name, 'drug').capitalize()} crossing the country owned by non-residents"
        transit["owner"] = owner
        transit["share_of_imports"] = _bounds_complement(share) if isinstance(share, dict) else round(1 - float(share), 10)
        routes = CommentedMap()
        for eid, er in export_routes.items():
            if not isinstance(er, dict):
                continue
            tr = CommentedMap()
            tr["label"] = er.get("label", eid)
            tr["partner"] = er.get("partner", "OTHER")
            if "partner_label" in er:
                tr["partner_label"] = er["partner_label"]
            share_q = er.get("share")
            if isinstance(share_q, dict):  # one quantity, written once: the transit route refers to it
                share_q.yaml_set_anchor(f"{eid}_share", always_dump=True)
            tr["share"] = share_q
            routes[eid] = tr
        if not routes:
            routes["onward"] = CommentedMap(label="Onward (destination not given in format 1)", partner="OTHER",
                                            share=CommentedMap(unit="share", value=1.0, year=None,
                                                               assumption="Format 1 gave no export routes for this stage."))
            up.to_check.append(f"{where}.transit.routes: the stage has no export routes; give where the drug in transit goes")
        transit["routes"] = routes
        for r in import_routes.values():
            if isinstance(r, dict):
                r.pop("resident_share", None)
        keys = list(stage)
        stage.insert(keys.index("imports") + 1 if "imports" in keys else len(keys), "transit", transit)
        up.changes.append(f"{where}: the resident share of imports ({rid}) became transit.share_of_imports "
                          "(1 minus it): drug owned by non-residents now crosses the stage and keeps its owner")
    dropped = [eid for eid, er in export_routes.items() if isinstance(er, dict) and "resident_share" in er]
    for eid in dropped:
        export_routes[eid].pop("resident_share")
    if dropped:
        if held:
            up.changes.append(f"{where}.exports.routes ({', '.join(dropped)}): resident_share removed: the part of the "
                              "exports owned by non-residents is now the transit")
        else:
            up.to_check.append(f"{where}.exports.routes ({', '.join(dropped)}): resident_share removed (format 2 has no "
                               "resident share on routes); if drug owned by non-residents leaves by these routes, "
                               "describe it as the stage's transit")
    return bool(held)


def upgrade_text(content: bytes, name: str) -> Upgrade:
    """The upgraded text of a format-1 file (raises IffError if there is nothing to upgrade)."""
    data, _ = parse_yaml(content, name)  # the safe loader's checks first
    if not isinstance(data, dict):
        raise IffError(f"{name}: the file must be a mapping of keys (country: ..., name: ...)")
    fmt = data.get("format")
    if fmt == FORMAT:
        raise IffError(f"{name}: already format {FORMAT}; nothing to do")
    if fmt not in (None, 1):
        raise IffError(f"{name}: format {fmt!r} is not one this handbook can upgrade (it reads format {FORMAT})")
    y = _yaml()
    doc = y.load(content.decode("utf-8"))
    up = Upgrade("")
    if "format" in doc:
        doc["format"] = FORMAT
    else:
        doc.insert(0, "format", FORMAT, comment="the format of this parameter file (written by iff upgrade)")
    up.changes.append(f"format: {FORMAT} added")
    markets = doc.get("markets") or {}
    drugs = markets.get("drugs") if isinstance(markets, dict) else None
    for drug, chain in ((drugs or {}).get("chains") or {}).items():
        for sname, stage in ((chain or {}).get("stages") or {}).items():
            if not isinstance(stage, dict):
                continue
            where = f"markets.drugs.chains.{drug}.stages.{sname}"
            for flow in ("exports", "imports"):
                for rid, r in (((stage.get(flow) or {}).get("routes")) or {}).items():
                    if isinstance(r, dict):
                        _set_partner(r, "partner", f"{where}.{flow}.routes.{rid}", up, "partner_label")
            for pid, pc in (stage.get("precursors") or {}).items():
                if isinstance(pc, dict):
                    _set_partner(pc, "partner", f"{where}.precursors.{pid}", up, "partner_label")
            for sid, s in (stage.get("services") or {}).items():
                if isinstance(s, dict):
                    for who in ("payer", "payee"):
                        if s.get(who) != "resident":
                            _set_partner(s, who, f"{where}.services.{sid}", up, None)
            if _upgrade_stage(stage, sname, where, up) and chain.get("role") == "producer":
                chain["role"] = "producer-transit"
                up.changes.append(f"markets.drugs.chains.{drug}.role: producer -> producer-transit (it now has drug in transit)")
    smuggling = markets.get("smuggling") if isinstance(markets, dict) else None
    for cid, c in ((smuggling or {}).get("corridors") or {}).items():
        if not isinstance(c, dict):
            continue
        where = f"markets.smuggling.corridors.{cid}"
        for key in ("origin", "transit", "destination"):
            _set_partner(c, key, where, up, None)
        for kid, cost in (c.get("costs") or {}).items():
            if isinstance(cost, dict) and cost.get("paid_to") not in ("origin", "transit", "destination"):
                _set_partner(cost, "paid_to", f"{where}.costs.{kid}", up, None)
    buf = io.StringIO()
    y.dump(doc, buf)
    up.text = buf.getvalue()
    return up


def upgrade_file(path: Path, display: str) -> tuple[Upgrade, Path]:
    """Rewrite ``path`` in place (atomically), keeping a copy of the original; returns what was done
    and the copy's path."""
    content = read_bounded(path, _failure(display))
    up = upgrade_text(content, display)
    backup = path.with_name(path.name + ".format1.bak")
    if backup.exists():
        raise IffError(f"{display}: a copy of an earlier upgrade, {backup.name}, is in the way: move it, then run again")
    shutil.copyfile(path, backup)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(up.text, encoding="utf-8")
        os.chmod(tmp, path.stat().st_mode & 0o777)
    return up, backup
