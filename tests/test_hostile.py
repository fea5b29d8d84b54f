"""Untrusted input stays data: text from a parameter file reaches every page and export literally,
only files that should be read are read, outputs go only where they should, and nothing waits forever."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import REPO, SECRET, copy_repo, run_iff
from methods.build.export import FORMULA_STARTS, README_ROWS, check_output, write_table
from methods.model.chapter.text import html_text, md_text
from methods.model.errors import IffError



# ----- text is text: the escapers, for any text -------------------------------------------------

def _markdown_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = MdParserConfig(enable_extensions={"amsmath", "colon_fence", "deflist", "dollarmath", "substitution"})
    return create_md_parser(config, RendererHTML)


MD = _markdown_parser()
MARKUP_TOKENS = {"myst_role", "math_inline", "math_block", "html_inline", "html_block", "substitution_inline",
                 "substitution_block", "link_open", "image", "strong_open", "em_open", "code_inline", "fence",
                 "myst_target", "myst_line_comment", "heading_open", "bullet_list_open", "ordered_list_open",
                 "blockquote_open", "table_open", "hr", "colon_fence", "dl_open", "footnote_ref"}


def _tokens(tokens):
    for t in tokens:
        yield t
        yield from _tokens(t.children or [])


# any text a parameter file may hold: every character but control characters other than tab and line breaks
# (validation refuses those) and lone surrogates (not text)
text_strategy = st.text(alphabet=st.one_of(st.characters(blacklist_categories=("Cs", "Cc")), st.sampled_from("\t\n\r")),
                        min_size=1, max_size=80)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=text_strategy)
def test_any_text_is_literal_markdown(text):
    """MyST's own parser reads the escaped text as one paragraph of plain text, equal to the input
    (whitespace collapsed): no role, formula, HTML, substitution, link or emphasis can open."""
    escaped = md_text(text)
    tokens = list(_tokens(MD.parse(escaped)))
    assert not [t.type for t in tokens if t.type in MARKUP_TOKENS], (text, escaped)
    shown = "".join(t.content for t in tokens if t.type == "text")
    expected = " ".join(text.split())
    assert shown == expected


@settings(max_examples=200, deadline=None)
@given(text=text_strategy)
def test_any_text_is_literal_html(text):
    from html.parser import HTMLParser

    seen = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            seen.append(tag)

        def handle_data(self, data):
            seen.append(("data", data))

    parser = Collect(convert_charrefs=True)
    parser.feed(f"<p>{html_text(text)}</p>")
    parser.close()
    assert [s for s in seen if not isinstance(s, tuple)] == ["p"]
    assert "".join(d for kind, d in (s for s in seen if isinstance(s, tuple))) == text


def _results(labels):
    rows = []
    for i, label in enumerate(labels):
        rows.append(dict(country="COL", ref_area=170, year=2019, market="smuggling", drug="", product=f"corridor_{i}",
                         label=label, direction="inward", scenario="central", value_usd=-5.0 + i, mc_p05_usd=1.0,
                         mc_median_usd=2.0, mc_p95_usd=3.0, unit="USD", sources="a;b"))
    return pd.DataFrame(rows)


SHEET_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _sheet_as_read(path: Path, sheet: str = "sheet1") -> list[list]:
    """A worksheet's rows as a spreadsheet program reads them, from the file's XML: texts from the
    shared strings with Office Open XML's _xHHHH_ escapes decoded once (_x005F_ is an underscore,
    _x000D_ a carriage return), numbers as numbers, an empty cell as None."""
    import zipfile
    import xml.etree.ElementTree as ET

    with zipfile.ZipFile(path) as z:
        strings = [re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), "".join(si.itertext()))
                   for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", SHEET_NS)]
        root = ET.fromstring(z.read(f"xl/worksheets/{sheet}.xml"))
    rows = []
    for row in root.iter(f"{{{SHEET_NS['m']}}}row"):
        cells = {}
        for c in row.findall("m:c", SHEET_NS):
            column = sum((ord(ch) - 64) * 26 ** i for i, ch in enumerate(reversed(re.match(r"[A-Z]+", c.get("r"))[0])))
            v = c.find("m:v", SHEET_NS)
            cells[column] = strings[int(v.text)] if c.get("t") == "s" else float(v.text)
        rows.append([cells.get(i) for i in range(1, max(cells, default=0) + 1)])
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(text_strategy, min_size=1, max_size=5))
@example(labels=["_x000D_ typed as it is", "a\rb\r\nc", "=1+1"])  # a text that looks like the workbook's own escapes
def test_any_text_reaches_csv_and_xlsx_literally_and_never_as_a_formula(tmp_path, labels):
    from openpyxl import load_workbook

    table = _results(labels)
    write_table(table, "csv", tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        got = [row["label"] for row in csv.DictReader(fh)]
    assert got == [("'" + t if t.startswith(FORMULA_STARTS) else t) for t in labels]
    write_table(table, "xlsx", tmp_path / "r.xlsx")
    header, *rows = _sheet_as_read(tmp_path / "r.xlsx")
    assert [row[header.index("label")] for row in rows] == labels  # the literal text, control characters too
    sheet = load_workbook(tmp_path / "r.xlsx")["results"]
    cells = [row[header.index("label")] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)  # stored as text, never as a formula
    assert all(c.quotePrefix for c, t in zip(cells, labels) if t.startswith(FORMULA_STARTS))
    numbers = [row[header.index("value_usd")].value for row in sheet.iter_rows(min_row=2)]
    assert numbers == list(table["value_usd"])  # numbers, negative ones too, stay numbers


def test_no_live_formula_in_the_xlsx(tmp_path):
    import zipfile

    write_table(_results(["=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\tx"]), "xlsx", tmp_path / "r.xlsx")
    with zipfile.ZipFile(tmp_path / "r.xlsx") as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in s or "<f " in s for s in sheets)


# ----- outputs go only where they should -----------------------------------------------------------

def test_export_refuses_special_files_and_missing_folders(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target.csv")
    cases = {tmp_path / "folder": "is a folder", tmp_path / "pipe": "is a named pipe", Path("/dev/null"): "is a link"
             if Path("/dev/null").is_symlink() else "is a device", tmp_path / "link": "is a link",
             tmp_path / "missing" / "r.csv": "does not exist"}
    for path, expected in cases.items():
        with pytest.raises(IffError, match=expected):
            check_output(path)
    assert Path("/dev/null").exists() and not Path("/dev/null").is_file()  # the device is still a device
    assert check_output(tmp_path / "new.csv") is False
    (tmp_path / "old.csv").write_text("x")
    assert check_output(tmp_path / "old.csv") is True


@pytest.mark.slow
def test_export_command_on_a_device_or_a_folder_is_a_one_line_error(built_book, tmp_path):
    for output, expected in (("/dev/null", "is a device"), (str(tmp_path), "is a folder"),
                             (str(tmp_path / "no" / "x.csv"), "does not exist")):
        result = run_iff("export", "--format", "csv", "--output", output, cwd=built_book)
        assert result.returncode == 1 and expected in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert Path("/dev/null").exists() and not Path("/dev/null").is_file()
    target = tmp_path / "r.csv"
    first = run_iff("export", "--format", "csv", "--output", str(target), cwd=built_book)
    assert first.returncode == 0 and "replaced" not in first.stdout
    again = run_iff("export", "--format", "csv", "--output", str(target), cwd=built_book)
    assert again.returncode == 0 and "it replaced the file that was there" in again.stdout


# ----- only files that should be read are read ---------------------------------------------------------

def test_only_regular_parameter_files_are_read_and_misnamed_ones_are_reported(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    params = root / "parameters"
    os.mkfifo(params / "BOL.yml")
    (params / "ARG.yml").mkdir()
    (params / "CHL.yml").symlink_to("/etc/passwd")
    (params / "xrv.yml").write_text((params / "XRU.yml").read_text())
    (params / "XRW.yaml").write_text((params / "XRU.yml").read_text())
    (params / "XRZ.yml").write_text((params / "XRU.yml").read_text())  # its country field says XRU
    (params / "README.md").write_text("notes of the national team")
    result = run_iff("validate", cwd=root, timeout=60)  # a FIFO must not block the command
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in out
    expected = {"ARG.yml": "is a folder", "BOL.yml": "is a named pipe (FIFO), not a regular file",
                "CHL.yml": "is a link to a file outside the repository", "xrv.yml": "the file name must be the country's ISO3 code",
                "XRW.yaml": "the file name must be the country's ISO3 code",
                "XRZ.yml": "country: is 'XRU' but the file is named XRZ.yml"}
    for name, message in expected.items():
        assert any(line.startswith(f"parameters/{name}") and message in line for line in out.splitlines()), (name, out)
    assert "parameters/XRU.yml: ok" in out and "README" not in out
    assert SECRET not in out
    run = run_iff("run", "--draws", "200", "--country", "XRU", cwd=root, timeout=300)
    assert run.returncode == 0, run.stderr  # the good file still runs


def test_jumps_in_a_series_are_warned_not_refused(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    path = root / "parameters" / "XRU.yml"
    path.write_text(path.read_text().replace("values: {2018: 10000, 2019: 12000}\n                assumption: Fictional seizures",
                                             "values: {2018: 10000, 2019: 1200000}\n                assumption: Fictional seizures"))
    result = run_iff("validate", cwd=root)
    assert result.returncode == 0
    assert re.search(r"parameters/XRU\.yml:\d+: warning: markets\.drugs\.chains\.cocaine\.stages\.cocaine_hcl\.seizures\.quantity: "
                     r"the value moves from 10000 in 2018 to 1\.2e\+06 in 2019, more than 100 times", result.stdout), result.stdout


# ----- new-country writes a file its validator parses, whatever the name ----------------------------------

@pytest.mark.parametrize("name", ['Bolivia: "Estado" # plurinacional', "- [x] {y}\n  z: 1", "Perú & <b>Ecuador</b>",
                                  "'quoted' and \\backslash\\", "yes", "1.5", "*alias &anchor !tag %percent @at `tick`"])
def test_new_country_writes_a_parseable_file_for_any_name(tmp_path, name):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    result = run_iff("new-country", "BOL", "--name", name, cwd=root)
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load((root / "parameters" / "BOL.yml").read_text())
    assert data["name"] == " ".join(name.split()) and data["country"] == "BOL"
    check = run_iff("validate", "parameters/BOL.yml", cwd=root)
    assert "Traceback" not in check.stderr
    problems = [ln for ln in check.stdout.splitlines() if "still marked MISSING" not in ln]
    assert problems == [], problems  # only the values still to fill in


@pytest.mark.parametrize("code", ["BOL\n", "BO\x07", "B\x00L", " BOL", "bol"])
def test_new_country_refuses_codes_with_control_characters_or_newlines(tmp_path, code):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    result = run_iff("new-country", code, "--name", "Bolivia", cwd=root) if "\x00" not in code else None
    if result is None:  # a NUL cannot even be passed as a command-line argument: the function refuses it too
        from methods.build.newcountry import new_country
        from methods.build.project import Project

        with pytest.raises(IffError, match="is not an ISO 3166-1 alpha-3 code"):
            new_country(Project(root), code, "Bolivia", ["drugs"])
        return
    assert result.returncode == 1 and "is not an ISO 3166-1 alpha-3 code" in result.stderr
    assert len(list((root / "parameters").iterdir())) == 1


# ----- everything is bounded in time ---------------------------------------------------------------------

def test_arguments_are_checked_up_front_in_one_line():
    for args, expected in ((("--jobs", "0"), "--jobs: 0 is out of range"), (("--draws", "5"), "--draws: 5 is out of range"),
                           (("--seed", "-1"), "--seed: -1 is out of range"), (("--timeout", "x"), "--timeout: 'x' is not a whole number"),
                           (("--draws", "99999999"), "--draws: 99999999 is out of range")):
        result = run_iff("run", *args, cwd=REPO)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_scheduler_that_accepts_and_never_answers_is_a_clear_error(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def accept_and_hold():
        try:
            for _ in range(8):
                held.append(server.accept())
        except OSError:  # the test closed the socket
            pass

    threading.Thread(target=accept_and_hold, daemon=True).start()
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    result = run_iff("run", "--draws", "200", "--scheduler", address, "--timeout", "3", cwd=root, timeout=120)
    assert result.returncode == 1
    assert f"cannot reach the Dask scheduler at {address}: no answer within 3 s" in result.stderr
    assert "Traceback" not in result.stderr
    server.close()


@pytest.mark.slow
def test_a_chapter_that_runs_too_long_is_stopped_with_its_country_and_market(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    template = root / "methods" / "model" / "templates" / "smuggling.md"
    template.write_text(template.read_text().replace("## Journeys and fees\n",
                                                     "## Journeys and fees\n\n```{code-cell} python\nimport time\ntime.sleep(60)\n```\n", 1))
    result = run_iff("run", "--draws", "200", "--market", "smuggling", "--timeout", "3", cwd=root, timeout=120)
    assert result.returncode == 1
    assert "XRU smuggling" in result.stderr and "ran longer than the 3 s limit" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# ----- the book stage is as safe as the notebook stage ------------------------------------------------------

def _checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_a_failed_book_build_leaves_the_last_good_handbook_byte_for_byte(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    assert run_iff("build", "--draws", "200", cwd=root).returncode == 0
    before = _checksums(root / "_build" / "html")
    page = root / "book" / "training" / "outline.md"
    page.write_text(page.read_text() + "\n\nSee {ref}`a-label-that-does-not-exist`.\n")
    failed = run_iff("build", "--draws", "200", cwd=root)
    assert failed.returncode == 1 and "the book build failed" in failed.stderr
    assert _checksums(root / "_build" / "html") == before
    assert not (root / "_build" / ".html-staging").exists()


@pytest.mark.slow
def test_a_second_build_while_one_runs_is_refused_with_a_message(tmp_path):
    import fcntl

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    lock = root / "_build" / ".iff-run.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running `iff build` holds it
        result = run_iff("build", "--draws", "200", cwd=root)
    assert result.returncode == 1
    assert "another `iff run` or `iff build` is running in this folder" in result.stderr
    assert not (root / "_build" / "html").exists()


# ----- a whole book built from a file whose every free text is hostile ----------------------------------------

@pytest.mark.slow
def test_hostile_text_is_shown_literally_and_nothing_leaks(hostile_book):
    html_dir = hostile_book / "_build" / "html"
    pages = {p: p.read_text(encoding="utf-8") for p in html_dir.rglob("*.html")}
    chapter = pages[html_dir / "countries" / "XRU" / "drugs.html"]
    # the characters typed are on the page, escaped, and not as elements
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in chapter
    for text in pages.values():
        assert "<script>window.__pwned" not in text and 'onerror="window.__pwned' not in text
    assert "{download}" in re.sub(r"<[^>]+>", "", pages[html_dir / "reference" / "inputs" / "XRU.html"])
    # no file outside the project was published, and nothing anywhere holds its content
    for p in html_dir.rglob("*"):
        if p.is_file() and p.suffix not in (".woff", ".png", ".ico", ".svg", ".js", ".css", ".pickle", ".inv"):
            assert SECRET not in p.read_text(encoding="utf-8", errors="replace"), p
    assert not any(p.name == "passwd" for p in html_dir.rglob("*"))
