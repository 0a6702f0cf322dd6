"""Shared test set-up: quiet TensorFlow, TensorFlow by default, small helpers.

Backend-sensitive tests carry `@pytest.mark.backend`; tests/test_backends.py reruns exactly those on
JAX in a subprocess, so a plain `pytest` covers both backends.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from collections.abc import Iterator

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()


def pytest_report_header() -> str:
    return f"keras {keras.__version__}, backend {BACKEND}"


@pytest.fixture(autouse=True)
def _seed() -> Iterator[None]:
    # Seeding is cheap; `keras.backend.clear_session()` is not (0.2 s a test), and nothing here
    # depends on fresh layer names, so the session is left alone.
    keras.utils.set_random_seed(1234)
    yield


def to_numpy(value: object) -> np.ndarray:
    """A NumPy copy of a variable or tensor (`np.array(variable)` warns on TensorFlow)."""
    return np.array(keras.ops.convert_to_numpy(value), copy=True)


def non_trainable_values(model: keras.layers.Layer) -> list[np.ndarray]:
    """Copies of every non-trainable variable (BatchNorm statistics, seed-generator states)."""
    return [to_numpy(v) for v in model.non_trainable_variables]


def bn_stats(model: keras.layers.Layer) -> list[np.ndarray]:
    """Copies of every BatchNormalization moving mean and variance in `model`."""
    out: list[np.ndarray] = []
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            out.append(to_numpy(layer.moving_mean))
            out.append(to_numpy(layer.moving_variance))
    return out


def same_arrays(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Bit-identical, element for element."""
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in pyproject.toml; registered here too so a branch without that line (or a
    # subprocess run of a subset) never turns the marker into an error under filterwarnings=error.
    config.addinivalue_line("markers", "slow: takes more than ~5 s")
