"""A tiny REAL run for the report tests, made by the runner itself (compare.runner.run).

Trains two tiny LeNet-5 variants for two epochs on the synthetic ``shapes`` set (one of them with
two seeds, for mean ± std), and one trial that fails (its input is below lenet5's minimum): the
runner stores it as failed with its reason and goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (model, width, seed, input_size): the last one is below lenet5's minimum input and fails
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
    from compare.train import normalise_config

    return normalise_config(dict(model=model, dataset=DATASET, seed=seed, width=width, input_size=input_size,
                                 epochs=EPOCHS, batch_size=BATCH, limit=LIMIT, study="main"))


def make_run(out: Path) -> Path:
    """Run :data:`TRIALS` with the runner into ``out/results.sqlite``; returns ``out``."""
    from compare.runner import run

    run([_config(*t) for t in TRIALS], out)
    return Path(out)
