"""compare: measure models (per-layer profiles) and train/evaluate many of them into a results store.

Lazy: importing ``compare`` does not import Keras; the names below load their module on use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "profile": "compare.profile",
    "totals": "compare.profile",
    "load_dataset": "compare.data",
    "Dataset": "compare.data",
    "Store": "compare.store",
    "run_trial": "compare.train",
    "run": "compare.runner",
}


def __getattr__(name: str):
    if name == "profile":
        # compare.profile is both the module and, being a callable module, the function:
        # compare.profile(model) and compare.profile.totals(df) both work.
        return importlib.import_module("compare.profile")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'compare' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
