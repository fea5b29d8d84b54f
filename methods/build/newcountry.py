"""`iff new-country`: a blank parameter file with every required field present and marked MISSING.

The file is written from the commented YAML template ``templates/blank-parameters.yml.j2``: each
field carries a comment saying what it is, its unit and where such data usually come from. The
drug chain follows the country's role (``--role``): producer, transit, producer-transit or
destination. The name
the user gives is written as a quoted YAML string, so any character is safe. `iff validate` then
lists every MISSING value; once all are filled in, `iff build` adds the country's chapters.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..model.errors import IffError
from ..model.params import FORMAT, MARKETS
from ..model.params.loading import ISO3
from .project import Project
from .render import render_yaml


ROLES = {
    "producer": "grows coca and makes cocaine: production, own exports",
    "transit": "buys cocaine abroad and sells it abroad; drug owned by non-residents may also cross it",
    "producer-transit": "produces, and is crossed by cocaine that stays owned by non-residents",
    "destination": "buys cocaine abroad for its own consumption",
}


def blank_file(iso3: str, name: str, markets: list[str], role: str = "transit") -> str:
    return render_yaml("blank-parameters.yml.j2", iso3=iso3, name=name, markets=markets, role=role, ROLE_HELP=ROLES,
                       fictional=iso3.startswith("X"), format=FORMAT)


def new_country(project: Project, iso3: str, name: str, markets: list[str], role: str = "transit") -> Path:
    """Write parameters/<ISO3>.yml; refuse a bad code or an existing file (nothing is overwritten)."""
    if not ISO3.fullmatch(iso3 or ""):
        raise IffError(f"{iso3!r} is not an ISO 3166-1 alpha-3 code: give three capital letters, e.g. BOL "
                       "(XAA-XZZ for a fictional training country)")
    if not name or not name.strip():
        raise IffError("--name: give the country's name")
    from pydantic_core import PydanticCustomError

    from ..model.params.records import MAX_NAME, check_text

    try:  # the file must be one its own validator accepts
        check_text(name, 1, MAX_NAME)
    except PydanticCustomError as e:
        raise IffError(f"--name: {e.message()}") from None
    if role not in ROLES:
        raise IffError(f"--role {role!r}: choose one of {', '.join(ROLES)}")
    unknown = [m for m in markets if m not in MARKETS]
    if unknown or not markets:
        raise IffError(f"--markets: choose among {', '.join(MARKETS)}")
    path = project.parameters_dir / f"{iso3}.yml"
    if path.exists() or path.is_symlink():
        raise IffError(f"{project.rel(path)} already exists; nothing was written (edit it, or delete it first)")
    text = blank_file(iso3, " ".join(name.split()), markets, role)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrites
    except FileExistsError:
        raise IffError(f"{project.rel(path)} already exists; nothing was written") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
