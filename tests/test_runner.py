"""The runner: skips what is up to date, re-executes only what changed, keeps the last good chapter."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import copy_repo, run_iff

pytestmark = pytest.mark.slow
DRAWS = ("--draws", "300")


def outputs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "book" / "countries").rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A checkout with two fictional countries, both executed once."""
    root = copy_repo(tmp_path_factory.mktemp("runner") / "repo", countries=["XRU"])
    text = (root / "parameters" / "XRU.yml").read_text()
    (root / "parameters" / "XRV.yml").write_text(text.replace("country: XRU", "country: XRV")
                                                  .replace("name: Ruritania (fictional)", "name: Ruritania Two (fictional)"))
    first = run_iff("run", *DRAWS, cwd=root)
    assert first.returncode == 0, first.stderr
    assert "Executing 4 notebooks" in first.stderr
    return root


def test_second_run_executes_nothing(project):
    before = outputs(project)
    again = run_iff("run", *DRAWS, cwd=project)
    assert again.returncode == 0
    assert "All 4 notebooks are up to date; nothing to execute." in again.stderr
    assert outputs(project) == before


def _job(label: str):
    from methods.build.runner import Job

    country, market = label.split()
    return Job(label=label, template="", notebook_path="", input_hash="", root="", log_file="", failed_dir="",
               parameters=(), title=country, iso=country.lower(), country=country, market=market)


def test_the_longest_chapters_are_executed_first():
    """Chapters never timed first (drugs before smuggling), then by their last run's time, longest
    first; ties keep the planned order."""
    from methods.build.runner import longest_first

    jobs = [_job(label) for label in ("AAA smuggling", "BBB drugs", "CCC drugs", "DDD smuggling", "EEE drugs",
                                      "FFF smuggling", "GGG smuggling")]
    seconds = {"AAA smuggling": 0.7, "BBB drugs": 1.1, "CCC drugs": 1.4, "FFF smuggling": 1.1}
    order = [j.label for j in longest_first(jobs, seconds)]
    assert order == ["EEE drugs", "DDD smuggling", "GGG smuggling", "CCC drugs", "BBB drugs", "FFF smuggling",
                     "AAA smuggling"]
    assert [j.label for j in longest_first(jobs, {})] == ["BBB drugs", "CCC drugs", "EEE drugs", "AAA smuggling",
                                                           "DDD smuggling", "FFF smuggling", "GGG smuggling"]


def test_a_run_records_the_time_of_each_chapter_it_executed(project):
    seconds = json.loads((project / "_build" / "logs" / "chapter-seconds.json").read_text())
    assert set(seconds) == {"XRU drugs", "XRU smuggling", "XRV drugs", "XRV smuggling"}
    assert all(isinstance(v, float) and 0 < v < 600 for v in seconds.values())


def test_changing_one_file_reexecutes_only_that_country(project):
    path = project / "parameters" / "XRV.yml"
    path.write_text(path.read_text().replace("values: {2018: 10000, 2019: 12000}", "values: {2018: 10000, 2019: 12500}"))
    xru_before = {k: v for k, v in outputs(project).items() if "/XRU/" in k}
    result = run_iff("run", *DRAWS, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Executing 2 notebooks" in result.stderr and "(2 up to date, skipped)" in result.stderr
    assert "XRV drugs" in result.stderr and "XRV smuggling" in result.stderr and "XRU" not in result.stderr.split("logs in")[1]
    assert {k: v for k, v in outputs(project).items() if "/XRU/" in k} == xru_before
    nb = json.loads((project / "book" / "countries" / "XRV" / "drugs.ipynb").read_text())
    assert nb["metadata"]["iff"]["country"] == "XRV"
    # the chapter carries its country title and hides the parameter cells
    assert "".join(nb["cells"][0]["source"]).startswith("# Ruritania Two \\(fictional\\): drug trafficking")  # escaped Markdown
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])
              or "injected-parameters" in c["metadata"].get("tags", [])]
    assert tagged and all("remove-cell" in c["metadata"]["tags"] for c in tagged)


def test_invalid_file_is_reported_and_chapters_are_untouched(project):
    path = project / "parameters" / "XRV.yml"
    good = path.read_text()
    before = outputs(project)
    try:
        path.write_text(good.replace("value: 0.05\n              year: 2018", "value: 1.5\n              year: 2018"))
        result = run_iff("run", *DRAWS, cwd=project)
        assert result.returncode == 1
        assert "parameters/XRV.yml:" in result.stderr and "losses: a share must lie between 0 and 1 (got 1.5)" in result.stderr
        assert "Traceback" not in result.stderr
        assert outputs(project) == before
    finally:
        path.write_text(good)


def test_failing_notebook_keeps_last_good_chapter(project):
    template = project / "methods" / "model" / "templates" / "drugs.md"
    good = template.read_text()
    before = outputs(project)
    try:
        template.write_text(good.replace("## The value chain\n",
                                         "## The value chain\n\n```{code-cell} python\nraise RuntimeError('boom in the template')\n```\n", 1))
        result = run_iff("run", *DRAWS, "--country", "XRV", "--market", "drugs", cwd=project)
        assert result.returncode == 1
        assert "XRV drugs: cell" in result.stderr and "RuntimeError: boom in the template" in result.stderr
        assert "_build/logs/XRV-drugs.log" in result.stderr
        import nbformat

        kept = nbformat.read(project / "_build" / "failed" / "XRV-drugs.ipynb", 4)  # as papermill made it
        assert any(o.get("evalue") == "boom in the template" for c in kept.cells for o in c.get("outputs", []))
        assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in kept.cells)
        assert outputs(project) == before  # the previous chapter and its results are intact
    finally:
        template.write_text(good)


def test_dask_scheduler_executes_the_notebooks_on_the_cluster(project):
    """`iff run --scheduler ADDRESS` submits the notebooks to an existing Dask cluster (here a
    local one started by the test) and writes the same chapters as local processes do."""
    from distributed import Client, LocalCluster

    chapters = [project / "book" / "countries" / "XRV" / f"{m}.ipynb" for m in ("drugs", "smuggling")]
    before = {p: p.stat().st_mtime_ns for p in chapters}
    xru_before = {k: v for k, v in outputs(project).items() if "/XRU/" in k}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_iff("run", *DRAWS, "--force", "--country", "XRV", "--scheduler", cluster.scheduler_address,
                         cwd=project)
        with Client(cluster.scheduler_address) as client:
            prefixes = client.run_on_scheduler(
                lambda dask_scheduler: {k: dict(v.state_counts) for k, v in dask_scheduler.task_prefixes.items()})
    assert result.returncode == 0, result.stderr
    assert f"Executing 2 notebooks on the Dask cluster at {cluster.scheduler_address}" in result.stderr
    assert prefixes.get("execute_job", {}).get("memory") == 2  # both ran as tasks of the cluster
    assert all(p.stat().st_mtime_ns > before[p] for p in chapters)
    nb = json.loads(chapters[0].read_text())
    assert nb["metadata"]["iff"]["country"] == "XRV"
    assert {k: v for k, v in outputs(project).items() if "/XRU/" in k} == xru_before
    again = run_iff("run", *DRAWS, cwd=project)  # what the cluster wrote counts as up to date
    assert "All 4 notebooks are up to date" in again.stderr


def test_unreachable_scheduler_is_a_clear_error(project):
    result = run_iff("run", *DRAWS, "--force", "--country", "XRV", "--scheduler", "tcp://127.0.0.1:9", cwd=project)
    assert result.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_kernel_that_fails_to_start_is_started_again(project, monkeypatch):
    """Two kernels started at the same moment can pick the same free port, and one dies before it
    answers: nothing was executed, so the runner starts it again (and says so in the log)."""
    import papermill

    from methods.build.project import Project
    from methods.build.runner import execute_job, kernel_failed_to_start, plan

    real = papermill.execute_notebook
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    jobs = plan(Project(project), ["XRV"], ["smuggling"], 300, 1).jobs
    result = execute_job(jobs[0])
    assert result.ok, result.error
    assert len(calls) == 2
    assert "the kernel did not start" in Path(jobs[0].log_file).read_text()
    # a failure inside a cell is not retried
    assert not kernel_failed_to_start(RuntimeError("boom in the template"))
    assert kernel_failed_to_start(RuntimeError("Kernel didn't respond in 60 seconds"))


def _touch(path: Path) -> str:
    """Append a comment to a module (a change that alters its fingerprint); return the old text."""
    old = path.read_text()
    path.write_text(old + "\n# edited by a test\n")
    return old


def test_editing_the_build_layer_reexecutes_no_chapter(project):
    """The pages that put countries side by side, the export and the runner belong to the build layer,
    which no chapter imports: editing them changes nothing a chapter computes."""
    assert run_iff("run", *DRAWS, cwd=project).returncode == 0  # everything up to date first
    for module in ("methods/build/regional.py", "methods/build/export.py", "methods/model/network.py"):
        path = project / module
        old = _touch(path)
        try:
            result = run_iff("run", *DRAWS, cwd=project)
            assert result.returncode == 0, result.stderr
            assert "All 4 notebooks are up to date; nothing to execute." in result.stderr, (module, result.stderr)
        finally:
            path.write_text(old)


def test_editing_a_model_module_reexecutes_the_chapters_that_import_it(project):
    path = project / "methods" / "model" / "smuggling.py"  # imported by both templates, through the results
    assert run_iff("run", *DRAWS, cwd=project).returncode == 0  # everything up to date first
    old = _touch(path)
    try:
        result = run_iff("run", *DRAWS, cwd=project)
        assert result.returncode == 0, result.stderr
        assert "Executing 4 notebooks" in result.stderr
    finally:
        path.write_text(old)
    assert "Executing 4 notebooks" in run_iff("run", *DRAWS, cwd=project).stderr  # and back again


def test_no_chapter_imports_the_build_layer(project):
    from methods.build.project import Project
    from methods.build.runner import chapter_code

    p = Project(project)
    for market in ("drugs", "smuggling"):
        files = chapter_code(p, p.template(market))
        rel = {f.relative_to(project).as_posix() for f in files}
        assert "methods/model/results.py" in rel and "methods/model/params/loading.py" in rel
        assert not any(r.startswith("methods/build/") for r in rel), rel
        assert "methods/model/network.py" not in rel  # the regional network is not a chapter's
    # a template that reached into the build layer would be refused at planning
    template = project / "methods" / "model" / "templates" / "smuggling.md"
    good = template.read_text()
    try:
        template.write_text(good.replace("import numpy as np\n", "import numpy as np\nfrom methods.build import export\n", 1))
        result = run_iff("run", *DRAWS, cwd=project)
        assert result.returncode == 1
        assert "imports methods.build" in result.stderr and "outside the model layer" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        template.write_text(good)


def test_what_a_chapter_imports_follows_the_sources_as_they_are_now(tmp_path):
    """What each source imports is kept between runs (``_build/.imports.json``), keyed by the
    source's text: a module that starts importing another makes that one part of the chapter's
    code at once, and an edit back makes it leave again."""
    from conftest import copy_repo
    from methods.build.project import Project
    from methods.build.runner import chapter_code

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    p = Project(root)

    def code() -> set[str]:
        return {f.relative_to(root).as_posix() for f in chapter_code(p, p.template("smuggling"))}

    before = code()
    assert (root / "_build" / ".imports.json").is_file() and "methods/model/network.py" not in before
    module = root / "methods" / "model" / "smuggling.py"
    original = module.read_text()
    module.write_text(original + "\nfrom . import network  # noqa: E402,F401\n")
    assert code() == before | {"methods/model/network.py"}
    module.write_text(original)
    assert code() == before


def test_a_template_parsed_once_is_the_same_after_its_chapters_ran(tmp_path):
    """A worker parses each template once and gives papermill the same notebook for every country:
    papermill reads it through its text, so executing a chapter leaves it as it was."""
    import nbformat

    from methods.build.project import Project
    from methods.build.runner import _template_notebook, execute_job, plan

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    job = plan(Project(root), ["XRU"], ["smuggling"], 200).jobs[0]
    text = Path(job.template).read_text(encoding="utf-8")
    before = nbformat.writes(_template_notebook(text, Path(job.template).suffix))
    assert execute_job(job).ok
    after = _template_notebook(text, Path(job.template).suffix)
    assert nbformat.writes(after) == before and not any(c.get("outputs") for c in after.cells)


KERNEL_MESSAGES = [
    {"msg_type": "execute_result", "content": {"metadata": {"a": {"b": 1}}, "data": {"text/plain": "3"}, "execution_count": 4}},
    {"msg_type": "display_data", "content": {"metadata": {"iff_lang": "es"}, "data": {"text/html": "<b>x</b>", "text/plain": "x"},
                                             "transient": {}}},
    {"msg_type": "stream", "content": {"name": "stderr", "text": "warning\n"}},
    {"msg_type": "error", "content": {"ename": "KeyError", "evalue": "'x'", "traceback": ["line 1", "line 2"]}},
]


@pytest.mark.parametrize("message", KERNEL_MESSAGES, ids=[m["msg_type"] for m in KERNEL_MESSAGES])
def test_outputs_are_made_from_kernel_messages_as_nbformat_makes_them(message):
    """The runner makes each output from its kernel message without checking it against the schema
    one by one (the notebook is checked when written): the output must be the one nbformat makes."""
    import nbformat

    from methods.build.runner import output_from_msg

    msg = {"header": {"msg_type": message["msg_type"]}, **message}
    ours, theirs = output_from_msg(msg), nbformat.v4.output_from_msg(msg)
    assert ours == theirs and json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)
    # nested mappings are notebook nodes, as nbformat's are (attribute access works on both)
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}


def test_a_message_that_is_no_output_is_refused_as_nbformat_refuses_it():
    import nbformat

    from methods.build.runner import output_from_msg

    msg = {"header": {"msg_type": "status"}, "content": {"execution_state": "idle"}}
    for make in (output_from_msg, nbformat.v4.output_from_msg):
        with pytest.raises(ValueError, match="Unrecognized output msg type: 'status'"):
            make(msg)


def test_workers_make_outputs_with_the_runners_function(monkeypatch):
    import nbclient.client

    from methods.build.runner import _import_execution_modules, output_from_msg

    monkeypatch.setattr(nbclient.client, "output_from_msg", nbclient.client.output_from_msg)  # put back after
    _import_execution_modules()
    assert nbclient.client.output_from_msg is output_from_msg


def test_an_executed_notebook_with_an_invalid_output_is_an_error_not_a_log_line(tmp_path):
    """Outputs are checked when the chapter is written: an invalid one fails the chapter in one line."""
    import nbformat

    from methods.build.runner import InvalidNotebook, write_valid

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell()])
    nb.cells[0].outputs = [nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": 5})]
    with pytest.raises(InvalidNotebook) as caught:
        write_valid(nb, tmp_path / "bad.ipynb")
    assert str(caught.value).startswith("the executed notebook is not valid (cells/0/outputs/0/text): ")
    assert "\n" not in str(caught.value)
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", text="5")])])
    write_valid(good, tmp_path / "good.ipynb")
    assert nbformat.read(tmp_path / "good.ipynb", 4) == good


def _every_kind_of_notebook_content():
    """A notebook with what nbformat's writer changes or leaves out: multiline sources, texts and
    bundles, every kind of output, attachments, transient metadata, non-ASCII text."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    nb = new_notebook(metadata={"signature": "x", "orig_nbformat": 3, "iff": {"language": "es"}}, cells=[
        new_markdown_cell("# Título\n\nDos líneas\r\ny una más", attachments={"a.png": {"image/png": "iVBOR\nw0K"}}),
        new_code_cell("x = 1\ny = 2", metadata={"trusted": True, "tags": ["parameters"]}, execution_count=3, outputs=[
            new_output("stream", name="stdout", text="uno\ndos\n"),
            new_output("display_data", data={"text/html": "<b>a</b>\n<i>b</i>", "image/svg+xml": "<svg>\n</svg>",
                                             "application/json": {"k": [1, "dos\ntres"]}, "text/plain": "a\nb"},
                       metadata={"scrapbook": {"name": "n", "mime_prefix": "application/papermill.record/"}}),
            new_output("execute_result", data={"text/plain": "3"}, execution_count=3),
            new_output("error", ename="ValueError", evalue="mal", traceback=["línea 1", "línea 2"])]),
        new_code_cell("", outputs=[])])
    return nbformat.from_dict(nb)


def test_a_chapter_is_written_as_nbformat_writes_it_without_changing_it(project, tmp_path):
    """The runner's writer (without nbformat's deep copy of the whole notebook) writes the same
    bytes as nbformat, for every kind of content and for the chapters the runner executed, and leaves
    the notebook it is given as it was."""
    import copy

    import nbformat

    from methods.build.runner import notebook_copy, notebook_json, write_valid

    chapters = [nbformat.read(p, 4) for p in sorted((project / "book" / "countries").rglob("*.ipynb"))]
    assert len(chapters) >= 8  # both languages of the two countries' two markets
    for nb in [_every_kind_of_notebook_content(), *chapters]:
        before = copy.deepcopy(nb)
        assert notebook_json(nb) == nbformat.writes(nb)
        assert nb == before
        write_valid(nb, tmp_path / "chapter.ipynb")
        written = tmp_path / "chapter.ipynb"
        nbformat.write(nb, tmp_path / "theirs.ipynb")
        assert written.read_bytes() == (tmp_path / "theirs.ipynb").read_bytes()
        assert nb == before
    # a copy shares no container with its notebook: changing one as the runner does leaves the other
    nb = _every_kind_of_notebook_content()
    before = copy.deepcopy(nb)
    new = notebook_copy(nb)
    assert new == nb
    new.metadata.pop("signature")
    new.cells[1].metadata["tags"].append("remove-cell")
    new.cells[1].outputs[1].metadata["scrapbook"]["name"] = "m"
    new.cells[1].outputs[1].data["text/html"] = ["<b>a</b>\n", "<i>b</i>"]
    new.cells[1].outputs.pop()
    new.cells[0].attachments["a.png"]["image/png"] = "other"
    new.cells[0].source = "otro"
    assert nb == before and new != nb


def test_the_notebook_papermill_would_write_goes_to_the_box_of_the_chapter_of_its_thread(tmp_path):
    """A Dask worker may run chapters in several threads: each chapter keeps only its own notebook."""
    import threading

    import nbformat

    from methods.build import runner

    written = []
    mine, theirs = {}, {}
    nb_mine, nb_theirs = nbformat.v4.new_notebook(), nbformat.v4.new_notebook()

    def other_chapter():
        runner._KEPT.box = theirs
        runner._keep_or_write_ipynb(nb_theirs, None, write_ipynb=lambda nb, path: written.append(path))
        runner._KEPT.box = None

    runner._KEPT.box = mine
    try:
        thread = threading.Thread(target=other_chapter)
        thread.start()
        thread.join()
        runner._keep_or_write_ipynb(nb_mine, None, write_ipynb=lambda nb, path: written.append(path))
        runner._keep_or_write_ipynb(nb_mine, "out.ipynb", write_ipynb=lambda nb, path: written.append(path))
    finally:
        runner._KEPT.box = None
    assert mine["notebook"] is nb_mine and theirs["notebook"] is nb_theirs
    assert written == ["out.ipynb"]  # a call with a path is papermill's own write
    runner._keep_or_write_ipynb(nb_mine, None, write_ipynb=lambda nb, path: written.append(path))
    assert written == ["out.ipynb", None]  # outside a chapter too


def test_each_language_of_an_executed_chapter_is_as_from_a_deep_copy(project):
    """The runner makes the Spanish chapter, then the English one, from the same executed notebook,
    with copies of its containers: each is what it would be from a deep copy, and the executed
    notebook is left as it was (it is kept for a failure)."""
    import copy

    import nbformat

    from methods.build.project import Project
    from methods.build.runner import for_language, postprocess, plan
    from methods.model.i18n import Translator

    job = plan(Project(project), ["XRV"], ["drugs"], 300).jobs[0]
    words = Translator("es", locales=project / "book" / "locales").words
    executed = nbformat.read(project / "book" / "countries" / "XRV" / "drugs.ipynb", 4)  # one language's
    next(c for c in executed.cells if c.cell_type == "code").outputs.append(nbformat.from_dict({  # a Spanish glued figure
        "output_type": "display_data", "data": {"text/plain": "x"},
        "metadata": {"scrapbook": {"name": "fig_x__es", "mime_prefix": "application/papermill.record/"}}}))
    before = copy.deepcopy(executed)
    made = []
    for lang in ("es", "en"):
        chapter = for_language(executed, lang, words if lang == "es" else None)
        postprocess(chapter, job, lang)
        expected = for_language(copy.deepcopy(before), lang, words if lang == "es" else None)
        postprocess(expected, job, lang)
        assert chapter == expected
        made.append(chapter)
    assert executed == before
    assert any(o.get("metadata", {}).get("scrapbook", {}).get("name") == "fig_x" for c in made[0].cells
               for o in c.get("outputs", []))


def test_a_chapter_whose_executed_notebook_is_invalid_fails_after_execution(tmp_path, monkeypatch):
    """A chapter whose cells ran but whose notebook is not valid fails: its last good chapter is
    kept, the run's summary says it failed after execution, and its notebook is kept for diagnosis."""
    import nbformat

    import methods.model.chapter.languages as languages
    from methods.build.project import Project
    from methods.build.runner import RunReport, execute_job, failure_summary, plan

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    project = Project(root)
    job = plan(project, ["XRU"], ["smuggling"], 200).jobs[0]
    expand = languages.expand_glued

    def with_an_invalid_output(nb):
        nb = expand(nb)
        next(c for c in nb.cells if c.cell_type == "code").outputs.append(
            nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": 5}))
        return nb

    monkeypatch.setattr(languages, "expand_glued", with_an_invalid_output)
    result = execute_job(job)
    assert not result.ok and result.executed and result.cell is None
    assert result.error.startswith("InvalidNotebook: the executed notebook is not valid (cells/")
    assert not job.notebook.exists()  # nothing published
    summary = failure_summary(RunReport(executed=[result]), project)
    assert "XRU smuggling: after execution: InvalidNotebook: the executed notebook is not valid" in summary
    kept = nbformat.read(project.failed_dir / "XRU-smuggling.ipynb", 4)  # the invalid chapter itself
    assert any(o.get("text") == 5 for c in kept.cells for o in c.get("outputs", []))
    assert "the executed notebook is not valid: 5 is not valid" in Path(job.log_file).read_text()  # in full
    import papermill.execute
    import papermill.iorw

    # papermill's writer, once the chapter ran in this process, is papermill's own outside a chapter
    assert papermill.execute.write_ipynb.keywords["write_ipynb"] is papermill.iorw.write_ipynb
    papermill.execute.write_ipynb(nbformat.v4.new_notebook(), str(tmp_path / "by-papermill.ipynb"))
    assert nbformat.read(tmp_path / "by-papermill.ipynb", 4).cells == []
