"""One trial: build a zoo model for a dataset, train it, evaluate it, measure it.

A trial is a config dict: ``model`` (+ ``width``, ``input_size``), ``dataset``, ``recipe``
(+ ``epochs``, ``batch_size``, ``lr``, ``augment``), ``val_fraction``, ``seed`` and ``strategy``.
The same config and seed give the same numbers (ops are made deterministic). The result is the
metrics, the per-epoch history and the test predictions that the store records.

Honest splits: a stratified validation set (``val_fraction`` of the training split, default 10%,
:func:`compare.data.validation_split`) is carved out before training; the per-epoch curves and the
plateau schedule watch it. The test split is evaluated once, after training, and its error carries
a 95% Wilson interval (:mod:`compare.stats`).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from . import data as datalib
from .recipes import callbacks_for, get_recipe, make_optimizer, source_for

#: TensorFlow's oneDNN kernels, asked for unless the user set ``TF_ENABLE_ONEDNN_OPTS`` (``0`` keeps
#: Eigen's). Left unset, TensorFlow 2.21 chose Eigen on an AVX2-only CPU (AMD EPYC, 2 cores), where
#: a CIFAR ResNet-20 training step at batch 128 then ran about 2x faster with oneDNN, the
#: convolution gradients 2-3x (bench/RESULTS.md, issue 11). Read when
#: TensorFlow is first imported: effective only if this module is imported before TensorFlow,
#: as ``python -m compare`` does; :func:`versions` records whether it took effect.
ONEDNN_DEFAULT = "1"
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", ONEDNN_DEFAULT)

#: Keys of a trial config, with their defaults.
CONFIG_DEFAULTS: dict[str, Any] = dict(model=None, dataset="mnist5k", seed=0, width=1.0, input_size=None,
                                       epochs=5, batch_size=None, recipe="default", lr=None, augment=None,
                                       limit=None, strategy=None, study="main", val_fraction=datalib.VAL_FRACTION)
STRATEGIES = (None, "mirrored", "multiworker")


class TrialError(RuntimeError):
    """A trial that ran but cannot give a result (e.g. the loss became NaN)."""


@dataclass
class TrialResult:
    metrics: dict
    history: dict
    model: Any = field(repr=False, default=None)
    #: test-set predictions for paired tests: ``{"pred": top-1 class per image, "label": true class}``
    predictions: dict | None = field(repr=False, default=None)


def normalise_config(config: dict) -> dict:
    """Config with every key present (defaults filled) and unknown keys rejected."""
    unknown = sorted(set(config) - set(CONFIG_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown trial setting(s) {', '.join(unknown)}; accepted: {', '.join(CONFIG_DEFAULTS)}")
    cfg = {**CONFIG_DEFAULTS, **config}
    if cfg["model"] is None:
        raise ValueError("a trial needs a model name")
    if cfg["strategy"] not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg['strategy']!r}; accepted: mirrored, multiworker")
    for key in ("epochs",):
        if not isinstance(cfg[key], int) or isinstance(cfg[key], bool) or cfg[key] < 1:
            raise ValueError(f"{key} must be an integer >= 1, got {cfg[key]!r}")
    if cfg["batch_size"] is not None and (not isinstance(cfg["batch_size"], int) or isinstance(cfg["batch_size"], bool)
                                          or cfg["batch_size"] < 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {cfg['batch_size']!r}")
    cfg["val_fraction"] = datalib.check_val_fraction(cfg["val_fraction"])
    cfg["dataset"] = datalib.canonical_name(cfg["dataset"])  # `--dataset Digits` resumes `digits`' trials
    return cfg


def cached_dataset(name: str, seed: int, limit: int | None, download: bool = False) -> datalib.Dataset:
    """Datasets are loaded once per process (only the synthetic set depends on the seed).
    ``download=True`` lets keras.datasets fetch a Keras dataset that is not cached yet."""
    if download:
        datalib.fetch_dataset(name)
    return _load_cached(name, seed if name == "shapes" else 0, limit)


@lru_cache(maxsize=4)
def _load_cached(name: str, seed: int, limit: int | None) -> datalib.Dataset:
    return datalib.load_dataset(name, seed=seed, limit=limit)


def build_extra(card) -> dict:
    """The builder options a model is trained with: its card's ``training.build`` (GoogLeNet
    trains with its auxiliary heads, ``{"aux_logits": True}``; most models with none)."""
    return dict(card.training.build)


def min_input_size(card, training: bool = True) -> int:
    """The smallest input side of ``card``'s model, built for training (with :func:`build_extra`)
    or not."""
    if training and card.training.min_size is not None:
        return card.training.min_size
    return card.min_size


def model_input_shape(card, ds_shape: tuple, input_size: int | None, training: bool = True) -> tuple:
    """The input the model gets: max(native, the model's minimum) or ``input_size``, with the
    channels the model was designed for (grey -> RGB for ImageNet nets). ``training``: the model
    is built with its training options (:func:`build_extra`), whose minimum may be larger."""
    if len(card.input_shape) != 3:
        raise ValueError(f"{card.name} takes {card.input_shape} inputs, not images; it cannot be trained on image data")
    if card.input_shape[-1] not in (1, 3):
        raise ValueError(f"{card.name} takes {card.input_shape[-1]}-plane inputs ({card.input_shape}); "
                         "it cannot be trained on image data")
    minimum = min_input_size(card, bool(training))
    if input_size is not None and input_size < minimum:
        raise ValueError(f"{card.name} needs inputs of at least {minimum}x{minimum}, got --input-size {input_size}")
    return datalib.input_shape_for(ds_shape, minimum, input_size, card.input_shape[-1])


def loss_weights(card, n_outputs: int) -> list[float] | None:
    """Per-output loss weights for a model with ``n_outputs`` outputs (output 0 = the main head),
    from the card's ``training.loss_weights``; None for one output or when the card gives none
    (Keras then weighs every output 1)."""
    weights = card.training.loss_weights
    if n_outputs == 1 or weights is None:
        return None
    if len(weights) != n_outputs:
        raise ValueError(f"{card.name}: its card gives {len(weights)} training loss weights but the model built "
                         f"for training has {n_outputs} outputs")
    return [float(w) for w in weights]


def _peak_reset() -> None:
    try:  # Linux: writing 5 resets the peak resident set size (VmHWM) of this process
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def versions() -> dict:
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "backend": keras.backend.backend(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "onednn": _onednn_enabled()}


def _onednn_enabled() -> bool | None:
    """Whether this process's TensorFlow runs its oneDNN kernels (None if it cannot tell)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def _strategy(name: str | None):
    """The process's strategy (:mod:`compare.distribute`): for ``multiworker`` the one created at
    start-up, before TensorFlow ran anything; every trial of the process reuses it."""
    from . import distribute

    return distribute.get(name)


class _EpochTimer:
    """Records the training time of each epoch (a Keras callback, created lazily so that importing
    this module does not import Keras)."""

    @staticmethod
    def make():
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self._t, self._end = time.perf_counter(), None

            def on_test_begin(self, logs=None):
                # training time only: the validation pass that ends an epoch is not part of the
                # training throughput. (No batch-level hook: one would cost a sync every step.)
                if self._end is None:
                    self._end = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append((self._end or time.perf_counter()) - self._t)
                if logs and not all(math.isfinite(float(v)) for v in logs.values() if np.ndim(v) == 0):
                    self.model.stop_training = True

        return Timer()


def _latency_ms(model, x: np.ndarray, batch: int, repeats: int = 20) -> float:
    """Median milliseconds per image of a forward pass at ``batch`` (after a warm-up)."""
    xb = x[:batch]
    if len(xb) < batch:
        xb = np.resize(x, (batch, *x.shape[1:]))
    model.predict_on_batch(xb)  # warm-up: traces and compiles
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_on_batch(xb)
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000.0 / batch


def run_trial(config: dict, *, verbose: int = 0, save_path: str | None = None,
              callbacks: list | None = None, on_epoch: Callable | None = None) -> TrialResult:
    """Train and evaluate one trial; raise on failure (the runner records the reason)."""
    import keras
    import tensorflow as tf
    import zoo

    cfg = normalise_config(config)
    card = zoo.card(cfg["model"])
    recipe = get_recipe(cfg["recipe"], card.family)
    ds = cached_dataset(cfg["dataset"], int(cfg["seed"]), cfg["limit"])
    extra = build_extra(card)
    shape = model_input_shape(card, ds.shape, cfg["input_size"])
    batch = cfg["batch_size"] or recipe.batch_size
    lr = recipe.lr if cfg["lr"] is None else cfg["lr"]

    keras.utils.set_random_seed(int(cfg["seed"]))
    tf.config.experimental.enable_op_determinism()
    tr_idx, val_idx = datalib.validation_split(ds.y_train, cfg["val_fraction"])
    x_train, mean, std = datalib.prepare(ds.x_train[tr_idx], shape)  # statistics of the training images only
    x_val, _, _ = datalib.prepare(ds.x_train[val_idx], shape, mean, std)
    x_test, _, _ = datalib.prepare(ds.x_test, shape, mean, std)
    y_train, y_val = ds.y_train[tr_idx].astype("int32"), ds.y_train[val_idx].astype("int32")
    y_test = ds.y_test.astype("int32")
    steps_per_epoch = math.ceil(len(x_train) / batch)
    steps = steps_per_epoch * cfg["epochs"]

    strategy = _strategy(cfg["strategy"])
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = zoo.build(cfg["model"], input_shape=shape, classes=ds.num_classes, width=cfg["width"], **extra)
        n_out = len(model.outputs)
        losses = ["sparse_categorical_crossentropy"] * n_out
        model.compile(optimizer=make_optimizer(recipe, lr, steps, steps_per_epoch), loss=losses if n_out > 1 else losses[0],
                      loss_weights=loss_weights(card, n_out),
                      metrics=[["accuracy"]] + [[]] * (n_out - 1) if n_out > 1 else ["accuracy"])
    train = datalib.make_pipeline(x_train, y_train, batch, shuffle=True, seed=int(cfg["seed"]), augment=cfg["augment"])
    # the test split is not seen during training: curves and schedules watch the validation split
    val = datalib.make_pipeline(x_val, y_val, max(batch, 256), shuffle=False, seed=0) if len(y_val) else None
    if n_out > 1:  # every head learns the same labels; the report follows the main head
        train = train.map(lambda x, y: (x, tuple([y] * n_out)))
        val = val.map(lambda x, y: (x, tuple([y] * n_out))) if val is not None else None
    if strategy is None:  # under a strategy Keras builds them itself, before fit
        _build_compiled_state(model, train)
    timer = _EpochTimer.make()
    cbs = [timer, *callbacks_for(recipe, monitor="val_loss" if val is not None else "loss"), *(callbacks or [])]
    if on_epoch is not None:
        cbs.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: on_epoch(e, logs)))
    _peak_reset()
    t0 = time.perf_counter()
    fit = model.fit(train, validation_data=val, epochs=cfg["epochs"], verbose=verbose, callbacks=cbs,
                    shuffle=False)  # the pipeline shuffles, seeded
    train_s = time.perf_counter() - t0
    history = _history(fit.history, n_out)
    if not all(math.isfinite(v) for v in history["loss"]):
        raise TrialError(f"loss became NaN/inf at epoch {next(i for i, v in enumerate(history['loss']) if not math.isfinite(v)) + 1}")

    net = model if n_out == 1 else keras.Model(model.inputs, model.outputs[0], name=model.name)
    if strategy is not None:  # measured, evaluated and saved on one device, with no collectives
        net = single_device_copy(net)
    metrics = split_metrics(net, x_val, y_val, "val") if len(y_val) else {"val_acc": None, "val_err": None,
                                                                           "val_loss": None}
    probs = predict_probs(net, x_test)  # the test split, once, after training
    metrics.update(evaluate_test(probs, y_test))
    steady = timer.times[1:]  # the first epoch includes tracing and compilation: one epoch gives no throughput
    metrics.update({
        "train_loss": history["loss"][-1], "train_acc": history["accuracy"][-1],
        "train_s": round(train_s, 3), "epoch_s": [round(t, 3) for t in timer.times],
        "train_img_per_s": round(len(x_train) / float(np.mean(steady)), 1) if steady else None,
        "infer_ms_b1": round(_latency_ms(net, x_test, 1), 4), "infer_ms_b32": round(_latency_ms(net, x_test, 32), 4),
        "peak_mem_mb": _peak_mb(), "input_shape": list(shape), "classes": ds.num_classes,
        "data_channels": int(ds.x_train.shape[-1]),  # 1: grey images, copied to a 3-channel model's inputs
        "n_train": int(len(x_train)), "n_val": int(len(x_val)), "n_test": int(len(x_test)),
        "epochs_run": len(history["loss"]), "batch_size": batch, "lr": lr, **budget(recipe),
        "recipe_source": source_for(recipe, lr, batch), "versions": versions(),
        # replicas that trained the model: 1 without a strategy, the strategy's replica count with one
        "num_replicas_in_sync": int(strategy.num_replicas_in_sync) if strategy is not None else 1,
    })
    metrics.update(train_error_eval(net, x_train, y_train))
    metrics.update(measure(net))
    if save_path:
        os.makedirs(os.path.dirname(save_path) or ".", exist_ok=True)
        net.save(save_path)
    return TrialResult(metrics=metrics, history=history, model=net,
                       predictions={"pred": np.argmax(probs, axis=1), "label": y_test})


def _build_compiled_state(model, train) -> None:
    """Create the variables of the compiled loss and metrics before ``fit``, from the pipeline's
    element spec (no batch is drawn, so the seeded shuffle order is untouched).

    Without a distribution strategy, Keras 3.15 (TensorFlow backend) creates them inside the first
    trace of the train step, and TensorFlow traces a function that created variables a second time:
    every trial traced its whole train step twice (a tiny googlenet trial took 26.4 s instead of
    19.2 s, resnet8 8.2 s instead of 3.5 s; bench/RESULTS.md). Keras' own ``_symbolic_build`` is
    what ``fit`` runs under a strategy; with a Keras without it, only that speed is lost. The
    numbers are the same."""
    build = getattr(model, "_symbolic_build", None)
    if build is not None:
        build(data_batch=train.element_spec)


def budget(recipe) -> dict:
    """The training budget's recipe part, for every result row: optimizer, schedule (with its
    milestones), momentum and weight decay."""
    schedule = recipe.schedule
    if recipe.schedule == "steps" and recipe.milestones:
        schedule += " /10 at " + ",".join(f"{m:g}" for m in recipe.milestones)
    return {"optimizer": recipe.optimizer, "schedule": schedule, "momentum": recipe.momentum,
            "weight_decay": recipe.weight_decay}


def single_device_copy(net):
    """A copy of ``net`` (trained under a distribution strategy) with the same weights, made
    outside the strategy. Under a strategy ``predict_on_batch`` runs the whole batch on every
    replica (a 2-replica mirrored model returned 20 rows for 10 images), so a latency timed there
    counted replicas x the work; on the copy a forward pass is one device's. BatchNorm's moving
    statistics are the first replica's (Keras 3 keeps one set per replica under MirroredStrategy
    and saves the first), so the trial's errors are those of the model it saves. The copy is not
    compiled (it is only evaluated and saved)."""
    import keras

    copy = keras.models.clone_model(net)
    copy.set_weights(net.get_weights())
    return copy


#: Images per forward pass when a trained model predicts a whole split.
PREDICT_BATCH = 256


def predict_probs(net, x: np.ndarray) -> np.ndarray:
    """``net``'s outputs on ``x`` in inference mode, :data:`PREDICT_BATCH` images at a time.

    Through ``predict_on_batch``, the compiled function that :func:`_latency_ms` times: a trial
    traces one function for its validation, test and training predictions and its latencies,
    where ``predict`` traced a second family (a tiny trial: 4 prediction traces down to 2;
    bench/RESULTS.md). Same batches, same outputs. With more than one replica,
    ``predict_on_batch`` would run the whole batch on every replica: ``predict`` splits it.
    ``net`` has one output (a trial extracts GoogLeNet's main head first)."""
    if len(net.outputs) != 1:
        raise ValueError(f"predict_probs needs a model with one output, {net.name} has {len(net.outputs)}")
    if net.distribute_strategy.num_replicas_in_sync > 1:
        return net.predict(x, batch_size=PREDICT_BATCH, verbose=0)
    return np.concatenate([np.asarray(net.predict_on_batch(x[i:i + PREDICT_BATCH]))
                           for i in range(0, len(x), PREDICT_BATCH)])


def split_metrics(net, x: np.ndarray, y: np.ndarray, split: str) -> dict:
    """``<split>_acc``, ``<split>_err`` and ``<split>_loss`` (mean cross-entropy, probabilities
    clipped at 1e-7 as Keras does) of ``net`` in inference mode."""
    probs = np.asarray(predict_probs(net, x), dtype=np.float64)
    n, correct = len(y), int(np.sum(np.argmax(probs, axis=1) == y))
    p_true = np.clip(probs[np.arange(n), y], 1e-7, 1.0)
    return {f"{split}_acc": correct / n, f"{split}_err": (n - correct) / n, f"{split}_loss": float(-np.mean(np.log(p_true)))}


#: Top-5 error is measured only with more classes than this (with 10 or fewer it means little).
TOP5_MIN_CLASSES = 10


def evaluate_test(probs: np.ndarray, y: np.ndarray) -> dict:
    """Test-split metrics from the class probabilities: top-1 accuracy and error with the count of
    correct images and the error's 95% Wilson interval; top-5 only with more than
    :data:`TOP5_MIN_CLASSES` classes (None otherwise)."""
    from .stats import wilson

    correct = int(np.sum(np.argmax(probs, axis=1) == y))
    n = len(y)
    lo, hi = wilson(n - correct, n)
    out = {"top1_acc": correct / n, "top1_err": (n - correct) / n, "top1_correct": correct,
           "top1_err_lo": lo, "top1_err_hi": hi, "top5_acc": None, "top5_err": None}
    if probs.shape[1] > TOP5_MIN_CLASSES:
        top5 = float(np.mean(np.any(np.argsort(-probs, axis=1)[:, :5] == y[:, None], axis=1)))
        out.update(top5_acc=top5, top5_err=1.0 - top5)
    return out


def train_error_eval(net, x_train: np.ndarray, y_train: np.ndarray) -> dict:
    """Top-1 error on the training set in inference mode (BatchNorm moving statistics, no dropout,
    no augmentation), as the paper's training error; ``train_acc`` is instead the last epoch's
    running accuracy in training mode. Costs one forward pass over the training set (timed)."""
    t = time.perf_counter()
    pred = np.argmax(predict_probs(net, x_train), axis=1)
    return {"train_err_eval": 1.0 - float(np.mean(pred == y_train)), "train_eval_s": round(time.perf_counter() - t, 3)}


def measure(model) -> dict:
    """Params (trainable / non-trainable), MACs, FLOPs and depth of a model as trained."""
    import compare.profile as prof
    import zoo

    table = prof.profile(model)
    tot = prof.totals(table)
    return {"params": int(tot["trainable"]), "non_trainable": int(tot["non_trainable"]),
            "macs": int(tot["macs"]), "flops": int(tot["flops"]), "depth": int(zoo.depth(model))}


def _history(h: dict, n_out: int) -> dict:
    """Keras history with the main head's names: loss, accuracy, val_loss, val_accuracy."""
    out = {}
    for key, values in h.items():
        name = key
        if n_out > 1:
            if key.startswith(("aux", "val_aux")) or key in ("learning_rate",):
                continue
            name = key.replace("predictions_", "")
        out[name] = [float(v) for v in values]
    if n_out > 1:  # the total loss includes the auxiliary heads; keep the main head's loss too
        out["loss_total"] = [float(v) for v in h.get("loss", [])]
        out["loss"] = [float(v) for v in h.get("predictions_loss", h.get("loss", []))]
        if "val_predictions_loss" in h:
            out["val_loss"] = [float(v) for v in h["val_predictions_loss"]]
    return out
