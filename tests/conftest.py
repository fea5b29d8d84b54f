"""Shared fixtures: the repository, temporary copies of it, and a helper to run the `iff` command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from methods.build.files import copy_project

REPO = Path(__file__).resolve().parents[1]  # the repository under test: the one place it is defined


def copy_repo(dest: Path, countries: list[str] | None = None) -> Path:
    """A copy of the repository without generated files; optionally only some parameter files."""
    return copy_project(REPO, dest, countries)


def run_iff(*args: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the `iff` command as a user would, capturing its output."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("IFF_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "methods.build.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """A copy of the repository with the whole handbook built by `iff build` (once per test session)."""
    root = copy_repo(tmp_path_factory.mktemp("book") / "repo")
    result = run_iff("build", "--draws", "2000", cwd=root)
    assert result.returncode == 0, f"iff build failed:\nSTDOUT:\n{result.stdout}\nSTDERR:\n{result.stderr}"
    return root


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say loudly when the browser tests could not run."""
    if getattr(config, "_iff_browser_skipped", False):
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line("BROWSER TESTS SKIPPED: Chromium / chromedriver are not installed.", red=True, bold=True)
        terminalreporter.write_line("Install them with: apt-get install chromium chromium-driver  (.ci/run does this)",
                                    red=True, bold=True)
        terminalreporter.write_line(bar, red=True, bold=True)
