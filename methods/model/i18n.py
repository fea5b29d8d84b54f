"""The handbook's two languages: translations from gettext catalogues, and numbers for readers.

The handbook is written in English; the Spanish edition takes its words from the catalogues in
``book/locales/es/LC_MESSAGES/`` (see :mod:`methods.build.i18n`): ``iff.po`` for the handbook's own
words and ``parameters/<ISO3>.po`` for the free texts of the parameter files. A message without a
translation is shown in English (and `iff i18n check` reports it).

Numbers are formatted for readers only (parameter files stay language-neutral): in English with a
decimal point and commas between thousands; in Spanish as Spanish-language UN documents write them,
with a decimal comma and thousands grouped by a narrow no-break space for numbers of five digits or
more (the FAO editorial style guide for Spanish, section 9.1; four-digit numbers are not grouped).

:func:`_` translates the command line's messages into the language of the user's locale
(``LANG=es_*``), set once with :func:`set_language`.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("en", "es")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
THIN = "\u202f"  # narrow no-break space: the thousands separator of Spanish numbers
LOCALES = Path(__file__).resolve().parents[2] / "book" / "locales"


def N_(text: str) -> str:
    """Marks a text to translate where it is defined (extracted into the catalogue); translated
    where it is shown."""
    return text


@lru_cache(maxsize=None)
def _catalogue(path: str, mtime: float) -> dict[str, str]:
    from babel.messages.pofile import read_po

    with open(path, "rb") as fh:
        catalog = read_po(fh)
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def catalogue(lang: str, name: str, locales: Path = LOCALES) -> dict[str, str]:
    """The translations of one catalogue (``iff``, ``parameters/COL`` ...); empty for English or a
    missing file. Outdated (fuzzy) translations are not used."""
    if lang == "en":
        return {}
    path = Path(locales) / lang / "LC_MESSAGES" / f"{name}.po"
    if not path.is_file():
        return {}
    return _catalogue(str(path), path.stat().st_mtime)


def number(x, digits: int = 1, lang: str = "en", group: bool = True) -> str:
    """A number for readers: ``1,234.5`` in English, ``1 234,5`` in Spanish."""
    text = f"{x:,.{digits}f}" if group else f"{x:.{digits}f}"
    if lang != "es":
        return text
    integer, _, decimals = text.partition(".")
    digits_only = integer.lstrip("-").replace(",", "")
    integer = integer.replace(",", THIN) if len(digits_only) >= 5 else integer.replace(",", "")
    return integer + ("," + decimals if decimals else "")


_NUMBER = re.compile(r"(?<![\w.,])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.,])-?\d+\.\d+(?![\w.])")


def spanish_numbers(text: str) -> str:
    """The numbers of an English text written the Spanish way ("1,234.5" becomes "1 234,5");
    years and other whole numbers without separators are left alone."""
    def convert(m):
        token = m.group(0)
        integer, _, decimals = token.partition(".")
        digits_only = integer.lstrip("-").replace(",", "")
        integer = integer.replace(",", THIN) if len(digits_only) >= 5 else integer.replace(",", "")
        return integer + ("," + decimals if decimals else "")
    return _NUMBER.sub(convert, text)


class Translator:
    """The words of one language for one country's chapter (or for the handbook's pages).

    ``tr("inward")`` translates a message of ``iff.po``, or a free text of the country's parameter
    file (``parameters/<ISO3>.po``); ``tr.number(1234.5)`` formats a number; ``tr.lang`` is the
    language code. English is the identity.
    """

    def __init__(self, lang: str = "en", country: str | None = None, locales: Path = LOCALES):
        self.lang = lang
        self.words = dict(catalogue(lang, "iff", locales))
        self.texts: dict[str, str] = {}
        if country:
            self.texts = catalogue(lang, f"parameters/{country}", locales)

    def __call__(self, text: str) -> str:
        """A message of the handbook (``iff.po``): never a parameter file's text, which is untrusted
        and may not be used as a template."""
        if self.lang == "en" or not isinstance(text, str):
            return text
        return self.words.get(text) or text

    def text(self, text: str) -> str:
        """A free text of the parameter file (a label, an assumption, a note), shown as text."""
        if self.lang == "en" or not isinstance(text, str):
            return text
        return self.texts.get(text) or self.words.get(text) or text

    def number(self, x, digits: int = 1) -> str:
        return number(x, digits, self.lang)

    def numbers(self, text: str) -> str:
        """The numbers of a composed English-style text, in this language's style."""
        return spanish_numbers(text) if self.lang == "es" else text


def translators(country: str | None = None, languages=LANGUAGES, locales: Path = LOCALES) -> dict[str, Translator]:
    """One translator per language of the handbook (or of ``languages``, English first)."""
    return {lang: Translator(lang, country, locales) for lang in LANGUAGES if lang in languages}


# ----- the command line's language -------------------------------------------------------------

_LANGUAGE = {"current": "en"}


def locale_language() -> str:
    """``es`` when the user's locale is Spanish (LC_ALL, LC_MESSAGES or LANG starting with es),
    ``en`` otherwise."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "es" if value.lower().startswith("es") else "en"
    return "en"


def set_language(lang: str) -> None:
    _LANGUAGE["current"] = lang if lang in LANGUAGES else "en"


def current_language() -> str:
    return _LANGUAGE["current"]


def _(text: str) -> str:
    """A message of the command line (validation errors above all) in the current language."""
    lang = _LANGUAGE["current"]
    if lang == "en":
        return text
    return catalogue(lang, "iff").get(text, text)
