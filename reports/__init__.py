"""reports: comparison tables and plots of a run, as Markdown, HTML, CSV and JSON.

    import reports
    reports.write_report("runs/x")                 # report.md, report.html, results.csv/.json, figures/
    data = reports.ReportData(Path("runs/x"), reports.load_trials("runs/x"))
    fig = reports.plot_error_vs_macs(data.main)    # every plot: DataFrame in, matplotlib Figure out

Lazy: importing ``reports`` imports neither Keras nor matplotlib; the names below load their
module on use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "write_report": "reports.render",
    "build_report": "reports.render",
    "Report": "reports.render",
    "ReportData": "reports.run_data",
    "FIGURES": "reports.figures",
    "load_trials": "reports.tables",
    "tidy": "reports.tables",
    "summarize": "reports.tables",
    "curves": "reports.tables",
    "canonical": "reports.tables",
    "failures": "reports.tables",
    "profile_table": "reports.formatting",
    "rank": "reports.ranking",
    "budget_note": "reports.ranking",
    "plot_error_vs_macs": "reports.plots",
    "plot_error_vs_depth": "reports.plots",
    "plot_ilsvrc": "reports.plots",
    "plot_training_curves": "reports.plots",
    "plot_size": "reports.plots",
    "repel": "reports.labels",
    "plot_filters": "reports.filters",
    "plot_activations": "reports.filters",
    "load_trained_model": "reports.filters",
    "test_image": "reports.filters",
    "ILSVRC": "reports.reference",
    "ilsvrc_frame": "reports.reference",
    "CONVENTIONS": "reports.reference",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reports' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
