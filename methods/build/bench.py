"""`iff bench`: build times, rebuild times, the naive baseline, the floor, Monte Carlo speed, scaling.

Everything runs in temporary copies of the checkout, so the user's chapters are untouched. Times
are wall-clock seconds on this machine; ratios compare runs made in the same invocation.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from .files import copy_project
from .forkserver import KEEP_VARIABLE, keep_seconds
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


def iff(root: Path, *args: str, env: dict | None = None) -> tuple[float, str]:
    """Run `iff` in ``root`` (with the variables ``env`` added to the environment); return
    (seconds, stderr). Raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "methods.build.cli", *args], cwd=root, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))
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


def cold_floor(root: Path, repeats: int = 3) -> float:
    """The cold floor: a notebook that only imports what the chapters import, executed by papermill
    in a new kernel (the plain path), one at a time; the best of ``repeats``."""
    import logging

    import jupytext
    import papermill as pm

    from .runner import PAPERMILL_OPTIONS

    logging.getLogger("papermill").setLevel(logging.WARNING)
    floor_md = root / "_build" / "floor.md"
    floor_md.parent.mkdir(parents=True, exist_ok=True)
    floor_md.write_text(FLOOR_TEMPLATE)

    def timed() -> float:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)  # the kernel's warnings
        try:
            start = time.perf_counter()
            pm.execute_notebook(jupytext.read(floor_md), str(root / "_build" / "floor.ipynb"), parameters={},
                                cwd=str(root), **PAPERMILL_OPTIONS)
            return time.perf_counter() - start
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)

    timed()  # warm the file system's caches
    return min(timed() for _ in range(repeats))


def keep_seconds_or_none() -> float | None:
    """How long the fork server is kept between commands here (0: not kept)."""
    try:
        return keep_seconds()
    except ValueError:
        return None


def forced_run(root: Path, engine: str, jobs: int, env: dict | None = None, repeats: int = 1) -> dict:
    """A forced run of every chapter: wall time, chapters, and the cost per chapter (wall x jobs /
    chapters, the process time a chapter takes). With ``repeats``, the best of that many runs, as
    the cold floor it is compared with is the best of its repeats (all the times are kept)."""
    times, counts = [], []
    for _ in range(repeats):
        seconds, err = iff(root, "run", "--force", "--engine", engine, "--jobs", str(jobs), env=env)
        times.append(seconds)
        counts.append(executed(err))
    seconds, n = min(zip(times, counts), key=lambda run: run[0] / max(run[1], 1))  # the lowest cost per chapter
    return {"seconds": seconds, "times": times, "chapters": n, "per_chapter": seconds * jobs / max(n, 1)}


def chapter_profile(root: Path, country: str = "PER", market: str = "drugs", top: int = 8) -> dict:
    """Where one executed chapter spends its time: its cells (papermill's timings, grouped by what
    they do) and what lies outside them (kernel start, notebook plumbing)."""
    import nbformat

    nb = nbformat.read(str(root / "book" / "countries" / country / f"{market}.ipynb"), as_version=4)
    total = float(nb.metadata.get("papermill", {}).get("duration") or 0.0)
    cells = []
    for c in nb.cells:
        d = c.metadata.get("papermill", {}).get("duration")
        if d is None or c.cell_type != "code":
            continue
        code = c.source
        what = ("figures" if re.search(r"figures\.\w+\(", code) else "Monte Carlo and the model"
                if re.search(r"chapter_results|tornado\(|variance_shares|evaluate_market", code) else
                "tables and text" if re.search(r"styled|Markdown\(|HTML\(", code) else "results files and the rest")
        cells.append((what, float(d)))
    by_kind: dict[str, float] = {}
    for what, d in cells:
        by_kind[what] = by_kind.get(what, 0.0) + d
    in_cells = sum(by_kind.values())
    by_kind["kernel start, notebook plumbing"] = max(total - in_cells, 0.0)
    return {"chapter": f"{country} {market}", "seconds": total, "by_kind": dict(sorted(by_kind.items(), key=lambda x: -x[1]))}


def same_results(a: Path, b: Path) -> bool:
    """True when two checkouts' chapters wrote identical results (the files the exports are made of)."""
    for mine in sorted((a / "book" / "countries").glob("*/*.csv")):
        theirs = b / mine.relative_to(a)
        if not theirs.is_file() or theirs.read_bytes() != mine.read_bytes():
            return False
    return True


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
    """The whole handbook (chapters and both editions of the book) for N synthetic countries, beside
    the two training countries the hand-written pages quote: the time of each stage and its cost
    per chapter (process time: wall x cores / chapters)."""
    template = (src / "parameters" / "PER.yml").read_text()
    codes = [f"X{a}{b}" for a in "ABCDEFGHIJKLMNOPQTUVWYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    cores = os.cpu_count() or 1
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"iff-bench-{n}-") as tmp:
            root = copy_project(src, Path(tmp) / "repo", countries=["XRU", "XBO"])
            for code in codes[:n]:
                text = (template.replace("country: PER", f"country: {code}").replace("name: Peru", f"name: Synthetic {code}")
                        .replace("m49: 604\n", "fictional: true\n"))
                (root / "parameters" / f"{code}.yml").write_text(text)
            seconds, err = iff(root, "build")
            chapters = executed(err)
            elapsed = re.findall(r"\(elapsed ([\d.]+) s\)", err)
            run = float(elapsed[-1]) if elapsed else float("nan")
            book = seconds - run
            # the target's measure, as for the 11 chapters: a forced run of every chapter, on its own
            # (`iff run --force`), not the chapters' part of a build
            forced = forced_run(root, "warm", cores)
            rows.append({"countries": n, "chapters": chapters, "seconds": seconds, "chapters_seconds": run,
                         "book_seconds": book, "per_chapter_run": run * cores / max(chapters, 1),
                         "per_chapter_book": book * cores / max(chapters, 1), "forced_run": forced})
            say(f"  {n:>4} countries: {chapters} chapters in {run:6.1f} s ({rows[-1]['per_chapter_run']:.2f} s per "
                f"chapter), both editions of the book in {book:6.1f} s ({rows[-1]['per_chapter_book']:.2f} s per "
                f"chapter); {seconds:6.1f} s in all; then a forced run of the {forced['chapters']} chapters: "
                f"{forced['seconds']:.1f} s ({forced['per_chapter']:.2f} s per chapter)")
    return rows


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(args) -> int:
    project = Project.find()
    cores = os.cpu_count() or 1
    results: dict = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {cores} cores",
                     "python": platform.python_version()}
    say(f"Benchmark of {project.root} on {results['machine']}, {results['date']}")
    repeats = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="iff-bench-") as tmp:
        tmp = Path(tmp)
        say("\n1. Builds with the runner (`iff build`: warm kernels; both editions, English and Spanish)")
        cleans, english = [], []
        for i in range(repeats):  # clean builds, each in a fresh copy; the median is reported
            ours = copy_project(project.root, tmp / f"ours{i}")
            seconds, err = iff(ours, "build")
            cleans.append(seconds)
            n_clean = executed(err)
            only_en = copy_project(project.root, tmp / f"english{i}")
            english.append(iff(only_en, "build", "--editions", "en")[0])
        clean, clean_en = median(cleans), median(english)
        results.update(clean_build=clean, clean_builds=cleans, clean_build_english=clean_en, clean_builds_english=english)
        say(f"  clean build, both editions: {clean:6.1f} s (median of {', '.join(f'{t:.1f}' for t in cleans)} s; "
            f"{n_clean} chapters executed, then the book in two languages)")
        say(f"  clean build, English only:  {clean_en:6.1f} s (median of {', '.join(f'{t:.1f}' for t in english)} s); "
            f"the Spanish edition costs {clean / clean_en:.2f}x")
        nochange, err = iff(ours, "build")
        results["no_change"] = {"seconds": nochange, "executed": executed(err)}
        say(f"  no-change rebuild: {nochange:6.1f} s = {nochange / clean:6.1%} of the clean build "
            f"({executed(err)} chapters executed)")

        def one_country(root: Path, *extra: str) -> tuple[float, list[float], int, list[str]]:
            per = root / "parameters" / "PER.yml"
            original = per.read_text()
            times, n_exec, countries = [], 0, []
            for loss in ("0.06", "0.07", "0.05"):  # three data updates of one country; the median is reported
                per.write_text(original.replace("value: 0.05, year: 2009, low: 0.02", f"value: {loss}, year: 2009, low: 0.02", 1))
                seconds, err = iff(root, "build", *extra)
                times.append(seconds)
                countries = sorted(set(re.findall(r"^\[\d+/\d+\] (\w{3}) ", err, flags=re.M)))
                n_exec = executed(err)
            return median(times), times, n_exec, countries

        iff(only_en, "build", "--editions", "en")
        one_en, _, _, _ = one_country(only_en, "--editions", "en")
        one, times, n_exec, countries = one_country(ours)
        results["one_country"] = {"seconds": one, "runs": times, "executed": n_exec, "countries": countries,
                                  "english_only_seconds": one_en}
        say(f"  one country's file changed: {one:6.1f} s = {one / clean:6.1%} of the clean build (median of "
            f"{', '.join(f'{t:.1f}' for t in times)} s; {n_exec} chapter{'s' if n_exec != 1 else ''} executed each time: "
            f"{', '.join(countries) or 'none'}, then the pages that show its numbers, in both editions)")
        say(f"  the same, English only: {one_en:6.1f} s; both editions cost {one / one_en:.2f}x")
        if not args.quick:
            say("\n2. Naive baseline: papermill command line, one notebook after another, then jupyter-book build")
            naive = naive_build(copy_project(project.root, tmp / "naive"))
            results["naive"] = naive
            say(f"  naive build: {naive:6.1f} s; the runner's clean build (both editions) is {naive / clean:.2f}x faster")
        say("\n3. The cold floor, and what a chapter costs")
        floor = cold_floor(ours)
        results["cold_floor"] = floor
        say(f"  cold floor: {floor:.2f} s (a new kernel that imports the chapters' packages, run by papermill)")
        cold_copy = copy_project(project.root, tmp / "cold")
        iff(cold_copy, "run")
        # the target's run: the best of three, as the floor is (the cold one, not a target, is run once)
        runs = {"cold": forced_run(cold_copy, "cold", cores), "warm": forced_run(ours, "warm", cores, repeats=3)}
        # the same, the run starting its own fork server and waiting for its imports (not a target)
        runs["warm_started_by_the_run"] = forced_run(ours, "warm", cores, env={KEEP_VARIABLE: "0"})
        results["forced_runs"] = runs
        kept = keep_seconds_or_none()
        labels = {"cold": f"forced run, cold kernels, {cores} jobs",
                  "warm": f"forced run, warm kernels, {cores} jobs" + (
                      f" (the fork server kept by the previous command: {KEEP_VARIABLE}={kept:g} s)" if kept else
                      f" (the fork server started by the run: {KEEP_VARIABLE}=0)"),
                  "warm_started_by_the_run": f"  the same, the fork server started by the run ({KEEP_VARIABLE}=0; "
                                             "not a target)"}
        for engine, r in runs.items():
            best = f" (best of {', '.join(f'{t:.1f}' for t in r['times'])} s)" if len(r["times"]) > 1 else ""
            say(f"  {labels[engine]}: {r['chapters']} chapters in {r['seconds']:.1f} s{best} = "
                f"{r['per_chapter']:.2f} s per chapter = {r['per_chapter'] / floor:.2f}x the cold floor")
        identical = same_results(ours, cold_copy)
        results["warm_equals_cold"] = identical
        say(f"  the warm and the cold kernels' chapters: {'identical results' if identical else 'DIFFERENT results'}")
        profile = chapter_profile(ours)
        results["profile"] = profile
        say(f"  where {profile['chapter']} spends its {profile['seconds']:.2f} s (warm kernel): "
            + "; ".join(f"{what} {s:.2f} s" for what, s in profile["by_kind"].items()))
        say("\n4. Monte Carlo speed of a country's drug model (one core, 10,000 draws, CPU time, correlated inputs drawn together)")
        say("  (one evaluation: every chain of the country balanced and valued for one year and one draw;"
            " the years are computed independently, side by side)")
        mc = monte_carlo_speed(ours)
        results["monte_carlo"] = mc
        for iso, r in mc.items():
            say(f"  {iso}: {r['draws_per_s']:>12,.0f} draws/s = {r['country_years_per_s']:>12,.0f} country-year "
                f"evaluations/s ({r['years']} years, {r['inputs_sampled']} uncertain inputs)")
    if not args.quick:
        say("\n5. Scaling: the whole handbook (chapters and both editions) for N synthetic countries and the two "
            "training countries")
        sizes = [int(x) for x in args.scaling.split(",") if x.strip()]
        results["scaling"] = scaling(project.root, sizes)
    say("\nTargets")
    warm = runs["warm"]["per_chapter"] / floor
    largest = (results.get("scaling") or [{}])[-1]
    checks = [
        ("clean build >= 1.8x faster than the naive baseline",
         results["naive"] / clean >= 1.8 if "naive" in results else None),
        ("no-change rebuild < 10% of the clean build, 0 chapters",
         nochange / clean < 0.10 and results["no_change"]["executed"] == 0),
        ("one-country update <= 15% of the clean build", one / clean <= 0.15),
        (f"per-chapter cost of a forced run (warm, {cores} jobs) <= 1.0x the cold floor", warm <= 1.0),
        (f"per-chapter cost at {largest.get('countries', 200)} synthetic countries <= 1.0x the cold floor",
         largest["forced_run"]["per_chapter"] / floor <= 1.0 if largest else None),
        ("no chapter differs from the cold path's (same seed: identical results)", identical),
        ("clean build of both editions <= 1.3x the English-only clean build", clean / clean_en <= 1.3),
        ("one-country update of both editions <= 1.3x the English-only one", one / one_en <= 1.3),
        (">= 1 million Monte Carlo country-year evaluations per second per core",
         min(r["country_years_per_s"] for r in mc.values()) >= 1e6),
    ]
    results["targets"] = {text: ok for text, ok in checks}
    for text, ok in checks:
        say(f"  [{'PASS' if ok else ('skipped' if ok is None else 'FAIL')}] {text}")
    out = project.build_dir / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    say(f"\nResults written to {project.rel(out)}")
    return 0
