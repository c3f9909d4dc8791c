"""``python -m compare`` end to end: what the bare command plans (the main job, without training)
and a tiny real ``python -m compare run`` handing its results store to ``reports``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _independent import recount  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# The main job as the README states it: model, width, configured input size, epochs, and the input
# each model gets from the 28x28 grey mnist5k digits (max(native, the model's minimum) or the
# configured size; grey -> RGB for the RGB-designed nets).
README_MAIN_JOB = [
    ("lenet5", 1.0, 32, 20, (32, 32, 1)),
    ("alexnet", 0.25, None, 6, (67, 67, 3)),
    ("zfnet", 0.25, None, 6, (47, 47, 3)),
    ("vgg11", 0.25, None, 5, (32, 32, 3)),
    ("googlenet", 0.25, None, 10, (65, 65, 3)),
    ("resnet18", 0.25, 56, 6, (56, 56, 3)),
    ("resnet20", 0.5, None, 6, (28, 28, 3)),
]


def test_bare_command_plans_the_main_job(monkeypatch, tmp_path):
    """`python -m compare` (no arguments) plans exactly MAIN_JOB on mnist5k, seed 0, into runs/main."""
    import zoo
    from compare import run_cli
    from compare.__main__ import main
    from compare.runner import MAIN_JOB
    from compare.train import cached_dataset, model_input_shape

    captured = {}

    def plan_only(configs, out, args):  # stands in for the training and the report
        captured.update(configs=configs, out=out, no_report=args.no_report)
        return 0

    monkeypatch.setattr(run_cli, "execute", plan_only)
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    configs = captured["configs"]
    assert captured["out"] == os.path.join("runs", "main") and captured["no_report"] is False
    # the planned trials are MAIN_JOB's entries, every other setting at its default
    defaults = dict(dataset="mnist5k", seed=0, width=1.0, input_size=None, epochs=5, batch_size=None,
                    recipe="default", lr=None, augment=None, limit=None, strategy=None, study="main",
                    val_fraction=0.1)
    assert configs == [{**defaults, **entry} for entry in MAIN_JOB]
    # ... which are the README's: models, widths, input sizes and epochs
    assert [(c["model"], c["width"], c["input_size"], c["epochs"]) for c in configs] == [
        row[:4] for row in README_MAIN_JOB]
    assert [(c["batch_size"], c["lr"], c["augment"]) for c in configs] == [
        (32, 0.002, "crop"), *[(None, None, None)] * 5, (128, 0.002, None)]
    # the input each trial builds its model for
    ds = cached_dataset("mnist5k", 0, None)
    shapes = []
    for c in configs:
        card = zoo.card(c["model"])
        shapes.append(tuple(model_input_shape(card, ds.shape, c["input_size"])))
    assert shapes == [row[4] for row in README_MAIN_JOB]
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written


def _md_table(md: str, title_start: str) -> list[dict[str, str]]:
    """Rows (header -> cell) of the Markdown table under the heading that starts with ``title_start``."""
    block = md.split(f"### {title_start}", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return [dict(zip(cells[0], row)) for row in cells[2:]]


def test_run_hands_its_store_to_reports(tmp_path):
    """A tiny real `python -m compare run` ends by writing the report from its store (through
    `python -m reports`): the report names the trial's model with its exact size and error."""
    from compare.store import Store

    out = tmp_path / "digits"
    # lenet5 at --input-size 32 (the paper's input; without it the 8x8 digits go to lenet5's minimum 16x16)
    cmd = [sys.executable, "-m", "compare", "run", "--models", "lenet5", "--dataset", "digits", "--input-size", "32",
           "--epochs", "1", "--quiet", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-1000:] + proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"1 trained, 0 already done, 0 failed of 1 trial\(s\) in \d+ s; results in "
                        rf"{re.escape(str(out / 'results.sqlite'))}; report {re.escape(str(out / 'report.md'))} "
                        r"\(\d+ s\)", last), last
    for name in ("report.md", "report.html", "results.csv", "results.json"):
        assert (out / name).is_file(), name
    md = (out / "report.md").read_text()
    assert md.startswith("# Report: digits\n\n1 trial: 1 done, 0 failed. 1 model; datasets: digits; seeds: 0.")
    rows = _md_table(md, "digits: one row per model")
    assert len(rows) == 1
    row = rows[0]
    # LeNet-5 at 32x32x1, 10 classes: 156 + 2,416 + 48,120 + 10,164 + 850 params;
    # 117,600 + 240,000 + 48,000 + 10,080 + 840 MACs
    assert {k: row[k] for k in ("model", "width", "input", "seeds", "params", "non-trainable", "MACs", "depth")} == {
        "model": "lenet5", "width": "1", "input": "32x32x1", "seeds": "1", "params": "61,706",
        "non-trainable": "0", "MACs": "416,520", "depth": "5"}
    # the error shown is the saved model's mistakes on the 359 digits test images
    with Store(out / "results.sqlite") as store:
        trial = store.trials().iloc[0]
    counted = recount(out, trial)
    assert counted.n_test == 359 and trial["data_channels"] == 1  # digits are grey
    assert abs(float(row["top-1 test err (%)"]) - counted.top1_mistakes / 359 * 100) <= 0.005 + 1e-9
    assert "### lenet5 (trial 1)" in md  # its per-layer profile
    profile = {r["layer"]: r for r in _md_table(md, "lenet5 (trial 1)")}
    assert (profile["total"]["params"], profile["total"]["MACs"]) == ("61,706", "416,520")


def test_options_alone_are_the_main_job(monkeypatch, tmp_path):
    """Options without a command (`python -m compare --quiet`) still plan the main job."""
    from compare import run_cli
    from compare.__main__ import main

    seen = []
    monkeypatch.setattr(run_cli, "execute", lambda configs, out, args: seen.append(
        ([c["model"] for c in configs], out, args.quiet)) or 0)
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet"]) == 0
    assert seen == [(["lenet5", "alexnet", "zfnet", "vgg11", "googlenet", "resnet18", "resnet20"],
                     os.path.join("runs", "main"), True)]


@pytest.mark.parametrize("value", ["1", "1.5", "-0.1", "ten", "nan"])
def test_bad_val_fraction_is_one_line_exit_2(value, capsys):
    from common.cli import run_main
    from compare.__main__ import main

    assert run_main(main, ["run", "--models", "lenet5", "--val-fraction", value]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --val-fraction must be a number with 0 <= f < 1, got {value!r}\n"


def test_val_fraction_reaches_every_trial(monkeypatch, tmp_path):
    from compare import run_cli
    from compare.__main__ import main

    seen = []
    monkeypatch.setattr(run_cli, "execute", lambda configs, out, args: seen.extend(configs) or 0)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--models", "lenet5,resnet8", "--dataset", "digits", "--val-fraction", "0"]) == 0
    assert [c["val_fraction"] for c in seen] == [0.0, 0.0]
    seen.clear()
    assert main(["run", "--models", "lenet5", "--dataset", "digits"]) == 0
    assert seen[0]["val_fraction"] == 0.1
