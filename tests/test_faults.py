"""Faults: one country's crash does not stop the others; an interrupted run leaves no half-written
chapter, and the next run recovers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import copy_repo, run_iff

pytestmark = pytest.mark.slow


def chapters_are_whole(root: Path) -> None:
    """Every chapter on disk is a complete notebook and every manifest points at one."""
    for nb in (root / "book" / "countries").rglob("*.ipynb"):
        json.loads(nb.read_text())  # a truncated file would not parse
    for manifest in (root / "book" / "countries").rglob(".*.manifest.json"):
        data = json.loads(manifest.read_text())
        assert data["input_hash"]
        assert (manifest.parent / (manifest.name[1:].replace(".manifest.json", ".ipynb"))).exists()


@pytest.fixture()
def project(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    text = (root / "parameters" / "XRU.yml").read_text()
    for code in ("XRV", "XRW"):
        (root / "parameters" / f"{code}.yml").write_text(text.replace("country: XRU", f"country: {code}"))
    return root


def test_one_country_crashing_does_not_stop_the_others(project):
    # the smuggling template fails for one country only
    template = project / "methods" / "model" / "templates" / "smuggling.md"
    good = template.read_text()
    template.write_text(good.replace("## Journeys and fees\n", "## Journeys and fees\n\n```{code-cell} python\n"
                                     "if cf.country == 'XRV':\n    raise ValueError('XRV is broken')\n```\n", 1))
    result = run_iff("run", "--draws", "200", cwd=project)
    assert result.returncode == 1
    assert "XRV smuggling: cell" in result.stderr and "ValueError: XRV is broken" in result.stderr
    for code in ("XRU", "XRV", "XRW"):
        assert (project / "book" / "countries" / code / "drugs.ipynb").exists()
    assert (project / "book" / "countries" / "XRU" / "smuggling.ipynb").exists()
    assert (project / "book" / "countries" / "XRW" / "smuggling.ipynb").exists()
    assert not (project / "book" / "countries" / "XRV" / "smuggling.ipynb").exists()
    template.write_text(good)
    again = run_iff("run", "--draws", "200", cwd=project)  # the template changed back: smuggling chapters redone
    assert again.returncode == 0 and "Executing 3 notebooks" in again.stderr and "(3 up to date, skipped)" in again.stderr
    assert (project / "book" / "countries" / "XRV" / "smuggling.ipynb").exists()


def dead_fork_server_folders() -> list[str]:
    """The socket folders of fork servers in the temporary folder whose socket no process listens on."""
    import socket
    import tempfile

    dead = []
    for folder in Path(tempfile.gettempdir()).glob("iff-forkserver-*"):
        if (folder / "socket").exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(folder / "socket"))
                except ConnectionRefusedError:
                    dead.append(str(folder))
                except OSError:  # removed meanwhile
                    pass
    return dead


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_run_leaves_whole_chapters_and_the_next_run_recovers(project, sig):
    assert run_iff("run", "--draws", "200", "--country", "XRU", cwd=project).returncode == 0
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, "-m", "methods.build.cli", "run", "--force", "--draws", "3000"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    deadline = time.time() + 60
    staged = False
    while time.time() < deadline and proc.poll() is None:  # wait until notebooks are being executed
        if list((project / "book" / "countries").rglob(".staging-*")):
            staged = True
            time.sleep(1.5)
            break
        time.sleep(0.1)
    assert staged, "the run never started executing"
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    if sig == signal.SIGINT:
        assert "interrupted" in proc.stderr.read()
    time.sleep(1)
    chapters_are_whole(project)
    left = dead_fork_server_folders()
    if sig == signal.SIGKILL:  # its fork server died with it, before it could remove its socket's folder
        assert left
    result = run_iff("run", "--draws", "3000", cwd=project)
    assert result.returncode == 0, result.stderr
    chapters_are_whole(project)
    assert not [folder for folder in left if os.path.exists(folder)]  # the next run removed them
    assert not list((project / "book" / "countries").rglob(".staging-*"))
    final = run_iff("run", "--draws", "3000", cwd=project)
    assert "up to date; nothing to execute" in final.stderr


def test_the_editions_pages_are_written_side_by_side_and_a_failure_of_either_is_said(tmp_path):
    """`iff build` writes the Spanish edition's pages in a forked process while it writes the
    English ones: both are written, and a failure on either side is raised once both ended (an
    IffError with its own message, anything else named in one line)."""
    from methods.build.pages import side_by_side
    from methods.model.errors import IffError

    def other():
        (tmp_path / "other").write_text(str(os.getpid()))

    def mine():
        time.sleep(0.2)
        (tmp_path / "mine").write_text(str(os.getpid()))

    side_by_side(other, mine)
    assert int((tmp_path / "mine").read_text()) == os.getpid() != int((tmp_path / "other").read_text())

    def refused():
        raise IffError("parameters/PER.yml, line 3: the Spanish page could not be written")

    with pytest.raises(IffError, match=r"^parameters/PER.yml, line 3: the Spanish page could not be written$"):
        side_by_side(refused, lambda: None)
    with pytest.raises(RuntimeError, match=r"^in the process writing the other edition's pages, "
                                           r"ZeroDivisionError: division by zero$"):  # one line, no traceback
        side_by_side(lambda: 1 / 0, lambda: None)
    (tmp_path / "other").unlink()
    with pytest.raises(ValueError, match="mine failed"):  # this side's failure, after the other side ended
        side_by_side(other, lambda: (_ for _ in ()).throw(ValueError("mine failed")))
    assert (tmp_path / "other").is_file()
