"""Run jupyter-book's Sphinx build in its own process (called by :func:`methods.book.build_html`).

Usage: python -m methods.sphinxbuild SOURCE_DIR OUTPUT_DIR CONFIG_YML TOC_YML JOBS

The same as ``jupyter-book build SOURCE --all -W -n --keep-going``, plus parallel jobs, which
jupyter-book's command line does not expose.
"""
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from jupyter_book.sphinx import build_sphinx

    source, output, config, toc, jobs = argv
    result = build_sphinx(
        Path(source), Path(output), noconfig=True, path_config=config,
        confoverrides={"external_toc_path": Path(toc).as_posix(), "latex_individualpages": False, "nitpicky": True},
        builder="html", warningiserror=True, keep_going=True, freshenv=True, jobs=int(jobs),
    )
    return 0 if result == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
