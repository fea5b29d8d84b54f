"""Estimation code, notebook templates and command-line tool of the IFF handbook.

Estimation functions are small and pure (no file or network I/O): :mod:`methods.drugs`,
:mod:`methods.smuggling`, :mod:`methods.accounting`, :mod:`methods.uncertainty`.
Parameter files are read and validated by :mod:`methods.loading` against :mod:`methods.schema`.
"""
__version__ = "0.1.0"
