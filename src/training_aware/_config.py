"""Constructor arguments as a config: what Keras' auto-config gets wrong for Models (FACTS F14).

`keras.Model.__new__` records only a subclass's constructor *defaults*, so a `Model` subclass with
extra arguments is saved with the wrong values, silently. `record_arguments` binds the arguments a
class was actually constructed with (called from `__new__`, which sees them for the most derived
class); `encode`/`decode` turn them into config values and back, refusing, with the fix, anything
that cannot round-trip (`*args`, arbitrary objects).
"""

from __future__ import annotations

import inspect
from typing import Any

import keras

from training_aware.errors import UnserializableChildError, describe

__all__ = ["decode", "encode", "record_arguments"]


def record_arguments(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The constructor arguments by name, defaults included (`*args` kept as a tuple to refuse)."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except TypeError:
        return {}  # `__init__` raises its own, clearer error
    bound.apply_defaults()
    arguments: dict[str, Any] = {}
    for key, value in list(bound.arguments.items())[1:]:  # [0] is self
        kind = bound.signature.parameters[key].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            arguments[key] = value
        elif value:
            arguments[key] = _Positional(value)
    return arguments


class _Positional(tuple[Any, ...]):
    """`*args` a subclass was constructed with: they cannot be replayed by keyword."""


def encode(value: Any, where: str) -> Any:
    if isinstance(value, _Positional):
        raise UnserializableChildError(
            f"Cannot serialize {where}: the model was constructed with extra positional "
            f"arguments {describe(tuple(value))}, which from_config cannot pass back by name. "
            "Fix: pass them by keyword, or override get_config()/from_config()."
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [encode(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: encode(v, where) for k, v in value.items()}
    if hasattr(value, "get_config") and not inspect.isfunction(value):
        return keras.saving.serialize_keras_object(value)
    raise UnserializableChildError(
        f"Cannot serialize {where}: {describe(value)} is neither a primitive (None, bool, int, "
        "float, str, list, dict) nor a Keras-serializable object. Fix: pass a primitive, or "
        "override get_config()/from_config() in the subclass to encode it."
    )


def decode(value: Any, custom_objects: dict[str, Any] | None) -> Any:
    if isinstance(value, list):
        return [decode(v, custom_objects) for v in value]
    if isinstance(value, dict):
        if {"class_name", "config", "module"} <= value.keys():
            return keras.saving.deserialize_keras_object(value, custom_objects=custom_objects)
        return {k: decode(v, custom_objects) for k, v in value.items()}
    return value
