"""Bad parameter files get one clear line per problem: file, field path, what is wrong."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_iff
from methods.model.errors import ParameterError
from methods.model.params import bib_keys, load_country

BIB = bib_keys(REPO / "book" / "references.bib")
BASE = yaml.safe_load((REPO / "parameters" / "XRU.yml").read_text())
AREA = ["markets", "drugs", "chains", "cocaine", "stages", "coca_leaf", "production", "area"]


def write(tmp_path: Path, data, name: str = "XRU.yml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def edited(path_keys: list, value=None, delete: bool = False):
    data = copy.deepcopy(BASE)
    node = data
    for k in path_keys[:-1]:
        node = node[k]
    if delete:
        del node[path_keys[-1]]
    else:
        node[path_keys[-1]] = value
    return data


def problems(path: Path) -> list[str]:
    with pytest.raises(ParameterError) as exc:
        load_country(path, BIB, display=path.name)
    return [str(p) for p in exc.value.problems]


def test_the_training_file_is_valid(tmp_path):
    cf = load_country(write(tmp_path, BASE), BIB)
    assert cf.name.startswith("Ruritania")


def test_negative_area(tmp_path):
    data = copy.deepcopy(BASE)
    area = data["markets"]["drugs"]["chains"]["cocaine"]["stages"]["coca_leaf"]["production"]["area"]
    area["values"][2018] = -10000
    del area["low"], area["high"]
    out = problems(write(tmp_path, data))
    assert len(out) == 1, out
    assert out[0].startswith("XRU.yml:")
    assert out[0].endswith("markets.drugs.chains.cocaine.stages.coca_leaf.production.area: must not be negative (got -10000)")


def test_share_above_one(tmp_path):
    data = edited(["markets", "drugs", "chains", "cocaine", "stages", "coca_paste_base", "exports", "share", "value"], 1.5)
    out = problems(write(tmp_path, data))
    assert len(out) == 1
    assert "coca_paste_base.exports.share: a share must lie between 0 and 1 (got 1.5)" in out[0]
    assert out[0].startswith("XRU.yml:")


def test_missing_source(tmp_path):
    data = edited(["markets", "drugs", "population", "assumption"], None, delete=True)
    out = problems(write(tmp_path, data))
    assert len(out) == 1
    assert "markets.drugs.population: no source: give source {key, at, evidence} or an assumption" in out[0]


def test_unknown_key_suggests_the_closest(tmp_path):
    data = copy.deepcopy(BASE)
    stage = data["markets"]["drugs"]["chains"]["cocaine"]["stages"]["cocaine_hcl"]
    stage["seizure"] = stage.pop("seizures")
    out = problems(write(tmp_path, data))
    assert len(out) == 1
    assert "stages.cocaine_hcl: unknown key 'seizure' (did you mean 'seizures'?)" in out[0]


def test_unknown_source_key(tmp_path):
    data = copy.deepcopy(BASE)
    data["macro"]["gdp_usd"].pop("assumption")
    data["macro"]["gdp_usd"]["source"] = {"key": "wdi_gpd", "at": "series NY.GDP.MKTP.CD", "evidence": "primary"}
    out = problems(write(tmp_path, data))
    assert out == [f"XRU.yml:{out[0].split(':')[1]}: macro.gdp_usd.source.key: source key 'wdi_gpd' is not in "
                   "book/references.bib (did you mean 'wdi_gdp'?)"]


def test_bounds_must_contain_the_value(tmp_path):
    data = edited(["markets", "drugs", "chains", "cocaine", "stages", "coca_leaf", "production", "leaf_yield", "low"], 5.5)
    out = problems(write(tmp_path, data))
    assert "leaf_yield: bounds do not contain the value: low 5.5 <= value 5 <= high 6 does not hold" in out[0]


def test_series_missing_a_modelled_year(tmp_path):
    data = copy.deepcopy(BASE)
    data["markets"]["drugs"]["chains"]["cocaine"]["stages"]["cocaine_hcl"]["seizures"]["quantity"]["values"].pop(2019)
    out = problems(write(tmp_path, data))
    assert "seizures.quantity.values: no value for 2019 (the file models 2018-2019); add the years or set extend: nearest" in out[0]


def test_route_shares_must_sum_to_one(tmp_path):
    data = edited(["markets", "drugs", "chains", "cocaine", "stages", "cocaine_hcl", "exports", "routes", "syldavia",
                   "share", "value"], 0.5)
    out = problems(write(tmp_path, data))
    assert "exports.routes: shares must sum to 1 in 2018, they sum to 1.1 (borduria, syldavia)" in out[0]


def test_wrong_unit(tmp_path):
    data = edited(AREA + ["unit"], "km2")
    out = problems(write(tmp_path, data))
    assert "production.area: unit must be 'ha' (hectares), got 'km2'" in out[0]


def test_missing_marker(tmp_path):
    data = edited(["markets", "drugs", "population", "value"], "MISSING")
    out = problems(write(tmp_path, data))
    assert "markets.drugs.population.value: still marked MISSING: fill in the value" in out[0]


def test_file_name_must_match_country(tmp_path):
    out = problems(write(tmp_path, BASE, "XRV.yml"))
    assert "country: is 'XRU' but the file is named XRV.yml: rename the file XRU.yml or correct the code" in out[0]


def test_several_problems_are_all_reported(tmp_path):
    data = edited(["markets", "drugs", "population", "value"], -1)
    data["markets"]["drugs"]["chains"]["cocaine"]["stages"]["cocaine_hcl"]["losses"]["value"] = 2
    out = problems(write(tmp_path, data))
    assert len(out) == 2


# ----- through the command line --------------------------------------------------------------------

@pytest.mark.parametrize("case", ["negative_area", "share", "missing_source"])
def test_cli_one_line_per_problem_and_non_zero_exit(tmp_path, case):
    root = tmp_path / "proj"
    (root / "parameters").mkdir(parents=True)
    (root / "book").mkdir()
    (root / "book" / "references.bib").write_text((REPO / "book" / "references.bib").read_text())
    (root / "_config.yml").write_text("title: t\n")
    if case == "negative_area":
        data = edited(AREA + ["value"], -5, delete=False)
        data["markets"]["drugs"]["chains"]["cocaine"]["stages"]["coca_leaf"]["production"]["area"] = {
            "unit": "ha", "value": -5, "year": 2018, "assumption": "A negative area, which no survey can produce."}
        expect = "production.area: must not be negative (got -5)"
    elif case == "share":
        data = edited(["markets", "drugs", "chains", "cocaine", "stages", "cocaine_hcl", "losses", "value"], 1.5)
        expect = "cocaine_hcl.losses: a share must lie between 0 and 1 (got 1.5)"
    else:
        data = edited(["markets", "drugs", "population", "assumption"], None, delete=True)
        expect = "markets.drugs.population: no source"
    write(root / "parameters", data)
    result = run_iff("validate", cwd=root)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parameters/XRU.yml:") and expect in lines[0], result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_reports_a_bad_country_code_without_a_traceback(tmp_path):
    result = run_iff("run", "--country", "../../etc/passwd", cwd=REPO)
    assert result.returncode == 1
    assert "a country is given by its three-letter ISO3 code" in result.stderr
    assert "Traceback" not in result.stderr
