"""keras.applications models (weights=None, 32x32 inputs), every layer checked on every call.

Zero reports expected: Keras' Functional forwards `training` to every node that accepts it when it
has one, and passes nothing (through `**kwargs`) when its own is `None`. Findings, if any, go in
docs/check-precision.md.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.realworld.strict import strict

X = np.random.RandomState(0).uniform(size=(2, 32, 32, 3)).astype("float32")
Y = np.eye(3, dtype="float32")[[0, 2]]

# The models that build and step in seconds at 32x32. Measured once by hand and left out of the
# suite for time (docs/check-precision.md): MobileNetV2, MobileNetV3Small, EfficientNetB0,
# EfficientNetV2B0, ResNet50, DenseNet121, NASNetMobile, zero reports each on TensorFlow. The same
# layer kinds are covered here: BatchNormalization and Dropout (MobileNet), and ConvNeXt's private
# StochasticDepth layer, which the check judges by reading its `call`.
APPLICATIONS = {
    "MobileNet": {"alpha": 0.25},
    "ConvNeXtTiny": {},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(APPLICATIONS))
def test_application_raises_nothing(name: str) -> None:
    build = getattr(keras.applications, name)
    model = build(weights=None, input_shape=(32, 32, 3), classes=3, **APPLICATIONS[name])
    checked = strict(model)
    assert checked >= 20, "the model and its BatchNormalization/Dropout layers are checked"
    model(X)  # training=None; fit below runs training=True, predict False
    # TensorFlow: one eager step (the inspection is the same as in a traced one, without a minute
    # of graph building for a 100-layer model). JAX: one jitted step (its eager ops are slower).
    eager = keras.backend.backend() != "jax"
    model.compile("sgd", "categorical_crossentropy", run_eagerly=eager, jit_compile=not eager)
    history = model.fit(X, Y, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(X, verbose=0).shape == (2, 3)
