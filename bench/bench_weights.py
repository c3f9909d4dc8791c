"""Pretrained weights: load time and peak memory per (model, source), and the equivalence table.

    python bench/bench_weights.py [--models vgg16,resnet18] [--out bench/weights]

For each (model, source) on the cards: the source framework's own model with random weights is
written in the published format (keras.applications: Keras' legacy HDF5 writer; torchvision:
``torch.save`` in tests/_torchvision_peer.py's worker, with its logits on two random images), then
fresh processes, alternating, measure
  - ``random``: ``zoo.build(model)`` with random initialisation, and
  - ``loaded``: ``zoo.build(model, weights=FILE)`` (read, convert, assign),
each reporting its wall time after imports and its peak resident memory (ru_maxrss); plus the time
of the hash check a cached file gets (``zoo.weights.download``'s digest of the file) and the
relative logit difference of the loaded model against the peer (max |diff| / max |logit|).
One file at a time is kept on disk. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MEASURE = r"""
import json, resource, sys, time
import numpy as np
import keras, zoo
name, path, x_path = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
model = zoo.build(name, classifier_activation=None, **({"weights": path} if path != "-" else {}))
seconds = time.perf_counter() - t0
out = {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if x_path != "-":
    out["logits"] = keras.ops.convert_to_numpy(model(np.load(x_path), training=False)).tolist()
print(json.dumps(out))
"""

KERAS_PEER = r"""
import sys, numpy as np, keras
from _keras_peer import keras_peer, write_legacy_h5
model, path, x_path, y_path = sys.argv[1:5]
peer = keras_peer(model)
write_legacy_h5(peer, path)
np.save(y_path, keras.ops.convert_to_numpy(peer(np.load(x_path), training=False)))
"""

TORCH_NAMES = {"alexnet_owt": "alexnet", "resnet50_v15": "resnet50", "resnet101_v15": "resnet101",
               "resnet152_v15": "resnet152"}


def _env():
    return {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}


def _measure(name, path, x_path="-"):
    proc = subprocess.run([sys.executable, "-c", MEASURE, name, path, x_path], env=_env(), capture_output=True,
                          text=True, timeout=900)
    if proc.returncode:
        raise RuntimeError(f"{name}: {proc.stderr.strip().splitlines()[-1]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Torch:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "_torchvision_peer.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().startswith('{"ready"')

    def save(self, model, path, x_path, y_path):
        req = {"model": TORCH_NAMES.get(model, model), "path": str(path), "x": str(x_path), "logits": str(y_path)}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if not answer.get("ok"):
            raise RuntimeError(answer.get("error"))


def main() -> int:
    import numpy as np

    from zoo.imagenet import preprocess_input
    from zoo.weights import SOURCES
    from zoo.weights.download import digest

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated (default: every model with published weights)")
    p.add_argument("--repeats", type=int, default=2, help="alternating random/loaded process pairs (default 2)")
    args = p.parse_args()
    wanted = args.models.split(",") if args.models else list(SOURCES)
    torch_worker = None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model in wanted:
            for src in SOURCES[model]:
                x = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3)).astype(np.float32)
                x_path, y_path = tmp / "x.npy", tmp / "y.npy"
                np.save(x_path, preprocess_input(x, model, src))
                path = tmp / src.file_name
                if src.source == "keras":
                    subprocess.run([sys.executable, "-c", KERAS_PEER, model, str(path), str(x_path),
                                    str(y_path)], env=_env(), check=True, capture_output=True, timeout=900)
                else:
                    torch_worker = torch_worker or Torch()
                    torch_worker.save(model, path, x_path, y_path)
                theirs = np.load(y_path)
                t0 = time.perf_counter()
                digest(str(path), "md5" if src.hash_kind == "md5" else "sha256")
                hash_s = time.perf_counter() - t0
                random_runs, loaded_runs, rel = [], [], None
                for _ in range(args.repeats):
                    random_runs.append(_measure(model, "-"))
                    out = _measure(model, str(path), str(x_path))
                    ours = np.array(out.pop("logits"))
                    rel = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
                    loaded_runs.append(out)
                row = dict(model=model, source=src.source, file_mb=path.stat().st_size / 2**20, hash_s=hash_s,
                           random_s=statistics.median(r["seconds"] for r in random_runs),
                           loaded_s=statistics.median(r["seconds"] for r in loaded_runs),
                           random_peak_mb=max(r["peak_mb"] for r in random_runs),
                           loaded_peak_mb=max(r["peak_mb"] for r in loaded_runs), rel_diff=rel)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                path.unlink()
    if torch_worker:
        torch_worker.proc.stdin.close()
        torch_worker.proc.wait()
    print("| model | source | file MB | hash check s | build random s | build + load s | load overhead s | "
          "peak MB random | peak MB loaded | relative logit diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['source']} | {r['file_mb']:.0f} | {r['hash_s']:.2f} | {r['random_s']:.2f} | "
              f"{r['loaded_s']:.2f} | {r['loaded_s'] - r['random_s']:.2f} | {r['random_peak_mb']:.0f} | "
              f"{r['loaded_peak_mb']:.0f} | {r['rel_diff']:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
