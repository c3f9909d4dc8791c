"""Where each model's published ImageNet weights come from, as data (no Keras, no TensorFlow).

One ``WeightSource`` per (model, source): the file's URL and hash, the source's published top-1 /
top-5 accuracy and how it was measured, the licence, the preprocessing the weights expect, the
file layout, and the peer model in the source framework that the equivalence tests build.
``zoo.card(name).weights`` lists a model's sources; the first one is what ``weights="imagenet"``
loads (keras.applications' where it has the network, as its users expect).

Sources:
- keras.applications (``source="keras"``): VGG-16/19 (Simonyan and Zisserman's released Caffe
  models, converted) and ResNet-50/101/152 (He et al.'s released Caffe models, converted: conv
  biases and BatchNorm epsilon 1.001e-5, folded exactly into our bias-free convolutions' BN on
  load). Files: legacy Keras HDF5, md5 hashes as published in keras.applications' source.
- torchvision (``source="torchvision"``): AlexNet (one weird trick), VGG-11/13/16/19 and their BN
  variants, ResNet-18/34 and ResNet-50/101/152 v1.5, all ``IMAGENET1K_V1``. Files: PyTorch state
  dicts; torchvision names each file after the first hex digits of its sha256, which is the check.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WeightSource", "SOURCES", "PREPROCESSING", "sources_for", "source_names"]

#: what each preprocessing mode does to an RGB image with values in [0, 255]
PREPROCESSING: dict[str, str] = {
    "caffe": "RGB -> BGR, then subtract the ImageNet mean pixel (B 103.939, G 116.779, R 123.68); no scaling",
    "torch": "scale to [0, 1], then per channel (x - mean) / std with mean (0.485, 0.456, 0.406) "
             "and std (0.229, 0.224, 0.225), RGB",
}


@dataclass(frozen=True)
class WeightSource:
    """One published weights file for one model, and what it takes to use it."""

    model: str
    source: str
    url: str
    file_hash: str
    hash_kind: str
    top1: float
    top5: float
    protocol: str
    licence: str
    preprocessing: str
    layout: str
    peer: str
    reference: str
    notop_url: str | None = None
    notop_hash: str | None = None

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[1]

    @property
    def notop_file_name(self) -> str | None:
        return self.notop_url.rsplit("/", 1)[1] if self.notop_url else None


# -- keras.applications ---------------------------------------------------------------------------
_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_KERAS_REF = ("accuracy: keras.io/api/applications, 'Available models' table; URL and md5: "
              "keras.applications' source (keras 3.15: keras/src/applications/vgg16.py, vgg19.py, resnet.py)")
_KERAS_PROTOCOL = ("ImageNet 2012 val, single 224x224 crop (keras.applications' published table, which does not "
                   "state its resizing)")
_VGG_LICENCE = "CC BY 4.0 (Simonyan and Zisserman's released models, converted by keras.applications)"
_RESNET_LICENCE = "MIT (He et al.'s released Caffe models, converted by keras.applications)"


def _keras(model: str, stem: str, peer: str, top1: float, top5: float, hashes: tuple[str, str],
           licence: str, subdir: str) -> WeightSource:
    return WeightSource(
        model=model, source="keras", url=f"{_KERAS}{subdir}/{stem}_weights_tf_dim_ordering_tf_kernels.h5",
        file_hash=hashes[0], hash_kind="md5", top1=top1, top5=top5, protocol=_KERAS_PROTOCOL, licence=licence,
        preprocessing="caffe", layout="keras_h5", peer=peer, reference=_KERAS_REF,
        notop_url=f"{_KERAS}{subdir}/{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5", notop_hash=hashes[1])


# -- torchvision ----------------------------------------------------------------------------------
_TORCH = "https://download.pytorch.org/models/"
_TORCH_REF = ("accuracy, URL and hash: torchvision 0.28 weights metadata ({enum}.IMAGENET1K_V1: "
              "'_metrics' ImageNet-1K acc@1 / acc@5, 'url'; the file name's suffix is its sha256 prefix)")
_TORCH_PROTOCOL = ("ImageNet 2012 val, resize the shorter side to 256 (bilinear), centre crop 224x224, "
                   "single crop (torchvision's ImageClassification transform)")
_TORCH_LICENCE = ("BSD-3-Clause (torchvision); trained on ImageNet, whose terms allow non-commercial "
                  "research and education only")


def _torch(model: str, file_name: str, enum: str, peer: str, top1: float, top5: float) -> WeightSource:
    stem = file_name.rsplit(".", 1)[0]
    return WeightSource(
        model=model, source="torchvision", url=f"{_TORCH}{file_name}", file_hash=stem.rsplit("-", 1)[1],
        hash_kind="sha256-prefix", top1=top1, top5=top5, protocol=_TORCH_PROTOCOL, licence=_TORCH_LICENCE,
        preprocessing="torch", layout="torch_pth", peer=peer, reference=_TORCH_REF.format(enum=enum))


_LIST: tuple[WeightSource, ...] = (
    _keras("vgg16", "vgg16", "keras.applications.VGG16", 71.3, 90.1,
           ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"), _VGG_LICENCE, "vgg16"),
    _keras("vgg19", "vgg19", "keras.applications.VGG19", 71.3, 90.0,
           ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"), _VGG_LICENCE, "vgg19"),
    _keras("resnet50", "resnet50", "keras.applications.ResNet50", 74.9, 92.1,
           ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"), _RESNET_LICENCE, "resnet"),
    _keras("resnet101", "resnet101", "keras.applications.ResNet101", 76.4, 92.8,
           ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"), _RESNET_LICENCE, "resnet"),
    _keras("resnet152", "resnet152", "keras.applications.ResNet152", 76.6, 93.1,
           ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"), _RESNET_LICENCE, "resnet"),
    _torch("alexnet_owt", "alexnet-owt-7be5be79.pth", "AlexNet_Weights", "torchvision.models.alexnet", 56.522, 79.066),
    _torch("vgg11", "vgg11-8a719046.pth", "VGG11_Weights", "torchvision.models.vgg11", 69.020, 88.628),
    _torch("vgg13", "vgg13-19584684.pth", "VGG13_Weights", "torchvision.models.vgg13", 69.928, 89.246),
    _torch("vgg16", "vgg16-397923af.pth", "VGG16_Weights", "torchvision.models.vgg16", 71.592, 90.382),
    _torch("vgg19", "vgg19-dcbb9e9d.pth", "VGG19_Weights", "torchvision.models.vgg19", 72.376, 90.876),
    _torch("vgg11_bn", "vgg11_bn-6002323d.pth", "VGG11_BN_Weights", "torchvision.models.vgg11_bn", 70.370, 89.810),
    _torch("vgg13_bn", "vgg13_bn-abd245e5.pth", "VGG13_BN_Weights", "torchvision.models.vgg13_bn", 71.586, 90.374),
    _torch("vgg16_bn", "vgg16_bn-6c64b313.pth", "VGG16_BN_Weights", "torchvision.models.vgg16_bn", 73.360, 91.516),
    _torch("vgg19_bn", "vgg19_bn-c79401a0.pth", "VGG19_BN_Weights", "torchvision.models.vgg19_bn", 74.218, 91.842),
    _torch("resnet18", "resnet18-f37072fd.pth", "ResNet18_Weights", "torchvision.models.resnet18", 69.758, 89.078),
    _torch("resnet34", "resnet34-b627a593.pth", "ResNet34_Weights", "torchvision.models.resnet34", 73.314, 91.420),
    _torch("resnet50_v15", "resnet50-0676ba61.pth", "ResNet50_Weights", "torchvision.models.resnet50", 76.130, 92.862),
    _torch("resnet101_v15", "resnet101-63fe2227.pth", "ResNet101_Weights", "torchvision.models.resnet101",
           77.374, 93.546),
    _torch("resnet152_v15", "resnet152-394f9c45.pth", "ResNet152_Weights", "torchvision.models.resnet152",
           78.312, 94.046),
)

#: model name -> its sources, the default (``weights="imagenet"``) first
SOURCES: dict[str, tuple[WeightSource, ...]] = {}
for _s in _LIST:
    SOURCES[_s.model] = SOURCES.get(_s.model, ()) + (_s,)


def sources_for(model: str) -> tuple[WeightSource, ...]:
    """The published weight sources of ``model`` (empty if it has none)."""
    return SOURCES.get(model, ())


def source_names() -> tuple[str, ...]:
    """Every source name any model has (``"keras"``, ``"torchvision"``)."""
    return tuple(dict.fromkeys(s.source for s in _LIST))
