"""The warm engine's fork server: ``python -m methods.build.zygote SOCKET [--keep SECONDS] MODULE ...``.

It imports the modules it is given (the chapters' packages and the model), then waits on a Unix
socket. Each request — one line of JSON naming a kernel's connection file, arguments, working
folder, environment and log — is answered by forking a child that becomes that kernel, and the
child's process id. It imports nothing else and runs nothing of a chapter: every kernel starts from
the same state. It reaps its children as they end. A kernel ends when the process that asked for it
(``client_pid`` in the request: the worker running its chapter) ends. Only processes of the same
user are answered.

It ends when the process that started it ends; or, started with ``--keep SECONDS`` (a *kept* fork
server, :class:`methods.build.forkserver.KeptForkServer`), it outlives that process, for the next
``iff`` command of the same checkout, and ends once it has had no kernel running and no request for
``SECONDS``, or when its checkout's ``methods`` folder is gone. A request ``{"retire": true}`` (a
command that needs other modules, newer code or another environment has started its own) shortens
that time to :data:`RETIRE_SECONDS`: the kernels of a run still going keep coming from it.
``{"exit": true}`` stops it at once. Once it listens, it writes its process id and its identity (the
environment variable ``IFF_FORK_SERVER_IDENTITY``, which a kept server is started with) to the file
beside its socket named like it, with the extension ``.json``.

Why not :mod:`multiprocessing`'s fork server: before running its target, each of its children
imports the main module of the process that asked for it (the ``iff`` command, or a test
runner), which costs a quarter of a second per kernel, and a worker forked from a process that
had started one cannot use it.
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time

RETIRE_SECONDS = 5.0  # how long a retired fork server waits after its last kernel (it may be between two)
IDENTITY_VARIABLE = "IFF_FORK_SERVER_IDENTITY"
_CHILDREN: set[int] = set()  # the kernels still running


def _reap(_signum, _frame) -> None:
    try:
        while True:
            pid = os.waitpid(-1, os.WNOHANG)[0]
            if pid <= 0:
                break
            _CHILDREN.discard(pid)
    except ChildProcessError:
        _CHILDREN.clear()


def peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket."""
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def _end_with(pid: int) -> None:
    """End this kernel when process ``pid`` (the one that asked for it) ends, as a cold kernel's
    process ends with the worker that started it: at once if it has already ended; by its pidfd,
    or, where there is none, by asking every half second whether it still exists."""
    import threading

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):
        fd = None

    def watch():
        if fd is not None:
            select.select([fd], [], [])
        else:
            while True:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:  # another user's process has its number: it ended
                    break
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="iff-client-watch", daemon=True).start()


def kernel_main(connection_file: str, arguments: list[str], cwd: str, env: dict, log_file: str | None,
                client_pid: int | None = None) -> None:
    """The body of a forked kernel: a process of its own, as a cold kernel would be."""
    os.setsid()  # its own process group: signals to the kernel never reach the fork server
    if client_pid:
        _end_with(client_pid)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    if log_file:  # the kernel's low-level output goes to its chapter's log, as a cold kernel's does
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    else:
        os.dup2(devnull, 2)
    os.close(devnull)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    import random
    import time

    time.tzset()  # the time zone of the environment given, not the fork server's

    random.seed()  # fresh random state, as a new process gets
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file, *arguments])
    app.start()


class _Terminated(BaseException):  # not caught with the errors of an import
    pass


def _terminate(_signum, _frame) -> None:
    raise _Terminated


def record_path(address: str) -> str:
    """The file beside a fork server's socket where it writes its process id and identity."""
    return os.path.splitext(address)[0] + ".json"


def serve(address: str, modules: list[str], keep: float = 0, identity: str = "") -> None:
    signal.signal(signal.SIGTERM, _terminate)  # stopped (by its command, or by hand): it still removes its socket
    try:
        _serve(address, modules, keep, identity)
    except _Terminated:
        return
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _leave(address, keep)
    while _CHILDREN:  # kernels still running end with the processes that asked for them
        time.sleep(0.1)
        _reap(None, None)


def _leave(address: str, keep: float = 0) -> None:
    """Remove this fork server's socket and record (unless another fork server has taken them), and
    its folder if nothing else is left in it."""
    record = record_path(address)
    try:
        with open(record, encoding="utf-8") as fh:
            mine = json.load(fh).get("pid") == os.getpid()
    except FileNotFoundError:
        mine = not keep  # a fork server of one command has no record; a kept one without one never listened
    except (OSError, ValueError, AttributeError):
        mine = False
    if mine:
        for path in (record, address):
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            os.rmdir(os.path.dirname(address))  # only if empty: another fork server may use it
        except OSError:
            pass


def private_folder(folder: str) -> bool:
    """True when ``folder`` is a folder (not a link) of this user that no one else may enter: only then
    may a socket in it be trusted, and kernels asked of it."""
    import stat

    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def _listen(address: str) -> socket.socket | None:
    """The listening socket at ``address``; None if another fork server already listens there (two
    commands started one at the same moment: the other one serves)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address)
    except OSError:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(address)
                listener.close()
                return None
            except (ConnectionRefusedError, FileNotFoundError):  # a socket left by a fork server that was killed
                try:
                    os.unlink(address)
                except FileNotFoundError:
                    pass
            except OSError:  # it listens, but is slow to answer
                listener.close()
                return None
        listener.bind(address)
    listener.listen(16)
    return listener


def _read_request(conn: socket.socket) -> dict | None:
    conn.settimeout(10)
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    try:
        request = json.loads(data)
    except ValueError:
        return None  # a probe, or nothing that makes sense
    return request if isinstance(request, dict) else None


def _serve(address: str, modules: list[str], keep: float = 0, identity: str = "") -> None:
    parent = os.getppid()
    for name in modules:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a module that cannot be imported is imported by the chapter, or fails there
            pass
    # what the kernels inherit, left out of their garbage collections (as Python's documentation of
    # gc.freeze advises for a process that forks without exec): each collection in a kernel visited
    # every object of the imported packages again, about 0.1 s of a chapter
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, _reap)
    folder = os.path.dirname(address)
    if keep:  # the folder may have gone with the last fork server that used it
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        if not private_folder(folder):
            return  # a folder others may enter (or a link): not trusted with a socket
    listener = _listen(address)
    if listener is None:
        return
    if keep:
        text = json.dumps({"pid": os.getpid(), "identity": identity})
        tmp = os.path.join(folder, f".record.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, record_path(address))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    checkout = os.path.join(os.getcwd(), "methods")
    last = time.monotonic()

    def wanted() -> bool:
        nonlocal last
        if not keep:
            return os.getppid() == parent  # the process that started it is alive
        if _CHILDREN:  # idle from when its last kernel ended
            last = time.monotonic()
            return True
        return time.monotonic() - last < keep and os.path.isdir(checkout)

    blocked = {signal.SIGCHLD, signal.SIGTERM}
    while wanted():
        try:
            ready, _, _ = select.select([listener], [], [], 1.0)
        except InterruptedError:
            continue
        if not ready:
            continue
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        with conn:  # a connection without a request (a probe) is no activity
            try:
                if peer_uid(conn) != os.getuid():
                    continue  # only the user's own processes (the folder already keeps others out)
                request = _read_request(conn)
            except OSError:
                continue
            if request is None:
                continue
            if request.get("exit"):
                break
            if request.get("retire"):
                keep = min(keep, RETIRE_SECONDS) if keep else keep
                continue
            if keep and not isinstance(request.get("client_pid"), int):
                continue  # a kernel that would not end with its client would keep a kept server forever
            # neither its end reaped before it is counted as running, nor the fork server's handler
            # of SIGTERM run in the child
            signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
            pid = os.fork()
            if pid == 0:  # the kernel
                code = 1
                try:
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
                    listener.close()
                    conn.close()
                    # the kernel ends if the fork server does, and when the process that asked for it does
                    arguments = [*request["arguments"], f"--IPKernelApp.parent_handle={os.getppid()}"]
                    kernel_main(request["connection_file"], arguments, request["cwd"], request["env"],
                                request.get("log_file"), request.get("client_pid"))
                    code = 0
                except BaseException:  # noqa: BLE001 - written to the kernel's log
                    import traceback

                    traceback.print_exc()
                finally:
                    os._exit(code)
            _CHILDREN.add(pid)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
            try:
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            except OSError:  # the process that asked is gone: so is the kernel
                os.kill(pid, signal.SIGKILL)
            last = time.monotonic()
    listener.close()


def main(argv: list[str]) -> None:
    address, *rest = argv
    keep = 0.0
    if rest[:1] == ["--keep"]:
        keep, rest = float(rest[1]), rest[2:]
    serve(address, rest, keep, os.environ.get(IDENTITY_VARIABLE, ""))


if __name__ == "__main__":
    main(sys.argv[1:])
