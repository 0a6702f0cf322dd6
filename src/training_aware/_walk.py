"""The layers inside a model, each with its path (layer names joined by "/", relative to the model).

Keras 3.15's own `layer.path` is set at build time from the name scope, so it is `None` for
layers without weights (Dropout in a Functional model) and includes the model's name for
subclassed models only. Rules and reports therefore use this path instead: `"base/bn"` is the
layer named `bn` inside the layer named `base`, whatever the model kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING

__all__ = ["Entry", "is_mode_dependent", "walk"]


@dataclass(frozen=True)
class Entry:
    """One layer of the tree: its path, the layer, and the layer that contains it."""

    path: str
    layer: Any
    parent: Any


def _children(layer: Any) -> list[Any]:
    import keras

    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        return []
    return [
        child
        for child in flatten(include_self=False, recursive=False)
        if not isinstance(child, keras.layers.InputLayer)
    ]


def walk(model: Any) -> list[Entry]:
    """Every layer inside `model` (not `model` itself), depth first, each shared layer once."""
    seen: set[int] = {id(model)}
    out: list[Entry] = []

    def visit(parent: Any, prefix: str) -> None:
        for child in _children(parent):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            out.append(Entry(path, child, parent))
            visit(child, path + "/")

    visit(model, "")
    return out


def is_mode_dependent(layer: Any) -> bool:
    """Does this layer's own computation depend on `training`?

    Keras built-ins: by the generated table (`Dense` declares `training` and ignores it). Other
    classes: a layer that declares `training` and contains no sublayers (a container's own mode
    matters only through its children, which are judged themselves).

    This is the audit's question (which layers' received mode to report), judged per class on
    purpose: a leaf that declares `training` and never reads it still matters to the audit when
    its default writes a mode into Keras' call context (FACTS F9). `@forwards_training` asks
    another question, whether dropping the flag changes an output, and judges it per instance
    (`training_aware._dependence`).
    """
    if not getattr(layer, "_call_has_training_arg", False):
        return False
    for cls in type(layer).__mro__:
        if cls.__module__.startswith("keras."):
            if cls.__name__ in USES_TRAINING:
                return True
            if cls.__name__ in IGNORES_TRAINING:
                return False
            if cls.__name__ in ("Layer", "Model", "Functional", "Sequential", "Operation"):
                break
    return not _children(layer)
