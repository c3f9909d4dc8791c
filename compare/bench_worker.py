"""The measuring process of ``python -m compare bench`` (see :mod:`compare.bench` for the method).

Reads one JSON request on stdin and writes JSON lines on stdout (its protocol with the parent):

- ``{"kind": "peak", "n": N, "repeats": R}`` -> ``{"event": "peak", "peak": {...}}``;
- ``{"kind": "model", "model": NAME, "batch_sizes": [...], "repeats": R, "warmup": W,
  "mem_limit_mb": MB or null, "mode": "inference" or "train", "dtype": "float32" or "bfloat16", "peak": {"n": N, "repeats": R} or absent}`` -> ``{"event": "ready", ...}``, then per batch size
  ``{"event": "start", "batch_size": B}`` and ``{"event": "row", "batch_size": B, "metrics": {...}}``
  or ``{"event": "fail", "batch_size": B, "reason": "..."}``; then, when asked, the peak event
  (measured after the rows, in the same process: one process start less).

A process entry point, not library code: run only by :mod:`compare.bench`.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time


def _emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _available_mb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _peak(request: dict) -> None:
    """Measure the float32 matmul rate and emit it (``{"event": "peak", "peak": {...}}``); numpy's
    rate for the same product is kept beside it as a cross-check (``numpy_gflops``)."""
    import numpy as np
    import tensorflow as tf

    n, repeats = int(request["n"]), int(request["repeats"])
    a = tf.random.stateless_normal((n, n), seed=(1, 2), dtype=tf.float32)
    b = tf.random.stateless_normal((n, n), seed=(3, 4), dtype=tf.float32)
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    for _ in range(2):
        matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        matmul(a, b).numpy()
        times.append(time.perf_counter() - t)
    med = _median(times)
    del a, b
    x = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)  # the same product in numpy's BLAS
    x @ x
    blas = []
    for _ in range(repeats):
        t = time.perf_counter()
        x @ x
        blas.append(time.perf_counter() - t)
    _emit(event="peak", peak={"gflops": 2.0 * n ** 3 / med / 1e9, "n": n, "dtype": "float32",
                              "best_gflops": 2.0 * n ** 3 / min(times) / 1e9,
                              "numpy_gflops": 2.0 * n ** 3 / _median(blas) / 1e9,
                              "timings_ms": [t * 1000 for t in times], "time_ms": med * 1000,
                              "load_avg": list(os.getloadavg()),
                              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _activation_bytes(model) -> int:
    """Bytes of every layer's output for one image (float32), summed: an upper bound on the live
    activations of a forward pass."""
    total = 0
    for layer in model.layers:
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        for out in outputs:
            shape = getattr(out, "shape", None)
            if shape is None:
                continue
            total += 4 * math.prod(int(d) for d in shape[1:] if d is not None)
    return total


def _compare_fp32(forward, forward32, x, warmup: int, repeats: int, median_s: float) -> dict:
    """The float32 model beside the bfloat16 one (same weights, same batch): its median time, the
    speed-up (float32 time / bfloat16 time) and the largest absolute change of a logit."""
    import numpy as np

    for _ in range(warmup):
        forward32(x).numpy()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        forward32(x).numpy()
        times.append(time.perf_counter() - t)
    ref = forward32(x).numpy().astype(np.float64)
    low = np.asarray(forward(x).numpy(), dtype=np.float64)
    return {"fp32_time_ms": _median(times) * 1000, "fp32_timings_ms": [s * 1000 for s in times],
            "speedup_vs_fp32": _median(times) / median_s, "max_logit_change": float(np.max(np.abs(low - ref))),
            "max_abs_logit_fp32": float(np.max(np.abs(ref)))}


def _model(request: dict) -> None:
    t0 = time.perf_counter()
    import numpy as np
    import tensorflow as tf

    import zoo
    from compare.train import _peak_mb, _peak_reset, versions

    name = request["model"]
    card = zoo.card(name)
    tf.random.set_seed(0)
    t = time.perf_counter()
    bf16 = request.get("dtype") == "bfloat16"
    shape = dict(input_shape=tuple(card.input_shape), classes=card.classes, width=1.0)
    if bf16:  # logits (no softmax), so that the change of the logits can be measured
        import keras

        reference = zoo.build(name, classifier_activation=None, **shape)
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            model = zoo.build(name, classifier_activation=None, **shape)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        model.set_weights(reference.get_weights())
        forward32 = tf.function(lambda x: reference(x, training=False))
    else:
        model = zoo.build(name, **shape)
    build_s = time.perf_counter() - t
    params = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    weight_mb = 4 * sum(int(np.prod(w.shape)) for w in model.weights) / 2 ** 20
    act_mb = _activation_bytes(model) / 2 ** 20
    train = request.get("mode") == "train"
    if train:
        import keras

        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy")

        def step(x, y):
            return np.asarray(model.train_on_batch(x, y))
    else:
        forward = tf.function(lambda x: model(x, training=False))

        def step(x, y):
            return forward(x).numpy()
    info = {**versions(), "cpu_model": _cpu_model()}
    _emit(event="ready", startup_s=time.perf_counter() - t0, build_s=build_s)
    warmup, repeats = int(request["warmup"]), int(request["repeats"])
    limit = request.get("mem_limit_mb")
    for b in request["batch_sizes"]:
        _emit(event="start", batch_size=b)
        available = float(limit) if limit is not None else _available_mb()
        # + the input batch, counted with the outputs; training keeps gradients and momentum, and
        # the activations for the backward pass beside their gradients
        estimate = 3 * weight_mb + 2 * (b + 1) * act_mb if train else weight_mb + (b + 1) * act_mb
        if available is not None and estimate > available:
            _emit(event="fail", batch_size=b, reason=(
                f"estimated {estimate:,.1f} MB (weights {weight_mb:,.1f} MB" + (" x 3" if train else "") +
                f" + activations {act_mb:,.2f} MB per image x (batch {b} + 1)" + (" x 2" if train else "") +
                f") exceeds the {available:,.1f} MB " +
                ("given by --mem-limit" if limit is not None else "of memory available") + "; not run"))
            continue
        try:
            x = tf.random.stateless_normal((b, *card.input_shape), seed=(b, 7), dtype=tf.float32)
            y = tf.random.stateless_uniform((b,), seed=(b, 8), maxval=card.classes, dtype=tf.int32)
            _peak_reset()
            base = _rss_mb()
            for _ in range(warmup):
                step(x, y)
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                step(x, y)
                times.append(time.perf_counter() - t)
            peak = _peak_mb()
            extra = _compare_fp32(forward, forward32, x, warmup, repeats, _median(times)) if bf16 else {}
            del x, y
        except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
            msg = " ".join(str(exc).split())[:300] or "no message"
            _emit(event="fail", batch_size=b, reason=f"out of memory at batch {b}: {type(exc).__name__}: {msg}")
            continue
        _emit(event="row", batch_size=b, metrics={
            "time_ms": _median(times) * 1000, "timings_ms": [s * 1000 for s in times], "warmup": warmup,
            "peak_mem_mb": peak, "base_mem_mb": base, "est_mem_mb": round(estimate, 1), "params": params,
            "build_s": round(build_s, 3), "load_avg": list(os.getloadavg()), "versions": info, **extra})
    if request.get("peak"):  # the run's matmul peak, measured after the rows (their memory peaks stay clean)
        _peak(request["peak"])


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    request = json.loads(sys.stdin.read())
    from common.cli import quiet_tensorflow

    quiet_tensorflow(False)
    if request["kind"] == "peak":
        _peak(request)
    else:
        _model(request)
    return 0


if __name__ == "__main__":
    sys.exit(main())
