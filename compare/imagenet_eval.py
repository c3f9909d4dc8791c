"""Pretrained models on the user's own ImageNet validation folder: measured top-1 / top-5 accuracy.

The folder (``folder:PATH``) holds one sub-folder per class named by its WordNet id (n01440764,
...); an image's label is the index of its folder's id in :func:`zoo.imagenet.wnids` (the models'
output order), so a folder with only some of the 1,000 classes works. Each (model, weights) pair is
one row of the run's results store (study ``"eval"``), resumable like training trials, with the
weight source's published top-1 / top-5 beside the measured ones.

``scan_folder`` and ``plan_eval`` check everything cheaply (no TensorFlow, no image read) so bad
input fails before any work; ``run_eval`` builds each model, streams the images in batches through
:func:`zoo.imagenet.load_images` (resize / centre crop / preprocessing as the weights' protocol
says) and stores the counts. Nothing here prints: progress goes to a callback.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .data import located
from .runner import INTERRUPTED, RunSummary, record_failure

STUDY = "eval"
DEFAULT_BATCH_SIZE = 32
PREPROCESSING_MODES = ("caffe", "torch")
#: the image protocol of every row (zoo.imagenet.load_images), in its config: rows measured before it
#: (keras.applications' sources were resized to 224x224 without a crop) are measured again, not resumed
CROP = "shorter side 256, centre 224"


@dataclass(frozen=True)
class ImageFolder:
    """The images of an ImageNet-style folder with their labels (indices into ``wnids()``)."""

    root: Path
    files: tuple[str, ...]
    labels: tuple[int, ...]
    classes: tuple[str, ...]  # the WordNet ids of the sub-folders that hold images, sorted
    limit: int | None = None  # the subset's size; None when every image is kept (also for a limit >= their number)


def scan_folder(path: str | os.PathLike, limit: int | None = None) -> ImageFolder:
    """List the images of ``path`` (one sub-folder per class, named by WordNet id) without reading them.

    ``limit``: keep at most that many images, with the class proportions of the folder (a fixed
    stratified subset, the same on every run). Raises a one-line ValueError naming the problem:
    a missing folder, no class sub-folders, a sub-folder that is not an ImageNet class id, no images.
    """
    from zoo.imagenet import wnids

    from .datasets_io import IMAGE_SUFFIXES, folder_path, stratified_subset

    root = folder_path(path)
    subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs:
        raise ValueError(f"{root} has no class sub-folders; accepted: one sub-folder of images per ImageNet class, "
                         "named by its WordNet id (n01440764, ...)")
    index = {w: i for i, w in enumerate(wnids())}
    unknown = [p.name for p in subs if p.name not in index]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise ValueError(f"{root}: sub-folder {shown} is not an ImageNet class; accepted: the WordNet ids of "
                         f"the 1,000 ILSVRC-2012 classes (n01440764 ... n15075141), as in ImageNet's val folder")
    files, labels = [], []
    for sub in subs:
        for f in sorted(sub.iterdir()):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                files.append(str(f))
                labels.append(index[sub.name])
    if not files:
        raise ValueError(f"{root} holds no images in its class sub-folders; accepted: {' '.join(IMAGE_SUFFIXES)}")
    if limit is not None and limit < len(files):
        import numpy as np

        keep = stratified_subset(np.searchsorted(sorted(set(labels)), labels), limit)
        files, labels = [files[i] for i in keep], [labels[i] for i in keep]
    else:
        limit = None
    ids = wnids()
    classes = tuple(sorted({ids[lab] for lab in set(labels)}))
    return ImageFolder(root, tuple(files), tuple(labels), classes, limit)


def plan_eval(models: list[str], weights: str, dataset: str, *, preprocessing: str | None = None,
              limit: int | None = None) -> list[dict]:
    """One config per model: ``weights`` is ``"imagenet"``, a source name (``"keras"``,
    ``"torchvision"``) or a path to a weights file, the same for every model. Checked here, before
    any work: every model is an ImageNet model with that source (or, for a file, a preprocessing:
    ``preprocessing`` or what the file's layout expects). A config names the source, not ``"imagenet"``, so
    ``--weights imagenet`` and ``--weights torchvision`` resume the same row for resnet18; a file's
    config holds its sha256 and a folder's its absolute path, so a row resumes only for the same
    weights on the same folder. ``limit``: None for every image (pass None, not the folder's size)."""
    import zoo
    from zoo.weights import NAMED, SOURCES, check_file_layout, pick_source, preprocessing_for
    from zoo.weights.download import digest

    if not models:
        raise ValueError("no models given; accepted: names from python -m zoo list, comma-separated")
    named = weights.lower() in NAMED
    if not named:
        weights = os.path.expanduser(weights)
    if not named and not os.path.isfile(weights):
        raise ValueError(f"--weights {weights!r} is neither a file nor a source; accepted: "
                         f"{', '.join(NAMED)} or a path to a weights file")
    if preprocessing is not None and preprocessing not in PREPROCESSING_MODES:
        raise ValueError(f"--preprocessing {preprocessing!r} is not a mode; accepted: {', '.join(PREPROCESSING_MODES)}")
    if named and preprocessing is not None:
        raise ValueError(f"--preprocessing is for a weights file; --weights {weights} uses each source's own "
                         "preprocessing")
    prefix, _, path = dataset.partition(":")
    if prefix.lower() == "folder" and path:  # one key per folder however it is typed (relative, ~, a final /)
        dataset = located(dataset)
    # a file overwritten with other weights is evaluated again (the hash: about 1 s for VGG's 528 MB)
    stamp = None if named else digest(weights, "sha256")
    configs, seen = [], set()
    for name in models:
        c = zoo.card(name)  # unknown model -> UnknownModelError with suggestions
        if named:  # a model without published weights, or without that source -> one line naming it
            src = pick_source(c.name, weights)
            cfg = dict(study=STUDY, model=c.name, dataset=dataset, weights=src.source, preprocessing=src.preprocessing,
                       input_size=c.input_shape[0], crop=CROP, limit=limit)
        else:
            if c.classes != 1000 or len(c.input_shape) != 3 or c.input_shape[-1] != 3:
                raise ValueError(f"{c.name} is not an ImageNet model ({c.classes} classes, input "
                                 f"{'x'.join(map(str, c.input_shape))}); accepted: 1,000 classes, RGB input, e.g. "
                                 f"{', '.join(SOURCES)}")
            check_file_layout(c.name, weights)  # a torchvision file for resnet50: refused now, not at run time
            mode = preprocessing or preprocessing_for(c.name, weights)  # the file's own layout's
            if mode is None:
                raise ValueError(f"--preprocessing is needed with {os.path.basename(weights)} for {c.name} "
                                 f"(nothing says what the file expects); accepted: {', '.join(PREPROCESSING_MODES)}")
            cfg = dict(study=STUDY, model=c.name, dataset=dataset, weights=os.path.abspath(weights),
                       weights_sha256=stamp, preprocessing=mode, input_size=c.input_shape[0], crop=CROP, limit=limit)
        if c.name not in seen:
            seen.add(c.name)
            configs.append(cfg)
    return configs


def published(config: dict) -> tuple[str, float | None, float | None, str | None]:
    """``(source label, published top-1, published top-5 (fractions), protocol)`` of a config's weights;
    a weights file is labelled by its file name, without published figures."""
    from zoo.weights import NAMED, pick_source

    if config["weights"] in NAMED:
        s = pick_source(config["model"], config["weights"])
        # percent to 3 decimals as a fraction to 5: 90.382 / 100 alone is 0.9038200000000001
        return s.source, round(s.top1 / 100.0, 5), round(s.top5 / 100.0, 5), s.protocol
    return os.path.basename(config["weights"]), None, None, None


def evaluate(config: dict, folder: ImageFolder, *, batch_size: int = DEFAULT_BATCH_SIZE,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Top-1 / top-5 accuracy of ``config``'s model and weights on ``folder``'s images, in batches.

    ``progress(done, total)`` is called once the model is built (``done`` 0) and after each batch.
    Returns the metrics the store records:
    counts, accuracies (fractions), errors, the source and its published figures, ``measured=True``.
    An image that cannot be read (not an image, truncated) is left out of the counts and counted as
    ``unreadable`` (the first named), so one bad file does not cost the whole folder; ValueError if
    no image can be read.
    """
    import numpy as np

    import zoo
    from zoo.imagenet import load_images

    from .train import versions

    def load(paths):
        return load_images(paths, config["model"], config["preprocessing"], size=config["input_size"])

    model = zoo.build(config["model"], weights=config["weights"])
    total = len(folder.files)
    if progress is not None:
        progress(0, total)  # built: the time left is measured from here
    labels = np.asarray(folder.labels, dtype=np.int64)
    correct1 = correct5 = n = 0
    unreadable: list[str] = []
    t0 = time.perf_counter()
    for start in range(0, total, batch_size):
        paths = folder.files[start:start + batch_size]
        y = labels[start:start + batch_size]
        try:
            x = load(paths)
        except ValueError:  # an image that cannot be read: left out (and counted), the others evaluated
            keep, arrays = [], []
            for i, path in enumerate(paths):
                try:
                    arrays.append(load([path]))
                    keep.append(i)
                except ValueError:
                    unreadable.append(path)
            x, y = (np.concatenate(arrays) if arrays else None), y[keep]
        if len(y):
            probs = np.asarray(model.predict_on_batch(x))
            top5 = np.argsort(-probs, axis=1, kind="stable")[:, :5]  # ties: the lower class index first
            n += len(y)
            correct1 += int((top5[:, 0] == y).sum())
            correct5 += int((top5 == y[:, None]).any(axis=1).sum())
        if progress is not None:
            progress(min(start + batch_size, total), total)
    if n == 0:
        raise ValueError(f"none of the {total:,} images could be read; the first: {unreadable[0]!r}")
    seconds = time.perf_counter() - t0
    source, pub1, pub5, protocol = published(config)
    return dict(n_images=n, n_classes=len(folder.classes), correct_top1=correct1, correct_top5=correct5,
                top1_acc=correct1 / n, top5_acc=correct5 / n, top1_err=1 - correct1 / n, top5_err=1 - correct5 / n,
                unreadable=len(unreadable), first_unreadable=unreadable[0] if unreadable else None,
                source=source, published_top1_acc=pub1, published_top5_acc=pub5, protocol=protocol,
                measured=True, eval_s=round(seconds, 3), img_per_s=round(n / seconds, 2) if seconds > 0 else None,
                versions=versions())


@dataclass
class EvalSummary(RunSummary):
    """A run's counts (``RunSummary``'s) plus the images evaluated."""

    images: int = 0

    def line(self, where: str | None = None) -> str:
        """The one-line summary the CLI ends with."""
        state = "interrupted: " if self.interrupted else ""
        return (f"{state}{self.done} evaluated ({self.images:,} images in all), {self.skipped} already done, "
                f"{self.failed} failed of {self.total} model(s) in {self.wall_s:.0f} s; "
                f"results {where or 'in ' + self.store_path}")


def run_eval(configs: list[dict], folder: ImageFolder, out_dir: str | os.PathLike, *,
             batch_size: int = DEFAULT_BATCH_SIZE, progress: Callable[..., None] | None = None) -> EvalSummary:
    """Evaluate ``configs`` on ``folder`` into ``out_dir/results.sqlite``, skipping the rows already done;
    a failing model is stored with its reason and the others go on; Ctrl-C stops cleanly.

    ``progress(event, index, total, config, **info)``: ``"skip"``, ``"start"``, ``"batch"`` (``done``,
    ``images``, ``eta_s``), ``"done"`` (``metrics``, ``seconds``), ``"failed"`` (``reason``).
    """
    from .runner import open_run
    from .store import Store

    notify = progress or (lambda *a, **k: None)
    start = time.perf_counter()
    with open_run(out_dir) as (_out, store, ctrl_c):
        summary = EvalSummary(out_dir=str(out_dir), store_path=str(store.path), total=len(configs))
        done_keys = store.done_keys()
        try:
            for i, cfg in enumerate(configs, 1):
                if Store.key(cfg) in done_keys:
                    summary.skipped += 1
                    notify("skip", i, len(configs), cfg)
                    continue
                notify("start", i, len(configs), cfg, images=len(folder.files))
                trial_id = store.begin(cfg)
                t0 = time.perf_counter()
                ready = [t0]  # when the model was built: the images' rate is timed from there

                def batch(done: int, n: int, i=i, cfg=cfg, ready=ready) -> None:
                    if done == 0:
                        ready[0] = time.perf_counter()
                        return
                    elapsed = time.perf_counter() - ready[0]
                    notify("batch", i, len(configs), cfg, done=done, images=n, eta_s=elapsed / done * (n - done))

                try:
                    metrics = evaluate(cfg, folder, batch_size=batch_size, progress=batch)
                except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 -- failure isolation
                    reason = record_failure(store, trial_id, exc, ctrl_c.pressed, summary, cfg["model"])
                    if reason is None:
                        break
                    notify("failed", i, len(configs), cfg, reason=reason)
                    continue
                store.finish(trial_id, metrics)
                summary.done += 1
                summary.images += metrics["n_images"]
                notify("done", i, len(configs), cfg, metrics=metrics, seconds=time.perf_counter() - t0)
        except KeyboardInterrupt:  # between models, or as one began
            store.fail_running(INTERRUPTED)
            summary.interrupted = True
        finally:
            summary.wall_s = time.perf_counter() - start
    return summary


__all__ = ["STUDY", "ImageFolder", "scan_folder", "plan_eval", "published", "evaluate", "EvalSummary", "run_eval",
           "CROP"]
