"""Benchmark compare.profile: every registered model at its default input, and against TensorFlow's profiler.

    python bench/bench_profile.py                 # print the results as markdown
    python bench/bench_profile.py --write         # also replace the section in bench/RESULTS.md
    python bench/bench_profile.py --models 'vgg*' --skip-tf

Seconds are wall time beyond the build (the model is built first, untimed). The TensorFlow route
(compare.tfprof: trace at batch 1, freeze, tf.compat.v1.profiler float_ops) runs side by side on
VGG-16 and ResNet-50 in the same process; its conv + dense MACs must equal compare.profile's.
Not run by CI.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

HEADING = "## compare.profile (issue 3)"
TF_MODELS = ("vgg16", "resnet50")


def _timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _machine() -> str:
    import keras
    import tensorflow as tf

    cpu = platform.processor() or "cpu"
    if os.path.exists("/proc/cpuinfo"):
        names = [ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    gpus = len(tf.config.list_physical_devices("GPU"))
    return (f"{os.cpu_count()} cores (nproc), {gpus or 'no'} GPU; {cpu}; {platform.platform()}; "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}")


def run(pattern: str, repeats: int, skip_tf: bool) -> list[str]:
    import keras

    import compare
    import zoo
    from compare import tfprof

    lines = [f"Every registered model at its default input; profile s = median of {repeats} runs of "
             "compare.profile on the built model (the build is not timed in it).", "",
             "| model | input | build s | profile s | layers | params | MACs | reference MACs |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    profile_seconds: dict[str, float] = {}
    for name in zoo.list_models(pattern):
        card = zoo.card(name)
        t = time.perf_counter()
        model = zoo.build(name)
        build = time.perf_counter() - t
        seconds, df = _timed(lambda: compare.profile(model), repeats)
        total = compare.profile.totals(df)
        profile_seconds[name] = seconds
        ok = "-" if card.macs is None else ("equal" if total["macs"] == card.macs else f"DIFFERS ({card.macs:,})")
        lines.append(f"| {name} | {'x'.join(map(str, card.input_shape))} | {build:.2f} | {seconds:.4f} | "
                     f"{total['layers']} | {total['trainable']:,} | {total['macs']:,} | {ok} |")
        print(lines[-1], file=sys.stderr, flush=True)
        del model, df
        keras.backend.clear_session()
        gc.collect()
    if skip_tf:
        return lines
    runs = max(repeats, 5)
    lines += ["", f"Side by side in the same process on the same built model: compare.profile (median of {runs} "
              "runs) against the TensorFlow-profiler route, compare.tfprof (one run: trace at batch 1, freeze the "
              "variables, tf.compat.v1.profiler float_ops / 2). Target: at least 20x faster, same totals.", "",
              "| model | compare.profile s | TF profiler route s | ratio | profile MACs | TF MACs (float_ops / 2) |",
              "|---|---:|---:|---:|---:|---:|"]
    ratios, same = [], True
    for name in TF_MODELS:
        model = zoo.build(name)
        mine, df = _timed(lambda: compare.profile(model), runs)
        theirs, tf_macs = _timed(lambda: tfprof.total_conv_dense_macs(model), 1)
        macs = int(compare.profile.totals(df)["macs"])
        ratios.append(theirs / mine)
        same = same and macs == tf_macs
        lines.append(f"| {name} | {mine:.4f} | {theirs:.2f} | {theirs / mine:,.0f}x | {macs:,} | {tf_macs:,} |"
                     + ("" if macs == tf_macs else " DIFFERENT TOTALS"))
        print(lines[-1], file=sys.stderr, flush=True)
        del model, df
        keras.backend.clear_session()
        gc.collect()
    lines += ["", f"Result: at least {min(ratios):,.0f}x faster than the TensorFlow-profiler route "
              f"(target 20x: {'met' if min(ratios) >= 20 else 'NOT met'}); conv + dense MACs "
              f"{'identical' if same else 'DIFFERENT'}."]
    return lines


def write_section(path: str, text: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, leaving the others alone."""
    old = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    start = old.find(HEADING)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(HEADING))
        new = old[:start] + text + ("" if end < 0 else "\n" + old[end + 1:])
    with open(path, "w") as fh:
        fh.write(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="*", help="fnmatch pattern of registered names (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="profile runs per model, median reported")
    parser.add_argument("--skip-tf", action="store_true", help="skip the TensorFlow-profiler comparison")
    parser.add_argument("--write", action="store_true", help="write the section into bench/RESULTS.md")
    args = parser.parse_args(argv)

    from common.cli import quiet_tensorflow

    quiet_tensorflow(False)
    command = "python bench/bench_profile.py" + (" --write" if args.write else "")
    body = run(args.models, args.repeats, args.skip_tf)
    text = "\n".join([HEADING, "", f"Machine: {_machine()}; shared with other jobs, so times are noisy.", "",
                      f"Command: `{command}` (run {time.strftime('%Y-%m-%d')}).", "", *body, ""])
    print(text)
    if args.write:
        write_section(os.path.join(ROOT, "bench", "RESULTS.md"), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
