"""Registration of the library's serializable classes with Keras, for every saving format.

`.keras` files name a class by its registered name (`training_aware>TrainingSequential`); the
legacy `.h5` format stores the bare class name (`TrainingSequential`), which Keras looks up among
its global custom objects. Registering both lets `keras.models.load_model` read either file
without `custom_objects`.
"""

from __future__ import annotations

from typing import TypeVar

import keras

__all__ = ["serializable"]

_Class = TypeVar("_Class", bound=type)


def serializable(cls: _Class) -> _Class:
    """`keras.saving.register_keras_serializable(package="training_aware")`, and the bare name."""
    keras.saving.register_keras_serializable(package="training_aware")(cls)
    # A user's own class of that name, registered first, keeps it.
    keras.saving.get_custom_objects().setdefault(cls.__name__, cls)
    return cls
