"""Run a function as soon as Keras is imported (now, if it already is).

The watch must not import Keras itself: a script chooses its backend with
`os.environ["KERAS_BACKEND"] = ...` before its own `import keras`, and an earlier import would
fix the backend for it. So the watch waits for the script's import, through an import hook that
wraps the loader of the top-level `keras` package and removes itself once Keras is loaded.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

__all__ = ["after_keras", "cancel"]


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.busy = False  # another finder that delegates (training_aware's own) asks us back

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras" or self.busy:
            return None
        self.busy = True
        try:
            spec = self._find(fullname, path, target)
        finally:
            self.busy = False
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, self)
        return spec

    def _find(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> importlib.machinery.ModuleSpec | None:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                return spec
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: Any, finder: _Finder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._finder.callback()


def after_keras(callback: Callable[[], None]) -> None:
    """Call `callback()` once Keras is imported: now if it is, else right after its import."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "Model"):
        callback()
        return
    sys.meta_path.insert(0, _Finder(callback))


def cancel() -> None:
    """Remove a pending hook (Keras was never imported)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
