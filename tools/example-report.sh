#!/usr/bin/env bash
# Regenerates docs/example, the README's example report, from a fresh run of the main job:
#     bash tools/example-report.sh [RUN_DIR]
# RUN_DIR (default: a new temporary folder) receives the run: results.sqlite, the trained models
# (models/, not exported: several MB) and the report. Give a new folder: a store that already holds
# finished trials is resumed, not re-run, so a change to the method (the split, the metrics, the
# columns) would not reach the example. Then `python -m reports RUN_DIR --export docs/example`
# writes the report and copies all of it (report.md, report.html, results.csv, results.json,
# results.sqlite, figures/) to docs/example; figures of an earlier export that the report no
# longer has are removed. On 2 idle cores the main job takes 3 to 8 minutes
# (bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"
run="${1:-$(mktemp -d)/main}"

"$python" -m compare run --preset main --out "$run" --quiet --no-report
"$python" -m reports "$run" --export docs/example
du -sh docs/example
