"""The weight sources on the cards against the sources' own code: URLs, file hashes, published
accuracies, and the parameter and MAC counts torchvision publishes for the same networks.

- torchvision: each ``*_Weights.IMAGENET1K_V1`` enum's metadata (``url``, ``_metrics`` acc@1 /
  acc@5, ``num_params``, ``_ops`` in GMACs to 3 decimals), read in a subprocess that imports
  torchvision alone (it cannot be imported after TensorFlow in one process).
- keras.applications: the URLs and md5 hashes in its modules (``WEIGHTS_PATH``,
  ``WEIGHTS_HASHES``, the hashes its VGG builders pass to ``get_file``). Its accuracies are
  published only in its documentation's table, not in its code.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from zoo.weights import SOURCES

ROOT = Path(__file__).resolve().parent.parent
TORCH_SOURCES = {m: s for m, ss in SOURCES.items() for s in ss if s.source == "torchvision"}
KERAS_SOURCES = {m: s for m, ss in SOURCES.items() for s in ss if s.source == "keras"}

_READ_TORCHVISION = r"""
import json, sys
import torchvision.models as tvm
out = {}
for peer in sys.argv[1:]:
    weights = tvm.get_model_weights(peer).IMAGENET1K_V1
    acc = weights.meta["_metrics"]["ImageNet-1K"]
    out[peer] = dict(url=weights.url, top1=acc["acc@1"], top5=acc["acc@5"], params=weights.meta["num_params"],
                     gmacs=weights.meta["_ops"], enum=type(weights).__name__)
assert "tensorflow" not in sys.modules
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def torchvision_meta() -> dict:
    peers = sorted({s.peer.rsplit(".", 1)[1] for s in TORCH_SOURCES.values()})
    proc = subprocess.run([sys.executable, "-c", _READ_TORCHVISION, *peers], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, f"torchvision (a pinned test requirement) did not answer: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_torchvision_source_is_the_one_torchvision_publishes(torchvision_meta):
    assert len(TORCH_SOURCES) == 14  # alexnet_owt, 8 VGGs, resnet18, resnet34, 3 v1.5 ResNets
    for model, s in TORCH_SOURCES.items():
        meta = torchvision_meta[s.peer.rsplit(".", 1)[1]]
        assert (s.url, s.top1, s.top5) == (meta["url"], meta["top1"], meta["top5"]), model
        # torchvision names each file with the first hex digits of its sha256
        assert s.file_hash == re.fullmatch(r".*-([0-9a-f]{8,})\.pth", meta["url"]).group(1), model
        assert f"{meta['enum']}.IMAGENET1K_V1" in s.reference, model


def test_the_cards_count_what_torchvision_counts(torchvision_meta):
    """torchvision publishes each network's parameters exactly and its GMACs (it calls them GFLOPS:
    multiply-adds of convolutions and linear layers) to 3 decimals."""
    for model, s in TORCH_SOURCES.items():
        meta, c = torchvision_meta[s.peer.rsplit(".", 1)[1]], zoo.card(model)
        assert (c.params, round(c.macs / 1e9, 3)) == (meta["params"], meta["gmacs"]), model


def test_torchvision_published_errors_on_the_cards(torchvision_meta):
    """Cards whose published error is torchvision's (the v1.5 ResNets) carry 100 - its accuracy."""
    checked = []
    for model, s in TORCH_SOURCES.items():
        c = zoo.card(model)
        if "_Weights.IMAGENET1K_V1" in c.sources.get("top1_err", ""):
            meta = torchvision_meta[s.peer.rsplit(".", 1)[1]]
            assert (c.top1_err, c.top5_err) == (round(100 - meta["top1"], 3), round(100 - meta["top5"], 3)), model
            checked.append(model)
    assert checked == ["resnet50_v15", "resnet101_v15", "resnet152_v15"]


def test_every_keras_source_is_the_one_keras_applications_downloads():
    from keras.src.applications import resnet, vgg16, vgg19

    vgg_hashes = {m: tuple(re.findall(r'file_hash="([0-9a-f]{32})"', inspect.getsource(mod)))
                  for m, mod in (("vgg16", vgg16), ("vgg19", vgg19))}
    expected = {
        "vgg16": (vgg16.WEIGHTS_PATH, vgg16.WEIGHTS_PATH_NO_TOP, *vgg_hashes["vgg16"]),
        "vgg19": (vgg19.WEIGHTS_PATH, vgg19.WEIGHTS_PATH_NO_TOP, *vgg_hashes["vgg19"]),
        **{m: (f"{resnet.BASE_WEIGHTS_PATH}{m}_weights_tf_dim_ordering_tf_kernels.h5",
               f"{resnet.BASE_WEIGHTS_PATH}{m}_weights_tf_dim_ordering_tf_kernels_notop.h5", *resnet.WEIGHTS_HASHES[m])
           for m in ("resnet50", "resnet101", "resnet152")},
    }
    assert {m: (s.url, s.notop_url, s.file_hash, s.notop_hash) for m, s in KERAS_SOURCES.items()} == expected
