"""Warm kernels: each chapter in a fresh process that starts with its imports already done.

A cold kernel is a new Python process that starts, then imports numpy, pandas, matplotlib, IPython
and the model before the chapter's first line runs: about as long as the chapter itself. The
``warm`` engine (the default; ``iff run --engine cold`` keeps the plain path) starts a *fork server*
(:mod:`methods.build.zygote`) that imports the chapters' packages and the model
(:func:`~methods.build.forkserver.preload_modules`), and forks every chapter's kernel from it: one
per checkout, started by the first `iff` command that needs it and kept for the next ones, which
then wait for no imports at all (ten minutes without a kernel and it ends; ``IFF_KEEP_WARM`` sets
the time, 0 makes each command start its own and stop it as it ends), used by all of a command's
workers (:mod:`methods.build.forkserver`). papermill still
executes the chapter, with its parameters, through nbclient; only the kernel it talks to is
started this way (:class:`WarmKernelManager`, given to nbclient as its kernel manager class).

Each chapter still runs in a process of its own, started from the same clean state: the fork
server imports modules and fills a few caches (:mod:`methods.build.preload`), then leaves what it
holds out of its kernels' garbage collections (``gc.freeze``), and nothing else (it
never creates a shell, a figure of pyplot's or a random draw), so no variable, random state,
matplotlib setting, glued value or environment variable of one chapter can reach the next; the
kernel's environment, time zone and working folder are the ones papermill asks for, and its random
generators are seeded afresh, as a new process's are. What differs from a cold kernel, and does not
reach a chapter's results: the modules were imported in the fork server's environment (matplotlib
read its configuration folder there; a fork server started in another environment is replaced), the
hash seed of strings is the fork server's, the kernel is a child of the fork server rather than of
the worker (it ends when the worker ends, as a cold kernel would, and when the fork server ends),
and its output streams do not wait for the output thread when flushed with nothing to send
(:mod:`methods.build.preload`; the outputs come in the same order). The tests check the isolation
(``tests/test_kernels.py``) and that the warm and the cold engine give the same chapters.
"""
from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import DottedObjectName, Type

from .forkserver import INLINE_BACKEND, fork_server

ENGINES = ("warm", "cold")


class ForkedKernel:
    """The handle of a forked kernel, with the methods of :class:`subprocess.Popen` that
    jupyter_client's local provisioner uses. It holds a pidfd of the kernel (the fork server, not
    this process, is its parent and reaps it), so that a process id used again by another process is
    never mistaken for the kernel. The exit status is not known here: an ended kernel reports 0."""

    stdin = stdout = stderr = None  # the kernel talks over its sockets only

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone
            self._fd = None
            self.returncode = 0

    def _ended(self, timeout: float = 0.0) -> bool:
        import select

        if self._fd is None:
            return True
        if select.select([self._fd], [], [], timeout)[0]:
            os.close(self._fd)
            self._fd = None
            self.returncode = 0
            return True
        return False

    def poll(self):
        self._ended()
        return self.returncode

    def wait(self, timeout=None):
        if not self._ended(timeout if timeout is not None else None):
            if timeout is not None:
                raise subprocess.TimeoutExpired("kernel", timeout)
        return self.returncode

    def send_signal(self, signum):
        if self._fd is not None:
            try:
                signal.pidfd_send_signal(self._fd, signum)
            except ProcessLookupError:
                pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class WarmProvisioner(LocalProvisioner):
    """Launches the kernel by forking it from the fork server instead of starting a new Python
    (the fork server's modules and the kernel's log come from its :class:`WarmKernelManager`)."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        if "ipykernel_launcher" not in cmd:  # another kind of kernel: started as usual
            return await super().launch_kernel(cmd, **kwargs)
        arguments = list(cmd[cmd.index("ipykernel_launcher") + 1:])
        if "-f" in arguments:  # the connection file is given first, below
            i = arguments.index("-f")
            del arguments[i:i + 2]
        cwd = str(kwargs.get("cwd") or Path.cwd())
        env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        env.setdefault("MPLBACKEND", INLINE_BACKEND)
        pid = fork_server(self.parent.preload).fork({
            "connection_file": self.parent.connection_file, "arguments": arguments, "cwd": cwd, "env": env,
            "log_file": self.parent.log_file})
        self.process = ForkedKernel(pid)
        self.pid = pid
        self.pgid = None  # signals go to the kernel through its pidfd, never to a process group by number
        self.cwd = cwd
        return self.connection_info

    async def wait(self):
        """Wait for the kernel to end, polling every few milliseconds (the local provisioner polls
        every 100 ms: a tenth of a second lost per chapter)."""
        if not isinstance(self.process, ForkedKernel):
            return await super().wait()
        import asyncio

        while self.process.poll() is None:
            await asyncio.sleep(0.005)
        ret = self.process.returncode
        self.process = None
        return ret


class WarmKernelClient(AsyncKernelClient):
    """nbclient's kernel client for a warm kernel: ready as soon as the kernel has answered.

    jupyter_client's client, once the kernel has answered ``kernel_info`` and IOPub has delivered
    a message, waits until IOPub has been quiet for 0.2 s, to drop the statuses of its requests:
    0.2 s of every chapter spent waiting. nbclient reads only the messages whose parent is the
    request of the cell it executes, so those statuses need no waiting for: what IOPub holds is
    dropped, and the chapter starts.

    Its sockets try again every 5 ms to connect to a kernel that is not listening yet, instead of
    every 100 ms (ZeroMQ's default): they are connected as the kernel is forked, before it has
    opened its ports, and a chapter waited for the next attempt (about 0.1 s of most chapters)."""

    RECONNECT_MS = 5

    def _context_default(self):
        import zmq

        context = super()._context_default()
        context.setsockopt(zmq.RECONNECT_IVL, self.RECONNECT_MS)  # the default of the sockets it makes
        return context

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        import time
        from queue import Empty

        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:  # IOPub is connected once it delivers something (the status of this request)
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break


class WarmKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with its kernel forked from the fork server."""

    preload: list[str] = []  # the modules of the fork server
    log_file: str | None = None  # where the kernel's low-level output (its stderr) goes
    client_class = DottedObjectName("methods.build.kernels.WarmKernelClient")
    client_factory = Type(WarmKernelClient, klass=AsyncKernelClient)

    async def _async_wait(self, pollinterval: float = 0.005) -> None:
        # after killing the kernel jupyter_client looks every 0.1 s whether it has ended: a forked
        # kernel ends within milliseconds
        await super()._async_wait(pollinterval=min(pollinterval, 0.005))

    async def _async_pre_start_kernel(self, **kw):
        self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
        if self.provisioner is None:
            self.provisioner = WarmProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


def warm_manager(preload: list[str], log_file: str | None = None) -> type[WarmKernelManager]:
    """The kernel manager class for one chapter: its kernel forked from a fork server preloaded
    with ``preload``, its low-level output going to ``log_file``."""
    return type("ChapterKernelManager", (WarmKernelManager,), {"preload": list(preload), "log_file": log_file})
