"""A tiny REAL run for the report tests, written to the store the way compare.runner writes it.

Trains two tiny LeNet-5 variants for two epochs on the synthetic ``shapes`` set (one of them with
two seeds, for mean ± std), records one trial that fails at build time, and saves each trained
model as ``OUT/models/<id>_<model>.keras``. Swap :func:`make_run` for the runner call when it lands.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

# (model, width, seed, input_size): the last one is below lenet5's minimum input and fails to build
TRIALS: tuple[tuple[str, float, int, int], ...] = (
    ("lenet5", 0.5, 0, 32),
    ("lenet5", 0.5, 1, 32),
    ("lenet5_1998", 1.0, 0, 32),
    ("lenet5", 0.5, 0, 8),
)
DATASET = "shapes"
LIMIT = 160
EPOCHS = 2
BATCH = 32


def _config(model: str, width: float, seed: int, input_size: int) -> dict[str, Any]:
    return dict(model=model, dataset=DATASET, seed=seed, width=width, input_size=input_size, epochs=EPOCHS,
                batch_size=BATCH, recipe="adam", lr=1e-3, augment=None, strategy="default", study="main",
                limit=LIMIT)


def _latency_ms(model, x: np.ndarray, reps: int = 3) -> float:
    model(x, training=False)  # warm-up / trace
    start = time.perf_counter()
    for _ in range(reps):
        model(x, training=False)
    return (time.perf_counter() - start) / reps * 1000


def train_trial(out: Path, trial_id: int, config: dict[str, Any]) -> dict[str, Any]:
    """Build, train and evaluate one trial; returns its metrics (the runner's keys). Raises on failure."""
    import keras
    import tensorflow as tf

    import compare.profile as profiler
    import zoo
    from compare.data import load_dataset, prepare

    keras.utils.set_random_seed(config["seed"])
    ds = load_dataset(config["dataset"], seed=config["seed"], limit=config["limit"])
    shape = (config["input_size"], config["input_size"], ds.shape[-1])
    model = zoo.build(config["model"], input_shape=shape, classes=ds.num_classes, width=config["width"])
    x_train, mean, std = prepare(ds.x_train, shape)
    x_test, _, _ = prepare(ds.x_test, shape, mean, std)
    model.compile(optimizer=keras.optimizers.Adam(config["lr"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")])
    start = time.perf_counter()
    fit = model.fit(x_train, ds.y_train, epochs=config["epochs"], batch_size=config["batch_size"],
                    validation_data=(x_test, ds.y_test), verbose=0)
    train_s = time.perf_counter() - start
    _, top1, top5 = model.evaluate(x_test, ds.y_test, verbose=0)
    totals = profiler.totals(profiler.profile(model))
    weights = Path("models") / f"{trial_id}_{config['model']}.keras"
    (out / weights).parent.mkdir(parents=True, exist_ok=True)
    model.save(out / weights)
    history = {k: [float(v) for v in fit.history[k]] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    metrics = dict(
        top1_acc=float(top1), top1_err=1 - float(top1), top5_acc=float(top5), top5_err=1 - float(top5),
        train_loss=history["loss"][-1], train_acc=history["accuracy"][-1], train_s=train_s,
        train_img_per_s=len(x_train) * config["epochs"] / train_s,
        infer_ms_b1=_latency_ms(model, x_test[:1]), infer_ms_b32=_latency_ms(model, x_test[:32]),
        params=int(totals["trainable"]), non_trainable=int(totals["non_trainable"]), macs=int(totals["macs"]),
        flops=int(totals["flops"]), depth=int(zoo.depth(model)), input_shape=list(shape),
        peak_mem_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        weights_path=str(weights), versions={"keras": keras.__version__, "tensorflow": tf.__version__},
    )
    return dict(metrics=metrics, history=history)


def make_run(out: Path) -> Path:
    """Run :data:`TRIALS` into the results store ``out/results.sqlite`` as the runner does:
    ``begin`` each trial, then ``finish`` it with its metrics and history, or ``fail`` it with
    the error as reason. Returns ``out``."""
    from compare.store import Store

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Store(out / "results.sqlite") as store:
        for model, width, seed, input_size in TRIALS:
            config = _config(model, width, seed, input_size)
            trial_id = store.begin(config)
            try:
                result = train_trial(out, trial_id, config)
            except Exception as exc:  # the runner records any failure and moves on
                store.fail(trial_id, f"{type(exc).__name__}: {exc}")
                continue
            store.finish(trial_id, result["metrics"], result["history"])
    return out
