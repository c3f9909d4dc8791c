"""The measuring process of ``python -m compare bench``: each model is timed in a fresh
``python -m compare.bench_worker`` process of its own (a JSON request on stdin, JSON events on
stdout), so one model's memory and a crash (an out-of-memory kill) never reach the next."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["Worker", "WorkerError"]


class WorkerError(RuntimeError):
    """The measuring process failed outside a row (it could not start, or broke the protocol)."""


def _worker_env() -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
           "KERAS_BACKEND": "tensorflow"}
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Worker:
    """One ``python -m compare.bench_worker`` process: a JSON request on stdin, JSON lines on stdout."""

    command: list[str] = [sys.executable, "-m", "compare.bench_worker"]

    def __init__(self, request: dict) -> None:
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, env=_worker_env())
        self.proc.stdin.write(json.dumps(request))
        self.proc.stdin.close()

    def events(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                yield json.loads(line)

    def end_reason(self) -> str:
        """Why the process ended, after its stdout closed: its exit status and its last stderr line."""
        code = self.proc.wait()
        self._err.seek(0)
        lines = [ln for ln in self._err.read().strip().splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else ""
        if code < 0:
            why = f"the measuring process was killed by {signal_name(code)}"
            if -code == signal.SIGKILL:
                why += " (most likely by the kernel's out-of-memory killer)"
        else:
            why = f"the measuring process exited with code {code}"
        return why + (f": {last}" if last else "")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        self._err.close()
