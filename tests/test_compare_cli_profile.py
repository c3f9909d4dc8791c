"""python -m compare profile / arith: called in-process; one subprocess for the exit-code contract."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pandas as pd

from compare.__main__ import build_parser, main
from common.cli import run_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = run_main(main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_parser_has_the_commands():
    parser = build_parser()
    args = parser.parse_args(["profile", "lenet5", "--verbose", "--format", "csv"])
    assert (args.command, args.model, args.verbose, args.format) == ("profile", "lenet5", True, "csv")
    args = parser.parse_args(["arith", "--input", "7", "--filter", "3"])
    assert (args.command, args.stride, args.pad, args.rounding) == ("arith", 1, 0, "exact")


def test_profile_table_states_conventions_and_ends_with_a_summary(capsys):
    rc, out, err = _run(capsys, "profile", "lenet5")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "lenet5: input 32x32x1, per sample"
    conventions = lines[1]
    for phrase in ("params = trainable parameters (non-trainable", "multiply-accumulates of convolution and dense",
                   "FLOPs = 2 x MACs", "all_ops"):
        assert phrase in conventions
    total = next(line for line in lines if line.startswith("total"))
    assert "61,706" in total and "416,520" in total and "833,040" in total
    assert lines[-1] == "lenet5: 61,706 params, 417 K MACs, 5 weighted layers in all, depth 5 on the longest path"


def test_profile_summary_for_resnet20(capsys):
    rc, out, _ = _run(capsys, "profile", "resnet20", "--format", "markdown")
    assert rc == 0
    assert out.splitlines()[-1] == ("resnet20: 269,722 params (1,376 non-trainable), 40.6 M MACs, 20 weighted "
                                    "layers in all, depth 20 on the longest path")
    assert "| **total** |" in out and "**40,551,040**" in out


def test_profile_csv_and_json_are_machine_readable(capsys):
    rc, out, err = _run(capsys, "profile", "lenet5", "--format", "csv", "--input-shape", "64,64,1")
    assert rc == 0
    df = pd.read_csv(io.StringIO(out))
    assert df.iloc[-1]["name"] == "TOTAL" and int(df.iloc[-1]["macs"]) == 2_497_800
    assert df.iloc[0]["output_shape"] == "60x60x6"
    assert err.startswith("lenet5: 338,186 params")  # the summary goes to stderr for csv/json
    rc, out, _ = _run(capsys, "profile", "lenet5", "--format", "json", "--width", "0.5", "--classes", "3")
    doc = json.loads(out)
    assert rc == 0 and doc["input_shape"] == [32, 32, 1] and doc["layers"][-1]["output_shape"] == "3"
    # by hand, lenet5 at width 0.5 (3, 8, 60, 42 units), 3 classes: 28*28*25*3 + 10*10*75*8 + 200*60 + 60*42 + 42*3
    assert doc["totals"]["macs"] == sum(layer["macs"] for layer in doc["layers"]) == 133_446


def test_profile_a_saved_keras_file(capsys, tmp_path):
    import zoo

    path = tmp_path / "lenet.keras"
    zoo.build("lenet5_1998").save(path)
    rc, out, _ = _run(capsys, "profile", str(path))
    assert rc == 0
    assert out.splitlines()[-1].startswith("lenet5_1998: 60,000 params")
    # at another input the saved architecture is rebuilt, and says so: by hand, at 36x36 C5 (a 5x5 conv) gives
    # 2x2x120, so F6 reads 480 inputs: 60,000 - 10,164 + (480 * 84 + 84) params
    rc, out, _ = _run(capsys, "profile", str(path), "--input-shape", "36,36,1")
    assert rc == 0 and out.splitlines()[-1].startswith("lenet5_1998 (rebuilt at 36x36x1): 90,240 params")
    rc, _, err = _run(capsys, "profile", str(path), "--width", "0.5")
    assert rc == 2 and "apply to registered model names" in err


def test_bad_input_is_one_line_and_exit_code_2(capsys):
    rc, out, err = _run(capsys, "profile", "resnet57")
    assert rc == 2 and out == ""
    assert err == "error: unknown model 'resnet57'; did you mean resnet56, resnet50, resnet152?\n"
    rc, _, err = _run(capsys, "profile", "lenet5", "--input-shape", "32,x")
    assert rc == 2 and err.count("\n") == 1
    assert "'32,x'" in err and "32,32,3" in err
    rc, _, err = _run(capsys, "profile", "lenet5", "--input-shape", "32,32")
    assert rc == 2 and "input_shape must have 3 dimensions" in err
    rc, _, err = _run(capsys, "profile", "missing.keras")
    assert rc == 2 and "no such model file 'missing.keras'" in err


def test_arith_explains_one_layer(capsys):
    rc, out, _ = _run(capsys, "arith", "--input", "7", "--filter", "3", "--stride", "3", "--pad", "0")
    assert rc == 1  # the layer does not fit
    assert "(7 - 3 + 0)/3 + 1 = 2.33 is not an integer" in out
    rc, out, _ = _run(capsys, "arith", "--input", "32", "--filter", "5", "--pad", "2", "--channels", "3",
                      "--filters", "10")
    assert rc == 0 and "32x32x3 -> 32x32x10, params = 10*(5*5*3+1) = 760" in out
    rc, _, err = _run(capsys, "arith", "--input", "7", "--filter", "3", "--stride", "0")
    assert rc == 2 and err == "error: --stride must be an integer >= 1, got 0\n"


def test_unknown_model_subprocess_has_no_traceback_and_no_tensorflow_noise():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "compare", "profile", "resnet57"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == "error: unknown model 'resnet57'; did you mean resnet56, resnet50, resnet152?\n"
