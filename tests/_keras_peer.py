"""The keras.applications side of the weights equivalence checks (tests and bench/bench_weights.py):
keras.applications' own model with random weights, written in its published legacy HDF5 layout."""

import h5py
import keras
import numpy as np

#: zoo model -> keras.applications class
KERAS_PEERS = {"vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "resnet101": "ResNet101",
               "resnet152": "ResNet152"}


def keras_peer(model: str, include_top: bool = True, seed: int = 1):
    """keras.applications' own model, random weights: conv biases, BN statistics and affine too."""
    peer = getattr(keras.applications, KERAS_PEERS[model])(weights=None, include_top=include_top,
                                                             classifier_activation=None)
    rng = np.random.default_rng(seed)
    for layer in peer.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), rng.normal(0, 0.2, c),
                               rng.uniform(0.5, 2.0, c)])
        elif isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape)])
    return peer


def write_legacy_h5(peer, path) -> None:
    """``peer``'s weights in keras.applications' published layout, by Keras' own legacy writer."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, peer)
