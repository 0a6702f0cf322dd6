"""Snapshot and restore of everything `audit` may touch: variables, attributes, compile state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from training_aware import _compiled
from training_aware.errors import AuditError, describe

__all__ = ["assign", "restoring", "throwaway_compile", "values"]


def values(variables: list[Any]) -> list[np.ndarray]:
    """Copies of the variables' values (a tf.distribute variable reads as its primary copy)."""
    import keras

    ops = keras.ops
    return [np.array(ops.convert_to_numpy(ops.convert_to_tensor(v)), copy=True) for v in variables]


def assign(variables: list[Any], values: list[np.ndarray]) -> None:
    import keras

    for variable, value in zip(variables, values, strict=True):
        try:
            current = keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(variable))
        except Exception:  # JAX's trainer purges values during a loop and a failure leaves them so
            current = None
        if current is None or not np.array_equal(current, value):
            variable.assign(value)


def _unique(variables: list[Any]) -> list[Any]:
    seen: set[int] = set()
    out = []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


@contextmanager
def restoring(model: Any) -> Iterator[list[Any]]:
    """Restore every variable and every attribute of `model` on exit (yields the variables)."""
    metric_vars = []
    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    for value in config.values():
        for obj in value if isinstance(value, list | tuple) else [value]:
            metric_vars += list(getattr(obj, "variables", []) or [])
    variables = _unique([*model.variables, *model.metrics_variables, *metric_vars])
    saved = values(variables)
    attributes = dict(vars(model))
    functions = _compiled.table(model)  # mutated in place: Keras' `compile()` empties it
    saved_functions = list(functions.items())
    try:
        yield variables
    finally:
        assign(variables, saved)
        # The instance `__dict__` itself, not `setattr`: `predict_function` and its siblings are
        # data descriptors (`_compiled`) that would store a plain function under the key of a
        # block enclosing the audit, and that block would then run it.
        state = vars(model)
        for name in [k for k in state if k not in attributes]:
            del state[name]
        for name, value in attributes.items():
            if state.get(name, _MISSING) is not value:
                state[name] = value
        functions.clear()
        functions.update(saved_functions)


_MISSING: Any = object()


def throwaway_compile(model: Any, notes: list[str]) -> None:
    """Compile a copy of the model's configuration (or a minimal one) for the audit's own use."""
    import keras

    if not getattr(model, "compiled", False):
        model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
        notes.append(
            "the model was not compiled: the audit compiled a throwaway configuration "
            "(SGD, mse) for fit and evaluate and restored the uncompiled model afterwards"
        )
        return
    config = dict(getattr(getattr(model, "_compile_config", None), "config", None) or {})
    optimizer = model.optimizer
    try:
        clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    except Exception as error:
        raise AuditError(
            f"audit could not copy the optimizer {describe(optimizer)} ({error}); it runs fit "
            "with a copy so that your optimizer's state is never touched. Fix: make the "
            "optimizer serializable (get_config/from_config)."
        ) from None
    config["optimizer"] = clone
    config.update(
        run_eagerly=model.run_eagerly,
        jit_compile=model.jit_compile,
        steps_per_execution=model.steps_per_execution,
    )
    model.compile(**config)
