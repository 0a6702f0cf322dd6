"""The seed article's Examples 1-3, written for Keras 3 (`keras` instead of `tf.keras`).

Each factory takes the base class, so one test can build the plain-Keras model and the
training-aware one from the same source.
"""

from __future__ import annotations

from typing import Any

import keras


def bad_model(base: type = keras.Model, units: int = 32, rate: float = 0.5) -> Any:
    """Example 1, `BadModel`: `call(self, inputs)` has no `training` parameter (FACTS F1)."""

    class BadModel(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(units)
            self.batch_norm = keras.layers.BatchNormalization()
            self.dropout = keras.layers.Dropout(rate)

        def call(self, inputs):  # type: ignore[no-untyped-def]
            x = self.dense(inputs)
            x = self.batch_norm(x)  # Missing the training argument
            x = self.dropout(x)  # Missing the training argument
            return x

    return BadModel()


def good_model(base: type = keras.Model, units: int = 32, rate: float = 0.5) -> Any:
    """Example 2, `GoodModel`: forwards `training` to BatchNorm and Dropout explicitly."""

    class GoodModel(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(units)
            self.batch_norm = keras.layers.BatchNormalization()
            self.dropout = keras.layers.Dropout(rate)

        def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
            x = self.dense(inputs)
            x = self.batch_norm(x, training=training)
            x = self.dropout(x, training=training)
            return x

    return GoodModel()


def complex_model(
    base: type = keras.Model, units: int = 64, num_layers: int = 3, rate: float = 0.2
) -> Any:
    """Example 3, `ComplexModel`: a list of layers and an `isinstance` loop."""

    class ComplexModel(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.layers_list = []
            for _ in range(num_layers):
                self.layers_list.append(keras.layers.Dense(units))
                self.layers_list.append(keras.layers.BatchNormalization())
                self.layers_list.append(keras.layers.Dropout(rate))

        def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
            x = inputs
            for layer in self.layers_list:
                if isinstance(layer, keras.layers.BatchNormalization | keras.layers.Dropout):
                    x = layer(x, training=training)
                else:
                    x = layer(x)
            return x

    return ComplexModel()
