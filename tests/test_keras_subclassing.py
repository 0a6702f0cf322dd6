"""Keras' own ways of subclassing and saving a model, with the training-aware classes.

Three patterns from Keras' own test files that the base classes must carry as `keras.Model`
does: a functional-style subclass (`super().__init__(inputs=..., outputs=...)`, Keras' "customize
`train_step`" pattern), the legacy `.h5` format, and a `call` decorated with `@tf.function`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND, ROOT, to_numpy
from training_aware import PinnedMode, TrainingAwareLayer, TrainingAwareModel, TrainingSequential

# A functional-style subclass and a plain subclass, built in the order given on the command line.
# Keras makes the functional one a `Functional` by rewriting `__bases__` up to `keras.Model`: the
# shared `TrainingAwareModel` must come out of it unchanged, whatever the order.
_ORDER_RUN = """
import sys
import keras
import numpy as np
from training_aware import TrainingAwareModel

x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
bases = TrainingAwareModel.__bases__

def functional():
    class CustomStep(TrainingAwareModel):
        def __init__(self):
            inputs = keras.Input((3,))
            outputs = keras.layers.Dense(2)(keras.layers.Dropout(0.5)(inputs))
            super().__init__(inputs=inputs, outputs=outputs)

        def train_step(self, *args, **kwargs):
            self.steps = getattr(self, "steps", 0) + 1
            return super().train_step(*args, **kwargs)

    model = CustomStep()
    assert isinstance(model, keras.Model) and isinstance(model, TrainingAwareModel)
    assert type(model).__name__ == "CustomStep" and len(model.layers) == 3
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=2, verbose=0)
    assert model.steps >= 1, "the overridden train_step did not run"
    dropout_on = keras.ops.convert_to_numpy(model(np.ones((64, 3)), training=True))
    dropout_off = keras.ops.convert_to_numpy(model(np.ones((64, 3))))
    assert not np.allclose(dropout_on, dropout_off)   # Functional forwards the mode
    return model

def plain():
    class Plain(TrainingAwareModel):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)
        def call(self, inputs):
            return self.dense(inputs)
    model = Plain()
    model.compile("sgd", "mse")
    model.fit(x, y, verbose=0)
    return model

built = [functional() if name == "functional" else plain() for name in sys.argv[1:]]
for model in built:          # instances built before the other class still work
    model.fit(x, y, verbose=0)
    model.predict(x, verbose=0)
    model.summary(print_fn=lambda *a, **k: None)
assert TrainingAwareModel.__bases__ == bases, TrainingAwareModel.__bases__
inputs = keras.Input((3,))
direct = TrainingAwareModel(inputs, keras.layers.Dense(2)(inputs))
assert isinstance(direct, keras.Model) and isinstance(direct, TrainingAwareModel)
assert TrainingAwareModel.__bases__ == bases, TrainingAwareModel.__bases__
print("ok")
"""


@pytest.mark.slow  # a fresh interpreter per order (the class rewrite is process-wide)
@pytest.mark.parametrize(
    "order",
    [("functional", "plain"), ("plain", "functional", "functional")],
    ids="-then-".join,
)
def test_functional_style_subclass_leaves_the_shared_base_alone(order: tuple[str, ...]) -> None:
    env = {
        **os.environ,
        "KERAS_BACKEND": BACKEND,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", _ORDER_RUN, *order],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok"


def test_functional_training_aware_model_saves_and_loads(tmp_path: Path) -> None:
    inputs = keras.Input((3,))
    outputs = PinnedMode(keras.layers.Dropout(0.5), training=True)(keras.layers.Dense(4)(inputs))
    model = TrainingAwareModel(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, TrainingAwareModel)
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(to_numpy(loaded.layers[1](x)), to_numpy(model.layers[1](x)))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_legacy_h5_round_trip_without_custom_objects(tmp_path: Path, kind: str) -> None:
    pytest.importorskip("h5py")
    if kind == "sequential":
        model: keras.Model = TrainingSequential(
            [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5)]
        )
    else:
        inputs = keras.Input((3,))
        pinned = PinnedMode(keras.layers.Dropout(0.5), training=True)
        model = TrainingAwareModel(inputs, pinned(keras.layers.Dense(4)(inputs)))
    x = np.ones((2, 3), "float32")
    expected = to_numpy(model(x))
    model.save(tmp_path / "m.h5")
    loaded = keras.models.load_model(tmp_path / "m.h5")  # no custom_objects
    assert type(loaded) is type(model)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    if kind == "sequential":
        np.testing.assert_allclose(to_numpy(loaded(x)), expected, rtol=1e-6)
    else:
        np.testing.assert_allclose(
            to_numpy(loaded.layers[1](x)), to_numpy(model.layers[1](x)), rtol=1e-6
        )


def test_registered_under_both_names() -> None:
    # The registered name for `.keras` files, the bare class name for `.h5` ones.
    assert keras.saving.get_custom_objects()["TrainingSequential"] is TrainingSequential
    assert (
        keras.saving.get_registered_name(TrainingSequential) == "training_aware>TrainingSequential"
    )


def _tf_function_classes(base: type, layer_base: type) -> tuple[type, type]:
    import tensorflow as tf

    class Scale(layer_base):  # type: ignore[misc, valid-type]
        def build(self, input_shape: object) -> None:
            self.w = self.add_weight(shape=(1, 1), initializer="ones")

        @tf.function(input_signature=[tf.TensorSpec([None, 1])])
        def call(self, inputs: object) -> object:
            return inputs @ self.w

    class WithSignature(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.scale = Scale()
            self.drop = keras.layers.Dropout(0.5)

        @tf.function(input_signature=[tf.TensorSpec([None, 1])])
        def call(self, inputs: object) -> object:
            return self.drop(self.scale(inputs))

    class WithoutSignature(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(1)

        @tf.function
        def call(self, inputs: object) -> object:
            return self.dense(inputs)

    return WithSignature, WithoutSignature


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function and SavedModel: TensorFlow only")
@pytest.mark.parametrize("ours", [False, True], ids=["keras", "training_aware"])
def test_tf_function_call_runs_and_exports_as_with_keras(tmp_path: Path, ours: bool) -> None:
    import tensorflow as tf

    bases = (TrainingAwareModel, TrainingAwareLayer) if ours else (keras.Model, keras.layers.Layer)
    with_signature, without_signature = _tf_function_classes(*bases)
    x = np.array([[1.0], [2.0]], "float32")

    model = with_signature()
    expected = to_numpy(model(x))
    np.testing.assert_allclose(expected, x)
    tf.saved_model.save(model, str(tmp_path / "signed"))
    restored = tf.saved_model.load(str(tmp_path / "signed"))
    np.testing.assert_allclose(to_numpy(restored.call(x)), expected)

    model = without_signature()
    expected = to_numpy(model(x))
    tf.saved_model.save(model, str(tmp_path / "unsigned"))
    restored = tf.saved_model.load(str(tmp_path / "unsigned"))
    np.testing.assert_allclose(to_numpy(restored.call(tf.constant(x))), expected, rtol=1e-6)
    model.compile("sgd", "mse")
    model.fit(x, x, verbose=0)
