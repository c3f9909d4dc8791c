"""Training throughput through the runner vs a bare ``model.fit`` on in-memory arrays.

Same model, batch size, optimizer and process; the two routes alternate ``--rounds`` times and
the medians are compared. Throughput = training images per second over the steady epochs (the
first epoch, which traces and compiles, is left out; validation is not timed).
Target (issue 4): the runner keeps at least 0.95 of the bare throughput.

    python bench/bench_runner.py [--models lenet5,resnet20] [--epochs 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import quiet_tensorflow  # noqa: E402

quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402

import zoo  # noqa: E402
from compare import data as datalib  # noqa: E402
from compare.recipes import get_recipe, make_optimizer  # noqa: E402
from compare.train import cached_dataset, model_input_shape, run_trial  # noqa: E402


def bare_fit(cfg: dict) -> float:
    """images/s of model.fit on numpy arrays, with the runner's model, data, batch and optimizer."""
    card = zoo.card(cfg["model"])
    ds = cached_dataset(cfg["dataset"], 0, None)
    shape = model_input_shape(card, ds.shape, cfg.get("input_size"))
    x, mean, std = datalib.prepare(ds.x_train, shape)
    y = ds.y_train.astype("int32")
    keras.utils.set_random_seed(cfg["seed"])
    model = zoo.build(cfg["model"], input_shape=shape, classes=ds.num_classes, width=cfg["width"])
    recipe = get_recipe("default", card.family)
    steps = -(-len(x) // cfg["batch_size"]) * cfg["epochs"]
    model.compile(optimizer=make_optimizer(recipe, recipe.lr, steps), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(x, y, batch_size=cfg["batch_size"], epochs=cfg["epochs"], verbose=0, callbacks=[Timer()])
    return len(x) / float(np.mean(times[1:]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="lenet5,resnet20")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    if args.epochs < 2:
        p.error(f"--epochs must be >= 2 (throughput is timed over the epochs after the first), got {args.epochs}")
    print(f"machine: {os.cpu_count()} cpus, {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}, keras {keras.__version__}")
    for name in args.models.split(","):
        cfg = dict(model=name, dataset="mnist5k", seed=0, width=1.0, epochs=args.epochs, batch_size=args.batch_size)
        runner, bare = [], []
        for _ in range(args.rounds):
            runner.append(run_trial(cfg).metrics["train_img_per_s"])
            bare.append(bare_fit(cfg))
        r, b = statistics.median(runner), statistics.median(bare)
        print(f"{name}: runner {r:,.0f} img/s (rounds {', '.join(f'{v:,.0f}' for v in runner)}), "
              f"bare fit {b:,.0f} img/s (rounds {', '.join(f'{v:,.0f}' for v in bare)}), ratio {r / b:.3f}")


if __name__ == "__main__":
    main()
