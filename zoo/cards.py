"""The model cards: every registered model's facts, as data (no Keras, no TensorFlow).

A card is the single source of truth for a model: the CLI listing, the reports and the tests read
it; no figure is typed twice. Every card carries the exact trainable and non-trainable parameter
counts, the MACs and the depth at its default input (``tests/test_cards.py`` checks each against
the built graph) and, in ``sources``, where each figure comes from. ``docs/reference.md`` is
rendered from these cards (``python -m zoo reference > docs/reference.md``) with the counting conventions.

Builders live in ``zoo.families.<module>`` under the card's name (``zoo.families.vgg.vgg16``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

__all__ = ["Card", "Training", "CARDS", "FAMILY_MODULES", "COUNTED"]

#: Source of a figure that no paper prints: counted on the built graph at the default input
#: (``compare.profile``: conv and dense multiply-accumulates; ``zoo.depth``: weighted layers).
COUNTED = "counted on the built graph"


@dataclass(frozen=True)
class Training:
    """What a trainer needs to know beyond the common builder arguments."""

    build: Mapping[str, Any] = field(default_factory=dict)
    """Extra builder keyword arguments for training, e.g. ``{"aux_logits": True}``."""
    min_size: int | None = None
    """Input minimum with those arguments (None: the card's ``min_size``)."""
    loss_weights: tuple[float, ...] | None = None
    """One weight per model output when trained with ``build``; output 0 is the main head."""


@dataclass(frozen=True)
class Card:
    """Facts about one registered model, at ``input_shape`` with ``classes`` outputs.

    ``params`` are trainable parameters, ``non_trainable`` the fixed ones (BatchNorm moving
    statistics, LeNet's RBF codes); ``macs`` are multiply-accumulates of conv and dense layers per
    image; ``depth`` is weighted layers on the longest input-to-output path (no projection
    shortcuts, no auxiliary heads). ``top1_err`` / ``top5_err`` are published errors in percent on
    ``err_dataset``. ``sources`` names the source of each figure.
    """

    name: str
    family: str
    variant: str
    paper: str
    year: int
    input_shape: tuple[int, ...]
    min_size: int
    params: int
    non_trainable: int
    macs: int
    depth: int
    classes: int = 1000
    top1_err: float | None = None
    top5_err: float | None = None
    err_dataset: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    training: Training = field(default_factory=Training)
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def weights(self) -> tuple:
        """The published ImageNet weight sources (``zoo.weights.sources.WeightSource``), the one
        ``weights="imagenet"`` loads first; empty for a model without published weights."""
        from .weights.sources import sources_for

        return sources_for(self.name)

    @property
    def module(self) -> str:
        """The module that defines this model's builder function (named like the card)."""
        return f"zoo.families.{FAMILY_MODULES[self.family]}"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["training"] = {k: v for k, v in d["training"].items() if v}
        d["sources"] = dict(self.sources)
        return d


#: card family -> module under zoo/families/ holding its builders
FAMILY_MODULES: dict[str, str] = {
    "lenet": "lenet", "mlp": "mlp", "alphago": "alphago", "alexnet": "alexnet", "zfnet": "zfnet",
    "vgg": "vgg", "googlenet": "googlenet", "resnet": "resnet", "resnet_cifar": "resnet",
}

CARDS: dict[str, Card] = {}


def _add(card: Card) -> None:
    if card.name in CARDS:
        raise ValueError(f"model {card.name!r} is already registered")
    CARDS[card.name] = card


def _counted(**published: str) -> dict[str, str]:
    """Sources: the given figures published, every other count measured on the graph."""
    return {"params": COUNTED, "non_trainable": COUNTED, "macs": COUNTED, "depth": COUNTED, **published}


# -- LeNet-5 ------------------------------------------------------------------------------------
_LENET = "LeCun, Bottou, Bengio, Haffner, Gradient-Based Learning Applied to Document Recognition"
_MNIST_ERR = "LeCun et al. 1998, section III.C (0.95% without distortions, 0.8% with)"
_LENET_COMMON = dict(family="lenet", paper=_LENET, year=1998, input_shape=(32, 32, 1), classes=10, depth=5,
                     top1_err=0.95, err_dataset="MNIST test")
_add(Card(
    name="lenet5", variant="modern (full C3, parameter-free pooling, dense output)", min_size=16,
    params=61_706, non_trainable=0, macs=416_520,
    description="LeNet-5 as taught today: conv 6@5x5 - pool - conv 16@5x5 - pool - fc 120 - fc 84 - "
                "fc classes, tanh, parameter-free pooling.",
    tags=("mnist", "tanh"),
    sources=_counted(depth="LeCun et al. 1998, section II.B: 7 layers with parameters; C1, C3, C5, F6 and the "
                           "output are the 5 convolution and dense layers this count takes (S2, S4 are not)",
                     top1_err=_MNIST_ERR + ", for the 1998 network"),
    **_LENET_COMMON,
))
_add(Card(
    name="lenet5_1998", variant="1998 paper (partial C3, trainable subsampling, RBF output)", min_size=32,
    params=60_000, non_trainable=840, macs=328_096,
    description="LeNet-5 as published: C3's partial connection table, trainable subsampling, "
                "1.7159*tanh(2a/3), Euclidean RBF output with fixed codes (seeded random +1/-1 codes, not the "
                "paper's 7x12 bitmaps). Every weight starts uniform in +-2.4/fan-in (appendix A), and so does "
                "every bias here (the paper does not say).",
    tags=("mnist", "tanh", "rbf"),
    sources=_counted(params="LeCun et al. 1998, section II.B: 156+12+1,516+32+48,120+10,164 = 60,000",
                     non_trainable="LeCun et al. 1998, section II.B: 84 x 10 fixed RBF parameters",
                     depth="LeCun et al. 1998, section II.B: 7 layers with parameters; C1, C3, C5, F6 and the "
                           "output are the 5 convolution and dense layers this count takes (S2, S4 are not)",
                     top1_err=_MNIST_ERR,
                     macs="counted on the built graph: C1, C3, C5, F6 325,680 + one multiply per S2/S4 output "
                          "(1,576: the trainable subsampling coefficient) + the RBF's 84 x 10 squared differences "
                          "(840)"),
    **_LENET_COMMON,
))

# -- perceptron and XOR ---------------------------------------------------------------------------
_add(Card(
    name="perceptron", family="mlp", variant="single threshold unit", paper="Rosenblatt, The Perceptron",
    year=1958, input_shape=(2,), min_size=1, classes=1, params=3, non_trainable=0, macs=2, depth=1,
    description="One perceptron: step(w1*x1 + w2*x2 - beta); learns AND and OR with the perceptron "
                "rule (zoo.train_perceptron), cannot represent XOR.",
    tags=("toy",), sources=_counted(),
))
_add(Card(
    name="mlp_xor", family="mlp", variant="2-2-1 ReLU network",
    paper="Minsky and Papert, Perceptrons; Goodfellow et al., Deep Learning 6.1", year=1969,
    input_shape=(2,), min_size=1, classes=1, params=9, non_trainable=0, macs=6, depth=2,
    description="Two inputs, two ReLU hidden units, one linear output: solves XOR.",
    tags=("toy",), sources=_counted(params="Goodfellow et al., Deep Learning (2016), section 6.1"),
))

# -- AlphaGo -------------------------------------------------------------------------------------
_add(Card(
    name="alphago_policy", family="alphago", variant="SL policy network (k=192)",
    paper="Silver et al., Mastering the game of Go with deep neural networks and tree search", year=2016,
    input_shape=(19, 19, 48), min_size=1, classes=361,
    params=3_882_793, non_trainable=0, macs=1_400_726_208, depth=13,
    description="13-layer fully convolutional policy net: 48 feature planes -> a probability for each "
                "of the 19x19 points.",
    tags=("go", "fully-convolutional"),
    sources=_counted(depth="Silver et al. 2016, Methods, 'Neural network architecture' (13 layers)"),
))

# -- AlexNet and ZFNet -----------------------------------------------------------------------------
_ALEXNET = "Krizhevsky, Sutskever, Hinton, ImageNet Classification with Deep Convolutional Neural Networks"
_TV_NUM_PARAMS = "torchvision weights metadata num_params"
_add(Card(
    name="alexnet", family="alexnet", variant="two towers (grouped conv2, conv4, conv5), LRN",
    paper=_ALEXNET, year=2012, input_shape=(227, 227, 3), min_size=67,
    params=60_965_224, non_trainable=0, macs=724_406_816, depth=8,
    top5_err=16.4, err_dataset="ILSVRC-2012 test, top-5 of the paper's ensemble of 5 CNNs "
                               "(15.3 with 7 CNNs and extra training data)",
    description="The ILSVRC-2012 winner: five convs (11x11/4, 5x5, three 3x3) with ReLU, LRN and "
                "overlapping max-pools, split over two GPUs as grouped convolutions, then fc 4096-4096 with "
                "dropout on their outputs. Input 227x227: the paper says 224, which does not give its 55x55 "
                "maps ((224 - 11) / 4 + 1 = 54.25); 227 is the usual correction (Caffe's bvlc_alexnet).",
    tags=("imagenet", "lrn", "grouped-conv", "dropout"),
    sources=_counted(params="Krizhevsky et al. 2012, abstract and section 4 (60 million); exact count of the "
                            "layers of section 3.5", depth="Krizhevsky et al. 2012, section 3.5 (eight weighted layers)",
                     top5_err="Krizhevsky et al. 2012, table 2"),
))
_add(Card(
    name="alexnet_owt", family="alexnet", variant="single tower, no LRN (torchvision, 'one weird trick')",
    paper="Krizhevsky, One weird trick for parallelizing convolutional neural networks", year=2014,
    input_shape=(224, 224, 3), min_size=63, params=61_100_840, non_trainable=0, macs=714_188_480, depth=8,
    description="AlexNet on one GPU as torchvision builds it: 64-192-384-256-256 filters, no LRN, conv1 "
                "padded by 2 so a 224 input gives 55x55 maps, dropout before fc6 and fc7. The paper's "
                "footnote gives 384 filters for conv4 (64-192-384-384-256); torchvision's 256 follows "
                "cuda-convnet2's one-GPU configuration, and its published weights are for that network.",
    tags=("imagenet", "dropout"),
    sources=_counted(params=f"{_TV_NUM_PARAMS} (AlexNet_Weights.IMAGENET1K_V1: 61,100,840)",
                     macs="torchvision AlexNet_Weights GFLOPS 0.71 (rounded); exact count on the graph"),
))
_ZFNET = "Zeiler, Fergus, Visualizing and Understanding Convolutional Networks"
_ZF_COMMON = dict(family="zfnet", paper=_ZFNET, year=2013, input_shape=(224, 224, 3), min_size=47,
                  non_trainable=0, depth=8, tags=("imagenet", "lrn", "ceil-pool", "dropout"))
_add(Card(
    name="zfnet", variant="paper (384-384-256 in layers 3-5), LRN after pools 1 and 2",
    params=62_357_608, macs=1_168_032_896, top5_err=14.8,
    err_dataset="ILSVRC-2012 test, top-5 of the paper's own best (6-net ensemble, table 2); "
                "Clarifai's ILSVRC-2013 entry, built on it, reached 11.7",
    description="AlexNet on one tower with a 7x7/2 first layer and a stride-2 second layer, chosen by "
                "visualising features with a deconvnet; ILSVRC-2013's best approach.",
    sources=_counted(depth="Zeiler & Fergus 2013, figure 3 (8 layers)", top5_err="Zeiler & Fergus 2013, table 2"),
    **_ZF_COMMON,
))
_add(Card(
    name="zfnet_cs231n", variant="CS231n lecture (512-1024-512 in layers 3-5), LRN after pools 1 and 2",
    params=107_627_624, macs=2_476_704_896,
    description="ZFNet as the CS231n lecture draws it: the paper's network with 512, 1024 and 512 filters "
                "in layers 3-5.",
    sources=_counted(depth="CS231n lecture 9, 'ZFNet' slide (8 layers)"), **_ZF_COMMON,
))

# -- VGG -----------------------------------------------------------------------------------------
_VGG = "Simonyan, Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition"
_VGG_ERR = "ILSVRC-2012 val, single net, single-scale test, training scale S=256 (paper table 3)"
#: name: (configuration, batch_norm, lrn, params, non_trainable, MACs, depth, top-1, top-5, params source)
_VGG_FACTS = {
    "vgg11": ("A", False, False, 132_863_336, 0, 7_609_090_048, 11, 29.6, 10.4, _TV_NUM_PARAMS),
    "vgg11_lrn": ("A", False, True, 132_863_336, 0, 7_609_090_048, 11, 29.7, 10.5, "paper table 2 (133 M)"),
    "vgg13": ("B", False, False, 133_047_848, 0, 11_308_466_176, 13, 28.7, 9.9, _TV_NUM_PARAMS),
    "vgg16_c": ("C", False, False, 133_638_952, 0, 11_770_888_192, 16, 28.1, 9.4, "paper table 2 (134 M)"),
    "vgg16": ("D", False, False, 138_357_544, 0, 15_470_264_320, 16, 27.0, 8.8, _TV_NUM_PARAMS),
    "vgg19": ("E", False, False, 143_667_240, 0, 19_632_062_464, 19, 27.3, 9.0, _TV_NUM_PARAMS),
    "vgg11_bn": ("A", True, False, 132_868_840, 5_504, 7_609_090_048, 11, None, None, _TV_NUM_PARAMS),
    "vgg13_bn": ("B", True, False, 133_053_736, 5_888, 11_308_466_176, 13, None, None, _TV_NUM_PARAMS),
    "vgg16_bn": ("D", True, False, 138_365_992, 8_448, 15_470_264_320, 16, None, None, _TV_NUM_PARAMS),
    "vgg19_bn": ("E", True, False, 143_678_248, 11_008, 19_632_062_464, 19, None, None, _TV_NUM_PARAMS),
}
for _name, (_cfg, _bn, _lrn, _p, _nt, _macs, _depth, _top1, _top5, _psrc) in _VGG_FACTS.items():
    _what = ("with local response normalisation after the first conv" if _lrn else
             "with BatchNorm after every conv (torchvision)" if _bn else "as published")
    _add(Card(
        name=_name, family="vgg", paper=_VGG, year=2014, input_shape=(224, 224, 3), min_size=32,
        variant=f"configuration {_cfg}" + ("-LRN" if _lrn else "") + (", BatchNorm after every conv" if _bn else ""),
        params=_p, non_trainable=_nt, macs=_macs, depth=_depth, top1_err=_top1, top5_err=_top5,
        err_dataset=_VGG_ERR if _top1 is not None else None,
        description=f"VGG-{_depth} (configuration {_cfg}" + (" with a 1x1 conv closing stages 3-5" if _cfg == "C" else "")
                    + f") {_what}: stride-1 convs in five stages of 64-128-256-512-512 filters with 2x2 "
                      "max-pools, then fc 4096-4096.",
        tags=("imagenet", "dropout") + (("batchnorm",) if _bn else ()) + (("lrn",) if _lrn else ()),
        sources=_counted(params=_psrc, depth="Simonyan & Zisserman 2014, table 1",
                         **({"macs": "He et al. 2015, section 4.1 (VGG-16/19: 15.3/19.6 billion FLOPs, rounded); "
                                     "exact count on the graph"} if _cfg in "DE" else {}),
                         **({"top1_err": "paper table 3", "top5_err": "paper table 3"} if _top1 is not None else {})),
    ))

# -- GoogLeNet -----------------------------------------------------------------------------------
_add(Card(
    name="googlenet", family="googlenet", variant="Inception v1 (paper: LRN, no BatchNorm)",
    paper="Szegedy et al., Going Deeper with Convolutions", year=2014, input_shape=(224, 224, 3), min_size=1,
    params=6_998_552, non_trainable=0, macs=1_582_671_872, depth=22,
    top5_err=6.67, err_dataset="ImageNet (ILSVRC 2014 test, 7-net ensemble)",
    description="GoogLeNet: 7x7/2 conv, max-pool, LRN, 1x1 and 3x3 convs, LRN, max-pool, inception 3a-3b, "
                "max-pool, 4a-4e, max-pool, 5a-5b, global avg-pool, dropout 0.4, fc. aux_logits=True adds the "
                "two auxiliary classifiers (outputs predictions, aux1, aux2; input at least 65x65).",
    tags=("imagenet", "inception", "lrn", "dropout"),
    # The auxiliary heads' 5x5/3 average pool needs a 5x5 map at inception 4a, ceil(N / 16): N >= 65;
    # their losses weigh 0.3 (paper section 5).
    training=Training(build={"aux_logits": True}, min_size=65, loss_weights=(1.0, 0.3, 0.3)),
    sources=_counted(depth="Szegedy et al. 2014, section 5 (22 layers with parameters)",
                     macs="Szegedy et al. 2014, section 1 (1.5 G multiply-adds, rounded); exact count on the graph",
                     top5_err="Szegedy et al. 2014, table 2"),
))

# -- ResNet (ImageNet) ------------------------------------------------------------------------------
_RESNET = "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition"
#: depth -> (block kind, blocks in stages conv2_x .. conv5_x)  (paper, table 1); read by the builders too
IMAGENET_BLOCKS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
#: name: (depth, plain, params, non_trainable, MACs, top-1 and top-5 error %, 10-crop, and their source).
#: Table 3 holds the option-B networks (projection shortcuts where the shape changes), as built here;
#: ResNet-18 is only in table 2, with option A (zero-padding shortcuts, no extra parameters).
_T2 = "He et al. 2015, table 2 (10-crop)"
_T2_A = ("He et al. 2015, table 2 (10-crop), a ResNet-18 with option-A shortcuts (zero-padding); this model has "
         "option-B projections (as torchvision's), which the paper reports for ResNet-34 only: 24.52 against A's 25.03")
_T3 = "He et al. 2015, table 3 (10-crop; option B)"
_IMAGENET_FACTS = {
    "resnet18": (18, False, 11_689_512, 9_600, 1_814_073_344, 27.88, None, _T2_A),
    "resnet34": (34, False, 21_797_672, 17_024, 3_663_761_408, 24.52, 7.46, _T3),
    "resnet50": (50, False, 25_557_032, 53_120, 3_857_973_248, 22.85, 6.71, _T3),
    "resnet101": (101, False, 44_549_160, 105_344, 7_570_194_432, 21.75, 6.05, _T3),
    "resnet152": (152, False, 60_192_808, 151_424, 11_282_415_616, 21.43, 5.71, _T3),
    "plain18": (18, True, 11_515_688, 7_808, 1_794_805_760, 27.94, None, _T2),
    "plain34": (34, True, 21_623_848, 15_232, 3_644_493_824, 28.54, 10.02, "He et al. 2015, tables 2 and 3 (10-crop)"),
}
for _name, (_depth, _plain, _p, _nt, _macs, _top1, _top5, _err_source) in _IMAGENET_FACTS.items():
    _kind, _blocks = IMAGENET_BLOCKS[_depth]
    _what = "plain net (the ResNet without shortcuts)" if _plain else "ResNet"
    _add(Card(
        name=_name, family="resnet", variant=f"{_depth}-layer {_what}, {_kind} blocks {list(_blocks)}, v1",
        paper=_RESNET, year=2015, input_shape=(224, 224, 3), min_size=1,
        params=_p, non_trainable=_nt, macs=_macs, depth=_depth, top1_err=_top1, top5_err=_top5,
        err_dataset="ImageNet val, 10-crop",
        description=(f"{_depth}-layer {_what} for ImageNet: conv 7x7/2 64 - max-pool 3x3/2 - {_kind} blocks "
                     f"{list(_blocks)} at widths 64-128-256-512" + (" (x4 out)" if _kind == "bottleneck" else "")
                     + ("" if _plain else ", projection shortcuts where the shape changes")
                     + " - global avg-pool - fc. BN after every conv, "
                     + ("ReLU after each block's second BN." if _plain else "ReLU after the add.")
                     + (f" v1.5 (stride on the 3x3): resnet{_depth}_v15." if _kind == "bottleneck" else "")),
        tags=("imagenet", "batchnorm") + (("plain",) if _plain else ("residual",)),
        sources=_counted(
            params=_TV_NUM_PARAMS if _name.startswith("resnet") else COUNTED,
            macs="He et al. 2015, table 1 (1.8, 3.6, 3.8, 7.6, 11.3 G, rounded); exact count on the graph",
            depth="He et al. 2015, table 1",
            top1_err=_err_source, **({"top5_err": _err_source} if _top5 is not None else {})),
    ))

# -- ResNet v1.5 (torchvision's ResNet-50/101/152) -------------------------------------------------------
_V15 = "Goyal et al., Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour"
_TV_V1 = "ImageNet val, torchvision IMAGENET1K_V1 weights, resize 256 / centre crop 224, single crop"
#: name: (depth, params, non_trainable, MACs, torchvision IMAGENET1K_V1 acc@1, acc@5, _ops). torchvision's
#: ResNets are v1.5 (its docs: "known as ResNet V1.5"), so its num_params, acc and _ops are theirs; the
#: parameters equal v1's (moving a stride changes no weight), the MACs do not.
_V15_FACTS = {
    "resnet50_v15": (50, 25_557_032, 53_120, 4_089_184_256, 76.130, 92.862, 4.089),
    "resnet101_v15": (101, 44_549_160, 105_344, 7_801_405_440, 77.374, 93.546, 7.801),
    "resnet152_v15": (152, 60_192_808, 151_424, 11_513_626_624, 78.312, 94.046, 11.514),
}
for _name, (_depth, _p, _nt, _macs, _acc1, _acc5, _gops) in _V15_FACTS.items():
    _kind, _blocks = IMAGENET_BLOCKS[_depth]
    _weights = f"ResNet{_depth}_Weights.IMAGENET1K_V1"
    _add(Card(
        name=_name, family="resnet", variant=f"{_depth}-layer ResNet, bottleneck blocks {list(_blocks)}, v1.5 "
                                             "(stride on the 3x3; torchvision)",
        paper=_V15, year=2017, input_shape=(224, 224, 3), min_size=1,
        params=_p, non_trainable=_nt, macs=_macs, depth=_depth,
        top1_err=round(100 - _acc1, 3), top5_err=round(100 - _acc5, 3), err_dataset=_TV_V1,
        description=(f"ResNet-{_depth} v1.5, as torchvision and NVIDIA build it: resnet{_depth} with the stride of "
                     "each subsampling bottleneck (first block of conv3_x-conv5_x) on its 3x3 instead of its "
                     "first 1x1, so that 1x1 reads the full-resolution map: same parameters, more MACs."),
        tags=("imagenet", "batchnorm", "residual"),
        sources=_counted(
            params=f"{_TV_NUM_PARAMS} ({_weights}: {_p:,})",
            macs=f"torchvision {_weights} metadata _ops {_gops} (its model docs' GFLOPS {_gops:.2f}: "
                 "multiply-accumulates in billions, rounded); exact count on the graph",
            depth="He et al. 2015, table 1",
            top1_err=f"torchvision {_weights} acc@1 {_acc1:.3f} (error = 100 - acc)",
            top5_err=f"torchvision {_weights} acc@5 {_acc5:.3f} (error = 100 - acc)"),
    ))

# -- ResNet (CIFAR-10, section 4.2) -------------------------------------------------------------------
#: depth -> (trainable, non-trainable, MACs; the same for the ResNet and its plain net, option A
#: shortcuts having no parameters and no MACs), ResNet's CIFAR-10 test error (%)
_CIFAR_FACTS = {
    8: (75_290, 480, 12_239_488, None),
    14: (172_506, 928, 26_395_264, None),
    20: (269_722, 1_376, 40_551_040, 8.75),
    32: (464_154, 2_272, 68_862_592, 7.51),
    44: (658_586, 3_168, 97_174_144, 7.17),
    56: (853_018, 4_064, 125_485_696, 6.97),
    110: (1_727_962, 8_096, 252_887_680, 6.43),
    1202: (19_421_274, 89_632, 2_829_238_912, 7.93),
}
_CIFAR_PLAIN = (8, 14, 20, 32, 44, 56, 110)


def cifar_card(depth: int, plain: bool, figures: tuple | None = None) -> Card:
    """The card of a CIFAR ResNet (or plain net) of depth ``6n + 2``; ``figures`` as in the table above
    (None for a depth that is not registered: counts are then left at 0 and nothing is published)."""
    n = (depth - 2) // 6
    kind = "plain net" if plain else "ResNet"
    p, nt, macs, err = figures or (0, 0, 0, None)
    err = None if plain else err
    return Card(
        name=f"{'plain' if plain else 'resnet'}{depth}", family="resnet_cifar",
        variant=f"CIFAR {kind}, n={n} (depth 6n+2){'' if plain else ', option-A shortcuts'}",
        paper=_RESNET, year=2015, input_shape=(32, 32, 3), min_size=1, classes=10,
        params=p, non_trainable=nt, macs=macs, depth=depth, top1_err=err,
        err_dataset="CIFAR-10 test" if err is not None else None,
        description=(f"{depth}-layer CIFAR-10 {kind}: conv 3x3 16, three stages of {n} basic blocks at 16-32-64 "
                     "filters (maps 32-16-8)" + ("" if plain else ", parameter-free option-A shortcuts")
                     + ", global avg-pool, fc. BN after every conv; the convs have no bias (the paper does "
                     "not say; its ImageNet nets have none, and table 6's rounded counts fit either)."),
        tags=("cifar", "batchnorm") + (("plain",) if plain else ("residual",)),
        sources=_counted(depth="He et al. 2015, section 4.2 (6n+2 layers)",
                         **({"params": "He et al. 2015, table 6 (rounded to 0.01 M); exact count on the graph",
                             "top1_err": "He et al. 2015, table 6"} if err is not None else {})),
    )


for _depth, _figures in _CIFAR_FACTS.items():
    _add(cifar_card(_depth, False, _figures))
    if _depth in _CIFAR_PLAIN:
        _add(cifar_card(_depth, True, _figures))

del _name, _depth, _plain, _p, _nt, _macs, _top1, _top5, _psrc, _cfg, _bn, _lrn, _what, _kind, _blocks, _figures
del _acc1, _acc5, _gops, _weights
