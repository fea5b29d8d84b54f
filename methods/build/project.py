"""Where things are in a checkout of the handbook."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.errors import IffError
from ..model.outputs import ChapterFiles

if TYPE_CHECKING:
    from ..model.params import CountryFile

TEMPLATES = Path(__file__).resolve().parents[1] / "model" / "templates"


@dataclass(frozen=True)
class Project:
    """A checkout, seen in one language: the Spanish edition's sources are a tree of their own
    (``_build/src-es``: the hand-written pages linked from ``book/``, the chapters and the generated
    pages written in Spanish), built by Sphinx with the catalogues of ``book/locales``."""

    root: Path
    lang: str = "en"

    def spanish(self) -> "Project":
        return Project(self.root, "es")

    @classmethod
    def find(cls, start: Path | None = None) -> "Project":
        """The checkout containing ``start`` (default: the current folder)."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "_config.yml").is_file() and (folder / "parameters").is_dir() and (folder / "book").is_dir():
                return cls(folder)
        raise IffError(f"{here} is not inside a checkout of the handbook (no _config.yml with parameters/ and book/); "
                       "run iff from the repository folder")

    # ----- folders -------------------------------------------------------------------------------
    @property
    def parameters_dir(self) -> Path:
        return self.root / "parameters"

    @property
    def book_dir(self) -> Path:
        return self.root / "book" if self.lang == "en" else self.root / "_build" / f"src-{self.lang}"

    @property
    def sources_dir(self) -> Path:
        """The hand-written sources, whatever the language (``book/``)."""
        return self.root / "book"

    @property
    def suffix(self) -> str:
        """What tells this edition's build files from the other's: ``""`` in English, ``"-es"`` in Spanish."""
        return "" if self.lang == "en" else f"-{self.lang}"

    @property
    def html_dir(self) -> Path:
        """Where this edition is published: ``_build/html`` (English) and ``_build/html/es`` (Spanish)."""
        html = self.build_dir / "html"
        return html if self.lang == "en" else html / self.lang

    @property
    def staging_dir(self) -> Path:
        """Where this edition is built; it replaces :attr:`html_dir` only when the build succeeds."""
        return self.build_dir / f".html{self.suffix}-staging"

    @property
    def doctree_dir(self) -> Path:
        """Sphinx's environment and parsed pages of this edition (what an incremental build reuses)."""
        return self.build_dir / f".doctrees{self.suffix}"

    def stamp(self, name: str) -> Path:
        """A fingerprint file of this edition's build (``.book-sources``, ``.book-structure`` ...)."""
        return self.build_dir / f".{name}{self.suffix}.sha256"

    @property
    def locale_build_dir(self) -> Path:
        """The compiled catalogues (``.mo``) of the hand-written pages, which Sphinx reads."""
        return self.build_dir / "locale"

    @property
    def build_dir(self) -> Path:
        return self.root / "_build"

    @property
    def logs_dir(self) -> Path:
        return self.build_dir / "logs"

    @property
    def failed_dir(self) -> Path:
        return self.build_dir / "failed"

    @property
    def pdf_file(self) -> Path:
        """The edition's PDF as `iff pdf` prints it (published beside the edition as handbook.pdf)."""
        return self.build_dir / "pdf" / ("handbook.pdf" if self.lang == "en" else f"handbook.{self.lang}.pdf")

    @property
    def bib_file(self) -> Path:
        return self.sources_dir / "references.bib"

    def country_dir(self, iso3: str) -> Path:
        return self.book_dir / "countries" / iso3

    def chapter(self, iso3: str, market: str) -> ChapterFiles:
        """The files of one country's chapter for one market."""
        return ChapterFiles(self.country_dir(iso3), market)

    def rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    # ----- inputs --------------------------------------------------------------------------------
    def parameter_files(self, countries: list[str] | None = None) -> list[Path]:
        """Parameter files, all or the given countries'. Country codes are checked before any path is
        built. Every entry of ``parameters/`` that looks like a parameter file is listed, even when its
        name is wrong (``col.yml``, ``COL.yaml``), so that :meth:`load` reports it rather than
        skipping it silently; hidden files and files of other kinds (a README) are left alone."""
        if countries:
            from ..model.params.loading import ISO3

            out = []
            for code in countries:
                if not ISO3.fullmatch(code):
                    raise IffError(f"--country {code!r}: a country is given by its three-letter ISO3 code in capitals, e.g. COL")
                path = self.parameters_dir / f"{code}.yml"
                if not (path.exists() or path.is_symlink()):
                    raise IffError(f"--country {code}: there is no parameter file {self.rel(path)}")
                out.append(path)
            return out
        return sorted(p for p in self.parameters_dir.iterdir()
                      if not p.name.startswith(".") and p.suffix.lower() in (".yml", ".yaml"))

    # the parameter files' schema and loading are imported when first needed: finding the checkout
    # (the first thing `iff run` and `iff build` do) does not wait for pydantic and the schema
    def bib_keys(self) -> set[str] | None:
        from ..model.params import bib_keys

        return bib_keys(self.bib_file) if self.bib_file.exists() else None

    def load(self, path: Path, bib: set[str] | None = None) -> CountryFile:
        from ..model.params import load_country

        return load_country(path, bib, display=self.display(path), root=self.root)

    def check(self, path: Path, bib: set[str] | None = None):
        """(the validated file, its warnings); raises ParameterError (see :func:`check_country`)."""
        from ..model.params import check_country

        return check_country(path, bib, display=self.display(path), root=self.root)

    def parameters_path_from_countries(self) -> str:
        """The way from a country's page (``<book>/countries/<ISO3>/``) to ``parameters/``."""
        return os.path.relpath(self.parameters_dir, self.book_dir / "countries" / "XXX")

    def catalogues(self, country: str) -> tuple[Path, ...]:
        """The translation catalogues a country's chapters take their Spanish words from."""
        folder = self.sources_dir / "locales" / "es" / "LC_MESSAGES"
        return (folder / "iff.po", folder / "parameters" / f"{country}.po")

    def display(self, path: Path) -> str:
        """A path as shown in messages: relative to the checkout, without following links."""
        try:
            return str(Path(os.path.abspath(path)).relative_to(self.root))
        except ValueError:
            return str(path)

    @property
    def model_dir(self) -> Path:
        """The model layer of the checkout's package (what chapters import)."""
        return self.root / "methods" / "model"

    def template(self, market: str) -> Path:
        """The checkout's template for a market (falling back to the installed package's)."""
        own = self.model_dir / "templates" / f"{market}.md"
        return own if own.is_file() else TEMPLATES / f"{market}.md"


def edition(root: Path, lang: str = "en") -> tuple[str, str]:
    """The handbook's edition: the version in ``pyproject.toml`` and the date of the commit it is
    built from (``SOURCE_DATE_EPOCH`` when set, as reproducible builds expect; today's date outside a
    git checkout), e.g. ``("0.3.0", "29 November 2026")``, in Spanish ``"29 de noviembre de 2026"``."""
    import datetime
    import subprocess
    import tomllib

    version = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    when = None
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        when = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), datetime.timezone.utc).date()
    else:
        try:
            out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%cs"], capture_output=True, text=True,
                                 timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                when = datetime.date.fromisoformat(out.stdout.strip())
        except (OSError, subprocess.SubprocessError, ValueError):
            when = None
    when = when or datetime.date.today()
    if lang == "en":
        return version, f"{when.day} {when:%B %Y}"
    from babel.dates import format_date

    return version, format_date(when, format="long", locale=lang)
