"""ImageNet inputs and outputs: preprocessing against keras.applications' own, the shipped class
names, image loading, and `python -m zoo predict` end to end on a model whose answer is known."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.imagenet import class_names, decode_predictions, load_images, preprocess_input, wnids

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("model, source, mode", [("vgg16", "keras", "caffe"), ("resnet50", None, "caffe"),
                                                 ("vgg16", "torchvision", "torch"), ("resnet18", None, "torch")])
def test_preprocessing_equals_keras_applications_own(model, source, mode):
    from keras.applications import imagenet_utils

    x = np.random.default_rng(0).integers(0, 256, size=(2, 5, 7, 3)).astype(np.float32)
    ours = preprocess_input(x, model, source)
    theirs = imagenet_utils.preprocess_input(x.copy(), data_format="channels_last", mode=mode)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    assert x.max() > 200  # the input was not modified in place


def test_preprocessing_of_one_pixel_by_hand():
    px = np.array([[[255.0, 0.0, 10.0]]])
    np.testing.assert_allclose(preprocess_input(px, source="caffe")[0, 0],
                               [10 - 103.939, 0 - 116.779, 255 - 123.68], atol=1e-5)
    np.testing.assert_allclose(preprocess_input(px, source="torch")[0, 0],
                               [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (10 / 255 - 0.406) / 0.225], atol=1e-6)


def test_preprocessing_errors():
    with pytest.raises(ValueError, match=r"^preprocess_input: x must be RGB images, channels last, shape "
                                         r"\(H, W, 3\) or \(N, H, W, 3\); got \(2, 3, 8, 8\)$"):
        preprocess_input(np.zeros((2, 3, 8, 8)), "vgg16")
    x = np.zeros((8, 8, 3))
    with pytest.raises(ValueError) as err:
        preprocess_input(x, "lenet5")
    assert str(err.value) == ("preprocessing: lenet5 has no published weights to take it from; accepted: a mode "
                              "('caffe', 'torch'), or a model with weights (vgg16, vgg19, resnet50, resnet101, "
                              "resnet152, alexnet_owt, vgg11, vgg13, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn, "
                              "resnet18, resnet34, resnet50_v15, resnet101_v15, resnet152_v15)")
    with pytest.raises(ValueError) as err:
        preprocess_input(x, "vgg16", "tf")
    assert str(err.value) == ("preprocessing: source 'tf' is not one of vgg16's; accepted: 'imagenet', 'keras', "
                              "'torchvision', None or a mode ('caffe', 'torch')")
    with pytest.raises(zoo.UnknownModelError, match="unknown model 'VGG16'"):
        preprocess_input(x, "VGG16")
    with pytest.raises(ValueError, match=r"^preprocessing: source must be a string, a WeightSource or None, got "
                                         r"\['keras'\]$"):
        preprocess_input(x, "vgg16", ["keras"])
    np.testing.assert_array_equal(preprocess_input(x, source="CAFFE"), preprocess_input(x, source="caffe"))


def test_the_shipped_class_names():
    ids, names = wnids(), class_names()
    assert len(ids) == len(names) == 1000 and len(set(ids)) == 1000
    assert list(ids) == sorted(ids)
    assert (ids[0], names[0]) == ("n01440764", "tench")
    assert (ids[281], names[281]) == ("n02123045", "tabby")
    assert (ids[385], names[385]) == ("n02504013", "Indian elephant")
    assert (ids[999], names[999]) == ("n15075141", "toilet tissue")


def test_decode_predictions_orders_the_top_classes():
    p = np.zeros((2, 1000), dtype=np.float32)
    p[0, [3, 281, 999]] = [0.2, 0.7, 0.1]
    p[1, 0] = 1.0
    out = decode_predictions(p, top=3)
    assert out[0] == [("n02123045", "tabby", pytest.approx(0.7)), ("n01491361", "tiger shark", pytest.approx(0.2)),
                      ("n15075141", "toilet tissue", pytest.approx(0.1))]
    assert out[1][0] == ("n01440764", "tench", 1.0)
    with pytest.raises(ValueError, match=r"^decode_predictions expects a batch of ImageNet scores, shape "
                                         r"\(N, 1000\); got \(2, 10\)$"):
        decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"^decode_predictions: top must be an integer from 1 to 1000, got 0$"):
        decode_predictions(p, top=0)
    assert decode_predictions(p, top=np.int64(2)) == [out[0][:2], out[1][:2]]  # numpy's integers are integers


def _image(path, size, colour):
    from PIL import Image

    Image.new("RGB", size, colour).save(path)
    return str(path)


def test_load_images_follows_each_protocol(tmp_path):
    a = _image(tmp_path / "a.png", (300, 200), (255, 0, 10))
    b = _image(tmp_path / "b.jpg", (100, 500), (0, 0, 0))
    x = load_images([a, b], "resnet18")                  # resize 256, centre crop 224, torch's preprocessing
    assert x.shape == (2, 224, 224, 3)
    np.testing.assert_allclose(x[0, 111, 111], [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224,
                                                 (10 / 255 - 0.406) / 0.225], atol=1e-6)
    # keras.applications' sources: the same crop, caffe's preprocessing. A 400x200 image with a green
    # band on its left 100 columns: at 512x256 the band is columns 0-127, the centre crop starts at
    # column 144, so the crop is all red (a plain resize to 224x224 kept the band, columns 0-55)
    from PIL import Image

    im = Image.new("RGB", (400, 200), (255, 0, 10))
    im.paste((0, 255, 0), (0, 0, 100, 200))
    im.save(tmp_path / "band.png")
    y = load_images(str(tmp_path / "band.png"), "vgg16")   # one path, not a list
    assert y.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(y[0, :, 0], np.tile([10 - 103.939, -116.779, 255 - 123.68], (224, 1)), atol=1e-4)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match=f"^cannot read image '{bad}': "):
        load_images([str(bad)], "vgg16")
    with pytest.raises(ValueError, match=r"^load_images: no image paths given; accepted: a path or a list of paths$"):
        load_images([], "vgg16")


@pytest.fixture(scope="module")
def tabby_weights(tmp_path_factory):
    """resnet18 weights whose answer is known: the classifier's kernel is zero, its bias picks the classes."""
    model = zoo.resnet18()
    kernel, bias = model.get_layer("predictions").get_weights()
    bias = np.zeros_like(bias)
    bias[281], bias[385] = 5.0, 4.0                        # tabby, Indian elephant
    model.get_layer("predictions").set_weights([np.zeros_like(kernel), bias])
    path = tmp_path_factory.mktemp("w") / "tabby.weights.h5"
    model.save_weights(path)
    return str(path)


def _zoo(*args):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "zoo", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_predict_prints_the_known_top_classes(tabby_weights, tmp_path):
    images = [_image(tmp_path / "cat.png", (320, 240), (120, 80, 40)), _image(tmp_path / "dog.png", (64, 64), (0, 0, 0))]
    proc = _zoo("predict", *images, "--model", "resnet18", "--weights", tabby_weights, "--top", "3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    total = math.exp(5) + math.exp(4) + 998
    lines = proc.stdout.splitlines()
    assert lines[0] == images[0]
    assert lines[1] == f"  1. {'tabby':<32} n02123045  {math.exp(5) / total:7.2%}"
    assert lines[2] == f"  2. {'Indian elephant':<32} n02504013  {math.exp(4) / total:7.2%}"
    assert lines[3].startswith(f"  3. ") and lines[3].endswith(f"{1 / total:7.2%}")
    assert lines[4] == images[1]
    assert lines[-1] == "2 image(s) classified by resnet18 (tabby.weights.h5, torch preprocessing)"
    assert "cudart" not in proc.stderr and "oneDNN" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--model", "lenet5"], "error: --model lenet5 is not an ImageNet model (input 32x32x1, 10 classes); "
                            "models with published weights: vgg16, vgg19, resnet50,"),
    (["--model", "plain18", "--weights", "keras"], "error: plain18: weights='keras': this model has no "
                                                   "published weights; models with them: vgg16,"),
    (["--model", "resnet50", "--weights", "torchvision"], "error: resnet50: weights='torchvision': no such "
                                                          "source for this model; try resnet50_v15; accepted: "
                                                          "'imagenet', 'keras' or a path to a weights file\n"),
    (["--model", "vgg16", "--weights", "/no/such.pth"], "error: --weights '/no/such.pth' is neither a file nor "
                                                        "a source; accepted: imagenet, keras, torchvision or a path"),
    (["--model", "vgg16", "--top", "0"], "error: --top must be an integer from 1 to 1000, got 0"),
    (["--model", "nosuch"], "error: unknown model 'nosuch'"),
    (["--model", "vgg16", "--weights", "keras", "--preprocessing", "torch"],
     "error: --preprocessing is for a weights file; --weights keras uses its source's own (caffe for vgg16)\n"),
])
def test_predict_rejects_bad_input_in_one_line(args, message, tmp_path):
    image = _image(tmp_path / "x.png", (8, 8), (1, 2, 3))
    proc = _zoo("predict", image, *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_predict_names_a_missing_image():
    proc = _zoo("predict", "/no/cat.jpg", "--model", "vgg16")
    assert (proc.returncode, proc.stderr.strip()) == (
        2, "error: image '/no/cat.jpg' does not exist; accepted: image files (JPEG, PNG, ...)")
