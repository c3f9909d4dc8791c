"""Published weights, proven with the source framework's own code.

For every (model, source) pair on the cards: build the source's own model (keras.applications'
VGG16 ..., torchvision's vgg16 ...) with random weights and random BatchNorm statistics, write it
in exactly the format the source publishes (keras.applications: the legacy HDF5 layout, written by
Keras' own legacy writer; torchvision: ``torch.save(state_dict)``), under the published file name,
load that file through the zoo (``weights=PATH``) and compare the logits on the same random images:
max |diff| / max |logit| < 1e-4. Wrong and corrupt files give one clear error naming the model,
the file and the tensor.

torchvision runs in a worker process of its own (tests/_torchvision_peer.py): it cannot be imported
after TensorFlow in one process. torch and torchvision are pinned test requirements; if they are
missing the tests fail and say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import pytest

import zoo
from zoo.weights import SOURCES
from zoo.weights.convert import WeightsMismatch

from _keras_peer import keras_peer, write_legacy_h5

TOLERANCE = 1e-4
PAIRS = [(m, s.source) for m, ss in SOURCES.items() for s in ss]
TORCH_PEERS = {"alexnet_owt": "alexnet", "resnet50_v15": "resnet50", "resnet101_v15": "resnet101",
               "resnet152_v15": "resnet152"}


def _source(model, name):
    return next(s for s in SOURCES[model] if s.source == name)


def _images(n=2, size=224, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, size, size, 3)).astype(np.float32)


def _run(model, x) -> np.ndarray:
    """One eager forward pass in inference mode (no tf.function tracing: faster for one batch)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def _rel(ours, theirs) -> float:
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


# -- keras.applications -------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m, s in PAIRS if s == "keras"])
def test_keras_applications_weights_give_the_peers_logits(model, tmp_path):
    peer = keras_peer(model)
    path = tmp_path / _source(model, "keras").file_name
    write_legacy_h5(peer, path)
    ours = zoo.build(model, weights=str(path), classifier_activation=None)
    path.unlink()  # up to 550 MB; pytest keeps its last temporary directories
    x = zoo.preprocess_input(_images(), model, "keras")
    rel = _rel(_run(ours, x), _run(peer, x))
    print(f"{model} keras: relative difference {rel:.2e}")
    assert rel < TOLERANCE


@pytest.mark.slow
def test_keras_notop_weights_give_the_peers_features(tmp_path):
    peer = keras_peer("resnet50", include_top=False, seed=2)
    path = tmp_path / _source("resnet50", "keras").notop_file_name
    write_legacy_h5(peer, path)
    ours = zoo.resnet50(weights=str(path), include_top=False)
    x = zoo.preprocess_input(_images(1), "resnet50")
    ours_out, peer_out = _run(ours, x), _run(peer, x)
    assert ours_out.shape == peer_out.shape == (1, 7, 7, 2048)
    assert _rel(ours_out, peer_out) < TOLERANCE
    with pytest.raises(WeightsMismatch) as err:  # the no-top file into the full model
        zoo.resnet50(weights=str(path))
    assert str(err.value) == (f"weights file {str(path)!r} does not fit model 'resnet50': it has no tensor "
                              "'predictions' of the classifier (a no-top file?); build with include_top=False")
    # resnet50_v15 has these very layer names and shapes (only a stride moves), but v1 weights are not
    # its weights: refused as a keras.applications file, not read as the model's own save
    with pytest.raises(WeightsMismatch, match=r"is a keras\.applications \(legacy HDF5\) file, and model "
                                              r"'resnet50_v15' has no published weights in that layout \("):
        zoo.resnet50_v15(weights=str(path), include_top=False)
    from zoo.weights import check_file_layout

    with pytest.raises(ValueError) as err:  # zoo predict and compare eval: before any model is built
        check_file_layout("resnet50_v15", str(path))
    assert str(err.value) == (f"resnet50_v15: {path.name} is a keras.applications (legacy HDF5) file, and "
                              "resnet50_v15 has no published weights in that layout")


# -- torchvision --------------------------------------------------------------------------------

class TorchvisionPeer:
    """tests/_torchvision_peer.py as a worker: it writes torchvision state dicts and logits."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_torchvision_peer.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self.proc.stdout.readline()
        assert hello.startswith('{"ready"'), f"the torchvision worker did not start (torch and torchvision are " \
                                             f"test requirements: pip install -r requirements-test.txt): {hello!r}"

    def save(self, model: str, path, x=None, num_classes: int = 1000, features: bool = False):
        """torchvision's ``model`` with random weights saved at ``path``; its logits on ``x`` if given
        (with ``features``, the output before its classifier, channels last)."""
        req = {"model": TORCH_PEERS.get(model, model), "path": str(path), "num_classes": num_classes,
               "features": features}
        if x is not None:
            req.update(x=str(Path(path).with_suffix(".x.npy")), logits=str(Path(path).with_suffix(".y.npy")))
            np.save(req["x"], x)
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline() or '{"error": "the worker died"}')
        assert answer.get("ok"), f"torchvision worker: {answer.get('error')}"
        return np.load(req["logits"]) if x is not None else None

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def torchvision_peer():
    worker = TorchvisionPeer()
    yield worker
    worker.close()


@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m, s in PAIRS if s == "torchvision"])
def test_torchvision_weights_give_the_peers_logits(model, tmp_path, torchvision_peer):
    path = tmp_path / _source(model, "torchvision").file_name
    x = zoo.preprocess_input(_images(), model, "torchvision")
    theirs = torchvision_peer.save(model, path, x)
    ours = zoo.build(model, weights=str(path), classifier_activation=None)
    path.unlink()  # up to 550 MB; pytest keeps its last temporary directories
    rel = _rel(_run(ours, x), theirs)
    print(f"{model} torchvision: relative difference {rel:.2e}")
    assert rel < TOLERANCE


@pytest.mark.parametrize("model", ["resnet18", "alexnet_owt"])
def test_torchvision_files_load_without_their_classifier(model, tmp_path, torchvision_peer):
    """include_top=False takes the backbone of torchvision's full file (torchvision publishes no
    other): a ResNet's `fc` and AlexNet's `classifier` are left out, the features are torchvision's."""
    path = tmp_path / _source(model, "torchvision").file_name
    x = zoo.preprocess_input(_images(1, size=96 if model == "resnet18" else 224), model, "torchvision")
    theirs = torchvision_peer.save(model, path, x, features=True)
    ours = zoo.build(model, weights=str(path), include_top=False, input_shape=x.shape[1:])
    got = _run(ours, x)
    assert got.shape == theirs.shape == ((1, 3, 3, 512) if model == "resnet18" else (1, 6, 6, 256))
    assert _rel(got, theirs) < TOLERANCE
    pooled = zoo.build(model, weights=str(path), include_top=False, pooling="avg", input_shape=x.shape[1:])
    assert _rel(_run(pooled, x), theirs.mean(axis=(1, 2))) < TOLERANCE


# -- wrong and corrupt files --------------------------------------------------------------------

@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory, torchvision_peer):
    path = tmp_path_factory.mktemp("tv") / "resnet18-f37072fd.pth"
    torchvision_peer.save("resnet18", path)
    return str(path)


def test_a_files_preprocessing_follows_its_format(resnet18_file, tmp_path):
    """vgg16's default source is keras.applications (caffe); a torchvision file for it wants torch's
    preprocessing, and `zoo predict` / `compare eval` take it from the file."""
    from compare.imagenet_eval import plan_eval
    from zoo.weights import preprocessing_for

    assert preprocessing_for("vgg16", "imagenet") == "caffe"
    assert preprocessing_for("vgg16", resnet18_file) == "torch"  # the layout decides, not the model's default
    own = tmp_path / "mine.weights.h5"
    own.write_bytes(b"\x89HDF\r\n\x1a\n")  # the zoo's own file: the model's default source
    assert preprocessing_for("vgg16", str(own)) == "caffe" and preprocessing_for("resnet18", str(own)) == "torch"
    assert preprocessing_for("plain18", str(own)) is None
    (config,) = plan_eval(["vgg16"], resnet18_file, f"folder:{tmp_path}")
    assert config["preprocessing"] == "torch"
    with pytest.raises(ValueError) as err:  # refused before any work, not when resnet50 is built
        plan_eval(["vgg16", "resnet50"], resnet18_file, f"folder:{tmp_path}")
    assert str(err.value) == ("resnet50: resnet18-f37072fd.pth is a torchvision (PyTorch state dict) file, and "
                              "resnet50 has no published weights in that layout; try resnet50_v15")
    with pytest.raises(ValueError) as err:
        plan_eval(["plain18"], str(own), f"folder:{tmp_path}")
    assert str(err.value) == ("--preprocessing is needed with mine.weights.h5 for plain18 (nothing says what the "
                              "file expects); accepted: caffe, torch")


def test_a_file_for_a_smaller_model_names_the_first_missing_tensor(resnet18_file):
    with pytest.raises(WeightsMismatch) as err:
        zoo.resnet34(weights=resnet18_file)
    assert str(err.value) == (f"weights file {resnet18_file!r} does not fit model 'resnet34': it has no tensor "
                              "'layer1.2.conv1.weight' (is it a file for another model?)")


def test_a_file_for_a_bigger_model_names_the_first_unused_tensor(tmp_path, torchvision_peer):
    path = str(tmp_path / "resnet34-b627a593.pth")
    torchvision_peer.save("resnet34", path)
    with pytest.raises(WeightsMismatch) as err:
        zoo.resnet18(weights=path)
    assert str(err.value) == (f"weights file {path!r} does not fit model 'resnet18': the file has weights the "
                              "model does not use, first 'layer1.2.conv1.weight' (80 in all)")  # 8 blocks of 10


def test_a_file_with_other_widths_names_the_tensor_and_both_shapes(tmp_path, torchvision_peer):
    path = str(tmp_path / "resnet18-10.pth")
    torchvision_peer.save("resnet18", path, num_classes=10)
    with pytest.raises(WeightsMismatch) as err:
        zoo.resnet18(weights=path)
    assert str(err.value) == (f"weights file {path!r} does not fit model 'resnet18': tensor 'fc' has "
                              "shapes 512x10, 10, layer 'predictions' needs 512x1000, 1000")


def test_a_torchvision_file_into_a_model_without_that_layout_is_refused(resnet18_file):
    with pytest.raises(WeightsMismatch) as err:
        zoo.plain18(weights=resnet18_file)
    assert str(err.value) == (
        f"weights file {resnet18_file!r} is a torchvision (PyTorch state dict) file, and model 'plain18' has "
        "no published weights in that layout (files of that layout fit: vgg16, vgg19, alexnet_owt, vgg11, vgg13, "
        "vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn, resnet18, resnet34, resnet50_v15, resnet101_v15, resnet152_v15)")


def test_the_variant_with_that_layout_is_named(resnet18_file):
    """torchvision's ResNet-50 is our resnet50_v15, its AlexNet our alexnet_owt: the errors say so."""
    with pytest.raises(WeightsMismatch) as err:
        zoo.resnet50(weights=resnet18_file)
    assert str(err.value).startswith(f"weights file {resnet18_file!r} is a torchvision (PyTorch state dict) file, "
                                     "and model 'resnet50' has no published weights in that layout; try "
                                     "resnet50_v15 (files of that layout fit: vgg16,")
    with pytest.raises(WeightsMismatch) as err:  # a ResNet file into AlexNet: its first tensor shows what it is
        zoo.alexnet_owt(weights=resnet18_file)
    assert str(err.value) == (f"weights file {resnet18_file!r} does not fit model 'alexnet_owt': the file has 0 "
                              "convolutions and 0 BatchNorms under 'features', the model has 5 and 0 (is it a file "
                              "for another model? its first tensor is 'conv1.weight')")
    with pytest.raises(ValueError) as err:
        zoo.alexnet(weights="imagenet")
    assert str(err.value).startswith("alexnet: weights='imagenet': this model has no published weights; try "
                                     "alexnet_owt; models with them: vgg16, ")


def test_a_keras_file_for_another_vgg_names_the_missing_layer(tmp_path):
    path = str(tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels.h5")
    write_legacy_h5(keras.applications.VGG16(weights=None), path)
    with pytest.raises(WeightsMismatch) as err:
        zoo.vgg19(weights=path)
    assert str(err.value) == (f"weights file {path!r} does not fit model 'vgg19': it has no tensor "
                              "'block3_conv4' (is it a file for another model?)")


def test_a_truncated_file_is_an_error_naming_it(resnet18_file, tmp_path):
    path = str(tmp_path / "resnet18-cut.pth")
    with open(resnet18_file, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read()[: 2_000_000])
    with pytest.raises(ValueError) as err:
        zoo.resnet18(weights=path)
    assert str(err.value) == (f"weights file {path!r} is a truncated or corrupt zip archive (a torchvision .pth is "
                              "one): its central directory is missing (loading into model 'resnet18')")
    # keras.applications' legacy HDF5, cut short
    h5 = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    write_legacy_h5(keras.applications.VGG16(weights=None, include_top=False), h5)
    cut = str(tmp_path / "vgg16-cut.h5")
    with open(h5, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read()[: 1_000_000])
    with pytest.raises(ValueError) as err:
        zoo.vgg16(weights=cut, include_top=False)
    message = str(err.value)
    assert message.startswith(f"weights file {cut!r} is a truncated or corrupt HDF5 file (h5py: Unable to ")
    assert message.endswith(") (loading into model 'vgg16')") and "\n" not in message


def test_named_weights_need_the_published_network(monkeypatch):
    import zoo.weights.download as download

    def no_fetch(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(download, "fetch", no_fetch)  # each error comes before any download
    with pytest.raises(ValueError) as err:
        zoo.vgg16(weights="keras", input_shape=(256, 256, 3))
    assert str(err.value) == ("vgg16: weights='keras' with include_top=True needs the published classifier, which "
                              "input 256x256x3 does not give (169,814,824 trainable params, published 138,357,544: "
                              "the classifier flattens the last feature map); use include_top=False, or an input "
                              "of 224x224x3")  # 8x8x512 feature map: fc1 has 32,768 inputs, not 25,088
    with pytest.raises(ValueError, match=r"^vgg16: weights='keras' \(keras\) needs width=1.0 \(the published "
                                         r"network\), got width=0.5$"):
        zoo.vgg16(weights="keras", width=0.5)
    with pytest.raises(ValueError, match=r"^resnet18: weights='imagenet' \(torchvision\) with include_top=True "
                                         r"needs classes=1000 \(ImageNet\), got 10; use include_top=False"):
        zoo.resnet18(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match=r"^resnet50: weights='torchvision': no such source for this model; try "
                                         r"resnet50_v15; accepted: 'imagenet', 'keras' or a path to a weights file$"):
        zoo.resnet50(weights="torchvision")


# -- weights="imagenet" end to end: download from a local server, check, cache, load --------------

@pytest.fixture
def local_source(tmp_path, monkeypatch, torchvision_peer):
    """resnet18's torchvision source redirected to a file served on 127.0.0.1 (its real sha256 prefix),
    and the Keras cache redirected to tmp_path/home. Yields (server directory, x, the peer's logits)."""
    import dataclasses
    import hashlib
    import http.server
    import threading

    import zoo.weights.download as download
    from zoo.weights import sources

    served = tmp_path / "served"
    served.mkdir()
    x = zoo.preprocess_input(_images(1), "resnet18")
    theirs = torchvision_peer.save("resnet18", served / "peer.pth", x)
    digest = hashlib.sha256((served / "peer.pth").read_bytes()).hexdigest()[:8]
    (served / "peer.pth").rename(served / f"resnet18-{digest}.pth")

    handler_cls = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler_cls(*a, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    src = dataclasses.replace(sources.SOURCES["resnet18"][0], file_hash=digest,
                              url=f"http://127.0.0.1:{server.server_address[1]}/resnet18-{digest}.pth")
    monkeypatch.setitem(sources.SOURCES, "resnet18", (src,))
    monkeypatch.setattr(download, "_keras_home", lambda: str(tmp_path / "home"))
    yield src, x, theirs, server
    server.shutdown()
    server.server_close()


def test_named_weights_are_downloaded_checked_cached_and_loaded(local_source, tmp_path):
    src, x, theirs, server = local_source
    model = zoo.resnet18(weights="imagenet", classifier_activation=None)
    assert _rel(_run(model, x), theirs) < TOLERANCE
    cached = tmp_path / "home" / "models" / src.file_name
    assert sorted(os.listdir(cached.parent)) == [src.file_name]
    server.shutdown()                                    # offline now: the cached file is used
    again = zoo.resnet18(weights="torchvision", classifier_activation=None)
    assert _rel(_run(again, x), theirs) < TOLERANCE


def test_without_network_the_error_names_the_url_and_the_cache_file(local_source, tmp_path, monkeypatch):
    import dataclasses
    import socket

    from zoo.weights import sources
    from zoo.weights.download import DownloadError

    with socket.socket() as s:                           # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = dataclasses.replace(local_source[0], url=f"http://127.0.0.1:{port}/{local_source[0].file_name}")
    monkeypatch.setitem(sources.SOURCES, "resnet18", (src,))
    with pytest.raises(DownloadError) as err:
        zoo.resnet18(weights="imagenet")
    cache = tmp_path / "home" / "models" / src.file_name
    assert str(err.value) == (f"could not download {src.url} ([Errno 111] Connection refused); without network, "
                              f"download it elsewhere and place it at {cache}")
    assert not cache.parent.exists() or os.listdir(cache.parent) == []


def test_predict_keeps_the_download_off_stdout(local_source, tmp_path, monkeypatch, capsys):
    """`zoo predict ... > answers.txt`: Keras' "Downloading data from" and its progress bar go to stderr."""
    import zoo.__main__ as cli
    from PIL import Image

    src, *_ = local_source
    image = tmp_path / "grey.png"
    Image.new("RGB", (40, 30), (128, 128, 128)).save(image)
    monkeypatch.setattr(cli, "quiet_tensorflow", lambda verbose: None)  # TensorFlow is loaded already
    assert cli.main(["predict", str(image), "--model", "resnet18", "--top", "1"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert (len(lines), lines[0]) == (3, str(image))
    assert lines[1].startswith("  1. ")
    assert lines[2] == "1 image(s) classified by resnet18 (torchvision weights, torch preprocessing)"
    assert f"Downloading data from {src.url}" in err
