"""The warm engine's fork server, seen from the processes that use it (the ``iff`` command and its
workers): start it (:func:`fork_server`), share it with a worker (:func:`adopt`), ask it for a
kernel (:meth:`ForkServer.fork`). The server itself is :mod:`methods.build.zygote`; the kernels it
forks are given to papermill by :mod:`methods.build.kernels`.

This module imports nothing but the standard library, so that the ``iff`` command can start the
fork server as the very first thing it does (:func:`start_early`), before it imports the model to
plan the run: the fork server then imports the chapters' packages (about a second) while the command
imports and plans, on the machine's other core.

The fork server is kept when the command ends (:class:`KeptForkServer`): the next command of the
same checkout, with the same code, packages and environment, finds it already waiting and forks its
first kernel at once. It ends after ten minutes without a kernel (``IFF_KEEP_WARM``, in seconds; 0:
each command starts its own and stops it as it ends, as the tests do).
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

from .zygote import IDENTITY_VARIABLE, peer_uid, private_folder, record_path

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
    """Remove what fork servers that died without cleaning up left in the temporary folder (a fork
    server removes its socket and folder as it ends, and the ``iff`` command as it stops it, but a
    process group killed at once, with SIGKILL, leaves them): in this user's fork-server folders,
    the sockets no process listens on (with their records), then the folder if that left it empty.
    An empty folder is otherwise left alone (its fork server may still be importing its modules),
    unless it has been so for twice the time a fork server may take to start. Returns the sockets
    and folders removed."""
    import time

    temporary = temporary or tempfile.gettempdir()
    removed = []
    try:
        names = [n for n in os.listdir(temporary) if n.startswith(FOLDER_PREFIX)]
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(temporary, name)
        try:
            info = os.lstat(folder)
            if info.st_uid != os.getuid() or not os.path.isdir(folder) or os.path.islink(folder):
                continue
            entries = os.listdir(folder)
        except OSError:
            continue
        dead = 0
        for entry in entries:
            if entry == "socket" or entry.endswith(".sock"):
                address = os.path.join(folder, entry)
                if _answers(address, dead_only=True):
                    continue
                for path in (address, record_path(address)):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
                removed.append(address)
                dead += 1
        try:
            if dead or time.time() - info.st_mtime > 2 * START_LIMIT:
                os.rmdir(folder)  # only if empty
                removed.append(folder)
        except OSError:
            pass
    return removed


def _answers(address: str, dead_only: bool = False) -> bool:
    """Whether a fork server listens at ``address`` (a fork server ignores a connection without a
    request). One that is slow to answer (stopped, or busy) counts as listening; with
    ``dead_only``, so does any answer but a refusal or no socket (then it is not removed)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(address)
            return True
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except TimeoutError:
            return True  # listening, but slow to answer (stopped, or busy)
        except OSError:
            return dead_only  # not a socket this process can use, nor one to remove


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
                if peer_uid(conn) != os.getuid():  # a socket another user listens on: never told anything
                    raise RuntimeError("the fork server's socket belongs to another user")
                conn.sendall(json.dumps(dict(request, client_pid=os.getpid())).encode() + b"\n")
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
            if _answers(self.address):  # it listens once it has imported its modules
                self.ready = True
            else:
                time.sleep(0.005)

    def close(self) -> None:
        """Not this process's to stop: only its handle is closed."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# ----- a fork server kept between commands --------------------------------------------------------

SOCKET_PATH_LIMIT = 100  # bytes: Linux takes at most 107 in a Unix socket's name
KEEP_VARIABLE = "IFF_KEEP_WARM"  # seconds a fork server stays after its last kernel; 0: it ends with its command
KEEP_SECONDS = 600.0
KEEP_LIMIT = 86400.0
_VOLATILE = {"PWD", "OLDPWD", "SHLVL", "_"}  # what differs between two shells, not between two environments


def keep_seconds(text: str | None = None) -> float:
    """How long a fork server outlives the command that started it, waiting for the next one (the
    environment variable ``IFF_KEEP_WARM``, in seconds, :data:`KEEP_SECONDS` when unset; 0: it
    ends with its command). Raises ValueError for anything but a number of seconds from 0 to a day
    (the ``iff`` command says so before it starts anything)."""
    text = os.environ.get(KEEP_VARIABLE) if text is None else text
    if text is None or not text.strip():
        return KEEP_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= KEEP_LIMIT:  # also NaN: not a number
        raise ValueError(text)
    return value


def _checkout() -> Path:
    """The folder holding the ``methods`` package this process imported: the checkout a kept fork
    server serves, and where it runs (it imports that package's modules)."""
    return Path(__file__).resolve().parents[2]


def server_identity(modules: list[str], fingerprint: str) -> str:
    """What a kept fork server was started with, as a digest: the Python that runs it, its own code,
    the modules it imported and the state of the model's files (``fingerprint``), the state of the
    installed packages (the folders of ``site-packages``: installing or removing one changes them),
    the environment (modules read it as they are imported), what else a kernel inherits from it
    (:func:`_process_settings`) and matplotlib's settings files. A command whose identity differs
    starts another fork server."""
    import hashlib

    env = {k: v for k, v in os.environ.items() if k not in _VOLATILE}
    env.setdefault("MPLBACKEND", INLINE_BACKEND)
    installed = []
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            try:
                installed.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
            except OSError:
                pass
    zygote = Path(__file__).with_name("zygote.py").stat()  # the server's own code
    text = json.dumps([sys.executable, sys.version, str(_checkout()), list(modules), fingerprint, env, installed,
                       [zygote.st_mtime_ns, zygote.st_size], _process_settings(), _matplotlib_settings()])
    return hashlib.sha256(text.encode()).hexdigest()


def _process_settings() -> list:
    """What a kernel inherits from its fork server besides the environment: the file creation mask,
    the scheduling priority, the processors it may run on and its resource limits."""
    import resource

    try:
        with open("/proc/self/status", encoding="utf-8") as fh:  # read without changing it
            umask = next((line.split()[1] for line in fh if line.startswith("Umask:")), "")
    except OSError:
        umask = ""
    limits = [resource.getrlimit(getattr(resource, name)) for name in
              ("RLIMIT_NOFILE", "RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CPU", "RLIMIT_NPROC")
              if hasattr(resource, name)]
    return [umask, os.getpriority(os.PRIO_PROCESS, 0), sorted(os.sched_getaffinity(0)), limits]


def _matplotlib_settings() -> list:
    """The files matplotlib reads its settings from when imported (the fork server imports it in the
    checkout), by size and time: an edited ``matplotlibrc`` needs a new fork server."""
    config = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "matplotlib")
    candidates = [os.environ.get("MATPLOTLIBRC", ""), str(_checkout() / "matplotlibrc"), os.path.join(config, "matplotlibrc")]
    out = []
    for path in candidates:
        if os.path.isdir(path):
            path = os.path.join(path, "matplotlibrc")
        try:
            info = os.stat(path)
            out.append([path, info.st_mtime_ns, info.st_size])
        except OSError:
            out.append([path, None])
    return out


def kept_folder(checkout: Path) -> str:
    """The folder of the socket of ``checkout``'s kept fork server, in the temporary folder: one per
    user and checkout."""
    import hashlib

    digest = hashlib.sha256(str(Path(checkout).resolve()).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"{FOLDER_PREFIX}{os.getuid()}-{digest}")


def _read_record(address: str) -> tuple[int, str]:
    """(process id, identity) a kept fork server wrote beside its socket; (0, "") if none can be read."""
    try:
        with open(record_path(address), encoding="utf-8") as fh:
            record = json.load(fh)
        return int(record["pid"]), str(record["identity"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0, ""


def _tell(address: str, request: dict) -> None:
    """Send ``request`` to the fork server at ``address`` without waiting for anything."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(0.5)
            conn.connect(address)
            if peer_uid(conn) == os.getuid():
                conn.sendall(json.dumps(request).encode() + b"\n")
    except OSError:
        pass


class KeptForkServer(ForkServer):
    """A fork server that outlives the command that started it (see :mod:`methods.build.zygote`): the
    next ``iff`` command of the same checkout, with the same modules, code, installed packages and
    environment, forks its kernels from it at once instead of waiting a second for the imports. Its
    socket is in a private folder of the temporary folder, one per checkout and user, named after
    its identity (:func:`server_identity`): fork servers of different identities may run side by
    side (a run keeps its own to the end), and starting one retires the others, which then end
    shortly after their last kernel. It ends after :func:`keep_seconds` without a kernel running.
    Use :meth:`find`."""

    def __init__(self, address: str, fingerprint: str, identity: str, pid: int = 0, process=None):  # noqa: no super()
        self.address, self.fingerprint, self.identity = address, fingerprint, identity
        self.folder = os.path.dirname(address)
        self.pid, self.process, self.ready = pid, process, False
        self._fd = None

    @classmethod
    def find(cls, modules: list[str], fingerprint: str, keep: float) -> "KeptForkServer | None":
        """The checkout's kept fork server for ``modules``: the running one of the same identity, else a
        new one, which retires the others. None when the folder cannot be trusted (then the command
        starts a fork server of its own)."""
        root = _checkout()
        folder = kept_folder(root)
        identity = server_identity(modules, fingerprint)
        address = os.path.join(folder, f"{identity[:12]}.sock")
        if len(os.fsencode(address)) > SOCKET_PATH_LIMIT:  # a temporary folder too deep for a socket's name
            return None
        if private_folder(folder) and _answers(address):
            pid, running = _read_record(address)
            if running == identity:
                return cls(address, fingerprint, identity, pid)
            _tell(address, {"exit": True})  # its record is unreadable or not its own: it cannot be trusted
            import time

            deadline = time.monotonic() + 5
            while _answers(address) and time.monotonic() < deadline:
                time.sleep(0.01)
        remove_stale_folders()  # before this folder is made, or made sure of
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
        if not private_folder(folder):
            return None
        try:
            others = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".sock")]
        except OSError:
            others = []
        for other in others:  # other modules, older code or another environment: they end when idle
            if other != address:
                _tell(other, {"retire": True})
        if not _answers(address):  # what a fork server that could not be trusted, or was killed, left
            for stale in (address, record_path(address)):
                try:
                    os.unlink(stale)
                except OSError:
                    pass
        env = dict(os.environ, MPLBACKEND=os.environ.get("MPLBACKEND", INLINE_BACKEND))
        env[IDENTITY_VARIABLE] = identity  # not on its command line, which every user may read
        # a session of its own, nothing of this command's open (its output pipes would stay open
        # for whoever reads them): it lives on when the command ends
        process = subprocess.Popen([sys.executable, "-m", "methods.build.zygote", address, "--keep", repr(keep),
                                    *modules], cwd=root, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return cls(address, fingerprint, identity, process.pid, process)

    def alive(self) -> bool:
        import select

        if self._fd is None and self.pid:
            try:
                self._fd = os.pidfd_open(self.pid)
            except OSError:
                return False
        return self._fd is not None and not select.select([self._fd], [], [], 0)[0]

    def _wait_ready(self) -> None:
        import time

        deadline = time.monotonic() + START_LIMIT
        while not self.ready:
            # (a folder gone meanwhile, emptied of a dead fork server's socket, the new one makes again)
            if os.path.lexists(self.folder) and not private_folder(self.folder):
                raise RuntimeError("the fork server's folder can no longer be trusted")
            pid, running = _read_record(self.address)
            if running == self.identity and _answers(self.address):
                if pid != self.pid:  # another command's, started at the same moment, serves
                    self._close_fd()
                    self.pid = pid
                self.ready = True
            elif (self.process is not None and self.process.poll() is not None and running != self.identity) \
                    or time.monotonic() > deadline:
                raise RuntimeError("the fork server of the warm engine did not start")
            else:
                time.sleep(0.005)

    def shared(self) -> tuple[str, int, str]:
        return self.address, self.pid, self.fingerprint

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """It stays for the next command (and ends by itself): only this process's handle is closed."""
        self._close_fd()


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
    model's code changed since it started): the checkout's kept fork server
    (:class:`KeptForkServer`), unless ``IFF_KEEP_WARM`` is 0, or one of this process's own."""
    key = (os.getpid(), tuple(modules))  # a forked process starts its own: it cannot use its parent's
    fingerprint = code_fingerprint(list(modules))
    with _LOCK:
        server = _SERVERS.get(key)
        if server is not None and (not server.alive() or server.fingerprint != fingerprint):
            server.close()
            server = None
        if server is None:
            keep = _keep_or_not()
            server = KeptForkServer.find(list(modules), fingerprint, keep) if keep else None
            if server is None:
                server = ForkServer(list(modules), fingerprint)
                atexit.register(server.close)
            _SERVERS[key] = server
        return server


def _keep_or_not() -> float:
    try:
        return keep_seconds()
    except ValueError:  # the iff command refuses such a value before it starts anything
        return 0.0


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
