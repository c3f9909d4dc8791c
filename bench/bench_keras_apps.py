"""Inference speed of our VGG-16 and ResNet-50 against keras.applications' (``weights=None``).

    python bench/bench_keras_apps.py [--models vgg16,resnet50] [--rounds 3] [--repeats 5] [--batch 16]
                                     [--call function|predict_on_batch] [--threads 2]

Both models of a pair are built once in this process and called the same way on the same batch
(``--batch`` random 224x224x3 images): ``function`` = ``tf.function(lambda x: model(x,
training=False))`` (the default), or ``model.predict_on_batch(x)``. Each round warms both up, then
times ``--repeats`` calls of ours and ``--repeats`` of the peer, the two alternating round by round
(ours first in even rounds, the peer first in odd ones); a round's figure is the median of its calls.
The ratio is peer time / our time, per round (the two measured back to back), and its median over
the rounds: above 1 we are faster. Target (issue 11):
>= 0.97. Prints the load average before and after, and a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PEERS = {"vgg16": "VGG16", "resnet50": "ResNet50"}


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="vgg16,resnet50", help="comma-separated, from " + ", ".join(PEERS))
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per model per round (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per model per round (default 2)")
    p.add_argument("--batch", type=int, default=16, help="images per call (default 16)")
    p.add_argument("--call", choices=("function", "predict_on_batch"), default="function")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="TensorFlow intra-op threads (default: all cores, %(default)s)")
    args = p.parse_args(argv)
    bad = [m for m in args.models.split(",") if m not in PEERS]
    if bad:
        p.error(f"unknown model(s) {', '.join(bad)}; accepted: {', '.join(PEERS)}")
    if min(args.rounds, args.repeats, args.batch) < 1 or args.warmup < 0:
        p.error("--rounds, --repeats and --batch must be >= 1, --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = _args(argv)
    from common.cli import quiet_tensorflow

    quiet_tensorflow()
    import numpy as np
    import keras
    import tensorflow as tf

    import zoo

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, python {platform.python_version()}, "
          f"tensorflow {tf.__version__}, keras {keras.__version__}, threads {args.threads}, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(unset)')}", flush=True)
    print(f"load before: {os.getloadavg()}", flush=True)
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (args.batch, 224, 224, 3)).astype("float32"))
    rows = []
    for name in args.models.split(","):
        keras.utils.set_random_seed(0)
        models = {"ours": zoo.build(name), "keras.applications": getattr(keras.applications, PEERS[name])(weights=None)}
        calls = {}
        for who, m in models.items():
            if args.call == "function":
                fn = tf.function(lambda t, m=m: m(t, training=False))
                calls[who] = lambda fn=fn: fn(x).numpy()
            else:
                calls[who] = lambda m=m: m.predict_on_batch(x)
        per = {who: [] for who in calls}
        for r in range(args.rounds):
            order = list(calls) if r % 2 == 0 else list(calls)[::-1]
            for who in order:
                for _ in range(args.warmup):
                    calls[who]()
                times = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    calls[who]()
                    times.append(time.perf_counter() - t)
                per[who].append(statistics.median(times))
            print(f"{name} round {r + 1}: ours {per['ours'][-1] * 1e3:.1f} ms, keras.applications "
                  f"{per['keras.applications'][-1] * 1e3:.1f} ms, load {os.getloadavg()[0]:.2f}", flush=True)
        ours, peer = statistics.median(per["ours"]), statistics.median(per["keras.applications"])
        ratios = [p / o for p, o in zip(per["keras.applications"], per["ours"])]
        rows.append((name, ours, peer, ratios))
        del models, calls
        keras.backend.clear_session()
    print(f"load after: {os.getloadavg()}")
    print(f"\n| model | ours ms/batch (median of rounds) | keras.applications ms/batch | ratio peer/ours (median of rounds) | "
          f"per-round ratios |\n|---|---:|---:|---:|---|")
    for name, ours, peer, ratios in rows:
        print(f"| {name} | {ours * 1e3:.1f} | {peer * 1e3:.1f} | **{statistics.median(ratios):.2f}** | "
              f"{' / '.join(f'{v:.2f}' for v in ratios)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
