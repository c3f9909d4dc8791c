"""Our models under Keras/TensorFlow against native PyTorch on the same networks, this CPU.

    /tmp/tv/bin/python bench/bench_torch.py [--tasks infer:vgg16,infer:resnet18,train:resnet20]
        [--rounds 3] [--repeats 5] [--threads 2] [--python PYTHON]
        [--jit] [--steps-per-execution N] [--no-determinism] [--dtype float32|bfloat16] [--onednn 0|1|unset]

Two worker processes (``--python``, default this interpreter; it needs tensorflow, torch and
torchvision, e.g. the test venv), one per framework, each built once and kept warm; the main
process sends them the same task in turn, alternating which goes first round by round, so only
one framework runs at a time. Both get ``--threads`` intra-op threads (TensorFlow also as many
inter-op threads; PyTorch's inter-op pool is left at its default).

- ``infer:vgg16``, ``infer:resnet18``: batch ``--batch`` (16) of 224x224x3 random images.
  Keras: ``tf.function(lambda x: model(x, training=False))`` on ``zoo.build(name,
  classifier_activation=None)`` (NHWC); PyTorch: ``torchvision.models.<name>(weights=None).eval()``
  under ``torch.inference_mode()`` (NCHW). Per round: ``--warmup`` untimed calls, then the median of
  ``--repeats`` timed calls.
- ``train:resnet20``: CIFAR shape 32x32x3, 10 classes, batch ``--train-batch`` (128), SGD momentum
  0.9, weight decay 1e-4, lr 0.1 (the paper recipe of compare.recipes), cross-entropy, accuracy
  counted. Keras: the runner's route (compare/train.py): ``zoo.build("resnet20")``, ``compile``
  with the recipe's optimizer and schedule, ``fit`` on ``compare.data.make_pipeline`` (seeded
  shuffled gather from in-memory tensors) after ``enable_op_determinism()``; one round = one
  ``fit`` epoch of ``--repeats`` steps after ``--warmup`` steps, timed from epoch begin to end.
  PyTorch: the ResNet-20 below (option-A shortcuts, 269,722 trainable parameters like
  ``zoo.card("resnet20")``), the same steps on shuffled index batches of an in-memory tensor.
  The figure is seconds per step.

The ratio is PyTorch time / Keras time per round, median over rounds: above 1 we are faster.
Prints the load average before and after and a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ("infer:vgg16", "infer:resnet18", "train:resnet20")
N_TRAIN = 2560  # in-memory training images (20 batches of 128)


# -- the PyTorch side -----------------------------------------------------------------------------

def torch_resnet20():
    """CIFAR ResNet-20 (He et al. 2015, section 4.2) with option-A shortcuts, PyTorch defaults for
    BatchNorm (momentum 0.1 = Keras 0.9, epsilon 1e-5); He-uniform conv init like the zoo."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.stride, self.extra = stride, cout - cin

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            if self.stride > 1 or self.extra:  # option A: subsample, zero-pad the new channels
                x = x[:, :, ::self.stride, ::self.stride]
                lo = self.extra // 2
                x = F.pad(x, (0, 0, 0, 0, lo, self.extra - lo))
            return F.relu(y + x)

    class ResNet20(nn.Module):
        def __init__(self, classes=10, n=3):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            blocks, cin = [], 16
            for i, width in enumerate((16, 32, 64)):
                for b in range(n):
                    blocks.append(Block(cin, width, 2 if (i > 0 and b == 0) else 1))
                    cin = width
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(64, classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")

        def forward(self, x):
            x = self.blocks(F.relu(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return ResNet20()


class TorchSide:
    def __init__(self, opts):
        import torch

        torch.set_num_threads(opts.threads)
        torch.manual_seed(0)
        self.torch, self.opts, self.cache = torch, opts, {}

    def describe(self):
        t = self.torch
        return {"torch": t.__version__, "threads": t.get_num_threads(), "interop_threads": t.get_num_interop_threads(),
                "mkldnn": bool(t.backends.mkldnn.is_available())}

    def infer(self, name, batch, warmup, repeats):
        torch = self.torch
        if name not in self.cache:
            import torchvision

            model = getattr(torchvision.models, name)(weights=None).eval()
            x = torch.randn(batch, 3, 224, 224)
            self.cache[name] = model, x
        model, x = self.cache[name]
        times = []
        with torch.inference_mode():
            for i in range(warmup + repeats):
                t = time.perf_counter()
                model(x)
                if i >= warmup:
                    times.append(time.perf_counter() - t)
        return times

    def train(self, name, batch, warmup, repeats):
        torch = self.torch
        if name not in self.cache:
            import torch.nn.functional as F

            model = torch_resnet20().train()
            n = sum(p.numel() for p in model.parameters() if p.requires_grad)
            g = torch.Generator().manual_seed(0)
            x = torch.randn(N_TRAIN, 3, 32, 32, generator=g)
            y = torch.randint(0, 10, (N_TRAIN,), generator=g)
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
            state = {"perm": torch.randperm(N_TRAIN, generator=g), "pos": 0, "correct": torch.zeros((), dtype=torch.long)}

            def step():
                if state["pos"] + batch > N_TRAIN:
                    state["perm"], state["pos"] = torch.randperm(N_TRAIN, generator=g), 0
                idx = state["perm"][state["pos"]:state["pos"] + batch]
                state["pos"] += batch
                xb, yb = x[idx], y[idx]
                out = model(xb)
                loss = F.cross_entropy(out, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                state["correct"] += (out.detach().argmax(1) == yb).sum()
                return loss

            self.cache[name] = step, n
        step, n = self.cache[name]
        for _ in range(warmup):
            step()
        t = time.perf_counter()
        for _ in range(repeats):
            loss = step()
        float(loss.detach())
        return {"step_s": (time.perf_counter() - t) / repeats, "params": n}


# -- the Keras side -------------------------------------------------------------------------------

class KerasSide:
    def __init__(self, opts):
        sys.path.insert(0, ROOT)
        from common.cli import quiet_tensorflow

        quiet_tensorflow()
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(opts.threads)
        tf.config.threading.set_inter_op_parallelism_threads(opts.threads)
        import keras

        if opts.dtype != "float32":
            keras.mixed_precision.set_global_policy(f"mixed_{opts.dtype}")
        self.tf, self.keras, self.opts, self.cache = tf, keras, opts, {}

    def describe(self):
        tf, keras = self.tf, self.keras
        return {"tensorflow": tf.__version__, "keras": keras.__version__,
                "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
                "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset)"),
                "jit": self.opts.jit, "steps_per_execution": self.opts.steps_per_execution,
                "determinism": not self.opts.no_determinism, "dtype": self.opts.dtype}

    def infer(self, name, batch, warmup, repeats):
        tf = self.tf
        if name not in self.cache:
            import numpy as np
            import zoo

            self.keras.utils.set_random_seed(0)
            model = zoo.build(name, classifier_activation=None)
            fn = tf.function(lambda t: model(t, training=False), jit_compile=bool(self.opts.jit))
            x = tf.constant(np.random.default_rng(0).standard_normal((batch, 224, 224, 3)).astype("float32"))
            self.cache[name] = model, fn, x
        _, fn, x = self.cache[name]
        times = []
        for i in range(warmup + repeats):
            t = time.perf_counter()
            fn(x).numpy()
            if i >= warmup:
                times.append(time.perf_counter() - t)
        return times

    def train(self, name, batch, warmup, repeats):
        keras, tf = self.keras, self.tf
        if name not in self.cache:
            import numpy as np
            import zoo
            from compare import data as datalib
            from compare.recipes import get_recipe, make_optimizer

            keras.utils.set_random_seed(0)
            if not self.opts.no_determinism:
                tf.config.experimental.enable_op_determinism()
            model = zoo.build(name, input_shape=(32, 32, 3), classes=10)
            recipe = get_recipe("paper", zoo.card(name).family)
            model.compile(optimizer=make_optimizer(recipe, recipe.lr, 64_000), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"], jit_compile=bool(self.opts.jit),
                          steps_per_execution=self.opts.steps_per_execution)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((N_TRAIN, 32, 32, 3)).astype("float32")
            y = rng.integers(0, 10, N_TRAIN).astype("int32")
            ds = datalib.make_pipeline(x, y, batch, shuffle=True, seed=0).repeat()
            times = []

            class Timer(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    self.t = time.perf_counter()

                def on_epoch_end(self, epoch, logs=None):
                    times.append(time.perf_counter() - self.t)

            n = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            self.cache[name] = model, ds, times, Timer(), n
        model, ds, times, timer, n = self.cache[name]
        spe = self.opts.steps_per_execution
        if warmup:
            model.fit(ds, epochs=1, steps_per_epoch=max(warmup, spe), verbose=0)
        steps = -(-repeats // spe) * spe
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
        return {"step_s": times[-1] / steps, "params": n}


def worker(side: str, opts) -> int:
    impl = (TorchSide if side == "torch" else KerasSide)(opts)
    print(json.dumps({"ready": impl.describe()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        kind, name = req["task"].split(":")
        try:
            out = getattr(impl, kind)(name, req["batch"], req["warmup"], req["repeats"])
            print(json.dumps({"ok": out}), flush=True)
        except Exception as e:  # reported to the main process, which stops
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
    return 0


# -- the main process -----------------------------------------------------------------------------

class Worker:
    def __init__(self, side, args, passthrough):
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("TF_ENABLE_ONEDNN_OPTS", None)
        if args.onednn != "unset":
            env["TF_ENABLE_ONEDNN_OPTS"] = args.onednn
        self.proc = subprocess.Popen([args.python, os.path.abspath(__file__), "--worker", side, *passthrough],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {side} worker did not start ({args.python})")
        self.info = json.loads(line)["ready"]

    def ask(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise SystemExit(f"{req['task']}: {answer['error']}")
        return answer["ok"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated, from " + ", ".join(TASKS))
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls (inference) or steps (training) per round")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls or steps per round (default 2)")
    p.add_argument("--batch", type=int, default=16, help="inference batch (default 16)")
    p.add_argument("--train-batch", type=int, default=128, help="training batch (default 128)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads of both (default: all cores)")
    p.add_argument("--python", default=sys.executable, help="interpreter of both workers (default: this one)")
    p.add_argument("--jit", action="store_true", help="Keras side: XLA (tf.function / compile jit_compile=True)")
    p.add_argument("--steps-per-execution", type=int, default=1, help="Keras side, training (default 1)")
    p.add_argument("--no-determinism", action="store_true",
                   help="Keras side, training: skip the runner's enable_op_determinism()")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                   help="Keras side: mixed_bfloat16 policy when bfloat16")
    p.add_argument("--onednn", choices=("0", "1", "unset"), default="1",
                   help="Keras side: TF_ENABLE_ONEDNN_OPTS (default 1, the runner's; unset = TensorFlow's choice)")
    p.add_argument("--worker", choices=("keras", "torch"), help=argparse.SUPPRESS)
    return p


def main(argv=None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args)
    tasks = args.tasks.split(",")
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        p.error(f"unknown task(s) {', '.join(bad)}; accepted: {', '.join(TASKS)}")
    if min(args.rounds, args.repeats, args.batch, args.train_batch, args.threads, args.steps_per_execution) < 1:
        p.error("--rounds, --repeats, --batch, --train-batch, --threads, --steps-per-execution must be >= 1")
    passthrough = ["--threads", str(args.threads), "--steps-per-execution", str(args.steps_per_execution),
                   "--dtype", args.dtype] + (["--jit"] if args.jit else []) + (
                   ["--no-determinism"] if args.no_determinism else [])
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, {platform.platform()}", flush=True)
    load0 = os.getloadavg()
    print(f"load before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}", flush=True)
    sides = {"keras": Worker("keras", args, passthrough), "torch": Worker("torch", args, passthrough)}
    for side, w in sides.items():
        print(f"{side}: {json.dumps(w.info)}", flush=True)
    results = {t: {"keras": [], "torch": []} for t in tasks}
    try:
        for r in range(args.rounds):
            for task in tasks:
                train = task.startswith("train")
                req = {"task": task, "batch": args.train_batch if train else args.batch, "warmup": args.warmup,
                       "repeats": args.repeats}
                order = ["keras", "torch"] if r % 2 == 0 else ["torch", "keras"]
                for side in order:
                    out = sides[side].ask(req)
                    if train:
                        results[task][side].append(out["step_s"])
                        results[task].setdefault("params", {})[side] = out["params"]
                    else:
                        results[task][side].append(statistics.median(out))
                k, t = results[task]["keras"][-1], results[task]["torch"][-1]
                print(f"round {r + 1} {task}: keras {k * 1e3:.1f} ms, torch {t * 1e3:.1f} ms, ratio {t / k:.2f}, "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        for w in sides.values():
            w.close()
    load1 = os.getloadavg()
    print(f"load after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print("\n| task | batch | Keras ms (median of rounds) | PyTorch ms | ratio PyTorch/Keras | per-round ratios |")
    print("|---|---:|---:|---:|---:|---|")
    for task, res in results.items():
        k, t = statistics.median(res["keras"]), statistics.median(res["torch"])
        ratios = [b / a for a, b in zip(res["keras"], res["torch"])]
        batch = args.train_batch if task.startswith("train") else args.batch
        print(f"| {task} | {batch} | {k * 1e3:.1f} | {t * 1e3:.1f} | **{statistics.median(ratios):.2f}** | "
              f"{' / '.join(f'{v:.2f}' for v in ratios)} |")
        if "params" in res:
            print(f"trainable params {task}: {res['params']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
