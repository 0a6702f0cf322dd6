"""An eager training call computes exactly what plain Keras computes: writes happen when Keras
makes them, reads see what Keras sees, and nothing runs twice.

Each test is a pair: the same layers, the same weights, in `keras.Sequential` or a model that
forwards `training` by hand, and in `TrainingSequential` or a `TrainingAwareModel` that forwards
nothing; the weights after training must be bit-identical. The layers are the kind that broke a
deferred-write design: Keras' own `SpectralNormalization` (it assigns the wrapped kernel and reads
it back in the same call), a layer that assigns a running statistic and reads it in the same call,
a layer that reads a sublayer's `.losses` inside `call`, and a model whose first call builds it
(Python side effects, NumPy's and PyTorch's global random state, an unseeded Dropout's mask).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND, same_arrays, to_numpy
from training_aware import TrainingAwareLayer, TrainingAwareModel, TrainingSequential

X = np.random.default_rng(0).standard_normal((8, 5)).astype("float32")
Y = np.random.default_rng(1).standard_normal((8, 4)).astype("float32")


class RunningMax(keras.layers.Layer):
    """Assigns a running maximum in training and reads it back in the same call."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        self.peak = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x: Any, training: Any = None) -> Any:
        if training:
            self.peak.assign(keras.ops.maximum(self.peak, keras.ops.max(keras.ops.abs(x))))
        return x * self.scale / (self.peak + 1.0)


def spectral() -> list[keras.layers.Layer]:
    return [keras.layers.Dense(4), keras.layers.SpectralNormalization(keras.layers.Dense(4))]


def running_max() -> list[keras.layers.Layer]:
    return [keras.layers.Dense(4), RunningMax(), keras.layers.Dense(4)]


LAYERS = {"spectral_normalization": spectral, "running_max": running_max}


class HandForwarded(keras.Model):
    def __init__(self, layers: list[keras.layers.Layer]) -> None:
        super().__init__()
        self.stack = layers

    def call(self, x: Any, training: Any = None) -> Any:
        for layer in self.stack:
            x = layer(x, training=training) if layer._call_has_training_arg else layer(x)
        return x


class ForwardsNothing(TrainingAwareModel):
    def __init__(self, layers: list[keras.layers.Layer]) -> None:
        super().__init__()
        self.stack = layers

    def call(self, x: Any) -> Any:
        for layer in self.stack:
            x = layer(x)
        return x


PAIRS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sequential": (keras.Sequential, TrainingSequential),
    "model": (HandForwarded, ForwardsNothing),
}


def pair(layers: str, kind: str) -> tuple[Any, Any]:
    plain_class, ours_class = PAIRS[kind]
    plain, ours = plain_class(LAYERS[layers]()), ours_class(LAYERS[layers]())
    plain(X[:2])
    ours(X[:2])
    for a, b in zip(ours.layers, plain.layers, strict=True):
        a.set_weights(b.get_weights())
    return plain, ours


def weights(model: Any) -> list[np.ndarray]:
    return [to_numpy(v) for v in model.weights]


def train_by_hand(model: Any, steps: int = 3) -> None:
    """The backend's own eager loop: gradients of an eager training call, SGD applied by hand."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        for _ in range(steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(X, training=True) - Y) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            for variable, grad in zip(model.trainable_variables, grads, strict=True):
                variable.assign_sub(0.1 * grad)
    elif BACKEND == "torch":
        import torch

        for _ in range(steps):
            model.zero_grad()
            loss = torch.mean((model(X, training=True) - torch.as_tensor(Y)) ** 2)
            loss.backward()
            with torch.no_grad():
                for variable in model.trainable_variables:
                    variable.value.sub_(0.1 * variable.value.grad)
    else:  # JAX has no eager gradient of a stateful call: the eager forward passes and updates
        for _ in range(steps):
            model(X, training=True)


@pytest.mark.backend
@pytest.mark.parametrize("kind", list(PAIRS))
@pytest.mark.parametrize("layers", list(LAYERS))
@pytest.mark.parametrize("how", ["fit", "fit_run_eagerly", "custom_loop"])
def test_training_matches_plain_keras_bit_for_bit(layers: str, kind: str, how: str) -> None:
    plain, ours = pair(layers, kind)
    initial = weights(plain)
    assert same_arrays(weights(ours), initial)
    for model in (plain, ours):
        if how == "custom_loop":
            train_by_hand(model)
        else:
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=how != "fit")
            model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert not same_arrays(weights(plain), initial)  # it did train
    assert same_arrays(weights(ours), weights(plain))


class WeighsItsRegularizer(keras.layers.Layer):
    """Reads its sublayer's `.losses` inside `call` to add a weighted copy of them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4, kernel_regularizer="l2", activity_regularizer="l2")

    def call(self, x: Any, training: Any = None) -> Any:
        y = self.dense(x)
        for loss in self.dense.losses:
            self.add_loss(0.5 * loss)
        return y


class AwareWeighsItsRegularizer(TrainingAwareLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4, kernel_regularizer="l2", activity_regularizer="l2")

    def call(self, x: Any) -> Any:
        y = self.dense(x)
        for loss in self.dense.losses:
            self.add_loss(0.5 * loss)
        return y


@pytest.mark.backend
@pytest.mark.parametrize(
    "make", [lambda: TrainingSequential([WeighsItsRegularizer()]), AwareWeighsItsRegularizer]
)
def test_a_layer_reading_a_sublayers_losses_inside_call(make: Callable[[], Any]) -> None:
    plain = keras.Sequential([WeighsItsRegularizer()])
    ours = make()
    plain(X)
    ours(X)
    ours.set_weights(plain.get_weights())
    out_plain = to_numpy(plain(X, training=True))
    out_ours = to_numpy(ours(X, training=True))
    assert np.array_equal(out_ours, out_plain)
    plain_losses = [float(to_numpy(v)) for v in plain.losses]
    assert len(plain_losses) == 4 and min(plain_losses) > 0
    assert [float(to_numpy(v)) for v in ours.losses] == plain_losses


class Counting(keras.layers.Layer):
    """Each run of `call` leaves a trace: a counter, NumPy's and the backend's global RNG."""

    runs = 0

    def call(self, x: Any, training: Any = None) -> Any:
        type(self).runs += 1
        if isinstance(x, keras.KerasTensor):  # not traceable: its parent builds in the real call
            raise NotImplementedError("eager only")
        np.random.rand()
        if BACKEND == "torch":
            import torch

            torch.rand(1)
        return x


def sequential_built_on_first_call(aware: bool) -> Any:
    """`Counting` cannot be traced, so the layers after it are built inside the first call."""
    layers = [
        keras.layers.Dense(4),
        Counting(),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.5),  # unseeded
    ]
    return TrainingSequential(layers) if aware else keras.Sequential(layers)


def layer_built_on_first_call(aware: bool) -> Any:
    """A layer without `build()`: Keras builds its sublayers inside its first call."""
    if aware:

        class Ours(TrainingAwareLayer):
            def __init__(self) -> None:
                super().__init__()
                self.dense = keras.layers.Dense(4)
                self.count = Counting()
                self.bn = keras.layers.BatchNormalization()
                self.drop = keras.layers.Dropout(0.5)  # unseeded

            def call(self, x: Any) -> Any:
                return self.drop(self.bn(self.count(self.dense(x))))

        return Ours()

    class Plain(keras.layers.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.count = Counting()
            self.bn = keras.layers.BatchNormalization()
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x: Any, training: Any = None) -> Any:
            x = self.count(self.dense(x), training=training)
            return self.drop(self.bn(x, training=training), training=training)

    return Plain()


BUILT_ON_FIRST_CALL = {
    "sequential": sequential_built_on_first_call,
    "layer": layer_built_on_first_call,
}


def first_training_call(
    make: Callable[[bool], Any], aware: bool
) -> tuple[int, Any, Any, np.ndarray, list[np.ndarray]]:
    keras.utils.set_random_seed(7)
    Counting.runs = 0
    model = make(aware)
    out = to_numpy(model(X, training=True))  # builds, then runs
    torch_state = None
    if BACKEND == "torch":
        import torch

        torch_state = torch.get_rng_state().numpy().copy()
    return Counting.runs, np.random.get_state()[1].copy(), torch_state, out, weights(model)


@pytest.mark.backend
@pytest.mark.parametrize("kind", list(BUILT_ON_FIRST_CALL))
def test_the_first_training_call_runs_the_body_as_often_as_plain_keras(kind: str) -> None:
    make = BUILT_ON_FIRST_CALL[kind]
    runs_plain, numpy_plain, torch_plain, out_plain, plain = first_training_call(make, False)
    runs_ours, numpy_ours, torch_ours, out_ours, ours = first_training_call(make, True)
    assert runs_plain >= 1
    assert runs_ours == runs_plain
    assert np.array_equal(numpy_ours, numpy_plain)
    if torch_plain is not None:
        assert np.array_equal(torch_ours, torch_plain)
    assert np.array_equal(out_ours, out_plain)  # the same Dropout mask, the same statistics
    assert same_arrays(ours, plain)


@pytest.mark.backend
@pytest.mark.parametrize("kind", list(PAIRS))
def test_a_failed_training_call_leaves_what_plain_keras_leaves(kind: str) -> None:
    """No rollback: a child that raises after a BatchNorm updated its statistics leaves them
    updated, in plain Keras and here alike (docs/design.md, "Failed calls")."""

    class FailsOnSix(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            if x.shape[0] == 6:
                raise RuntimeError("boom")
            return x

    def layers() -> list[keras.layers.Layer]:
        return [keras.layers.Dense(4), keras.layers.BatchNormalization(), FailsOnSix()]

    plain_class, ours_class = PAIRS[kind]
    plain, ours = plain_class(layers()), ours_class(layers())
    plain(X[:4])
    ours(X[:4])
    for a, b in zip(ours.layers, plain.layers, strict=True):
        a.set_weights(b.get_weights())
    before = weights(plain)
    for model in (plain, ours):
        with pytest.raises(RuntimeError, match="boom"):
            model(X[:6], training=True)
    assert not same_arrays(weights(plain), before)  # plain Keras keeps the half-done update
    assert same_arrays(weights(ours), weights(plain))
