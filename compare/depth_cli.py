"""``python -m compare depth ...``: the degradation experiment (plain vs residual nets at growing depth).

Trains ``plainN`` and ``resnetN`` at each depth with one recipe and the same seeds into
``OUT/results.sqlite`` (config ``study="depth"``; resumable like ``run``), writes the report
(``python -m reports OUT``, whose depth section and figures come from these trials) and prints
the per-depth errors and what they show.
"""

from __future__ import annotations

import argparse
import os

from common.text import text_table

from .depth import DEFAULT_BUDGET, DEFAULT_DEPTHS

DEFAULT_OUT = os.path.join("runs", "depth")
_BUDGET_TEXT = (f"Default budget (any of it can be overridden): width {DEFAULT_BUDGET['width']:g} (8-16-32 filters "
                f"instead of 16-32-64), at most {DEFAULT_BUDGET['limit']} images per split (--limit; 'all' = no cap), "
                f"{DEFAULT_BUDGET['epochs']} epochs, the default recipe (Adam 1e-3, cosine decay, batch 64, no "
                "augmentation), input 28x28 on mnist5k (grey repeated to RGB). On the embedded mnist5k the default "
                "study (depths 8-56, 12 trials, 232 steps per net) took 8 minutes on a 2-core Xeon "
                "(bench/RESULTS.md).")


def add_depth_parser(sub, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``depth`` on the ``compare`` subparsers."""
    from .run_cli import add_training_options

    p = sub.add_parser(
        "depth", parents=parents, help="plain vs residual nets at growing depth (the degradation experiment)",
        description="Train plainN and resnetN (CIFAR family, depth 6n+2) at each depth with one recipe and the "
                    "same seeds into OUT/results.sqlite (study 'depth'); re-running skips the trials already done. "
                    "Then write OUT/report.md with the error-vs-depth and training-curve figures. " + _BUDGET_TEXT)
    p.add_argument("--depths", default=",".join(map(str, DEFAULT_DEPTHS)),
                   help="comma-separated depths of the form 6n+2 (default %(default)s; 110 also available)")
    add_training_options(p, out_default=DEFAULT_OUT)
    budget_help = {"width": f"channel multiplier (default {DEFAULT_BUDGET['width']:g}: 8-16-32 filters)",
                   "epochs": f"epochs per trial (default {DEFAULT_BUDGET['epochs']})",
                   "limit": f"cap train/test images per split (default {DEFAULT_BUDGET['limit']}; 'all' = no cap)",
                   # run's help names its main preset, which the depth study does not have
                   "input_size": "square input side for every net (default: the dataset's image size, 28 on mnist5k)",
                   "batch_size": "batch size (default: the recipe's)",
                   "lr": "initial learning rate (default: the recipe's)",
                   "augment": "pad-crop(-flip) augmentation (default none)"}
    for action in p._actions:  # the budget's defaults, in the options' own help
        if action.dest in budget_help:
            action.help = budget_help[action.dest]
    p.set_defaults(func=cmd_depth)


def _table_lines(summary) -> list[str]:
    """The per-depth errors as a text table (percent)."""
    def pct(v) -> str:
        return "-" if v != v else f"{100 * v:.1f}%"

    head = ["depth", "plain train(last)", "plain train(infer)", "plain test",
            "resnet train(last)", "resnet train(infer)", "resnet test"]
    rows = []
    for d in sorted(summary["depth"].unique()):
        row = [str(int(d))]
        for kind in ("plain", "residual"):
            r = summary[(summary["depth"] == d) & (summary["kind"] == kind)]
            r = r.iloc[0] if not r.empty else None
            vals = [float("nan")] * 3 if r is None else [r["train_err"], r["train_err_eval"], r["test_err"]]
            row += [pct(v) for v in vals]
        rows.append(row)
    return text_table(head, rows)


def cmd_depth(args: argparse.Namespace) -> int:
    """Check the arguments (cheap), plan, run (with progress), report, then print the per-depth
    errors and the findings."""
    from . import depth
    from .run_cli import _int_list, connect_timeout, execute, settings_from, start_run
    from .store import STORE_NAME, Store

    settings = settings_from(args)
    seeds = _int_list(args.seeds, "--seeds")
    out = args.out or DEFAULT_OUT
    depths = depth.parse_depths(args.depths)
    start_run(settings, out, connect_timeout(args))  # --strategy multiworker: before anything runs TensorFlow
    configs = depth.plan(depths, seeds=seeds, download=args.download, **settings)

    def table() -> None:  # above the run's one-line summary (only the chief has the results)
        store_path = os.path.join(out, STORE_NAME)
        if not os.path.isfile(store_path):
            return
        with Store(store_path) as store:
            trials = store.trials(status=None)
        mine = {Store.key(c) for c in configs}
        summary = depth.summarise(trials[trials["key"].isin(mine)])
        if summary.empty:
            return
        print(f"Depth study: {summary['setting'].iloc[0]}; errors in % (train(last) = 1 - last epoch's "
              "training accuracy, training mode; train(infer) = training set, inference mode)")
        for line in _table_lines(summary):
            print("  " + line)
        for sentence in depth.findings(summary, "train_err_eval") + depth.findings(summary, "train_err", test=False):
            print("  " + sentence)

    return execute(configs, out, args, before_summary=table)
