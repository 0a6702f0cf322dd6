"""The scoped tools on a model nobody here wrote: keras.applications' MobileNet (weights=None).

`mc_predict`, `override_modes`, `freeze_batchnorm` and `audit` are otherwise tested on models of
this suite; MobileNet (27 BatchNormalization layers, a Dropout before its classifier) is Keras'
own Functional model. Findings, if any, go in docs/check-precision.md.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.conftest import bn_stats, same_arrays, to_numpy
from training_aware import audit, freeze_batchnorm, mc_predict, override_modes

X = np.random.RandomState(0).uniform(size=(4, 32, 32, 3)).astype("float32")
Y = np.eye(3, dtype="float32")[[0, 2, 1, 0]]


def mobilenet() -> keras.Model:
    model = keras.applications.MobileNet(
        weights=None, input_shape=(32, 32, 3), classes=3, alpha=0.25, dropout=0.5
    )
    model.compile("sgd", "categorical_crossentropy")
    model.fit(X, Y, epochs=1, verbose=0)  # moving statistics away from their initial values
    return model


@pytest.mark.slow
def test_scoped_tools_on_mobilenet() -> None:
    model = mobilenet()
    stats = bn_stats(model)
    weights = [to_numpy(w) for w in model.trainable_weights]
    plain = model.predict(X, verbose=0)

    # mc_predict: Dropout on, BatchNorm in inference, statistics untouched, the seed reproduces.
    mean, std = mc_predict(model, X, samples=4, seed=0, verbose=0)
    assert float(std.max()) > 0.0, "MobileNet's Dropout(0.5) ran in training mode"
    again = mc_predict(model, X, samples=4, seed=0, verbose=0)
    assert np.array_equal(mean, again[0]) and np.array_equal(std, again[1])
    assert same_arrays(bn_stats(model), stats)

    # override_modes: inside, predict draws dropout masks; after, the same model is deterministic.
    with override_modes(model, {keras.layers.Dropout: True}):
        first, second = (model.predict(X, verbose=0) for _ in range(2))
    assert not np.array_equal(first, second)
    assert np.array_equal(model.predict(X, verbose=0), plain)
    assert same_arrays(bn_stats(model), stats)

    # audit: Keras' Functional model forwards every mode; the audit restores everything it ran.
    report = audit(model, X, Y)
    assert report.ok, str(report)
    assert same_arrays(bn_stats(model), stats)
    assert same_arrays([to_numpy(w) for w in model.trainable_weights], weights)

    # freeze_batchnorm: every BatchNormalization of the model, and fit leaves their statistics.
    frozen = freeze_batchnorm(model)
    assert len(frozen) == len(stats) // 2
    model.compile("sgd", "categorical_crossentropy")
    model.fit(X, Y, epochs=1, verbose=0)
    assert same_arrays(bn_stats(model), stats)
