"""TrainingAwareModel / TrainingAwareLayer: each FACTS row as a pair, plain Keras then the fix."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND, bn_stats, same_arrays, to_numpy
from tests.seed_models import bad_model, complex_model, good_model
from training_aware import TrainingAwareLayer, TrainingAwareModel

X = np.random.RandomState(0).normal(size=(32, 10)).astype("float32")
Y = np.random.RandomState(1).normal(size=(32, 8)).astype("float32")


def _fit_once(model: keras.Model, learning_rate: float = 0.01) -> float:
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    history = model.fit(X, Y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    return float(history.history["loss"][0])


def _dropout_fires_in_fit(model: keras.Model) -> bool:
    """With a zero learning rate, `fit`'s loss differs from `evaluate`'s iff something trained."""
    model(X[:2])
    train_loss = _fit_once(model, learning_rate=0.0)
    eval_loss = float(model.evaluate(X, Y, batch_size=32, verbose=0))
    return not np.isclose(train_loss, eval_loss, rtol=0, atol=1e-7)


class DropOnly(keras.Model):
    """Dense then Dropout, `call` without `training`: only Dropout can make fit differ."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.dropout = keras.layers.Dropout(0.5)

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.dropout(self.dense(x))


class DropOnlyAware(TrainingAwareModel, DropOnly):
    pass


# F1 ------------------------------------------------------------------------------------------


@pytest.mark.backend
def test_f1_plain_keras_fit_never_trains_a_call_without_training() -> None:
    model = bad_model(units=8)
    model(X[:2])
    before = bn_stats(model)
    _fit_once(model)
    assert same_arrays(before, bn_stats(model)), "Keras fixed F1: update FACTS.md and the docs"
    assert not _dropout_fires_in_fit(DropOnly())


@pytest.mark.backend
def test_f1_training_aware_model_trains_bad_model_unchanged() -> None:
    model = bad_model(TrainingAwareModel, units=8)
    model(X[:2])
    before = bn_stats(model)
    _fit_once(model)
    after_fit = bn_stats(model)
    assert not same_arrays(before, after_fit), "fit must update BatchNorm statistics"
    assert _dropout_fires_in_fit(DropOnlyAware()), "Dropout must be active in the training step"
    first = model.predict(X, verbose=0)
    second = model.predict(X, verbose=0)
    assert np.array_equal(first, second), "predict must be deterministic"
    assert same_arrays(after_fit, bn_stats(model)), "predict must not touch the statistics"


# F2 ------------------------------------------------------------------------------------------


def _implicit(base: type) -> keras.Model:
    class Implicit(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(8)
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=False):  # type: ignore[no-untyped-def]
            return self.bn(self.dense(x))  # declares `training`, forwards nothing

    return Implicit()


@pytest.mark.backend
def test_f2_declared_but_not_forwarded_plain_keras_depends_on_backend() -> None:
    model = _implicit(keras.Model)
    model(X[:2])
    before = bn_stats(model)
    _fit_once(model)
    updated = not same_arrays(before, bn_stats(model))
    # TF propagates through the shared call context; JAX's stateless path does not (F2).
    assert updated == (BACKEND != "jax")


@pytest.mark.backend
def test_f2_training_aware_trains_on_every_backend() -> None:
    model = _implicit(TrainingAwareModel)
    model(X[:2])
    before = bn_stats(model)
    _fit_once(model)
    assert not same_arrays(before, bn_stats(model))


# F3 ------------------------------------------------------------------------------------------


def _mc_trick(base: type) -> keras.Model:
    class McTrick(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(8)
            self.drop = keras.layers.Dropout(0.5)
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=False):  # type: ignore[no-untyped-def]
            x = self.drop(self.dense(x), training=True)  # the usual MC-dropout trick
            return self.bn(x)

    return McTrick()


@pytest.mark.backend
def test_f3_plain_keras_explicit_override_leaks_to_sibling_batchnorm() -> None:
    model = _mc_trick(keras.Model)
    model(X[:2])
    before = bn_stats(model)
    model(X, training=False)
    assert not same_arrays(before, bn_stats(model)), "Keras fixed F3: update FACTS.md"
    if BACKEND == "tensorflow":
        before = bn_stats(model)
        model.predict(X, verbose=0)
        assert not same_arrays(before, bn_stats(model))


@pytest.mark.backend
def test_f3_training_aware_keeps_the_override_in_its_subtree() -> None:
    model = _mc_trick(TrainingAwareModel)
    model(X[:2])
    before = bn_stats(model)
    model.predict(X, verbose=0)
    assert same_arrays(before, bn_stats(model))
    model(X, training=False)
    assert same_arrays(before, bn_stats(model))
    # The override itself still holds: dropout zeroes some units at inference.
    out = to_numpy(model.drop(X[:, :8], training=True))
    assert (out == 0).any()


# F13 -----------------------------------------------------------------------------------------


def _fine_tune(base: type) -> keras.Model:
    class FineTune(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = keras.Sequential(
                [keras.layers.Dense(8), keras.layers.BatchNormalization()]
            )
            self.head_bn = keras.layers.BatchNormalization()
            self.head_drop = keras.layers.Dropout(0.5)
            self.out = keras.layers.Dense(8)

        def call(self, x, training=False):  # type: ignore[no-untyped-def]
            h = self.backbone(x, training=False)  # the frozen-backbone idiom
            return self.out(self.head_drop(self.head_bn(h)))

    return FineTune()


@pytest.mark.backend
@pytest.mark.parametrize("base", [keras.Model, TrainingAwareModel], ids=["plain", "aware"])
def test_f13_frozen_backbone_then_head(base: type) -> None:
    model = _fine_tune(base)
    model(X[:2])
    backbone_before, head_before = bn_stats(model.backbone), bn_stats(model.head_bn)
    _fit_once(model)
    assert same_arrays(backbone_before, bn_stats(model.backbone)), "backbone stays in inference"
    head_trained = not same_arrays(head_before, bn_stats(model.head_bn))
    if base is keras.Model:
        assert not head_trained, "Keras fixed F13: update FACTS.md"
    else:
        assert head_trained, "the head BatchNorm must train during fit"


# The seed's good examples behave exactly as on plain Keras -----------------------------------


@pytest.mark.backend
@pytest.mark.parametrize("factory", [good_model, complex_model], ids=["GoodModel", "ComplexModel"])
def test_seed_good_examples_are_unchanged(factory) -> None:  # type: ignore[no-untyped-def]
    plain, aware = factory(rate=0.0), factory(TrainingAwareModel, rate=0.0)
    plain(X[:2])
    aware(X[:2])
    aware.set_weights(plain.get_weights())
    assert np.array_equal(to_numpy(plain(X)), to_numpy(aware(X)))
    assert np.array_equal(to_numpy(plain(X, training=True)), to_numpy(aware(X, training=True)))
    assert same_arrays(bn_stats(plain), bn_stats(aware))
    assert np.array_equal(plain.predict(X, verbose=0), aware.predict(X, verbose=0))


# Explicit values stay in their subtree --------------------------------------------------------


class Recorder(keras.layers.Layer):
    """A real layer that remembers the `training` it was given (at trace time when compiled)."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.seen: list[object] = []

    def call(self, x, training=None):  # type: ignore[no-untyped-def]
        self.seen.append(training)
        return x


class Block(TrainingAwareLayer):
    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.inner = Recorder()

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.inner(x)


class Tree(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.pinned = Block()
        self.free = Block()
        self.sibling = Recorder()

    def call(self, x):  # type: ignore[no-untyped-def]
        x = self.pinned(x, training=False)
        x = self.free(x)
        return self.sibling(x)


@pytest.mark.backend
def test_explicit_value_applies_to_its_subtree_only() -> None:
    model = Tree()
    model(X, training=True)
    assert model.pinned.inner.seen[-1] is False
    assert model.free.inner.seen[-1] is True
    assert model.sibling.seen[-1] is True
    model(X)
    assert model.free.inner.seen[-1] is False, "a bare call resolves to inference"


def test_nested_in_plain_keras_model_restores_the_shared_context() -> None:
    """A training-aware block with an inner override must not leak into a plain parent."""

    class Leaky(TrainingAwareLayer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.drop(x, training=True)

    class Parent(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.block = Leaky()
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=False):  # type: ignore[no-untyped-def]
            return self.bn(self.block(x))

    model = Parent()
    model(X[:2])
    before = bn_stats(model)
    model(X, training=False)
    assert same_arrays(before, bn_stats(model))


# Validation -----------------------------------------------------------------------------------


def test_training_value_is_validated() -> None:
    from training_aware import TrainingValueError

    model = bad_model(TrainingAwareModel, units=4)
    model(X[:2])
    weights, stats = [to_numpy(w) for w in model.weights], bn_stats(model)
    with pytest.raises(TrainingValueError, match=r"BadModel\.call\(\) received training='yes'"):
        model(X, training="yes")
    with pytest.raises(TrainingValueError, match=r"Expected None, True, False"):
        model(X, training=2)  # 0 and 1 are accepted, as plain Keras does (tests/test_mechanism.py)
    assert same_arrays(weights, [to_numpy(w) for w in model.weights])
    assert same_arrays(stats, bn_stats(model))
    out = model(X, training=np.bool_(False))
    assert out.shape == (32, 4)
    out = model(X, training=keras.ops.convert_to_tensor(False))
    assert out.shape == (32, 4)


# F7 and F9 are fixed by the same frames ------------------------------------------------------


class Plain(keras.layers.Layer):
    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x, training=None):  # type: ignore[no-untyped-def]
        return self.bn(x)


def _direct_call(base: type) -> keras.Model:
    class DirectCall(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.block = Plain()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.block.call(x)  # bypasses Block.__call__ (FACTS F7)

    return DirectCall()


@pytest.mark.backend
@pytest.mark.parametrize("base", [keras.Model, TrainingAwareModel], ids=["plain", "aware"])
def test_f7_direct_call_still_reaches_grandchildren(base: type) -> None:
    model = _direct_call(base)
    model(X[:2])
    before = bn_stats(model)
    model.compile("sgd", "mse")
    model.fit(X, X, epochs=1, batch_size=32, verbose=0)
    trained = not same_arrays(before, bn_stats(model))
    assert trained == (base is TrainingAwareModel or BACKEND != "jax")


def _resize_then_bn(base: type) -> keras.Model:
    class ResizeThenBN(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            self.resize = keras.layers.Resizing(4, 4)  # its call defaults training=True
            self.bn = keras.layers.BatchNormalization()

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.bn(self.resize(x))

    return ResizeThenBN()


@pytest.mark.backend
@pytest.mark.parametrize("base", [keras.Model, TrainingAwareModel], ids=["plain", "aware"])
def test_f9_training_true_default_upstream_of_batchnorm(base: type) -> None:
    images = np.random.RandomState(2).uniform(size=(4, 6, 6, 3)).astype("float32")
    model = _resize_then_bn(base)
    model(images[:1])
    before = bn_stats(model)
    model(images)
    changed = not same_arrays(before, bn_stats(model))
    assert changed == (base is keras.Model), "plain Keras leaks Resizing's default (F9)"


def test_positional_only_training_is_rejected_at_class_creation() -> None:
    from training_aware.errors import TrainingConfigError

    with pytest.raises(TrainingConfigError, match=r"PosOnly\.call declares `training` as a posit"):

        class PosOnly(TrainingAwareLayer):
            def call(self, x, training=None, /):  # type: ignore[no-untyped-def]
                return x


def test_explicit_value_on_an_aware_block_does_not_leak_into_a_plain_parent() -> None:
    class Block(TrainingAwareLayer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.drop(x)

    class Parent(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.block = Block()
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=False):  # type: ignore[no-untyped-def]
            return self.bn(self.block(x, training=True))  # MC dropout on the block only

    model = Parent()
    model(X[:2])
    before = bn_stats(model)
    out = to_numpy(model(X, training=False))
    assert same_arrays(before, bn_stats(model)), "the block's True leaked to the parent's BN"
    assert (out == to_numpy(model.bn(np.zeros_like(X), training=False))).any()
