"""`iff pdf` (`make pdf`): the PDF edition of the handbook, built offline.

Each edition (English and Spanish) is built once more as a single HTML page (Sphinx's ``singlehtml`` builder, strictly, from
the chapters `iff build` executed), then printed to PDF by the installed headless Chromium, which
renders the formulas and the vector figures as the browser does. The handbook's print style sheet
(``book/_static/iff.css``) drops the navigation, keeps tables and figures within the page and
shows no code. The PDFs are written to ``_build/pdf/handbook.pdf`` and ``_build/pdf/handbook.es.pdf``
and published beside each HTML edition (``_build/html/handbook.pdf``, ``_build/html/es/handbook.pdf``),
where its landing page links to it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..model.errors import IffError
from .files import atomic_path
from .project import Project

CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    raise IffError("the PDF edition is printed by headless Chromium, which is not installed: on Debian, "
                   "`apt-get install chromium` (the CI script .ci/run installs it)")


def build_pdf(project: Project, say=print) -> list[Path]:
    """Build each edition as a single HTML page and print it to PDF: ``_build/pdf/handbook.pdf``
    (English) and ``_build/pdf/handbook.es.pdf`` (Spanish), each also published beside its edition
    (``_build/html/handbook.pdf``, ``_build/html/es/handbook.pdf``). Returns the PDFs' paths."""
    if not (project.book_dir / "_toc.yml").is_file():
        raise IffError("build the handbook first: `iff build` (or `make book`)")
    browser = chromium()
    out = []
    for lang in ("en", "es"):
        edition = Project(project.root, lang)
        if not (edition.book_dir / "_toc.yml").is_file():
            raise IffError("build the handbook first: `iff build` (or `make book`)")
        out.append(_print_edition(edition, browser, say))
    return out


def _print_edition(project: Project, browser: str, say) -> Path:
    name = {"en": "the English edition", "es": "the Spanish edition"}[project.lang]
    single = project.build_dir / f"singlehtml{project.suffix}"
    log = project.logs_dir / f"pdf{project.suffix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(single, ignore_errors=True)
    start = time.perf_counter()
    say(f"Building {name} as one page for the PDF ...")
    cmd = [sys.executable, "-m", "methods.build.sphinxbuild", str(project.book_dir), str(single),
           str(project.root / "_config.yml"), str(project.book_dir / "_toc.yml"), "1", "singlehtml", project.lang]
    with open(log, "w", encoding="utf-8") as fh:
        code = subprocess.run(cmd, cwd=project.root, stdout=fh, stderr=subprocess.STDOUT).returncode
    if code != 0:
        lines = [ln for ln in log.read_text(encoding="utf-8").splitlines() if "WARNING" in ln or "ERROR" in ln]
        raise IffError(f"the one-page build of {name} for the PDF failed (log: {project.rel(log)}):\n"
                       + "\n".join("  " + ln for ln in lines[:10]))
    out = project.pdf_file
    out.parent.mkdir(parents=True, exist_ok=True)
    say(f"Printing {name} to PDF with headless Chromium ...")
    with atomic_path(out) as tmp:
        printed = subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=60000",
             f"--print-to-pdf={tmp}", (single / "index.html").as_uri()],
            capture_output=True, text=True, timeout=600)
        if printed.returncode != 0 or not Path(tmp).is_file() or Path(tmp).stat().st_size < 10_000:
            raise IffError(f"Chromium could not print the PDF: {printed.stderr.strip()[-300:]}")
    html_dir = project.html_dir
    if html_dir.is_dir():
        shutil.copyfile(out, html_dir / "handbook.pdf")
    say(f"PDF of {name} written in {time.perf_counter() - start:.0f} s: {project.rel(out)}"
        + (f" (and {project.rel(html_dir / 'handbook.pdf')}, linked from the landing page)" if html_dir.is_dir() else ""))
    return out
