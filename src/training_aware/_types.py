"""The types of the public signatures (for type checkers and the API page; nothing at run time).

Keras, NumPy and the backends are imported for type checking only, so importing this module
imports none of them (`training_aware.lint` and `signature` must run without Keras). Keras ships
no type information: under mypy its classes are `Any`, but IDEs and the API page show them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias, Union

if TYPE_CHECKING:
    import keras
    import numpy as np
    from numpy.typing import ArrayLike

__all__ = ["Batch", "Inputs", "Mode", "Predictions", "Rule"]

Batch: TypeAlias = Union["ArrayLike", Mapping[str, "ArrayLike"]]
"""A batch of arrays with a common first dimension: an array (NumPy, or any backend's tensor),
a list or tuple of them, or a dict of them by input name."""

Inputs: TypeAlias = Union[Batch, "keras.utils.PyDataset", Iterable[object]]
"""What `model.predict` takes: a `Batch`, a `tf.data.Dataset`, a `keras.utils.PyDataset`, a
PyTorch `DataLoader` or a generator of batches."""

Predictions: TypeAlias = Union["np.ndarray", Sequence["np.ndarray"], Mapping[str, "np.ndarray"]]
"""What `model.predict` returns: one array, or a list or dict of arrays for a multi-output
model."""

Mode: TypeAlias = Union[bool, "ArrayLike", None]
"""A `training` value: `None`, a bool, or a scalar boolean tensor (inside compiled functions)."""

Rule: TypeAlias = type["keras.layers.Layer"] | str | Callable[["keras.layers.Layer"], bool]
"""An `override_modes` rule: a layer class, a glob on layer paths, or a predicate."""
