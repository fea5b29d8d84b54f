"""Shared fixtures: the repository, temporary copies of it, and a helper to run the `iff` command."""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from methods.build.files import copy_project

REPO = Path(__file__).resolve().parents[1]  # the repository under test: the one place it is defined
# the warm engine's fork server ends with each command, as it did before it could be kept: the tests
# run commands in dozens of checkouts, each of which would keep one for ten minutes. The tests of
# kept fork servers set IFF_KEEP_WARM themselves
os.environ["IFF_KEEP_WARM"] = "0"


def copy_repo(dest: Path, countries: list[str] | None = None) -> Path:
    """A copy of the repository without generated files; optionally only some parameter files."""
    return copy_project(REPO, dest, countries)


def run_iff(*args: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the `iff` command as a user would, capturing its output."""
    # every page's navigation is made by the handbook and compared with the theme's (iff_sphinx._Sidebar)
    env = dict(os.environ, PYTHONWARNINGS="ignore", IFF_CHECK_SIDEBAR="1")
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
    if shutil.which("chromium") or shutil.which("chromium-browser"):  # the PDF edition, as `make pdf` builds it
        result = run_iff("pdf", cwd=root)
        assert result.returncode == 0, f"iff pdf failed:\n{result.stderr}"
    return root


@contextlib.contextmanager
def serve_folder(folder: Path):
    """A local HTTP server for a built handbook; yields its address."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="session")
def browser(request):
    """Headless Chromium (the Debian package) driven by Selenium, once per test session."""
    if not (CHROMIUM and CHROMEDRIVER):
        request.config._iff_browser_skipped = True
        pytest.skip("Chromium or chromedriver is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="iff-chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1800", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# ----- a parameter file whose every free text is hostile --------------------------------------------------

SECRET = "root:x:0:0"  # a line of /etc/passwd: no page or download may contain it
HOSTILE = ('<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> '
           '{download}`leak <../../../../../../etc/passwd>` {{ substitution }} $x^2$ **bold** '
           '=HYPERLINK("http://evil") | a | table | & "quotes" \'apostrophes\' ')
FREE_TEXT = {"name", "name_es", "summary", "note", "description", "label", "assumption", "at", "range_note",
             "what", "institution", "place", "partner_label"}


def hostile_file(text: str) -> str:
    """A parameter file with every free-text field replaced by HTML, scripts and MyST roles (the
    original text kept after it, so that sentences stay long enough)."""
    import yaml

    data = yaml.safe_load(text)

    def walk(node):
        if isinstance(node, dict):
            if "partner" in node and "label" in node and "partner_label" not in node:
                node["partner_label"] = HOSTILE + "a partner's name"  # partners are codes: their names for readers are text
            for k, v in node.items():
                if isinstance(v, str) and k in FREE_TEXT:
                    node[k] = HOSTILE + v
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    data["markets"]["drugs"]["data_gaps"] = [{"what": HOSTILE + "missing data", "institution": HOSTILE + "an office"}]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@pytest.fixture(scope="session")
def hostile_book(tmp_path_factory) -> Path:
    """The training country, every free text hostile, built into a whole handbook."""
    root = copy_repo(tmp_path_factory.mktemp("hostile") / "repo", countries=["XRU"])
    path = root / "parameters" / "XRU.yml"
    path.write_text(hostile_file(path.read_text()))
    result = run_iff("validate", "parameters/XRU.yml", cwd=root)
    assert result.returncode == 0, result.stdout
    result = run_iff("build", "--draws", "200", cwd=root)
    assert result.returncode == 0, result.stderr
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
