"""The warm engine's fork server: ``python -m methods.build.zygote SOCKET MODULE ...``.

It imports the modules it is given (the chapters' packages and the model), then waits on a Unix
socket. Each request — one line of JSON naming a kernel's connection file, arguments, working
folder, environment and log — is answered by forking a child that becomes that kernel, and the
child's process id. It imports nothing else and runs nothing of a chapter: every kernel starts from
the same state. It reaps its children as they end, and ends when the process that started it ends.

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


def _reap(_signum, _frame) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def kernel_main(connection_file: str, arguments: list[str], cwd: str, env: dict, log_file: str | None) -> None:
    """The body of a forked kernel: a process of its own, as a cold kernel would be."""
    os.setsid()  # its own process group: signals to the kernel never reach the fork server
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


def serve(address: str, modules: list[str]) -> None:
    try:
        _serve(address, modules)
    finally:  # its socket and folder go with it
        try:
            os.unlink(address)
            os.rmdir(os.path.dirname(address))
        except OSError:
            pass


def _serve(address: str, modules: list[str]) -> None:
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
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(8)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while os.getppid() == parent:  # the process that started it is alive
        try:
            ready, _, _ = select.select([listener], [], [], 1.0)
        except InterruptedError:
            continue
        if not ready:
            continue
        conn, _ = listener.accept()
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
            pid = os.fork()
            if pid == 0:  # the kernel
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                listener.close()
                conn.close()
                code = 0
                try:
                    # the kernel ends if the fork server does (which ends when its worker does), as a cold
                    # kernel ends with the worker that started it
                    arguments = [*request["arguments"], f"--IPKernelApp.parent_handle={os.getppid()}"]
                    kernel_main(request["connection_file"], arguments, request["cwd"], request["env"],
                                request.get("log_file"))
                except BaseException:  # noqa: BLE001 - written to the kernel's log
                    import traceback

                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    listener.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
