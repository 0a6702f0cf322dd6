"""@forwards_training and training_check="warn"|"error": loud failures, with the fix."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND, bn_stats, same_arrays
from tests.seed_models import complex_model, good_model
from training_aware import (
    DroppedTrainingFlagError,
    MissingTrainingArgumentError,
    TrainingAwareModel,
    TrainingFlagError,
    TrainingSequential,
    forwards_training,
    set_training_check,
)
from training_aware.check import DroppedTrainingFlagWarning, depends_on_training
from training_aware.errors import TrainingConfigError

X = np.random.RandomState(0).normal(size=(8, 6)).astype("float32")
Y = np.random.RandomState(1).normal(size=(8, 4)).astype("float32")


class Forgetful(keras.Model):
    """The seed's Example 1 with a `training` parameter added but not forwarded."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.batch_norm = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(0.5)

    def call(self, inputs, training=None):  # type: ignore[no-untyped-def]
        x = self.dense(inputs)
        x = self.batch_norm(x)
        x = self.dropout(x)
        return x


def test_example_1_without_training_parameter_fails_at_decoration() -> None:
    with pytest.raises(MissingTrainingArgumentError, match=r"BadModel: `call` has no `training`"):

        @forwards_training
        class BadModel(keras.Model):
            def call(self, inputs):  # type: ignore[no-untyped-def]
                return inputs


@pytest.mark.parametrize("factory", [good_model, complex_model], ids=["Example2", "Example3"])
def test_examples_2_and_3_pass(factory) -> None:  # type: ignore[no-untyped-def]
    model = factory(units=4)
    forwards_training(type(model))
    model(X, training=True)
    model.compile("sgd", "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    assert model.predict(X, verbose=0).shape == (8, 4)


def test_dropped_flag_names_class_attribute_child_line_and_fix() -> None:
    checked = forwards_training(type("Checked", (Forgetful,), {}))
    model = checked()
    with pytest.raises(DroppedTrainingFlagError) as info:
        model(X, training=True)
    message = str(info.value)
    assert message.startswith("Checked.call calls self.batch_norm (BatchNormalization")
    assert f"{__file__}:" in message
    assert "x = self.batch_norm(x, training=training)" in message
    assert "dense" not in message.split("Fix:")[0], "Dense ignores `training`: not a finding"


def test_failed_check_leaves_the_model_unchanged() -> None:
    model = Forgetful()
    model(X)  # built and called once, unchecked
    checked = forwards_training(type("Checked2", (Forgetful,), {}))
    model.__class__ = checked
    weights = [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]
    stats = bn_stats(model)
    with pytest.raises(DroppedTrainingFlagError):
        model(X, training=True)
    assert same_arrays(stats, bn_stats(model))
    assert same_arrays(weights, [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights])


def test_helper_functions_and_loops_count_as_direct_children() -> None:
    @forwards_training
    class ViaHelper(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.blocks = [keras.layers.Dense(6), keras.layers.Dropout(0.3)]

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            def apply(layer, x):  # type: ignore[no-untyped-def]
                return layer(x)

            for layer in self.blocks:
                x = apply(layer, x)
            return x

    with pytest.raises(DroppedTrainingFlagError, match=r"self\.blocks\[1\] \(Dropout"):
        ViaHelper()(X, training=True)


def test_explicit_none_counts_as_not_passing() -> None:
    @forwards_training
    class PassesNone(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None, **kwargs):  # type: ignore[no-untyped-def]
            return self.drop(x, training=kwargs.get("training"))

    with pytest.raises(DroppedTrainingFlagError, match=r"self\.drop \(Dropout"):
        PassesNone()(X, training=True)


def test_grandchildren_belong_to_their_own_parent() -> None:
    class Inner(keras.layers.Layer):  # not decorated: its own business
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x)

    @forwards_training
    class Outer(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.inner = Inner()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.inner(x, training=training)

    assert Outer()(X, training=True).shape == (8, 6)


def test_mode_dependence() -> None:
    class Declares(keras.layers.Layer):
        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return x

    class Reads(keras.layers.Layer):
        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return keras.random.dropout(x, 0.5) if training else x

    class Contains(keras.layers.Layer):
        def __init__(self, rate: float = 0.1, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(rate)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x, training=training)

    assert depends_on_training(keras.layers.Dropout(0.1))
    assert depends_on_training(keras.layers.BatchNormalization())
    assert not depends_on_training(keras.layers.Dense(2))
    assert not depends_on_training(keras.layers.EinsumDense("ab,bc->ac", output_shape=2))
    assert not depends_on_training(Declares()), "declares `training` and never reads it"
    assert depends_on_training(Reads())
    assert depends_on_training(Contains())
    assert not depends_on_training(Contains(0.0)), "forwards it only to a Dropout(0.0)"
    assert not depends_on_training(keras.Sequential([keras.layers.Dense(2)]))
    assert depends_on_training(keras.Sequential([keras.layers.Dense(2), keras.layers.Dropout(0.1)]))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: keras.layers.Dropout(0.0), False),
        (lambda: keras.layers.Dropout(0.2), True),
        (lambda: keras.layers.SpatialDropout1D(0.0), False),
        (lambda: keras.layers.GaussianNoise(0.0), False),
        (lambda: keras.layers.GaussianNoise(0.1), True),
        (lambda: keras.layers.LSTM(2), False),
        (lambda: keras.layers.LSTM(2, dropout=0.1), True),
        (lambda: keras.layers.GRU(2, recurrent_dropout=0.1), True),
        (lambda: keras.layers.GRU(2), False),
        (lambda: keras.layers.SimpleRNN(2), False),
        (lambda: keras.layers.Bidirectional(keras.layers.LSTM(2)), False),
        (lambda: keras.layers.Bidirectional(keras.layers.LSTM(2, dropout=0.3)), True),
        (lambda: keras.layers.TimeDistributed(keras.layers.Dropout(0.0)), False),
        (lambda: keras.layers.TimeDistributed(keras.layers.Dropout(0.4)), True),
        (lambda: keras.layers.MultiHeadAttention(2, 2), False),
        (lambda: keras.layers.MultiHeadAttention(2, 2, dropout=0.1), True),
        (lambda: keras.layers.Attention(), False),
        (lambda: keras.layers.Lambda(lambda x: x), False),
        (lambda: keras.layers.Lambda(lambda x, training=None: x), True),
    ],
)
def test_dependence_is_judged_per_instance(make, expected) -> None:  # type: ignore[no-untyped-def]
    assert depends_on_training(make()) is expected


def test_first_call_only_unless_always() -> None:
    class Branchy(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)
            self.use_drop = False

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x) if self.use_drop else x

    once = forwards_training(type("Once", (Branchy,), {}))()
    once(X, training=True)
    once.use_drop = True
    assert once(X, training=True).shape == (8, 6), "checked on the first call only"

    every = forwards_training(always=True)(type("Every", (Branchy,), {}))()
    every(X, training=True)
    every.use_drop = True
    with pytest.raises(DroppedTrainingFlagError):
        every(X, training=True)


def test_decorating_call_method() -> None:
    class OnCall(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        @forwards_training
        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x)

    with pytest.raises(DroppedTrainingFlagError, match=r"OnCall\.call calls self\.drop"):
        OnCall()(X, training=True)


def test_bad_decorator_targets_fail_at_definition() -> None:
    with pytest.raises(TypeError, match=r"got the class NotALayer"):

        @forwards_training
        class NotALayer:
            def call(self, x, training=None):  # type: ignore[no-untyped-def]
                return x

    with pytest.raises(TypeError, match=r"decorates a keras.layers.Layer .* or its `call`"):
        forwards_training(lambda x: x)


# training_check on TrainingAwareModel ---------------------------------------------------------


def _aware(check: str | None) -> type:
    kwargs = {} if check is None else {"training_check": check}

    class Aware(TrainingAwareModel, **kwargs):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.batch_norm = keras.layers.BatchNormalization()

        def call(self, inputs, training=None):  # type: ignore[no-untyped-def]
            return self.batch_norm(self.dense(inputs))

    return Aware


def test_training_check_error_raises() -> None:
    with pytest.raises(DroppedTrainingFlagError, match=r"Aware.call calls self.batch_norm"):
        _aware("error")()(X, training=True)


def test_training_check_warn_warns_once_per_call_site_and_fixes() -> None:
    model = _aware("warn")()
    with pytest.warns(DroppedTrainingFlagWarning, match=r"self\.batch_norm") as record:
        model(X, training=True)
        _aware("warn")()(X, training=True)  # same call site, new instance: no second warning
    assert len(record) == 1
    initial = [np.zeros(4, "float32"), np.ones(4, "float32")]
    assert not same_arrays(initial, bn_stats(model)), "warn still forwards the mode"


def test_training_check_invalid_value_is_a_clear_error() -> None:
    with pytest.raises(TrainingConfigError, match=r"training_check='fixx'.*'fix'.*'warn'.*'error'"):
        _aware("fixx")
    assert issubclass(TrainingConfigError, TrainingFlagError)


def test_process_wide_default_by_function() -> None:
    set_training_check("error")
    try:
        with pytest.raises(DroppedTrainingFlagError):
            _aware(None)()(X, training=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _aware("fix")()(X, training=True)  # the class's own choice wins
    finally:
        set_training_check(None)
    with pytest.raises(TrainingConfigError, match="set_training_check"):
        set_training_check("loud")  # type: ignore[arg-type]


@pytest.mark.slow  # two fresh interpreters
@pytest.mark.parametrize(
    ("value", "expected"),
    [("error", "DroppedTrainingFlagError"), ("bogus", "TRAINING_AWARE_CHECK")],
)
def test_process_wide_default_by_environment(value: str, expected: str) -> None:
    code = (
        "import numpy as np, keras\n"
        "from training_aware import TrainingAwareModel\n"
        "class M(TrainingAwareModel):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.bn = keras.layers.BatchNormalization()\n"
        "    def call(self, x, training=None):\n"
        "        return self.bn(x)\n"
        "try:\n"
        "    M()(np.ones((2, 3), 'float32'), training=True)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = {
        **os.environ,
        "TRAINING_AWARE_CHECK": value,
        "KERAS_BACKEND": BACKEND,
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert expected in out.stdout


# No false positives on correct code (issue: the Keras guides' `training=None` pattern) --------


def _guide_model(default: object) -> type:
    """The pattern of the Keras guides: `training` declared and forwarded to every child."""

    class Guide(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.bn = keras.layers.BatchNormalization()
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=default):  # type: ignore[no-untyped-def]
            x = self.bn(self.dense(x), training=training)
            return self.drop(x, training=training)

    return forwards_training(always=True)(Guide)


@pytest.mark.parametrize("default", [None, False], ids=["training=None", "training=False"])
def test_correct_model_raises_nothing_anywhere(default: object) -> None:
    guide = _guide_model(default)
    model = guide()
    for mode in (None, True, False):
        model(X, training=mode)
    model(X)
    model.compile("sgd", "mse")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    model.evaluate(X, Y, verbose=0)
    assert model.predict(X, verbose=0).shape == (8, 4)
    inputs = keras.Input((6,))
    functional = keras.Model(inputs, guide()(inputs))  # built symbolically: training=None
    functional.compile("sgd", "mse")
    functional.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert functional.predict(X, verbose=0).shape == (8, 4)
    sequential = keras.Sequential([keras.Input((6,)), guide()])
    sequential.compile("sgd", "mse")
    sequential.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert sequential(X, training=True).shape == (8, 4)
    assert TrainingSequential([guide()])(X, training=True).shape == (8, 4)


def test_forwarded_none_and_conditional_forwarding_are_not_drops() -> None:
    class Conditional(keras.layers.Layer):  # Keras' own Sequential/Functional idiom
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            kwargs = {} if training is None else {"training": training}
            return self.drop(x, **kwargs)

    layer = forwards_training(always=True)(Conditional)()
    for mode in (None, True, False):
        assert layer(X, training=mode).shape == (8, 6)


def test_a_latent_drop_is_reported_on_a_call_without_mode() -> None:
    """`model(x)` (the building call) already reports a child called without the flag."""
    with pytest.raises(DroppedTrainingFlagError, match=r"self\.batch_norm \(BatchNormalization"):
        forwards_training(type("Latent", (Forgetful,), {}))()(X)


def test_layers_whose_mode_changes_nothing_are_not_reported() -> None:
    class Declares(keras.layers.Layer):
        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return x * 2.0

    @forwards_training(always=True)
    class Quiet(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = keras.layers.LSTM(3, return_sequences=True)
            self.gru = keras.layers.GRU(3, dropout=0.0, recurrent_dropout=0.0)
            self.attention = keras.layers.MultiHeadAttention(2, 3, dropout=0.0)
            self.drop = keras.layers.Dropout(0.0)
            self.dense = keras.layers.Dense(3)
            self.einsum = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 3))
            self.declares = Declares()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            h = self.attention(x, x)
            h = self.declares(self.drop(self.einsum(self.lstm(h))))
            return self.dense(self.gru(h))

    sequence = np.random.RandomState(2).normal(size=(4, 5, 3)).astype("float32")
    model = Quiet()
    model(sequence)
    model(sequence, training=True)
    model.compile("sgd", "mse")
    model.fit(sequence, np.zeros((4, 3), "float32"), epochs=1, verbose=0)


# Every real drop reported, with the right class, attribute, child, file:line and fix --------


def _line_of(text: str) -> int:
    """The line of this file that holds `text` (the expected file:line of a finding)."""
    with open(__file__) as handle:
        for number, line in enumerate(handle, 1):
            if text in line and "_line_of" not in line:
                return number
    raise AssertionError(text)


def test_fix_keeps_arguments_and_never_repeats_a_keyword() -> None:
    @forwards_training
    class ExplicitNone(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x, training=None)  # a literal None: not the caller's flag

    with pytest.raises(DroppedTrainingFlagError) as info:
        ExplicitNone()(X, training=True)
    message = str(info.value)
    assert "with training=None while its own `training` is True" in message
    assert message.endswith("Fix:\n    return self.drop(x, training=training)")
    assert message.count("training=training") == 1


def test_fix_for_a_call_over_several_lines() -> None:
    @forwards_training
    class Multiline(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            y = self.bn(  # multiline-call
                x,
            )  # trailing comment
            return y

    with pytest.raises(DroppedTrainingFlagError) as info:
        Multiline()(X, training=True)
    message = str(info.value)
    assert f"{__file__}:{_line_of('# multiline-call')}" in message
    assert message.endswith("Fix:\n    y = self.bn(x, training=training)")


def test_direct_call_of_a_mode_dependent_layer_is_reported() -> None:
    @forwards_training
    class Direct(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop.call(x)  # direct-dropout

    with pytest.raises(DroppedTrainingFlagError) as info:
        Direct()(X, training=True)
    message = str(info.value)
    assert message.startswith("Direct.call calls self.drop.call(...) directly (Dropout(rate=0.5))")
    assert f"{__file__}:{_line_of('# direct-dropout')}" in message
    assert message.endswith("Fix:\n    return self.drop(x, training=training)")


class _Block(keras.layers.Layer):
    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(6)
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x, training=None):  # type: ignore[no-untyped-def]
        return self.drop(self.dense(x), training=training)


def test_direct_call_of_a_block_names_the_block_and_its_line() -> None:
    @forwards_training
    class Outer(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.block = _Block()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.block.call(x)  # direct-block

    with pytest.raises(DroppedTrainingFlagError) as info:
        Outer()(X, training=True)
    message = str(info.value)
    assert message.startswith("Outer.call calls self.block.call(...) directly (it contains 'drop")
    assert f"{__file__}:{_line_of('# direct-block')}" in message


def test_a_drop_inside_a_directly_called_block_belongs_to_the_block() -> None:
    class Leaky(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x)  # leaky-inner

    @forwards_training
    class Outer(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.block = Leaky()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.block.call(x, training=training)

    with pytest.raises(DroppedTrainingFlagError) as info:
        Outer()(X, training=True)
    message = str(info.value)
    assert message.startswith("Leaky.call calls self.drop (Dropout")
    assert "through a direct `.call()` from Outer.call" in message
    assert f"{__file__}:{_line_of('# leaky-inner')}" in message


def test_a_sequential_child_called_without_the_flag_is_reported() -> None:
    @forwards_training
    class WithSequential(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.head = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.3)])

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.head(x)

    with pytest.raises(DroppedTrainingFlagError, match=r"calls self\.head \(Sequential: it contai"):
        WithSequential()(X, training=True)


def test_a_dropout_reached_through_a_lambda_is_reported() -> None:
    @forwards_training
    class ViaLambda(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.drop = keras.layers.Dropout(0.3)
            self.wrap = keras.layers.Lambda(lambda t: self.drop(t))  # via-lambda

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.wrap(x, training=training)

    with pytest.raises(DroppedTrainingFlagError) as info:
        ViaLambda()(X, training=True)
    message = str(info.value)
    assert message.startswith("ViaLambda.call calls self.drop (Dropout: Dropout(rate=0.3))")
    assert f"{__file__}:{_line_of('# via-lambda')}" in message
    assert "The function `<lambda>` making the call has no `training` parameter" in message


def test_a_lambda_that_forwards_the_flag_passes() -> None:
    @forwards_training(always=True)
    class ForwardingLambda(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.drop = keras.layers.Dropout(0.3)
            self.wrap = keras.layers.Lambda(
                lambda t, training=None: self.drop(t, training=training)
            )

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.wrap(x, training=training)

    model = ForwardingLambda()
    for mode in (None, True, False):
        assert model(X, training=mode).shape == (8, 6)


def test_a_child_whose_sublayers_appear_in_build_is_judged_once_built() -> None:
    class Lazy(keras.layers.Layer):
        def build(self, shape):  # type: ignore[no-untyped-def]
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x, training=training)

    @forwards_training
    class Holder(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.lazy = Lazy()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.lazy(x)

    with pytest.raises(DroppedTrainingFlagError, match=r"calls self\.lazy \(Lazy: it contains"):
        Holder()(X, training=True)


def test_positional_none_is_replaced_in_the_fix() -> None:
    @forwards_training
    class PositionalNone(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.drop(x, None)

    with pytest.raises(DroppedTrainingFlagError) as info:
        PositionalNone()(X, training=True)
    assert str(info.value).endswith("Fix:\n    return self.drop(x, training)")


def test_training_aware_call_without_the_parameter_is_told_to_declare_it() -> None:
    class NoParameter(TrainingAwareModel, training_check="error"):
        def __init__(self) -> None:
            super().__init__()
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.drop(x)

    with pytest.raises(DroppedTrainingFlagError, match=r"NoParameter.call has no `training` param"):
        NoParameter()(X, training=True)
