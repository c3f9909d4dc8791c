"""Every card's figures against the graph zoo builds: trainable and non-trainable parameters, MACs
(counted by compare.profile, cross-checked elsewhere against hand arithmetic and TensorFlow's
profiler) and depth, at the default input. resnet1202's card is checked in a fresh process by
tests/test_backends.py. The cards' figures themselves are recomputed from the papers' layer tables,
apart from zoo's code, in tests/test_paper_tables.py."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import compare
import zoo


def n_params(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_models(exclude="resnet1202"))  # resnet1202: test_backends, fresh process
def test_card_equals_the_built_graph(name):
    c = zoo.card(name)
    model = zoo.build(name)
    assert model.name == name and model.output_shape == (None, c.classes)
    assert model.input_shape[1:] == c.input_shape
    measured = (n_params(model.trainable_weights), n_params(model.non_trainable_weights),
                int(compare.profile.totals(compare.profile(model))["macs"]), zoo.depth(model))
    assert measured == (c.params, c.non_trainable, c.macs, c.depth)
    del model
    gc.collect()


def test_every_card_names_a_source_for_each_figure():
    for name in zoo.list_models():
        c = zoo.card(name)
        required = {"params", "non_trainable", "macs", "depth"}
        required |= {k for k in ("top1_err", "top5_err") if getattr(c, k) is not None}
        assert required <= set(c.sources), (name, required - set(c.sources))
