"""Keras' own layers that hold sublayers, every layer checked on every call (zero reports)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.realworld.strict import strict
from training_aware import DroppedTrainingFlagError

X = np.random.RandomState(0).normal(size=(4, 5, 6)).astype("float32")
Y = np.random.RandomState(1).normal(size=(4, 3)).astype("float32")


def _containers() -> keras.Model:
    """A Functional model of every Keras container kind, each with something mode-dependent."""
    inputs = keras.Input((5, 6))
    h = keras.layers.Bidirectional(
        keras.layers.LSTM(4, dropout=0.2, recurrent_dropout=0.1, return_sequences=True)
    )(inputs)
    h = keras.layers.TimeDistributed(keras.layers.Dropout(0.3))(h)
    h = keras.layers.RNN(keras.layers.GRUCell(4, dropout=0.2), return_sequences=True)(h)
    cells = [keras.layers.SimpleRNNCell(4, dropout=0.1), keras.layers.LSTMCell(4)]
    h = keras.layers.RNN(keras.layers.StackedRNNCells(cells), return_sequences=True)(h)
    h = keras.layers.MultiHeadAttention(2, 4, dropout=0.1)(h, h)
    inner_inputs = keras.Input((5, 4))
    inner = keras.Model(inner_inputs, keras.layers.Dropout(0.2)(inner_inputs), name="inner")
    h = inner(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    block = keras.Sequential(
        [keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dropout(0.2)]
    )
    return keras.Model(inputs, keras.layers.Dense(3)(block(h)))


@pytest.mark.slow
def test_keras_containers_raise_nothing() -> None:
    model = _containers()
    assert strict(model) >= 12
    model(X)
    model(X, training=True)
    # JAX: one jitted step (its eager RNN loops are the slow path); TensorFlow: no XLA compile.
    model.compile("sgd", "mse", jit_compile=keras.backend.backend() == "jax")
    model.fit(X, Y, epochs=1, verbose=0, shuffle=False)
    assert model.predict(X, verbose=0).shape == (4, 3)


class _Forgetful(keras.layers.Layer):
    """A planted drop: proves the harness reaches layers nested in Keras containers."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x, training=None):  # type: ignore[no-untyped-def]
        return self.drop(x)  # planted


@pytest.mark.slow
def test_a_planted_drop_inside_keras_containers_is_caught() -> None:
    inputs = keras.Input((5, 6))
    h = keras.layers.TimeDistributed(keras.Sequential([keras.layers.Dense(6), _Forgetful()]))(
        inputs
    )
    model = keras.Model(inputs, h)
    strict(model)
    with pytest.raises(DroppedTrainingFlagError, match=r"_Forgetful.call calls self.drop \(Dropo"):
        model(X, training=True)
