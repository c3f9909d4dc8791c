"""The command-line contract of compare and reports: help, arith and every argument check answer
without importing TensorFlow; bad input is one exact ``error:`` line with exit code 2, found before
anything is printed, written or computed; and the shared helpers (common.cli, common.text, the
card-driven training options) give exact values."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pandas as pd
import pytest

from common.cli import Parser, parse_count, parse_positive
from common.text import human_count, shape_text, text_table
from compare.store import STORE_NAME, Store, StoreError, run_store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFLINE = "offline alternatives: mnist5k, digits, shapes (or folder:PATH, npz:PATH)"
CIFAR10_PLACE = "cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz)"

# Runs ``python -m PACKAGE ARGV...`` in this process, then reports on its own last line whether
# TensorFlow was imported and the exit code.
PROBE = textwrap.dedent("""
    import runpy, sys
    package, argv = sys.argv[1], sys.argv[2:]
    sys.argv = [package, *argv]
    try:
        runpy.run_module(package, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    print(f"\\nPROBE tensorflow={'tensorflow' in sys.modules} code={code}")
""")


def probe(package: str, *argv: str, home=None, env_extra: dict | None = None,
          env_drop: tuple | list = ()) -> tuple[int, str, str, bool]:
    """(exit code, stdout, stderr, TensorFlow imported) of ``python -m package argv...``, with
    ``env_extra`` set and the variables of ``env_drop`` that it does not set removed."""
    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    env.update(env_extra or {})
    if home is not None:  # an empty Keras cache
        env.update(HOME=str(home), KERAS_HOME=str(home / ".keras"))
    proc = subprocess.run([sys.executable, "-c", PROBE, package, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    out, _, last = proc.stdout.rpartition("\nPROBE ")
    assert last.startswith("tensorflow="), proc.stdout + proc.stderr
    tf, code = (part.split("=")[1] for part in last.split())
    return int(code), out, proc.stderr, tf == "True"


# -- help and arith without TensorFlow -----------------------------------------------------------

@pytest.mark.parametrize("argv, usage", [
    (["--help"], "usage: python -m compare [-h] COMMAND ..."),
    (["run", "--help"], "usage: python -m compare run [-h] [--verbose]"),
    (["profile", "--help"], "usage: python -m compare profile [-h] [--verbose]"),
    (["arith", "--help"], "usage: python -m compare arith [-h] [--verbose]"),
    (["depth", "--help"], "usage: python -m compare depth [-h] [--verbose]"),
])
def test_compare_help_without_tensorflow(argv, usage):
    code, out, err, tf = probe("compare", *argv)
    assert (code, err, tf) == (0, "", False)
    assert out.startswith(usage)
    if argv[0] in ("run", "depth"):
        text = " ".join(out.split())  # argparse wraps the help lines
        assert "--download let keras.datasets download" in text and "'all' = no cap" in text
        # run's defaults name its main preset; the depth study has none
        assert ("main preset" in text) == (argv[0] == "run")
        if argv[0] == "depth":
            assert "--input-size INPUT_SIZE square input side for every net (default: the dataset's image size, " \
                   "28 on mnist5k)" in text


def test_reports_help_without_tensorflow():
    code, out, err, tf = probe("reports", "--help")
    assert (code, err, tf) == (0, "", False)
    assert out.startswith("usage: python -m reports [-h]")


def test_arith_without_tensorflow():
    code, out, err, tf = probe("compare", "arith", "--input", "7", "--filter", "3", "--stride", "3", "--pad", "0")
    assert (code, err, tf) == (1, "", False)  # exit 1: the layer does not fit
    assert "(7 - 3 + 0)/3 + 1 = 2.33 is not an integer" in out


@pytest.mark.parametrize("argv, message", [
    (["--input", "0", "--filter", "3"], "--input must be an integer >= 1, got 0"),
    (["--input", "32", "--filter", "3", "--pad", "-1"], "--pad must be an integer >= 0, got -1"),
    (["--input", "32", "--filter", "3", "--filters", "0", "--channels", "3"], "--filters must be an integer >= 1, got 0"),
    (["--input", "32", "--filter", "3", "--channels", "3"],
     "--channels needs --filters too (params and MACs need both); accepted: both or neither"),
    (["--input", "32", "--filter", "3", "--channels", "3", "--filters", "8", "--groups", "2"],
     "--groups 2 must divide --channels 3 and --filters 8"),
    (["--input", "32", "--filter", "3", "--groups", "4"],
     "--groups 4 needs --channels and --filters (it changes only params and MACs)"),
])
def test_arith_options_are_checked_by_their_names(argv, message, capsys):
    """Not "input must be ..." (the library's argument name), and no option silently ignored."""
    from compare.__main__ import main

    with pytest.raises(ValueError) as err:
        main(["arith", *argv])
    assert str(err.value) == message
    assert capsys.readouterr().out == ""


# -- argument checks: one exact line, exit code 2, no TensorFlow ----------------------------------

@pytest.mark.parametrize("argv, message", [
    (["run", "--models", "lenet5", "--epochs", "2.5"], "--epochs must be an integer >= 1, got '2.5'"),
    (["run", "--models", "lenet5", "--epochs", "0"], "--epochs must be an integer >= 1, got '0'"),
    (["run", "--models", "lenet5", "--batch-size", "-4"], "--batch-size must be an integer >= 1, got '-4'"),
    (["run", "--models", "lenet5", "--input-size", "x"], "--input-size must be an integer >= 1, got 'x'"),
    (["run", "--models", "lenet5", "--width", "0"], "--width must be a number > 0, got '0'"),
    (["run", "--models", "lenet5", "--lr", "nan"], "--lr must be a number > 0, got 'nan'"),
    (["run", "--models", "lenet5", "--limit", "none"], "--limit must be an integer >= 1 or 'all' (no cap), got 'none'"),
    (["depth", "--limit", "none"], "--limit must be an integer >= 1 or 'all' (no cap), got 'none'"),
    (["depth", "--epochs", "2.5"], "--epochs must be an integer >= 1, got '2.5'"),
    (["run", "--models", "lenet5", "--seeds", "1,x"], "--seeds '1,x' must be integers separated by commas, e.g. 0,1,2"),
    (["run", "--models", " , "], "--models ' , ' names no model; accepted: names from python -m zoo list, "
                                 "comma-separated"),
    (["run", "--preset", "huge"], "unknown preset 'huge'; accepted: main, classic, cifar"),
    (["run", "--models", "lenet5", "--dataset", "imagenet"],
     "unknown dataset 'imagenet'; accepted: mnist5k, digits, mnist, fashion_mnist, cifar10, cifar100, shapes, "
     "folder:PATH, npz:PATH"),
    (["run", "--models", "lenet5", "--dataset", "shapez"],
     "unknown dataset 'shapez'; did you mean 'shapes'? accepted: mnist5k, digits, mnist, fashion_mnist, cifar10, "
     "cifar100, shapes, folder:PATH, npz:PATH"),
    (["run", "--models", "lenet5", "--dataset", "npz:/nonexistent/x.npz"], "npz file not found: /nonexistent/x.npz"),
    (["run", "--models", "lenet5", "--dataset", "folder:/nonexistent/imgs"], "image folder not found: /nonexistent/imgs"),
    (["run", "--models", "lenet5", "--preset", "main"],
     "argument --preset: not allowed with argument --models (see python -m compare run --help)"),
    (["profile", "lenet5", "--input-shape", "32,x"],
     "--input-shape '32,x' is not a shape; use comma-separated positive integers such as 32,32,3"),
    (["profile", "lenet5", "--classes", "0"], "--classes must be an integer >= 1, got '0'"),
    (["profile", "lenet5", "--width", "-1"], "--width must be a number > 0, got '-1'"),
    (["profile", "missing.keras"], "no such model file 'missing.keras' (expected a registered name or a .keras file)"),
])
def test_bad_arguments_are_one_line_without_tensorflow(argv, message, tmp_path):
    code, out, err, tf = probe("compare", *argv, "--out", str(tmp_path / "o")) if argv[0] != "profile" \
        else probe("compare", *argv)
    assert (code, out, err, tf) == (2, "", f"error: {message}\n", False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", [["run", "--models", "lenet5", "--dataset", "digits"], ["depth", "--depths", "8"]])
def test_training_under_another_keras_backend_is_one_line(command, tmp_path):
    """KERAS_BACKEND=jax (as the README shows for the zoo), or torch in keras.json, with or without
    --verbose (a quiet run used to set KERAS_BACKEND=tensorflow, so keras.json counted only with
    --verbose): training needs tf.data and tf.distribute, so instead of every trial failing with
    "'Functional' object has no attribute 'distribute_strategy'", one error line before any work."""
    code, out, err, tf = probe("compare", *command, "--out", str(tmp_path / "o"), env_extra={"KERAS_BACKEND": "jax"})
    assert (code, out, err, tf) == (2, "", "error: Keras backend 'jax' (KERAS_BACKEND): training (compare run, compare "
                                           "depth) needs TensorFlow; accepted: KERAS_BACKEND=tensorflow\n", False)
    home = tmp_path / "keras_home"
    home.mkdir()
    (home / "keras.json").write_text('{"backend": "torch"}')
    for env, verbose in (({"KERAS_HOME": str(home), "KERAS_BACKEND": ""}, ["--verbose"]),  # empty: keras.json
                         ({"KERAS_HOME": str(home)}, [])):
        code, out, err, tf = probe("compare", *command, *verbose, "--out", str(tmp_path / "o"), env_extra=env,
                                   env_drop=["KERAS_BACKEND"])
        assert (code, out, err, tf) == (2, "", "error: Keras backend 'torch' (the backend in keras.json): training "
                                               "(compare run, compare depth) needs TensorFlow; accepted: "
                                               "KERAS_BACKEND=tensorflow\n", False), verbose
    assert not (tmp_path / "o").exists()


def test_empty_and_non_zip_keras_files_are_named(tmp_path):
    empty, junk = tmp_path / "empty.keras", tmp_path / "junk.keras"
    empty.write_bytes(b"")
    junk.write_text("not a model")
    for path, what in ((empty, "is empty"), (junk, "is not a zip archive")):
        code, out, err, tf = probe("compare", "profile", str(path))
        assert (code, out, tf) == (2, "", False)
        assert err == (f"error: model file '{path}' {what}: not a valid .keras file "
                       "(accepted: a file written by model.save('NAME.keras'))\n")


@pytest.mark.parametrize("command", ["run", "depth"])
def test_uncached_keras_dataset_names_the_flag_and_the_file(command, tmp_path):
    argv = [command, "--dataset", "cifar10", "--out", str(tmp_path / "o")]
    code, out, err, tf = probe("compare", *(argv + ["--models", "lenet5"] if command == "run" else argv),
                               home=tmp_path / "home")
    assert (code, out, tf) == (2, "", False)
    assert err == (f"error: dataset 'cifar10' is not in the local Keras cache: place {CIFAR10_PLACE} in "
                   f"{tmp_path / 'home' / '.keras' / 'datasets'}/ or rerun with --download; {OFFLINE}\n")
    assert not (tmp_path / "o").exists()


def test_out_that_is_a_file_or_holds_a_corrupt_store_fails_before_any_output(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, out, err, tf = probe("compare", "run", "--models", "lenet5", "--dataset", "shapes", "--out", str(afile))
    assert (code, out, tf) == (2, "", False)
    assert err == f"error: --out '{afile}' is a file; accepted: a directory (created if missing)\n"

    run_dir = tmp_path / "corrupt_run"
    run_dir.mkdir()
    store = run_dir / STORE_NAME
    store.write_bytes(b"\x00garbage" * 100)
    code, out, err, tf = probe("compare", "run", "--models", "lenet5", "--dataset", "shapes", "--out", str(run_dir))
    assert (code, out, tf) == (2, "", False)  # no "1 trial(s) -> ..." line before the error
    assert err == f"error: {store} is not a SQLite database (corrupt or another file type)\n"
    assert store.read_bytes() == b"\x00garbage" * 100 and sorted(os.listdir(run_dir)) == [STORE_NAME]


def _store_with_one_trial(run_dir) -> None:
    with Store(run_dir / STORE_NAME) as store:
        trial = store.begin(dict(model="lenet5", dataset="shapes", seed=0))
        store.finish(trial, {"top1_acc": 0.5, "top1_err": 0.5})


def test_reports_arguments_checked_first_without_tensorflow(tmp_path):
    code, out, err, tf = probe("reports")
    assert (code, out, err, tf) == (2, "", "error: the following arguments are required: run_dir "
                                            "(see python -m reports --help)\n", False)
    code, out, err, tf = probe("reports", str(tmp_path / "nope"))
    assert (code, out, err, tf) == (2, "", f"error: run directory '{tmp_path / 'nope'}' does not exist\n", False)

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _store_with_one_trial(run_dir)
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    code, out, err, tf = probe("reports", str(run_dir), "--export", str(afile))
    assert (code, out, tf) == (2, "", False)
    assert err == f"error: --export '{afile}' is a file; accepted: a directory (created if missing)\n"
    assert sorted(os.listdir(run_dir)) == [STORE_NAME]  # no report was written before the error
    assert afile.read_text() == "keep me"
    code, _, err, tf = probe("reports", str(run_dir), "--export", str(afile / "sub"))
    assert (code, err, tf) == (2, f"error: --export '{afile / 'sub'}' is inside '{afile}', which is a file; "
                                  "accepted: a directory\n", False)


def test_quiet_tensorflow_hides_start_up_logs_and_imports_nothing():
    script = textwrap.dedent("""
        import sys
        from common.cli import quiet_tensorflow
        quiet_tensorflow()
        print("before", "tensorflow" in sys.modules)
        import keras
        print("after", "tensorflow" in sys.modules, keras.layers.Dense(3).units)
    """)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "before False\nafter True 3\n"
    assert proc.stderr == ""


def test_quiet_tensorflow_leaves_the_users_keras_backend(tmp_path):
    """keras.json's backend is kept: the quiet mode used to set KERAS_BACKEND=tensorflow, so the zoo's
    commands followed keras.json only with --verbose."""
    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    script = "from common.cli import quiet_tensorflow; quiet_tensorflow(); import keras; print(keras.backend.backend())"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**env, "KERAS_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout) == (0, "jax\n"), proc.stderr[-2000:]


# -- shared helpers, in process --------------------------------------------------------------------

def test_parser_usage_error_is_one_line(capsys):
    parser = Parser(prog="python -m tool")
    parser.add_argument("run_dir")
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([])
    assert exc.value.code == 2
    assert capsys.readouterr().err == ("error: the following arguments are required: run_dir "
                                       "(see python -m tool --help)\n")
    tool = Parser(prog="python -m tool")
    sub = tool.add_subparsers(dest="command").add_parser("go")
    assert isinstance(sub, Parser) and sub.prog == "python -m tool go"
    # an unknown option after a sub-command: the error points to that sub-command's help
    for argv, err in ((["go", "--bogus", "1"], "error: unrecognized arguments: --bogus 1 (see python -m tool go --help)\n"),
                      (["--bogus"], "error: unrecognized arguments: --bogus (see python -m tool --help)\n"),
                      (["--bogus", "go"], "error: unrecognized arguments: --bogus (see python -m tool --help)\n"),
                      (["--bogus", "go", "--bogus"],
                       "error: unrecognized arguments: --bogus --bogus (see python -m tool --help)\n")):
        with pytest.raises(SystemExit) as exc:
            tool.parse_args(argv)
        assert (exc.value.code, capsys.readouterr().err) == (2, err)


def test_parse_count_and_parse_positive():
    assert parse_count(" 3 ", "--epochs") == 3 and parse_count(None, "--epochs") is None
    for bad in ("2.5", "0", "-1", "", "x"):
        with pytest.raises(ValueError) as err:
            parse_count(bad, "--epochs")
        assert str(err.value) == f"--epochs must be an integer >= 1, got {bad!r}"
    assert parse_positive("0.25", "--width") == 0.25 and parse_positive(None, "--width") is None
    for bad in ("0", "-1", "inf", "nan", "x"):
        with pytest.raises(ValueError) as err:
            parse_positive(bad, "--width")
        assert str(err.value) == f"--width must be a number > 0, got {bad!r}"


@pytest.mark.parametrize("n, text", [
    (0, "0"), (760, "760"), (999, "999"), (1000, "1.00 K"), (44_040, "44.0 K"), (416_520, "417 K"),
    (999_999, "1.00 M"), (40_551_040, "40.6 M"), (138_357_544, "138 M"), (1_581_000_000, "1.58 G"),
    (-2500, "-2.50 K"), (None, ""), (float("nan"), ""),
])
def test_human_count(n, text):
    assert human_count(n) == text


@pytest.mark.parametrize("shape, text", [
    ((32, 32, 3), "32x32x3"), ([224, 224, 3], "224x224x3"), ((None, 28, 1), "?x28x1"), ((), ""),
    (((7, 7, 64), (1, 1, 10)), "7x7x64, 1x1x10"), ([[14, 14, 512], [1000]], "14x14x512, 1000"),
])
def test_shape_text(shape, text):
    assert shape_text(shape) == text


def test_text_table_aligns_numbers_right_and_text_left():
    lines = text_table(["name", "params", "err", "output"],
                       [["lenet5", "61,706", "2.2%", "10"], ["resnet20", "269,722", "-", "28x28x3"]],
                       footer=[["total", "331,428", "", ""]])
    assert lines == [
        "name       params   err  output",
        "-" * 32,
        "lenet5     61,706  2.2%  10",
        "resnet20  269,722     -  28x28x3",
        "-" * 32,
        "total     331,428",
    ]
    with pytest.raises(ValueError, match=r"a table row has 1 cells but the header has 2"):
        text_table(["a", "b"], [["x"]])


def test_trial_line_prints_macs_in_a_unit_that_fits(capsys):
    from compare.run_cli import printer

    cfg = dict(model="lenet5", width=1.0, seed=0)
    printer(False)("done", 1, 2, cfg, metrics=dict(top1_acc=0.975, params=61_706, macs=44_040), seconds=3.2)
    printer(False)("done", 2, 2, cfg, metrics=dict(top1_acc=0.5, params=1, macs=1_581_000_000), seconds=10)
    # with a validation split and the test error's Wilson interval (970 of 1,000: 2.1-4.3% error)
    printer(False)("done", 1, 1, cfg, metrics=dict(top1_acc=0.97, top1_err_lo=0.021094, top1_err_hi=0.042503,
                                                   val_acc=0.9825, params=61_706, macs=416_520), seconds=65)
    assert capsys.readouterr().out == (
        "[1/2] lenet5 (width 1, seed 0): test top-1 accuracy 97.50%, 61,706 params, 44.0 K MACs, 3 s\n"
        "[2/2] lenet5 (width 1, seed 0): test top-1 accuracy 50.00%, 1 params, 1.58 G MACs, 10 s\n"
        "[1/1] lenet5 (width 1, seed 0): test top-1 accuracy 97.00% (95% CI 95.7-97.9%), validation 98.25%, 61,706 params, "
        "417 K MACs, 65 s\n")


def test_depth_table_is_a_text_table():
    from compare.depth_cli import _table_lines

    summary = pd.DataFrame([
        dict(depth=8, kind="plain", train_err=0.041, train_err_eval=0.03, test_err=0.05),
        dict(depth=8, kind="residual", train_err=0.024, train_err_eval=0.02, test_err=0.04),
        dict(depth=56, kind="plain", train_err=0.809, train_err_eval=0.8, test_err=0.81),
    ])
    assert _table_lines(summary) == [
        "depth  plain train(last)  plain train(infer)  plain test  resnet train(last)  resnet train(infer)  resnet test",
        "-" * 110,
        "    8               4.1%                3.0%        5.0%                2.4%                 2.0%         4.0%",
        "   56              80.9%               80.0%       81.0%                   -                    -            -",
    ]


# -- the results store is checked without being changed --------------------------------------------

def test_store_check_changes_nothing(tmp_path):
    Store.check(tmp_path / "new.sqlite")  # missing: a new store, fine
    assert not (tmp_path / "new.sqlite").exists()
    good = tmp_path / "good" / STORE_NAME
    good.parent.mkdir()
    _store_with_one_trial(good.parent)
    before = good.read_bytes()
    Store.check(good)
    assert good.read_bytes() == before
    assert run_store(good.parent) == good
    with sqlite3.connect(good) as conn:
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    old = good.read_bytes()
    with pytest.raises(StoreError) as err:
        run_store(good.parent)
    assert str(err.value) == (f"cannot read results store '{good}': {good} has schema version 7; this version "
                              "reads schema 1 or 2 (use a new store file or the matching version)")
    assert good.read_bytes() == old
    with pytest.raises(StoreError, match="is a directory"):
        Store.check(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no results store in .* run `python -m compare` first"):
        run_store(tmp_path)


# -- datasets: the cheap check and --download ------------------------------------------------------

def test_check_dataset_hint_and_download(tmp_path, monkeypatch):
    from compare.data import DatasetUnavailableError, check_dataset

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    with pytest.raises(DatasetUnavailableError) as err:
        check_dataset("mnist")
    assert str(err.value).endswith(f"in {tmp_path / '.keras' / 'datasets'}/ or pass download=True; {OFFLINE}")
    with pytest.raises(DatasetUnavailableError) as err:
        check_dataset("MNIST", hint="rerun with --download")
    assert "/ or rerun with --download; " in str(err.value)
    import numpy as np
    import PIL.Image

    import compare.data as data
    import compare.keras_cache as keras_cache

    def no_read(*args, **kwargs):
        raise AssertionError("check_dataset read or fetched data")

    # every reader the datasets go through (compare.data's own names and what they call), and numpy's
    for where, names in ((data, ("load_mnist5k", "load_digits8", "load_npz", "load_folder", "make_shapes",
                                 "load_keras", "fetch_keras", "load_dataset")),
                         (keras_cache, ("load_keras", "fetch_keras")), (np, ("load", "loadtxt")),
                         (PIL.Image, ("open",))):
        for name in names:
            monkeypatch.setattr(where, name, no_read)
    check_dataset("mnist", download=True)  # allowed: nothing is checked or fetched here
    for name in ("mnist5k", "Digits", "shapes", f"npz:{__file__}", f"folder:{tmp_path}"):
        check_dataset(name)  # embedded, or an existing path: passes without reading anything


def test_download_fetches_once_into_the_cache(tmp_path, monkeypatch):
    """`cached_dataset(..., download=True)` lets keras.datasets download a missing dataset (here a
    stand-in that writes mnist.npz where keras would), then reads it from the cache."""
    import keras
    import numpy as np

    from compare import train

    cache = tmp_path / ".keras" / "datasets"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), y_train=np.arange(30) % 10,
                  x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 10)
    calls = []

    def fake_download():
        calls.append(1)
        cache.mkdir(parents=True)
        np.savez(cache / "mnist.npz", **arrays)
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_download)
    train._load_cached.cache_clear()
    try:
        with pytest.raises(ValueError, match="not in the local Keras cache"):
            train.cached_dataset("mnist", 0, None)
        assert calls == []  # no download without the flag
        ds = train.cached_dataset("mnist", 0, None, download=True)
        again = train.cached_dataset("mnist", 0, None, download=True)  # cached now: no second download
    finally:
        train._load_cached.cache_clear()
    assert calls == [1] and again is ds
    assert (ds.shape, len(ds.y_train), len(ds.y_test)) == ((28, 28, 1), 30, 20)
    assert np.array_equal(ds.x_train[..., 0], arrays["x_train"])


# -- training options come from the card ------------------------------------------------------------

def _card(name, min_size, training):
    return SimpleNamespace(name=name, input_shape=(224, 224, 3), min_size=min_size, training=training)


def test_training_options_come_from_card_training():
    from compare.train import build_extra, loss_weights, min_input_size, model_input_shape

    aux = _card("googlenet", 32, SimpleNamespace(build={"aux_logits": True}, min_size=65,
                                                 loss_weights=(1.0, 0.3, 0.3)))
    plain = _card("vgg11", 32, SimpleNamespace(build={}, min_size=None, loss_weights=None))
    assert build_extra(aux) == {"aux_logits": True} and build_extra(plain) == {}
    build_extra(aux)["aux_logits"] = False  # a copy: the card is untouched
    assert aux.training.build == {"aux_logits": True}
    assert (min_input_size(aux), min_input_size(aux, training=False), min_input_size(plain)) == (65, 32, 32)
    assert model_input_shape(aux, (28, 28, 1), None) == (65, 65, 3)
    assert model_input_shape(plain, (28, 28, 1), None) == (32, 32, 3)
    with pytest.raises(ValueError) as err:
        model_input_shape(aux, (28, 28, 1), 40)
    assert str(err.value) == "googlenet needs inputs of at least 65x65, got --input-size 40"
    assert loss_weights(aux, 3) == [1.0, 0.3, 0.3]
    assert loss_weights(aux, 1) is None and loss_weights(plain, 2) is None
    with pytest.raises(ValueError) as err:
        loss_weights(aux, 2)
    assert str(err.value) == ("googlenet: its card gives 3 training loss weights but the model built for "
                              "training has 2 outputs")
