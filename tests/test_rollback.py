"""One rollback rule for the three containers: a failed eager training call changes nothing.

`TrainingAwareModel`, `TrainingSequential` and `PinnedMode` run an eager training call as a
transaction (Keras' `StatelessScope`): a child that fails after a BatchNorm updated its statistics
leaves every weight, statistic and seed state exactly as before; a call that succeeds changes
them exactly as plain Keras does, with nothing copied (src/training_aware/_rollback.py).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from tests.conftest import non_trainable_values, same_arrays, to_numpy
from training_aware import PinnedMode, TrainingAwareModel, TrainingSequential

X = np.random.default_rng(0).standard_normal((6, 5)).astype("float32")


class FailsOnRealData(keras.layers.Layer):
    """Passes symbolic traces (batch None) and 4-row batches; raises on the 6-row batch."""

    def call(self, x: Any) -> Any:
        if x.shape[0] == 6:
            raise RuntimeError("boom")
        return x


class Model(TrainingAwareModel):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)
        self.bn = keras.layers.BatchNormalization()
        self.drop = keras.layers.Dropout(0.5)
        self.fail = FailsOnRealData()

    def call(self, x: Any) -> Any:  # forwards nothing
        return self.fail(self.drop(self.bn(self.dense(x))))


def sequential() -> keras.layers.Layer:
    return TrainingSequential(
        [
            keras.layers.Dense(4),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            FailsOnRealData(),
        ]
    )


def pinned() -> keras.layers.Layer:
    block = keras.Sequential(
        [
            keras.layers.Dense(4),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            FailsOnRealData(),
        ]
    )
    return PinnedMode(block, training=True)


def state(layer: keras.layers.Layer) -> list[np.ndarray]:
    return [to_numpy(w) for w in layer.trainable_weights] + non_trainable_values(layer)


@pytest.mark.backend
@pytest.mark.parametrize("make", [Model, sequential, pinned], ids=["model", "sequential", "pinned"])
def test_a_failed_training_call_leaves_everything_as_it_was(make: Any) -> None:
    layer = make()
    layer(X[:4], training=True)  # built, and called once: the common case
    before = state(layer)
    with pytest.raises(RuntimeError, match="boom"):
        layer(X, training=True)
    assert same_arrays(state(layer), before)  # statistics, seed states and weights
    layer(X[:4], training=True)  # the same call that succeeds does change them
    assert not same_arrays(state(layer), before)


@pytest.mark.backend
def test_plain_keras_keeps_the_half_done_update() -> None:
    """The plain-Keras half: a failing child leaves BatchNorm's statistics changed."""
    block = keras.Sequential(
        [keras.layers.Dense(4), keras.layers.BatchNormalization(), FailsOnRealData()]
    )
    block(X[:4], training=True)
    before = non_trainable_values(block)
    with pytest.raises(RuntimeError, match="boom"):
        block(X, training=True)
    assert not same_arrays(non_trainable_values(block), before)


@pytest.mark.backend
def test_a_successful_call_matches_plain_keras_exactly() -> None:
    """Deferred updates are assigned once, at the end: the same values as in-place updates."""
    keras.utils.set_random_seed(0)
    ours = TrainingSequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
    plain = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
    ours.build((None, 5))
    plain.build((None, 5))
    plain.set_weights(ours.get_weights())
    for _ in range(3):
        out_ours = to_numpy(ours(X, training=True))
        out_plain = to_numpy(plain(X, training=True))
        assert np.array_equal(out_ours, out_plain)
    assert same_arrays(non_trainable_values(ours), non_trainable_values(plain))


@pytest.mark.backend
def test_activity_regularization_losses_survive_the_transaction() -> None:
    seq = TrainingSequential(
        [keras.layers.Dense(4, activity_regularizer="l2"), keras.layers.BatchNormalization()]
    )
    seq(X, training=True)
    seq(X, training=True)  # the second call runs as a transaction
    assert len(seq.losses) == 1 and float(to_numpy(seq.losses[0])) > 0.0


@pytest.mark.backend
def test_a_child_built_inside_a_training_call_gets_real_weights() -> None:
    """A layer created by a later call builds outside the transaction (its variables exist)."""
    seq = TrainingSequential([keras.layers.Dense(4)])
    seq(X, training=True)
    seq.add(keras.layers.BatchNormalization(), rebuild=False)
    out = to_numpy(seq(X, training=True))
    bn = seq[1]
    assert bn.built and np.all(np.isfinite(out))
    assert not np.array_equal(to_numpy(bn.moving_mean), np.zeros(4, "float32"))
