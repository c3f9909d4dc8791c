"""docs/reference.md, rendered from the cards: the counting conventions, every model's figures and
the source of each figure. ``python -m zoo reference > docs/reference.md`` regenerates it; a test
checks that the committed file is up to date. Imports no Keras.
"""

from __future__ import annotations

from common.conventions import CONVENTIONS

from .cards import COUNTED, Card
from .registry import card, list_models

RULES = """\
## Counting conventions

{conventions}

- **params** are trainable parameters, the papers' and torchvision's convention. Keras'
  `count_params()` also counts BatchNorm's moving mean and variance; those are reported as
  **non-trainable**, never mixed in (LeNet-5 1998's fixed RBF codes are non-trainable too).
- **MACs** are multiply-accumulates of convolution and dense layers per image: what the papers call
  "FLOPs" or "multiply-adds" (ResNet's "3.6 billion FLOPs (multiply-adds)", VGG's 15.3 G and 19.6 G).
  **FLOPs = 2 x MACs.** A convolution costs `kh * kw * (Cin / groups) * Cout * Hout * Wout`, a dense
  layer `in * out`; each leaf layer is counted once. BatchNorm, activations, pooling, add and concat
  work is reported separately as "all ops" (`compare.profile`), never in the MACs column. LeNet-5
  1998's other layers with parameters count their multiplies too: its trainable subsampling (one per
  output) and its RBF output (84 squared differences per class), itemised on its card.
- **depth** is the number of weighted layers (conv + dense) on the longest input-to-output path,
  without projection shortcuts or auxiliary heads (`zoo.depth`): LeNet-5 5, AlexNet 8, VGG-16 16,
  GoogLeNet 22, ResNet-50 50, CIFAR ResNet-20 20.
- Output size of a convolution or pool: `O = (N - F + 2P) / S + 1`. When it is not an integer the
  layer does not fit its input (7x7 input, 3x3 filter, stride 3: 2.33), unless the layer rounds down
  or up on purpose (Caffe-era pools round up: ZFNet). Worked example: a 32x32x3 input and ten 5x5x3
  filters with stride 1 and pad 2 give 32x32x10 and 10 * (5*5*3 + 1) = 760 parameters.

Every figure below is at the model's default input with its default number of classes. A figure
marked "{counted}" is exact and measured on the graph that `zoo` builds (`compare.profile` for MACs,
`zoo.depth` for depth, Keras' weights for parameters); where a paper or torchvision publishes the
figure, the source says so and the card equals it (rounded figures are cited as rounded).
`tests/test_cards.py` builds every model and checks each card against its graph.
"""


def count(v) -> str:
    """``61706 -> "61,706"``; ``"-"`` for None."""
    return "-" if v is None else f"{v:,}"


def published_error(c: Card, unit: str = "") -> str:
    """``"top-1 29.6, top-5 10.4 (dataset)"`` (``unit="%"`` after each figure); ``"-"`` for none."""
    parts = [f"top-{k} {v:g}{unit}" for k, v in ((1, c.top1_err), (5, c.top5_err)) if v is not None]
    return (", ".join(parts) + f" ({c.err_dataset})") if parts else "-"


def render() -> str:
    """The whole of docs/reference.md."""
    names = list_models()
    out = ["# Reference figures and their sources", "",
           "Generated from the model cards (`zoo/cards.py`) by `python -m zoo reference > docs/reference.md`; do not edit by hand.", "",
           RULES.format(conventions=CONVENTIONS, counted=COUNTED), "## The models", "",
           "| model | family | year | input | params | non-trainable | MACs | depth | published error (%) |",
           "|---|---|---|---|---:|---:|---:|---:|---|"]
    for n in names:
        c = card(n)
        shape = "x".join(map(str, c.input_shape))
        out.append(f"| {n} | {c.family} | {c.year} | {shape} | {count(c.params)} | {count(c.non_trainable)} | "
                   f"{count(c.macs)} | {c.depth} | {published_error(c)} |")
    out += ["", "## Sources of the figures", ""]
    for n in names:
        c = card(n)
        published = {k: v for k, v in c.sources.items() if v != COUNTED}
        counted = [k for k, v in c.sources.items() if v == COUNTED]
        line = f"- **{n}** ({c.paper}, {c.year}): "
        line += "; ".join(f"{k}: {v}" for k, v in published.items()) or "no published figure"
        if counted:
            line += f"; {', '.join(counted)}: {COUNTED}"
        out.append(line + ".")
    out += weights_section()
    return "\n".join(out) + "\n"


def weights_section() -> list[str]:
    """The published ImageNet weights of every model that has them (``zoo.weights.sources``)."""
    from .weights.sources import PREPROCESSING, SOURCES

    out = ["", "## Published ImageNet weights", "",
           "`weights=\"imagenet\"` loads a model's first source; `weights=\"keras\"` / `\"torchvision\"` pick one. "
           "Accuracy is the source's own published figure on ImageNet 2012 val (percent); each file is checked "
           "against its hash after download. `tests/test_weights_equivalence.py` proves every pair equal to the "
           "source framework's own model.", "",
           "| model | source | top-1 | top-5 | file | hash | preprocessing | licence |",
           "|---|---|---:|---:|---|---|---|---|"]
    for model, sources in SOURCES.items():
        for s in sources:
            out.append(f"| {model} | {s.source} | {s.top1:g} | {s.top5:g} | [{s.file_name}]({s.url}) | "
                       f"{s.hash_kind} `{s.file_hash}` | {s.preprocessing} | {s.licence} |")
    seen = {}
    for sources in SOURCES.values():
        for s in sources:
            seen.setdefault(s.source, s)
    out += ["", "Per source: the evaluation protocol of its accuracy figures, and where the figures come from."]
    for name, s in seen.items():
        out.append(f"- **{name}**: {s.protocol}. Figures: {s.reference}.")
    out += ["", "Preprocessing modes (`zoo.preprocess_input`):"]
    out += [f"- **{mode}**: {what}." for mode, what in PREPROCESSING.items()]
    return out
