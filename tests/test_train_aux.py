"""GoogLeNet trains with its auxiliary heads as its card says (compare.train reads card.training):
the loss is main + 0.3 x aux1 + 0.3 x aux2, and the trained model kept is the main head alone."""

from __future__ import annotations

import math

import keras
import numpy as np

import zoo
from compare.train import run_trial


class _Logs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(dict(logs or {}))


def test_googlenet_trains_with_weighted_aux_losses_and_keeps_the_main_head(tmp_path, train_step_traces):
    logs = _Logs()
    result = run_trial(dict(model="googlenet", dataset="digits", width=0.0625, epochs=1, limit=128, seed=0),
                       save_path=str(tmp_path / "g.keras"), callbacks=[logs])
    assert train_step_traces == ["googlenet"]  # three heads' losses and metrics built before fit: one trace
    epoch = logs.epochs[0]
    # Keras reports each head's loss and the weighted total it optimised
    assert math.isclose(epoch["loss"], epoch["predictions_loss"] + 0.3 * epoch["aux1_loss"] + 0.3 * epoch["aux2_loss"],
                        rel_tol=1e-4)
    assert result.metrics["input_shape"] == [65, 65, 3]  # the auxiliary heads' minimum, not GoogLeNet's 1
    net = result.model
    assert len(net.outputs) == 1 and net.output_shape == (None, 10)
    main_only = zoo.googlenet(input_shape=(65, 65, 3), classes=10, width=0.0625)
    count = lambda m: sum(int(np.prod(w.shape)) for w in m.trainable_weights)  # noqa: E731
    assert count(net) == count(main_only) == result.metrics["params"]
    saved = keras.saving.load_model(tmp_path / "g.keras")
    heads = lambda m: [o._keras_history.operation.name for o in m.outputs]  # noqa: E731
    assert heads(saved) == heads(net) == ["predictions"]
    assert saved.output_shape == (None, 10)
