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

    class Contains(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.1)

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.drop(x)

    assert depends_on_training(keras.layers.Dropout(0.1))
    assert depends_on_training(keras.layers.BatchNormalization())
    assert not depends_on_training(keras.layers.Dense(2))
    assert not depends_on_training(keras.layers.EinsumDense("ab,bc->ac", output_shape=2))
    assert depends_on_training(Declares())
    assert depends_on_training(Contains())
    assert not depends_on_training(keras.Sequential([keras.layers.Dense(2)]))
    assert depends_on_training(keras.Sequential([keras.layers.Dense(2), keras.layers.Dropout(0.1)]))


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
