"""The depth study in the report: error vs depth, training curves (as the paper's figure 6) and
a section that says in numbers what the run shows.

The data come from :mod:`compare.depth` (``summarise``, ``curves``, ``findings``) applied to the
run's trials; only trials with config ``study="depth"`` count. :data:`FIGURES` lists the figures as
``(name, caption(data), make(data))``; ``reports/figures.py`` registers them as FigureSpecs, and
:func:`section` gives the report blocks (empty when the run has no depth-study trial).

Reference: He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition (2015), sec. 4.2, fig. 6.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .formatting import Table, fmt_num
from .plots import new_figure

__all__ = ["TRAIN_ERR_DEFINITION", "FIGURES", "study_frames", "published_errors", "plot_depth_errors",
           "plot_depth_curves", "plot_depth_pairs", "section"]

COLORS = {"plain": "tab:red", "residual": "tab:blue"}
LABELS = {"plain": "plain", "residual": "ResNet"}
TRAIN_ERR_DEFINITION = (
    "Final training error, two measures: 'last epoch' = 1 - the last epoch's training accuracy as Keras' "
    "history records it (running mean over that epoch's batches, training mode: BatchNorm batch statistics, "
    "augmentation if any); 'inference' = top-1 error on the whole training set after training, inference mode "
    "(BatchNorm moving statistics, no augmentation), the metric train_err_eval. Test error = top-1 error on "
    "the test split (inference mode). Errors in percent.")


def study_frames(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str, str] | None:
    """(summary, curves, dataset, setting) of the latest depth-study setting in ``trials``, or None."""
    from compare import depth

    latest = depth.latest_setting(trials)
    if latest is None:
        return None
    dataset, setting = latest
    s, c = depth.summarise(trials), depth.curves(trials)
    pick = lambda df: df[(df["dataset"] == dataset) & (df["setting"] == setting)]  # noqa: E731
    return pick(s).reset_index(drop=True), pick(c).reset_index(drop=True), dataset, setting


def published_errors(depths: list[int]) -> dict[int, float]:
    """Depth -> the paper's CIFAR-10 test error (%) of resnet<depth>, from zoo's cards (where published)."""
    import zoo

    out = {}
    for d in depths:
        try:
            err = zoo.card(f"resnet{d}").top1_err
        except KeyError:
            continue
        if err is not None:
            out[int(d)] = float(err)
    return out


# -- figures -----------------------------------------------------------------------------------------

def _series(ax, df: pd.DataFrame, col: str, kind: str, **style) -> None:
    s = df[df["kind"] == kind].sort_values("depth")
    if s.empty or s[col].isna().all():
        return
    y = s[col].to_numpy(float) * 100
    ax.plot(s["depth"], y, color=COLORS[kind], marker="o", **style)
    std = s.get(f"{col}_std")
    if std is not None and (std.fillna(0) > 0).any():
        ax.errorbar(s["depth"], y, yerr=std.fillna(0).to_numpy(float) * 100, fmt="none", ecolor=COLORS[kind],
                    lw=0.8, capsize=3)


def plot_depth_errors(summary: pd.DataFrame, dataset: str, setting: str) -> Figure:
    """Left: final training error vs depth (solid: inference mode on the training set; dashed: last
    epoch, training mode). Right: test error vs depth, with the paper's published ResNet errors as a
    reference series when the dataset is cifar10. One line for plain nets, one for ResNets."""
    fig, axes = new_figure(11, 4.6, ncols=2)
    left, right = axes[0]
    for kind in ("plain", "residual"):
        _series(left, summary, "train_err_eval", kind, ls="-", label=f"{LABELS[kind]}: inference mode")
        _series(left, summary, "train_err", kind, ls="--", lw=1, ms=4, alpha=0.8,
                label=f"{LABELS[kind]}: last epoch, training mode")
        _series(right, summary, "test_err", kind, ls="-", label=LABELS[kind])
    depths = sorted(int(d) for d in summary["depth"].unique())
    if dataset == "cifar10":
        ref = published_errors(depths)
        if ref:
            right.plot(list(ref), list(ref.values()), color="0.3", ls=":", marker="x",
                       label="He et al. 2015 ResNet, CIFAR-10 test (published)")
    for ax, title in ((left, "final training error"), (right, "test error")):
        ax.set_xticks(depths)
        ax.set_xlabel("depth (weighted layers, 6n+2)")
        ax.set_ylabel(f"{title} (%)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()  # the setting and the definitions are in the report's caption
    return fig


def _mean_curves(curves: pd.DataFrame) -> pd.DataFrame:
    return curves.groupby(["kind", "depth", "epoch"], as_index=False)[["train_err", "val_err"]].mean()


def plot_depth_curves(curves: pd.DataFrame, setting: str) -> Figure:
    """The paper's figure 6 layout: plain nets left, ResNets right; one colour per depth; training
    error (last epoch's running mean, training mode) thin solid, validation error bold dashed, per epoch."""
    from matplotlib import colormaps

    df = _mean_curves(curves)
    depths = sorted(int(d) for d in df["depth"].unique())
    cmap = colormaps["viridis"]
    color = {d: cmap(i / max(1, len(depths) - 1) * 0.9) for i, d in enumerate(depths)}
    fig, axes = new_figure(11, 4.6, ncols=2, sharey=True)
    top = max(1.0, float(np.nanmax(df[["train_err", "val_err"]].to_numpy(float))) * 100) if not df.empty else 1.0
    for ax, kind in zip(axes[0], ("plain", "residual")):
        for d in depths:
            g = df[(df["kind"] == kind) & (df["depth"] == d)]
            if g.empty:
                continue
            ax.plot(g["epoch"], g["train_err"] * 100, color=color[d], lw=1, label=f"{LABELS[kind]}-{d}")
            ax.plot(g["epoch"], g["val_err"] * 100, color=color[d], lw=2.2, ls="--")
        ax.set_title(f"{LABELS[kind]} nets", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, top * 1.05)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[0][0].set_ylabel("error (%)")
    fig.tight_layout()  # the setting and the definitions are in the report's caption
    return fig


def plot_depth_pairs(curves: pd.DataFrame, setting: str) -> Figure:
    """One panel per depth, side by side: plain (red) vs ResNet (blue); training error solid,
    validation error dashed, per epoch (means over seeds)."""
    df = _mean_curves(curves)
    depths = sorted(int(d) for d in df["depth"].unique()) or [0]
    ncols = min(4, len(depths))
    nrows = math.ceil(len(depths) / ncols)
    fig, axes = new_figure(3.2 * ncols + 0.6, 2.8 * nrows + 1.3, ncols=ncols, nrows=nrows, sharey=True)
    flat = axes.ravel()
    top = max(1.0, float(np.nanmax(df[["train_err", "val_err"]].to_numpy(float))) * 100) if not df.empty else 1.0
    for ax, d in zip(flat, depths):
        for kind in ("plain", "residual"):
            g = df[(df["kind"] == kind) & (df["depth"] == d)]
            ax.plot(g["epoch"], g["train_err"] * 100, color=COLORS[kind], lw=1.2)
            ax.plot(g["epoch"], g["val_err"] * 100, color=COLORS[kind], lw=1.2, ls="--")
        ax.set_title(f"depth {d}", fontsize=9)
        ax.set_ylim(0, top * 1.05)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    for ax in flat[len(depths):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("error (%)")
    handles = [Line2D([], [], color=COLORS["plain"], label="plain"),
               Line2D([], [], color=COLORS["residual"], label="ResNet"),
               Line2D([], [], color="0.3", label="training (last-epoch running, training mode)"),
               Line2D([], [], color="0.3", ls="--", label="validation")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _make(kind: str) -> Callable[[Any], Figure | None]:
    def make(data) -> Figure | None:
        frames = study_frames(data.trials)
        if frames is None:
            return None
        summary, curves, dataset, setting = frames
        if kind == "errors":
            return plot_depth_errors(summary, dataset, setting)
        return plot_depth_curves(curves, setting) if kind == "curves" else plot_depth_pairs(curves, setting)
    return make


def _caption_for(text: str) -> Callable[[Any], str]:
    def caption(data) -> str:
        frames = study_frames(data.trials)
        return text + (f" Setting: {frames[3]}." if frames else "")
    return caption


#: (name, caption(data), make(data)) of the depth-study figures; reports/figures.py wraps them as FigureSpecs.
FIGURES: list[tuple[str, Callable, Callable]] = [
    ("depth_errors", _caption_for(
        "Depth study: final training error (left; solid = training set in inference mode, dashed = last epoch's "
        "running accuracy in training mode) and test error (right) vs depth, plain nets (red) vs ResNets (blue); "
        "on cifar10 the paper's published ResNet test errors (zoo cards) as a dotted reference. One point per net "
        "and depth: the mean over seeds, without error bars."), _make("errors")),
    ("depth_curves", _caption_for(
        "Depth study, as the paper's figure 6: plain nets (left) and ResNets (right), one colour per depth; thin = "
        "training error (per-epoch running mean, training mode), bold dashed = validation error."), _make("curves")),
    ("depth_pairs", _caption_for(
        "Depth study, one panel per depth: plain (red) vs ResNet (blue); training error solid, validation error dashed."),
     _make("pairs")),
]


# -- section -------------------------------------------------------------------------------------------

def _pct(row: pd.Series | None, col: str) -> str:
    if row is None:
        return ""
    return fmt_num(row.get(col), row.get(f"{col}_std"), 2, scale=100.0)


def _test_pct(row: pd.Series | None) -> str:
    """The test error with its 95% Wilson interval on the test images (at the mean over seeds)."""
    from compare.stats import wilson_rate

    text = _pct(row, "test_err")
    n, err = (row.get("n_test"), row.get("test_err")) if row is not None else (None, None)
    if not text or n is None or err is None or pd.isna(n) or pd.isna(err) or n < 1:
        return text
    lo, hi = wilson_rate(err, n)
    return f"{text} ({lo * 100:.2f}–{hi * 100:.2f})"


def _table(summary: pd.DataFrame, dataset: str) -> Table:
    depths = sorted(int(d) for d in summary["depth"].unique())
    ref = published_errors(depths) if dataset == "cifar10" else {}
    columns = ["depth", "params", "plain: train, last epoch", "plain: train, inference", "plain: test",
               "ResNet: train, last epoch", "ResNet: train, inference", "ResNet: test"]
    if ref:
        columns.append("paper ResNet CIFAR-10 test")
    rows = []
    for d in depths:
        pick = {k: summary[(summary["depth"] == d) & (summary["kind"] == k)] for k in ("plain", "residual")}
        first = {k: (v.iloc[0] if not v.empty else None) for k, v in pick.items()}
        params = next((r["params"] for r in first.values() if r is not None), None)
        row = [str(d), "" if params is None or pd.isna(params) else f"{int(params):,}"]
        for k in ("plain", "residual"):
            row += [_pct(first[k], "train_err"), _pct(first[k], "train_err_eval"), _test_pct(first[k])]
        if ref:
            row.append(f"{ref[d]:.2f}" if d in ref else "")
        rows.append(row)
    seeds = int(summary["seeds"].max()) if not summary.empty else 0
    note = (TRAIN_ERR_DEFINITION + " Test errors carry their 95% Wilson interval on the test images (in "
            "parentheses)." + (" Values are mean ± std over seeds." if seeds > 1 else "")
            + " params = trainable parameters at the trained width and input (plain and ResNet are equal: "
              "option-A shortcuts have none).")
    return Table("Per-depth errors (%)", columns, rows, note, right=set(range(1, len(columns))))


def _scale(trials: pd.DataFrame, summary: pd.DataFrame) -> str:
    """How much training each net had, beside the paper's 64k iterations at batch 128."""
    from compare.depth import STUDY

    in_study = trials["config"].map(lambda c: isinstance(c, dict) and c.get("study") == STUDY)
    rows = trials[in_study & trials["model"].isin(summary["model"]) & (trials["status"] == "done")]
    cfg = rows["config"].map(lambda c: c if isinstance(c, dict) else {})
    steps = sorted({int(c.get("epochs") or 0) * math.ceil(int(m.get("n_train") or 0) / max(1, int(m.get("batch_size") or 1)))
                    for c, m in zip(cfg, rows["metrics"].map(lambda m: m if isinstance(m, dict) else {}))})
    n = sorted({int(m.get("n_train") or 0) for m in rows["metrics"] if isinstance(m, dict)})
    return (f"Scale: {', '.join(map(str, steps))} optimisation steps per net on {', '.join(map(str, n))} training "
            "images (the paper: 64k steps of batch 128 on 50k CIFAR-10 images). At a small budget the training "
            "error mostly measures how fast a net starts to learn; deep plain nets converge slowly (the paper conjectures "
            "exponentially low convergence rates), so the gap here can be far wider than the paper's after full "
            "training. The inference-mode error also depends on BatchNorm's moving statistics having caught up.")


def section(data) -> list[tuple]:
    """Report blocks of the depth study (``[]`` when the run has no finished depth-study trial)."""
    from compare import depth

    frames = study_frames(data.trials)
    if frames is None:
        return []
    summary, _curves, dataset, setting = frames
    t = data.trials
    in_study = t["config"].map(lambda c: isinstance(c, dict) and c.get("study") == depth.STUDY)
    seeds = sorted({int(s) for s in t.loc[in_study & t["model"].isin(summary["model"]), "seed"].dropna()})
    blocks: list[tuple] = [
        ("h2", "Depth study: plain vs residual nets"),
        ("p", f"Plain nets and ResNets (CIFAR family, depth 6n+2) trained with one recipe and the same seeds "
              f"({', '.join(map(str, seeds))}) at depths {', '.join(str(int(d)) for d in sorted(summary['depth'].unique()))}. "
              f"Setting: {setting}. He et al. (2015, fig. 6) found deeper plain nets reach a higher training error "
              "(degradation) and deeper ResNets a lower one."),
        ("table", _table(summary, dataset)),
        ("p", _scale(data.trials, summary)),
        ("p", "What the run shows (training set in inference mode):"),
        ("list", depth.findings(summary, "train_err_eval")),
        ("p", "The same by the last epoch's running training error (training mode):"),
        ("list", depth.findings(summary, "train_err", test=False)),
    ]
    others = depth.summarise(data.trials)
    others = others[~((others["dataset"] == dataset) & (others["setting"] == setting))]
    if not others.empty:
        blocks.append(("p", "Also in this store, not drawn: depth-study trials with other settings: "
                            + "; ".join(sorted(set(others["setting"]))) + "."))
    return blocks
