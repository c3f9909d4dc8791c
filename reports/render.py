"""Write a run's report: report.md, report.html, results.csv, results.json and figures/.

    import reports
    paths = reports.write_report("runs/x")        # -> [Path(...report.md), ...]

The document is a list of blocks (headings, paragraphs, tables, figures) rendered twice, as
Markdown and as self-contained HTML; figures are PNG (shown) and SVG (linked) in ``figures/``
beside them, so the HTML opens offline. Figures are registered in :data:`FIGURES`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from matplotlib.figure import Figure

from compare.store import STORE_NAME

from . import bench as bench_study
from . import depth as depth_study
from . import plots, ranking, tables
from .document import CONVENTIONS_TITLE, FIGURE_DIR, to_html, to_markdown
from .reference import COLUMN_UNITS, CONVENTIONS
from .tables import Table

__all__ = ["ReportData", "FigureSpec", "FIGURES", "Report", "build_report", "write_report"]

FORMATS = ("png", "svg")


@dataclass
class ReportData:
    """Everything the report is made from, derived once from the run's trials."""

    run_dir: Path
    trials: pd.DataFrame
    bench: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The run's ``python -m compare bench`` rows (study 'bench'), kept out of ``trials`` when the
    run also has training trials."""

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)

    @cached_property
    def results(self) -> pd.DataFrame:
        return tables.tidy(self.trials)

    @cached_property
    def predictions(self) -> dict:
        """Trial id -> (test predictions, labels), as the store keeps them (empty for older stores)."""
        return ranking.load_predictions(self.run_dir) if (self.run_dir / STORE_NAME).is_file() else {}

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Trained models aggregated over seeds (the pretrained-weights evaluations are apart), ranked
        with ties (:func:`reports.ranking.rank`)."""
        trained = self.results[self.results["study"] != tables.EVAL_STUDY]
        return ranking.rank(tables.summarize(trained), trained, self.predictions)

    @cached_property
    def evaluations(self) -> pd.DataFrame:
        return tables.evaluations(self.results)

    @cached_property
    def main(self) -> pd.DataFrame:
        """Summary rows of the main study (all rows when the run has no 'main' study)."""
        main = self.summary[self.summary["study"] == "main"]
        return main if not main.empty else self.summary

    @cached_property
    def curves(self) -> pd.DataFrame:
        """Training histories of the main study (all studies when the run has no 'main' study)."""
        every = tables.curves(self.trials)
        main = every[every["study"] == "main"]
        return main if not main.empty else every

    @cached_property
    def canonical(self) -> pd.DataFrame:
        return tables.canonical(self.main)

    @cached_property
    def failures(self) -> pd.DataFrame:
        return tables.failures(self.results)

    @cached_property
    def models(self) -> dict[str, tuple[int, Any]]:
        """Model name -> (trial id, trained Keras model) of its best trial (lowest validation error)
        whose model file exists; loaded on first use."""
        from .filters import load_trained_model

        if "weights_path" not in self.results.columns:  # no trained model in the run (e.g. evaluations only)
            return {}
        done = self.results[(self.results["status"] == "done") & self.results["weights_path"].notna()]
        out: dict[str, tuple[int, Any]] = {}
        # the model's best trial is chosen on validation error (test error only where none was kept)
        order = [c for c in ("val_err", "top1_err", "id") if c in done.columns]
        for model, group in done.sort_values(order, na_position="last").groupby("model", sort=False):
            best = group.iloc[0]
            try:
                out[model] = (int(best["id"]), load_trained_model(self.run_dir, best["weights_path"]))
            except FileNotFoundError:
                continue
        return out

    def trial(self, trial_id: int) -> pd.Series:
        return self.trials[self.trials["id"] == trial_id].iloc[0]


@dataclass(frozen=True)
class FigureSpec:
    """A report figure: file stem, caption, and ``make(data) -> Figure | None`` (None: not applicable)."""

    name: str
    caption: str | Callable[[ReportData], str]
    make: Callable[[ReportData], Figure | None]


def _explained_model(data: ReportData) -> tuple[int, Any]:
    """The best main-study model whose first layer is a convolution, for the filter figures."""
    from .filters import conv_layers

    if not data.models:
        raise FileNotFoundError("no trained model file (weights_path) found in the run directory")
    for model in data.main.sort_values("top1_err")["model"]:
        if model in data.models and conv_layers(data.models[model][1]):
            return data.models[model]
    raise ValueError("no trained model of the main study has a 2-D convolution")


def _filters(data: ReportData) -> Figure:
    from .filters import plot_filters

    return plot_filters(_explained_model(data)[1])


def _activations(data: ReportData) -> Figure:
    from .filters import plot_activations, test_image

    trial_id, model = _explained_model(data)
    t = data.trial(trial_id)
    config = {**(t["config"] if isinstance(t.get("config"), dict) else {}),
              **{k: t[k] for k in ("dataset", "seed") if k in t and pd.notna(t[k])}}
    raw, x, label, names = test_image(config, tuple(int(d) for d in model.input_shape[1:]))
    return plot_activations(model, x, raw, label, names)


def _pretrained(data: ReportData) -> tuple[str, str, str] | None:
    """(model, weights, label) of the run's evaluated pretrained model whose filters to show:
    AlexNet's when it was evaluated (its conv1 is the picture people know), else the first."""
    r = data.results
    if "weights" not in r.columns:
        return None
    ev = r[(r["study"] == tables.EVAL_STUDY) & (r["status"] == "done") & r["weights"].notna()]
    if ev.empty:
        return None
    row = ev.sort_values("model", key=lambda m: m != "alexnet_owt", kind="stable").iloc[0]
    weights = str(row["weights"])
    label = (f"the weights file {os.path.basename(weights)}" if os.path.sep in weights
             else f"its published ImageNet weights ({weights})")
    return str(row["model"]), weights, label


def _pretrained_filters(data: ReportData) -> Figure | None:
    """First-layer filters of a pretrained model the run evaluated (built with the same weights)."""
    import zoo

    from .filters import plot_filters

    which = _pretrained(data)
    if which is None:
        return None
    model, weights, _ = which
    return plot_filters(zoo.build(model, weights=weights))


def _which(data: ReportData) -> str:
    trial_id, model = _explained_model(data)
    return f"{model.name} (trial {trial_id}, the run's best model with a 2-D convolution)"


RGB_FILTER_MODELS = ("alexnet", "zfnet")
"""Trained models whose first-layer filters get a figure of their own (RGB, enlarged) when the run has them."""


def _own_filters(name: str) -> Callable[[ReportData], Figure | None]:
    def make(data: ReportData) -> Figure | None:
        from .filters import plot_filters

        if name not in data.models or (data.models and _explained_model(data)[0] == data.models[name][0]):
            return None  # not trained in this run, or already the 'filters' figure
        return plot_filters(data.models[name][1])
    return make


def _grey_note(data: ReportData, trial_id: int, model) -> str:
    """For RGB filters trained on grey images (copied to the three input channels): why their
    colours mean nothing."""
    from compare.data import GREY_DATASETS

    rows = data.results[data.results["id"] == trial_id] if "id" in data.results.columns else data.results.iloc[:0]
    dataset = str(rows["dataset"].iloc[0]) if not rows.empty else ""
    if model.inputs[0].shape[-1] != 3 or dataset not in GREY_DATASETS:
        return ""
    return (f" {dataset} is grey: each image reached all three input channels as the same copy, so a filter's colour "
            "planes saw identical inputs and its colours carry no meaning (they are the random initialisation's "
            "differences, trained alike); the pretrained ImageNet filters (python -m compare eval) show colour "
            "learned from colour photographs.")


def _own_filters_caption(name: str) -> Callable[[ReportData], str]:
    def caption(data: ReportData) -> str:
        from .filters import filters_caption

        trial_id, model = data.models[name]
        return (f"First-layer filters of {model.name} as trained in this run (trial {trial_id}): "
                f"{filters_caption(model)}.{_grey_note(data, trial_id, model)}")
    return caption


def _filters_caption(data: ReportData) -> str:
    from .filters import filters_caption

    trial_id, model = _explained_model(data)
    return f"First-layer filters of {_which(data)}: {filters_caption(model)}.{_grey_note(data, trial_id, model)}"


FIGURES: list[FigureSpec] = [
    FigureSpec("error_vs_macs", "Top-1 test error vs MACs per image (log scale); bubble area proportional to "
               "trainable params; error bars: " + plots.INTERVAL_CAPTION,
               lambda d: plots.plot_error_vs_macs(d.main) if not d.main.empty else None),
    FigureSpec("error_vs_depth", "Left: this run's top-1 error vs depth (weighted layers); error bars: "
               + plots.INTERVAL_CAPTION + " Right: "
               + plots.ILSVRC_CAPTION,
               lambda d: plots.plot_error_vs_depth(d.main) if not d.main.empty else None),
    FigureSpec("training_accuracy", "Training (solid) and validation (dashed) accuracy per epoch, one panel per "
               "model, all on one y axis zoomed on the band the curves spend their time in (from the lowest value "
               "in the second half of each curve's epochs to the highest): earlier values below it leave the panel "
               "at the bottom.",
               lambda d: plots.plot_training_curves(d.curves, "accuracy") if not d.curves.empty else None),
    FigureSpec("training_loss", "Training (solid) and validation (dashed) loss per epoch, one panel per model, all "
               "on one logarithmic y axis (comparable across panels).",
               lambda d: plots.plot_training_curves(d.curves, "loss") if not d.curves.empty else None),
    FigureSpec("size", "Trainable params and MACs per model, a dot plot on log scales: this run at CPU scale (blue "
               "dots) and the paper-size figure from zoo's card where it has one (grey squares), joined per model.",
               lambda d: plots.plot_size(d.main, d.canonical) if not d.main.empty else None),
    FigureSpec("filters", _filters_caption, lambda d: _filters(d) if not d.main.empty else None),
    *(FigureSpec(f"filters_{name}", _own_filters_caption(name), _own_filters(name)) for name in RGB_FILTER_MODELS),
    FigureSpec("activations", lambda d: f"Activation maps of {_which(d)} for the first test image of its dataset "
               "(its class and the model's prediction above it), after each of the first two convolutions' "
               "activation; the maps of one layer share one colour scale, shown by the bar at its right.",
               lambda d: _activations(d) if not d.main.empty else None),
    FigureSpec("pretrained_filters",
               lambda d: "First-layer filters of {} with {}, as evaluated above.".format(
                   *(_pretrained(d) or ("?", "", "?"))[::2]) + " Each filter scaled symmetrically around zero "
               "(mid-grey = 0).",
               _pretrained_filters),
]
"""The report's figures, in order. Add a FigureSpec here for a new figure (e.g. the depth study)."""
FIGURES += [FigureSpec(*spec) for spec in depth_study.FIGURES]  # drawn when the run has study='depth' trials
FIGURES += [FigureSpec(*spec) for spec in bench_study.FIGURES]  # drawn when the run has study='bench' rows


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
    blocks: list[Block] = [
        ("h1", f"Report: {data.run_dir.name or data.run_dir}"),
        ("p", f"{len(r)} trials: {rep.done} done, {rep.failed} failed"
              + (f", {rep.running} still marked running (in progress, or interrupted)" if rep.running else "")
              + f". {rep.models} models; datasets: {datasets or '-'}; seeds: {seeds or '-'}. "
              f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} from {STORE_NAME}."),
    ]
    if rep.done == 0:
        blocks.append(("p", f"No trial finished: all {len(r)} trials failed or were interrupted; "
                            "the reasons are listed under 'Failed trials'."))
    elif not data.main.empty and pd.notna(data.main.iloc[0]["top1_err"]):
        best = data.main.iloc[0]
        ci = (f" (95% CI {100 * best['top1_err_lo']:.2f}–{100 * best['top1_err_hi']:.2f}%)"
              if pd.notna(best.get("top1_err_lo")) and pd.notna(best.get("top1_err_hi")) else "")
        text = (f"Lowest top-1 test error: {best['model']} at {100 * best['top1_err']:.2f}%{ci} "
                f"on {best['dataset']} ({tables.fmt_int(best['params'])} params, "
                f"{tables.fmt_int(best['macs'])} MACs).")
        group = data.main[(data.main["dataset"] == best["dataset"]) & (data.main["study"] == best["study"])]
        tied = group[(group.index != group.index[0]) & (group["tied_with_best"] == True)]  # noqa: E712
        if not tied.empty:
            text += (" Not significantly different from it on the same test images (McNemar, p >= 0.05), "
                     "so tied with it in the ranking: " + ", ".join(tied["model"]) + ".")
        elif len(group) > 1 and group["p_vs_best"].iloc[1:].notna().all():
            text += " Every other model's error is significantly higher (McNemar, p < 0.05)."
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
         "learning-rate schedule; the test images are evaluated once, after training. 95% CI: Wilson score interval "
         "of the test error on the test images (with several seeds, at the mean error); 95% CI over seeds: mean ± "
         "t·sd/sqrt(seeds). McNemar p vs best: exact McNemar test of the row against the lowest-error row on the "
         "same test images (paired predictions; with several seeds the largest p). Rank: rows not significantly "
         "different from the best (p >= 0.05) share rank 1, marked '1='; rows with the same error share their rank, "
         "marked '='. Top-5 error is shown only with more than "
         "10 classes. Budget: epochs, batch size, lr (initial), optimizer and schedule, augmentation, recipe, input "
         "and width are those each row was trained with. Times: train (s) = wall time of training; infer = "
         "forward-pass latency in milliseconds per image, at batch 1 and at batch 32.")
    if "n_val" not in data.summary.columns or data.summary["n_val"].isna().any():
        note += (" Rows with '?' validation images were trained before this toolkit kept a validation split: "
                 "their per-epoch validation curves and schedules watched the test images, and without stored "
                 "predictions they have no paired test.")
    for (study, dataset), group in tables.split_by(data.summary, ["study", "dataset"]):
        title = f"{dataset}: one row per model, ranked by top-1 test error" + ("" if study == "main" else f" (study: {study})")
        differ = ranking.budget_note(group)
        if differ:
            blocks.append(("p", differ))
        blocks.append(("table", tables.display(group, tables.COMPARISON_COLUMNS, title, note)))
    return blocks


def _canonical(data: ReportData) -> list[Block]:
    if data.main.empty:
        return []
    note = (CONVENTIONS + " Card columns are zoo's model cards at the canonical input (ImageNet size for the "
            "ImageNet models; exact counts, each figure's source in docs/reference.md) with the paper's error (%) "
            "on the dataset named; run columns are "
            "what this run measured at CPU scale (width multiplier and input as trained).")
    return [("h2", "Canonical size vs this run"),
            ("table", tables.display(data.canonical, tables.CANONICAL_COLUMNS, "Paper-size figures beside the run's",
                                     note))]


def _evaluations(data: ReportData) -> list[Block]:
    """Pretrained weights measured on the user's ImageNet folder, beside the source's published figures."""
    ev = data.evaluations
    if ev.empty:
        return []
    note = (CONVENTIONS + " Measured: one view per image, resized (and centre-cropped) as each weight source's "
            "protocol says, on the images of the folder (labels from the sub-folders' WordNet ids); published: the "
            "source's own figures on the full ImageNet 2012 validation set (50,000 images); none for a weights file.")
    return [("h2", "Pretrained weights measured on your ImageNet folder")] + [
        ("table", tables.display(group, tables.EVAL_COLUMNS, f"{dataset}: measured on your ImageNet folder", note))
        for (dataset,), group in tables.split_by(ev, ["dataset"])]


def _failures(data: ReportData) -> list[Block]:
    f = data.failures
    blocks: list[Block] = [("h2", "Failed trials")]
    if f.empty:
        return blocks + [("p", "None: every trial finished.")]
    return blocks + [("table", tables.display(f, tables.FAILURE_COLUMNS, f"Trials that did not finish: {len(f)}"))]


def _files(written: list[str]) -> list[Block]:
    rows = [[c, u] for c, u in COLUMN_UNITS.items()]
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
                        "FLOPs, other ops, activations and receptive field. " + tables.PROFILE_NOTE))
    for model, (trial_id, keras_model) in data.models.items():
        table = tables.profile_table(keras_model, f"{model} (trial {trial_id})", note=False)
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
    if profiles and rep.done and not bench_only:
        try:
            blocks += _appendix(data)
        except Exception as exc:
            rep.notes.append(f"per-layer profiles left out: {_first_line(exc)}")
    md_path, html_path = run / "report.md", run / "report.html"
    blocks += _files([p.name for p in (md_path, html_path, csv_path, json_path)] + [STORE_NAME])
    if rep.notes:
        blocks += [("h2", "Notes"), ("list", list(rep.notes))]
    md_path.write_text(to_markdown(blocks))
    html_path.write_text(to_html(blocks, f"Report: {run.name}"))
    rep.paths = [md_path, html_path, csv_path, json_path] + rep.paths
    return rep


def write_report(run_dir: str | Path, *, figures: bool = True, profiles: bool = True) -> list[Path]:
    """Write the report of the run in ``run_dir`` (see :func:`build_report`); returns the paths written."""
    return build_report(run_dir, figures=figures, profiles=profiles).paths
