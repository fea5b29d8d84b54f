"""The warm engine's fork server: ``python -m methods.build.zygote SOCKET MODULE ...``.

It imports the modules it is given (the chapters' packages and the model), then waits on a Unix
socket. Each request — one line of JSON naming a kernel's connection file, arguments, working
folder, environment and log — is answered by forking a child that becomes that kernel, and the
child's process id. It imports nothing else and runs nothing of a chapter: every kernel starts from
the same state. It reaps its children as they end. A kernel ends when the process that asked for it
(``client_pid`` in the request: the worker running its chapter) ends.

It ends when the process that started it ends; or, started with ``--keep SECONDS IDENTITY`` (a
*kept* fork server, :class:`methods.build.forkserver.KeptForkServer`), it outlives that process, for
the next ``iff`` command of the same checkout, and ends once it has had no kernel running and no
request for ``SECONDS``, when its checkout's ``methods`` folder is gone, or when asked to (a request
``{"exit": true}``: a command that needs other modules or newer code replaces it). It then writes
``IDENTITY`` and its process id to the file ``identity`` beside its socket, once it listens.

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
import sys
import time

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


def _end_with(pid: int) -> None:
    """End this kernel when process ``pid`` (the one that asked for it) ends, as a cold kernel's
    process ends with the worker that started it."""
    import threading

    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        return

    def watch():
        select.select([fd], [], [])
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


def serve(address: str, modules: list[str], keep: float = 0, identity: str = "") -> None:
    replaced = False
    signal.signal(signal.SIGTERM, _terminate)  # stopped (by its command, or by hand): it still removes its socket
    try:
        replaced = _serve(address, modules, keep, identity)
    except _Terminated:
        return
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _leave(address, keep, replaced)
    while _CHILDREN:  # kernels still running end with the processes that asked for them
        time.sleep(0.1)
        _reap(None, None)


def _leave(address: str, keep: float, replaced: bool = False) -> None:
    """Remove this fork server's socket, identity and folder (unless a newer fork server has taken
    them; the folder stays if one is about to: it was asked to end by the command starting it)."""
    folder = os.path.dirname(address)
    try:
        with open(os.path.join(folder, "identity"), encoding="utf-8") as fh:
            mine = json.load(fh).get("pid") == os.getpid()
    except (OSError, ValueError, AttributeError):
        mine = not keep
    if mine:
        for path in (os.path.join(folder, "identity"), address):
            try:
                os.unlink(path)
            except OSError:
                pass
        if not replaced:
            try:
                os.rmdir(folder)
            except OSError:
                pass


def _listen(address: str) -> socket.socket | None:
    """The listening socket at ``address``; None if another fork server already listens there (two
    commands started one at the same moment: the other one serves)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address)
    except OSError:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address)
                listener.close()
                return None
            except OSError:  # a socket left by a fork server that was killed
                os.unlink(address)
        listener.bind(address)
    listener.listen(8)
    return listener


def _serve(address: str, modules: list[str], keep: float = 0, identity: str = "") -> bool:
    """Serve until no longer wanted; True when asked to end (a newer fork server replaces it)."""
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
    if keep:  # the folder of a fork server just replaced may have gone with it
        try:
            os.mkdir(os.path.dirname(address), 0o700)
        except FileExistsError:
            pass
        info = os.lstat(os.path.dirname(address))
        if info.st_uid != os.getuid() or info.st_mode & 0o077 or not os.path.isdir(os.path.dirname(address)):
            return True  # a folder others may enter (or a link): not trusted with a socket
    listener = _listen(address)
    if listener is None:
        return True
    if keep:
        checkout = os.path.join(os.getcwd(), "methods")
        text = json.dumps({"pid": os.getpid(), "identity": identity})
        tmp = os.path.join(os.path.dirname(address), f".identity.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, os.path.join(os.path.dirname(address), "identity"))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    last = time.monotonic()

    def wanted() -> bool:
        nonlocal last
        if not keep:
            return os.getppid() == parent  # the process that started it is alive
        if _CHILDREN:  # idle from when its last kernel ended
            last = time.monotonic()
            return True
        return time.monotonic() - last < keep and os.path.isdir(checkout)

    while wanted():
        try:
            ready, _, _ = select.select([listener], [], [], 1.0)
        except InterruptedError:
            continue
        if not ready:
            continue
        conn, _ = listener.accept()  # a connection without a request (a probe) is no activity
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            try:
                request = json.loads(data)
            except ValueError:
                continue
            if not isinstance(request, dict):
                continue
            if request.get("exit"):
                listener.close()
                return True
            # its end is not reaped before it is counted as running
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            pid = os.fork()
            if pid == 0:  # the kernel
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                listener.close()
                conn.close()
                code = 0
                try:
                    # the kernel ends if the fork server does, and when the process that asked for it does
                    arguments = [*request["arguments"], f"--IPKernelApp.parent_handle={os.getppid()}"]
                    kernel_main(request["connection_file"], arguments, request["cwd"], request["env"],
                                request.get("log_file"), request.get("client_pid"))
                except BaseException:  # noqa: BLE001 - written to the kernel's log
                    import traceback

                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            _CHILDREN.add(pid)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            last = time.monotonic()
    listener.close()
    return False


def main(argv: list[str]) -> None:
    address, *rest = argv
    keep, identity = 0.0, ""
    if rest[:1] == ["--keep"]:
        keep, identity, rest = float(rest[1]), rest[2], rest[3:]
    serve(address, rest, keep, identity)


if __name__ == "__main__":
    main(sys.argv[1:])
