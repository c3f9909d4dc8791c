"""Reference facts the reports draw beside a run: the ILSVRC history and the counting conventions.

Model figures (params, MACs, depth, published error) live on zoo's cards and are read from there;
this module holds only what belongs to no single model.

Reference: Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge (2015), and the
ILSVRC results pages 2010-2017 (image-net.org, "ILSVRC20xx results"), each entry with its paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from common.conventions import CONVENTIONS

__all__ = ["IlsvrcEntry", "ILSVRC", "HUMAN_TOP5", "CONVENTIONS", "COLUMN_UNITS", "ilsvrc_frame"]


@dataclass(frozen=True)
class IlsvrcEntry:
    """One ILSVRC classification entry: a winner (``place`` 1) or a runner-up (``place`` 2).

    ``layers`` is the number of weighted layers of the entry's deepest network, or None: "shallow"
    entries (hand-engineered features and a linear classifier, 2010-2011) have no learned deep
    layers, and for Trimps-Soushen (2016) no member depth is recorded here. ``ensemble`` marks an
    entry whose error comes from several networks averaged (``nets`` of them where the paper says);
    every deep entry of 2012-2017 is one, ResNet's 3.57 included (six models of different depth).
    """

    year: int
    entry: str
    top5_err: float  # percent
    layers: int | None
    kind: str = "deep"  # "deep" | "shallow" | "unrecorded" (deep, member depths not recorded)
    note: str = ""
    place: int = 1
    ensemble: bool = False
    nets: int | None = None


ILSVRC: tuple[IlsvrcEntry, ...] = (
    IlsvrcEntry(2010, "NEC-UIUC", 28.2, None, "shallow", "Lin et al."),
    IlsvrcEntry(2011, "XRCE", 25.8, None, "shallow", "Sanchez & Perronnin"),
    IlsvrcEntry(2012, "AlexNet", 16.4, 8, note="5 nets; 7 nets with extra data: 15.3", ensemble=True, nets=5),
    IlsvrcEntry(2013, "Clarifai", 11.7, 8, note="average of several models; ZFNet paper's own best: 14.8",
                ensemble=True),
    IlsvrcEntry(2014, "VGG", 7.3, 19, note="7 nets; second in 2014", place=2, ensemble=True, nets=7),
    IlsvrcEntry(2014, "GoogLeNet", 6.67, 22, note="7 nets", ensemble=True, nets=7),
    IlsvrcEntry(2015, "ResNet", 3.57, 152, note="6 nets of different depth, the deepest 152", ensemble=True, nets=6),
    IlsvrcEntry(2016, "Trimps-Soushen", 2.99, None, "unrecorded", "Shao et al.; a mix of networks", ensemble=True),
    IlsvrcEntry(2017, "SENet", 2.251, 152, note="ensemble of SENets", ensemble=True),
)


HUMAN_TOP5: float = 5.1
"""Human top-5 error on ILSVRC (%), Russakovsky et al."""


COLUMN_UNITS: dict[str, str] = {
    "id": "trial id in results.sqlite",
    "model": "registered zoo model name",
    "dataset": "dataset name",
    "study": "study the trial belongs to ('main', 'depth', ...)",
    "seed": "random seed",
    "status": "'done' | 'failed' | 'running'",
    "reason": "why a trial failed (text)",
    "width": "channel multiplier (1.0 = the paper's widths)",
    "input_size": "input side in pixels as configured",
    "input_shape": "H x W x C of the trained model's input",
    "epochs": "training epochs (configured)",
    "epochs_run": "epochs actually trained (count)",
    "batch_size": "batch size as used (images): training's; bench: the measured batch",
    "config_batch_size": "batch size as configured (images; empty = the recipe's)",
    "lr": "initial learning rate as used",
    "config_lr": "initial learning rate as configured (empty = the recipe's)",
    "optimizer": "optimizer ('adam' | 'sgd')",
    "schedule": "learning-rate schedule ('cosine' decay to 0, 'steps /10 at' fractions of training, "
                "'plateau' /10 when the validation loss stalls, 'exp' x0.96 every 8 epochs)",
    "momentum": "SGD momentum (0 for Adam)",
    "weight_decay": "weight decay (empty = none)",
    "augment": "training augmentation ('none', 'crop' = pad 4 + random crop, 'crop_flip' = also flip)",
    "recipe": "training recipe ('default' or the paper's)",
    "recipe_source": "where the recipe comes from (text)",
    "val_fraction": "share of the training split held out for validation (fraction 0-1)",
    "limit": "cap on images as configured (count; empty = none): per split for training, in all for eval",
    "strategy": "tf.distribute strategy (empty = none)",
    "classes": "number of classes of the dataset (count)",
    "data_channels": "channels of the dataset's images (1 = grey, copied to each input channel of a 3-channel model)",
    "n_train": "images the model trained on (count; the training split minus validation)",
    "n_val": "validation images, carved from the training split, stratified (count)",
    "n_test": "test images, evaluated once after training (count)",
    "top1_correct": "test images whose top-1 class is right (count)",
    "top1_err_lo": "lower end of the 95% Wilson interval of top1_err (fraction 0-1)",
    "top1_err_hi": "upper end of the 95% Wilson interval of top1_err (fraction 0-1)",
    "val_acc": "top-1 validation accuracy after training (fraction 0-1)",
    "val_err": "top-1 validation error after training (fraction 0-1)",
    "val_loss": "validation cross-entropy after training (nats per image)",
    "train_err_eval": "top-1 error on the training images in inference mode (fraction 0-1)",
    "train_eval_s": "time of the training-error pass (seconds)",
    "started_at": "trial start (ISO 8601, UTC)",
    "finished_at": "trial end (ISO 8601, UTC)",
    "params": "trainable parameters (count)",
    "non_trainable": "non-trainable parameters (count)",
    "macs": "multiply-accumulates of conv + dense layers per image (count)",
    "flops": "2 x macs per image (count)",
    "depth": "weighted layers on the longest path (count)",
    "top1_err": "top-1 test error (fraction 0-1)",
    "top5_err": "top-5 test error (fraction 0-1)",
    "top1_acc": "top-1 accuracy (fraction 0-1) on the test split; eval: on the folder's readable images",
    "top5_acc": "top-5 accuracy (fraction 0-1), likewise",
    "crop": "eval: the image protocol (shorter side resized to 256, the centre 224 x 224 crop)",
    "train_loss": "training cross-entropy of the last epoch, in training mode (nats per image)",
    "train_acc": "training accuracy of the last epoch, in training mode (fraction 0-1)",
    "train_s": "training wall time (seconds)",
    "train_img_per_s": "training throughput: training images per second over the epochs after the first (which "
                       "compiles), each epoch's validation pass left out; empty for a one-epoch trial",
    "infer_ms_b1": "inference latency at batch 1 (milliseconds per image)",
    "infer_ms_b32": "inference latency at batch 32 (milliseconds per image)",
    "peak_mem_mb": "peak resident memory of the process during the trial or bench row (MB of 2^20 bytes, as "
                   "every _mb column)",
    "num_replicas_in_sync": "replicas that trained the model (1 without a distribution strategy)",
    "weights_path": "trained model (.keras), relative to the run directory",
    "n_images": "eval: images evaluated (count)",
    "n_classes": "eval: classes among the evaluated images (count)",
    "unreadable": "eval: images of the folder that could not be read, left out of n_images (count)",
    "first_unreadable": "eval: the first of them (path)",
    "correct_top1": "eval: images whose label is the top-1 class (count)",
    "correct_top5": "eval: images whose label is among the top 5 classes (count)",
    "published_top1_acc": "eval: the weight source's published top-1 accuracy (fraction 0-1)",
    "published_top5_acc": "eval: the weight source's published top-5 accuracy (fraction 0-1)",
    "weights": "eval: the weights evaluated (a source name, or the file's absolute path)",
    "weights_sha256": "eval: sha256 of the weights file (empty for a named source, whose file the download checks)",
    "source": "eval: the weights' label (source name or file name)",
    "preprocessing": "eval: preprocessing of the images ('caffe': BGR minus the mean pixel; 'torch': [0, 1], "
                     "then mean / std per channel)",
    "protocol": "eval: the source's published evaluation protocol (text)",
    "measured": "eval: true when the accuracies were measured here",
    "eval_s": "eval: wall time of the evaluation (seconds)",
    "img_per_s": "eval: images per second over the evaluation; bench: batch / median time of a call",
    "mode": "bench: 'inference' (model(x, training=False)) or 'train' (one train_on_batch step)",
    "dtype": "bench: compute type ('float32', or 'bfloat16' under Keras' mixed_bfloat16 policy)",
    "time_ms": "bench: median time of one call on the batch (milliseconds per batch)",
    "latency_ms": "bench: time_ms / batch (milliseconds per image)",
    "gflops": "bench: flops_factor x 2 x MACs x batch / median time (GFLOP/s)",
    "flops_factor": "bench: forward passes' worth of FLOPs per call (1 inference, 3 a training step)",
    "peak_gflops": "bench: this machine's float32 tf.matmul rate, measured once per run (GFLOP/s)",
    "peak_numpy_gflops": "bench: numpy's rate for the same matmul, a cross-check (GFLOP/s)",
    "pct_peak": "bench: 100 x gflops / peak_gflops (percent)",
    "base_mem_mb": "bench: resident memory of the process before the batch size ran (MB)",
    "est_mem_mb": "bench: the pre-run estimate: weights + every layer's output for the batch (MB)",
    "build_s": "bench: time to build the model (seconds)",
    "repeats": "bench: timed calls (count)",
    "warmup": "bench: untimed calls before them (count)",
    "method": "bench: how the row was measured (text)",
    "load_avg": "bench: the machine's 1, 5 and 15 minute load averages at the measurement",
    "fp32_time_ms": "bench, bfloat16 rows: median time of the float32 twin on the same batch (milliseconds)",
    "speedup_vs_fp32": "bench, bfloat16 rows: fp32_time_ms / time_ms",
    "max_logit_change": "bench, bfloat16 rows: largest |bfloat16 logit - float32 logit|",
    "max_abs_logit_fp32": "bench, bfloat16 rows: largest |float32 logit| (the logits' scale)",
}
"""Every column of results.csv / results.json and its unit."""


def ilsvrc_frame() -> pd.DataFrame:
    """The ILSVRC history as a DataFrame: year, entry, top5_err (%), layers (nullable), kind, note."""
    df = pd.DataFrame([e.__dict__ for e in ILSVRC])
    df["layers"] = df["layers"].astype("Int64")
    return df
