"""The handbook's Sphinx extension patches four libraries for speed (see book/_ext/iff_sphinx.py), and
the chapters' figures share matplotlib's text measurements and font heights
(methods/model/chapter/figures.py): the patches are written for the pinned versions, and these tests
fail loudly when a pin changes, so that the patched functions are checked again before the pin is
moved."""
from importlib.metadata import version

import pytest

from conftest import REPO


def pinned(package: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(package.lower() + "=="):
            return line.split("==")[1].strip()
    raise AssertionError(f"{package} is not pinned in requirements.txt")


@pytest.mark.parametrize("package, written_for", [("pybtex", "0.26.1"), ("sphinxcontrib-bibtex", "2.7.0"),
                                                  ("pydata-sphinx-theme", "0.17.1"), ("matplotlib", "3.11.2"),
                                                  ("myst-parser", "3.0.1"), ("sphinx", "7.4.7")])
def test_patched_libraries_are_the_versions_the_patches_were_written_for(package, written_for):
    assert pinned(package) == written_for, (
        f"{package} is now pinned at {pinned(package)}: check its patch (book/_ext/iff_sphinx.py, or "
        f"methods/model/chapter/figures.py for matplotlib) against it, "
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

    from pydata_sphinx_theme import toctree
    from sphinx.builders.html import StandaloneHTMLBuilder

    assert list(inspect.signature(toctree.add_toctree_functions).parameters) == [
        "app", "pagename", "templatename", "context", "doctree"]
    sidebar = inspect.getsource(toctree.add_toctree_functions)
    assert 'html_toctree = context["toctree"](**kwargs)' in sidebar and 'li["class"].append("active")' in sidebar
    assert 'details["open"] = "open"' in inspect.getsource(toctree.add_collapse_checkboxes)
    assert list(inspect.signature(StandaloneHTMLBuilder._get_local_toctree).parameters) == [
        "self", "docname", "collapse", "kwargs"]

    from myst_parser.mdit_to_docutils.base import DocutilsRenderer
    from myst_parser.parsers import sphinx_ as myst_sphinx

    assert list(inspect.signature(myst_sphinx.create_md_parser).parameters) == ["config", "renderer"]
    assert list(inspect.signature(DocutilsRenderer.setup_render).parameters) == ["self", "options", "env"]
    parse = inspect.getsource(myst_sphinx.MystParser.parse)
    assert "create_md_parser(config, SphinxRenderer)" in parse and "parser.render(inputstring)" in parse
    assert 'options.get("document", make_document())' in inspect.getsource(inspect.unwrap(DocutilsRenderer.setup_render))

    import matplotlib.text
    from matplotlib.backends.backend_mixed import MixedModeRenderer
    from matplotlib.textpath import TextToPath

    from methods.model.chapter import figures  # noqa: F401 (installs the shared measurement)

    assert list(inspect.signature(matplotlib.text._get_text_metrics_function.__wrapped__).parameters)[0] == "input_renderer"
    assert list(inspect.signature(matplotlib.text._get_text_metrics_with_cache).parameters) == [
        "renderer", "text", "fontprop", "ismath", "dpi"]
    assert list(inspect.signature(TextToPath.get_text_width_height_descent).parameters) == ["self", "s", "prop", "ismath"]
    assert "_renderer" in inspect.getsource(MixedModeRenderer.__init__)
    # the font height metrics figures.py keeps for the SVG renderer: asked of the renderer, as
    # matplotlib reads them from the font's tables, at the figure's dpi, which print_svg sets to 72
    layout = inspect.getsource(matplotlib.text.Text._get_layout)
    for line in ("if hasattr(renderer, '_get_font_height_metrics'):", "font.get_sfnt_table(table_name)",
                 "('OS/2', 'sTypoLineGap', 'sTypoAscender', 'sTypoDescender')",
                 "('hhea', 'lineGap', 'ascent', 'descent')", "scale = 1 / units_per_em * fontsize * dpi / 72",
                 "min_descent = -table[descent_key] * scale"):
        assert line in layout, line
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    print_svg = inspect.getsource(FigureCanvasSVG.print_svg)
    assert print_svg.index("self.figure.dpi = 72") < print_svg.index("RendererSVG(")
