"""``python -m compare eval`` end to end: a model whose answers are known (resnet18 with a zero
classifier kernel: its bias alone ranks the classes) on a small generated ImageNet-style folder,
the results store, the report, resuming, and bad input rejected in one line before any work."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compare.store import Store

ROOT = Path(__file__).resolve().parents[1]

# the folder: class sub-folder -> number of images (9 in all)
FOLDER = {"n01440764": 2, "n02123045": 3, "n02504013": 4}   # tench (class 0), tabby (281), Indian elephant (385)
# the model's bias: class -> logit; every other class 0. Top-1 is always 281, the top 5 are exactly these five.
BIAS = {281: 5.0, 385: 4.0, 1: 3.0, 2: 2.0, 3: 1.0}
# by hand: top-1 right only for the 3 tabby images; top-5 right for the tabby and elephant images (3 + 4),
# never for the tench images (class 0 is not among 281, 385, 1, 2, 3)
N, TOP1, TOP5 = 9, 3, 7
ACCEPTED_FOLDER = ("accepted: folder:PATH, an ImageNet validation folder with one sub-folder per class named by "
                   "WordNet id (n01440764, ...)")
WITH_WEIGHTS = ("vgg16, vgg19, resnet50, resnet101, resnet152, alexnet_owt, vgg11, vgg13, vgg11_bn, vgg13_bn, "
                "vgg16_bn, vgg19_bn, resnet18, resnet34, resnet50_v15, resnet101_v15, resnet152_v15")


def _images(root: Path, counts: dict[str, int]) -> Path:
    from PIL import Image

    for k, (wnid, n) in enumerate(counts.items()):
        (root / wnid).mkdir(parents=True)
        for i in range(n):  # varied sizes and aspect ratios: resize + centre crop on every one
            Image.new("RGB", (40 + 16 * i, 30 + 7 * k), (60 * k, 40 * i, 200)).save(root / wnid / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def val(tmp_path_factory) -> Path:
    return _images(tmp_path_factory.mktemp("imagenet") / "val", FOLDER)


@pytest.fixture(scope="module")
def known_weights(tmp_path_factory) -> str:
    """resnet18 weights whose predictions are known: classifier kernel zero, the bias picks the ranking."""
    import zoo

    model = zoo.resnet18()
    kernel, bias = model.get_layer("predictions").get_weights()
    bias = np.zeros_like(bias)
    for cls, logit in BIAS.items():
        bias[cls] = logit
    model.get_layer("predictions").set_weights([np.zeros_like(kernel), bias])
    path = tmp_path_factory.mktemp("w") / "known.weights.h5"
    model.save_weights(path)
    return str(path)


def _compare(*args, timeout=300):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "compare", "eval", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


# `python -m compare eval ARGS` in a process that reports at the end whether TensorFlow was imported
_PROBE = ("import sys\nfrom common.cli import run_main\nfrom compare.__main__ import main\n"
          "try:\n    code = run_main(main, ['eval', *sys.argv[1:]])\n"
          "finally:\n    print('PROBE tensorflow=' + str('tensorflow' in sys.modules))\nsys.exit(code)")


def _probe(*args) -> tuple[int, str, str, bool]:
    """(exit code, stdout, stderr, TensorFlow imported)."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    out, _, flag = proc.stdout.rpartition("PROBE tensorflow=")
    return proc.returncode, out, proc.stderr, flag.strip() == "True"


def _rows(store: Path) -> list[dict]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT model, dataset, status, config, metrics, finished_at FROM trials ORDER BY id")
        return [dict(model=m, dataset=d, status=s, config=json.loads(c), metrics=json.loads(x or "{}"), finished=f)
                for m, d, s, c, x, f in rows]


def _md_table(md: str, title_start: str) -> list[dict[str, str]]:
    block = md.split(f"### {title_start}", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines]
    return [dict(zip(cells[0], row)) for row in cells[2:]]


def test_eval_measures_the_known_accuracy_and_resumes(val, known_weights, tmp_path):
    out = tmp_path / "run"
    # batches of 4: 4 + 4 + 1 images, a partial last batch
    args = ["--models", "resnet18", "--weights", known_weights, "--dataset", f"folder:{val}", "--batch-size", "4",
            "--out", str(out)]
    proc = _compare(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    store = out / "results.sqlite"
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"1 evaluated \(9 images in all\), 0 already done, 0 failed of 1 model\(s\) in \d+ s; results in "
                        rf"{re.escape(str(store))}; report {re.escape(str(out / 'report.md'))} \(\d+ s\)", last), last
    said = proc.stdout.splitlines()  # progress and summary on stdout; stderr for errors alone
    assert said[0] == f"1 model(s) on 9 images of 3 class(es) -> {out}"
    assert said[1] == "[1/1] resnet18 (known.weights.h5): 9 images, torch preprocessing at 224"
    assert re.fullmatch(r"\[1/1\] resnet18 \(known\.weights\.h5\): top-1 33\.33%, top-5 77\.78% on 9 images, \d+ s",
                        said[-2]), said[-2]
    assert proc.stderr == ""  # no traceback, no TensorFlow start-up noise

    (row,) = _rows(store)
    assert (row["model"], row["dataset"], row["status"]) == ("resnet18", f"folder:{val}", "done")
    assert row["config"] == dict(study="eval", model="resnet18", dataset=f"folder:{val}", weights=known_weights,
                                 weights_sha256=hashlib.sha256(Path(known_weights).read_bytes()).hexdigest(),
                                 preprocessing="torch", input_size=224, crop="shorter side 256, centre 224",
                                 limit=None)
    m = row["metrics"]
    assert (m["n_images"], m["n_classes"], m["correct_top1"], m["correct_top5"]) == (N, 3, TOP1, TOP5)
    assert m["top1_acc"] == pytest.approx(TOP1 / N, abs=1e-12) and m["top5_acc"] == pytest.approx(TOP5 / N, abs=1e-12)
    assert (m["source"], m["published_top1_acc"], m["published_top5_acc"], m["measured"]) == (
        "known.weights.h5", None, None, True)
    assert m["versions"]["machine"] and m["versions"]["keras"]

    md = (out / "report.md").read_text()
    (shown,) = _md_table(md, f"folder:{val}: measured on your ImageNet folder")
    # Wilson intervals by hand: 3/9 -> 0.3832 +- 0.2626, 7/9 -> 0.6947 +- 0.2421
    assert shown == {"model": "resnet18", "source": "known.weights.h5", "images": "9", "classes": "3",
                     "measured top-1 (%)": "33.33", "top-1 95% CI (%)": "12.06–64.58",
                     "measured top-5 (%)": "77.78", "top-5 95% CI (%)": "45.26–93.68"}
    assert "## Comparison" not in md  # no trained model in this run
    assert "1 trial: 1 done, 0 failed. 1 model; datasets: folder:" in md and "seeds" not in md.split("\n")[2]
    assert "Appendix: per-layer profiles" not in md  # nothing trained to profile
    from reports.reference import COLUMN_UNITS

    columns = list(pd.read_csv(out / "results.csv").columns)
    assert [c for c in columns if c not in COLUMN_UNITS] == []
    assert [row["column"] for row in _md_table(md, "Columns of results.csv / results.json")] == columns
    # the pretrained model's first-layer filters: resnet18's conv1, 64 filters of 7x7x3, with the evaluated weights
    assert (out / "figures" / "pretrained_filters.png").is_file()
    assert "First-layer filters of resnet18 with the weights file known.weights.h5, as evaluated above." in md

    # resumed: the row is done, nothing is evaluated again, the store is unchanged
    again = _compare(*args, "--no-report", timeout=60)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines()[-2:] == [
        "[1/1] resnet18 (known.weights.h5): already done, skipped",
        f"0 evaluated (0 images in all), 1 already done, 0 failed of 1 model(s) in 0 s; results in {store}"]
    assert _rows(store) == [row]


def test_ctrl_c_as_a_model_begins_stores_it_interrupted(val, known_weights, ctrl_c_as_begun, tmp_path):
    """Ctrl-C right after the model's row is written, before the loop holds its id: the row is
    stored as interrupted, not left ``running``, and nothing is evaluated."""
    from compare.imagenet_eval import plan_eval, run_eval, scan_folder

    ctrl_c_as_begun()
    summary = run_eval(plan_eval(["resnet18"], known_weights, f"folder:{val}"), scan_folder(val), tmp_path)
    assert (summary.done, summary.failed, summary.interrupted, summary.images) == (0, 0, True, 0)
    assert [(r["model"], r["status"]) for r in _rows(tmp_path / "results.sqlite")] == [("resnet18", "failed")]
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        assert conn.execute("SELECT reason FROM trials").fetchall() == [
            ("interrupted by the user (Ctrl-C); it runs again on resume",)]


def test_a_row_resumes_for_the_same_folder_and_weights_only(val, known_weights, tmp_path, monkeypatch):
    """The folder however it is typed (a final /, relative, ~) is one row; a weights file overwritten
    with other weights, or a --limit that keeps every image, is judged by what it is, not its text."""
    import shutil

    from compare.imagenet_eval import plan_eval, scan_folder

    monkeypatch.chdir(val.parent)
    monkeypatch.setenv("HOME", str(val.parent))
    keys = {Store.key(c) for d in (f"folder:{val}", f"folder:{val}/", "folder:val", "folder:~/val")
            for c in plan_eval(["resnet18"], known_weights, d)}
    assert len(keys) == 1
    copy = tmp_path / "w.weights.h5"
    shutil.copy(known_weights, copy)
    (before,) = plan_eval(["resnet18"], str(copy), f"folder:{val}")
    with open(copy, "ab") as f:
        f.write(b"\0")
    (after,) = plan_eval(["resnet18"], str(copy), f"folder:{val}")
    assert before["weights_sha256"] != after["weights_sha256"] and Store.key(before) != Store.key(after)
    assert [scan_folder(val, n).limit for n in (8, 9, 10, None)] == [8, None, None, None]


def test_an_unreadable_image_is_left_out_and_counted(val, known_weights, tmp_path):
    """A text file named .jpg among the images: the other 9 are evaluated (the known counts), the bad
    one is counted and named; the report shows the column. A folder of only such files fails."""
    import shutil

    from compare.imagenet_eval import evaluate, plan_eval, scan_folder
    from reports.render import build_report

    folder = tmp_path / "val"
    shutil.copytree(val, folder)
    (folder / "n02123045" / "broken.jpg").write_text("not an image")
    (config,) = plan_eval(["resnet18"], known_weights, f"folder:{folder}")
    m = evaluate(config, scan_folder(folder), batch_size=4)
    assert (m["n_images"], m["correct_top1"], m["correct_top5"], m["unreadable"]) == (N, TOP1, TOP5, 1)
    assert m["first_unreadable"] == str(folder / "n02123045" / "broken.jpg")
    with Store(tmp_path / "results.sqlite") as store:
        store.finish(store.begin(config), m)
    build_report(tmp_path, figures=False, profiles=False)
    (shown,) = _md_table((tmp_path / "report.md").read_text(), f"folder:{folder}: measured on your ImageNet folder")
    assert (shown["images"], shown["unreadable (left out)"], shown["measured top-1 (%)"]) == ("9", "1", "33.33")
    bad = tmp_path / "bad" / "n01440764"
    bad.mkdir(parents=True)
    (bad / "a.jpg").write_text("x")
    with pytest.raises(ValueError, match=r"^none of the 1 images could be read; the first: '.*/a\.jpg'$"):
        evaluate(plan_eval(["resnet18"], known_weights, f"folder:{bad.parent}")[0], scan_folder(bad.parent))


def test_time_left_is_timed_from_the_built_model(val, known_weights, tmp_path, monkeypatch):
    """The first estimate used to include the model's build (resnet18: seconds; VGG: longer): on a
    clock where the build takes 1,000 ticks and every clock read 1, the time left at the first batch
    (4 of 9 images) is a few ticks, not 1,250."""
    import types

    import zoo
    from compare import imagenet_eval

    clock = [0.0]

    def tick() -> float:
        clock[0] += 1.0
        return clock[0]

    real_build = zoo.build

    def slow_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        clock[0] += 1000.0
        return model

    monkeypatch.setattr(imagenet_eval, "time", types.SimpleNamespace(perf_counter=tick))
    monkeypatch.setattr(zoo, "build", slow_build)
    events = []
    imagenet_eval.run_eval(imagenet_eval.plan_eval(["resnet18"], known_weights, f"folder:{val}"),
                           imagenet_eval.scan_folder(val), tmp_path, batch_size=4,
                           progress=lambda event, *a, **info: events.append((event, info)))
    batches = [info for event, info in events if event == "batch"]
    assert [b["done"] for b in batches] == [4, 8, 9]
    assert batches[0]["eta_s"] < 10 and batches[-1]["eta_s"] == 0


def test_limit_keeps_the_folders_class_mix(val):
    """--limit 3 of 2 + 3 + 4 images: one per class (quotas 0.67, 1, 1.33, the leftover to the largest
    fraction), the same images on every run."""
    from compare.imagenet_eval import scan_folder

    full = scan_folder(val)
    assert [Path(f).parent.name for f in full.files] == ["n01440764"] * 2 + ["n02123045"] * 3 + ["n02504013"] * 4
    assert full.labels == (0,) * 2 + (281,) * 3 + (385,) * 4
    part = scan_folder(val, limit=3)
    assert sorted(part.labels) == [0, 281, 385] and part == scan_folder(val, limit=3)
    assert set(part.files) <= set(full.files)


def test_named_weights_carry_their_sources_published_accuracy():
    """What an eval row of named weights stores beside its measurement: torchvision's ResNet18_Weights
    acc@1 / acc@5 (tests/test_weights_sources.py reads them from torchvision itself) and keras.io's table."""
    from compare.imagenet_eval import published

    torch_protocol = ("ImageNet 2012 val, resize the shorter side to 256 (bilinear), centre crop 224x224, single "
                      "crop (torchvision's ImageClassification transform)")
    assert published(dict(model="resnet18", weights="imagenet")) == ("torchvision", 0.69758, 0.89078, torch_protocol)
    assert published(dict(model="vgg16", weights="torchvision")) == ("torchvision", 0.71592, 0.90382, torch_protocol)
    assert published(dict(model="vgg16", weights="imagenet"))[:3] == ("keras", 0.713, 0.901)
    assert published(dict(model="resnet18", weights="/w/mine.weights.h5")) == ("mine.weights.h5", None, None, None)


def test_report_shows_published_beside_measured(tmp_path):
    """An eval row of named weights: the report puts the source's published figures beside the measured ones."""
    from compare.store import Store
    from reports.render import build_report

    cfg = dict(study="eval", model="resnet18", dataset="folder:/data/val", weights="torchvision",
               preprocessing="torch", input_size=224, limit=None)
    with Store(tmp_path / "results.sqlite") as store:
        store.finish(store.begin(cfg), dict(n_images=50000, n_classes=1000, correct_top1=34879, correct_top5=44539,
                                            top1_acc=0.69758, top5_acc=0.89078, source="torchvision",
                                            published_top1_acc=0.69758, published_top5_acc=0.89078, measured=True))
    build_report(tmp_path, figures=False, profiles=False)
    (shown,) = _md_table((tmp_path / "report.md").read_text(), "folder:/data/val: measured on your ImageNet folder")
    assert shown == {"model": "resnet18", "source": "torchvision", "images": "50,000", "classes": "1,000",
                     "measured top-1 (%)": "69.76", "top-1 95% CI (%)": "69.35–70.16",
                     "measured top-5 (%)": "89.08", "top-5 95% CI (%)": "88.80–89.35",
                     "published top-1 (%)": "69.76", "published top-5 (%)": "89.08"}


def test_a_report_never_downloads_the_weights_it_shows(tmp_path, monkeypatch):
    """The pretrained-filters figure of named weights uses the file the evaluation cached; when it is
    not cached (another machine, a cleared cache) the figure is left out with a note, not downloaded."""
    import keras

    import zoo.weights.download as download
    from compare.store import Store
    from reports.render import build_report

    def no_download(*args, **kwargs):
        raise AssertionError("the report tried to download")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setattr(download, "_keras_home", lambda: str(tmp_path / "empty_cache"))
    cfg = dict(study="eval", model="alexnet_owt", dataset="folder:/data/val", weights="torchvision",
               preprocessing="torch", input_size=224, limit=None)
    with Store(tmp_path / "results.sqlite") as store:
        store.finish(store.begin(cfg), dict(n_images=10, n_classes=2, correct_top1=5, correct_top5=9, top1_acc=0.5,
                                            top5_acc=0.9, source="torchvision", measured=True))
    rep = build_report(tmp_path, figures=True, profiles=False)
    cache = tmp_path / "empty_cache" / "models" / "alexnet-owt-7be5be79.pth"
    assert rep.notes == [f"figure 'pretrained_filters' left out: ValueError: alexnet-owt-7be5be79.pth is not in the "
                         f"Keras cache ({cache}); a report does not download"]
    assert not (tmp_path / "figures" / "pretrained_filters.png").exists()


@pytest.mark.parametrize("case", ["missing folder", "unknown wnid", "no published weights", "no such source",
                                  "batch size 0", "not a folder dataset"])
def test_bad_input_is_one_line_before_any_work(case, val, tmp_path):
    out = tmp_path / "out"
    folder = f"folder:{val}"
    if case == "unknown wnid":
        folder = f"folder:{_images(tmp_path / 'mixed', {'n01440764': 1, 'cats': 1})}"
    args = {"missing folder": ["--models", "resnet18", "--dataset", f"folder:{tmp_path / 'nope'}"],
            "unknown wnid": ["--models", "resnet18", "--dataset", folder],
            "no published weights": ["--models", "resnet18,plain18", "--dataset", folder],
            "no such source": ["--models", "resnet18", "--weights", "keras", "--dataset", folder],
            "batch size 0": ["--models", "resnet18", "--dataset", folder, "--batch-size", "0"],
            "not a folder dataset": ["--models", "resnet18", "--dataset", "mnist"]}[case]
    message = {
        "missing folder": f"--dataset 'folder:{tmp_path / 'nope'}': {tmp_path / 'nope'} does not exist; "
                          + ACCEPTED_FOLDER,
        "unknown wnid": f"{tmp_path / 'mixed'}: sub-folder 'cats' is not an ImageNet class; accepted: the WordNet ids "
                        "of the 1,000 ILSVRC-2012 classes (n01440764 ... n15075141), as in ImageNet's val folder",
        "no published weights": "plain18: weights='imagenet': this model has no published weights; models with them: "
                                + WITH_WEIGHTS,
        "no such source": "resnet18: weights='keras': no such source for this model; accepted: 'imagenet', "
                          "'torchvision' or a path to a weights file",
        "batch size 0": "--batch-size must be an integer >= 1, got '0'",
        "not a folder dataset": "--dataset 'mnist' is not an image folder; " + ACCEPTED_FOLDER,
    }[case]
    code, stdout, stderr, tf = _probe(*args, "--out", str(out))
    assert (code, stderr, stdout, tf) == (2, f"error: {message}\n", "", False)  # no traceback, no TensorFlow
    assert not out.exists()  # nothing done


def test_help_without_tensorflow():
    code, stdout, stderr, tf = _probe("--help")
    assert (code, stderr, tf) == (0, "", False)
    assert stdout.startswith("usage: python -m compare eval [-h] [--verbose] --models MODELS")
