"""Execute the market templates per country with papermill, in parallel, only when inputs changed.

For every country file that validates and every market it declares, the market's template is
executed with the country's parameters. A notebook is skipped when the hash of its inputs (the
template, the parameter file, the package sources and the requirements) equals the hash recorded
by its last successful run. Outputs are written atomically: a failed or interrupted run leaves the
last good chapter in place.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..model.errors import IffError, ParameterError, Problem
from .files import hash_files, write_if_changed
from ..model.chapter.text import md_text
from ..model.outputs import ChapterFiles
from ..model.params import MARKETS
from .project import Project

log = logging.getLogger("iff")
CELL_TITLE_TOKEN = "__NAME__"
ISO_TOKEN = "__iso__"
ISO_CODE_TOKEN = "__ISO__"  # the country's code as written (parameters/__ISO__.yml)


@dataclass(frozen=True)
class Job:
    """One notebook to execute: a template, its parameters, and where its outputs go."""

    label: str  # e.g. "COL drugs", shown in progress lines and failure summaries
    template: str  # absolute path of the MyST template
    notebook_path: str  # absolute path of the executed chapter
    input_hash: str
    root: str
    log_file: str
    failed_dir: str
    parameters: tuple  # (name, value) pairs passed to papermill; output_dir is added
    title: str  # replaces __NAME__ in the template's Markdown
    iso: str  # replaces __iso__ (labels unique per country)
    title_es: str = ""  # the country's name in the Spanish chapter
    metadata: tuple = ()  # (key, value) pairs stored in the notebook's metadata under "iff"
    country: str = ""
    market: str = ""
    timeout: int = 600  # seconds a cell may run (not part of the input hash)
    engine: str = "warm"  # how the kernel starts (methods.build.kernels); the chapter is the same either way
    preload: tuple = ()  # the model's modules the chapter imports (for the warm engine's fork server)

    @property
    def notebook(self) -> Path:
        return Path(self.notebook_path)

    @property
    def out_dir(self) -> str:
        return str(self.notebook.parent)

    @property
    def manifest(self) -> Path:
        return ChapterFiles(self.notebook.parent, self.market).manifest


@dataclass
class JobResult:
    job: Job
    ok: bool
    seconds: float
    cell: int | None = None
    error: str = ""
    executed: bool = False  # failed after its cells ran (its notebook was not valid)


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


# ----- what a chapter depends on ---------------------------------------------------------------

def _imports(source: str, module: str, is_package: bool) -> set[str]:
    """Names of the modules ``source`` imports (relative imports resolved against ``module``),
    including ``a.b.c`` for ``from a.b import c`` (which may be a module)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{alias.name}" for alias in node.names)
    return out


class ImportCache:
    """What each source imports, kept between runs in ``_build/.imports.json`` and keyed by the
    digest of the source's text (with the module's name): a file whose text did not change is not
    parsed again (parsing the model and the templates took about a second of every `iff build`).
    A missing or unreadable cache is rebuilt; it never decides what a chapter depends on by itself."""

    def __init__(self, project: Project):
        self.path = project.build_dir / ".imports.json"
        try:
            self.known: dict[str, list[str]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.known = {}
        if not isinstance(self.known, dict):
            self.known = {}
        self.used: set[str] = set()
        self.stored = set(self.known)

    def imports(self, text: str, module: str, is_package: bool, code=lambda text: text) -> set[str]:
        """:func:`_imports` of ``code(text)`` (``code`` extracts the Python of a template)."""
        key = hashlib.sha256(f"{module}\0{is_package}\0{text}".encode()).hexdigest()
        names = self.known.get(key)
        if not isinstance(names, list):
            names = self.known[key] = sorted(_imports(code(text), module, is_package))
        self.used.add(key)
        return set(names)

    def save(self) -> None:
        """Keep what this run looked up (the sources as they are now; older versions go)."""
        if self.stored != self.used:
            self.known = {k: v for k, v in self.known.items() if k in self.used}
            self.stored = set(self.known)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_if_changed(self.path, json.dumps(self.known, sort_keys=True))


def _template_code(text: str) -> str:
    """The Python of a chapter template (MyST markdown): its code cells without magics."""
    import jupytext

    cells = [c.source for c in jupytext.reads(text, fmt="md:myst").cells if c.cell_type == "code"]
    return "\n".join(line for cell in cells for line in cell.splitlines() if not line.lstrip().startswith(("%", "!")))


def _module_file(root: Path, name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def chapter_code(project: Project, template: Path, cache: ImportCache | None = None) -> list[Path]:
    """The package's files a chapter executes: the ``methods`` modules its template imports, the
    modules those import, and so on, with the ``__init__`` of every package on the way. They must
    all lie in the model layer (``methods/model/``): a chapter that imports the build layer is an
    error, so editing the build layer never changes what a chapter computes."""
    own = cache is None
    cache = cache or ImportCache(project)
    todo = [n for n in cache.imports(template.read_text(encoding="utf-8"), "__chapter__", False, _template_code)
            if n.split(".")[0] == "methods"]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            sub = ".".join(parts[:i])
            if sub in seen:
                continue
            path = _module_file(project.root, sub)
            if path is None:
                continue  # a name imported from a module, not a module
            rel = path.relative_to(project.root)
            if rel.parts[:2] not in (("methods", "model"), ("methods", "__init__.py")):
                raise IffError(f"{project.rel(template)} imports {sub} ({rel}), outside the model layer methods/model/: "
                               "chapters may import only the model")
            seen[sub] = path
            todo += [n for n in cache.imports(path.read_text(encoding="utf-8"), sub, path.name == "__init__.py")
                     if n.split(".")[0] == "methods" and n not in seen]
    if own:
        cache.save()
    return sorted(seen.values())


def code_hash(project: Project, files: list[Path]) -> str:
    """Fingerprint of the code a chapter runs besides its template: the model modules it imports
    (``files``, from :func:`chapter_code`) and the pinned requirements."""
    return hash_files([*files, project.root / "requirements.txt"], project.root)


def job_hash(template: Path, parameters: Path, code: str, draws: int, seed: int,
             catalogues: tuple[Path, ...] = (), editions: tuple[str, ...] = ("en", "es")) -> str:
    """The fingerprint of a chapter's inputs: its template, its parameter file, the code it imports,
    the Monte Carlo settings, the editions it is shown in and the catalogues its Spanish words come from."""
    h = hashlib.sha256()
    parts = [template.read_bytes(), parameters.read_bytes(), code.encode(),
             f"{draws}:{seed}:{','.join(editions)}".encode()]
    parts += [c.read_bytes() if c.is_file() else b"" for c in catalogues]
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def is_up_to_date(job: Job) -> bool:
    try:
        manifest = json.loads(job.manifest.read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("input_hash") == job.input_hash and job.notebook.exists()


# ----- planning ------------------------------------------------------------------------------------

@dataclass
class Plan:
    """The chapters to produce (each with the hash of its inputs) and the problems of the parameter
    files that could not be planned."""

    jobs: list[Job]
    invalid: list[Problem]


def module_names(project: Project, files: list[Path]) -> tuple[str, ...]:
    """The dotted names of the package's modules at ``files`` (``methods/model/results.py`` ...)."""
    names = []
    for path in files:
        parts = list(path.relative_to(project.root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return tuple(names)


def plan(project: Project, countries: list[str] | None = None, markets: list[str] | None = None,
         draws: int = 10_000, seed: int = 20201015, timeout: int = 600, engine: str = "warm",
         editions: tuple[str, ...] = ("en", "es")) -> Plan:
    """Validate the selected parameter files and list the notebooks to produce."""
    files = project.parameter_files(countries)
    codes: dict[str, str] = {}
    modules: dict[str, tuple[str, ...]] = {}
    jobs: list[Job] = []
    problems: list[Problem] = []
    bib = project.bib_keys()
    imports = ImportCache(project)
    for path in files:
        try:
            cf = project.load(path, bib)
        except ParameterError as e:
            problems += e.problems
            continue
        for market in cf.estimated_markets():
            if markets and market not in markets:
                continue
            template = project.template(market)
            if market not in codes:
                files_run = chapter_code(project, template, imports)
                codes[market] = code_hash(project, files_run)
                modules[market] = module_names(project, files_run)
            rel = str(path.relative_to(project.root))
            jobs.append(Job(
                label=f"{cf.country} {market}", template=str(template),
                notebook_path=str(project.chapter(cf.country, market).notebook),
                input_hash=job_hash(template, path, codes[market], draws, seed,
                                    project.catalogues(cf.country) if "es" in editions else (), tuple(editions)),
                root=str(project.root),
                log_file=str(project.logs_dir / f"{cf.country}-{market}.log"), failed_dir=str(project.failed_dir),
                parameters=(("country", cf.country), ("parameters_file", rel), ("draws", draws), ("seed", seed),
                            ("glue_details", cf.fictional), ("languages", ",".join(editions))),
                title=cf.name, iso=cf.country.lower(), title_es=cf.name_in("es"),
                metadata=(("country", cf.country), ("name", cf.name), ("fictional", cf.fictional), ("market", market),
                          ("parameters_file", rel)),
                country=cf.country, market=market, timeout=timeout, engine=engine,
            ))
    # one fork server serves every chapter of a run: it preloads the modules of all the templates
    preload = tuple(sorted(set().union(*modules.values())))
    imports.save()
    return Plan([dataclasses.replace(j, preload=preload) for j in jobs], problems)


# ----- execution (runs in a worker process) ---------------------------------------------------------

def notebook_copy(nb):
    """A copy of notebook ``nb`` whose containers are new down to each output's data (its notebook,
    cells and outputs, their metadata, lists and bundles) and whose texts and values are shared
    (texts cannot change). It can be changed as :func:`for_language`, :func:`postprocess` and
    nbformat's writer change a notebook (a cell's source, tags and metadata keys, which outputs a cell
    keeps, an output's metadata and data, a text split into lines) without changing ``nb``, as a deep
    copy would, for a third of its time (a training chapter's 1,800 outputs: 10 ms instead of 26). Each
    metadata value (``tags``, ``scrapbook``, ``papermill``) is itself copied one level deep; what lies
    below it (``papermill.parameters``, a scrapbook entry's value), an error's traceback and the
    values of a bundle that are not texts (``application/json``) are shared: replace them, do not
    change them in place."""
    from nbformat import NotebookNode

    def shallow(value):
        return NotebookNode(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value

    def node(d):  # dict.__setitem__: the values are nodes already (NotebookNode's own checks each one)
        new = NotebookNode(d)
        if "metadata" in d:
            dict.__setitem__(new, "metadata", NotebookNode({k: shallow(v) for k, v in d["metadata"].items()}))
        return new

    def cell_copy(cell):
        new = node(cell)
        if "outputs" in cell:
            dict.__setitem__(new, "outputs", [node(o) for o in cell["outputs"]])
            for out in new["outputs"]:
                if "data" in out:
                    dict.__setitem__(out, "data", NotebookNode(out["data"]))
        if "attachments" in cell:
            new["attachments"] = NotebookNode({k: NotebookNode(v) for k, v in cell["attachments"].items()})
        return new

    new = node(nb)
    new["cells"] = [cell_copy(c) for c in nb["cells"]]
    return new


def for_language(nb, lang: str, words: dict[str, str] | None = None):
    """The chapter in one language, from the executed notebook that holds both: the outputs tagged
    with the other language are dropped; a figure or text glued for Spanish (``name__es``) takes the
    place of the English one under its name; in Spanish, each prose cell is its translation from the
    catalogue (``words``; a cell without one stays in English, and `iff i18n check` reports it).
    ``nb`` is not changed (the chapter is a :func:`notebook_copy` of it)."""
    from ..model.chapter.languages import GLUE_SUFFIX, LANG_KEY

    from ..model.i18n import LANGUAGES

    nb = notebook_copy(nb)
    suffix = f"{GLUE_SUFFIX}{lang}"
    others = tuple(f"{GLUE_SUFFIX}{other}" for other in LANGUAGES if other != "en")

    def language_of(name: str) -> str | None:
        """The language a glued name is for (``fig_iff__es``), or None for a name glued once."""
        return next((s[len(GLUE_SUFFIX):] for s in others if name.endswith(s)), None)

    replaced = {(o.get("metadata", {}).get("scrapbook") or {}).get("name", "")[: -len(suffix)]
                for c in nb.cells for o in c.get("outputs", [])
                if (o.get("metadata", {}).get("scrapbook") or {}).get("name", "").endswith(suffix)} if lang != "en" else set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if lang != "en" and words:
                cell.source = words.get(cell.source, cell.source)
            continue
        kept = []
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {})
            if meta.get(LANG_KEY, lang) != lang:
                continue
            scrap = meta.get("scrapbook") or {}
            name = scrap.get("name", "")
            glued_lang = language_of(name)
            if glued_lang is not None:
                if glued_lang != lang:
                    continue
                scrap["name"] = name[: -len(GLUE_SUFFIX) - len(glued_lang)]
            elif name in replaced:
                continue
            kept.append(out)
        if "outputs" in cell:
            cell.outputs = kept
    return nb


def postprocess(nb, job: Job, lang: str = "en") -> None:
    """Hide parameter cells, give the chapter its country title, make labels unique per country."""
    iso = job.iso
    title = job.title_es or job.title if lang == "es" else job.title
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
        if cell.cell_type == "markdown":
            cell.source = (cell.source.replace(CELL_TITLE_TOKEN, md_text(title)).replace(ISO_TOKEN, iso)
                           .replace(ISO_CODE_TOKEN, iso.upper()))
        for key, value in list(cell.metadata.items()):
            if isinstance(value, (dict, list, str)):
                text = json.dumps(value)
                if ISO_TOKEN in text:
                    cell.metadata[key] = json.loads(text.replace(ISO_TOKEN, iso))
    nb.metadata["iff"] = dict(job.metadata, input_hash=job.input_hash, language=lang)


def _error_summary(exc: BaseException, job: Job | None = None) -> tuple[int | None, str]:
    if "Timeout" in type(exc).__name__ and job is not None:
        return None, (f"a cell ran longer than the {job.timeout} s limit and was stopped "
                      "(give more time with --timeout SECONDS)")
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill.PapermillExecutionError
        evalue = str(getattr(exc, "evalue", "")).strip().splitlines()
        return getattr(exc, "exec_count", None), f"{ename}: {evalue[-1] if evalue else ''}"
    return None, f"{type(exc).__name__}: {exc}"


PAPERMILL_OPTIONS = dict(
    kernel_name="python3", progress_bar=False,
    # papermill writes no notebook (the runner writes each language's chapter), and none after every cell
    request_save_on_cell_execute=False,
    # the outputs are complete when the last cell ends: stop the kernel without the grace period
    shutdown_kernel="immediate",
)


KERNEL_START_ATTEMPTS = 3


def kernel_failed_to_start(exc: BaseException) -> bool:
    """True for the failures that happen before any cell runs because the kernel did not start or
    did not answer (e.g. two kernels started at the same moment picked the same free port): trying
    again is safe, since nothing was executed."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("Kernel died before replying to kernel_info" in text
                                              or "Kernel didn't respond in" in text)


_KEPT = threading.local()  # per thread (a Dask worker may run chapters in several): the box of its chapter


def _keep_or_write_ipynb(nb, path, write_ipynb):
    """papermill's ``write_ipynb`` in a process that runs chapters: the notebook papermill would
    write without an output path is put in the running chapter's box (:func:`_execute_notebook`)
    instead of being serialized for nothing; any other call is papermill's own."""
    box = getattr(_KEPT, "box", None)
    if path is None and box is not None:
        box["notebook"] = nb
        return None
    return write_ipynb(nb, path)


def _install_keep_or_write() -> None:
    """Make papermill call :func:`_keep_or_write_ipynb` (once per process; papermill calls it from
    the thread that runs the chapter)."""
    import papermill.execute

    if getattr(papermill.execute.write_ipynb, "func", None) is not _keep_or_write_ipynb:
        papermill.execute.write_ipynb = functools.partial(_keep_or_write_ipynb, write_ipynb=papermill.execute.write_ipynb)


def _execute_notebook(nb, staged: Path, job: Job, kept: dict):
    """The executed notebook: papermill, with up to KERNEL_START_ATTEMPTS attempts when the kernel
    fails to start. papermill is given no output path: the runner writes each language's chapter
    itself, and papermill's own copy (both languages in one, serialized and checked) was made for
    nothing, a twentieth of a training chapter's time. When a cell fails, the notebook papermill
    would have written (with its marks at the error) is put in ``kept["notebook"]`` instead, for the
    runner to keep in _build/failed/. The chapter runs in the folder ``staged``."""
    import papermill as pm

    options = dict(PAPERMILL_OPTIONS)
    if job.engine == "warm":
        from .forkserver import preload_modules
        from .kernels import warm_manager

        options["kernel_manager_class"] = warm_manager(preload_modules(list(job.preload)), job.log_file)
    _install_keep_or_write()
    _KEPT.box = kept
    try:
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            try:
                return pm.execute_notebook(nb, None,  # papermill reads it through its text: a copy
                                           parameters=dict(job.parameters, output_dir=str(staged)),
                                           cwd=job.root, log_output=True, execution_timeout=job.timeout, **options)
            except RuntimeError as exc:
                if not kernel_failed_to_start(exc) or attempt == KERNEL_START_ATTEMPTS:
                    raise
                logging.getLogger("papermill").warning(
                    "the kernel did not start (%s); trying again (attempt %d of %d)", exc, attempt + 1, KERNEL_START_ATTEMPTS)
                time.sleep(0.2 * attempt)
    finally:
        _KEPT.box = None


# what each kind of output keeps of its kernel message's content (nbformat.v4.output_from_msg)
OUTPUT_FIELDS = {"execute_result": ("metadata", "data", "execution_count"), "display_data": ("metadata", "data"),
                 "stream": ("name", "text"), "error": ("ename", "evalue", "traceback")}


def output_from_msg(msg: dict):
    """The output a kernel's IOPub message makes, as ``nbformat.v4.output_from_msg`` makes it, but
    without checking each output against the notebook schema (nbformat does that with jsonschema,
    about a third of a millisecond an output: 20 ms of a chapter's client). The chapter is checked
    as a whole, with nbformat's compiled validator, when it is written (:func:`write_valid`), and
    fails there if an output is not valid. ValueError for a message that is not an output, as
    nbformat raises (nbclient then logs it and goes on)."""
    import nbformat

    kind = msg["header"]["msg_type"]
    if kind not in OUTPUT_FIELDS:
        raise ValueError(f"Unrecognized output msg type: {kind!r}")
    content = msg["content"]
    return nbformat.from_dict({"output_type": kind, **{name: content[name] for name in OUTPUT_FIELDS[kind]}})


class InvalidNotebook(ValueError):
    """An executed chapter that is not a valid notebook: ``notebook`` (kept in _build/failed/)."""

    def __init__(self, message: str, notebook=None):
        super().__init__(message)
        self.notebook = notebook


def notebook_json(nb) -> str:
    """The text nbformat writes for a version 4 notebook (``nbformat.writes``, byte for byte: its
    lines split, its transient keys left out, indented and sorted), without validating it and
    without nbformat's deep copy of the whole notebook (:func:`notebook_copy` instead)."""
    import json

    from nbformat.v4.nbjson import BytesEncoder
    from nbformat.v4.rwbase import split_lines, strip_transient

    return json.dumps(strip_transient(split_lines(notebook_copy(nb))), cls=BytesEncoder, indent=1, sort_keys=True,
                      separators=(",", ": "), ensure_ascii=False)


def write_valid(nb, path: Path) -> None:
    """Write a chapter's notebook as ``nbformat.write`` writes it, checked against the notebook
    schema as it is written: an invalid notebook (nbformat only logs it) is an error that fails the
    chapter (:class:`InvalidNotebook`, which holds it); a version 4 notebook, which every chapter
    is, is then not written."""
    import nbformat

    if nb.get("nbformat") != 4:  # not a chapter made by the runner: nbformat's own writer
        problem: dict = {}
        nbformat.write(nb, str(path), capture_validation_error=problem)
        error = problem.get("ValidationError")
    else:
        try:
            nbformat.validate(nb)
            error = None
        except nbformat.ValidationError as exc:
            error = exc
        if error is None:
            text = notebook_json(nb)
            Path(path).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    if error is not None:
        place = list(getattr(error, "absolute_path", None) or getattr(error, "path", None) or [])
        where = "/".join(map(str, place)) or "the notebook"
        first = (str(error.message).splitlines() or [""])[0]
        # in full, in the chapter's log (the runner sends papermill's log there)
        logging.getLogger("papermill").error("the executed notebook is not valid: %s", error)
        raise InvalidNotebook(f"the executed notebook is not valid ({where}): {first[:300]}; this is a fault of "
                              "the chapter's code, not of the parameter file: report it with the chapter's log",
                              nb) from error


@functools.lru_cache(maxsize=8)
def _template_notebook(text: str, extension: str):
    """A chapter template's text as a notebook, as ``jupytext.read`` makes it from the file; parsed
    once per worker for each text (a worker runs many countries' chapters of the same templates;
    papermill never changes it: it reads a notebook it is given through the notebook's text)."""
    import jupytext

    return jupytext.reads(text, fmt={"extension": extension})


def execute_job(job: Job) -> JobResult:
    """Execute one notebook into a staging folder, then move its outputs into place atomically.
    Its time is counted from when its kernel can start: with the warm engine, once the fork
    server has imported the chapters' packages (the run's first chapters wait for it)."""
    if job.engine == "warm":
        from .forkserver import wait_for_fork_server

        wait_for_fork_server(job.preload)
    start = time.perf_counter()
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    Path(job.log_file).parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir / f".staging-{job.notebook.stem}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    handler = logging.FileHandler(job.log_file, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    pm_log = logging.getLogger("papermill")
    pm_log.addHandler(handler)
    pm_log.setLevel(logging.INFO)
    staged_nb = stage / job.notebook.name
    kept: dict = {}  # the executed notebook, kept in _build/failed/ if the chapter fails
    # the kernel inherits this process's stderr: send it (and its warnings) to the job's log
    saved_stderr = os.dup(2)
    log_fd = os.open(job.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(log_fd, 2)
    try:
        nb = _template_notebook(Path(job.template).read_text(encoding="utf-8"), Path(job.template).suffix)
        executed = _execute_notebook(nb, stage, job, kept)
        kept["notebook"] = executed  # for a failure after execution (its glued values expanded below)
        from ..model.chapter.languages import expand_glued
        from ..model.i18n import Translator

        done = expand_glued(executed)  # the notebook papermill made

        spanish_file = ChapterFiles(out_dir, job.market).notebook_es
        if "es" in dict(job.parameters).get("languages", "en,es").split(","):
            spanish = for_language(done, "es", Translator("es", locales=Path(job.root) / "book" / "locales").words)
            postprocess(spanish, job, "es")
            write_valid(spanish, stage / spanish_file.name)
        else:  # an English-only run: no Spanish chapter of older results is left to be published
            spanish_file.unlink(missing_ok=True)
        english = for_language(done, "en")  # a copy: the executed notebook is kept as it is for a failure
        postprocess(english, job)
        write_valid(english, staged_nb)
        # move results first, the chapter next, the manifest last: a run cut short is redone
        for f in sorted(stage.iterdir()):
            if f.name != staged_nb.name:
                os.replace(f, out_dir / f.name)
        os.replace(staged_nb, job.notebook)
        write_if_changed(job.manifest, json.dumps({"input_hash": job.input_hash, "template": Path(job.template).name,
                                                   "parameters": [list(p) for p in job.parameters]}))
        return JobResult(job, True, time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - any failure of one notebook is reported, not raised
        cell, error = _error_summary(exc, job)
        with open(job.log_file, "a", encoding="utf-8") as fh:
            fh.write("\n" + "".join(traceback.format_exception(exc)))
        # the invalid chapter itself, or the executed notebook (with papermill's marks at a failed cell)
        failed_nb = getattr(exc, "notebook", None) or kept.get("notebook")
        if failed_nb is not None:
            try:
                import nbformat

                Path(job.failed_dir).mkdir(parents=True, exist_ok=True)
                # an invalid notebook too (nbformat logs it, in the chapter's log)
                nbformat.write(failed_nb, str(Path(job.failed_dir) / f"{job.label.replace(' ', '-')}.ipynb"))
            except Exception as unwritable:  # noqa: BLE001 - the chapter's failure is reported, not this
                with open(job.log_file, "a", encoding="utf-8") as fh:
                    fh.write(f"\nthe failed notebook could not be kept in {job.failed_dir}: {unwritable!r}\n")
        return JobResult(job, False, time.perf_counter() - start, cell, error, isinstance(exc, InvalidNotebook))
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


def _import_execution_modules() -> None:
    """What a worker needs before its first notebook (about half a second of imports), and the
    notebook format's validator, which nbformat compiles from its JSON schema when it first
    validates a notebook (about 0.06 s; once for all the workers when they are forked from here).
    nbclient makes the kernel's outputs with :func:`output_from_msg`."""
    import jupytext  # noqa: F401
    import nbclient.client
    import nbformat
    import papermill  # noqa: F401

    nbformat.validate(nbformat.v4.new_notebook())
    nbclient.client.output_from_msg = output_from_msg  # checked with the notebook, not one by one


def _start_worker(preload: tuple[str, ...], shared: tuple | None = None) -> None:
    """A worker's start: with the warm engine, its fork server (``shared``, started by the parent,
    or its own, started at once) imports the chapters' packages while the worker imports papermill
    (see :mod:`methods.build.kernels`)."""
    if preload:
        from .forkserver import adopt, fork_server, preload_modules

        if shared:
            adopt(shared, preload_modules(list(preload)))
        fork_server(preload_modules(list(preload)))  # its own starts now: it imports while this worker does
    _import_execution_modules()


def _preload(jobs: list[Job]) -> tuple[str, ...]:
    return next((j.preload for j in jobs if j.engine == "warm"), ())


def worker_pool(workers: int, jobs: list[Job], shared: tuple | None = None) -> ProcessPoolExecutor:
    """A local process pool for ``jobs``: each worker starts its fork server (warm engine), or uses
    the ``shared`` one, and imports papermill when it starts. Where workers are forked, this process
    imports papermill first and its workers inherit it: once for all of them, instead of once in each
    (about a quarter of a second of processor time per worker, while the fork server imports)."""
    import multiprocessing

    context = multiprocessing.get_context()
    if context.get_start_method() == "fork":
        _import_execution_modules()
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                               initargs=(_preload(jobs), shared))


def warm_pool(workers: int, jobs: list[Job] = (), shared: tuple | None = None) -> ProcessPoolExecutor:
    """A local process pool whose workers start at once (their fork servers importing the chapters'
    packages, themselves importing papermill), so that this overlaps what the caller does next
    (loading the book builder, starting Sphinx)."""
    pool = worker_pool(workers, list(jobs), shared)
    pool.submit(int)  # starts the workers
    return pool


class EarlyStart:
    """The warm engine's fork server, started before the run is planned: it imports the chapters'
    packages and the model (a second or so) while this process validates the parameter files
    and hashes the chapters' inputs, instead of after. The model's modules it preloads are those
    the chapter templates import (:func:`chapter_code`); if the plan needs others (a run of one
    market), or nothing needs executing, it is stopped and the run goes on as without it.

    The `iff` command starts it even sooner, as the first thing it does, with the modules the last
    run recorded (:func:`~methods.build.forkserver.start_early`): this takes that one if the
    modules are still the same, and records them for the next run."""

    def __init__(self, project: Project, engine: str = "warm", scheduler: str | None = None):
        from .forkserver import discard_early, fork_server, preload_modules, remember

        self.server = None
        if engine != "warm" or scheduler:
            discard_early()
            return
        try:
            imports = ImportCache(project)
            files = {f for market in MARKETS for f in chapter_code(project, project.template(market), imports)}
            imports.save()
        except (IffError, OSError):
            discard_early()
            return  # planning says what is wrong
        self.preload = tuple(sorted(module_names(project, sorted(files))))
        modules = preload_modules(list(self.preload))
        self.server = fork_server(modules)  # the one started early, if it has these modules
        discard_early(keep=self.server)
        remember(project.build_dir, modules)

    def pool(self, workers: int, todo: list[Job]) -> ProcessPoolExecutor | None:
        """A warm pool for ``todo`` whose workers use the early fork server (None: nothing to do)."""
        shared = self.server.shared() if self.server is not None and _preload(todo) == self.preload else None
        if shared is None:
            self.close()
        return warm_pool(workers, todo, shared) if todo else None

    def close(self) -> None:
        if self.server is not None:
            from .forkserver import close_fork_server

            close_fork_server(self.server)
            self.server = None


def run(project: Project, planned: Plan, jobs: int | None = None, force: bool = False, scheduler: str | None = None,
        say=_say, pool: ProcessPoolExecutor | None = None) -> RunReport:
    """Execute the planned chapters that are out of date; report what ran, was skipped and failed.
    ``pool``: a local pool to use (see :func:`warm_pool`); it is shut down when the run ends."""
    report = RunReport(invalid=list(planned.invalid))
    for p in planned.invalid:
        say(f"invalid: {p}")
    execute(project, planned.jobs, report, jobs=jobs, force=force, scheduler=scheduler, say=say, what="notebook", pool=pool)
    return report


class RunLock:
    """One run or build at a time per checkout: a second `iff run` or `iff build` would write the same
    chapters and the same book. Held by `iff build` from planning to publishing; re-entering it in
    the process that holds it is a no-op."""

    _held: dict[str, int] = {}

    def __init__(self, project: Project):
        self.path = project.build_dir / ".iff-run.lock"
        self.fh = None

    def __enter__(self) -> "RunLock":
        import fcntl

        key = str(self.path)
        if RunLock._held.get(key):
            RunLock._held[key] += 1
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            self.fh = None
            raise IffError("another `iff run` or `iff build` is running in this folder; wait for it to finish") from None
        RunLock._held[key] = 1
        return self

    def __exit__(self, *exc) -> None:
        key = str(self.path)
        RunLock._held[key] -= 1
        if RunLock._held[key] == 0 and self.fh is not None:
            self.fh.close()
            del RunLock._held[key]


def remove_stale_staging(folders: set[Path]) -> None:
    """Staging folders left by a run that was killed (the run lock guarantees none is in use)."""
    for folder in folders:
        if folder.is_dir():
            for stale in folder.glob(".staging-*"):
                shutil.rmtree(stale, ignore_errors=True)
            for stale in folder.glob(".*.tmp"):
                stale.unlink(missing_ok=True)


def execute(project: Project, planned: list[Job], report: RunReport, jobs: int | None = None, force: bool = False,
            scheduler: str | None = None, say=_say, what: str = "notebook",
            pool: ProcessPoolExecutor | None = None) -> RunReport:
    """Execute the planned jobs that are out of date, in parallel, with a progress line per job."""
    try:
        with RunLock(project):
            remove_stale_staging({job.notebook.parent for job in planned})
            return _execute(project, planned, report, jobs, force, scheduler, say, what, pool,
                            max((j.timeout for j in planned), default=600))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


CONNECT_LIMIT = 30  # seconds: a scheduler that does not answer in this time is reported unreachable


def connect_to_scheduler(scheduler: str, timeout: int):
    """A client of the Dask scheduler at ``scheduler``, or a one-line error within ``timeout`` seconds
    (at most CONNECT_LIMIT)
    (the connection is made in a background thread: a port that accepts a connection and never
    answers would otherwise hang the run)."""
    import threading

    try:
        from distributed import Client
    except ImportError:
        raise IffError("--scheduler needs the 'distributed' package (pip install distributed)") from None
    box: dict = {}
    timeout = min(timeout, CONNECT_LIMIT)

    def connect():
        try:
            box["client"] = Client(scheduler, timeout=max(timeout, 5))
        except BaseException as e:  # noqa: BLE001 - reported below
            box["error"] = e

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if "client" in box:
        return box["client"]
    reason = f"{type(box['error']).__name__}: {box['error']}" if "error" in box else f"no answer within {timeout} s"
    raise IffError(f"cannot reach the Dask scheduler at {scheduler}: {reason}")


def _with_deadline(done, scheduler: str | None, deadline: float | None):
    try:
        yield from done
    except TimeoutError:
        raise IffError(f"the Dask cluster at {scheduler} did not return the notebooks within {deadline:.0f} s "
                       "(are its workers running?)") from None


def _execute(project: Project, planned: list[Job], report: RunReport, jobs: int | None, force: bool,
             scheduler: str | None, say, what: str, pool: ProcessPoolExecutor | None = None,
             timeout: int = 600) -> RunReport:
    todo = longest_first([j for j in planned if force or not is_up_to_date(j)], _chapter_seconds(project))
    report.skipped += [j for j in planned if j not in todo]
    if not todo:
        if planned:
            say(f"All {len(planned)} {what}s are up to date; nothing to execute.")
        return report
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    where = f"on the Dask cluster at {scheduler}" if scheduler else f"with {workers} process{'es' if workers > 1 else ''}"
    skipped = len(planned) - len(todo)
    say(f"Executing {len(todo)} {what}{'s' if len(todo) > 1 else ''} {where}"
        + (f" ({skipped} up to date, skipped)" if skipped else "") + f"; logs in {project.rel(project.logs_dir)}/")
    start = time.perf_counter()
    client = None
    executor: Executor
    if scheduler:
        client = connect_to_scheduler(scheduler, timeout)
        executor = client.get_executor()
    else:
        executor = pool or worker_pool(workers, todo)
    # on a cluster, a scheduler that accepts the jobs but never runs them must not hang the run
    deadline = timeout * len(todo) + 60 if scheduler else None
    finished = False
    try:
        futures = {executor.submit(execute_job, j): j for j in todo}
        for n, fut in enumerate(_with_deadline(as_completed(futures, timeout=deadline), scheduler, deadline), 1):
            res = fut.result()
            report.executed.append(res)
            status = "done" if res.ok else f"FAILED ({res.error})"
            say(f"[{n}/{len(todo)}] {res.job.label:<16} {status} in {res.seconds:.1f} s  (elapsed {time.perf_counter() - start:.1f} s)")
        finished = True
        _record_chapter_seconds(project, report.executed)
    finally:
        if client is None:
            executor.shutdown(wait=finished, cancel_futures=not finished)
        else:
            executor.shutdown(wait=finished)
        if client is not None:
            client.close(timeout=10)
    return report


# for chapters never timed here: a drug chapter balances and values several chains and draws more
# figures than a smuggling chapter (about 1.2 s against 0.8 s on the training countries)
MARKETS_LONGEST_FIRST = ("drugs", "smuggling")


def longest_first(jobs: list[Job], seconds: dict[str, float]) -> list[Job]:
    """``jobs`` in the order that ends a parallel run soonest, as far as it can be known: the
    longest first, so that the workers end together on short chapters instead of one waiting while
    another runs a long one. Chapters never timed come first (their time is unknown), drug chapters
    before smuggling ones; then the others by their last run's time (``seconds``, by label),
    longest first. Ties keep the planned order."""
    def key(j: Job) -> tuple:
        if j.label not in seconds:
            rank = MARKETS_LONGEST_FIRST.index(j.market) if j.market in MARKETS_LONGEST_FIRST else len(MARKETS_LONGEST_FIRST)
            return 0, rank, 0.0
        return 1, 0, -seconds[j.label]

    return sorted(jobs, key=key)


def _seconds_file(project: Project) -> Path:
    return project.build_dir / "logs" / "chapter-seconds.json"


def _chapter_seconds(project: Project) -> dict[str, float]:
    """The time of each chapter's last successful run (by label), or nothing if unreadable."""
    try:
        data = json.loads(_seconds_file(project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, (int, float))}


def _record_chapter_seconds(project: Project, results: list[JobResult]) -> None:
    if not any(r.ok for r in results):
        return
    seconds = _chapter_seconds(project)
    seconds.update({r.job.label: round(r.seconds, 3) for r in results if r.ok})
    try:
        _seconds_file(project).parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(_seconds_file(project), json.dumps(dict(sorted(seconds.items())), indent=0))
    except OSError:
        pass  # only a hint for the next run's order


def failure_summary(report: RunReport, project: Project) -> str:
    lines = []
    if report.invalid:
        lines.append(f"{len(report.invalid)} problem(s) in parameter files (those countries were not run):")
        lines += [f"  {p}" for p in report.invalid]
    if report.failed:
        lines.append(f"{len(report.failed)} notebook(s) failed; their last good chapters are kept:")
        for r in report.failed:
            cell = f"cell {r.cell}" if r.cell is not None else ("after execution" if r.executed else "before execution")
            lines.append(f"  {r.job.label}: {cell}: {r.error} "
                         f"(log: {project.rel(Path(r.job.log_file))}; notebook: {project.rel(project.failed_dir)}/{r.job.label.replace(' ', '-')}.ipynb)")
    return "\n".join(lines)


