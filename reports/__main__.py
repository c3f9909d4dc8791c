"""python -m reports RUN_DIR: (re)build the report of a run from its results store.

Exit codes: 0 report written; 2 bad input (missing or empty run directory, corrupt store, or a
store whose trials all failed: the report is still written and lists the reasons); 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
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
"""The meta key of a store that ``--export`` wrote: ``{"from": run directory name, "trials": count}``.
An export may replace such a copy (unless trials were added to it since), never a run's own store."""


def _export_mark(path) -> tuple[dict | None, int]:
    """(the export mark or None, the number of trials) of the results store at ``path``, read-only;
    ValueError naming the file when it is no readable results store."""
    import contextlib
    import json
    import sqlite3
    from pathlib import Path

    try:
        with contextlib.closing(sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (f"json:{EXPORT_MARK}",)).fetchone()
            trials = int(conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    except sqlite3.Error as exc:
        raise ValueError(f"--export: {path} is not a readable results store ({exc}); accepted: a directory without "
                         "one, or an earlier export (remove the file or choose another directory)") from None
    mark = json.loads(row[0]) if row is not None else None
    return (mark if isinstance(mark, dict) else None), trials


def check_export(run_dir, target) -> None:
    """Before any work: ``target`` (``~`` already expanded) can take the export of ``run_dir``
    without losing results. It is not the run directory itself (by any name), and a results.sqlite
    already there is this run's very content or an earlier export's copy with no trial added since,
    not another run's own store."""
    import filecmp
    from pathlib import Path

    check_directory("--export", target)
    src, dst = Path(run_dir).expanduser(), Path(target)
    if dst.exists() and os.path.samefile(src, dst):
        raise ValueError(f"--export {target!r} is the run directory itself, where the report is written anyway; "
                         "accepted: another directory")
    old, new = dst / "results.sqlite", src / "results.sqlite"
    if not old.exists():
        return
    if os.path.samefile(old, new):
        raise ValueError(f"--export {target!r}: its results.sqlite is the run's own file ({new}); accepted: another "
                         "directory")
    if filecmp.cmp(old, new, shallow=False):
        return  # the same content: nothing is lost
    mark, trials = _export_mark(old)
    if mark is None or mark.get("trials") != trials:
        since = "" if mark is None else f" (an export of {mark.get('trials')} trial(s), {trials} now)"
        raise ValueError(f"--export {target!r} holds a run's own results store ({old}{since}), which the export "
                         "would replace; accepted: a new directory or an earlier export")


def export(run_dir, target) -> tuple[int, int]:
    """Copy the whole report of ``run_dir`` to ``target`` (the repository's example report):
    :data:`EXPORTED` and the figures the report shows, removing figure files of an earlier export
    that the report no longer has. Returns (files, figure files) copied."""
    import shutil
    from pathlib import Path

    from compare.store import Store

    src, dst = Path(run_dir).expanduser(), Path(target).expanduser()
    check_export(run_dir, str(dst))
    (dst / "figures").mkdir(parents=True, exist_ok=True)
    files = 0
    for name in EXPORTED:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
            files += 1
    if (dst / "results.sqlite").is_file():
        with Store(dst / "results.sqlite") as store:  # the copy says it is one (check_export)
            store.set_meta(EXPORT_MARK, {"from": src.resolve().name, "trials": len(store.trials(status=None))})
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
    target = os.path.expanduser(args.export) if args.export else None  # `--export=~/x`: the shell leaves ~ alone
    if target:
        check_export(args.run_dir, target)
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
    if target:
        files, figures = export(args.run_dir, target)
        notes += f"; exported {files} files and {figures} figure files to {target}"
    print(f"report: {md}, {html.name}, {len(rep.figures)} figures "
          f"({counted(rep.models, 'model')}, {rep.failed} failed{notes})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
