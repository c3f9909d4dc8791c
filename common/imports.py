"""Run code around the first real import of a module, whoever imports it (one mechanism for the
zoo's Keras registration and the CLI's quiet TensorFlow start-up)."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from typing import Callable, ContextManager


class ImportHook(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A meta path finder for the top-level module ``name``: its loader runs inside ``around()``
    (if given), then ``after(module)``; the hook then removes itself.

    It stays installed until the module is really imported: a ``importlib.util.find_spec(name)``
    probe (TensorFlow probes for Keras so) returns a spec that is never executed.
    """

    def __init__(self, name: str, after: Callable | None = None,
                 around: Callable[[], ContextManager] | None = None) -> None:
        self.name, self.after, self.around = name, after, around
        self._busy = False
        self._loader = None

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name or self._busy:
            return None
        self._busy = True  # the real spec, from the other finders
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self._loader
        with self.around() if self.around else contextlib.nullcontext():
            self._loader.exec_module(module)
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if self.after:
            self.after(module)


def hooks(name: str) -> list[ImportHook]:
    """The hooks installed for module ``name``."""
    return [f for f in sys.meta_path if isinstance(f, ImportHook) and f.name == name]


def on_import(name: str, after: Callable | None = None, around: Callable[[], ContextManager] | None = None) -> None:
    """Call ``after(module)`` once ``name`` is imported (now, if it already is); ``around`` wraps
    its import."""
    if name in sys.modules:
        if after:
            after(sys.modules[name])
        return
    sys.meta_path.insert(0, ImportHook(name, after, around))
