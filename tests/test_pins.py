"""The handbook's Sphinx extension patches three libraries for speed (see book/_ext/iff_sphinx.py): the
patches are written for the pinned versions, and these tests fail loudly when a pin changes, so that
the patched functions are checked again before the pin is moved."""
from importlib.metadata import version

import pytest

from conftest import REPO


def pinned(package: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(package.lower() + "=="):
            return line.split("==")[1].strip()
    raise AssertionError(f"{package} is not pinned in requirements.txt")


@pytest.mark.parametrize("package, written_for", [("pybtex", "0.26.1"), ("sphinxcontrib-bibtex", "2.7.0"),
                                                  ("pydata-sphinx-theme", "0.17.1")])
def test_patched_libraries_are_the_versions_the_patches_were_written_for(package, written_for):
    assert pinned(package) == written_for, (
        f"{package} is now pinned at {pinned(package)}: check the patch in book/_ext/iff_sphinx.py against it, "
        f"then update this test")
    assert version(package) == written_for


def test_patched_functions_exist_with_the_expected_signatures():
    import inspect

    import pybtex.plugin
    from sphinxcontrib.bibtex.domain import BibtexDomain

    assert callable(pybtex.plugin._load_entry_point)
    assert list(inspect.signature(pybtex.plugin._load_entry_point).parameters) == ["group", "name", "use_aliases"]
    assert list(inspect.signature(BibtexDomain.get_formatted_entries).parameters) == [
        "self", "bibliography_key", "docnames", "tooltips", "tooltips_style"]
    from pydata_sphinx_theme import utils

    assert list(inspect.signature(utils._update_and_remove_templates).parameters) == [
        "app", "context", "templates", "section", "templates_skip_empty_check"]
