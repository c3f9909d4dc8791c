"""The report's figures: each a :class:`FigureSpec` (file stem, caption, ``make(data)``) in
:data:`FIGURES`, drawn from a :class:`reports.run_data.ReportData`; ``make`` returns None where the
figure does not apply to the run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
from matplotlib.figure import Figure

from . import bench as bench_study
from . import depth as depth_study
from . import plots, tables
from .run_data import ReportData

__all__ = ["FigureSpec", "FIGURES", "RGB_FILTER_MODELS"]


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
    from zoo.weights import NAMED, weights_file

    from .filters import plot_filters

    which = _pretrained(data)
    if which is None:
        return None
    model, weights, _ = which
    if weights in NAMED:  # a report never downloads: the file the evaluation cached, or no figure
        from zoo.weights.download import DownloadError

        try:
            _, weights = weights_file(model, weights, offline=True)
        except DownloadError as exc:
            raise ValueError(f"{exc}; a report does not download") from None
    elif not os.path.isfile(weights):
        raise ValueError(f"the weights file {weights} is gone")
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
    if rows.empty or model.inputs[0].shape[-1] != 3:
        return ""
    dataset = str(rows["dataset"].iloc[0])
    channels = rows["data_channels"].iloc[0] if "data_channels" in rows.columns else None
    # a row stored before data_channels existed: the named grey datasets
    grey = dataset in GREY_DATASETS if channels is None or channels != channels else int(channels) == 1
    if not grey:
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
