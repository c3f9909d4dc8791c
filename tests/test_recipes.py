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


def test_paper_recipe_trial_records_its_source():
    from compare.train import run_trial

    r = run_trial(dict(model="resnet8", dataset="shapes", limit=64, epochs=1, width=0.25, batch_size=32,
                       recipe="paper"))
    assert r.metrics["recipe_source"].startswith("He 2015 sec. 4.2: SGD m=0.9")
    assert r.metrics["lr"] == 0.1 and r.metrics["batch_size"] == 32
