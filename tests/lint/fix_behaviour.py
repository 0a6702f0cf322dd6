"""Run a module before and after `lint --fix` and compare what its calls compute.

The runtime check of the fixer: a repair is safe when every call the code makes computes the
same outputs and leaves the same variables as before, except where the repaired flag was lost.
`changed(before, after, ...)` builds the same model from each version of the module (same
seeds), runs it through one entry point at a time (a bare call, `training=True`,
`training=False`, `predict`, one `fit` step) and returns the entry points whose results differ.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

ENTRY_POINTS = ("call", "call(training=True)", "call(training=False)", "predict", "fit")
Build = Callable[[types.ModuleType], Any]


@contextmanager
def _modules(replace: Mapping[str, types.ModuleType]) -> Iterator[None]:
    saved = {name: sys.modules.get(name) for name in replace}
    sys.modules.update(replace)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load(text: str, name: str, replace: Mapping[str, types.ModuleType] = {}) -> types.ModuleType:
    """Run `text` as a fresh module called `name`; `replace` stands in for imported modules
    while it runs (a fixed base-class module for the modules built on it)."""
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    with _modules(replace):
        exec(compile(text, f"<{name}>", "exec"), module.__dict__)
    return module


def _flat(values: list[Any]) -> np.ndarray:
    import keras

    return np.concatenate(
        [np.ravel(keras.ops.convert_to_numpy(v)).astype("float64") for v in values]
    )


def outcome(build: Build, module: types.ModuleType, entry: str, x: Any, y: Any) -> np.ndarray:
    """What one entry point computes: its output and every variable of the model afterwards."""
    import keras

    keras.utils.set_random_seed(0)
    model = build(module)
    if entry == "fit":
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
        return _flat([v.value for v in model.variables])
    if entry == "predict":
        out = model.predict(x, batch_size=len(x), verbose=0)
    elif entry == "call":
        out = model(x)
    else:
        out = model(x, training=entry == "call(training=True)")
    return _flat([out, *(v.value for v in model.variables)])


def changed(
    before: types.ModuleType,
    after: types.ModuleType,
    build: Build,
    x: Any,
    y: Any = None,
    entries: tuple[str, ...] = ENTRY_POINTS,
) -> set[str]:
    """The entry points whose outputs or variables differ between the two versions."""
    return {
        entry
        for entry in entries
        if not np.array_equal(
            outcome(build, before, entry, x, y), outcome(build, after, entry, x, y)
        )
    }
