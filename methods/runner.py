"""Execute the market templates per country with papermill, in parallel, only when inputs changed.

For every country file that validates and every market it declares, the market's template is
executed with the country's parameters. A notebook is skipped when the hash of its inputs (the
template, the parameter file, the package sources and the requirements) equals the hash recorded
by its last successful run. Outputs are written atomically: a failed or interrupted run leaves the
last good chapter in place.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import IffError, ParameterError, Problem
from .project import Project

log = logging.getLogger("iff")
CELL_TITLE_TOKEN = "__NAME__"
ISO_TOKEN = "__iso__"


@dataclass(frozen=True)
class Job:
    country: str
    name: str
    fictional: bool
    market: str
    parameters_file: str  # relative to the project root
    template: str  # absolute
    out_dir: str  # absolute: book/countries/<ISO3>
    input_hash: str
    root: str
    log_file: str
    failed_dir: str
    draws: int
    seed: int

    @property
    def notebook(self) -> Path:
        return Path(self.out_dir) / f"{self.market}.ipynb"

    @property
    def manifest(self) -> Path:
        return Path(self.out_dir) / f".{self.market}.manifest.json"

    @property
    def label(self) -> str:
        return f"{self.country} {self.market}"


@dataclass
class JobResult:
    job: Job
    ok: bool
    seconds: float
    cell: int | None = None
    error: str = ""


@dataclass
class RunReport:
    executed: list[JobResult] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    invalid: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.executed if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.invalid


# ----- hashing -----------------------------------------------------------------------------------

def _hash_files(paths: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def code_hash(project: Project) -> str:
    """Hash of everything every notebook depends on besides its own template and parameters."""
    files = [p for p in (project.root / "methods").rglob("*.py") if "__pycache__" not in p.parts]
    files.append(project.root / "requirements.txt")
    return _hash_files([f for f in files if f.exists()], project.root)


def job_hash(template: Path, parameters: Path, code: str, draws: int, seed: int) -> str:
    h = hashlib.sha256()
    for part in (template.read_bytes(), parameters.read_bytes(), code.encode(), f"{draws}:{seed}".encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def is_up_to_date(job: Job) -> bool:
    try:
        manifest = json.loads(job.manifest.read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("input_hash") == job.input_hash and job.notebook.exists()


# ----- planning ------------------------------------------------------------------------------------

def plan(project: Project, countries: list[str] | None = None, markets: list[str] | None = None,
         draws: int = 10_000, seed: int = 20201015) -> tuple[list[Job], list[Problem]]:
    """Validate the selected parameter files and list the notebooks to produce."""
    files = project.parameter_files(countries)
    code = code_hash(project)
    jobs: list[Job] = []
    problems: list[Problem] = []
    bib = project.bib_keys()
    for path in files:
        try:
            cf = project.load(path, bib)
        except ParameterError as e:
            problems += e.problems
            continue
        for market in cf.market_names():
            if markets and market not in markets:
                continue
            template = project.template(market)
            jobs.append(Job(
                country=cf.country, name=cf.name, fictional=cf.fictional, market=market,
                parameters_file=str(path.relative_to(project.root)), template=str(template),
                out_dir=str(project.country_dir(cf.country)), input_hash=job_hash(template, path, code, draws, seed),
                root=str(project.root), log_file=str(project.logs_dir / f"{cf.country}-{market}.log"),
                failed_dir=str(project.failed_dir), draws=draws, seed=seed,
            ))
    return jobs, problems


# ----- execution (runs in a worker process) ---------------------------------------------------------

def postprocess(nb, job: Job) -> None:
    """Hide parameter cells, give the chapter its country title, make labels unique per country."""
    iso = job.country.lower()
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(CELL_TITLE_TOKEN, job.name).replace(ISO_TOKEN, iso)
        for key, value in list(cell.metadata.items()):
            if isinstance(value, (dict, list, str)):
                text = json.dumps(value)
                if ISO_TOKEN in text:
                    cell.metadata[key] = json.loads(text.replace(ISO_TOKEN, iso))
    nb.metadata["iff"] = {"country": job.country, "name": job.name, "fictional": job.fictional,
                          "market": job.market, "input_hash": job.input_hash, "parameters_file": job.parameters_file}


def _error_summary(exc: BaseException) -> tuple[int | None, str]:
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill.PapermillExecutionError
        evalue = str(getattr(exc, "evalue", "")).strip().splitlines()
        return getattr(exc, "exec_count", None), f"{ename}: {evalue[-1] if evalue else ''}"
    return None, f"{type(exc).__name__}: {exc}"


def execute_job(job: Job) -> JobResult:
    """Execute one notebook into a staging folder, then move its outputs into place atomically."""
    import jupytext
    import nbformat
    import papermill as pm

    start = time.perf_counter()
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    Path(job.log_file).parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir / f".staging-{job.market}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    handler = logging.FileHandler(job.log_file, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    pm_log = logging.getLogger("papermill")
    pm_log.addHandler(handler)
    pm_log.setLevel(logging.INFO)
    staged_nb = stage / f"{job.market}.ipynb"
    # the kernel inherits this process's stderr: send it (and its warnings) to the job's log
    saved_stderr = os.dup(2)
    log_fd = os.open(job.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(log_fd, 2)
    try:
        nb = jupytext.read(job.template)
        pm.execute_notebook(
            nb, str(staged_nb),
            parameters=dict(country=job.country, parameters_file=job.parameters_file, output_dir=str(stage),
                            draws=job.draws, seed=job.seed),
            cwd=job.root, kernel_name="python3", progress_bar=False, log_output=True,
        )
        done = nbformat.read(staged_nb, as_version=4)
        postprocess(done, job)
        nbformat.write(done, staged_nb)
        # move results first, the chapter next, the manifest last: a run cut short is redone
        for f in sorted(stage.iterdir()):
            if f.name != staged_nb.name:
                os.replace(f, out_dir / f.name)
        os.replace(staged_nb, job.notebook)
        tmp_manifest = out_dir / f".{job.market}.manifest.json.tmp"
        tmp_manifest.write_text(json.dumps({"input_hash": job.input_hash, "parameters_file": job.parameters_file,
                                            "template": Path(job.template).name}))
        os.replace(tmp_manifest, job.manifest)
        return JobResult(job, True, time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - any failure of one notebook is reported, not raised
        cell, error = _error_summary(exc)
        with open(job.log_file, "a", encoding="utf-8") as fh:
            fh.write("\n" + "".join(traceback.format_exception(exc)))
        if staged_nb.exists():
            Path(job.failed_dir).mkdir(parents=True, exist_ok=True)
            shutil.copy(staged_nb, Path(job.failed_dir) / f"{job.country}-{job.market}.ipynb")
        return JobResult(job, False, time.perf_counter() - start, cell, error)
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(log_fd)
        pm_log.removeHandler(handler)
        handler.close()
        shutil.rmtree(stage, ignore_errors=True)


# ----- orchestration ---------------------------------------------------------------------------------

def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(project: Project, countries: list[str] | None = None, markets: list[str] | None = None,
        jobs: int | None = None, force: bool = False, scheduler: str | None = None,
        draws: int = 10_000, seed: int = 20201015, say=_say) -> RunReport:
    """Execute what is out of date; report what ran, what was skipped and what failed."""
    planned, invalid = plan(project, countries, markets, draws, seed)
    report = RunReport(invalid=invalid)
    for p in invalid:
        say(f"invalid: {p}")
    todo = [j for j in planned if force or not is_up_to_date(j)]
    report.skipped = [j for j in planned if j not in todo]
    if not todo:
        say(f"All {len(planned)} notebooks are up to date; nothing to execute.")
        return report
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    where = f"on the Dask cluster at {scheduler}" if scheduler else f"with {workers} process{'es' if workers > 1 else ''}"
    say(f"Executing {len(todo)} notebook{'s' if len(todo) > 1 else ''} {where}"
        + (f" ({len(report.skipped)} up to date, skipped)" if report.skipped else "") + f"; logs in {project.rel(project.logs_dir)}/")
    start = time.perf_counter()
    client = None
    executor: Executor
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise IffError("--scheduler needs the 'distributed' package (pip install distributed)") from None
        try:
            client = Client(scheduler, timeout=10)
        except OSError as e:
            raise IffError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        executor = client.get_executor()
    else:
        executor = ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {executor.submit(execute_job, j): j for j in todo}
        for n, fut in enumerate(as_completed(futures), 1):
            res = fut.result()
            report.executed.append(res)
            status = "done" if res.ok else f"FAILED ({res.error})"
            say(f"[{n}/{len(todo)}] {res.job.label:<16} {status} in {res.seconds:.1f} s  (elapsed {time.perf_counter() - start:.1f} s)")
    finally:
        executor.shutdown(wait=True)
        if client is not None:
            client.close()
    return report


def failure_summary(report: RunReport, project: Project) -> str:
    lines = []
    if report.invalid:
        lines.append(f"{len(report.invalid)} problem(s) in parameter files (those countries were not run):")
        lines += [f"  {p}" for p in report.invalid]
    if report.failed:
        lines.append(f"{len(report.failed)} notebook(s) failed; their last good chapters are kept:")
        for r in report.failed:
            cell = f"cell {r.cell}" if r.cell is not None else "before execution"
            lines.append(f"  {r.job.country} {r.job.market}: {cell}: {r.error} "
                         f"(log: {project.rel(Path(r.job.log_file))}; notebook: {project.rel(project.failed_dir)}/{r.job.country}-{r.job.market}.ipynb)")
    return "\n".join(lines)


def job_to_dict(job: Job) -> dict:
    return asdict(job)
