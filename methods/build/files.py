"""Writing and fingerprinting files: the one place for both.

Every file the build writes is written atomically (to a temporary file beside it, then renamed),
so an interrupted run never leaves half a file, and only when its content changes, so that the
incremental book build sees exactly the pages that changed.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path to write to; on success it replaces ``path`` in one step, on failure
    it is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_if_changed(path: Path, content: str | bytes) -> bool:
    """Write ``content`` to ``path`` atomically, unless the file already holds exactly it.
    Returns True when the file was written."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return True


def write_with(path: Path, writer: Callable[[Path], None], only_if_changed: bool = True) -> bool:
    """Let ``writer`` write a file to a temporary path, then move it to ``path`` in one step (unless
    ``only_if_changed`` and the content is the same). Returns True when ``path`` was replaced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        writer(tmp)
        if only_if_changed and path.is_file() and path.read_bytes() == tmp.read_bytes():
            return False
        os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def hash_files(paths: Iterable[Path], root: Path, extra: str = "") -> str:
    """One fingerprint of a set of files: their paths (relative to ``root``) and contents, in a
    stable order, plus ``extra``. Missing files are skipped."""
    h = hashlib.sha256()
    for p in sorted(set(Path(p) for p in paths)):
        if not p.is_file():
            continue
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    h.update(extra.encode())
    return h.hexdigest()


def stat_fingerprint(folders: Iterable[Path], files: Iterable[Path] = (), extra: str = "") -> str:
    """One fingerprint of the files in ``folders`` (all of them, at any depth, but Python's caches)
    and of ``files``, by their paths, sizes and modification times, as make compares files: cheap
    enough to take on every build (a few hundred files in milliseconds), and changed by any edit,
    addition or removal, but not by a file that is only read. A link counts as where it points and
    as the file it points to.
    Missing folders and files count as missing."""
    h = hashlib.sha256(extra.encode())

    def add(path: str) -> None:
        try:
            info = os.lstat(path)
        except OSError:
            h.update(f"{path}\0missing\0".encode())
            return
        if os.path.islink(path):  # where it points, and what it points to (a parameter file may be a link)
            try:
                target = os.stat(path)
                pointed = f"{target.st_size}\0{target.st_mtime_ns}" if not os.path.isdir(path) else "folder"
            except OSError:
                pointed = "missing"
            h.update(f"{path}\0link\0{os.readlink(path)}\0{pointed}\0".encode())
        else:
            h.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())

    for folder in folders:
        h.update(f"{folder}/\0".encode())
        for here, dirs, names in os.walk(folder):  # top down, in name order; links to folders are not followed
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names + [d for d in dirs if os.path.islink(os.path.join(here, d))]):
                add(os.path.join(here, name))
    for path in files:
        add(str(path))
    return h.hexdigest()


# what a copy of the checkout leaves out: environments, caches and everything generated
GENERATED = shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "countries",
                                   "results", "artefacts", "*.egg-info")


def copy_project(src: Path, dest: Path, countries: list[str] | None = None) -> Path:
    """A copy of the checkout without generated files (for the benchmark and the tests);
    optionally with only some of its parameter files."""
    shutil.copytree(src, dest, ignore=GENERATED)
    if countries is not None:
        for f in (dest / "parameters").glob("*.yml"):
            if f.stem not in countries:
                f.unlink()
    return dest
