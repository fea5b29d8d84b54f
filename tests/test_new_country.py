"""`iff new-country`: a blank file, validated, filled, built into the handbook with nothing else edited."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from conftest import copy_repo, run_iff

NUMBERS = {"share": 0.5, "ratio": 1.2, "persons": 1_000_000, "events": 5_000, "kg": 20_000, "g/user": 10,
           "USD": 1.0e9, "USD/kg": 5_000, "USD/person": 3_000, "ha": 10_000, "t/ha": 1.0, "kg/t": 1.0, "kg/kg": 1.0}


def fill(data, fictional=False):
    """Replace every MISSING of a blank file with a round number stated as an assumption."""
    data.update(name_es="Bolivia", currency="BOB", first_year=2018, last_year=2019,
                summary="A country invented for the test, with round numbers.")
    if not fictional:
        data["m49"] = 68
    del data["macro"]["lcu_per_usd"]  # every value below is in US dollars

    def walk(node, key=""):
        if isinstance(node, dict):
            if node.get("value") == "MISSING":
                unit = str(node["unit"]).split()[0]
                node["unit"] = unit
                node["value"] = NUMBERS[unit]
                node["year"] = 2019
                node.pop("source")
                node["assumption"] = "A round number invented for the end-to-end test."
            for k, v in list(node.items()):
                if v == "MISSING":
                    node[k] = {"label": "Invented route", "partner": "PER", "origin": "BOL", "destination": "USA",
                               "owner": "PER"}.get(k, "Invented")
                walk(v, k)
    walk(data)
    stage = data["markets"]["drugs"]["chains"]["cocaine"]["stages"]["cocaine_hcl"]
    for flow in ("imports", "exports", "transit"):
        if flow in stage:
            stage[flow]["routes"][next(iter(stage[flow]["routes"]))]["share"]["value"] = 1.0
    stage["consumption"]["prevalence"]["value"] = 0.005
    stage["losses"]["value"] = 0.05
    return data


def test_bad_code_and_existing_file_are_refused(tmp_path, repo):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    for bad in ("bo", "BOLIVIA", "../x", "b0l"):
        result = run_iff("new-country", bad, "--name", "Bolivia", cwd=root)
        assert result.returncode == 1 and "is not an ISO 3166-1 alpha-3 code" in result.stderr
        assert "Traceback" not in result.stderr
    before = (root / "parameters" / "XRU.yml").read_bytes()
    result = run_iff("new-country", "XRU", "--name", "Again", cwd=root)
    assert result.returncode == 1 and "already exists; nothing was written" in result.stderr
    assert (root / "parameters" / "XRU.yml").read_bytes() == before


def test_blank_file_lists_what_is_missing(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    assert run_iff("new-country", "BOL", "--name", "Bolivia", cwd=root).returncode == 0
    text = (root / "parameters" / "BOL.yml").read_text()
    assert "# Usually from:" in text and "value: MISSING" in text
    result = run_iff("validate", "parameters/BOL.yml", cwd=root)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) > 50
    assert all(line.startswith("parameters/BOL.yml:") for line in lines)
    assert any(line.endswith("markets.drugs.population.value: still marked MISSING: fill in the value") for line in lines)
    assert "value(s) still marked MISSING" in result.stderr


@pytest.mark.slow
def test_new_country_filled_validated_run_and_built(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    git = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, check=True)  # noqa: E731
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    assert run_iff("new-country", "BOL", "--name", "Bolivia", cwd=root).returncode == 0
    path = root / "parameters" / "BOL.yml"
    path.write_text(yaml.safe_dump(fill(yaml.safe_load(path.read_text())), sort_keys=False))
    result = run_iff("validate", "parameters/BOL.yml", cwd=root)
    assert result.returncode == 0, result.stdout
    result = run_iff("build", "--draws", "300", cwd=root)
    assert result.returncode == 0, result.stderr
    html = root / "_build" / "html" / "countries" / "BOL"
    assert (html / "drugs.html").exists() and (html / "smuggling.html").exists()
    toc = yaml.safe_load((root / "book" / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p["caption"] == "Country chapters")
    assert [c["file"] for c in part["chapters"]] == ["countries/BOL/index"]
    assert "Bolivia" in (root / "_build" / "html" / "results" / "summary.html").read_text()
    # no file other than the new parameter file was edited
    assert git("status", "--porcelain").stdout.splitlines() == ["?? parameters/BOL.yml"]
