"""Errors a user can act on.

Every problem the command-line tool reports is one line: the file, the field path (or the line),
and what is wrong. Code raises :class:`IffError` (or a subclass) for anything a user caused; the
CLI prints it without a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One problem in one file.

    ``path`` is the dotted field path inside the file (``markets.drugs.cocaine.supply``), empty
    when the problem concerns the whole file. ``line`` is the 1-based line in the file, when known.
    """

    file: str
    path: str
    message: str
    line: int | None = None
    severity: str = "error"  # or "warning": valid, but worth a second look

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        where += ": warning" if self.severity == "warning" else ""
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class IffError(Exception):
    """An error caused by input or usage, reported to the user as plain text."""


@dataclass
class ParameterError(IffError):
    """One or more problems in parameter files."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class ModelError(IffError):
    """The model met a value it cannot compute with (it names the input to check)."""
