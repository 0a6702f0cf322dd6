"""Tiny plain-Keras models reproducing FACTS rows, shared by the mode and audit tests.

Each factory returns an unbuilt or built model with 4 input features; shapes are tiny so the
tests stay fast on 2 cores.
"""

from __future__ import annotations

from typing import Any

import keras

FEATURES = 4


class NoForward(keras.Model):
    """FACTS F2: `call(x, training=False)` that does not forward it (wrong on JAX only)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)
        self.batch_norm = keras.layers.BatchNormalization()

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.batch_norm(self.dense(inputs))


class LeakyMC(keras.Model):
    """FACTS F3: `self.drop(x, training=True)` then `self.bn(x)`: the True leaks to the BN."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)
        self.drop = keras.layers.Dropout(0.5)
        self.bn = keras.layers.BatchNormalization()

    def call(self, inputs: Any, training: Any = None) -> Any:
        x = self.drop(self.dense(inputs), training=True)
        return self.bn(x)


class FrozenBackbone(keras.Model):
    """FACTS F13: `self.backbone(x, training=False)` then a head BN relying on propagation."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backbone = keras.Sequential(
            [keras.layers.Dense(3), keras.layers.BatchNormalization()], name="backbone"
        )
        self.backbone.trainable = False
        self.head_bn = keras.layers.BatchNormalization(name="head_bn")

    def call(self, inputs: Any, training: Any = None) -> Any:
        h = self.backbone(inputs, training=False)
        return self.head_bn(h)


def functional_mc() -> keras.Model:
    """FACTS F4: a hard-coded `Dropout(...)(x, training=True)` in a Functional model."""
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dense(3)(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Dropout(0.5, name="mc_dropout")(h, training=True)
    return keras.Model(inputs, keras.layers.Dense(2)(h), name="functional_mc")


def resizing_then_bn() -> keras.Model:
    """FACTS F9: a layer whose `call` defaults `training=True` upstream of BatchNorm."""

    class DefaultsToTraining(keras.layers.Layer):
        def call(self, inputs: Any, training: bool = True) -> Any:
            return inputs

    model = keras.Sequential(
        [keras.Input((FEATURES,)), DefaultsToTraining(name="resize"), keras.layers.Dense(3)]
    )

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="resize_net")
            self.pre = model
            self.bn = keras.layers.BatchNormalization(name="bn")

        def call(self, inputs: Any) -> Any:
            return self.bn(self.pre(inputs))

    return Net()


def transfer(trainable_base: bool = True) -> keras.Model:
    """FACTS F10: the guide's `base(x, training=False)` on a base that is trainable."""
    base = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(3),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="base",
    )
    base.trainable = trainable_base
    inputs = keras.Input((FEATURES,))
    h = base(inputs, training=False)
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Dropout(0.2, name="head_drop")(h))
    return keras.Model(inputs, outputs, name="transfer")
