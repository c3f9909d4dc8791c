"""What a trained model learned: its first-layer filters and its activation maps for a test image.

These plots take a Keras model (and an image), not a DataFrame; :func:`load_trained_model` and
:func:`test_image` fetch both from a run, the way the runner saved and fed them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .plots import new_figure

__all__ = ["load_trained_model", "conv_layers", "test_image", "filters_caption", "plot_filters", "plot_activations"]

STATS_SAMPLES = 5000  # train images used for the normalisation statistics of the test image


def load_trained_model(run_dir: str | Path, weights_path: str | Path):
    """The trained model saved by the runner (``weights_path`` relative to ``run_dir``), uncompiled.

    zoo's families are imported first so their custom layers deserialise.
    """
    path = Path(run_dir) / weights_path
    if not path.is_file():
        raise FileNotFoundError(f"trained model {str(path)!r} does not exist")
    import keras
    import zoo

    zoo.list_models()  # registers every family's custom layers
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a bad file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"cannot load trained model {str(path)!r}: {first}") from None


def conv_layers(model) -> list:
    """The model's top-level 2-D convolutions (layers with a 4-D ``kernel``), in graph order."""
    return [layer for layer in model.layers
            if getattr(layer, "kernel", None) is not None and len(layer.kernel.shape) == 4]


def test_image(config: dict[str, Any], input_shape: tuple[int, int, int], index: int = 0
               ) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """Test image ``index`` of the trial's dataset: ``(raw uint8 HxWxC, model input, label, class names)``.

    Loaded with ``compare.data.load_dataset(config["dataset"], seed=config["seed"],
    limit=config.get("limit"))`` and standardised by ``compare.data.prepare`` with statistics of
    (at most :data:`STATS_SAMPLES`) training images, as the runner feeds the model.
    """
    from compare.data import load_dataset, prepare

    ds = load_dataset(config["dataset"], seed=int(config.get("seed") or 0), limit=config.get("limit"))
    if not len(ds.x_test):
        raise ValueError(f"dataset {config['dataset']!r} has no test images")
    _, mean, std = prepare(ds.x_train[:STATS_SAMPLES], input_shape)
    x, _, _ = prepare(ds.x_test[index:index + 1], input_shape, mean, std)
    label = ds.class_names[int(ds.y_test[index])]
    return ds.x_test[index], x[0], label, list(ds.class_names)


def _grid(n: int) -> tuple[int, int]:
    """Rows and columns for ``n`` tiles: one row up to 8, else 8 (or more, for many) per row."""
    cols = n if n <= 8 else max(8, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


TILE_INCHES = 1.0
"""Each filter's tile: about 110 px in the report's PNG, 10 px per kernel pixel of an 11x11 filter."""


def _first_conv(model):
    convs = conv_layers(model)
    if not convs:
        raise ValueError(f"model {model.name!r} has no 2-D convolution to show filters of")
    layer = convs[0]
    return layer, np.asarray(layer.kernel.numpy() if hasattr(layer.kernel, "numpy") else layer.kernel)


def filters_caption(model, max_filters: int = 64) -> str:
    """What :func:`plot_filters` shows for ``model``, for the report's caption (no text is baked into the figure)."""
    layer, kernel = _first_conv(model)
    kh, kw, cin, cout = kernel.shape
    shown = "in RGB" if cin == 3 else ("in grey" if cin == 1 else f"as the mean of {cin} input channels, in grey")
    more = f" (the first {max_filters})" if cout > max_filters else ""
    return (f"layer '{layer.name}': {cout} filters of {kh}x{kw}x{cin}{more}, shown {shown}, each scaled "
            "symmetrically around zero (mid-grey = 0, its largest weight in absolute value at the end of the range)")


def plot_filters(model, max_filters: int = 64) -> Figure:
    """The kernels of the model's first convolution, one enlarged tile per filter (no titles: the
    caption is :func:`filters_caption`).

    Three input channels are shown as colour, one as grey, any other count as the mean over input
    channels in grey; each filter is scaled symmetrically around zero, so mid-grey is a zero weight.
    """
    _layer, kernel = _first_conv(model)
    kh, kw, cin, cout = kernel.shape
    n = min(cout, max_filters)
    rows, cols = _grid(n)
    fig, axes = new_figure(TILE_INCHES * cols + 0.2, TILE_INCHES * rows + 0.2, ncols=cols, nrows=rows)
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_visible(False)
            continue
        w = kernel[..., i] if cin in (1, 3) else kernel[..., i].mean(axis=-1, keepdims=True)
        w = 0.5 + w / (2 * (np.abs(w).max() or 1.0))
        if cin == 3:
            ax.imshow(w, interpolation="nearest")
        else:
            ax.imshow(w[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.subplots_adjust(left=0.1 / fig.get_figwidth(), right=1 - 0.1 / fig.get_figwidth(),
                        bottom=0.1 / fig.get_figheight(), top=1 - 0.1 / fig.get_figheight(), wspace=0.08, hspace=0.08)
    return fig


def plot_activations(model, image: np.ndarray, raw: np.ndarray | None = None, label: str | None = None,
                     class_names: list[str] | None = None, layers: int = 2, max_maps: int = 16) -> Figure:
    """Activation maps of the model's first ``layers`` convolutions for one input ``image``.

    ``image`` is the model input (H, W, C float, as fed in training); ``raw`` the image as stored
    (shown at the left, else ``image`` rescaled); ``label`` and ``class_names`` add the true and the
    predicted class above it. Up to ``max_maps`` maps per layer, all maps of a layer on one colour
    scale, with that layer's colour bar at the right.
    """
    import keras

    convs = conv_layers(model)[:layers]
    if not convs:
        raise ValueError(f"model {model.name!r} has no 2-D convolution to show activations of")
    probe = keras.Model(model.input, [layer.output for layer in convs] + [model.outputs[0]])
    outputs = probe(np.asarray(image, np.float32)[None], training=False)
    maps, pred = [np.asarray(o)[0] for o in outputs[:-1]], np.asarray(outputs[-1])[0]
    per_row = 8
    rows_per = [math.ceil(min(m.shape[-1], max_maps) / per_row) for m in maps]
    nrows = sum(rows_per)
    fig = new_figure(3.2 + 1.15 * per_row, 1.15 * nrows + 0.5, ncols=1, nrows=1)[0]
    fig.clear()
    grid = fig.add_gridspec(nrows, per_row + 2, width_ratios=[2.2] + [1] * per_row + [0.12])
    ax = fig.add_subplot(grid[: min(nrows, 2), 0])
    shown = raw if raw is not None else (image - image.min()) / (np.ptp(image) or 1.0)
    shown = np.asarray(shown)
    ax.imshow(shown[..., 0] if shown.shape[-1] == 1 else shown, cmap="gray" if shown.shape[-1] == 1 else None)
    title = "input" + (f"\nclass: {label}" if label else "")
    if class_names is not None and pred.ndim == 1 and len(pred) == len(class_names):
        if not (pred.min() >= 0 and abs(float(pred.sum()) - 1) < 1e-3):  # logits -> probabilities
            pred = np.exp(pred - pred.max()) / np.exp(pred - pred.max()).sum()
        top = int(np.argmax(pred))
        title += f"\npredicted: {class_names[top]}\n(p={float(pred[top]):.2f})"
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    row = 0
    for layer, m, nr in zip(convs, maps, rows_per):
        count = min(m.shape[-1], max_maps)
        vmin, vmax = float(m[..., :count].min()), float(m[..., :count].max())
        if vmax <= vmin:
            vmax = vmin + 1.0
        image_ax = None
        for k in range(nr * per_row):
            a = fig.add_subplot(grid[row + k // per_row, 1 + k % per_row])
            a.set_xticks([])
            a.set_yticks([])
            if k >= count:
                a.set_visible(False)
                continue
            image_ax = a.imshow(m[..., k], cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
            a.set_title(f"#{k}", fontsize=6, pad=1)
            if k % per_row == 0:
                a.set_ylabel(f"{layer.name}\n{m.shape[-1]}@{m.shape[0]}x{m.shape[1]}", fontsize=7)
        cax = fig.add_subplot(grid[row:row + nr, -1])
        fig.colorbar(image_ax, cax=cax)
        cax.set_label("colorbar")
        cax.tick_params(labelsize=6)
        cax.set_ylabel(f"{layer.name} activation", fontsize=6)
        row += nr
    fig.tight_layout()
    return fig
