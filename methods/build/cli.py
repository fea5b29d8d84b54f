"""The ``iff`` command.

    iff validate [FILE ...]        check parameter files (default: all)
    iff run [options]              execute the country chapters that are out of date
    iff build [options]            iff run, then a strict build of the handbook
    iff export --format F --output PATH
    iff new-country ISO3 --name NAME [--markets drugs,smuggling] [--role producer|transit|producer-transit|destination]
    iff upgrade FILE ...           rewrite files written for an earlier format of the parameter files
    iff diff OLD.csv NEW.csv [--inputs REF]   what moved between two editions, and which inputs changed
    iff pdf                        the PDF edition of the handbook (after iff build)
    iff schema [--output PATH]     write the JSON schema of parameter files
    iff bench                      measure build times and Monte Carlo speed

Problems are reported one per line (file, field, what is wrong), without Python tracebacks;
the exit status is non-zero when anything failed. Set IFF_DEBUG=1 to see tracebacks.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..model.errors import IffError, ParameterError
from ..model.i18n import _, locale_language, set_language


def editions(text: str) -> tuple[str, ...]:
    """``--editions en,es``: the editions, English first."""
    wanted = {e.strip() for e in text.split(",") if e.strip()}
    if not wanted or wanted - {"en", "es"}:
        raise argparse.ArgumentTypeError(f"{text!r}: give en, es or en,es")
    return tuple(e for e in ("en", "es") if e in wanted)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _countries(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = []
    for v in values:
        out += [c.strip() for c in v.split(",") if c.strip()]
    return out


def _markets(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = []
    for v in values:
        for m in v.split(","):
            m = m.strip()
            if m not in _all_markets():
                raise IffError(f"--market {m!r}: the markets are {', '.join(_all_markets())}")
            out.append(m)
    return out


def cmd_validate(args) -> int:
    from .project import Project

    project = Project.find()
    bib = project.bib_keys()
    if args.files:
        paths = [Path(f) for f in args.files]
    else:
        paths = project.parameter_files()
        if not paths:
            _err(_("no parameter files in {folder}/").format(folder=project.rel(project.parameters_dir)))
            return 1
    n_bad = n_missing = n_warnings = 0
    for path in paths:  # every file is checked, whatever happened to the previous one
        try:
            cf, warnings = project.check(path, bib)
        except ParameterError as e:
            n_bad += 1
            for p in e.problems:
                print(p)
                n_missing += "MISSING" in p.message
            continue
        print(_("{file}: ok ({name}; {markets}; {first}-{last})").format(
            file=project.display(path), name=cf.name, markets=", ".join(cf.market_names()), first=cf.first_year,
            last=cf.last_year))
        for w in warnings:
            print(w)
        n_warnings += len(warnings)
    if n_warnings:
        _err(_("{n} warning(s): the values are valid, but check them.").format(n=n_warnings))
    if n_bad:
        missing = _(" ({n} value(s) still marked MISSING)").format(n=n_missing) if n_missing else ""
        _err(_("{bad} of {total} file(s) have problems{missing}.").format(bad=n_bad, total=len(paths), missing=missing))
        return 1
    return 0


def _plan(args, project):
    from .runner import plan

    return plan(project, _countries(args.country), _markets(args.market), args.draws, args.seed, args.timeout,
                args.engine, args.editions)


def cmd_run(args) -> int:
    from .project import Project
    from .runner import EarlyStart, failure_summary, is_up_to_date, run

    project = Project.find()
    early = EarlyStart(project, args.engine, args.scheduler)  # the warm engine's fork server imports while we plan
    try:
        planned = _plan(args, project)
        todo = [j for j in planned.jobs if args.force or not is_up_to_date(j)]
        pool = early.pool(max(1, min(args.jobs or os.cpu_count() or 1, len(todo))), todo) if not args.scheduler else None
        report = run(project, planned, jobs=args.jobs, force=args.force, scheduler=args.scheduler, pool=pool)
    finally:
        early.close()
    if not report.ok:
        _err(failure_summary(report, project))
        return 1
    return 0


def cmd_build(args) -> int:
    from .project import Project
    from .runner import RunLock

    project = Project.find()
    with RunLock(project):  # the whole build: chapters, pages and book
        return _build(args, project)


def _build(args, project) -> int:
    from .runner import EarlyStart

    jobs = args.jobs or os.cpu_count() or 1
    early = EarlyStart(project, args.engine, args.scheduler)  # the warm engine's fork server imports while we plan
    try:
        return _build_planned(args, project, jobs, early)
    finally:
        early.close()


def _build_planned(args, project, jobs: int, early) -> int:
    from .runner import failure_summary, is_up_to_date, run

    planned = _plan(args, project)
    todo = [j for j in planned.jobs if args.force or not is_up_to_date(j)]
    # when chapters must run, the workers start importing papermill now, while this process loads
    # the book builder and starts the book's Sphinx process, which loads its extensions and the
    # previous build while the chapters run
    pool = early.pool(min(jobs, len(todo)), todo) if not args.scheduler else None
    from .pages import PreparedBook, build_html, load_page_writers, prepare_editions

    if todo:
        load_page_writers()  # while the chapters run
    prepared = {}
    if todo and not (args.full or args.force):
        from .pages import edition_jobs
        from .project import Project

        for lang in args.editions:  # the editions' Sphinx processes load while the chapters run
            book = PreparedBook.start(Project(project.root, lang), edition_jobs(jobs))
            if book is not None:
                prepared[lang] = book
    try:
        report = run(project, planned, jobs=args.jobs, force=args.force, scheduler=args.scheduler, pool=pool)
        early.close()  # every chapter has been executed
        prepare_editions(project, args.editions, reuse=not (args.full or args.force))
        built, seconds = build_html(project, jobs=jobs, force=args.force, full=args.full, say=_err, prepared=prepared,
                                    editions=args.editions)
    except BaseException:
        for book in prepared.values():
            book.cancel()
        raise
    if built:
        _err(f"Book built in {seconds:.1f} s.")
    landing = project.build_dir / "html" / "index.html"
    problems = failure_summary(report, project)
    if problems:
        _err(problems)
        _err(f"The book was built with the last good chapters: {landing}")
        return 1
    print(f"Open the handbook: {landing}")
    return 0


def cmd_export(args) -> int:
    from .export import export
    from .project import Project

    project = Project.find()
    path, replaced = export(project, args.format, args.output, include_fictional=args.include_fictional)
    print(f"Wrote {path}" + (" (it replaced the file that was there)" if replaced else ""))
    return 0


def cmd_new_country(args) -> int:
    from .newcountry import new_country
    from .project import Project

    project = Project.find()
    path = new_country(project, args.iso3, args.name, _markets([args.markets]) if args.markets else list(_all_markets()), args.role)
    print(f"Wrote {project.rel(path)}. Fill in every MISSING value, then run: iff validate {project.rel(path)}")
    return 0


def cmd_upgrade(args) -> int:
    from .project import Project
    from .upgrade import upgrade_file, upgrade_text

    project = Project.find()
    bib = project.bib_keys()
    status = 0
    from ..model.params.loading import file_problem

    for f in args.files:
        path = Path(f)
        display = project.display(path)
        problem = file_problem(path, project.root, display)  # a misnamed file, a link leading outside
        if problem is not None:
            print(problem)
            status = 1
            continue
        if args.dry_run:
            from ..model.params.loading import _failure, read_bounded

            up = upgrade_text(read_bounded(path, _failure(display)), display)
            print(f"{display}: would be upgraded (nothing written):")
        else:
            up, backup = upgrade_file(path, display)
            print(f"{display}: upgraded to the current format; the original is kept as {project.display(backup)}")
        for c in up.changes:
            print(f"  changed: {c}")
        for c in up.to_check:
            print(f"  check:   {c}")
        if args.dry_run:
            continue
        try:
            project.check(path, bib)
            print(f"{display}: ok")
        except ParameterError as e:
            status = 1
            print(f"{display}: upgraded, but still has problems:")
            for p in e.problems:
                print(p)
    return status


def cmd_diff(args) -> int:
    from .diff import changed_inputs, moved, moved_lines, read_export
    from .project import Project

    old, new = read_export(Path(args.old)), read_export(Path(args.new))
    table = moved(old, new, args.threshold / 100, args.all)
    what = "results" if args.all else "headline results (central own totals)"
    print(f"{len(table)} {what} moved by more than {args.threshold:g}% between {args.old} and {args.new}"
          + (":" if len(table) else "."))
    for line in moved_lines(table):
        print("  " + line)
    if args.inputs:
        lines = changed_inputs(Project.find(), args.inputs)
        print(f"{len(lines)} input(s) changed since {args.inputs}" + (":" if lines else "."))
        for line in lines:
            print("  " + line)
    return 0


def cmd_pdf(args) -> int:
    from .pages import build_html, prepare_editions
    from .pdf import build_pdf
    from .project import Project
    from .runner import RunLock

    project = Project.find()
    with RunLock(project):
        build_pdf(project, say=_err)
        # the landing pages now link to the PDF editions (a landing page links to its PDF only once printed)
        _err("Linking the PDF editions from the landing pages ...")
        prepare_editions(project)
        build_html(project, jobs=os.cpu_count() or 1, say=_err)
    return 0


def cmd_i18n(args) -> int:
    from . import i18n
    from .project import Project

    project = Project.find()
    if args.action == "update":
        i18n.update(project, say=print)
        return 0
    return 1 if i18n.check(project, say=print) else 0


def cmd_schema(args) -> int:
    import json

    from ..model.params import CountryFile

    text = json.dumps(CountryFile.model_json_schema(), indent=1, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"Wrote {args.output}")
    else:
        print(text)
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def whole_number(lo: int, hi: int, what: str):
    """An argparse type: a whole number between ``lo`` and ``hi``, or a one-line error saying so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ({what})") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range: {what} must be between {lo:,} and {hi:,}")
        return value
    return parse


class Parser(argparse.ArgumentParser):
    """Usage errors as one line, without the usage text."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="iff", description="Executable handbook for measuring illicit financial flows (SDG 16.4.1).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    v = sub.add_parser("validate", help="check parameter files (default: all of parameters/)")
    v.add_argument("files", nargs="*", help="parameter files to check")
    v.set_defaults(func=cmd_validate)

    def run_options(sp):
        sp.add_argument("--country", action="append", metavar="ISO3", help="only these countries (repeat or comma-separate)")
        sp.add_argument("--market", action="append", metavar="MARKET", help="only these markets: drugs, smuggling")
        sp.add_argument("--jobs", type=whole_number(1, 256, "the number of parallel processes"), default=None,
                        help="parallel processes (default: number of cores)")
        sp.add_argument("--force", action="store_true", help="re-execute even what is up to date")
        sp.add_argument("--scheduler", metavar="ADDRESS", help="submit notebooks to this Dask scheduler (e.g. tcp://host:8786)")
        sp.add_argument("--draws", type=whole_number(100, 1_000_000, "the number of Monte Carlo draws"), default=10_000,
                        help="Monte Carlo draws per scenario (100 to 1,000,000; default 10000)")
        sp.add_argument("--seed", type=whole_number(0, 2**32 - 1, "the seed"), default=20201015,
                        help="Monte Carlo seed (0 to 4294967295; default 20201015)")
        sp.add_argument("--timeout", type=whole_number(1, 86_400, "the time limit in seconds"), default=600,
                        help="stop a chapter when one of its cells runs longer than this many seconds (default 600); "
                             "with --scheduler, also the time to reach the cluster (at most 30 s)")
        sp.add_argument("--editions", type=editions, default=("en", "es"), metavar="en,es",
                        help="the editions to compute and build: en, es or en,es (default both)")
        sp.add_argument("--engine", choices=["warm", "cold"], default="warm",
                        help="warm (default): each chapter's kernel is forked from a process that has imported the "
                             "chapters' packages once; cold: a new Python process per kernel, as papermill starts it")

    r = sub.add_parser("run", help="execute the country chapters that are out of date")
    run_options(r)
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("build", help="iff run, then build the handbook in _build/html")
    run_options(b)
    b.add_argument("--full", action="store_true",
                   help="write every generated page again and re-read every page of the book, even if nothing they are made from changed (a changed structure always re-reads every page)")
    b.set_defaults(func=cmd_build)

    e = sub.add_parser("export", help="write the results as one tidy table")
    e.add_argument("--format", choices=["csv", "xlsx", "sdmx-csv"], required=True)
    e.add_argument("--output", required=True, metavar="PATH")
    e.add_argument("--include-fictional", action="store_true", help="also export fictional training countries")
    e.set_defaults(func=cmd_export)

    n = sub.add_parser("new-country", help="write a parameter file to fill in for a new country")
    n.add_argument("iso3", help="ISO 3166-1 alpha-3 code (XAA-XZZ for a fictional country)")
    n.add_argument("--name", required=True, help="the country's name")
    n.add_argument("--markets", default=None, help="comma-separated: drugs,smuggling (default: both)")
    n.add_argument("--role", default="transit", choices=["producer", "transit", "producer-transit", "destination"],
                   help="the country's place in the cocaine market, which decides the stages of the blank file "
                        "(default: transit)")
    n.set_defaults(func=cmd_new_country)

    u = sub.add_parser("upgrade", help="rewrite parameter files written for an earlier format (keeps comments)")
    u.add_argument("files", nargs="+", help="parameter files to upgrade")
    u.add_argument("--dry-run", action="store_true", help="list what would change, write nothing")
    u.set_defaults(func=cmd_upgrade)

    d = sub.add_parser("diff", help="what moved between two exports of the results (two editions)")
    d.add_argument("old", help="the earlier export (iff export --format csv, or an edition's iff-results.csv)")
    d.add_argument("new", help="the later export")
    d.add_argument("--inputs", metavar="GIT_REF", help="also list the inputs changed since this git revision")
    d.add_argument("--all", action="store_true", help="every row, not only the central own totals")
    d.add_argument("--threshold", type=float, default=0.1, metavar="PERCENT",
                   help="report moves larger than this percentage of the old value (default 0.1)")
    d.set_defaults(func=cmd_diff)

    pdf = sub.add_parser("pdf", help="the PDF edition of the handbook, printed offline by headless Chromium (after iff build)")
    pdf.set_defaults(func=cmd_pdf)

    t = sub.add_parser("i18n", help="the Spanish edition's catalogues: update them from the sources, or check them")
    t.add_argument("action", choices=["update", "check"],
                   help="update: extract every message and merge it into book/locales/es/; check: list what is "
                        "untranslated or outdated (fails if anything is)")
    t.set_defaults(func=cmd_i18n)

    s = sub.add_parser("schema", help="print or write the JSON schema of parameter files")
    s.add_argument("--output", metavar="PATH")
    s.set_defaults(func=cmd_schema)

    be = sub.add_parser("bench", help="measure build times, rebuild times and Monte Carlo speed")
    be.add_argument("--quick", action="store_true", help="skip the naive baseline and the scaling runs")
    be.add_argument("--scaling", default="25,50,100,200", help="numbers of synthetic countries for the scaling runs")
    be.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    status = _main(argv)
    if argv is None:  # the command itself, which ends now (not a call from another Python program)
        _end_without_collecting()
    return status


def _end_without_collecting() -> None:
    """Leave every object out of the garbage collections the interpreter makes as it ends: they
    visited all of a build's objects again (about 0.15 s after a build), which the end of the
    process frees anyway. Exit handlers still run, and files are written and closed before this."""
    import gc

    gc.freeze()


def _all_markets() -> tuple[str, ...]:
    from ..model.params import MARKETS

    return MARKETS


def _start_fork_server_early(args) -> None:
    """`iff run` and `iff build` with the warm engine: start the fork server first, with the modules
    of the last run (:func:`~methods.build.forkserver.start_early`), so that it imports the chapters'
    packages while this process imports the model and plans the run."""
    if args.command not in ("run", "build") or args.engine != "warm" or args.scheduler:
        return
    from .forkserver import KEEP_LIMIT, KEEP_VARIABLE, keep_seconds, start_early

    try:
        keep_seconds()
    except ValueError as exc:
        raise IffError(_("the environment variable {name} must be a number of seconds from 0 to {limit} (got {value}); "
                         "with 0, the warm engine's fork server ends with each command").format(
            name=KEEP_VARIABLE, limit=f"{KEEP_LIMIT:.0f}", value=repr(str(exc)))) from None
    from .project import Project

    try:
        start_early(Project.find().build_dir)
    except IffError:
        pass  # the command says what is wrong


def _main(argv: list[str] | None) -> int:
    set_language(locale_language())  # messages in Spanish when the user's locale is Spanish (LANG=es_...)
    args = parser().parse_args(argv)
    try:
        _start_fork_server_early(args)
        return args.func(args)
    except ParameterError as e:
        _err(str(e))
        return 1
    except IffError as e:
        _err(f"iff {args.command}: {e}")
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _err(_("interrupted; chapters already written are complete, the rest keep their last good version"))
        return 130
    except Exception as e:  # noqa: BLE001
        if os.environ.get("IFF_DEBUG"):
            raise
        _err(_("iff {command}: unexpected error: {error} (set IFF_DEBUG=1 for the traceback)").format(
            command=args.command, error=f"{type(e).__name__}: {e}"))
        return 2


if __name__ == "__main__":
    sys.exit(main())
