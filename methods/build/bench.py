"""`iff bench`: build times, rebuild times, the naive baseline, the floor, Monte Carlo speed, scaling.

Everything runs in temporary copies of the checkout, so the user's chapters are untouched. Times
are wall-clock seconds on this machine; ratios compare runs made in the same invocation.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from .files import copy_project
from .project import Project

FLOOR_TEMPLATE = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
# Floor: a notebook that only imports what the chapters import

```{code-cell} python
:tags: [parameters]
country = "XRU"
```

```{code-cell} python
from pathlib import Path
import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display
from myst_nb import glue
from methods.model.chapter import figures, tables
from methods.model.params import load_country
from methods.model.results import evaluate_market, market_totals, records_frame, summary_frame, totals
from methods.model.uncertainty import Prepared, tornado
```
"""


def say(msg: str = "") -> None:
    print(msg, flush=True)


def iff(root: Path, *args: str) -> tuple[float, str]:
    """Run `iff` in ``root``; return (seconds, stderr). Raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "methods.build.cli", *args], cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"iff {' '.join(args)} failed in {root}:\n{proc.stderr[-3000:]}")
    return seconds, proc.stderr


def executed(stderr: str) -> int:
    """Number of notebooks a run executed, from its progress lines."""
    return len(re.findall(r"^\[\d+/\d+\] .* done in", stderr, flags=re.M))


def naive_build(root: Path) -> float:
    """What a user would do without the runner: each notebook with the papermill command line, one
    after another, then `jupyter-book build`. The pages that depend on the parameter files are
    generated beforehand (not timed: the results chapters and the reference pages), so both builds
    produce the same book."""
    from .pages import prepare_sources
    from .runner import plan

    project = Project(root)
    bindir = Path(sys.executable).parent
    papermill, jupyter_book = str(bindir / "papermill"), str(bindir / "jupyter-book")
    jobs = plan(project).jobs
    notebooks = []
    for job in jobs:
        ipynb = root / "_build" / "naive" / f"{Path(job.template).stem}.ipynb"
        ipynb.parent.mkdir(parents=True, exist_ok=True)
        if not ipynb.exists():
            subprocess.run([str(bindir / "jupytext"), "--to", "ipynb", "-o", str(ipynb), job.template], check=True,
                           capture_output=True)
        notebooks.append((job, ipynb))
    start = time.perf_counter()
    for job, ipynb in notebooks:
        out = Path(job.notebook_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        params = [a for k, val in job.parameters for a in ("-p", k, str(val))]
        params += ["-p", "output_dir", str(out.parent)]
        subprocess.run([papermill, str(ipynb), str(out), *params, "--cwd", str(root)], check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    for job in jobs:  # what the runner records, so the synthesis and the book see complete chapters
        Path(job.manifest).write_text(json.dumps({"input_hash": job.input_hash}))
    prepare_sources(project)
    start = time.perf_counter()
    subprocess.run([jupyter_book, "build", str(root / "book")], cwd=root, check=True, capture_output=True)
    return elapsed + time.perf_counter() - start


def floor_and_notebook_cost(root: Path, repeats: int = 3) -> dict:
    """The floor (a notebook that only imports the chapters' packages) and the chapters' own cost,
    both executed one at a time with papermill's Python interface."""
    import logging

    import jupytext
    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.WARNING)
    floor_md = root / "_build" / "floor.md"
    floor_md.parent.mkdir(parents=True, exist_ok=True)
    floor_md.write_text(FLOOR_TEMPLATE)

    from .runner import PAPERMILL_OPTIONS

    def timed(template: Path, params: dict) -> float:
        """One execution with the runner's papermill options; the kernel's warnings are discarded."""
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            start = time.perf_counter()
            pm.execute_notebook(jupytext.read(template), str(root / "_build" / "timed.ipynb"), parameters=params,
                                cwd=str(root), **PAPERMILL_OPTIONS)
            return time.perf_counter() - start
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)

    timed(floor_md, {})  # warm the caches
    floor = min(timed(floor_md, {}) for _ in range(repeats))
    costs = {}
    for iso, market in (("COL", "drugs"), ("MEX", "drugs"), ("MEX", "smuggling")):
        params = {"country": iso, "parameters_file": f"parameters/{iso}.yml", "output_dir": ""}
        costs[f"{iso} {market}"] = min(timed(Project(root).template(market), params) for _ in range(2))
    return {"floor": floor, "chapters": costs}


def monte_carlo_speed(root: Path, draws: int = 10_000) -> dict:
    from ..model.params import load_country
    from ..model.results import market_totals
    from ..model.uncertainty import Prepared, monte_carlo

    out = {}
    for iso in ("COL", "PER", "MEX"):
        cf = load_country(root / "parameters" / f"{iso}.yml")
        prepared = Prepared.from_file(cf)
        n_years = len(cf.years)

        def evaluate(v, cf=cf):
            return market_totals(cf, "drugs", v)

        monte_carlo(prepared, evaluate, n=2000, prefix=("markets", "drugs"))  # warm up
        best = float("inf")
        for _ in range(5):
            start = time.process_time()
            monte_carlo(prepared, evaluate, n=draws, prefix=("markets", "drugs"))
            best = min(best, time.process_time() - start)
        out[iso] = {"draws_per_s": draws / best, "country_years_per_s": draws * n_years / best, "years": n_years,
                    "inputs_sampled": len(prepared.sampled_inputs(("markets", "drugs")))}
    return out


def scaling(src: Path, sizes: list[int]) -> list[dict]:
    """Time per notebook when executing the drug chapters of N synthetic countries."""
    template = (src / "parameters" / "PER.yml").read_text()
    codes = [f"X{a}{b}" for a in "ABCDEFGHIJKLMNOPQTUVWYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"iff-bench-{n}-") as tmp:
            root = copy_project(src, Path(tmp) / "repo", countries=[])
            for code in codes[:n]:
                text = (template.replace("country: PER", f"country: {code}").replace("name: Peru", f"name: Synthetic {code}")
                        .replace("m49: 604\n", "fictional: true\n"))
                (root / "parameters" / f"{code}.yml").write_text(text)
            seconds, err = iff(root, "run", "--market", "drugs")
            rows.append({"countries": n, "notebooks": executed(err), "seconds": seconds,
                         "per_notebook": seconds / max(executed(err), 1)})
            say(f"  {n:>4} countries: {executed(err)} notebooks in {seconds:6.1f} s = {rows[-1]['per_notebook']:.2f} s per notebook")
    return rows


def main(args) -> int:
    project = Project.find()
    results: dict = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                     "python": platform.python_version()}
    say(f"Benchmark of {project.root} on {results['machine']}, {results['date']}")
    with tempfile.TemporaryDirectory(prefix="iff-bench-") as tmp:
        tmp = Path(tmp)
        say("\n1. Builds with the runner (`iff build`)")
        cleans = []
        for i in range(3):  # three clean builds, each in a fresh copy; the median is reported
            ours = copy_project(project.root, tmp / f"ours{i}")
            seconds, err = iff(ours, "build")
            cleans.append(seconds)
        clean = sorted(cleans)[1]
        results["clean_build"] = clean
        results["clean_builds"] = cleans
        say(f"  clean build: {clean:6.1f} s (median of {', '.join(f'{t:.1f}' for t in cleans)} s; "
            f"{executed(err)} notebooks executed, then the book)")
        nochange, err = iff(ours, "build")
        results["no_change"] = {"seconds": nochange, "executed": executed(err)}
        say(f"  no-change rebuild: {nochange:6.1f} s = {nochange / clean:6.1%} of the clean build "
            f"({executed(err)} notebooks executed)")
        per = ours / "parameters" / "PER.yml"
        original = per.read_text()
        times = []
        for loss in ("0.06", "0.07", "0.05"):  # three data updates of one country; the median is reported
            per.write_text(original.replace("value: 0.05, year: 2009, low: 0.02", f"value: {loss}, year: 2009, low: 0.02", 1))
            seconds, err = iff(ours, "build")
            times.append(seconds)
            countries = sorted(set(re.findall(r"^\[\d+/\d+\] (\w{3}) ", err, flags=re.M)))
            n_exec = executed(err)
        one = sorted(times)[1]
        results["one_country"] = {"seconds": one, "runs": times, "executed": n_exec, "countries": countries}
        say(f"  one country's file changed: {one:6.1f} s = {one / clean:6.1%} of the clean build (median of "
            f"{', '.join(f'{t:.1f}' for t in times)} s; {n_exec} notebook{'s' if n_exec != 1 else ''} executed each time: "
            f"{', '.join(countries) or 'none'}, then the results pages and the book)")
        if not args.quick:
            say("\n2. Naive baseline: papermill command line, one notebook after another, then jupyter-book build")
            naive = naive_build(copy_project(project.root, tmp / "naive"))
            results["naive"] = naive
            say(f"  naive build: {naive:6.1f} s; the runner's clean build is {naive / clean:.2f}x faster")
        say("\n3. The floor: a notebook that only imports the chapters' packages")
        fc = floor_and_notebook_cost(ours)
        results["floor"] = fc
        say(f"  floor: {fc['floor']:.2f} s per notebook (kernel start and imports)")
        for name, cost in fc["chapters"].items():
            say(f"  {name} chapter alone: {cost:.2f} s = {cost / fc['floor']:.2f}x the floor")
        n_nb = executed(iff(ours, "run", "--force")[1])
        wall, _ = iff(ours, "run", "--force")
        results["runner_per_notebook"] = wall / n_nb
        say(f"  with the runner ({os.cpu_count()} processes): {wall / n_nb:.2f} s of wall time per notebook = "
            f"{wall / n_nb / fc['floor']:.2f}x the floor")
        say("\n4. Monte Carlo speed of a country's drug model (one core, 10,000 draws, CPU time, correlated inputs drawn together)")
        say("  (one evaluation: every chain of the country balanced and valued for one year and one draw;"
            " the years are computed independently, side by side)")
        mc = monte_carlo_speed(ours)
        results["monte_carlo"] = mc
        for iso, r in mc.items():
            say(f"  {iso}: {r['draws_per_s']:>12,.0f} draws/s = {r['country_years_per_s']:>12,.0f} country-year "
                f"evaluations/s ({r['years']} years, {r['inputs_sampled']} uncertain inputs)")
    if not args.quick:
        say("\n5. Scaling: drug chapters of N synthetic countries (`iff run`)")
        sizes = [int(x) for x in args.scaling.split(",") if x.strip()]
        results["scaling"] = scaling(project.root, sizes)
    say("\nTargets")
    checks = [
        ("clean build >= 1.8x faster than the naive baseline", results.get("naive", 0) / clean >= 1.8 if "naive" in results else None),
        ("no-change rebuild < 10% of the clean build, 0 notebooks", nochange / clean < 0.10 and results["no_change"]["executed"] == 0),
        ("one-country rebuild < 30% of the clean build", one / clean < 0.30),
        ("per-notebook cost with the runner < 1.5x the floor", results["runner_per_notebook"] / fc["floor"] < 1.5),
        (">= 1 million Monte Carlo country-year evaluations per second per core",
         min(r["country_years_per_s"] for r in mc.values()) >= 1e6),
    ]
    for text, ok in checks:
        say(f"  [{'PASS' if ok else ('skipped' if ok is None else 'FAIL')}] {text}")
    out = project.build_dir / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    say(f"\nResults written to {project.rel(out)}")
    return 0
