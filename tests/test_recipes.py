"""Training recipes: the papers' optimisers and schedules, and the default."""

from __future__ import annotations

import numpy as np
import pytest

from compare.recipes import PAPER, get_recipe, make_optimizer


def lr_at(optimizer, step: int) -> float:
    """The optimizer's learning rate at ``step`` (Keras keeps the schedule in ``_learning_rate``)."""
    schedule = optimizer._learning_rate
    return float(np.asarray(schedule(step)))


def test_paper_recipes_follow_spec():
    cifar = get_recipe("paper", "resnet_cifar")
    assert (cifar.optimizer, cifar.lr, cifar.momentum, cifar.weight_decay, cifar.batch_size) == ("sgd", 0.1, 0.9, 1e-4, 128)
    alex = get_recipe("paper", "alexnet")
    assert (alex.lr, alex.momentum, alex.weight_decay, alex.batch_size, alex.schedule) == (0.01, 0.9, 5e-4, 128, "plateau")
    assert get_recipe("paper", "resnet").weight_decay == 1e-4 and get_recipe("paper", "vgg").batch_size == 256
    assert get_recipe("default", "vgg").optimizer == "adam"
    assert set(PAPER) == {"alexnet", "zfnet", "vgg", "googlenet", "resnet", "resnet_cifar", "lenet"}
    with pytest.raises(ValueError, match="unknown recipe 'sgd'; accepted: default, paper"):
        get_recipe("sgd", "vgg")


def test_schedules():
    # CIFAR ResNet: /10 at 50% and 75% of training (32k and 48k of 64k iterations)
    opt = make_optimizer(get_recipe("paper", "resnet_cifar"), 0.1, steps=64_000)
    assert [round(lr_at(opt, s), 6) for s in (0, 31_999, 32_001, 48_001)] == [0.1, 0.1, 0.01, 0.001]
    # GoogLeNet: x0.96 every 8 epochs
    opt = make_optimizer(get_recipe("paper", "googlenet"), 0.01, steps=100 * 40, steps_per_epoch=100)
    assert lr_at(opt, 799) == pytest.approx(0.01) and lr_at(opt, 800) == pytest.approx(0.0096)
    # default: Adam with cosine decay to 0
    opt = make_optimizer(get_recipe("default", "vgg"), 1e-3, steps=1000)
    assert lr_at(opt, 0) == pytest.approx(1e-3) and lr_at(opt, 500) == pytest.approx(5e-4, rel=1e-4)
    assert lr_at(opt, 1000) == pytest.approx(0.0, abs=1e-9)


def test_recipe_paper_from_the_command_line_reaches_the_trials_optimizer(monkeypatch, tmp_path):
    """`python -m compare run --recipe paper` plans trials with recipe "paper"; the trial compiles its
    model with SGD, momentum 0.9, He et al.'s weight decay 1e-4 and the /10-at-50%-and-75% schedule,
    and trains with those rates step by step."""
    import keras

    from compare import run_cli
    from compare.__main__ import main
    from compare.train import run_trial

    planned = []
    monkeypatch.setattr(run_cli, "execute", lambda configs, out, args: planned.extend(configs) or 0)
    assert main(["run", "--models", "resnet8", "--recipe", "paper", "--dataset", "shapes", "--limit", "64",
                 "--width", "0.25", "--batch-size", "32", "--epochs", "4", "--out", str(tmp_path / "o")]) == 0
    assert [(c["model"], c["recipe"], c["epochs"], c["batch_size"], c["lr"]) for c in planned] == [
        ("resnet8", "paper", 4, 32, None)]
    assert not (tmp_path / "o").exists()  # planned only

    class Rates(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.rates = []

        def on_train_batch_begin(self, batch, logs=None):
            self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    rates = Rates()
    result = run_trial(planned[0], callbacks=[rates])
    opt = result.model.optimizer
    assert type(opt) is keras.optimizers.SGD
    assert (opt.momentum, opt.nesterov, opt.weight_decay) == (0.9, False, 1e-4)
    schedule = opt.get_config()["learning_rate"]["config"]
    # 64 images / batch 32 = 2 steps per epoch, 8 steps: lr 0.1, /10 after step int(8 x 0.5) = 4 and again
    # after int(8 x 0.75) = 6 (a boundary step still has the rate before it)
    assert schedule["boundaries"] == [4, 6]
    assert schedule["values"] == pytest.approx([0.1, 0.01, 0.001], rel=1e-12)
    assert rates.rates == pytest.approx([0.1] * 5 + [0.01] * 2 + [0.001], rel=1e-6)
    assert int(opt.iterations.numpy()) == 8
    assert (result.metrics["lr"], result.metrics["batch_size"]) == (0.1, 32)
    # the paper's batch is 128; this trial's 32 is said beside the source
    assert result.metrics["recipe_source"] == ("He 2015 sec. 4.2: SGD m=0.9, batch 128, lr 0.1 /10 at 32k and 48k "
                                               "of 64k iterations; this trial: batch 32")


def test_recipe_source_names_what_the_trial_changed():
    from compare.recipes import DEFAULT, source_for

    assert source_for(DEFAULT, 1e-3, 64) == "project default: Adam 1e-3, cosine decay, no weight decay"
    # the main job's LeNet-5: lr 0.002, batch 32
    assert source_for(DEFAULT, 0.002, 32) == ("project default: Adam 1e-3, cosine decay, no weight decay; "
                                              "this trial: lr 0.002, batch 32")


def test_paper_plateau_recipe_for_alexnet():
    """AlexNet's recipe as a trial builds it (its card's family): SGD m=0.9, wd 5e-4, lr 0.01 held
    constant in the optimizer, divided by 10 by a plateau callback on the validation loss."""
    import keras
    import zoo

    from compare.recipes import callbacks_for

    recipe = get_recipe("paper", zoo.card("alexnet").family)
    opt = make_optimizer(recipe, recipe.lr, steps=1000, steps_per_epoch=10)
    assert type(opt) is keras.optimizers.SGD
    assert (opt.momentum, opt.weight_decay, recipe.batch_size) == (0.9, 5e-4, 128)
    assert float(opt.learning_rate) == pytest.approx(0.01, rel=1e-6)  # no schedule in the optimizer
    (plateau,) = callbacks_for(recipe)
    assert type(plateau) is keras.callbacks.ReduceLROnPlateau
    assert (plateau.monitor, plateau.factor, plateau.patience) == ("val_loss", 0.1, 2)
