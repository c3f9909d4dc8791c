"""python -m reports RUN_DIR: (re)build the report of a run from its results store.

Exit codes: 0 report written; 2 bad input (missing or empty run directory, corrupt store, or a
store whose trials all failed: the report is still written and lists the reasons); 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from zoo.cli import EXIT_BAD_INPUT, quiet_tensorflow, run_main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reports",
                                description="Write report.md, report.html, results.csv, results.json and "
                                            "figures/ into a run directory made by `python -m compare`.")
    p.add_argument("run_dir", help="run directory holding results.sqlite")
    p.add_argument("--no-figures", action="store_true", help="tables only (faster)")
    p.add_argument("--no-profiles", action="store_true", help="leave out the per-layer profile appendix")
    p.add_argument("--verbose", action="store_true", help="TensorFlow's start-up logs and the report's notes")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet_tensorflow(args.verbose)
    from reports.render import build_report

    rep = build_report(args.run_dir, figures=not args.no_figures, profiles=not args.no_profiles)
    md, html = rep.paths[0], rep.paths[1]
    if args.verbose:
        for note in rep.notes:
            print(f"note: {note}", file=sys.stderr)
    if rep.done == 0:
        print(f"error: no trial in {args.run_dir} finished ({rep.failed} failed, {rep.running} still running or interrupted); "
              f"the reasons are listed in {md}", file=sys.stderr)
        return EXIT_BAD_INPUT
    notes = f", {len(rep.notes)} notes" if rep.notes else ""
    print(f"report: {md}, {html.name}, {len(rep.figures)} figures "
          f"({rep.models} models, {rep.failed} failed{notes})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
