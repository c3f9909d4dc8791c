"""Plots of a run, one function per figure; each takes DataFrames and returns a matplotlib Figure.

The figures are built on ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state, no
display needed). Inputs are the frames of :mod:`reports.tables`: ``summarize()`` for the
per-model plots, ``curves()`` for the training curves, ``reference.ilsvrc_frame()`` for the
ILSVRC history. Point labels are placed by :func:`reports.labels.repel`, a small overlap-removal step.

To add a figure (the depth study, say): write ``plot_<name>(df) -> Figure`` here and register
it in ``render.FIGURES``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from common.text import human_count

from .labels import label_points, repel  # noqa: F401  (repel: re-exported)
from .reference import HUMAN_TOP5, ilsvrc_frame

__all__ = [
    "new_figure", "repel", "label_points", "si", "model_colors",
    "plot_error_vs_macs", "plot_error_vs_depth", "plot_ilsvrc", "plot_training_curves", "plot_size",
]

_METRIC_NAMES = {"top1_err": "top-1 test error (%)", "top5_err": "top-5 test error (%)",
                 "top1_acc": "top-1 test accuracy (%)", "top5_acc": "top-5 test accuracy (%)"}


# -- helpers ---------------------------------------------------------------------------------------

def new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kw) -> tuple[Figure, np.ndarray]:
    """A Figure on the Agg canvas (no pyplot) and its axes as a 2-D array."""
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def model_colors(models: Sequence[str]) -> dict[str, tuple]:
    """One stable colour per model name (sorted names on tab10, tab20 beyond ten)."""
    from matplotlib import colormaps

    names = sorted(set(models))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def _error_bars(ax: Axes, df: pd.DataFrame, xs: Sequence[float], ys: Sequence[float], metric: str) -> None:
    """Error bars of +-1 std (percent) where several seeds give a non-zero spread."""
    std = df.get(f"{metric}_std")
    if std is None:
        return
    keep = (std.fillna(0) > 0).to_numpy()
    if keep.any():
        ax.errorbar(np.asarray(xs, float)[keep], np.asarray(ys, float)[keep], yerr=std[keep] * 100, fmt="none",
                    ecolor="0.3", lw=0.8, capsize=3, zorder=2)


def _set_ylim(ax: Axes, y_pct: Sequence[float], std: pd.Series | None) -> None:
    """Y limits (percent) around the values and their error bars, with room for labels, within 0-100."""
    y = np.asarray(y_pct, float)
    spread = np.zeros_like(y) if std is None else np.nan_to_num(np.asarray(std, float)) * 100
    lo, hi = float((y - spread).min()), float((y + spread).max())
    margin = 0.25 * max(hi - lo, 1.0)
    ax.set_ylim(max(0.0, lo - margin), min(100.0 + margin, hi + margin))


def _caption(fig: Figure, text: str, fontsize: float = 7) -> float:
    """Write ``text`` wrapped to the figure width at its bottom; returns the height fraction used."""
    import textwrap

    chars = int(fig.get_figwidth() * 72 / (fontsize * 0.55))
    lines = textwrap.wrap(text, chars)
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=fontsize, color="0.35", va="bottom")
    return (len(lines) * fontsize * 1.3 + 6) / (fig.get_figheight() * 72)


def _err_label(metric: str) -> str:
    return _METRIC_NAMES.get(metric, metric)


def _point_names(df: pd.DataFrame) -> list[str]:
    """Model names, with width/input added where one model appears more than once."""
    names = []
    counts = df["model"].value_counts()
    for _, r in df.iterrows():
        name = str(r["model"])
        if counts[r["model"]] > 1:
            extra = [f"w={r['width']:g}" if "width" in r and pd.notna(r.get("width")) else "",
                     str(r.get("input_shape") or ""), str(r.get("dataset") or "")]
            name += " (" + ", ".join(e for e in extra if e) + ")"
        names.append(name)
    return names


def _title_suffix(df: pd.DataFrame) -> str:
    datasets = sorted({str(d) for d in df.get("dataset", pd.Series(dtype=object)).dropna()})
    return f" ({', '.join(datasets)})" if datasets else ""


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


# -- figures ---------------------------------------------------------------------------------------

def plot_error_vs_macs(summary: pd.DataFrame, metric: str = "top1_err") -> Figure:
    """Test error vs MACs per image (log x), one bubble per model, area proportional to params.

    ``summary``: rows with model, macs, params, ``metric`` (fraction) and optionally
    ``<metric>_std`` (drawn as error bars).
    """
    fig, axes = new_figure(8.5, 5.0)
    ax = axes[0, 0]
    df = summary.dropna(subset=["macs", metric]).reset_index(drop=True)
    ax.set_title(f"{_err_label(metric).split(' (')[0].capitalize()} vs compute{_title_suffix(df)}")
    ax.set_xlabel("MACs per image (multiply-accumulates, log scale)")
    ax.set_ylabel(_err_label(metric))
    if df.empty:
        _empty(ax, "no finished trial with MACs and error")
        return fig
    colors = model_colors(df["model"])
    pmax = float(df["params"].max()) if df["params"].notna().any() else 1.0
    area = lambda p: 40 + 1500 * (float(p) / pmax if pmax > 0 and pd.notna(p) else 0.0)  # noqa: E731
    y = df[metric] * 100
    _error_bars(ax, df, df["macs"], y, metric)
    areas = np.array([area(p) for p in df["params"]])
    ax.scatter(df["macs"], y, s=areas, c=[colors[m] for m in df["model"]],
               alpha=0.55, edgecolors="k", linewidths=0.6, zorder=3)
    ax.set_xscale("log")
    lo, hi = float(df["macs"].min()), float(df["macs"].max())
    ax.set_xlim(lo / 3, hi * 3)
    _set_ylim(ax, y, df.get(f"{metric}_std"))
    ax.grid(True, which="major", alpha=0.3)
    sizes = sorted({pmax, pmax / 10, pmax / 100}, reverse=True)
    handles = [ax.scatter([], [], s=area(p), color="0.7", edgecolors="k", linewidths=0.6,
                          label=f"{human_count(p)} params") for p in sizes if p >= 1]
    ax.legend(handles=handles, title="bubble area\n= params", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize=8, title_fontsize=8, labelspacing=2.2, borderpad=1.2, frameon=False,
              handlelength=4.0, handletextpad=1.0)
    fig.tight_layout()
    label_points(ax, df["macs"], y, _point_names(df), radii=np.sqrt(areas / np.pi) * fig.dpi / 72)
    return fig


def _draw_ilsvrc(ax: Axes, history: pd.DataFrame) -> None:
    """ILSVRC top-5 error vs weighted layers on ``ax``; 'shallow' at the left edge, 'ensemble' at the right."""
    pos = {"shallow": 2.0, "ensemble": 400.0}
    df = history.copy()
    df["x"] = [float(l) if pd.notna(l) else pos.get(k, np.nan) for l, k in zip(df["layers"], df["kind"])]
    deep = df[df["kind"] == "deep"]
    other = df[df["kind"] != "deep"]
    ax.axhline(HUMAN_TOP5, color="tab:red", ls="--", lw=1, label=f"human ({HUMAN_TOP5:g}%)")
    ax.scatter(deep["x"], deep["top5_err"], s=45, color="tab:blue", zorder=3, label="deep network (weighted layers)")
    ax.scatter(other["x"], other["top5_err"], s=45, facecolors="none", edgecolors="tab:blue", zorder=3,
               label="no single depth (shallow / ensemble)")
    ax.set_xscale("log")
    ax.set_xlim(1.3, 650)
    ax.set_ylim(0, max(30.0, float(df["top5_err"].max()) + 3))
    ax.set_xticks([2, 8, 22, 152, 400])
    ax.set_xticklabels(["shallow", "8", "22", "152", "ensemble"])
    ax.minorticks_off()
    ax.set_xlabel("weighted layers (log scale)")
    ax.set_ylabel("top-5 error (%)")
    ax.set_title("ILSVRC classification winners (ImageNet)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    ax._ilsvrc_points = (df["x"].tolist(), df["top5_err"].tolist(),  # labelled after layout
                         [f"{y} {e} ({t:g})" for y, e, t in zip(df["year"], df["entry"], df["top5_err"])])


ILSVRC_CAPTION = ("ILSVRC entries with no single depth are drawn at the edges: 'shallow' (2010-2011: "
                  "hand-engineered features and linear classifiers, no learned deep layers) at the left, "
                  "'ensemble' (2016 Trimps-Soushen: a mix of networks of different depths) at the right. "
                  "Dashed line: human top-5 error 5.1% (Russakovsky et al.).")


def plot_ilsvrc(history: pd.DataFrame | None = None) -> Figure:
    """The published ILSVRC history alone: top-5 error vs weighted layers, 2010-2017, human line."""
    fig, axes = new_figure(7.0, 5.0)
    ax = axes[0, 0]
    _draw_ilsvrc(ax, ilsvrc_frame() if history is None else history)
    fig.tight_layout(rect=(0, _caption(fig, ILSVRC_CAPTION), 1, 1))
    label_points(ax, *ax._ilsvrc_points, fontsize=7)
    return fig


def plot_error_vs_depth(summary: pd.DataFrame, history: pd.DataFrame | None = None,
                        metric: str = "top1_err") -> Figure:
    """Two panels: this run's error vs depth, and beside it the ILSVRC history (top-5 vs layers)."""
    fig, axes = new_figure(13.0, 5.2, ncols=2, gridspec_kw={"width_ratios": [1, 1.15]})
    ax, ax2 = axes[0]
    df = summary.dropna(subset=["depth", metric]).reset_index(drop=True)
    ax.set_title(f"This run: {_err_label(metric).split(' (')[0]} vs depth{_title_suffix(df)}")
    ax.set_xlabel("depth (weighted layers on the longest path)")
    ax.set_ylabel(_err_label(metric))
    if df.empty:
        _empty(ax, "no finished trial with depth and error")
        xs = ys = names = []
    else:
        colors = model_colors(df["model"])
        xs, ys, names = df["depth"].tolist(), (df[metric] * 100).tolist(), _point_names(df)
        _error_bars(ax, df, xs, ys, metric)
        ax.scatter(xs, ys, s=50, c=[colors[m] for m in df["model"]], edgecolors="k", linewidths=0.6, zorder=3)
        lo, hi = min(xs), max(xs)
        ax.set_xlim(max(0, lo - max(2, 0.3 * (hi - lo))), hi + max(2, 0.3 * (hi - lo)))
        _set_ylim(ax, np.asarray(ys), df.get(f"{metric}_std"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    _draw_ilsvrc(ax2, ilsvrc_frame() if history is None else history)
    fig.tight_layout(rect=(0, _caption(fig, ILSVRC_CAPTION), 1, 1))
    if xs:
        label_points(ax, xs, ys, names)
    label_points(ax2, *ax2._ilsvrc_points, fontsize=7)
    return fig


def plot_training_curves(curves: pd.DataFrame, metric: str = "accuracy") -> Figure:
    """Training (solid) and validation (dashed) ``metric`` per epoch, one panel per model.

    ``curves``: the long frame of :func:`reports.tables.curves`. With several seeds the line is
    the mean and the band spans min to max.
    """
    df = curves[curves["metric"] == metric] if not curves.empty else curves
    keys = ["model", "dataset"] if df.get("dataset") is not None and df["dataset"].nunique() > 1 else ["model"]
    groups = list(df.groupby(keys, sort=True)) if not df.empty else []
    n = max(1, len(groups))
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    accuracy = "acc" in metric
    fig, axes = new_figure(3.4 * ncols + 0.6, 2.7 * nrows + 1.1, ncols=ncols, nrows=nrows, sharey=accuracy)
    unit = "fraction" if accuracy else "mean per image"
    fig.suptitle(f"Training curves: {metric} ({unit}) per epoch\nsolid = training, dashed = validation", fontsize=11)
    colors = model_colors(df["model"]) if not df.empty else {}
    flat = axes.ravel()
    if not groups:
        _empty(flat[0], f"no '{metric}' history recorded")
    for ax, (key, g) in zip(flat, groups):
        model = key[0] if isinstance(key, tuple) else key
        for split, style in (("train", "-"), ("val", "--")):
            s = g[g["split"] == split]
            if s.empty:
                continue
            agg = s.groupby("epoch")["value"].agg(["mean", "min", "max", "count"])
            ax.plot(agg.index, agg["mean"], style, marker="o", ms=3, color=colors[model], label=split)
            if (agg["count"] > 1).any():
                ax.fill_between(agg.index, agg["min"], agg["max"], color=colors[model], alpha=0.15, lw=0)
        seeds = g["seed"].nunique()
        ax.set_title(" · ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
                     + (f" ({seeds} seeds)" if seeds > 1 else ""), fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        epochs = int(g["epoch"].max())
        ax.set_xticks(range(1, epochs + 1, max(1, epochs // 6)))
    for ax in flat[len(groups):] if groups else flat[1:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{metric} ({unit})")
    handles = [Line2D([], [], color="0.2", ls="-", marker="o", ms=3, label="training"),
               Line2D([], [], color="0.2", ls="--", marker="o", ms=3, label="validation")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 0.93))
    return fig


def plot_size(summary: pd.DataFrame, canonical: pd.DataFrame | None = None) -> Figure:
    """Params and MACs per model as horizontal bars on log scales: this run's models and, when
    ``canonical`` (from :func:`reports.tables.canonical`) is given, the paper-size figures beside."""
    df = summary.drop_duplicates("model").reset_index(drop=True)
    if canonical is not None and not canonical.empty:
        df = df.merge(canonical[["model", "card_params", "card_macs"]], on="model", how="left")
    df = df.sort_values("params", na_position="first").reset_index(drop=True)
    fig, axes = new_figure(12.0, 1.2 + 0.45 * max(3, len(df)), ncols=2)
    series = (("params", "card_params", "trainable parameters (count, log scale)", "Parameters per model"),
              ("macs", "card_macs", "MACs per image (multiply-accumulates, log scale)", "MACs per model"))
    ypos = np.arange(len(df))
    has_card = False
    for ax, (col, card_col, xlabel, title) in zip(axes[0], series):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if df.empty or df[col].isna().all():
            _empty(ax, f"no {col} measured")
            continue
        both = card_col in df.columns and df[card_col].notna().any()
        has_card |= both
        h = 0.38 if both else 0.7
        run = ax.barh(ypos + (h / 2 if both else 0), df[col].fillna(0), height=h, color="tab:blue",
                      label="this run (CPU scale)")
        ax.bar_label(run, labels=[human_count(v) for v in df[col]], fontsize=7, padding=2)
        if both:
            paper = ax.barh(ypos - h / 2, df[card_col].fillna(0), height=h, color="tab:gray",
                            label="card size (zoo card, default input)")
            ax.bar_label(paper, labels=[human_count(v) for v in df[card_col]], fontsize=7, padding=2)
        values = pd.concat([df[col], df[card_col]] if both else [df[col]]).dropna()
        values = values[values > 0]
        ax.set_xscale("log")
        if not values.empty:
            ax.set_xlim(values.min() / 3, values.max() * 8)
        ax.set_yticks(ypos)
        ax.set_yticklabels(df["model"])
        ax.grid(True, axis="x", alpha=0.3)
    if has_card:
        axes[0, 1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
