"""Tables of a run: tidy results, the per-model comparison, canonical vs measured, failures.

Everything here returns pandas DataFrames with numeric columns (a notebook user can sort and plot
them), errors as fractions 0-1; :func:`reports.formatting.display` turns one into a formatted
:class:`reports.formatting.Table` (errors in percent) that the report writes as Markdown or HTML.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .formatting import missing, shape_cell

__all__ = [
    "ID_COLUMNS", "METRIC_COLUMNS", "BUDGET_COLUMNS", "INT_COLUMNS",
    "load_trials", "tidy", "summarize", "curves", "canonical", "failures", "evaluations",
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
    "data_channels", "num_replicas_in_sync", "n_images", "n_classes", "correct_top1", "correct_top5", *COUNT_COLUMNS,
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

def tidy(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per trial, flat scalar columns only, in a stable order (results.csv / results.json).

    Nested columns (config, metrics, history, versions: the store already flattens their scalar
    keys) and the store's bookkeeping (key, pid) are dropped; ``input_shape`` becomes text like
    ``"32x32x3"``. The core columns (:data:`ID_COLUMNS`, :data:`METRIC_COLUMNS`) are always
    present, empty where unknown. Rows in trial order.
    """
    df = trials.drop(columns=[c for c in _DROPPED if c in trials.columns]).copy()
    if "input_shape" in df.columns:
        df["input_shape"] = df["input_shape"].map(shape_cell)
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
    return v if missing(v) or not math.isfinite(v) else float(np.format_float_positional(np.float32(v), unique=True))


def _clean_float(v: Any) -> Any:
    """``0.022000000000000002`` -> ``0.022``: 12 significant digits, which drops binary noise and
    nothing measured."""
    return v if missing(v) or not math.isfinite(v) else float(f"{v:.12g}")


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
            row.update(card_input_shape=shape_cell(c.input_shape), card_classes=c.classes, card_params=c.params,
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
    from compare.stats import wilson

    cols = ["model", "source", "dataset", "n_images", "unreadable", "n_classes", "correct_top1", "correct_top5",
            "top1_acc", "top5_acc", "published_top1_acc", "published_top5_acc"]
    done = results[(results["study"] == EVAL_STUDY) & (results["status"] == "done")]
    out = done.reindex(columns=cols).reset_index(drop=True)
    bad = pd.to_numeric(out["unreadable"], errors="coerce").fillna(0)
    out["unreadable"] = bad if (bad > 0).any() else np.nan  # a column only when some image was left out
    for k in ("top1", "top5"):  # 95% Wilson intervals of the measured accuracies, over the folder's images
        bounds = [wilson(int(c), int(n)) if not (missing(c) or missing(n)) else (np.nan, np.nan)
                  for c, n in zip(out[f"correct_{k}"], out["n_images"])]
        out[f"{k}_acc_lo"] = [b[0] for b in bounds]
        out[f"{k}_acc_hi"] = [b[1] for b in bounds]
    return out


def failures(results: pd.DataFrame) -> pd.DataFrame:
    """Trials that did not finish: failed ones with their reason, and ones still marked 'running'."""
    bad = results[results["status"] != "done"]
    cols = ["id", "study", "dataset", "model", "mode", "dtype", "batch_size", "seed", "status", "reason"]
    out = bad.reindex(columns=cols).copy()
    running = out["status"] == "running"
    out.loc[running & out["reason"].isna(), "reason"] = "still marked running (in progress, or interrupted)"
    return out.reset_index(drop=True)
