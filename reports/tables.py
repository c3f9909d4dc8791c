"""Tables of a run: tidy results, the per-model comparison, canonical vs measured, failures.

Everything here returns pandas DataFrames with numeric columns (a notebook user can sort and plot
them); :func:`display` turns one into a :class:`Table` of formatted strings that render.py writes
as Markdown or HTML. Errors are fractions 0-1 in the DataFrames and percent in the displays.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .reference import CONVENTIONS

__all__ = [
    "ID_COLUMNS", "METRIC_COLUMNS", "BUDGET_COLUMNS", "INT_COLUMNS", "Table",
    "load_trials", "tidy", "summarize", "curves", "canonical", "failures", "evaluations", "display",
    "profile_table",
]

ID_COLUMNS: tuple[str, ...] = (
    "id", "study", "dataset", "model", "width", "input_size", "input_shape", "seed", "status", "reason",
)
METRIC_COLUMNS: tuple[str, ...] = (
    "params", "non_trainable", "macs", "flops", "depth",
    "top1_err", "top1_err_lo", "top1_err_hi", "top5_err", "top1_acc", "top5_acc",
    "val_err", "val_acc", "val_loss", "train_loss", "train_acc",
    "n_train", "n_val", "n_test", "top1_correct",
    "train_s", "train_img_per_s", "infer_ms_b1", "infer_ms_b32", "peak_mem_mb",
)
COUNT_COLUMNS: tuple[str, ...] = ("params", "non_trainable", "macs", "flops", "depth", "n_train", "n_val", "n_test",
                                  "top1_correct")
#: The training budget of a row: compared rows with different budgets are flagged above their table.
BUDGET_COLUMNS: tuple[str, ...] = ("epochs", "batch_size", "lr", "optimizer", "schedule", "momentum", "weight_decay",
                                   "augment", "recipe", "val_fraction")
#: Columns written as integers in results.csv / results.json (empty where unknown).
INT_COLUMNS: tuple[str, ...] = (
    "id", "seed", "input_size", "epochs", "epochs_run", "batch_size", "config_batch_size", "limit", "classes",
    "num_replicas_in_sync", "n_images", "n_classes", "correct_top1", "correct_top5", *COUNT_COLUMNS,
)
_TAIL_COLUMNS: tuple[str, ...] = (
    "epochs", "batch_size", "lr", "optimizer", "schedule", "momentum", "weight_decay", "augment", "recipe",
    "val_fraction", "strategy", "weights_path", "started_at", "finished_at",
)
#: Metrics Keras reports in float32, the last epoch's running loss and accuracy (results.csv writes
#: them with float32's shortest digits; val_loss is computed in float64 after training).
FLOAT32_COLUMNS: tuple[str, ...] = ("train_loss", "train_acc")
#: Top-5 error is shown only with more classes than this (compare.train.TOP5_MIN_CLASSES).
TOP5_MIN_CLASSES = 10
_DROPPED = ("config", "metrics", "history", "versions", "key", "pid")  # nested, or store bookkeeping
GROUP_KEYS: tuple[str, ...] = ("study", "dataset", "model", "width", "input_size", "input_shape")


# -- loading ---------------------------------------------------------------------------------------

def load_trials(run_dir: str | Path) -> pd.DataFrame:
    """All trials of the run in ``run_dir`` as ``compare.store.Store(...).trials()`` returns them.

    Raises FileNotFoundError for a missing directory or store, ValueError for an empty store or
    a corrupt one (the store's StoreError is a ValueError), each naming the path.
    """
    import sqlite3

    from compare.store import Store, StoreError, run_store

    path = run_store(run_dir)
    try:
        with Store(path) as store:
            trials = store.trials(status=None)
    except (StoreError, sqlite3.DatabaseError) as exc:
        raise ValueError(f"cannot read results store {str(path)!r}: {exc}") from None
    if trials.empty:
        raise ValueError(f"results store {str(path)!r} holds no trials; nothing to report")
    return trials


# -- tidy results ----------------------------------------------------------------------------------

def _shape_text(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "x".join(str(int(v)) if v is not None else "?" for v in value)
    return value


def tidy(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per trial, flat scalar columns only, in a stable order (results.csv / results.json).

    Nested columns (config, metrics, history, versions: the store already flattens their scalar
    keys) and the store's bookkeeping (key, pid) are dropped; ``input_shape`` becomes text like
    ``"32x32x3"``. The core columns (:data:`ID_COLUMNS`, :data:`METRIC_COLUMNS`) are always
    present, empty where unknown. Rows in trial order.
    """
    df = trials.drop(columns=[c for c in _DROPPED if c in trials.columns]).copy()
    if "input_shape" in df.columns:
        df["input_shape"] = df["input_shape"].map(_shape_text)
    for col in df.columns:  # anything else still nested would not fit a CSV cell
        if df[col].map(lambda v: isinstance(v, (dict, list, tuple))).any():
            df = df.drop(columns=col)
    core = [*ID_COLUMNS, *METRIC_COLUMNS]
    for col in core:
        if col not in df.columns:
            df[col] = pd.NA
    tail = [c for c in _TAIL_COLUMNS if c in df.columns]
    rest = sorted(c for c in df.columns if c not in core and c not in tail)
    df = df[[*core, *tail, *rest]]
    for col in METRIC_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    _fill_intervals(df)
    if "classes" in df.columns:  # top-5 means little with 10 classes or fewer (older stores measured it)
        few = pd.to_numeric(df["classes"], errors="coerce") <= TOP5_MIN_CLASSES
        df.loc[few, ["top5_err", "top5_acc"]] = float("nan")
    if "augment" in df.columns:
        trained = (df["status"] == "done") & df["epochs"].notna() if "epochs" in df.columns else df["status"] == "done"
        df["augment"] = df["augment"].astype(object).where(df["augment"].notna() | ~trained, "none")
    for col in df.columns:
        if col in INT_COLUMNS:
            numbers = pd.to_numeric(df[col], errors="coerce")
            if df[col].notna().equals(numbers.notna()) and numbers.dropna().map(lambda v: float(v).is_integer()).all():
                df[col] = numbers.round().astype("Int64")  # integers stay integers beside missing values
        elif col in FLOAT32_COLUMNS:
            df[col] = pd.to_numeric(df[col], errors="coerce").map(_float32_value)
        elif pd.api.types.is_float_dtype(df[col]):
            df[col] = df[col].map(_clean_float)
        elif df[col].dtype == object:
            df[col] = df[col].map(lambda v: _clean_float(v) if isinstance(v, float) else v)
    if df["study"].isna().any():
        df["study"] = df["study"].astype(object).where(df["study"].notna(), "main")
    return df.sort_values("id").reset_index(drop=True)


def _float32_value(v: Any) -> Any:
    """A float32 metric (Keras computes its losses and running accuracies in float32) as the
    shortest decimal that is that float32: ``0.980833351612`` -> ``0.98083335``, the digits
    beyond being float64 widening, not measurement."""
    return v if _missing(v) or not math.isfinite(v) else float(np.format_float_positional(np.float32(v), unique=True))


def _clean_float(v: Any) -> Any:
    """``0.022000000000000002`` -> ``0.022``: 12 significant digits, which drops binary noise and
    nothing measured."""
    return v if _missing(v) or not math.isfinite(v) else float(f"{v:.12g}")


def _fill_intervals(df: pd.DataFrame) -> None:
    """95% Wilson interval of top-1 error for rows that lack it (stores written before it was
    stored) but have ``n_test``; in place."""
    from compare.stats import wilson

    need = df["top1_err_lo"].isna() & df["top1_err"].notna() & df["n_test"].notna()
    for i in df.index[need]:
        n = int(df.at[i, "n_test"])
        k = int(round(float(df.at[i, "top1_err"]) * n))
        if n >= 1 and 0 <= k <= n:
            df.at[i, "top1_err_lo"], df.at[i, "top1_err_hi"] = wilson(k, n)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Done trials aggregated over seeds: one row per (study, dataset, model, width, input, budget).

    Each metric column holds the mean and ``<metric>_std`` the standard deviation (NaN with one
    seed); ``seeds`` counts the trials and ``ids`` lists them. The budget (:data:`BUDGET_COLUMNS`)
    is part of the key, so trials trained differently are never averaged together.
    ``top1_err_lo``/``_hi``: the 95% Wilson interval of the test error (one seed: that trial's;
    several: at the mean error on one test set), and with several seeds ``top1_err_seed_lo``/
    ``_hi``, the 95% t interval of the mean over seeds (:func:`compare.stats.seed_interval`).
    Sorted by study, dataset, then top-1 error.
    """
    from compare.stats import seed_interval, wilson_rate

    done = results[results["status"] == "done"]
    keys = [k for k in (*GROUP_KEYS, *BUDGET_COLUMNS) if k in done.columns]
    metrics = [m for m in METRIC_COLUMNS if m in done.columns]
    if done.empty:
        return pd.DataFrame(columns=[*keys, "seeds", "ids", *metrics, *(f"{m}_std" for m in metrics)])
    done = done.copy()
    for k in keys:  # groupby keys must be hashable and comparable: missing budgets group together
        done[k] = done[k].astype(object).where(done[k].notna(), None)
    grouped = done.groupby(keys, dropna=False, sort=False)
    mean = grouped[metrics].mean()
    std = grouped[metrics].std(ddof=1).add_suffix("_std")
    ids = grouped["id"].agg(lambda v: [int(i) for i in v]).rename("ids")
    seed_ci = grouped["top1_err"].agg(lambda v: seed_interval(v.dropna()) if v.notna().sum() > 1 else None)
    out = pd.concat([grouped.size().rename("seeds"), ids, mean, std], axis=1).reset_index()
    # an error rate lies in [0, 1]: the t interval is clipped there
    out["top1_err_seed_lo"] = [max(0.0, ci[0]) if ci else float("nan") for ci in seed_ci.values]
    out["top1_err_seed_hi"] = [min(1.0, ci[1]) if ci else float("nan") for ci in seed_ci.values]
    for i in out.index[(out["seeds"] > 1) & out["top1_err"].notna() & out["n_test"].notna()]:
        n = int(round(out.at[i, "n_test"]))
        out.at[i, "top1_err_lo"], out.at[i, "top1_err_hi"] = wilson_rate(out.at[i, "top1_err"], n)
    out = out.drop(columns=["top1_err_lo_std", "top1_err_hi_std"], errors="ignore")
    return out.sort_values(["study", "dataset", "top1_err", "model"], na_position="last").reset_index(drop=True)


def curves(trials: pd.DataFrame) -> pd.DataFrame:
    """Training histories in long form: model, seed, id, epoch (1-based), metric, split, value.

    ``metric`` is "loss" or "accuracy"; ``split`` is "train" or "val" (Keras ``val_`` keys).
    """
    rows: list[dict] = []
    if "history" not in trials.columns:
        return pd.DataFrame(columns=["study", "dataset", "model", "seed", "id", "epoch", "metric", "split", "value"])
    for _, t in trials[trials["status"] == "done"].iterrows():
        history = t["history"] if isinstance(t["history"], dict) else {}
        for key, values in history.items():
            split, metric = ("val", key[4:]) if key.startswith("val_") else ("train", key)
            for epoch, value in enumerate(values or (), start=1):
                rows.append(dict(study=t.get("study") if isinstance(t.get("study"), str) else "main",
                                 dataset=t.get("dataset"), model=t["model"], seed=t.get("seed"),
                                 id=t["id"], epoch=epoch, metric=metric, split=split, value=float(value)))
    return pd.DataFrame(rows, columns=["study", "dataset", "model", "seed", "id", "epoch", "metric", "split", "value"])


def canonical(summary: pd.DataFrame) -> pd.DataFrame:
    """Each model's card (ImageNet-size figures and published error) beside what this run measured.

    Card columns are prefixed ``card_`` (errors in percent, as published); measured columns keep
    their names (errors as fractions). Models without a card keep empty card columns.
    """
    import zoo

    measured = ("dataset", "input_shape", "width", "params", "non_trainable", "macs", "depth", "top1_err",
                "top1_err_lo", "top1_err_hi", "top5_err")
    rows = []
    for model, group in summary.groupby("model", sort=False):
        first = group.iloc[0]
        row: dict[str, Any] = {"model": model}
        try:
            c = zoo.card(model)
            row.update(card_input_shape=_shape_text(c.input_shape), card_classes=c.classes, card_params=c.params,
                       card_non_trainable=c.non_trainable, card_macs=c.macs, card_depth=c.depth,
                       card_top1_err=c.top1_err, card_top5_err=c.top5_err, card_err_dataset=c.err_dataset,
                       paper=c.paper, year=c.year)
        except KeyError:
            pass
        row.update({col: first.get(col) for col in measured})
        rows.append(row)
    cols = ["model", "year", "paper", "card_input_shape", "card_classes", "card_params", "card_non_trainable",
            "card_macs", "card_depth", "card_top1_err", "card_top5_err", "card_err_dataset", *measured]
    return pd.DataFrame(rows).reindex(columns=cols)


EVAL_STUDY = "eval"  # `python -m compare eval`: pretrained weights measured on the user's ImageNet folder


def evaluations(results: pd.DataFrame) -> pd.DataFrame:
    """Finished ``study="eval"`` rows: model, source, dataset, images, measured and published accuracy
    (fractions), one row per (model, weights source), in trial order."""
    cols = ["model", "source", "dataset", "n_images", "n_classes", "correct_top1", "correct_top5",
            "top1_acc", "top5_acc", "published_top1_acc", "published_top5_acc"]
    done = results[(results["study"] == EVAL_STUDY) & (results["status"] == "done")]
    return done.reindex(columns=cols).reset_index(drop=True)


def failures(results: pd.DataFrame) -> pd.DataFrame:
    """Trials that did not finish: failed ones with their reason, and ones still marked 'running'."""
    bad = results[results["status"] != "done"]
    cols = ["id", "study", "dataset", "model", "seed", "status", "reason"]
    out = bad.reindex(columns=cols).copy()
    running = out["status"] == "running"
    out.loc[running & out["reason"].isna(), "reason"] = "still marked running (in progress, or interrupted)"
    return out.reset_index(drop=True)


# -- display ---------------------------------------------------------------------------------------

@dataclass
class Table:
    """A formatted table: header, rows of strings, right-aligned columns, and a note under it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = CONVENTIONS
    right: set[int] = field(default_factory=set)

    def to_markdown(self) -> str:
        def cell(s: str) -> str:
            return str(s).replace("|", "\\|").replace("\n", " ")

        lines = [f"### {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(cell(c) for c in self.columns) + " |")
            lines.append("|" + "|".join("---:" if i in self.right else "---" for i in range(len(self.columns))) + "|")
            lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        else:
            lines.append("_(no rows)_")
        if self.note:
            lines += ["", f"_{self.note}_"]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        e = html.escape
        out = [f"<h3>{e(self.title)}</h3>"]
        if self.rows:
            out.append("<table>")
            out.append("<thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in self.columns) + "</tr></thead><tbody>")
            for row in self.rows:
                out.append("<tr>" + "".join(
                    f'<td class="num">{e(str(v))}</td>' if i in self.right else f"<td>{e(str(v))}</td>"
                    for i, v in enumerate(row)) + "</tr>")
            out.append("</tbody></table>")
        else:
            out.append("<p><em>(no rows)</em></p>")
        if self.note:
            out.append(f'<p class="note">{e(self.note)}</p>')
        return "\n".join(out) + "\n"


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def fmt_int(v: Any) -> str:
    """``61706`` -> ``"61,706"``; empty for missing values."""
    return "" if _missing(v) else f"{int(round(float(v))):,}"


def fmt_num(v: Any, std: Any = None, digits: int = 2, scale: float = 1.0) -> str:
    """A number with ``digits`` decimals, ``" ± std"`` when a std is given (several seeds)."""
    if _missing(v):
        return ""
    text = f"{float(v) * scale:,.{digits}f}"
    if not _missing(std):
        text += f" ± {float(std) * scale:,.{digits}f}"
    return text


def fmt_text(v: Any) -> str:
    if _missing(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# (column, header, kind, digits): kind int = exact count, pct = fraction shown as %, num = decimal, text
Column = tuple[str, str, str, int]

COMPARISON_COLUMNS: tuple[Column, ...] = (
    ("rank", "rank", "rank", 0),
    ("model", "model", "text", 0), ("width", "width", "text", 0), ("input_shape", "input", "text", 0),
    ("epochs", "epochs", "text", 0), ("batch_size", "batch", "text", 0), ("lr", "lr", "text", 0),
    ("optimizer", "optimizer", "text", 0), ("schedule", "schedule", "text", 0), ("augment", "augment", "text", 0),
    ("recipe", "recipe", "text", 0),
    ("seeds", "seeds", "int", 0), ("n_train", "train / val / test images", "split", 0),
    ("params", "params", "int", 0), ("non_trainable", "non-trainable", "int", 0),
    ("macs", "MACs", "int", 0), ("depth", "depth", "int", 0), ("val_err", "val err (%)", "pct", 2),
    ("top1_err", "top-1 test err (%)", "pct", 2), ("top1_err_lo", "95% CI (%)", "ci", 2),
    ("top1_err_seed_lo", "95% CI over seeds (%)", "seedci", 2), ("p_vs_best", "McNemar p vs best", "p", 3),
    ("top5_err", "top-5 err (%)", "pct", 2),
    ("train_s", "train (s)", "num", 1), ("train_img_per_s", "train (img/s)", "num", 0),
    ("infer_ms_b1", "infer b1 (ms/img)", "num", 2), ("infer_ms_b32", "infer b32 (ms/img)", "num", 2),
)

CANONICAL_COLUMNS: tuple[Column, ...] = (
    ("model", "model", "text", 0), ("year", "year", "text", 0), ("card_input_shape", "card input", "text", 0),
    ("card_params", "card params", "int", 0), ("card_macs", "card MACs", "int", 0),
    ("card_depth", "card depth", "int", 0), ("card_top1_err", "paper top-1 err (%)", "num", 2),
    ("card_top5_err", "paper top-5 err (%)", "num", 2), ("card_err_dataset", "paper error on", "text", 0),
    ("input_shape", "run input", "text", 0), ("width", "run width", "text", 0),
    ("params", "run params", "int", 0), ("macs", "run MACs", "int", 0), ("depth", "run depth", "int", 0),
    ("top1_err", "run top-1 err (%)", "pct", 2), ("top1_err_lo", "run 95% CI (%)", "ci", 2),
    ("dataset", "run dataset", "text", 0),
)

EVAL_COLUMNS: tuple[Column, ...] = (
    ("model", "model", "text", 0), ("source", "source", "text", 0), ("n_images", "images", "int", 0),
    ("n_classes", "classes", "int", 0), ("top1_acc", "measured top-1 (%)", "pct", 2),
    ("top5_acc", "measured top-5 (%)", "pct", 2), ("published_top1_acc", "published top-1 (%)", "pct", 2),
    ("published_top5_acc", "published top-5 (%)", "pct", 2),
)

FAILURE_COLUMNS: tuple[Column, ...] = (
    ("id", "trial", "text", 0), ("model", "model", "text", 0), ("dataset", "dataset", "text", 0),
    ("seed", "seed", "text", 0), ("status", "status", "text", 0), ("reason", "reason", "text", 0),
)


def display(df: pd.DataFrame, columns: Sequence[Column], title: str, note: str = CONVENTIONS) -> Table:
    """Format ``df`` into a :class:`Table`: counts exact with separators, errors in percent, and
    ``mean ± std`` wherever a ``<column>_std`` value is present (several seeds). Columns absent from
    ``df`` or empty in every row are left out."""
    present = [c for c in columns if c[0] in df.columns and df[c[0]].map(lambda v: not _missing(v)).any()]
    rows = []
    for _, r in df.iterrows():
        row = []
        for col, _header, kind, digits in present:
            v, std = r[col], r.get(f"{col}_std")
            if kind == "int":
                row.append(fmt_int(v))
            elif kind == "rank":
                shared = True in (r.get("tied_with_best"), r.get("shares_rank"))
                row.append("" if _missing(v) else f"{int(v)}" + ("=" if shared else ""))
            elif kind == "split":
                row.append(" / ".join(fmt_int(r.get(c)) or "?" for c in ("n_train", "n_val", "n_test")))
            elif kind in ("ci", "seedci"):
                hi = r.get("top1_err_hi" if kind == "ci" else "top1_err_seed_hi")
                row.append("" if _missing(v) or _missing(hi) else f"{float(v) * 100:.{digits}f}–{float(hi) * 100:.{digits}f}")
            elif kind == "p":
                row.append("" if _missing(v) else ("< 0.001" if float(v) < 0.001 else f"{float(v):.{digits}f}"))
            elif kind == "pct":
                row.append(fmt_num(v, std, digits, scale=100.0))
            elif kind == "num":
                row.append(fmt_num(v, std, digits))
            else:
                row.append(fmt_text(v))
        rows.append(row)
    right = {i for i, c in enumerate(present) if c[2] != "text"}
    return Table(title, [c[1] for c in present], rows, note, right)


def split_by(df: pd.DataFrame, keys: Iterable[str]) -> list[tuple[tuple, pd.DataFrame]]:
    """``df`` split by ``keys`` in first-seen order (missing keys count as one group)."""
    keys = [k for k in keys if k in df.columns]
    if not keys or df.empty:
        return [((), df)] if not df.empty else []
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in df.groupby(keys, sort=False, dropna=False)]


# -- per-layer profile -----------------------------------------------------------------------------

PROFILE_COLUMNS: tuple[Column, ...] = (
    ("name", "layer", "text", 0), ("type", "type", "text", 0), ("output_shape", "output shape", "text", 0),
    ("trainable", "params", "int", 0), ("non_trainable", "non-trainable", "int", 0),
    ("macs", "MACs", "int", 0), ("flops", "FLOPs", "int", 0), ("all_ops", "other ops (not MACs)", "int", 0),
    ("act_elems", "activations", "int", 0), ("rf", "receptive field (px)", "int", 0),
)


#: What a per-layer profile's own columns count (the report states it once, above its profiles).
PROFILE_NOTE = ("Other ops (bias, BatchNorm, activations, pooling, add, concat) are counted apart and never mixed "
                "into MACs; activations = output elements per image.")


def profile_table(model, title: str, note: bool = True) -> Table:
    """The per-layer profile of ``model`` (``compare.profile``) as a :class:`Table` with a totals row;
    its note states :data:`PROFILE_NOTE` unless ``note`` is False (said once above several)."""
    import compare.profile as profiler

    df = profiler.profile(model).copy()
    df["output_shape"] = df["output_shape"].map(_shape_text)
    counted = ["trainable", "non_trainable", "macs", "flops", "all_ops", "act_elems"]
    total = {c: df[c].sum() for c in counted}
    return display(pd.concat([df, pd.DataFrame([{"name": "total", **total}])], ignore_index=True),
                   PROFILE_COLUMNS, title, CONVENTIONS + (" " + PROFILE_NOTE if note else ""))
