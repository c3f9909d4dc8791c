"""Write a run's report: report.md, report.html, results.csv, results.json and figures/.

    import reports
    paths = reports.write_report("runs/x")        # -> [Path(...report.md), ...]

The document is a list of blocks (headings, paragraphs, tables, figures) rendered twice, as
Markdown and as self-contained HTML; figures are PNG (shown) and SVG (linked) in ``figures/``
beside them, so the HTML opens offline. Figures are registered in :data:`reports.figures.FIGURES`;
what they and the tables are made from is :class:`reports.run_data.ReportData`.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from common.text import counted
from compare.store import STORE_NAME

from . import bench as bench_study
from . import depth as depth_study
from . import ranking, tables
from .document import CONVENTIONS_TITLE, FIGURE_DIR, to_html, to_markdown
from .figures import FIGURES, FigureSpec
from .formatting import (CANONICAL_COLUMNS, COMPARISON_COLUMNS, EVAL_COLUMNS, FAILURE_COLUMNS, PROFILE_NOTE, Table,
                         display, fmt_int, profile_table, split_by)
from .reference import COLUMN_UNITS, CONVENTIONS
from .run_data import ReportData

__all__ = ["ReportData", "FigureSpec", "FIGURES", "Report", "build_report", "write_report"]

FORMATS = ("png", "svg")


@dataclass
class Report:
    """What :func:`build_report` wrote and found."""

    run_dir: Path
    paths: list[Path] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    models: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    notes: list[str] = field(default_factory=list)


# -- document blocks -------------------------------------------------------------------------------
Block = tuple  # see reports.document: ("h1"|"h2"|"p", text) | ("table", Table) | ("figure", name, caption) | ...


# -- sections --------------------------------------------------------------------------------------
def _overview(data: ReportData, rep: Report) -> list[Block]:
    r = data.results
    datasets = ", ".join(sorted({str(d) for d in r["dataset"].dropna()}))
    seeds = ", ".join(str(int(s)) for s in sorted(r["seed"].dropna().unique()))
    total = rep.done + rep.failed + rep.running  # what the counts count: every row, bench rows too
    bench = len(data.bench) if len(data.bench) < total else 0  # a bench-only run: its rows are the trials
    of_them = "" if not bench else ", 1 of them a bench row" if bench == 1 else f", {bench} of them bench rows"
    blocks: list[Block] = [
        ("h1", f"Report: {data.run_dir.name or data.run_dir}"),
        ("p", f"{counted(total, 'trial')}{of_them}: {rep.done} done, {rep.failed} failed"
              + (f", {rep.running} still marked running (in progress, or interrupted)" if rep.running else "")
              + f". {counted(rep.models, 'model')}; datasets: {datasets or '-'}" + (f"; seeds: {seeds}" if seeds else "")
              + ". "
              f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} from {STORE_NAME}."),
    ]
    if rep.done == 0:
        blocks.append(("p", f"No trial finished: all {total} trials failed or were interrupted; "
                            "the reasons are listed under 'Failed trials'."))
    elif not data.main.empty and pd.notna(data.main.iloc[0]["top1_err"]):
        best = data.main.iloc[0]
        ci = (f" (95% CI {100 * best['top1_err_lo']:.2f}–{100 * best['top1_err_hi']:.2f}%)"
              if pd.notna(best.get("top1_err_lo")) and pd.notna(best.get("top1_err_hi")) else "")
        text = (f"Lowest top-1 test error: {best['model']} at {100 * best['top1_err']:.2f}%{ci} "
                f"on {best['dataset']} ({fmt_int(best['params'])} params, "
                f"{fmt_int(best['macs'])} MACs).")
        group = data.main[(data.main["dataset"] == best["dataset"]) & (data.main["study"] == best["study"])]
        tied = group[(group.index != group.index[0]) & (group["tied_with_best"] == True)]  # noqa: E712
        images = (f"these {fmt_int(best['n_test'])} test images" if pd.notna(best.get("n_test"))
                  else "the same test images")
        if not tied.empty:
            text += (f" Models not distinguishable from it on {images} (McNemar, Holm-adjusted p >= 0.05) "
                     "share its rank: " + ", ".join(tied["model"]) + ".")
        elif len(group) > 1 and group["p_vs_best"].iloc[1:].notna().all():
            text += " Every other model's error is significantly higher (McNemar, Holm-adjusted p < 0.05)."
        if len(group) > 1 and ranking.budget_note(group):
            text += (" The models were trained with different inputs, widths or budgets (see Comparison), so a "
                     "difference is not the architecture's alone.")
        blocks.append(("p", text))
    versions = next((v for v in data.trials.get("versions", []) if isinstance(v, dict) and v), None)
    if versions:
        blocks.append(("p", "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))))
    return blocks + [("toc",)] + _conventions()


def _conventions() -> list[Block]:
    """The counting conventions, stated once; every table that counts links here (reports.document)."""
    items = [c.strip().rstrip(".") for c in CONVENTIONS.split("; ") if c.strip()]
    return [("h2", CONVENTIONS_TITLE), ("p", "Every count in this report's tables follows these rules:"),
            ("list", items)]


def _comparison(data: ReportData) -> list[Block]:
    blocks: list[Block] = [("h2", "Comparison")]
    if data.summary.empty and not data.evaluations.empty:
        return []  # evaluations only: their own section
    if data.summary.empty:
        return blocks + [("p", "No finished trial to compare.")]
    several = data.summary["seeds"].max() > 1
    note = CONVENTIONS + (" Values are mean ± std over seeds." if several else "") + \
        (" Validation images are carved out of the training split (stratified) and used for the curves and the "
         "plateau learning-rate schedule (in recipes that use one); the test images are evaluated once, after "
         "training. 95% CI: Wilson score interval of the test error on the test images (with several seeds, at the "
         "mean error); 95% CI over seeds: mean ± t·sd/sqrt(seeds). McNemar p vs best (Holm): exact McNemar test of "
         "the row against the lowest-error row on the same test images (paired predictions; with several seeds the "
         "largest p, and 1 where the row beat the best at some seed), Holm-adjusted for the number of rows compared with the best. Rank: rows not distinguishable "
         "from the best (adjusted p >= 0.05) share rank 1, marked '1='; the rows below are ordered by test error "
         "only (they are not tested against each other), and rows with the same error share their rank, marked "
         "'='. Top-5 error is shown only with more than 10 classes. Budget: epochs, batch size, lr (initial), "
         "optimizer and schedule, augmentation, recipe, input and width are those each row was trained with. "
         "Times: train (s) = wall time of training; train (img/s) = training images per second over the epochs "
         "after the first (which compiles; none for one epoch), validation pass left out; infer = forward-pass "
         "latency in milliseconds per image, at batch 1 and at batch 32.")
    if "n_val" not in data.summary.columns or data.summary["n_val"].isna().any():
        note += (" Rows with '?' validation images were trained before this toolkit kept a validation split: "
                 "their per-epoch validation curves and schedules watched the test images, and without stored "
                 "predictions they have no paired test.")
    for (study, dataset), group in split_by(data.summary, ["study", "dataset"]):
        title = f"{dataset}: one row per model, ranked by top-1 test error" + ("" if study == "main" else f" (study: {study})")
        differ = ranking.budget_note(group)
        if differ:
            blocks.append(("p", differ))
        blocks.append(("table", display(group, COMPARISON_COLUMNS, title, note)))
    return blocks


def _canonical(data: ReportData) -> list[Block]:
    if data.main.empty:
        return []
    note = (CONVENTIONS + " Card columns are zoo's model cards at the canonical input (ImageNet size for the "
            "ImageNet models; exact counts, each figure's source in docs/reference.md) with the paper's error (%) "
            "on the dataset named; run columns are "
            "what this run measured at CPU scale (width multiplier and input as trained). The paper's error is "
            "context, not a target: it was measured on its own dataset (ImageNet, CIFAR-10, the full MNIST) "
            "after the paper's own training, so a run's lower or higher error does not beat or miss it.")
    return [("h2", "Canonical size vs this run"),
            ("table", display(data.canonical, CANONICAL_COLUMNS, "Paper-size figures beside the run's",
                                     note))]


def _evaluations(data: ReportData) -> list[Block]:
    """Pretrained weights measured on the user's ImageNet folder, beside the source's published figures."""
    ev = data.evaluations
    if ev.empty:
        return []
    note = (CONVENTIONS + " Measured: one view per image (the shorter side resized to 256, the centre 224x224 "
            "crop, the weight source's preprocessing), on the images of the folder (labels from the sub-folders' "
            "WordNet ids); 95% CI: Wilson interval over those images. Published: the source's own figures on the "
            "full ImageNet 2012 validation set (50,000 images); none for a weights file. A published figure outside "
            "the interval differs from the measured one beyond image sampling (another protocol, other images, a "
            "wrong file); one inside it is consistent with it, not proven equal.")
    return [("h2", "Pretrained weights measured on your ImageNet folder")] + [
        ("table", display(group, EVAL_COLUMNS, f"{dataset}: measured on your ImageNet folder", note))
        for (dataset,), group in split_by(ev, ["dataset"])]


def _failures(data: ReportData) -> list[Block]:
    f = data.failures
    blocks: list[Block] = [("h2", "Failed trials")]
    if f.empty:
        return blocks + [("p", "None: every trial finished.")]
    return blocks + [("table", display(f, FAILURE_COLUMNS, f"Trials that did not finish: {len(f)}"))]


def _files(written: list[str], columns) -> list[Block]:
    """The files beside the report, and the meaning of each column results.csv has."""
    rows = [[c, COLUMN_UNITS.get(c, "")] for c in columns]
    links = ", ".join(f"[{name}]({name})" for name in written)
    return [("h2", "Files"),
            ("p", f"Written beside this report: {links}; the figures are PNG and SVG files in {FIGURE_DIR}/. "
                  "results.csv and results.json hold one row per trial (tidy); their columns and units:"),
            ("table", Table("Columns of results.csv / results.json", ["column", "meaning and unit"], rows, ""))]


def _appendix(data: ReportData) -> list[Block]:
    blocks: list[Block] = [("h2", "Appendix: per-layer profiles")]
    if not data.models:
        return blocks + [("p", "No trained model file in the run to profile.")]
    blocks.append(("p", "One table per trained model, folded: layer by layer, its output shape, params, MACs, "
                        "FLOPs, other ops, activations and receptive field. " + PROFILE_NOTE))
    for model, (trial_id, keras_model) in data.models.items():
        table = profile_table(keras_model, f"{model} (trial {trial_id})", note=False)
        blocks.append(("details", f"{table.title}: {len(table.rows) - 1} layers", [("table", table)]))
    return blocks


# -- entry points ----------------------------------------------------------------------------------
def _save(fig: Figure, stem: Path) -> list[Path]:
    paths = []
    for fmt in FORMATS:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=110 if fmt == "png" else None)
        paths.append(path)
    return paths


def _first_line(exc: Exception) -> str:
    """``"TypeName: first line of the message"`` for a note."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def build_report(run_dir: str | Path, *, figures: bool = True, profiles: bool = True) -> Report:
    """Read the run's store and write report.md, report.html, results.csv, results.json and
    figures/*.png|svg into ``run_dir``. Returns a :class:`Report` (paths, counts, notes).

    A figure that cannot be drawn (e.g. a trained model file missing) is left out with a note
    in the report; a missing or corrupt store raises (FileNotFoundError / ValueError).
    """
    run = Path(run_dir)
    every = tables.load_trials(run)
    in_bench = bench_study.is_bench(every)
    bench_only = bool(in_bench.all())  # a bench run: the training sections do not apply
    data = ReportData(run, every if bench_only else every[~in_bench].reset_index(drop=True),
                      bench=every[in_bench].reset_index(drop=True))
    status = every["status"]
    rep = Report(run, done=int((status == "done").sum()), failed=int((status == "failed").sum()),
                 running=int((status == "running").sum()),
                 models=int(every.loc[status == "done", "model"].nunique()))

    results = data.results if bench_only or data.bench.empty else tables.tidy(every)
    csv_path, json_path = run / "results.csv", run / "results.json"
    results.to_csv(csv_path, index=False)
    records = results.astype(object).where(results.notna(), None).to_dict("records")
    json_path.write_text(json.dumps(records, indent=1, default=_json_default) + "\n")

    figure_blocks: list[Block] = []
    bench_figures: list[Block] = []
    if figures and rep.done:
        (run / FIGURE_DIR).mkdir(exist_ok=True)
        for spec in FIGURES:
            is_bench_figure = spec.name.startswith("bench_")
            try:
                fig = None if bench_only and not is_bench_figure else spec.make(data)
            except Exception as exc:  # one broken figure must not cost the whole report
                fig = None
                rep.notes.append(f"figure '{spec.name}' left out: {_first_line(exc)}")
            if fig is None:  # and no stale file from an earlier report stays behind
                for fmt in FORMATS:
                    (run / FIGURE_DIR / f"{spec.name}.{fmt}").unlink(missing_ok=True)
                continue
            rep.paths += _save(fig, run / FIGURE_DIR / spec.name)
            rep.figures.append(spec.name)
            caption = spec.caption(data) if callable(spec.caption) else spec.caption
            (bench_figures if is_bench_figure else figure_blocks).append(("figure", spec.name, caption))

    blocks = _overview(data, rep) + _evaluations(data) + ([] if bench_only else _comparison(data))
    if figure_blocks:
        blocks += [("h2", "Figures")] + figure_blocks
    try:
        blocks += depth_study.section(data)  # [] unless the run has study='depth' trials
    except Exception as exc:
        rep.notes.append(f"depth-study section left out: {_first_line(exc)}")
    try:
        section = bench_study.section(data)  # [] unless the run has study='bench' rows
        blocks += section + (bench_figures if section else [])
    except Exception as exc:
        rep.notes.append(f"bench section left out: {_first_line(exc)}")
    blocks += ([] if bench_only else _canonical(data)) + _failures(data)
    if profiles and rep.done and not bench_only and not data.main.empty:  # trained models (not evaluations only)
        try:
            blocks += _appendix(data)
        except Exception as exc:
            rep.notes.append(f"per-layer profiles left out: {_first_line(exc)}")
    md_path, html_path = run / "report.md", run / "report.html"
    blocks += _files([p.name for p in (md_path, html_path, csv_path, json_path)] + [STORE_NAME], results.columns)
    if rep.notes:
        blocks += [("h2", "Notes"), ("list", list(rep.notes))]
    md_path.write_text(to_markdown(blocks))
    html_path.write_text(to_html(blocks, f"Report: {run.name}"))
    rep.paths = [md_path, html_path, csv_path, json_path] + rep.paths
    return rep


def write_report(run_dir: str | Path, *, figures: bool = True, profiles: bool = True) -> list[Path]:
    """Write the report of the run in ``run_dir`` (see :func:`build_report`); returns the paths written."""
    return build_report(run_dir, figures=figures, profiles=profiles).paths
