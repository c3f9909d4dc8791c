"""``python -m compare bench ...``: inference speed and memory of the real networks at paper size.

Each model at its paper input and full width, random weights, one row per (model, batch size)
into ``OUT/results.sqlite`` (study ``bench``; resumable: a rerun skips the rows already done);
then the report (``python -m reports OUT``, with its bench section and figures). The method is
in :mod:`compare.bench`.
"""

from __future__ import annotations

import argparse
import os

from .bench import DEFAULT_BATCH_SIZES, DEFAULT_MODELS, DEFAULT_REPEATS, MIN_REPEATS

DEFAULT_OUT = os.path.join("runs", "bench")


def add_bench_parser(sub, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``bench`` on the ``compare`` subparsers."""
    p = sub.add_parser(
        "bench", parents=parents, help="inference time, throughput, memory and share of machine peak per model",
        description="Measure each model at its paper input (card input shape, full width, random weights): "
                    "forward time per batch (median of --repeats timed runs after warm-up), img/s, latency per "
                    "image, peak resident memory (each model in a fresh process), achieved GFLOP/s and its share "
                    "of this machine's float32 matmul peak (measured once per run). Rows go to OUT/results.sqlite "
                    "(study 'bench'); re-running skips the rows already done. Then OUT/report.md is written.")
    p.add_argument("--models", help="comma-separated names (python -m zoo list); default: "
                                    + ",".join(DEFAULT_MODELS))
    p.add_argument("--batch-sizes", help="comma-separated integers >= 1 (default "
                                         + ",".join(map(str, DEFAULT_BATCH_SIZES)) + ")")
    p.add_argument("--repeats", help=f"timed runs per row, median reported (integer >= {MIN_REPEATS}; "
                                     f"default {DEFAULT_REPEATS})")
    p.add_argument("--mem-limit", metavar="MB", help="memory in MB a batch may use (default: the kernel's "
                                                     "MemAvailable); a batch estimated above it is a failed row")
    p.add_argument("--train", action="store_true", help="time a training step (train_on_batch, SGD momentum 0.9, "
                                                        "random labels) instead of a forward pass; its rows are "
                                                        "separate (mode 'train') and count 3x the forward FLOPs")
    p.add_argument("--dtype", default="float32", help="float32 (default) or bfloat16: Keras' mixed_bfloat16 policy "
                                                       "with the weights of a float32 twin, timed beside it (speed-up "
                                                       "and largest logit change); inference only")
    p.add_argument("--out", default=None, help=f"run directory (default {DEFAULT_OUT})")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.set_defaults(func=cmd_bench)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left: estimating"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"about {m}m{s:02d}s left"


def _progress(event, i, n, cfg, **info) -> None:
    """One line per event, on stdout with the summary (errors alone go to stderr)."""
    if event == "peak":
        p = info["peak"]
        how = "measured" if info["measured"] else "from the store"
        print(f"fp32 matmul peak ({p['n']}x{p['n']}): {p['gflops']:.1f} GFLOP/s ({how})", flush=True)
        return
    tag = (f"[{i}/{n}] {cfg['model']} batch {cfg['batch_size']}" + (" (train)" if cfg.get("mode") == "train" else "")
           + (f" ({cfg['dtype']})" if cfg.get("dtype", "float32") != "float32" else ""))
    if event == "skip":
        line = f"{tag}: already done, skipped"
    elif event == "start":
        line = f"{tag}: measuring; {_eta(info.get('eta_s'))}"
    elif event == "measured":  # the process measures the matmul peak after its rows: GFLOP/s comes then
        m = info["metrics"]
        line = (f"{tag}: {m['time_ms']:.1f} ms/batch, {m['img_per_s']:.1f} img/s, {m['peak_mem_mb']:.0f} MB peak; "
                "GFLOP/s once the matmul peak is measured")
    elif event == "done":
        m = info["metrics"]
        line = f"{m['gflops']:.1f} GFLOP/s ({m['pct_peak']:.0f}% of peak)"
        line = (f"{tag}: {line}" if info.get("measured") else
                f"{tag}: {m['time_ms']:.1f} ms/batch, {m['img_per_s']:.1f} img/s, {m['peak_mem_mb']:.0f} MB peak, {line}")
        if "speedup_vs_fp32" in m:
            line += (f"; float32 {m['fp32_time_ms']:.1f} ms: speed-up {m['speedup_vs_fp32']:.2f}x, largest logit "
                     f"change {m['max_logit_change']:.3g} (logits up to {m['max_abs_logit_fp32']:.3g})")
    else:
        line = f"{tag}: FAILED: {info['reason']}"
    print(line, flush=True)


def cmd_bench(args: argparse.Namespace) -> int:
    """Check every argument (before any work), measure, write the report, print the summary line."""
    from common.cli import parse_positive

    from . import bench
    from .run_cli import check_out, finish

    models = bench.parse_models(args.models)
    sizes = bench.parse_batch_sizes(args.batch_sizes)
    repeats = bench.parse_repeats(args.repeats)
    mem_limit = parse_positive(args.mem_limit, "--mem-limit")
    out = args.out or DEFAULT_OUT
    check_out(out)
    configs = bench.plan(models, sizes, mode="train" if args.train else "inference", dtype=args.dtype)
    print(f"{len(configs)} row(s) ({len(models)} model(s) x batch sizes {','.join(map(str, sizes))}) -> {out}",
          flush=True)
    summary = bench.run(configs, out, repeats=repeats, mem_limit_mb=mem_limit, progress=_progress)
    return finish(summary, out, args)
