"""Every zoo model under every Keras backend, each step in a fresh interpreter.

Nothing here runs model code in the pytest process: each check is a brand-new
``python -c`` subprocess with ``KERAS_BACKEND`` set in its environment, so no state of the test
process (a raised recursion limit, custom layers registered by an earlier import, a backend
already chosen) can hide a failure.

- For tensorflow, jax and torch: every registered model is built at width 0.0625 (1.0 for a
  fixed-width model), run on a seeded input (its outputs finite) and saved to ``.keras``; then
  ANOTHER fresh process runs only ``import zoo`` and ``keras.saving.load_model(path,
  safe_mode=True)`` on each file and checks that the loaded model's outputs equal the original's
  exactly (rtol=0, atol=0: same backend, same machine, same weights and the same operations must
  give the same bits; any difference means something was not restored, such as a weight, an
  epsilon or an activation).
  All failing models are listed in one assertion message, by phase.
- Every child process imports zoo at CPython's default recursion limit, 1,000 (pinned just before:
  importing TensorFlow raises it to 3,000), and builds resnet1202 (zoo raises
  the limit itself); the TensorFlow build process builds it at full width instead (``FULL_WIDTH``),
  with the paper's 19,421,274 trainable parameters, checks its whole card and makes the round trip
  with that model (one resnet1202 build fewer: its cost is the 4,200 layers, not their width).

The jax and torch backends are pinned test requirements (requirements-test.txt): if one cannot
be imported the test fails and says so; it is never skipped.

resnet1202 makes the round trip too (its reload needs the recursion limit zoo sets on import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
BACKEND_PACKAGES = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "torch": ("torch",)}
WIDTH = 0.0625
#: Built at the paper's width instead (their cards checked, that model's round trip): resnet1202 in
#: the TensorFlow build process.
FULL_WIDTH = {"tensorflow": ("resnet1202",)}
RESNET1202_PARAMS = 19_421_274
TIMEOUT = 900  # seconds per subprocess: a hang fails the test instead of stalling the suite
WORKERS = 2  # subprocesses at once (the machine has 2 cores)


def _env(backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    # Speed only; both processes of a round trip get the same settings, so the exact
    # comparison is unaffected.
    if backend == "jax":
        # XLA's default LLVM optimisation makes compiling each weight initialiser (one program
        # per weight shape) take seconds on CPU; level 0 compiles in ~0.2 s.
        env["XLA_FLAGS"] = " ".join(filter(None, [env.get("XLA_FLAGS"), "--xla_backend_optimization_level=0"]))
    if backend == "torch":
        env["OMP_NUM_THREADS"] = "1"  # these models are tiny: torch's thread pool costs ~30% CPU
    return env


def _run(code: str, backend: str, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``code`` in a brand-new interpreter (``python -c``) with ``KERAS_BACKEND=backend``."""
    return subprocess.run([sys.executable, "-c", code, *args], env={**_env(backend), **(extra or {})},
                          cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)


def _tail(proc: subprocess.CompletedProcess, lines: int = 25) -> str:
    err = [ln for ln in proc.stderr.splitlines() if "cudart_stub" not in ln and "absl::InitializeLog" not in ln]
    return f"exit code {proc.returncode}; stderr (last {lines} lines):\n" + "\n".join(err[-lines:])


# ----------------------------------------------------------------------------- child programs

# Imported before keras so that a missing backend is named, not just a traceback from keras.
_CHECK_BACKEND = r"""
import importlib, json, sys
# CPython's default recursion limit is 1,000, but importing TensorFlow raises it to 3,000 (and the
# other backends' Keras may import TensorFlow): each child pins 1,000 again just before `import zoo`,
# so zoo's own raise is what is tested, whatever ran before.
PIN = 1_000
backend, packages = sys.argv[1], sys.argv[2].split(",")
for package in packages:
    try:
        importlib.import_module(package)
    except Exception as e:
        print(json.dumps({"unavailable": f"{package}: {type(e).__name__}: {e}"}))
        sys.exit(3)
import keras
if keras.backend.backend() != backend:
    print(json.dumps({"unavailable": f"KERAS_BACKEND={backend} but keras runs {keras.backend.backend()}"}))
    sys.exit(3)
"""

_SHORT = r"""
def short(e):
    msg = " ".join(str(e).split())
    if "Exception encountered:" in msg:  # keras wraps the cause of a failed deserialisation
        msg = msg.rsplit("Exception encountered:", 1)[1].split(" Full object config:")[0]
        msg = msg.split(" Make sure custom classes")[0]
    return f"{type(e).__name__}: {msg.strip()[:300]}"
"""

BUILD = _CHECK_BACKEND + _SHORT + r"""
import os
import numpy as np
sys.setrecursionlimit(PIN)
limit_start = sys.getrecursionlimit()
import zoo

out, width = sys.argv[3], float(sys.argv[4])
full = set(filter(None, sys.argv[5].split(",")))  # built at the paper's width instead, their cards' figures measured
report = {"models": [], "built": [], "failed": {}, "io": {}, "full": {}, "damped": [], "limit_start": limit_start}
for name in zoo.list_models():
    report["models"].append(name)
    keras.utils.set_random_seed(0)  # each model's weights and outputs the same on every run of this test
    try:
        if name in full:  # the paper's width: its card's figures, and this model makes the round trip
            import math
            import compare
            model, w = zoo.build(name), 1.0
            count = lambda ws: sum(math.prod(v.shape) for v in ws)
            report["full"][name] = {
                "params": count(model.trainable_weights), "non_trainable": count(model.non_trainable_weights),
                "macs": int(compare.profile.totals(compare.profile(model))["macs"]), "depth": zoo.depth(model),
                "output": list(model.output_shape)}
        else:
            try:
                model, w = zoo.build(name, width=width), width
            except ValueError as e:  # a fixed-width model (lenet5_1998) rejects width != 1
                if "width" not in str(e):
                    raise
                model, w = zoo.build(name, width=1.0), 1.0
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal((2, *t.shape[1:])).astype(t.dtype) for t in model.inputs]
        run = lambda: keras.tree.flatten(model(xs if len(xs) > 1 else xs[0], training=False))
        finite = lambda ys: all(np.isfinite(keras.ops.convert_to_numpy(y)).all() for y in ys)
        ys = run()
        if not finite(ys):  # resnet1202: 600 random residual blocks may overflow float32; damp every BN's
            # gamma to 0.1 so that the round trip compares numbers, not inf and NaN
            for layer in model.layers:
                if isinstance(layer, keras.layers.BatchNormalization) and layer.scale:
                    layer.gamma.assign(keras.ops.full(layer.gamma.shape, 0.1))
            ys = run()
            report["damped"].append(name)
        if not finite(ys):
            raise AssertionError("non-finite outputs")
        for i, x in enumerate(xs):
            np.save(os.path.join(out, f"{name}.x{i}.npy"), x)
        for i, y in enumerate(ys):
            np.save(os.path.join(out, f"{name}.y{i}.npy"), keras.ops.convert_to_numpy(y))
        model.save(os.path.join(out, f"{name}.keras"))
        report["built"].append(name)
        report["io"][name] = [len(xs), len(ys), w]
    except Exception as e:
        report["failed"][name] = short(e)
report["limit_after"] = sys.getrecursionlimit()
with open(os.path.join(out, "build.json"), "w") as f:
    json.dump(report, f)
"""

# Only `import zoo`: whatever the loaded models need must be registered by that import alone.
LOAD = _CHECK_BACKEND + _SHORT + r"""
import os
import numpy as np
sys.setrecursionlimit(PIN)   # resnet1202's reload needs the limit that `import zoo` sets
import zoo

out = sys.argv[3]
with open(os.path.join(out, "build.json")) as f:
    saved = json.load(f)["io"]
report = {"loaded": [], "failed": {}}
for name, (n_in, n_out, _) in saved.items():
    try:
        model = keras.saving.load_model(os.path.join(out, f"{name}.keras"), safe_mode=True)
        xs = [np.load(os.path.join(out, f"{name}.x{i}.npy")) for i in range(n_in)]
        refs = [np.load(os.path.join(out, f"{name}.y{i}.npy")) for i in range(n_out)]
        ys = [keras.ops.convert_to_numpy(y) for y in
              keras.tree.flatten(model(xs if len(xs) > 1 else xs[0], training=False))]
        if len(ys) != len(refs):
            raise AssertionError(f"{len(ys)} outputs after loading, {len(refs)} before")
        for y, ref in zip(ys, refs):
            if y.dtype != ref.dtype:
                raise AssertionError(f"output dtype {y.dtype} after loading, {ref.dtype} before")
            np.testing.assert_allclose(y, ref, rtol=0, atol=0, err_msg="outputs differ after loading")
        report["loaded"].append(name)
    except Exception as e:
        report["failed"][name] = short(e)
with open(os.path.join(out, "load.json"), "w") as f:
    json.dump(report, f)
"""


def _backend_args(backend: str) -> list[str]:
    return [backend, ",".join(BACKEND_PACKAGES[backend])]


def _assert_ran(proc: subprocess.CompletedProcess, backend: str, what: str) -> None:
    if proc.returncode == 3 and "unavailable" in proc.stdout:
        why = json.loads(proc.stdout.strip().splitlines()[-1])["unavailable"]
        pytest.fail(f"KERAS_BACKEND={backend} is not usable here ({why}). The {backend} backend is a "
                    f"pinned test requirement: pip install -r requirements-test.txt", pytrace=False)
    assert proc.returncode == 0, f"KERAS_BACKEND={backend}: the {what} process crashed; {_tail(proc)}"


# ----------------------------------------------------------------------------- jobs


def _round_trip(backend: str, out: Path) -> dict:
    """Build and save every model in one fresh process, then load and compare in another."""
    if backend == "jax":  # XLA compiles every op and initialiser per shape; the load process
        # compiles the same programs as the build process, so they share an on-disk cache
        # (this test's own folder; it holds compiled code only, no Keras or zoo state)
        extra = {"JAX_COMPILATION_CACHE_DIR": str(out / "jax-cache"),
                 "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                 "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    else:
        extra = {}
    seconds = {}
    t = time.perf_counter()
    build = _run(BUILD, backend, *_backend_args(backend), str(out), str(WIDTH), ",".join(FULL_WIDTH.get(backend, ())),
                 extra=extra)
    seconds["build+save"] = time.perf_counter() - t
    if build.returncode != 0:
        return {"out": out, "build": build, "seconds": seconds}
    t = time.perf_counter()
    load = _run(LOAD, backend, *_backend_args(backend), str(out), extra=extra)
    seconds["load+compare"] = time.perf_counter() - t
    return {"out": out, "build": build, "load": load, "seconds": seconds}


def start_jobs(items, tmp_path_factory) -> tuple[ThreadPoolExecutor, dict]:
    """Start the subprocesses of the selected tests of this module, at most WORKERS at a time,
    the longest first (measured alone: tensorflow 260 s, jax 215 s, torch 160 s).
    tests/conftest.py calls this when the session starts, so they run while the
    rest of the suite does; the tests of this module run last and collect the results. Each child
    is still its own fresh interpreter; they share only the CPU."""
    selected = {(item.originalname, item.callspec.params.get("backend") if hasattr(item, "callspec") else "tensorflow")
                for item in items if item.module.__name__.endswith("test_backends")}
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    backends = {backend for _, backend in selected}
    futures = {b: pool.submit(_round_trip, b, tmp_path_factory.mktemp(f"round-trip-{b}"))
               for b in ("tensorflow", "jax", "torch") if b in backends}
    return pool, futures


@pytest.fixture(scope="module")
def jobs(backend_jobs, request, tmp_path_factory):
    """The jobs started with the session, or, under pytest-xdist, started now by this worker."""
    if backend_jobs:
        yield backend_jobs
        return
    pool, futures = start_jobs(request.session.items, tmp_path_factory)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _timings(result: dict) -> str:
    return ", ".join(f"{k} {v:.0f} s" for k, v in result["seconds"].items())


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_model_saves_and_reloads(backend, jobs):
    result = jobs[backend].result()
    print(f"KERAS_BACKEND={backend}: {_timings(result)}")
    _assert_ran(result["build"], backend, "build")
    out = result["out"]
    built = json.loads((out / "build.json").read_text())
    assert built["models"], "zoo.list_models() returned no model"
    _assert_ran(result["load"], backend, "load")
    loaded = json.loads((out / "load.json").read_text())

    # the build process started at Python's default recursion limit; zoo raised it to its 10,000
    assert (built["limit_start"], built["limit_after"]) == (1_000, 10_000)
    assert "resnet1202" in built["models"]
    # only resnet1202's 600 random residual blocks may overflow float32 (whether they do depends on
    # the backend's random draws); every output compared was checked finite in the build process
    assert set(built["damped"]) <= {"resnet1202"}, built["damped"]
    problems = [f"  {name}: build/save: {err}" for name, err in sorted(built["failed"].items())]
    problems += [f"  {name}: load/compare: {err}" for name, err in sorted(loaded["failed"].items())]
    failing = sorted({*built["failed"], *loaded["failed"]})
    assert not problems, (
        f"KERAS_BACKEND={backend}: {len(failing)} of {len(built['models'])} models fail the "
        f".keras round trip (build at width {WIDTH}, save, load in a fresh process after only "
        f"`import zoo`, identical outputs): {', '.join(failing)}\n" + "\n".join(problems))
    assert sorted(loaded["loaded"]) == sorted(built["models"])  # every model was saved and reloaded


def test_resnet1202_at_full_width_in_a_plain_process(jobs):
    """The TensorFlow round trip's build process starts at Python's default recursion limit (1,000)
    and builds resnet1202 at the paper's width: zoo raises the limit itself, to its documented
    10,000 (Keras walks the 4,200-layer graph recursively). Its card is checked here
    (tests/test_cards.py leaves it out)."""
    result = jobs["tensorflow"].result()
    _assert_ran(result["build"], "tensorflow", "build")
    built = json.loads((result["out"] / "build.json").read_text())
    assert "resnet1202" not in built["failed"], (
        f"resnet1202 does not build in a plain process at Python's default recursion limit: "
        f"{built['failed']['resnet1202']}")
    assert (built["limit_start"], built["limit_after"]) == (1_000, 10_000)
    out = built["full"]["resnet1202"]
    assert out["params"] == RESNET1202_PARAMS, (
        f"resnet1202 has {out['params']:,} trainable parameters, the paper's figure is {RESNET1202_PARAMS:,}")
    import zoo

    c = zoo.card("resnet1202")
    assert (out["params"], out["non_trainable"], out["macs"], out["depth"], out["output"]) == (
        c.params, c.non_trainable, c.macs, c.depth, [None, 10])
    assert built["io"]["resnet1202"][2] == 1.0  # this full-width model is the one that made the round trip
