"""The IFF handbook's Python package, in two layers.

:mod:`methods.model`
    Everything a country chapter computes and shows: the parameter-file schema and its safe
    loading (:mod:`methods.model.params`), the estimation functions of each market (pure functions,
    no I/O: :mod:`~methods.model.drugs`, :mod:`~methods.model.smuggling`, :mod:`~methods.model.accounting`,
    :mod:`~methods.model.uncertainty`), the flow records and totals (:mod:`~methods.model.results`),
    the regional network of mirror flows (:mod:`~methods.model.network`), the chapters' tables and
    figures (:mod:`methods.model.chapter`) and the notebook templates papermill executes.
    A chapter is executed again when a model module it imports changes.

:mod:`methods.build`
    The machinery that turns the model into the handbook: the ``iff`` command, the runner, the
    generated pages, the Sphinx process, the regional pages, the exports, the new-country file,
    the benchmark. No chapter imports it, so changing it never re-executes a chapter.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iff-handbook")  # the one place it is written: pyproject.toml
except PackageNotFoundError:  # a copy of the sources that was not installed
    __version__ = "unknown"
