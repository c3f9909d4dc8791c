"""The inference benchmark (``python -m compare bench``) in the report: a table of the rows and
five figures (accuracy vs MACs, accuracy per million parameters, throughput and peak memory vs
batch size, share of the machine's matmul peak).

Only trials with config ``study="bench"`` count (:func:`is_bench`). The accuracy figures use each
model's published accuracy: the top-1 of its first published weight source on its card
(``card.weights[0].top1``, ImageNet val), else ``100 - card.top1_err`` (the paper's error, on
``card.err_dataset``); models with neither are left out. :data:`FIGURES` lists
``(name, caption(data), make(data))``; reports/figures.py registers them as FigureSpecs, and :func:`section` gives the
report blocks (empty when the run has no bench row).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from common.text import counted

from .formatting import Table
from .plots import model_colors, new_figure

__all__ = ["STUDY", "is_bench", "rows", "accuracy", "plot_accuracy_vs_macs", "plot_accuracy_per_param",
           "plot_throughput", "plot_memory", "plot_pct_peak", "FIGURES", "section", "ROW_COLUMNS"]

STUDY = "bench"
ROW_COLUMNS = ["id", "model", "mode", "batch_size", "status", "reason", "img_per_s", "latency_ms", "peak_mem_mb", "gflops",
               "pct_peak", "time_ms", "params", "macs", "peak_gflops", "peak_numpy_gflops", "base_mem_mb",
               "input_shape", "repeats", "speedup_vs_fp32", "max_logit_change", "max_abs_logit_fp32"]


def is_bench(trials: pd.DataFrame) -> pd.Series:
    """Boolean mask of the bench rows among ``trials`` (config ``study == "bench"``)."""
    if trials.empty or "config" not in trials.columns:
        return pd.Series(False, index=trials.index)
    return trials["config"].map(lambda c: isinstance(c, dict) and c.get("study") == STUDY)


def rows(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per bench trial (any status): :data:`ROW_COLUMNS`, numbers as floats, sorted by
    the card's MACs, model, batch size."""
    import zoo

    out = []
    for _, t in trials[is_bench(trials)].iterrows():
        cfg, m = t["config"], t["metrics"] if isinstance(t["metrics"], dict) else {}
        card = zoo.card(cfg["model"])
        mode = cfg.get("mode", "inference") + ("" if cfg.get("dtype", "float32") == "float32" else f", {cfg['dtype']}")
        out.append({"id": int(t["id"]), "model": cfg["model"], "mode": mode,
                    "batch_size": int(cfg["batch_size"]),
                    "status": t["status"], "reason": t["reason"] if isinstance(t["reason"], str) else "",
                    **{k: m.get(k) for k in ROW_COLUMNS[6:13]}, "params": m.get("params", card.params),
                    "macs": m.get("macs", card.macs), "peak_gflops": m.get("peak_gflops"),
                    "peak_numpy_gflops": m.get("peak_numpy_gflops"),
                    "base_mem_mb": m.get("base_mem_mb"), "input_shape": "x".join(map(str, cfg["input_shape"])),
                    "repeats": m.get("repeats"), "speedup_vs_fp32": m.get("speedup_vs_fp32"),
                    "max_logit_change": m.get("max_logit_change"), "max_abs_logit_fp32": m.get("max_abs_logit_fp32")})
    df = pd.DataFrame(out, columns=ROW_COLUMNS)
    for col in ROW_COLUMNS[6:]:
        if col != "input_shape":
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df.sort_values(["mode", "macs", "model", "batch_size"]).reset_index(drop=True)


MEASURED = "measured"


def accuracy(models: list[str], evaluations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Top-1 accuracy (%) of each model with one: model, top1, source (text), dataset, params, macs
    (the card's, paper size). Measured where ``evaluations`` (:func:`reports.tables.evaluations`)
    has the model's published weights evaluated on the user's folder (the row with the most images;
    source ``"measured"``), else published: the card's first weight source's top-1, else 100 - its
    paper top-1 error. Models with none of these are left out."""
    import zoo

    out = []
    ev = evaluations if evaluations is not None else pd.DataFrame(columns=["model"])
    for name in dict.fromkeys(models):
        card = zoo.card(name)
        mine = ev[(ev["model"] == name) & ev["source"].isin([w.source for w in card.weights])] if len(ev) else ev
        if len(mine):
            r = mine.sort_values("n_images", kind="stable").iloc[-1]
            out.append(dict(model=name, top1=100.0 * float(r["top1_acc"]), source=MEASURED,
                            dataset=f"{int(r['n_images']):,} images of {r['dataset']} ({r['source']} weights)",
                            params=card.params, macs=card.macs))
        elif card.weights:
            w = card.weights[0]
            out.append(dict(model=name, top1=float(w.top1), source=f"{w.source} weights", dataset="ImageNet val",
                            params=card.params, macs=card.macs))
        elif card.top1_err is not None:
            out.append(dict(model=name, top1=100.0 - float(card.top1_err), source="100 - paper top-1 error",
                            dataset=card.err_dataset or "?", params=card.params, macs=card.macs))
    return pd.DataFrame(out, columns=["model", "top1", "source", "dataset", "params", "macs"])


def _done(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "done"]


def _drawn(df: pd.DataFrame) -> pd.DataFrame:
    """The rows the per-batch figures draw, all of one mode so that no line joins two: the float32
    inference rows, else the training-step rows, else the first other mode measured (a bfloat16
    row's mode reads "inference, bfloat16")."""
    modes = list(dict.fromkeys(_done(df)["mode"]))
    for mode in ("inference", "train", *sorted(modes)):
        if mode in modes:
            return df[df["mode"] == mode]
    return df


def _mode_title(df: pd.DataFrame) -> str:
    """"Inference", "Training-step" or "Inference (bfloat16)": what the drawn rows time."""
    mode = str(_done(df)["mode"].iloc[0]) if not _done(df).empty else "inference"
    kind, _, dtype = mode.partition(", ")
    return ("Training-step" if kind == "train" else "Inference") + (f" ({dtype})" if dtype else "")


def _label(r) -> str:
    if r["source"] == MEASURED:
        return f"{r['model']} (measured)"
    return r["model"] if r["dataset"] == "ImageNet val" else f"{r['model']} ({r['dataset']})"


# -- figures ----------------------------------------------------------------------------------------

def plot_accuracy_vs_macs(acc: pd.DataFrame, colors: dict | None = None) -> Figure:
    """Top-1 accuracy (published, or measured where :func:`accuracy` says so) vs MACs per image (log x);
    bubble area proportional to params; measured points labelled "(measured)"."""
    from common.text import human_count

    from .plots import label_points

    fig, axes = new_figure(9, 5.4)
    ax = axes[0][0]
    colors = colors or model_colors(acc["model"])
    pmax = max(1.0, float(acc["params"].max()))

    def area(p: float) -> float:
        return max(12.0, 1500.0 * p / pmax)

    areas = np.array([area(p) for p in acc["params"]])
    ax.scatter(acc["macs"], acc["top1"], s=areas, c=[colors[m] for m in acc["model"]], alpha=0.55,
               edgecolors="k", linewidths=0.6, zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("MACs per image (paper input, log scale)")
    ax.set_ylabel("top-1 accuracy (%)" + (", measured where marked" if (acc["source"] == MEASURED).any()
                                          else ", published"))
    lo, hi = float(acc["top1"].min()), float(acc["top1"].max())
    ax.set_ylim(lo - 0.2 * max(hi - lo, 2) - 1, hi + 0.2 * max(hi - lo, 2) + 1)
    ax.set_xlim(float(acc["macs"].min()) / 3, float(acc["macs"].max()) * 3)
    ax.grid(True, which="major", alpha=0.3)
    handles = [ax.scatter([], [], s=area(p), color="0.7", edgecolors="k", linewidths=0.6,
                          label=f"{human_count(p)} params") for p in sorted({pmax, pmax / 10}, reverse=True)]
    ax.legend(handles=handles, title="bubble area\n= params", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize=8, title_fontsize=8, labelspacing=2.2, borderpad=1.2, frameon=False, handlelength=4.0)
    ax.set_title("Top-1 accuracy vs MACs (bubble area = params)", fontsize=10)
    fig.tight_layout()
    label_points(ax, acc["macs"], acc["top1"], [_label(r) for _, r in acc.iterrows()],
                 radii=np.sqrt(areas / np.pi) * fig.dpi / 72)
    return fig


def plot_accuracy_per_param(acc: pd.DataFrame, colors: dict | None = None) -> Figure:
    """Top-1 accuracy (%) per million trainable parameters, one bar per model (log y)."""
    df = acc.assign(per_m=acc["top1"] / (acc["params"] / 1e6)).sort_values("per_m", ascending=False)
    fig, axes = new_figure(8, 4.6)
    ax = axes[0][0]
    colors = colors or model_colors(acc["model"])
    ax.bar([_label(r) for _, r in df.iterrows()], df["per_m"], color=[colors[m] for m in df["model"]])
    for i, v in enumerate(df["per_m"]):
        ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("top-1 accuracy (%) per million params (log)")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.set_title("Accuracy per million parameters", fontsize=10)
    fig.tight_layout()
    return fig


def _per_batch(df: pd.DataFrame, col: str, ylabel: str, title: str, logy: bool) -> Figure:
    d = _done(df)
    fig, axes = new_figure(8, 5.2)
    ax = axes[0][0]
    colors = model_colors(d["model"])
    order = d.groupby("model", sort=False)["macs"].first().sort_values().index
    for model in order:
        g = d[d["model"] == model].sort_values("batch_size")
        ax.plot(g["batch_size"], g[col], marker="o", color=colors[model], label=model)
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    sizes = sorted(int(b) for b in d["batch_size"].unique())
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(b) for b in sizes])
    ax.set_xlabel("batch size (log scale)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_throughput(df: pd.DataFrame) -> Figure:
    """Images per second vs batch size, log-log, one line per model (``df``: rows of one mode)."""
    return _per_batch(df, "img_per_s", "images per second (log scale)", f"{_mode_title(df)} throughput vs batch size",
                      True)


def plot_memory(df: pd.DataFrame) -> Figure:
    """Peak resident memory (MB) vs batch size (log x), one line per model (``df``: rows of one mode)."""
    return _per_batch(df, "peak_mem_mb", "peak resident memory (MB)", f"{_mode_title(df)}: peak memory vs batch size",
                      False)


def plot_pct_peak(df: pd.DataFrame) -> Figure:
    """Achieved GFLOP/s as % of the machine's fp32 matmul peak: bars per model, one per batch size."""
    d = _done(df)
    models = list(d.groupby("model", sort=False)["macs"].first().sort_values().index)
    sizes = sorted(int(b) for b in d["batch_size"].unique())
    fig, axes = new_figure(max(8, 0.8 * len(models) + 2), 4.8)
    ax = axes[0][0]
    width = 0.8 / max(1, len(sizes))
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for j, b in enumerate(sizes):
        vals = [d[(d["model"] == m) & (d["batch_size"] == b)]["pct_peak"] for m in models]
        ys = [float(v.iloc[0]) if len(v) else math.nan for v in vals]
        ax.bar(np.arange(len(models)) + (j - (len(sizes) - 1) / 2) * width, ys, width,
               color=cmap(j / max(1, len(sizes) - 1) * 0.85), label=f"batch {b}")
    ax.axhline(100, color="0.3", ls="--", lw=1)
    ax.set_xticks(np.arange(len(models)))
    ax.set_xticklabels(models, rotation=30, fontsize=8)
    ax.set_ylabel("% of fp32 matmul peak")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{_mode_title(df)}: share of the machine's fp32 matmul peak", fontsize=10)
    fig.tight_layout()
    return fig


def _bench(data) -> pd.DataFrame:
    return rows(data.bench)


def _acc(data) -> pd.DataFrame | None:
    evaluations = getattr(data, "evaluations", None)
    acc = accuracy(list(_bench(data)["model"]), evaluations if isinstance(evaluations, pd.DataFrame) else None)
    return None if acc.empty else acc


def _peak_text(df: pd.DataFrame) -> str:
    p = _done(df)["peak_gflops"].dropna()
    return "" if p.empty else f" Machine peak: {float(p.iloc[0]):.1f} GFLOP/s (float32 2048x2048 tf.matmul, median)."


def _acc_caption(prefix: str) -> Callable[[Any], str]:
    def caption(data) -> str:
        acc = _acc(data)
        models = list(dict.fromkeys(_bench(data)["model"]))
        if acc is None:
            return prefix
        by = {s: [m for m, src in zip(acc["model"], acc["source"]) if src == s] for s in dict.fromkeys(acc["source"])}
        parts = []
        for s, ms in by.items():
            if s == MEASURED:
                ds = "; ".join(f"{m}: {d}" for m, d in zip(acc["model"], acc["dataset"]) if m in ms)
                parts.append(f"measured by python -m compare eval for {', '.join(ms)} ({ds}; their 95% intervals "
                             "are in the evaluation table), marked (measured)")
            elif s == "100 - paper top-1 error":
                ds = ", ".join(f"{m}: {d}" for m, d in zip(acc["model"], acc["dataset"]) if m in ms)
                parts.append(f"100 - the card's published top-1 error for {', '.join(ms)} (no published weights; "
                             f"dataset {ds})")
            else:
                parts.append(f"the card's first published weight source's top-1 (card.weights[0].top1, {s}, "
                             f"ImageNet 2012 val) for {', '.join(ms)}")
        left = [m for m in models if m not in set(acc["model"])]
        text = prefix + " Accuracy: " + "; ".join(parts) + "."
        if left:
            text += f" Left out (neither published weights nor a top-1 error on the card): {', '.join(left)}."
        return text + " MACs and params are the cards' at the paper input."
    return caption


def _make(kind: str) -> Callable[[Any], Figure | None]:
    def make(data) -> Figure | None:
        df = _bench(data)
        if df.empty or _done(df).empty:
            return None
        if kind in ("acc_macs", "acc_param"):
            acc = _acc(data)
            if acc is None:
                return None
            colors = model_colors(df["model"])  # the same colour per model in every bench figure
            return (plot_accuracy_vs_macs if kind == "acc_macs" else plot_accuracy_per_param)(acc, colors)
        return {"throughput": plot_throughput, "memory": plot_memory, "pct_peak": plot_pct_peak}[kind](_drawn(df))
    return make


def _drawn_text(data) -> str:
    """The caption's clause on which rows the per-batch figures draw (one mode of those measured)."""
    df = _bench(data)
    modes = list(dict.fromkeys(_done(df)["mode"])) if not df.empty else []
    if len(modes) <= 1:
        return f"; {modes[0] if modes else 'inference'} rows"
    drawn = str(_done(_drawn(df))["mode"].iloc[0])
    return f"; {drawn} rows only (the run also measured {', '.join(m for m in modes if m != drawn)}: see the table)"


#: (name, caption(data), make(data)) of the bench figures; reports/figures.py wraps them as FigureSpecs.
FIGURES: list[tuple[str, Callable, Callable]] = [
    ("bench_accuracy_vs_macs", _acc_caption(
        "Top-1 accuracy vs multiply-accumulates per image (log scale); bubble area proportional to "
        "trainable params."), _make("acc_macs")),
    ("bench_accuracy_per_param", _acc_caption(
        "Top-1 accuracy (%) per million trainable parameters (log scale)."), _make("acc_param")),
    ("bench_throughput", lambda d: "Throughput (images per second) vs batch size, log-log, one line per model, at "
     "the paper input, median of the timed runs" + _drawn_text(d) + "." + _peak_text(_bench(d)),
     _make("throughput")),
    ("bench_memory", lambda d: "Peak resident memory (MB) of the measuring process vs batch size (a fresh process "
     "per model; the peak is reset before each batch size, so it holds the TensorFlow runtime, the weights and "
     "that batch's activations)" + _drawn_text(d) + ".", _make("memory")),
    ("bench_pct_peak", lambda d: "Achieved GFLOP/s (2 x MACs x batch / time, x 3 for a training step) as a share of "
     "this machine's float32 matrix-multiply peak, per model and batch size; the dashed line is 100%"
     + _drawn_text(d) + "." + _peak_text(_bench(d)), _make("pct_peak")),
]


# -- section ---------------------------------------------------------------------------------------

def _f(v: Any, digits: int) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):,.{digits}f}"


def _machine(trials: pd.DataFrame) -> str:
    b = trials[is_bench(trials) & (trials["status"] == "done")]
    for m in b["metrics"]:
        v = m.get("versions") if isinstance(m, dict) else None
        if isinstance(v, dict) and v:
            text = (f"Machine: {v.get('cpu_model') or v.get('machine')}, {v.get('cpus')} CPU core(s); "
                    f"Python {v.get('python')}, TensorFlow {v.get('tensorflow')}, Keras {v.get('keras')}.")
            return text
    return ""


def _loads(trials: pd.DataFrame) -> str:
    b = trials[is_bench(trials) & (trials["status"] == "done")]
    loads = [float(m["load_avg"][0]) for m in b["metrics"] if isinstance(m, dict) and m.get("load_avg")]
    if not loads:
        return ""
    return (f" 1-minute load average while measuring: {min(loads):.1f}-{max(loads):.1f} (a load above the core "
            "count means other work shared the cores and the times are longer than on a quiet machine).")


def section(data) -> list[tuple]:
    """Report blocks of the bench (``[]`` when the run has no bench row)."""
    from compare.bench import METHOD, TRAIN_METHOD

    df = _bench(data)
    if df.empty:
        return []
    done = _done(df)
    table_rows = [[r["model"], r["mode"], r["input_shape"], str(int(r["batch_size"])), _f(r["img_per_s"], 1),
                   _f(r["latency_ms"], 2), _f(r["peak_mem_mb"], 0), _f(r["gflops"], 2), _f(r["pct_peak"], 1),
                   _f(r["time_ms"], 1)] for _, r in done.iterrows()]
    cols = ["model", "mode", "input", "batch", "img/s", "latency (ms/img)", "peak mem (MB)", "GFLOP/s", "% of peak",
            "time (ms/batch)"]
    trains = bool((done["mode"].str.startswith("train")).any())  # the modes measured (a failed row's is not)
    inference = bool((~done["mode"].str.startswith("train")).any()) or not trains
    what = "Inference" if not trains else "Training-step" if not inference else "Inference and training-step"
    blocks: list[tuple] = [
        ("h2", f"{what} benchmark: the real networks at paper size"),
        ("p", f"{len(done)} of {len(df)} rows measured ({counted(df['model'].nunique(), 'model')}, batch sizes "
              f"{', '.join(str(int(b)) for b in sorted(df['batch_size'].unique()))}). Method: {METHOD}."
              + (f" Training-step rows: {TRAIN_METHOD}." if trains else "")
              + _peak_text(df) + " " + _machine(data.bench) + _loads(data.bench)),
        ("table", Table(f"{what}, one row per model{', mode' if trains and inference else ''} and batch size",
                        cols, table_rows,
                        "img/s = batch / median time; latency = median time / batch; GFLOP/s = 2 x card MACs x "
                        "batch / median time (conv and dense only; x 3 for a training step: forward + backward); % of peak = GFLOP/s / the fp32 matmul peak; "
                        "peak mem = peak resident set size of the measuring process during that batch size.",
                        right=set(range(3, len(cols))))),
    ]
    low = done[done["speedup_vs_fp32"].notna()]
    if not low.empty:
        blocks.append(("p", "bfloat16 rows (Keras mixed_bfloat16 with the weights of a float32 twin, timed beside it "
                            "on the same batch): speed-up = float32 time / bfloat16 time; largest change of a logit "
                            "vs float32 (the float32 logits' largest magnitude in brackets):"))
        blocks.append(("list", [f"{r['model']} at batch {int(r['batch_size'])}: speed-up {r['speedup_vs_fp32']:.2f}x, "
                                f"largest logit change {r['max_logit_change']:.3g} ({r['max_abs_logit_fp32']:.3g})"
                                for _, r in low.iterrows()]))
    over = done[done["pct_peak"] > 100]
    if not over.empty:
        blas = done["peak_numpy_gflops"].dropna() if "peak_numpy_gflops" in done.columns else pd.Series(dtype=float)
        blocks.append(("p", f"{len(over)} of {len(done)} rows exceed 100% of the reference: on this CPU TensorFlow's "
                            "convolutions run faster than its 2048x2048 float32 tf.matmul, so the reference is not "
                            "the hardware's peak"
                            + (f" (numpy's BLAS did the same product at {float(blas.iloc[0]):.1f} GFLOP/s in the "
                               "same process)" if not blas.empty else "")
                            + ". Read % of peak as a share of that reference: comparable between models and runs "
                              "on one machine."))
    bad = df[df["status"] != "done"]
    if not bad.empty:
        blocks.append(("p", "Rows not measured:"))
        blocks.append(("list", [f"{r['model']} ({r['mode']}) at batch {int(r['batch_size'])}: "
                                f"{r['reason'] or r['status']}" for _, r in bad.iterrows()]))
    return blocks
