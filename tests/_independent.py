"""Errors recomputed from a trained model file, apart from the code that stored them.

The runner saves each trained model (``weights_path``) and stores its top-1/top-5 test error and
its training error in inference mode. Here the model is loaded back from disk, the trial's data
are rebuilt from the dataset (compare.data's loader, ``validation_split`` and ``prepare``, which
tests/test_data.py checks on their own), and the mistakes are counted with numpy: the stored
fractions must equal ``mistakes / images`` exactly. The training statistics (mean, std) are the
training images' without the validation images, as the trial computed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Recount:
    n_test: int
    top1_mistakes: int
    top5_mistakes: int
    n_train: int
    train_mistakes: int
    n_val: int = 0
    val_mistakes: int = 0
    val_loss: float = float("nan")  # mean cross-entropy on the validation split (probabilities clipped at 1e-7)
    test_pred: tuple = ()

    @property
    def top1_err(self) -> float:
        return self.top1_mistakes / self.n_test

    @property
    def top5_err(self) -> float:
        return self.top5_mistakes / self.n_test

    @property
    def train_err(self) -> float:
        return self.train_mistakes / self.n_train


def recount(run_dir: str | Path, row) -> Recount:
    """Mistakes of the model saved for store row ``row`` (a ``Store.trials()`` row) on its
    trial's test and training splits."""
    import keras

    import zoo  # noqa: F401  (registers zoo's custom layers for loading)
    from compare.data import load_dataset, prepare, validation_split

    cfg = row["config"]
    model = keras.saving.load_model(Path(run_dir) / row["weights_path"], compile=False)
    shape = tuple(model.input_shape[1:])
    ds = load_dataset(cfg["dataset"], seed=int(cfg["seed"]), limit=cfg.get("limit"))
    tr, va = validation_split(ds.y_train, cfg.get("val_fraction", 0.0))  # schema-1 trials had none
    x_train, mean, std = prepare(ds.x_train[tr], shape)
    x_val, _, _ = prepare(ds.x_train[va], shape, mean, std)
    x_test, _, _ = prepare(ds.x_test, shape, mean, std)
    probs = np.asarray(model.predict(x_test, batch_size=256, verbose=0))
    top1 = np.argmax(probs, axis=1)
    k = min(5, probs.shape[1])
    in_top5 = [y in set(np.argsort(-p)[:k].tolist()) for p, y in zip(probs, ds.y_test.tolist())]
    train_pred = np.argmax(np.asarray(model.predict(x_train, batch_size=256, verbose=0)), axis=1)
    val_probs = np.asarray(model.predict(x_val, batch_size=256, verbose=0), dtype=np.float64) if len(va) else None
    val_pred = np.argmax(val_probs, axis=1) if len(va) else []
    y_val = ds.y_train[va]
    val_loss = float(-np.mean(np.log(np.clip(val_probs[np.arange(len(va)), y_val], 1e-7, 1.0)))) if len(va) else float("nan")
    return Recount(n_test=len(ds.y_test), top1_mistakes=int(np.sum(top1 != ds.y_test)),
                   top5_mistakes=int(len(in_top5) - sum(in_top5)), n_train=len(tr),
                   train_mistakes=int(np.sum(train_pred != ds.y_train[tr])), n_val=len(va),
                   val_mistakes=int(np.sum(val_pred != y_val)), val_loss=val_loss, test_pred=tuple(top1.tolist()))
