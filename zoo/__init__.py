"""zoo: the classic CNN architectures, each built by one call and faithful to its paper.

    import zoo
    model = zoo.vgg16()
    model = zoo.build("resnet56", input_shape=(32, 32, 3), classes=10)
    zoo.list_models("vgg*")
    zoo.card("alexnet")
"""

from .registry import Card, UnknownModelError, build, builder, card, list_models  # noqa: F401
from .graph import depth  # noqa: F401
from . import layers  # noqa: F401

# Family modules register their builders on import.
from . import lenet, mlp, alphago, alexnet, zfnet, vgg, googlenet, resnet  # noqa: F401,E402
from .convert import to_fully_convolutional  # noqa: F401,E402
from .registry import _REGISTRY as _R  # noqa: E402

globals().update({_name: _fn for _name, (_card, _fn) in _R.items()})
__all__ = ["Card", "UnknownModelError", "build", "builder", "card", "list_models", "depth",
           "to_fully_convolutional", *sorted(_R)]
