"""Start-up time of the metadata commands, which must not import TensorFlow (target: < 1 s each),
against `python -c "import tensorflow"` measured in the same run, alternating, medians of ``--rounds``.

    python bench/bench_cli.py [--rounds 5]

Each command runs in a fresh process from the repository root; the figure is its wall time. The
script also records whether the process imported TensorFlow (it must not).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMMANDS = {
    "zoo list": ["-m", "zoo", "list"],
    "zoo show resnet50": ["-m", "zoo", "show", "resnet50"],
    "zoo reference": ["-m", "zoo", "reference"],
    "compare arith": ["-m", "compare", "arith", "--input", "7", "--filter", "3", "--stride", "3"],
    "compare --help": ["-m", "compare", "--help"],
    "compare run --epochs 2.5 (bad input)": ["-m", "compare", "run", "--models", "lenet5", "--epochs", "2.5"],
    "reports --help": ["-m", "reports", "--help"],
    "import tensorflow (reference)": ["-c", "import tensorflow"],
}

PROBE = ("import runpy, sys, atexit\n"
         "atexit.register(lambda: print('TF' if 'tensorflow' in sys.modules else 'NO-TF', file=sys.stderr))\n"
         "sys.argv = sys.argv[1:]\n"
         "if sys.argv[0] == '-m':\n"
         "    sys.argv = [sys.argv[1], *sys.argv[2:]]\n"
         "    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
         "else:\n"
         "    exec(sys.argv[1])\n")


def run(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - t


def imports_tensorflow(argv: list[str]) -> bool:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return proc.stderr.strip().splitlines()[-1] == "TF"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):  # alternate: one of each per round
        for name, argv in COMMANDS.items():
            times[name].append(run(argv))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| command | median s | runs (s) | imports TensorFlow |")
    print("|---|---:|---|---|")
    for name, argv in COMMANDS.items():
        runs = " / ".join(f"{t:.2f}" for t in times[name])
        print(f"| `{name}` | {statistics.median(times[name]):.2f} | {runs} | "
              f"{'yes' if imports_tensorflow(argv) else 'no'} |")


if __name__ == "__main__":
    main()
