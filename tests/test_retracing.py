"""Repeated `audit()` / `assert_training_modes()` calls print no TensorFlow retracing warning.

Every audit traces fresh `fit`/`evaluate`/`predict` functions (the modes are recorded while the
layers' `call` runs, which a reused trace would not do). TensorFlow counts traces per Keras source
function across all models and warns after five in ten calls; the audit hides its own traces from
that count and leaves the user's count as it was. The pair: plain Keras, fitting fresh models in a
loop, gets the warning in the same set-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND
from training_aware import audit
from training_aware._retracing import isolated_tracing_stats
from training_aware.testing import assert_training_modes

RETRACING = "triggered tf.function retracing"

pytestmark = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="only TensorFlow's tf.function counts retracing and warns about it",
)


@pytest.fixture
def tf_warnings() -> Iterator[list[str]]:
    """Messages TensorFlow logs (its Python logger, where the retracing warning goes)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("tensorflow")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def small_model() -> keras.Model:
    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs))
    return keras.Model(inputs, keras.layers.Dropout(0.2)(h))


def detectors() -> dict[object, object]:
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    return dict(polymorphic_function._frequent_tracing_detector_manager._detectors)


X = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
Y = np.zeros((4, 3), "float32")


def test_plain_keras_warns_when_fresh_models_are_fit_in_a_loop(tf_warnings: list[str]) -> None:
    with isolated_tracing_stats():  # a fresh count, whatever earlier tests traced
        for _ in range(6):
            model = small_model()
            model.compile("sgd", "mse")
            model.fit(X, Y, epochs=1, verbose=0)
    assert any(RETRACING in m for m in tf_warnings), tf_warnings


def test_repeated_audits_print_no_retracing_warning_and_leave_the_count(
    tf_warnings: list[str],
) -> None:
    with isolated_tracing_stats():  # an empty count, so the audits' own traces would show
        model = small_model()
        for _ in range(4):
            assert audit(model, X).ok
        for _ in range(3):
            assert_training_modes(small_model(), X, Y)
        assert detectors() == {}, "the audits' traces stay out of the user's count"
    assert not [m for m in tf_warnings if RETRACING in m]


def test_the_users_count_is_restored_after_an_audit() -> None:
    with isolated_tracing_stats():
        model = small_model()
        model.compile("sgd", "mse")
        model.fit(X, Y, epochs=1, verbose=0)
        before = {
            key: (d._call_count, list(d._calls_per_tracings)) for key, d in detectors().items()
        }
        assert before
        audit(small_model(), X)
        after = {
            key: (d._call_count, list(d._calls_per_tracings)) for key, d in detectors().items()
        }
        assert after == before
