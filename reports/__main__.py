"""python -m reports RUN_DIR: (re)build the report of a run from its results store.

Exit codes: 0 report written; 2 bad input (missing or empty run directory, corrupt store, or a
store whose trials all failed: the report is still written and lists the reasons); 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

from common.cli import EXIT_BAD_INPUT, Parser, check_directory, quiet_tensorflow, run_main
from common.text import counted


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m reports",
                                description="Write report.md, report.html, results.csv, results.json and "
                                            "figures/ into a run directory made by `python -m compare`.")
    p.add_argument("run_dir", help="run directory holding results.sqlite")
    p.add_argument("--no-figures", action="store_true", help="tables only (faster)")
    p.add_argument("--no-profiles", action="store_true", help="leave out the per-layer profile appendix")
    p.add_argument("--export", metavar="DIR", help="also copy the whole report to DIR (report.md, report.html, "
                                                   "results.csv, results.json, results.sqlite, figures/), "
                                                   "e.g. docs/example")
    p.add_argument("--verbose", action="store_true", help="TensorFlow's start-up logs and the report's notes")
    return p


EXPORTED = ("report.md", "report.html", "results.csv", "results.json", "results.sqlite")
"""The files ``--export`` copies, with ``figures/*.png|svg`` (not the trained models: they are large)."""
EXPORT_MARK = "exported_from"
"""The meta key an exported copy of a store carries (the run directory it came from): an export may
replace an earlier export's store, never a run's own."""


def _exported_store(path) -> bool:
    """Whether the store at ``path`` is a copy that ``--export`` wrote (read-only; False if unreadable)."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT 1 FROM meta WHERE key = ?", (f"json:{EXPORT_MARK}",)).fetchone() is not None
    except sqlite3.Error:
        return False


def check_export(run_dir, target) -> None:
    """Before any work: ``target`` can take the export of ``run_dir`` without losing results. It is
    not the run directory itself, and a results.sqlite already there is an earlier export's copy
    (or this run's very file), not another run's own store."""
    import filecmp
    from pathlib import Path

    check_directory("--export", target)
    src, dst = Path(run_dir).expanduser().resolve(), Path(target).expanduser().resolve()
    if src == dst:
        raise ValueError(f"--export {target!r} is the run directory itself, where the report is written anyway; "
                         "accepted: another directory")
    old, new = dst / "results.sqlite", src / "results.sqlite"
    if old.is_file() and not _exported_store(old) and not (new.is_file() and filecmp.cmp(old, new, shallow=False)):
        raise ValueError(f"--export {target!r} holds a run's own results store ({old}), which the export would "
                         "replace; accepted: a new directory or an earlier export")


def export(run_dir, target) -> tuple[int, int]:
    """Copy the whole report of ``run_dir`` to ``target`` (the repository's example report):
    :data:`EXPORTED` and the figures the report shows, removing figure files of an earlier export
    that the report no longer has. Returns (files, figure files) copied."""
    import shutil
    from pathlib import Path

    from compare.store import Store

    src, dst = Path(run_dir), Path(target)
    check_export(run_dir, target)
    (dst / "figures").mkdir(parents=True, exist_ok=True)
    files = 0
    for name in EXPORTED:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
            files += 1
    if (dst / "results.sqlite").is_file():
        with Store(dst / "results.sqlite") as store:  # the copy says it is one (check_export)
            store.set_meta(EXPORT_MARK, str(src.expanduser().resolve()))
    # the figures the report shows (not those an earlier report of the run left, e.g. before --no-figures)
    shown = {m for name in ("report.md", "report.html") if (src / name).is_file()
             for m in re.findall(r"figures/([\w.-]+\.(?:png|svg))", (src / name).read_text())}
    figures = {f.name for f in (src / "figures").glob("*") if f.name in shown}
    for old in (dst / "figures").glob("*"):
        if old.suffix in (".png", ".svg") and old.name not in figures:
            old.unlink()
    for name in sorted(figures):
        shutil.copy2(src / "figures" / name, dst / "figures" / name)
    return files, len(figures)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the arguments (cheap: no TensorFlow, nothing written), build the report, export it."""
    args = _parser().parse_args(argv)
    quiet_tensorflow(args.verbose)  # cheap: takes effect if and when TensorFlow is imported
    from compare.store import run_store

    run_store(args.run_dir)  # a missing directory or store, or a corrupt one: before any work
    if args.export:
        check_export(args.run_dir, args.export)
    from reports.render import build_report

    rep = build_report(args.run_dir, figures=not args.no_figures, profiles=not args.no_profiles)
    md, html = rep.paths[0], rep.paths[1]
    if args.verbose:
        for note in rep.notes:
            print(f"note: {note}", file=sys.stderr)
    if rep.done == 0:
        print(f"error: no trial in {args.run_dir} finished ({rep.failed} failed, {rep.running} still running or "
              f"interrupted); the reasons are listed in {md}", file=sys.stderr)
        return EXIT_BAD_INPUT
    notes = f", {counted(len(rep.notes), 'note')}" if rep.notes else ""
    if args.export:
        files, figures = export(args.run_dir, args.export)
        notes += f"; exported {files} files and {figures} figure files to {args.export}"
    print(f"report: {md}, {html.name}, {len(rep.figures)} figures "
          f"({counted(rep.models, 'model')}, {rep.failed} failed{notes})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
