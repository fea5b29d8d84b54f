"""The warm engine's fork server, seen from the processes that use it (the ``iff`` command and its
workers): start it (:func:`fork_server`), share it with a worker (:func:`adopt`), ask it for a
kernel (:meth:`ForkServer.fork`). The server itself is :mod:`methods.build.zygote`; the kernels it
forks are given to papermill by :mod:`methods.build.kernels`.

This module imports nothing but the standard library, so that the ``iff`` command can start the
fork server as the very first thing it does (:func:`start_early`), before it imports the model to
plan the run: the fork server then imports the chapters' packages (about a second) while the command
imports and plans, on the machine's other core.
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# what a chapter imports besides the model (the model's modules are added by preload_modules). Not
# matplotlib's inline backend: importing it registers the figures' display formats with the running
# IPython shell, which exists only in the kernel; the kernel imports it when its first figure is drawn.
# Also what is imported only when first used, which a chapter's code does not name: myst_nb's glue
# (imported by ``myst_nb.glue``'s first call: about 50 ms a chapter), the catalogues' reader, and
# IPython's history store; and what a kernel imports as it starts (its shell's magics, debugger and
# completer, psutil for the kernel's addresses) and when a chapter writes its results
PACKAGES = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "matplotlib.ticker", "matplotlib.patches",
            "IPython", "IPython.display", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
            "ipykernel.debugger", "myst_nb", "myst_nb.ext.glue", "pydantic", "yaml", "babel.messages.pofile",
            "sqlite3", "IPython.core.magics", "IPython.core.debugger", "IPython.core.completerlib",
            "IPython.core.logger", "IPython.core.oinspect", "IPython.core.pylabtools", "IPython.extensions.storemagic",
            "psutil", "tornado.platform.asyncio", "pandas.io.formats.csvs", "pandas.core.reshape.reshape")
START_LIMIT = 120  # seconds the fork server may take to import its modules


def preload_modules(model_modules: list[str] = ()) -> list[str]:
    """The modules the fork server imports once: the chapters' packages, the model's modules, and
    :mod:`methods.build.preload`, which fills the caches every chapter would fill."""
    return [*PACKAGES, *model_modules, "methods.build.preload"]


FOLDER_PREFIX = "iff-forkserver-"  # the folder of a fork server's socket, in the system's temporary folder


def remove_stale_folders(temporary: str | None = None) -> list[str]:
    """Remove the socket folders of fork servers that died without removing them (a fork server
    removes its folder as it ends, and the ``iff`` command as it stops it, but a process group
    killed at once, with SIGKILL, leaves it): folders of this user whose socket no process listens
    on. A folder without a socket is left alone: its fork server may still be importing its
    modules. Returns the folders removed."""
    temporary = temporary or tempfile.gettempdir()
    removed = []
    try:
        names = [n for n in os.listdir(temporary) if n.startswith(FOLDER_PREFIX)]
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(temporary, name)
        address = os.path.join(folder, "socket")
        try:
            if os.lstat(folder).st_uid != os.getuid() or not os.path.exists(address):
                continue
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(address)  # a live fork server ignores a connection without a request
        except ConnectionRefusedError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except OSError:
            continue
    return removed


class ForkServer:
    """This process's fork server (:mod:`methods.build.zygote`), started at once; it answers once it
    has imported its modules."""

    def __init__(self, modules: list[str], fingerprint: str = ""):
        self.fingerprint = fingerprint
        remove_stale_folders()
        self.folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX)
        self.address = os.path.join(self.folder, "socket")
        # the inline backend, as ipykernel sets it for a cold kernel: matplotlib reads it when imported
        env = dict(os.environ, MPLBACKEND=os.environ.get("MPLBACKEND", INLINE_BACKEND))
        self.process = subprocess.Popen([sys.executable, "-m", "methods.build.zygote", self.address, *modules],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=env)
        self.ready = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def _wait_ready(self) -> None:
        if not self.ready:
            import selectors

            with selectors.DefaultSelector() as sel:
                sel.register(self.process.stdout, selectors.EVENT_READ)
                if not sel.select(START_LIMIT) or self.process.stdout.readline().strip() != b"ready":
                    raise RuntimeError("the fork server of the warm engine did not start")
            self.ready = True

    def fork(self, request: dict) -> int:
        """A new kernel: the process id of the fork server's child. A failure is reported the way
        jupyter_client reports a kernel that did not start, which the runner tries again."""
        try:
            self._wait_ready()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(30)
                conn.connect(self.address)
                conn.sendall(json.dumps(request).encode() + b"\n")
                reply = b""
                while not reply.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        raise RuntimeError("the fork server closed the connection")
                    reply += chunk
            return int(json.loads(reply)["pid"])
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise RuntimeError(f"Kernel died before replying to kernel_info (the warm engine: {exc})") from None

    def shared(self) -> tuple[str, int, str]:
        """What a worker process needs to use this fork server (:func:`adopt`): its socket, its
        process id and the fingerprint of the code it imported."""
        return self.address, self.process.pid, self.fingerprint

    def close(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class AdoptedForkServer(ForkServer):
    """A fork server started by another process (the `iff` command, before it planned the run) and
    used by this one (a worker): it is ready once its socket answers, and it is not this process's
    to stop."""

    def __init__(self, address: str, pid: int, fingerprint: str):  # noqa: super().__init__ would start one
        self.address, self.fingerprint, self.ready = address, fingerprint, False
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._fd = None

    def alive(self) -> bool:
        import select

        return self._fd is not None and not select.select([self._fd], [], [], 0)[0]

    def _wait_ready(self) -> None:
        import time

        deadline = time.monotonic() + START_LIMIT
        while not self.ready:  # its socket exists once it has imported its modules
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError("the fork server of the warm engine did not start")
            try:  # it listens once it has imported its modules (a connection without a request is ignored)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(self.address)
                self.ready = True
            except OSError:
                time.sleep(0.005)

    def close(self) -> None:
        pass


_SERVERS: dict[tuple[int, tuple[str, ...]], ForkServer] = {}
_LOCK = threading.Lock()  # a Dask worker runs chapters in threads


def code_fingerprint(modules: list[str]) -> str:
    """The state of the package's modules among ``modules`` (their files' sizes and times): a fork
    server that imported an older version of the model is replaced, not reused. The files are
    found from the package's folder, without importing anything (``importlib.util.find_spec``
    imports a module's parent packages: the model's, a tenth of a second before planning)."""
    root = Path(__file__).resolve().parents[1]  # the ``methods`` package
    parts = []
    for name in modules:
        top, *rest = name.split(".")
        if top != "methods":
            continue
        folder = root.joinpath(*rest)
        for origin in (folder / "__init__.py", folder.with_suffix(".py")) if rest else (root / "__init__.py",):
            if origin.is_file():
                info = origin.stat()
                parts.append(f"{name}:{info.st_mtime_ns}:{info.st_size}")
                break
    return "|".join(parts)


def fork_server(modules: list[str]) -> ForkServer:
    """This process's fork server for ``modules`` (started on first use, again if it died or if the
    model's code changed since it started)."""
    key = (os.getpid(), tuple(modules))  # a forked process starts its own: it cannot use its parent's
    fingerprint = code_fingerprint(list(modules))
    with _LOCK:
        server = _SERVERS.get(key)
        if server is not None and (not server.alive() or server.fingerprint != fingerprint):
            server.close()
            server = None
        if server is None:
            server = _SERVERS[key] = ForkServer(list(modules), fingerprint)
            atexit.register(server.close)
        return server


def wait_for_fork_server(preload: tuple[str, ...]) -> None:
    """Wait until this process's fork server for the chapters' modules ``preload`` has imported them
    (it is started if need be). A fork server that does not start is reported when a kernel is
    asked of it, as a kernel that did not start."""
    try:
        fork_server(preload_modules(list(preload)))._wait_ready()
    except RuntimeError:
        pass


def adopt(shared: tuple[str, int, str], modules: list[str]) -> None:
    """Use the fork server ``shared`` (:meth:`ForkServer.shared`, started by the parent process
    for ``modules``) as this process's: the worker's chapters fork from it instead of from a fork
    server of their own. If the model's code changed since it started, :func:`fork_server`
    replaces it as it would its own."""
    with _LOCK:
        _SERVERS[(os.getpid(), tuple(modules))] = AdoptedForkServer(*shared)


def close_fork_server(server: ForkServer) -> None:
    """Stop ``server`` (one of this process's) now rather than when the process ends."""
    with _LOCK:
        for key, known in list(_SERVERS.items()):
            if known is server:
                del _SERVERS[key]
    server.close()


# ----- the earliest start -------------------------------------------------------------------------

EARLY_FILE = "fork-server.json"  # in _build/: the modules of the last run's fork server
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_EARLY: list[ForkServer] = []


def _early_modules(build_dir: Path) -> list[str] | None:
    """The modules recorded by :func:`remember`, if the record is one this module could have
    written: the packages of :data:`PACKAGES` and modules of the handbook's own package, in the
    order :func:`preload_modules` gives them (anything else, and the record is ignored)."""
    try:
        modules = json.loads((build_dir / EARLY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(modules, list) and all(isinstance(m, str) and _MODULE_NAME.fullmatch(m) for m in modules)):
        return None
    model = [m for m in modules if m not in PACKAGES]
    if not all(m == "methods" or m.startswith("methods.") for m in model) or modules != preload_modules(model[:-1]):
        return None
    return modules


def start_early(build_dir: Path) -> ForkServer | None:
    """Start the fork server the last run of this checkout used (its modules recorded in
    ``build_dir`` by :func:`remember`), before anything else is imported; None if there is no
    such record. If the run turns out to need other modules, or none, :func:`discard_early`
    stops it."""
    modules = _early_modules(build_dir)
    if not modules:
        return None
    _EARLY.append(fork_server(modules))
    return _EARLY[-1]


def remember(build_dir: Path, modules: list[str]) -> None:
    """Record ``modules`` for the next run's :func:`start_early`."""
    text = json.dumps(list(modules))
    path = build_dir / EARLY_FILE
    try:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            build_dir.mkdir(exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
    except OSError:
        pass  # only a head start for the next run


def discard_early(keep: ForkServer | None = None) -> None:
    """Stop the fork servers :func:`start_early` started, except ``keep`` (the one the run uses)."""
    while _EARLY:
        server = _EARLY.pop()
        if server is not keep:
            close_fork_server(server)
