"""Training recipes: the optimiser, learning-rate schedule and weight decay of a trial.

``default`` trains every zoo model well on small data on a CPU (Adam, cosine decay).
``paper`` is each paper's own recipe (the ``source`` of each entry names the paper and section), scaled to the trial's epoch count: SGD with
momentum 0.9, the paper's initial learning rate, weight decay and schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

RECIPES = ("default", "paper")


@dataclass(frozen=True)
class Recipe:
    name: str
    optimizer: str  # "adam" | "sgd"
    lr: float
    momentum: float = 0.0
    weight_decay: float | None = None
    #: "cosine": cosine decay to 0; "steps": divide by 10 at the given fractions of training;
    #: "plateau": divide by 10 when the validation loss stops improving; "exp": x0.96 every 8 epochs
    schedule: str = "cosine"
    milestones: tuple[float, ...] = ()
    batch_size: int = 64
    source: str = ""


DEFAULT = Recipe("default", "adam", 1e-3, schedule="cosine", batch_size=64,
                 source="project default: Adam 1e-3, cosine decay, no weight decay")

# family -> the paper's recipe, each with its source
PAPER = {
    "alexnet": Recipe("paper", "sgd", 0.01, 0.9, 5e-4, "plateau", batch_size=128,
                      source="Krizhevsky 2012: SGD m=0.9, batch 128, wd 5e-4, lr 0.01 /10 on plateau"),
    "zfnet": Recipe("paper", "sgd", 0.01, 0.9, 5e-4, "plateau", batch_size=128,
                    source="Zeiler & Fergus 2013: as AlexNet (SGD m=0.9, batch 128, lr 0.01)"),
    "vgg": Recipe("paper", "sgd", 0.01, 0.9, 5e-4, "plateau", batch_size=256,
                  source="Simonyan & Zisserman 2014: SGD m=0.9, batch 256, wd 5e-4, lr 0.01 /10 on plateau"),
    "googlenet": Recipe("paper", "sgd", 0.01, 0.9, 2e-4, "exp", batch_size=128,
                        source="Szegedy 2014: SGD m=0.9, lr decreased 4% every 8 epochs"),
    "resnet": Recipe("paper", "sgd", 0.1, 0.9, 1e-4, "plateau", batch_size=256,
                     source="He 2015: SGD m=0.9, batch 256, lr 0.1 /10 on plateau, wd 1e-4"),
    "resnet_cifar": Recipe("paper", "sgd", 0.1, 0.9, 1e-4, "steps", (0.5, 0.75), batch_size=128,
                           source="He 2015 sec. 4.2: SGD m=0.9, batch 128, lr 0.1 /10 at 32k and 48k of 64k iterations"),
    "lenet": Recipe("paper", "sgd", 0.01, 0.9, None, "steps", (0.5, 0.75), batch_size=32,
                    source="LeCun 1998 used stochastic diagonal Levenberg-Marquardt; plain SGD stands in"),
}
PAPER_FALLBACK = Recipe("paper", "sgd", 0.01, 0.9, None, "cosine", source="SGD m=0.9 (no published recipe)")


def source_for(recipe: Recipe, lr: float, batch_size: int) -> str:
    """``recipe.source``, plus what the trial set differently (its ``lr`` and batch size are
    stored beside it): ``"project default: Adam 1e-3, ...; this trial: lr 0.002, batch 32"``."""
    changed = [f"lr {lr:g}"] if lr != recipe.lr else []
    changed += [f"batch {batch_size}"] if batch_size != recipe.batch_size else []
    return recipe.source + (f"; this trial: {', '.join(changed)}" if changed else "")


def get_recipe(name: str, family: str) -> Recipe:
    """The recipe ``name`` for a model of ``family``."""
    if name == "default":
        return DEFAULT
    if name == "paper":
        return PAPER.get(family, PAPER_FALLBACK)
    raise ValueError(f"unknown recipe {name!r}; accepted: {', '.join(RECIPES)}")


def make_optimizer(recipe: Recipe, lr: float, steps: int, steps_per_epoch: int = 1):
    """A Keras optimizer for ``recipe`` at initial rate ``lr`` over ``steps`` training steps
    (``steps_per_epoch`` sets the "x0.96 every 8 epochs" schedule). Plateau schedules are a
    callback (see :func:`callbacks_for`), not part of the optimizer."""
    import keras

    schedule = lr
    if recipe.schedule == "cosine" and steps > 1:
        schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps)
    elif recipe.schedule == "steps" and recipe.milestones:
        bounds = [max(1, int(steps * f)) for f in recipe.milestones]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            bounds, [lr * 0.1 ** i for i in range(len(bounds) + 1)])
    elif recipe.schedule == "exp":
        schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=8 * max(1, steps_per_epoch),
                                                               decay_rate=0.96, staircase=True)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(schedule, weight_decay=recipe.weight_decay)
    return keras.optimizers.SGD(schedule, momentum=recipe.momentum, weight_decay=recipe.weight_decay)


def callbacks_for(recipe: Recipe, monitor: str = "val_loss") -> list:
    """Callbacks of ``recipe``: the plateau schedule watches ``monitor`` (the validation loss; the
    training loss when the trial has no validation split)."""
    import keras

    if recipe.schedule == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.1, patience=2, verbose=0)]
    return []
