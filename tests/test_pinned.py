"""PinnedMode: FACTS F3, F4, F6 as pairs (plain Keras shows the bug, PinnedMode fixes it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND, bn_stats, same_arrays
from training_aware import PinnedMode, TrainingSequential
from training_aware.errors import InvalidChildError, TrainingFlagError, TrainingValueError

X = np.random.RandomState(0).normal(size=(16, 4)).astype("float32")
Y = np.random.RandomState(1).normal(size=(16, 8)).astype("float32")


def np_(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def dropout_applied(out: np.ndarray, x: np.ndarray, rate: float) -> bool:
    """Every entry is 0 or x / (1 - rate), and some are 0."""
    kept = np.isclose(out, x / (1 - rate))
    return bool(np.all(kept | (out == 0)) and np.any(out == 0))


# -- F3: an explicit override leaks to a later sibling BatchNorm ---------------------------------


class PlainMcModel(keras.Model):
    """The usual MC-dropout trick: `self.drop(x, training=True)` then `self.bn(x)`."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.drop = keras.layers.Dropout(0.5)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x: Any, training: Any = None) -> Any:
        return self.bn(self.drop(self.dense(x), training=True))


class PinnedMcModel(keras.Model):
    """The same model, the override moved into the layer: a plain keras.Model, no base class."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.drop = PinnedMode(keras.layers.Dropout(0.5), training=True)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x: Any, training: Any = None) -> Any:
        return self.bn(self.drop(self.dense(x)))


@pytest.mark.backend
def test_f3_explicit_override_leaks_to_sibling_batchnorm_and_pinned_mode_does_not() -> None:
    plain, pinned = PlainMcModel(), PinnedMcModel()
    for model in (plain, pinned):
        model(X[:2], training=False)  # build
    plain_before, pinned_before = bn_stats(plain), bn_stats(pinned)
    plain(X, training=False)
    pinned(X, training=False)
    assert not same_arrays(bn_stats(plain), plain_before)  # the bug: BN trained in inference
    assert same_arrays(bn_stats(pinned), pinned_before)
    # and the dropout still fires: two inference calls differ
    assert not np.array_equal(np_(pinned(X, training=False)), np_(pinned(X, training=False)))


def test_f3_during_predict() -> None:
    plain, pinned = PlainMcModel(), PinnedMcModel()
    for model in (plain, pinned):
        model(X[:2], training=False)
    plain_before, pinned_before = bn_stats(plain), bn_stats(pinned)
    plain.predict(X, verbose=0)
    pinned.predict(X, verbose=0)
    if BACKEND == "tensorflow":  # FACTS F3: predict leaks on TF (JAX's stateless path does not)
        assert not same_arrays(bn_stats(plain), plain_before)
    assert same_arrays(bn_stats(pinned), pinned_before)
    assert not np.array_equal(pinned.predict(X, verbose=0), pinned.predict(X, verbose=0))


# -- F4: a hard-coded `training=True` in a Functional model is off in predict --------------------


def functional(pinned: bool) -> keras.Model:
    inputs = keras.Input((4,))
    if pinned:
        outputs = PinnedMode(keras.layers.Dropout(0.5), training=True)(inputs)
    else:
        outputs = keras.layers.Dropout(0.5)(inputs, training=True)
    return keras.Model(inputs, outputs)


@pytest.mark.backend
def test_f4_hard_coded_training_is_ignored_by_predict_and_pinned_mode_is_not(
    tmp_path: Path,
) -> None:
    plain, pinned = functional(pinned=False), functional(pinned=True)
    assert np.array_equal(plain.predict(X, verbose=0), X)  # the bug: dropout off in predict
    assert dropout_applied(pinned.predict(X, verbose=0), X, 0.5)
    assert dropout_applied(np_(pinned(X)), X, 0.5)
    plain.save(tmp_path / "plain.keras")
    pinned.save(tmp_path / "pinned.keras")
    reloaded_plain = keras.models.load_model(tmp_path / "plain.keras")
    reloaded = keras.models.load_model(tmp_path / "pinned.keras")  # no custom_objects
    assert np.array_equal(reloaded_plain.predict(X, verbose=0), X)
    assert dropout_applied(reloaded.predict(X, verbose=0), X, 0.5)
    assert isinstance(reloaded.layers[-1], PinnedMode)


# -- F6: an MC-dropout subclass cannot be reloaded without custom_objects ------------------------


class MCDropout(keras.layers.Dropout):
    """The other MC recipe: a Dropout subclass that forces training (not registered)."""

    def call(self, inputs: Any, training: Any = None) -> Any:
        return super().call(inputs, training=True)


@pytest.mark.backend
def test_f6_subclass_needs_custom_objects_and_pinned_mode_reloads_plainly(tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    plain = keras.Model(inputs, MCDropout(0.5)(inputs))
    assert dropout_applied(plain.predict(X, verbose=0), X, 0.5)  # it works...
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(TypeError, match="MCDropout"):  # ...but cannot be reloaded plainly
        keras.models.load_model(tmp_path / "plain.keras")

    pinned = functional(pinned=True)
    pinned.save(tmp_path / "pinned.keras")
    reloaded = keras.models.load_model(tmp_path / "pinned.keras")
    assert dropout_applied(reloaded.predict(X, verbose=0), X, 0.5)


# -- the pinned layer's own sublayers, siblings under fit, explicit arguments ---------------------


class Block(keras.layers.Layer):
    """A custom block whose `call` forwards nothing: its BatchNorm relies on propagation."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x: Any) -> Any:
        return self.bn(self.dense(x))


@pytest.mark.backend
def test_pinned_mode_reaches_the_wrapped_layers_sublayers() -> None:
    block = Block()
    pinned = PinnedMode(block, training=True)
    pinned(X[:2])
    before = bn_stats(block)
    pinned(X, training=False)  # the caller's False loses to the pinned True, inside the block too
    assert not same_arrays(bn_stats(block), before)


@pytest.mark.backend
def test_a_failed_pinned_call_leaves_what_the_plain_call_leaves() -> None:
    """No rollback (docs/design.md, "Failed calls"): as `block(x, training=True)` in plain
    Keras, the BatchNorm that ran before the failure keeps its updated statistics."""

    class FailsAfterBatchNorm(Block):
        def call(self, x: Any) -> Any:
            y = self.bn(self.dense(x))
            if x.shape[0] == 16:  # symbolic traces (batch None) pass; this eager call fails
                raise RuntimeError("boom")
            return y

    block, twin = FailsAfterBatchNorm(), FailsAfterBatchNorm()
    pinned = PinnedMode(block, training=True)
    pinned(X[:2])
    twin(X[:2])
    twin.set_weights(block.get_weights())
    before = bn_stats(block)
    with pytest.raises(RuntimeError, match="boom"):
        pinned(X)
    with pytest.raises(RuntimeError, match="boom"):
        twin(X, training=True)
    assert not same_arrays(bn_stats(twin), before)
    assert same_arrays(bn_stats(block), bn_stats(twin))


@pytest.mark.backend
def test_pinned_false_keeps_a_block_in_inference_during_fit_without_leaking() -> None:
    frozen, head = Block(), keras.layers.BatchNormalization()
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(8)(head(PinnedMode(frozen, training=False)(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    frozen_before, head_before = bn_stats(frozen), bn_stats(head)
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert same_arrays(bn_stats(frozen), frozen_before)
    assert not same_arrays(bn_stats(head), head_before)  # the sibling still trained


@pytest.mark.backend
def test_pinned_mode_inside_training_sequential() -> None:
    bn = keras.layers.BatchNormalization()
    model = TrainingSequential(
        [keras.layers.Dense(4), PinnedMode(keras.layers.Dropout(0.5), training=True), bn]
    )
    model.build((None, 4))
    before = bn_stats(model)
    out1, out2 = np_(model(X)), np_(model(X))
    assert not np.array_equal(out1, out2)  # dropout on
    assert same_arrays(bn_stats(model), before)  # the BatchNorm after it in inference


@pytest.mark.backend
def test_extra_positional_arguments_reach_the_wrapped_layer() -> None:
    attention = keras.layers.MultiHeadAttention(num_heads=1, key_dim=2, dropout=0.5)
    pinned = PinnedMode(attention, training=True)
    q = np.stack([X, 2 * X, 3 * X], axis=1)
    v = q[:, ::-1]
    first, second = np_(pinned(q, v)), np_(pinned(q, v))
    assert first.shape == (16, 3, 4)
    assert not np.array_equal(first, second)  # attention dropout on, though nobody asked
    assert np.array_equal(np_(attention(q, v)), np_(attention(q, v)))  # unwrapped: off


# -- construction errors, config, shapes -------------------------------------------------------


def test_non_layer_is_rejected_at_construction() -> None:
    with pytest.raises(InvalidChildError, match=r"received <function .*not a Keras layer.*Lambda"):
        PinnedMode(lambda x: x, training=True)
    with pytest.raises(TypeError, match=r"received 'dropout' \(of type builtins.str\)"):
        PinnedMode("dropout", training=True)


@pytest.mark.parametrize("bad", [None, 1, "yes", 0.5])
def test_non_bool_training_is_rejected_at_construction(bad: Any) -> None:
    with pytest.raises(TrainingValueError, match=r"PinnedMode\(training=\.\.\.\) received") as e:
        PinnedMode(keras.layers.Dropout(0.5), training=bad)
    assert isinstance(e.value, TrainingFlagError) and isinstance(e.value, TypeError)


def test_numpy_bool_is_accepted() -> None:
    assert PinnedMode(keras.layers.Dropout(0.5), training=np.bool_(True)).pinned_training is True


def test_config_round_trip_build_and_output_shape() -> None:
    pinned = PinnedMode(keras.layers.Dense(3), training=False, name="p")
    assert pinned.compute_output_shape((None, 4)) == (None, 3)
    pinned.build((None, 4))
    assert len(pinned.weights) == 2
    config = pinned.get_config()
    assert config["training"] is False and config["layer"]["class_name"] == "Dense"
    clone = PinnedMode.from_config(config)
    assert clone.name == "p" and clone.pinned_training is False
    assert isinstance(clone.layer, keras.layers.Dense) and clone.layer.units == 3
    assert "training=False" in repr(clone)
