"""The warm engine: chapters' kernels forked from a fork server that has imported their packages.

Every chapter must still run in a fresh process with a fresh namespace: nothing of one chapter —
variables, random state, matplotlib settings, glued values, environment variables — may reach the
next, and a chapter executed warm must be the chapter executed cold.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, copy_repo, run_iff

pytestmark = pytest.mark.slow

LEAKY = """
import os, random
import numpy as np
import matplotlib
import matplotlib.pyplot as plt
from myst_nb import glue
LEFT_BEHIND = "a variable of the first chapter"
os.environ["IFF_LEFT_BEHIND"] = "an environment variable of the first chapter"
matplotlib.rcParams["lines.linewidth"] = 9.0
np.random.seed(12345)
random.seed(12345)
glue("first_only", "glued by the first chapter", display=False)
fig, ax = plt.subplots()
ax.plot([0, 1], [0, 1])
display(fig)
print(json.dumps({"pid": os.getpid(), "np": np.random.random(), "py": random.random()}))
"""
PROBE = """
import os, random
import numpy as np
import matplotlib
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
display(fig)
print(json.dumps({"pid": os.getpid(), "leaked_variable": "LEFT_BEHIND" in globals(),
                  "leaked_environment": "IFF_LEFT_BEHIND" in os.environ,
                  "linewidth": matplotlib.rcParams["lines.linewidth"],
                  "np": np.random.random(), "py": random.random(),
                  "cwd": os.getcwd(), "parameter": parameter}))
"""


def _notebook(source: str, parameters: bool = False):
    cells = [nbformat.v4.new_code_cell("import json\nparameter = 'default'", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(source)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


def _execute(nb, out, cwd, **parameters):
    import papermill as pm

    from methods.build.forkserver import preload_modules
    from methods.build.kernels import warm_manager

    pm.execute_notebook(nb, str(out), parameters=parameters, cwd=str(cwd), kernel_name="python3", progress_bar=False,
                        request_save_on_cell_execute=False, shutdown_kernel="immediate",
                        kernel_manager_class=warm_manager(preload_modules(["methods.model.chapter.figures"])))
    done = nbformat.read(str(out), as_version=4)
    streams = [o["text"] for c in done.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    kinds = {k for c in done.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    return json.loads(streams[-1]), kinds, done


def test_nothing_of_one_chapter_reaches_the_next(tmp_path):
    """Two notebooks through the same fork server, one after the other."""
    first, kinds_first, done_first = _execute(_notebook(LEAKY), tmp_path / "first.ipynb", REPO)
    second, kinds_second, done_second = _execute(_notebook(PROBE), tmp_path / "second.ipynb", tmp_path,
                                                 parameter="given by papermill")
    assert first["pid"] != second["pid"] != os.getpid()  # a fresh process for each
    assert not second["leaked_variable"] and not second["leaked_environment"]
    assert second["linewidth"] == 1.5  # matplotlib's default, not the first chapter's setting
    assert (second["np"], second["py"]) != (first["np"], first["py"])  # random state not inherited
    assert second["cwd"] == str(tmp_path) and second["parameter"] == "given by papermill"
    # figures are displayed as figures (the inline backend works in a forked kernel)
    assert "image/png" in kinds_first | kinds_second or "image/svg+xml" in kinds_first | kinds_second
    glued = [o for c in done_second.cells for o in c.get("outputs", [])
             if "application/papermill.record/text/plain" in o.get("data", {})]
    assert not glued  # the first chapter's glued value is not in the second's outputs
    assert any("application/papermill.record/text/plain" in o.get("data", {})
               for c in done_first.cells for o in c.get("outputs", []))


ORDERED = """
import sys
from IPython.display import Markdown, display
print("one", end="")  # not sent yet: no newline, and no flush asked for
display(Markdown("two"))
sys.stderr.write("three")
display(Markdown("four"))
display(Markdown("five"))  # nothing written in between: the streams hold nothing to flush
print("six")
display(Markdown("seven"))
print(json.dumps({"streams_skip_the_wait": sys.stdout.flush.__name__ == "flush_what_it_holds"}))
"""


def _outputs_in_order(nb) -> list[str]:
    return [o.get("text") or o["data"]["text/markdown"] for o in nb.cells[1].outputs][:-1]


def test_text_written_before_a_display_comes_before_it_as_in_a_cold_kernel(tmp_path):
    """A warm kernel's output streams return at once from a flush when they hold nothing, and still
    send what they hold first: the outputs come in the order they were made, as in a cold kernel."""
    import papermill as pm

    probe, _kinds, warm = _execute(_notebook(ORDERED), tmp_path / "warm.ipynb", tmp_path)
    assert probe["streams_skip_the_wait"]
    cold = pm.execute_notebook(_notebook(ORDERED), str(tmp_path / "cold.ipynb"), kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path))
    assert _outputs_in_order(warm) == _outputs_in_order(cold) == ["one", "two", "three", "four", "five", "six\n", "seven"]
    assert not json.loads(cold.cells[1].outputs[-1]["text"])["streams_skip_the_wait"]


GC_PROBE = """
import gc, weakref

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle the chapter makes and drops
alive = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({"frozen": gc.get_freeze_count(), "enabled": gc.isenabled(), "cycle_freed": alive() is None}))
"""


def test_a_warm_kernel_leaves_what_it_inherited_out_of_its_garbage_collections(tmp_path):
    """The fork server freezes what it imported (gc.freeze): a kernel's collections do not visit the
    packages' objects again, and still free what the chapter itself leaves behind."""
    result, _, _ = _execute(_notebook(GC_PROBE), tmp_path / "gc.ipynb", tmp_path)
    assert result["frozen"] > 50_000  # numpy, pandas, matplotlib, IPython and the model, imported by the server
    assert result["enabled"] and result["cycle_freed"]


def test_the_warm_client_tries_again_soon_to_reach_a_kernel_still_starting():
    """Its sockets connect before the forked kernel listens; they try again every few milliseconds,
    not every 100 ms (ZeroMQ's default)."""
    import zmq

    from methods.build.kernels import WarmKernelClient

    client = WarmKernelClient()
    sock = client.context.socket(zmq.DEALER)
    try:
        assert sock.getsockopt(zmq.RECONNECT_IVL) == WarmKernelClient.RECONNECT_MS < 100
    finally:
        sock.close(0)
        client.context.term()


def test_the_code_fingerprint_is_each_module_file_found_without_importing_it(tmp_path):
    """A fork server is replaced when a module it imported changed: the fingerprint names each of
    the package's modules with its file's time and size (a package by its __init__.py), leaves out
    other packages and names that are no module, and imports nothing to find them."""
    import subprocess

    probe = ("import json, sys\nfrom methods.build.forkserver import code_fingerprint\n"
             "fp = code_fingerprint(['methods.model.drugs', 'methods.model.drugs.chain', 'numpy', 'methods.model.nothing'])\n"
             "print(json.dumps([fp, 'methods.model.drugs' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout
    fingerprint, imported = json.loads(out)
    assert not imported
    expected = []
    for name, file in (("methods.model.drugs", "methods/model/drugs/__init__.py"),
                       ("methods.model.drugs.chain", "methods/model/drugs/chain.py")):
        info = (REPO / file).stat()
        expected.append(f"{name}:{info.st_mtime_ns}:{info.st_size}")
    assert fingerprint == "|".join(expected)


def test_a_forked_worker_starts_its_own_fork_server():
    """A process forked from one that has a fork server starts its own (it could not use its
    parent's), and a fork server ends with the process that started it."""
    from methods.build.forkserver import fork_server

    parent = fork_server(["json"])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            child = fork_server(["json"])
            os.write(w, str(child.process.pid).encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    child_server = int(os.read(r, 64))
    assert child_server != parent.process.pid
    import time

    for _ in range(100):  # the child's fork server notices that its parent is gone
        try:
            os.kill(child_server, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the fork server outlived the process that started it")


def test_a_chapter_executed_warm_is_the_chapter_executed_cold(tmp_path):
    """Same seed, same inputs: the warm and the cold engine give identical results, byte for byte,
    and the same outputs in the executed notebook (figures included)."""
    out = {}
    for engine in ("cold", "warm"):
        root = copy_repo(tmp_path / engine, countries=["XRU"])
        result = run_iff("run", "--engine", engine, "--draws", "300", "--market", "drugs", cwd=root)
        assert result.returncode == 0, result.stderr
        folder = root / "book" / "countries" / "XRU"
        nb = nbformat.read(str(folder / "drugs.ipynb"), as_version=4)
        kinds = sorted(k for c in nb.cells for o in c.get("outputs", []) for k in o.get("data", {}))
        svgs = [o["data"]["image/svg+xml"] for c in nb.cells for o in c.get("outputs", [])
                if "image/svg+xml" in o.get("data", {})]
        out[engine] = ((folder / "drugs.summary.csv").read_bytes(), (folder / "drugs.flows.csv").read_bytes(),
                       (folder / "drugs.partners.csv").read_bytes(), kinds, svgs)
    assert out["warm"][:3] == out["cold"][:3]
    assert out["warm"][3] == out["cold"][3] and "image/svg+xml" in out["warm"][3]
    # the figures too, byte for byte: they carry no date (the same chapter gives the same figures)
    assert out["warm"][4] and out["warm"][4] == out["cold"][4]
    assert not any("<dc:date>" in svg for svg in out["warm"][4])


def _in_worker(shared, source: str, out: str, cwd: str):
    """A worker process of a run: it adopts the fork server its parent started, then executes."""
    from methods.build.forkserver import adopt, preload_modules

    adopt(shared, preload_modules(["methods.model.chapter.figures"]))
    result, _kinds, _nb = _execute(_notebook(source), out, cwd)
    return result, os.getpid()


def test_the_workers_of_a_run_fork_their_kernels_from_the_server_started_before_planning(tmp_path):
    """`iff build` starts the fork server before it plans the run (:class:`EarlyStart`); its
    workers use it instead of starting their own, and each chapter is still a fresh process."""
    from concurrent.futures import ProcessPoolExecutor

    from methods.build.forkserver import close_fork_server, fork_server, preload_modules

    server = fork_server(preload_modules(["methods.model.chapter.figures"]))
    try:
        with ProcessPoolExecutor(max_workers=2) as pool:
            with_parent = '"pid": os.getpid(), "ppid": os.getppid(),'  # the kernel's parent process
            first = pool.submit(_in_worker, server.shared(), LEAKY.replace('"pid": os.getpid(),', with_parent),
                                str(tmp_path / "first.ipynb"), str(REPO)).result()
            second = pool.submit(_in_worker, server.shared(), PROBE.replace('"pid": os.getpid(),', with_parent),
                                 str(tmp_path / "second.ipynb"), str(tmp_path)).result()
    finally:
        close_fork_server(server)
    assert first[0]["ppid"] == second[0]["ppid"] == server.process.pid  # forked by the shared server
    probe = second[0]
    assert not probe["leaked_variable"] and not probe["leaked_environment"] and probe["linewidth"] == 1.5
    assert probe["cwd"] == str(tmp_path)


def test_the_command_starts_the_last_runs_fork_server_first_and_the_run_takes_it(tmp_path):
    """A run records its fork server's modules in _build/; the next `iff run` or `iff build` starts a
    fork server with them before it imports anything else, and the run uses that one (no second
    fork server). If the run needs other modules, the early one is stopped."""
    from methods.build import forkserver
    from methods.build.project import Project
    from methods.build.runner import EarlyStart

    project = Project(copy_repo(tmp_path / "repo", countries=["XRU"]))
    first = EarlyStart(project)
    first.close()
    record = project.build_dir / forkserver.EARLY_FILE
    assert json.loads(record.read_text()) == forkserver.preload_modules(list(first.preload))
    early = forkserver.start_early(project.build_dir)
    assert early is not None
    run = EarlyStart(project)
    try:
        assert run.server is early and early.alive()
    finally:
        run.close()
    record.write_text(json.dumps(forkserver.preload_modules(["methods.model.errors"])))  # another run's modules
    other = forkserver.start_early(project.build_dir)
    assert other is not None
    run = EarlyStart(project)
    try:
        assert run.server is not other and run.server.alive() and not other.alive()
    finally:
        run.close()
    assert json.loads(record.read_text()) == forkserver.preload_modules(list(first.preload))


@pytest.mark.parametrize("record", ['["antigravity"]', '{"numpy": 1}', "not json", '["numpy", "os.system"]',
                                    '["numpy", "pandas"]', "[1, 2]"])
def test_a_record_of_modules_it_could_not_have_written_starts_no_fork_server(tmp_path, record):
    """The record is a file in _build/: anything but a list of the chapters' packages and the
    handbook's own modules, in the order the runner writes them, is ignored."""
    from methods.build import forkserver

    (tmp_path / forkserver.EARLY_FILE).write_text(record)
    assert forkserver.start_early(tmp_path) is None


def test_a_worker_whose_shared_fork_server_is_gone_says_so():
    """A fork server that died before answering: the kernel start fails the way a kernel that did
    not start fails (the runner tries again), never hangs."""
    import subprocess

    from methods.build.forkserver import AdoptedForkServer

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    server = AdoptedForkServer("/nonexistent/socket", gone.pid, "")
    with pytest.raises(RuntimeError, match="Kernel died before replying to kernel_info"):
        server.fork({})


GLUED = """
import numpy as np
from myst_nb import glue
from methods.model.chapter.tables import plain
VALUES = {"value_2019": np.float64(1.5e6) / 1e6, "count": np.int64(7), "whole": 12, "text": "Perú: 1,5 – ñ",
          "missing": float("nan"), "large": 123456789.123, "minus_zero": -0.0, "tiny": np.float32(1e-30),
          "year": "2019", "share__es": 0.1 + 0.2}
"""


def test_values_glued_together_are_the_outputs_glue_makes_one_by_one(tmp_path):
    """``glue_values`` sends many glued values as one output; once the runner has expanded it, the
    cell's outputs are, in order, the ones ``myst_nb.glue(name, value, display=False)`` makes."""
    from methods.model.chapter.languages import GLUED_MIME, expand_glued

    cells = [nbformat.v4.new_code_cell(GLUED),
             nbformat.v4.new_code_cell("for name, value in VALUES.items():\n    glue(name, plain(value), display=False)"),
             nbformat.v4.new_code_cell("from methods.model.chapter.languages import glue_values\nglue_values(VALUES)"),
             nbformat.v4.new_code_cell("glue_values({})")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    import papermill as pm

    pm.execute_notebook(nb, str(tmp_path / "glued.ipynb"), cwd=str(REPO), kernel_name="python3", progress_bar=False)
    done = nbformat.read(str(tmp_path / "glued.ipynb"), as_version=4)
    one_by_one, together, nothing = done.cells[1].outputs, done.cells[2].outputs, done.cells[3].outputs
    assert len(one_by_one) == 10 and len(together) == 1 and GLUED_MIME in together[0]["data"]
    assert nothing == []  # nothing to glue: no output
    expanded = expand_glued(done)
    assert [dict(o) for o in expanded.cells[2].outputs] == [dict(o) for o in one_by_one]
    assert expanded.cells[1].outputs == one_by_one  # outputs of glue itself are left as they are
    assert [o["metadata"]["scrapbook"]["name"] for o in expanded.cells[2].outputs][-1] == "share__es"
    assert expanded.cells[2].outputs[0]["data"] == {"application/papermill.record/text/plain": "1.5"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a process that ended but was not yet reaped by its parent
        return open(f"/proc/{pid}/stat").read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _wait_until(condition, seconds: float = 15) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def short_tmp():
    """A temporary folder directly in /tmp: a Unix socket's name must be short, and tmp_path is deep."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="iffk", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _kept_server(root) -> int:
    """The process id of ``root``'s kept fork server started last, from its record (0: none)."""
    from methods.build.forkserver import kept_folder

    records = sorted(Path(kept_folder(root)).glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    try:
        return json.loads(records[-1].read_text())["pid"] if records else 0
    except (OSError, ValueError):
        return 0


def _kernels_reaped(pid: int) -> int:
    """How much work the children process ``pid`` has reaped did (their minor page faults, which
    the kernel adds to the parent's count as it reaps each child): it grows with every kernel
    forked from that fork server."""
    return int(open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()[8])


def test_a_kept_fork_server_serves_the_next_command_and_ends_by_itself(tmp_path):
    """With IFF_KEEP_WARM, the fork server outlives the command that started it: the next command of
    the checkout forks its kernels from it instead of starting another; a command with newer model
    code, or another environment, replaces it; it ends, removing its folder, once it has had nothing
    to do for the seconds given."""
    import subprocess

    from methods.build.forkserver import kept_folder

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    env = dict(os.environ, IFF_KEEP_WARM="120", PYTHONWARNINGS="ignore")

    def iff(*args, **extra):
        result = subprocess.run([sys.executable, "-m", "methods.build.cli", "run", "--force", "--draws", "200", *args],
                                cwd=root, env=dict(env, **extra), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        return result

    first = iff()
    kept = _kept_server(root)
    assert kept and _alive(kept)
    assert oct(os.stat(kept_folder(root)).st_mode & 0o777) == "0o700"  # no one else may use its socket
    before = _kernels_reaped(kept)
    iff()
    assert _kept_server(root) == kept and _alive(kept)  # the same server, still there
    assert _kernels_reaped(kept) > before  # and the second command's kernels were its children
    model = root / "methods" / "model" / "drugs" / "chain.py"
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))
    iff()
    newer = _kept_server(root)
    assert newer and newer != kept and _wait_until(lambda: not _alive(kept))  # newer code: retired, it ended
    iff(IFF_KEEP_WARM="6")  # another environment: another server, which stays six seconds
    short = _kept_server(root)
    assert short not in (0, newer) and _wait_until(lambda: not _alive(newer))
    assert _wait_until(lambda: not _alive(short)) and not Path(kept_folder(root)).exists()
    assert "XRU drugs" in first.stderr


CLIENT = """
import os, sys, time
from jupyter_client.connect import write_connection_file
from methods.build.forkserver import fork_server
server = fork_server(["json"])
connection, _ = write_connection_file(os.path.join(sys.argv[1], "kernel.json"))
print(server.fork({"connection_file": connection, "arguments": [], "cwd": sys.argv[1], "env": dict(os.environ),
                   "log_file": None}), flush=True)
time.sleep(120)
"""


def test_a_kernel_ends_with_the_process_that_asked_for_it(tmp_path):
    """A kept fork server outlives its commands, and so would the kernels forked from it: each kernel
    ends when the process that asked for it (its chapter's worker) ends, here killed at once."""
    import subprocess

    from methods.build.forkserver import kept_folder

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(tmp_path)], cwd=root, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, IFF_KEEP_WARM="30"))
    kernel = int(client.stdout.readline())
    server = _kept_server(root)
    import time

    time.sleep(1)
    assert _alive(kernel) and _alive(server)  # a kernel that started, and runs
    client.kill()
    client.wait()
    assert _wait_until(lambda: not _alive(kernel))
    assert _alive(server)  # the fork server stays for the next command
    import socket

    (address,) = Path(kept_folder(root)).glob("*.sock")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    request = {"connection_file": str(tmp_path / "gone.json"), "arguments": [], "cwd": str(tmp_path), "env": {},
               "log_file": None}
    for ask in ({**request, "client_pid": gone.pid}, request):  # a client gone before the answer; one that names none
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(address))
            conn.sendall(json.dumps(ask).encode() + b"\n")
    time.sleep(0.5)
    assert _alive(server)  # it goes on serving
    assert _wait_until(lambda: not list(Path(f"/proc/{server}/task/{server}").glob("children")) or
                       not open(f"/proc/{server}/task/{server}/children").read().split())  # no kernel left
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(address))
        conn.sendall(b'{"exit": true}\n')
    assert _wait_until(lambda: not _alive(server))


def test_a_kept_fork_server_is_found_by_the_next_process_and_not_trusted_in_a_folder_others_may_enter(
        tmp_path, monkeypatch, short_tmp):
    """The next process finds the running server instead of starting one; one for other modules runs
    beside it, and the first, retired, still answers for a moment (a run using it goes on), then
    ends; a record it cannot read makes it start a new one; a folder that others may enter, or a
    link, is not used (the process starts a fork server of its own)."""
    from methods.build import forkserver

    short = short_tmp
    monkeypatch.setattr(forkserver.tempfile, "tempdir", short)
    monkeypatch.setattr(forkserver, "_checkout", lambda: REPO)
    folder = Path(forkserver.kept_folder(REPO))
    assert str(folder.parent) == short
    servers = []
    try:
        started = forkserver.KeptForkServer.find(["json"], "", 30)
        servers.append(started)
        started._wait_ready()
        found = forkserver.KeptForkServer.find(["json"], "", 30)
        assert found.process is None and found.pid == started.pid  # found, not started
        other = forkserver.KeptForkServer.find(["json", "csv"], "", 30)  # other modules: a server of its own
        servers.append(other)
        other._wait_ready()
        assert other.pid != started.pid and other.address != started.address
        assert _alive(started.pid) and forkserver._answers(started.address)  # retired, not stopped
        assert _wait_until(lambda: not _alive(started.pid))  # it ends shortly after
        Path(forkserver.record_path(other.address)).write_text("not json")
        renewed = forkserver.KeptForkServer.find(["json", "csv"], "", 30)
        servers.append(renewed)
        assert renewed.process is not None  # a record it cannot read: a new server
        renewed._wait_ready()
        assert _wait_until(lambda: not _alive(other.pid))
    finally:
        for server in servers:
            forkserver._tell(server.address, {"exit": True})
        assert _wait_until(lambda: not any(_alive(server.pid) for server in servers))
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)
    assert forkserver.KeptForkServer.find(["json"], "", 30) is None
    folder.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "elsewhere")
    assert forkserver.KeptForkServer.find(["json"], "", 30) is None
    assert not list((tmp_path / "elsewhere").iterdir())
    folder.unlink()
    monkeypatch.setattr(forkserver.tempfile, "tempdir", str(tmp_path / ("deep" * 20)))
    (tmp_path / ("deep" * 20)).mkdir()
    assert forkserver.KeptForkServer.find(["json"], "", 30) is None  # too deep for a socket's name


def test_looking_for_stale_fork_servers_does_not_hang_on_one_that_does_not_answer(tmp_path):
    """A fork server that is stopped (a command suspended with Ctrl-Z) listens but accepts nothing:
    connecting to it waits once its queue is full. The look for stale ones leaves it, and ends."""
    import socket
    import threading

    from methods.build import forkserver

    folder = tmp_path / f"{forkserver.FOLDER_PREFIX}stopped"
    folder.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(folder / "socket"))
    listener.listen(0)
    done = []
    try:
        worker = threading.Thread(target=lambda: done.extend(forkserver.remove_stale_folders(str(tmp_path)) or [True]
                                                             for _ in range(20)), daemon=True)
        worker.start()
        worker.join(60)
        assert done and not worker.is_alive()
        assert (folder / "socket").exists()  # not taken for a dead one
    finally:
        listener.close()
    assert forkserver.remove_stale_folders(str(tmp_path)) == [str(folder / "socket"), str(folder)]


@pytest.mark.parametrize("text", ["abc", "-1", "nan", "1e9", "inf", "<b>1</b>"])
def test_a_keep_time_that_is_not_a_number_of_seconds_is_refused_in_one_line(tmp_path, text):
    from methods.build.forkserver import KEEP_SECONDS, keep_seconds

    with pytest.raises(ValueError):
        keep_seconds(text)
    assert keep_seconds("") == KEEP_SECONDS
    assert keep_seconds("0") == 0 and keep_seconds(" 90 ") == 90
    import subprocess

    result = subprocess.run([sys.executable, "-m", "methods.build.cli", "run"], cwd=REPO, capture_output=True, text=True,
                            env=dict(os.environ, IFF_KEEP_WARM=text))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"iff run: the environment variable IFF_KEEP_WARM must be a number of seconds from 0 "
                                     f"to 86400 (got {text!r}); with 0, the warm engine's fork server ends with each command")


def test_a_kept_fork_server_ends_when_idle_though_other_commands_look_for_it(monkeypatch, short_tmp):
    """Other commands connect to a kept fork server's socket to see whether it listens (and every new
    fork server looks at all of them for stale ones): a connection without a request is no work,
    and the server still ends once idle for its time."""
    import time

    from methods.build import forkserver

    short = short_tmp
    monkeypatch.setattr(forkserver.tempfile, "tempdir", short)
    monkeypatch.setattr(forkserver, "_checkout", lambda: REPO)
    server = forkserver.KeptForkServer.find(["json"], "", 2)
    server._wait_ready()
    address = server.address
    started = time.monotonic()
    while _alive(server.pid) and time.monotonic() - started < 15:
        forkserver._answers(address)
        time.sleep(0.2)
    assert not _alive(server.pid) and time.monotonic() - started < 8
    assert not Path(forkserver.kept_folder(REPO)).exists()
