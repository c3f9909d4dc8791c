"""Plots of a run, one function per figure; each takes DataFrames and returns a matplotlib Figure.

The figures are built on ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state, no
display needed). Inputs are the frames of :mod:`reports.tables`: ``summarize()`` for the
per-model plots, ``curves()`` for the training curves, ``reference.ilsvrc_frame()`` for the
ILSVRC history. Point labels are placed by :func:`reports.labels.repel`, a small overlap-removal step.

To add a figure (the depth study, say): write ``plot_<name>(df) -> Figure`` here and register
it in ``reports.figures.FIGURES``.
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
    "new_figure", "repel", "label_points", "model_colors",
    "plot_error_vs_macs", "plot_error_vs_depth", "plot_ilsvrc", "plot_training_curves", "plot_size",
]

_METRIC_NAMES = {"top1_err": "top-1 test error (%)", "top5_err": "top-5 test error (%)",
                 "top1_acc": "top-1 test accuracy (%)", "top5_acc": "top-5 test accuracy (%)"}


# -- helpers ---------------------------------------------------------------------------------------

#: What the error bars of the error-vs-MACs and error-vs-depth figures show.
INTERVAL_CAPTION = ("the 95% Wilson interval of the test error on the test images, widened to the 95% t "
                    "interval over seeds where there are several.")


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


def _interval(df: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's 95% interval of ``metric`` (fractions): for top-1 error the Wilson interval on the
    test images, widened to the t interval over seeds where there are several
    (:func:`reports.tables.summarize`); for another metric, +-1 std over seeds. None without either."""
    value = df[metric].to_numpy(float)
    if metric == "top1_err" and "top1_err_lo" in df.columns and "top1_err_hi" in df.columns:
        lo, hi = df["top1_err_lo"].to_numpy(float), df["top1_err_hi"].to_numpy(float)
        if "top1_err_seed_lo" in df.columns and "top1_err_seed_hi" in df.columns:
            lo, hi = np.fmin(lo, df["top1_err_seed_lo"].to_numpy(float)), np.fmax(hi, df["top1_err_seed_hi"].to_numpy(float))
        return np.fmin(lo, value), np.fmax(hi, value)
    std = df.get(f"{metric}_std")
    if std is None:
        return None
    spread = np.nan_to_num(std.to_numpy(float))
    return value - spread, value + spread


def _error_bars(ax: Axes, df: pd.DataFrame, xs: Sequence[float], ys: Sequence[float], metric: str) -> None:
    """Error bars (percent) of each row's interval (:func:`_interval`) where it has one."""
    interval = _interval(df, metric)
    if interval is None:
        return
    lo, hi = interval[0] * 100, interval[1] * 100
    y = np.asarray(ys, float)
    keep = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
    if keep.any():
        ax.errorbar(np.asarray(xs, float)[keep], y[keep], yerr=[(y - lo)[keep], (hi - y)[keep]], fmt="none",
                    ecolor="0.3", lw=0.8, capsize=3, zorder=2)


def _bar_points(df: pd.DataFrame, xs: Sequence[float], metric: str, n: int = 16) -> list[tuple[float, float]]:
    """Points along each row's error bar (percent), for labels to keep off: a label placed on
    another model's bar reads as that model's."""
    interval = _interval(df, metric)
    if interval is None:
        return []
    return [(float(x), float(v)) for x, lo, hi in zip(xs, interval[0] * 100, interval[1] * 100)
            if np.isfinite(lo) and np.isfinite(hi) for v in np.linspace(lo, hi, n)]


def _set_ylim(ax: Axes, df: pd.DataFrame, metric: str) -> None:
    """Y limits (percent) around the values and their error bars, with room for labels, within 0-100."""
    y = df[metric].to_numpy(float) * 100
    interval = _interval(df, metric)
    lo = y if interval is None else np.fmin(y, interval[0] * 100)
    hi = y if interval is None else np.fmax(y, interval[1] * 100)
    lo, hi = float(np.nanmin(lo)), float(np.nanmax(hi))
    margin = 0.25 * max(hi - lo, 1.0)
    ax.set_ylim(max(0.0, lo - margin), min(100.0 + margin, hi + margin))


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

    ``summary``: rows with model, macs, params, ``metric`` (fraction) and optionally its interval
    (drawn as error bars, :func:`_interval`).
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
    _set_ylim(ax, df, metric)
    ax.grid(True, which="major", alpha=0.3)
    sizes = sorted({pmax, pmax / 10, pmax / 100}, reverse=True)
    handles = [ax.scatter([], [], s=area(p), color="0.7", edgecolors="k", linewidths=0.6,
                          label=f"{human_count(p)} params") for p in sizes if p >= 1]
    ax.legend(handles=handles, title="bubble area\n= params", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize=8, title_fontsize=8, labelspacing=2.2, borderpad=1.2, frameon=False,
              handlelength=4.0, handletextpad=1.0)
    fig.tight_layout()
    label_points(ax, df["macs"], y, _point_names(df), radii=np.sqrt(areas / np.pi) * fig.dpi / 72,
                 obstacles=_bar_points(df, df["macs"], metric))
    return fig


ILSVRC_TITLE = "ILSVRC classification winners (and 2014's runner-up, VGG)"
_EDGES = {"shallow": 2.0, "unrecorded": 400.0}  # x of the entries without a deep network's depth


def _draw_ilsvrc(ax: Axes, history: pd.DataFrame) -> None:
    """ILSVRC top-5 error vs weighted layers on ``ax``: every entry at its deepest network's depth,
    'shallow' at the left edge, 'not recorded' at the right; ensembles as diamonds, single systems
    as circles (the same for every entry); runners-up say so in their label."""
    df = history.copy()
    df["x"] = [float(l) if pd.notna(l) else _EDGES.get(k, np.nan) for l, k in zip(df["layers"], df["kind"])]
    ensemble = df["ensemble"].fillna(False).astype(bool) if "ensemble" in df else pd.Series(False, index=df.index)
    ax.axhline(HUMAN_TOP5, color="tab:red", ls="--", lw=1, label=f"human ({HUMAN_TOP5:g}%)")
    ax.scatter(df.loc[~ensemble, "x"], df.loc[~ensemble, "top5_err"], s=45, marker="o", color="tab:blue", zorder=3,
               label="single system")
    ax.scatter(df.loc[ensemble, "x"], df.loc[ensemble, "top5_err"], s=55, marker="D", facecolors="white",
               edgecolors="tab:blue", linewidths=1.5, zorder=3, label="ensemble of networks")
    ax.set_xscale("log")
    ax.set_xlim(1.3, 1300)
    ax.set_ylim(0, max(30.0, float(df["top5_err"].max()) + 3))
    ax.set_xticks([2, 8, 22, 152, 400])
    ax.set_xticklabels(["shallow", "8", "22", "152", "not\nrecorded"])
    ax.minorticks_off()
    ax.set_xlabel("weighted layers of the deepest network (log scale)")
    ax.set_ylabel("top-5 error (%)")
    ax.set_title(ILSVRC_TITLE)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    place = df["place"] if "place" in df else pd.Series(1, index=df.index)
    ax._ilsvrc_points = (df["x"].tolist(), df["top5_err"].tolist(),  # labelled after layout
                         [f"{y} {e}{', 2nd' if p == 2 else ''} ({t:g})"
                          for y, e, t, p in zip(df["year"], df["entry"], df["top5_err"], place)])


ILSVRC_CAPTION = ("ILSVRC classification winners and the 2014 runner-up (VGG), top-5 error on the test set, "
                  "each entry at the depth (weighted layers) of its deepest network. Diamonds are ensembles "
                  "(several networks averaged: every deep entry of 2012-2017, ResNet's 3.57 included), circles "
                  "single systems; 'shallow' (2010-2011: hand-engineered features and linear classifiers) at the "
                  "left edge, 2016 Trimps-Soushen (a mix of networks whose depths are not recorded here) at the "
                  "right. Dashed line: human top-5 error 5.1% (Russakovsky et al.).")

LEADER_RINGS = 2  # the ILSVRC labels stay within two label sizes of their point: no long leader lines


def _label_ilsvrc(ax: Axes) -> list:
    return label_points(ax, *ax._ilsvrc_points, fontsize=7, rings=LEADER_RINGS, obstacles=_human_line(ax))


def _human_line(ax: Axes) -> list[tuple[float, float]]:
    """Points along the human-error line, so labels keep off it."""
    xs = np.geomspace(*ax.get_xlim(), 40)
    return [(x, HUMAN_TOP5) for x in xs]


def plot_ilsvrc(history: pd.DataFrame | None = None) -> Figure:
    """The published ILSVRC history alone: top-5 error vs weighted layers, 2010-2017, human line."""
    fig, axes = new_figure(7.0, 5.0)
    ax = axes[0, 0]
    _draw_ilsvrc(ax, ilsvrc_frame() if history is None else history)
    fig.tight_layout()
    _label_ilsvrc(ax)
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
        _set_ylim(ax, df, metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    _draw_ilsvrc(ax2, ilsvrc_frame() if history is None else history)
    fig.tight_layout()
    if xs:
        label_points(ax, xs, ys, names, obstacles=_bar_points(df, xs, metric))
    _label_ilsvrc(ax2)
    return fig


def accuracy_band(values: pd.DataFrame) -> tuple[float, float]:
    """Y limits (fractions) that zoom on where accuracy curves spend their time: from the lowest value
    in the second half of each curve's epochs (every epoch of a curve with two or fewer) to the
    highest, with a margin, within 0-1. Earlier values below the band (a slow start, such as
    GoogLeNet's first epochs) leave the panel at its bottom edge instead of stretching every panel."""
    keys = [k for k in (("id", "split") if "id" in values.columns else ("model", "dataset", "seed", "split"))
            if k in values.columns]  # one curve: one trial's training or validation series
    last = values.groupby(keys)["epoch"].transform("max") if keys else values["epoch"].max()
    late = values[(values["epoch"] > last / 2) | (last <= 2)]
    lo, hi = float(late["value"].min()), float(values["value"].max())
    margin = 0.08 * max(hi - lo, 0.02)
    return max(0.0, lo - margin), min(1.0 + margin / 2, hi + margin)


def plot_training_curves(curves: pd.DataFrame, metric: str = "accuracy") -> Figure:
    """Training (solid) and validation (dashed) ``metric`` per epoch, one panel per model, on one
    shared y axis: accuracy zoomed on its informative band (:func:`accuracy_band`), loss on a log
    scale (first-epoch and converged losses differ by orders of magnitude).

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
    # one epoch axis for every panel, so a 5-epoch run is not read against a 20-epoch one at the
    # same place in its panel
    fig, axes = new_figure(3.4 * ncols + 0.6, 2.7 * nrows + 0.7, ncols=ncols, nrows=nrows, sharex=True,
                           sharey=True)
    log = not accuracy and not df.empty and bool((df["value"] > 0).all())
    unit = "fraction" if accuracy else "mean per image" + (", log scale" if log else "")
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
        ax.xaxis.set_tick_params(labelbottom=True)  # sharex hides them above the last row
        ax.grid(True, which="both" if log else "major", alpha=0.3)
    if groups:
        epochs = int(df["epoch"].max())
        flat[0].set_xticks(range(1, epochs + 1, max(1, epochs // 6)))
        flat[0].set_xlim(0.5, epochs + 0.5)
    if groups and accuracy:
        flat[0].set_ylim(*accuracy_band(df))
    elif log:
        flat[0].set_yscale("log")
    for ax in flat[len(groups):] if groups else flat[1:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{metric} ({unit})")
    handles = [Line2D([], [], color="0.2", ls="-", marker="o", ms=3, label="training"),
               Line2D([], [], color="0.2", ls="--", marker="o", ms=3, label="validation")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_size(summary: pd.DataFrame, canonical: pd.DataFrame | None = None) -> Figure:
    """Params and MACs per model as a dot plot on log scales (one row per model, no bars from an
    arbitrary baseline): this run's models (blue dots) and, when ``canonical`` (from
    :func:`reports.tables.canonical`) is given, the card's paper-size figure (grey squares) on the same row."""
    df = summary.drop_duplicates("model").reset_index(drop=True)
    if canonical is not None and not canonical.empty:
        df = df.merge(canonical[["model", "card_params", "card_macs"]], on="model", how="left")
    df = df.sort_values("params", na_position="first").reset_index(drop=True)
    fig, axes = new_figure(12.0, 1.3 + 0.42 * max(3, len(df)), ncols=2, sharey=True)
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
        run = df[col].to_numpy(float)
        if both:
            card = df[card_col].to_numpy(float)
            ax.hlines(ypos, np.fmin(run, card), np.fmax(run, card), color="0.8", lw=1.5, zorder=1)
            ax.plot(card, ypos, ls="none", marker="s", ms=7, color="tab:gray", zorder=2,
                    label="card size (zoo card, default input)")
            for x, y in zip(card, ypos):
                if np.isfinite(x):
                    ax.annotate(human_count(x), (x, y), xytext=(0, -11), textcoords="offset points", fontsize=7,
                                ha="center", va="center", color="0.35")
        ax.plot(run, ypos, ls="none", marker="o", ms=7, color="tab:blue", zorder=3, label="this run (CPU scale)")
        for x, y in zip(run, ypos):
            if np.isfinite(x):
                ax.annotate(human_count(x), (x, y), xytext=(0, 10), textcoords="offset points", fontsize=7,
                            ha="center", va="center", color="tab:blue")
        values = pd.concat([df[col], df[card_col]] if both else [df[col]]).dropna()
        values = values[values > 0]
        ax.set_xscale("log")
        if not values.empty:
            ax.set_xlim(values.min() / 3, values.max() * 3)
        ax.set_yticks(ypos)
        ax.set_yticklabels(df["model"])
        ax.set_ylim(-0.7, len(df) - 0.3)
        ax.grid(True, axis="x", which="major", alpha=0.3)
    if has_card:  # below the panels, where it covers no dot
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight() if has_card else 0, 1, 1))
    return fig
