"""Incremental book builds: after a data update only the changed chapters and the pages that quote
them are rebuilt, and those pages show the new numbers."""
from __future__ import annotations

import re

import pytest

from conftest import copy_repo, run_iff

pytestmark = pytest.mark.slow
DRAWS = ("--draws", "300")


def text(root, rel: str) -> str:
    html = (root / "_build" / "html" / rel).read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_data_update_rebuilds_the_pages_that_quote_it(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    first = run_iff("build", *DRAWS, cwd=root)
    assert first.returncode == 0, first.stderr
    assert re.search(r"harvested 60,000 tonnes of coca leaf \( ?10,000|harvested 60,000 tonnes of coca leaf \( ?12,000",
                     text(root, "methodology/drugs.html"))
    untouched = root / "_build" / "html" / "framework" / "typology.html"
    stamp = untouched.stat().st_mtime_ns

    path = root / "parameters" / "XRU.yml"
    path.write_text(path.read_text().replace("values: {2018: 10000, 2019: 12000}\n                assumption: Fictional harvested",
                                             "values: {2018: 10000, 2019: 13000}\n                assumption: Fictional harvested", 1))
    second = run_iff("build", *DRAWS, cwd=root)
    assert second.returncode == 0, second.stderr
    assert "Executing 2 notebooks" in second.stderr  # Ruritania's two chapters, nothing else
    assert "only changed pages and the pages that quote them re-read" in second.stdout + second.stderr
    # 13,000 ha x 5 t/ha: the worked example, the exercise and its solution follow the file
    assert re.search(r"harvested 65,000 tonnes of coca leaf \( ?13,000 ha × 5 t/ha\)", text(root, "methodology/drugs.html"))
    exercises = text(root, "training/exercises.html")
    assert "harvested 13,000 ha of coca" in exercises
    assert re.search(r"Leaf: 13,000 × 5 = 65,000 t", exercises)
    assert "13,000" in text(root, "reference/inputs/XRU.html")
    assert untouched.stat().st_mtime_ns == stamp  # a page that quotes nothing from the file is not rewritten


def test_the_generated_pages_are_written_again_only_when_what_they_are_made_from_changed(tmp_path, monkeypatch):
    """A build with nothing new does not write every page again to find it the same; any change to
    what they are made from, or to them, and they are written (`iff build --full` always writes them)."""
    from methods.build import pages
    from methods.build.project import Project

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    assert run_iff("build", *DRAWS, cwd=root).returncode == 0
    project = Project(root)
    pages.prepare_editions(project)  # with this process's copy of the code, which the pages also depend on
    written = []
    monkeypatch.setattr(pages, "_write_editions", lambda p, editions: written.append(editions))
    assert not pages.prepare_editions(project) and not written

    def edit(rel: str, old: str, new: str):
        return lambda: (root / rel).write_text((root / rel).read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")

    changes = {
        "a parameter file": edit("parameters/XRU.yml", "Fictional harvested", "Fictional, harvested"),
        "a hand-written page": edit("book/framework/typology.md", "#", "# ", ),
        "a Spanish catalogue": lambda: next((root / "book" / "locales" / "es").rglob("*.po")).open("a").write("\n"),
        "a chapter's results": lambda: next((root / "book" / "countries" / "XRU").glob("*.csv")).open("a").write("\n"),
        "the PDF edition printed": lambda: (root / "_build" / "pdf").mkdir() or (root / "_build" / "pdf" / "handbook.pdf").write_bytes(b"%PDF"),
        "a parameter file's link retargeted": lambda: ((root / "parameters" / "XRU.yml").rename(root / "XRU-data.yml"),
                                                       (root / "parameters" / "XRU.yml").symlink_to("../XRU-data.yml")),
        "the file a link points to": edit("XRU-data.yml", "Fictional, harvested", "Fictional,  harvested"),
        "a generated page removed": lambda: (root / "book" / "results" / "summary.md").unlink(),
        "the Spanish tree removed": lambda: __import__("shutil").rmtree(root / "_build" / "src-es"),
    }
    for what, change in changes.items():
        change()
        assert pages.prepare_editions(project), what
        assert written.pop() == ("en", "es") and not pages.prepare_editions(project), what
    assert pages.prepare_editions(project, reuse=False) and written == [("en", "es")]  # --full, --force


def test_pages_whose_source_is_gone_are_removed_after_a_build(tmp_path):
    from methods.build.sphinxbuild import remove_orphan_pages

    for rel in ("index.html", "countries/COL/drugs.html", "countries/none.html", "countries/OLD/drugs.html",
                "search.html", "genindex.html", "_static/page.html", "mathjax/test.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("<html></html>")
    gone = remove_orphan_pages(tmp_path, {"index", "countries/COL/drugs"})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in gone) == ["countries/OLD/drugs.html", "countries/none.html"]
    assert (tmp_path / "search.html").exists() and (tmp_path / "_static/page.html").exists()
    assert (tmp_path / "mathjax/test.html").exists() and (tmp_path / "countries/COL/drugs.html").exists()
