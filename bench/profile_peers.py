"""Where the time goes: self time per op type, Keras/TensorFlow against PyTorch, for one task of
bench/bench_torch.py (same models, data, threads, call paths).

    /tmp/tv/bin/python bench/profile_peers.py --side keras --task train:resnet20 [--steps 5] [--threads 2]
    /tmp/tv/bin/python bench/profile_peers.py --side torch --task train:resnet20

Keras: TensorFlow's profiler (``tf.profiler.experimental``) around ``--steps`` warm calls/steps,
read back with TensorFlow's own ``framework_op_stats`` converter; PyTorch: ``torch.profiler``
``key_averages()``. Prints the top op types by self time (ms per step, share of the total).
Any option of bench_torch.py's Keras side (``--jit``, ``--no-determinism``, ...) applies too.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_torch  # noqa: E402


def keras_profile(impl, kind, name, batch, steps):
    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    getattr(impl, kind)(name, batch, 1, 2)  # build, trace, warm up
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        getattr(impl, kind)(name, batch, 0, steps)
        tf.profiler.experimental.stop()
        data, ok = plugin.xspace_to_tools_data(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True),
                                               "framework_op_stats", {})
    table = json.loads(data)[0]
    cols = [c["id"] for c in table["cols"]]
    per = collections.Counter()
    for row in table["rows"]:
        r = dict(zip(cols, (c["v"] if c else None for c in row["c"])))
        if r["host_or_device"] == "Host" and r["type"] not in ("IDLE",):
            per[r["type"]] += r["total_self_time"] / 1e3
    return per


def torch_profile(impl, kind, name, batch, steps):
    from torch.profiler import ProfilerActivity, profile

    getattr(impl, kind)(name, batch, 1, 2)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        getattr(impl, kind)(name, batch, 0, steps)
    per = collections.Counter()
    for e in prof.key_averages():
        per[e.key] += e.self_cpu_time_total / 1e3
    return per


def main() -> int:
    p = bench_torch._parser()
    p.description = __doc__.split("\n\n")[0]
    p.add_argument("--side", choices=("keras", "torch"), required=True)
    p.add_argument("--task", choices=bench_torch.TASKS, required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args()
    if args.onednn == "unset":
        os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
    else:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = args.onednn
    kind, name = args.task.split(":")
    batch = args.train_batch if kind == "train" else args.batch
    impl = (bench_torch.TorchSide if args.side == "torch" else bench_torch.KerasSide)(args)
    per = (torch_profile if args.side == "torch" else keras_profile)(impl, kind, name, batch, args.steps)
    total = sum(per.values())
    print(f"{args.side} {args.task} batch {batch}: {json.dumps(impl.describe())}; load {os.getloadavg()[0]:.2f}")
    print(f"profiled self time: {total / args.steps:.1f} ms per step over {args.steps} steps\n")
    print("| op type | ms per step | share |\n|---|---:|---:|")
    for op, ms in per.most_common(args.top):
        print(f"| {op} | {ms / args.steps:.1f} | {ms / total:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
