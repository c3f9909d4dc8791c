"""The depth study: plain vs residual CIFAR nets at growing depth (the degradation experiment).

He et al. (2015, sec. 4.2, fig. 6) train plain nets and ResNets of depth 6n+2 with one recipe:
deeper *plain* nets reach a higher training error than shallower ones (degradation), deeper
ResNets do not. Here :func:`plan` turns depths into runner configs (``plainN`` and ``resnetN`` at
each depth, the same recipe and seeds, config ``study="depth"``), so the trials go into the
ordinary results store and :func:`compare.runner.run` trains them, resumably.
:func:`summarise` and :func:`curves` read the trials back into DataFrames; :func:`findings`
states in numbers what they show. Library code: nothing here prints.

Two training errors are kept apart (both fractions 0-1):

- ``train_err`` = 1 - the last epoch's training accuracy as Keras' history records it: a running
  mean over that epoch's batches, in training mode (BatchNorm batch statistics, augmentation if any);
- ``train_err_eval`` = top-1 error on the whole training set in inference mode after training
  (BatchNorm moving statistics, no augmentation), from :func:`compare.train.train_error_eval`.

Reference: He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition (2015), sec. 4.2.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pandas is imported on use: the CLI's --help and argument checks stay light
    import pandas as pd

__all__ = ["STUDY", "DEFAULT_DEPTHS", "DEFAULT_BUDGET", "ALL", "accepted_depths", "parse_depths", "plan",
           "summarise", "curves", "latest_setting", "findings"]

STUDY = "depth"
DEFAULT_DEPTHS: tuple[int, ...] = (8, 14, 20, 32, 44, 56)
#: The default budget: on mnist5k the whole default study (12 trials) fits 30 minutes on 2 shared
#: CPU cores (bench/RESULTS.md, "Depth study (issue 6)"). Each setting here applies unless given.
DEFAULT_BUDGET: dict[str, Any] = dict(width=0.5, limit=2000, epochs=8)
#: ``limit=ALL`` in :func:`plan` means every image of the dataset (no cap).
ALL = "all"
KINDS = ("plain", "residual")
_NAME = re.compile(r"^(plain|resnet)(\d+)$")
_SETTING_KEYS = ("dataset", "width", "input_size", "epochs", "batch_size", "recipe", "lr", "augment", "limit",
                 "strategy")
SUMMARY_COLUMNS = ["dataset", "setting", "depth", "kind", "model", "seeds", "params", "train_err", "train_err_std",
                   "train_err_eval", "train_err_eval_std", "test_err", "test_err_std", "train_s", "n_train", "n_test",
                   "classes"]
CURVE_COLUMNS = ["dataset", "setting", "depth", "kind", "model", "seed", "id", "epoch", "train_err", "val_err"]


def accepted_depths() -> list[int]:
    """Depths with both a plain net and a ResNet in the zoo (CIFAR family), ascending."""
    import zoo

    found = []
    for name in zoo.list_models("plain*"):
        m = _NAME.match(name)
        if m and zoo.card(name).family == "resnet_cifar" and f"resnet{m.group(2)}" in zoo.list_models("resnet*"):
            found.append(int(m.group(2)))
    return sorted(found)


def parse_depths(value: str | Iterable[int]) -> list[int]:
    """Depths from ``"8,14,20"`` (or a list of ints), checked, de-duplicated and sorted.

    Raises ValueError naming the bad value: an empty list, a non-integer, a depth that is not
    6n+2 with n >= 1, or a 6n+2 depth without a registered plain net and ResNet.
    """
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if not any(parts):
            raise ValueError(f"--depths {value!r} is empty; give depths of the form 6n+2, e.g. 8,14,20,32,44,56")
        depths = []
        for p in parts:
            if not p:
                continue
            try:
                depths.append(int(p))
            except ValueError:
                raise ValueError(f"depth {p!r} in --depths {value!r} is not an integer; "
                                 "give comma-separated depths of the form 6n+2, e.g. 8,14,20") from None
    else:
        depths = list(value)
        if not depths:
            raise ValueError("no depths given; give depths of the form 6n+2, e.g. 8,14,20,32,44,56")
    accepted = accepted_depths()
    for d in depths:
        if isinstance(d, bool) or not isinstance(d, int):
            raise ValueError(f"depth {d!r} is not an integer; give depths of the form 6n+2, e.g. 8,14,20")
        if d < 8 or (d - 2) % 6:
            raise ValueError(f"depth {d} is not of the form 6n+2 with n >= 1 (the CIFAR nets: 3 stages of n "
                             f"two-conv blocks + first conv + fc); accepted: {', '.join(map(str, accepted))}")
        if d not in accepted:
            raise ValueError(f"depth {d} is 6n+2 but plain{d}/resnet{d} are not both in the zoo; "
                             f"accepted: {', '.join(map(str, accepted))}")
    return sorted(set(depths))


def plan(depths: Iterable[int] = DEFAULT_DEPTHS, *, seeds: Iterable[int] = (0,), download: bool = False,
         **settings) -> list[dict]:
    """Runner configs: ``plainN`` then ``resnetN`` for each depth (ascending) and seed, all with
    ``study="depth"`` and the same settings. A ``None`` setting takes :data:`DEFAULT_BUDGET`'s
    value (then the trial default); ``limit=ALL`` trains on every image. Checked before any training.
    ``download``: as in :func:`compare.runner.plan`."""
    from .runner import plan as runner_plan

    depths = parse_depths(list(depths))
    if settings.get("study", STUDY) != STUDY:
        raise ValueError(f"the depth study's trials have study={STUDY!r}, got study={settings['study']!r}")
    given = {k: v for k, v in settings.items() if v is not None and k != "study"}
    merged = {**DEFAULT_BUDGET, **given}
    if merged.get("limit") == ALL:
        merged.pop("limit")  # no cap: the trial default (limit None)
    models = [f"{kind}{d}" for d in depths for kind in ("plain", "resnet")]
    return runner_plan(models, seeds=list(seeds), study=STUDY, download=download, **merged)


# -- reading the results back ----------------------------------------------------------------------

def _setting(config: dict) -> str:
    """A short label of what the trials of one study share: dataset, width, images, epochs, recipe."""
    c = {k: config.get(k) for k in _SETTING_KEYS}
    parts = [str(c["dataset"]), f"width {c['width']:g}" if isinstance(c["width"], (int, float)) else "width ?",
             "all images" if c["limit"] is None else f"<= {c['limit']} images/split", f"{c['epochs']} epoch{'' if c['epochs'] == 1 else 's'}",
             f"recipe {c['recipe']}"]
    parts += [f"{k.replace('_', ' ')} {c[k]}" for k in ("input_size", "batch_size", "lr", "augment", "strategy")
              if c[k] is not None]
    return ", ".join(parts)


def _depth_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished depth-study trials of plainN/resnetN with depth, kind and setting columns."""
    import pandas as pd

    if trials.empty or "status" not in trials.columns:
        return pd.DataFrame()
    cfg = trials["config"] if "config" in trials.columns else pd.Series([{}] * len(trials), index=trials.index)
    study = cfg.map(lambda c: c.get("study") if isinstance(c, dict) else None)
    keep = (trials["status"] == "done") & (study == STUDY) & trials["model"].map(lambda m: bool(_NAME.match(str(m))))
    rows = trials[keep].copy()
    if rows.empty:
        return rows
    names = rows["model"].map(lambda m: _NAME.match(str(m)))
    rows["depth"] = names.map(lambda m: int(m.group(2)))
    rows["kind"] = names.map(lambda m: "plain" if m.group(1) == "plain" else "residual")
    rows["setting"] = cfg[keep].map(_setting)
    rows["setting_key"] = cfg[keep].map(lambda c: json.dumps({k: c.get(k) for k in _SETTING_KEYS}, sort_keys=True))
    return rows


def _last(values: Any) -> float:
    return float(values[-1]) if isinstance(values, list) and values else math.nan


def _metric(row: pd.Series, key: str) -> float:
    m = row.get("metrics")
    value = m.get(key) if isinstance(m, dict) else row.get(key)
    return math.nan if value is None else float(value)


def summarise(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, setting, depth, kind): mean (and ``_std`` over seeds) of the final
    training error ``train_err`` (1 - last epoch's history accuracy), ``train_err_eval`` (training
    set, inference mode) and the test error ``test_err``; errors are fractions 0-1.

    ``trials`` is ``compare.store.Store(...).trials(status=None)`` (or reports' ``load_trials``);
    rows other than finished depth-study trials of ``plainN``/``resnetN`` are ignored.
    Sorted by dataset, setting, depth, kind (plain first).
    """
    import pandas as pd

    rows = _depth_rows(trials)
    if rows.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    rows["train_err"] = rows["history"].map(lambda h: 1.0 - _last(h.get("accuracy")) if isinstance(h, dict)
                                            else math.nan)
    rows["train_err_eval"] = [_metric(r, "train_err_eval") for _, r in rows.iterrows()]
    rows["test_err"] = [_metric(r, "top1_err") for _, r in rows.iterrows()]
    rows["params"] = [_metric(r, "params") for _, r in rows.iterrows()]
    rows["train_s"] = [_metric(r, "train_s") for _, r in rows.iterrows()]
    rows["n_train"] = [_metric(r, "n_train") for _, r in rows.iterrows()]
    rows["n_test"] = [_metric(r, "n_test") for _, r in rows.iterrows()]
    rows["classes"] = [_metric(r, "classes") for _, r in rows.iterrows()]
    keys = ["dataset", "setting", "setting_key", "depth", "kind", "model"]
    g = rows.groupby(keys, sort=False)
    errs = ["train_err", "train_err_eval", "test_err"]
    out = pd.concat([g.size().rename("seeds"), g[["params", *errs, "train_s", "n_train", "n_test", "classes"]].mean(),
                     g[errs].std(ddof=1).add_suffix("_std")], axis=1).reset_index()
    out["params"] = out["params"].round().astype("Int64")
    out["_order"] = out["kind"].map({"plain": 0, "residual": 1})
    out = out.sort_values(["dataset", "setting", "depth", "_order"]).drop(columns=["_order", "setting_key"])
    return out.reset_index(drop=True)[SUMMARY_COLUMNS]


def curves(trials: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch training error (1 - history ``accuracy``: running mean, training mode) and
    validation error (1 - ``val_accuracy``: the validation split carved from the training data; the
    test split is evaluated only once, after training) of each finished depth-study trial, in long form."""
    import pandas as pd

    rows = _depth_rows(trials)
    out: list[dict] = []
    for _, r in rows.iterrows():
        h = r["history"] if isinstance(r["history"], dict) else {}
        acc, val = h.get("accuracy") or [], h.get("val_accuracy") or []
        for i, a in enumerate(acc):
            out.append(dict(dataset=r["dataset"], setting=r["setting"], depth=r["depth"], kind=r["kind"],
                            model=r["model"], seed=r["seed"], id=r["id"], epoch=i + 1, train_err=1.0 - float(a),
                            val_err=1.0 - float(val[i]) if i < len(val) else math.nan))
    return pd.DataFrame(out, columns=CURVE_COLUMNS)


def latest_setting(trials: pd.DataFrame) -> tuple[str, str] | None:
    """(dataset, setting) of the most recently finished depth-study trial, or None."""
    rows = _depth_rows(trials)
    if rows.empty:
        return None
    last = rows.sort_values(["finished_at", "id"] if "finished_at" in rows.columns else ["id"]).iloc[-1]
    return str(last["dataset"]), str(last["setting"])


def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


def _side(lo: float, hi: float) -> int:
    """1 if the interval ``(lo, hi)`` lies above zero, -1 below, 0 if it holds zero."""
    return 1 if lo > 0 else -1 if hi < 0 else 0


def _points(x: float) -> str:
    """Fraction ``x`` in signed percentage points, one decimal; a bound that one decimal would round
    to zero gets the digits that keep its sign ("-0.04", not "-0.0", which reads as a typo and hides
    why an interval holds zero)."""
    p = 100 * x + 0.0  # + 0.0: no "-0.0" for a negative zero
    text = f"{p:+.1f}"
    if p and float(text) == 0:
        text = f"{p:+.{-math.floor(math.log10(abs(p)))}f}"  # its first significant digit: -0.04, +0.00005
    return text


UNCOUNTED = "image counts unknown"
RUNNING = "a running mean over the epoch's changing weights, not one model's mistakes"


def _difference(a: float, b: float, n: float, spread: tuple[float, int, float, int] | None = None,
                uncounted: str = UNCOUNTED) -> tuple[int, str, bool]:
    """Whether error ``a`` is significantly above (1) or below (-1) error ``b``, both over ``n``
    images, or neither (0); the intervals as text; whether the seed spread was tested. Over the
    images: the 95% interval of the difference (:func:`compare.stats.newcombe`, conservative for
    rates on the same images; with several seeds, on the mean errors). ``spread`` = ``(sd_a,
    seeds_a, sd_b, seeds_b)``: with at least two seeds on each side the difference must also
    stand out of the spread between seeds, the 95% Welch interval of the two means
    (:func:`compare.stats.welch_interval`), on the same side, to be called. Without ``n`` the
    seeds alone decide, and with neither the raw order does and the text says it is untested
    (``uncounted`` says why there is no image count)."""
    from .stats import newcombe, welch_interval

    over_seeds = welch_interval(a, spread[0], spread[1], b, spread[2], spread[3]) if spread else None
    if math.isnan(n) or n < 1:
        if over_seeds is None:
            return (1 if a > b else -1 if a < b else 0), f" ({uncounted}: not tested)", False
        lo, hi = over_seeds
        return _side(lo, hi), (
            f" (difference {_points(a - b)} points, 95% CI {_points(lo)} to {_points(hi)} over the "
            f"{spread[1]} and {spread[3]} seeds; {uncounted})"), True
    n = int(n)
    lo, hi = newcombe(round(a * n), n, round(b * n), n)
    sign = _side(lo, hi)
    text = f" (difference {_points(a - b)} points, 95% CI {_points(lo)} to {_points(hi)}"
    if over_seeds is None:
        return sign, text + ")", False
    s_lo, s_hi = over_seeds
    return (sign if sign == _side(s_lo, s_hi) else 0), (
        text + f" over the images, {_points(s_lo)} to {_points(s_hi)} over the {spread[1]} and "
        f"{spread[3]} seeds)"), True


def findings(summary: pd.DataFrame, measure: str = "train_err_eval", test: bool = True) -> list[str]:
    """Sentences, in numbers, on what one setting's summary shows (``measure``: the training error
    compared; ``train_err`` or ``train_err_eval``): the degradation of the plain nets (deepest vs
    depth 20, or the shallowest when 20 is absent), the deepest ResNet vs the deepest plain net,
    and (``test``) the test errors at those depths. A difference is called only when its 95%
    interval over the training images excludes zero and, with several seeds, so does the Welch
    interval over the seeds (:func:`_difference`). ``train_err`` (the last epoch's running mean, over
    weights that change batch by batch) is no count of one model's mistakes: only its seed spread is
    tested, and with one seed its order is given as untested."""
    import pandas as pd

    if summary.empty:
        return ["No finished depth-study trial."]
    name = {"train_err": "final training error (last epoch, training mode)",
            "train_err_eval": "training error (training set, inference mode)"}[measure]
    table = summary.pivot_table(index="depth", columns="kind", values=[measure, "test_err"], aggfunc="mean")
    depths = sorted(table.index)
    deep, out = depths[-1], []
    ref = 20 if 20 in depths and deep != 20 else depths[0]

    def val(col: str, kind: str, d: int) -> float:
        try:
            return float(table.loc[d, (col, kind)])
        except KeyError:
            return math.nan

    rows = summary.groupby(["depth", "kind"])

    def spread(kind_a: str, d_a: int, kind_b: str, d_b: int) -> tuple[float, int, float, int] | None:
        """(sd, seeds) of the measure on each side (sd NaN with one seed); None unless each side is
        one summary row (a summary mixing settings has no one spread)."""
        a, b = rows.get_group((d_a, kind_a)), rows.get_group((d_b, kind_b))
        if len(a) != 1 or len(b) != 1:
            return None
        a, b = a.iloc[0], b.iloc[0]
        return float(a[f"{measure}_std"]), int(a["seeds"]), float(b[f"{measure}_std"]), int(b["seeds"])

    p_deep, p_ref = val(measure, "plain", deep), val(measure, "plain", ref)
    r_deep, r_ref = val(measure, "residual", deep), val(measure, "residual", ref)
    # the last epoch's running training error is not a count of one model's mistakes on fixed images:
    # no binomial interval over the images (only the spread between seeds can test it)
    running = measure == "train_err"
    n_images = summary["n_train"].min() if "n_train" in summary.columns and not running else math.nan
    uncounted = RUNNING if running else UNCOUNTED
    if deep == ref:
        return [f"Only depth {deep}: plain-{deep} {name} {_pct(p_deep)}, resnet-{deep} {_pct(r_deep)}; "
                "a second depth is needed to see degradation."]
    if not (math.isnan(p_deep) or math.isnan(p_ref)):
        sign, interval, seeded = _difference(p_deep, p_ref, n_images, spread("plain", deep, "plain", ref),
                                             uncounted)
        shown_by = "these images and seeds" if seeded else "these images"
        verdict = {1: "degradation: the deeper plain net trains worse",
                   -1: "no degradation at this budget: the deeper plain net trains better",
                   0: f"no difference {shown_by} can show"}[sign]
        classes = summary["classes"].max() if "classes" in summary.columns else math.nan
        chance = 1.0 - 1.0 / classes if classes and not math.isnan(classes) and classes > 1 else math.nan
        near = ""
        if sign == 1 and not math.isnan(chance) and p_deep >= 0.8 * chance:  # within 20% of guessing
            near = (f" plain-{deep} is near chance ({_pct(chance)} error for {int(classes)} classes): at this "
                    "budget it has barely started to learn, so the gap measures how slowly it starts, not the gap "
                    "after convergence (a few points in the paper).")
        out.append(f"plain-{deep} {name} {_pct(p_deep)} vs plain-{ref} {_pct(p_ref)}: {verdict}{interval}.{near}")
    if not (math.isnan(r_deep) or math.isnan(p_deep)):
        sign, interval, _ = _difference(r_deep, p_deep, n_images, spread("residual", deep, "plain", deep), uncounted)
        rel = {1: "above", -1: "below", 0: "not distinguishable from"}[sign]
        out.append(f"resnet-{deep} {_pct(r_deep)} vs plain-{deep} {_pct(p_deep)}: the residual net is {rel} "
                   f"the plain net of the same depth{interval} (resnet-{ref} {_pct(r_ref)}).")
    for kind, label in (("plain", "plain"), ("residual", "resnet")):
        col = table[measure][kind].dropna() if kind in table[measure].columns else pd.Series(dtype=float)
        if len(col) > 2:
            ordered = col.sort_values(kind="stable")
            best, second = int(ordered.index[0]), int(ordered.index[1])
            sign, _, _ = _difference(float(col[second]), float(col[best]), n_images, spread(kind, second, kind, best),
                                     uncounted)
            alike = "" if sign == 1 else f", not distinguishable from depth {second} ({_pct(float(col[second]))})"
            rest = "" if best == deep or deep not in col.index else f"; {label}-{deep} {_pct(float(col[deep]))}"
            out.append(f"Lowest {label} training error: depth {best} ({_pct(float(col[best]))}){alike}{rest}.")
    if "seeds" in summary.columns and summary["seeds"].max() <= 1 and not math.isnan(n_images):
        out.append("One seed per net: the intervals cover the sampling of the training images, not the variation "
                   "between training runs (--seeds 0,1,2 tests that too).")
    if not test:
        return out
    tp_deep, tp_ref = val("test_err", "plain", deep), val("test_err", "plain", ref)
    tr_deep, tr_ref = val("test_err", "residual", deep), val("test_err", "residual", ref)
    out.append(f"Test error: plain-{ref} {_pct(tp_ref)}, plain-{deep} {_pct(tp_deep)}; "
               f"resnet-{ref} {_pct(tr_ref)}, resnet-{deep} {_pct(tr_deep)}.")
    return out
