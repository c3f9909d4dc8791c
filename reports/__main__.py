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


def export(run_dir, target) -> tuple[int, int]:
    """Copy the whole report of ``run_dir`` to ``target`` (the repository's example report):
    :data:`EXPORTED` and the figures the report shows, removing figure files of an earlier export
    that the report no longer has. Returns (files, figure files) copied."""
    import shutil
    from pathlib import Path

    src, dst = Path(run_dir), Path(target)
    check_directory("--export", target)
    (dst / "figures").mkdir(parents=True, exist_ok=True)
    files = 0
    for name in EXPORTED:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
            files += 1
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
    if args.export:
        check_directory("--export", args.export)
    from compare.store import run_store

    run_store(args.run_dir)  # a missing directory or store, or a corrupt one: before any work
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
