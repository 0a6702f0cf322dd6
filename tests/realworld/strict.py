"""Make every layer of a model built by others check its own `call`, by dynamic subclassing.

`strict(model)` swaps the class of the model and of every layer inside it whose `call` declares
`training` for a subclass decorated `@forwards_training(always=True)`: the same inspector as
`training_check="error"`, run on every call. Nothing else about the layers changes (same
weights, same config); a dropped flag anywhere raises `DroppedTrainingFlagError`.
"""

from __future__ import annotations

import weakref
from typing import Any

import keras

from training_aware import forwards_training

_STRICT: weakref.WeakKeyDictionary[type, type] = weakref.WeakKeyDictionary()


def strict_class(cls: type) -> type:
    """`cls` with its `call` checked on every call (one subclass per class)."""
    if cls not in _STRICT:
        # Same name, so messages read as they would for the original class.
        subclass = type(cls.__name__, (cls,), {"__module__": __name__})
        _STRICT[cls] = forwards_training(always=True)(subclass)
    return _STRICT[cls]


def strict(model: Any) -> int:
    """Swap `model` and every layer inside it to its strict class; return how many were swapped."""
    swapped = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.InputLayer) or type(layer) in _STRICT.values():
            continue
        if getattr(layer, "_call_has_training_arg", False):
            layer.__class__ = strict_class(type(layer))
            swapped += 1
    return swapped
