"""Validation sweep of the main job's budgets (issue 12): each chosen model at its ``MAIN_JOB``
settings with ``--extra-epochs`` more epochs, into a results store; the validation accuracy of each
trial is printed (the test split is stored but not looked at). The choice rule and the figures are
in bench/RESULTS.md ("Validation sweep of the five kept budgets").

    python bench/sweep_main_budgets.py [--models alexnet,zfnet,vgg11,resnet18,resnet20]
                                       [--extra-epochs 2] [--out /tmp/sweep/out]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import quiet_tensorflow  # noqa: E402

KEPT = ("alexnet", "zfnet", "vgg11", "resnet18", "resnet20")  # issue 4's budgets, kept by issue 12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(KEPT))
    parser.add_argument("--extra-epochs", type=int, default=2)
    parser.add_argument("--out", default="/tmp/sweep/out")
    args = parser.parse_args()
    quiet_tensorflow()
    from compare.runner import MAIN_JOB, plan, run

    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    jobs = {job["model"]: job for job in MAIN_JOB}
    unknown = [m for m in wanted if m not in jobs]
    if unknown:
        print(f"error: {', '.join(unknown)} not in the main job ({', '.join(jobs)})", file=sys.stderr)
        return 2
    configs = []
    for model in wanted:
        settings = {k: v for k, v in jobs[model].items() if k != "model"}
        settings["epochs"] = jobs[model]["epochs"] + args.extra_epochs
        configs += plan([model], **settings)

    def progress(event, i, n, cfg, **info):
        if event == "done":
            m = info["metrics"]
            print(f"{cfg['model']}: {cfg['epochs']} epochs, validation {m['val_acc'] * 100:.2f}% "
                  f"({round((1 - m['val_acc']) * m['n_val'])} of {m['n_val']} wrong), {info['seconds']:.0f} s", flush=True)

    start = time.perf_counter()
    summary = run(configs, args.out, progress=progress)
    print(f"{summary.line()} ({time.perf_counter() - start:.0f} s)")
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
