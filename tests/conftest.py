"""Shared test set-up: one Keras backend per process, every installed backend per run.

Keras picks its backend once per process, so `pytest` runs the suite once per installed backend
(TensorFlow, JAX, PyTorch), each in its own pytest-xdist worker (`--dist each`): every test is
reported per backend as it finishes. Choose backends with `--backend NAME` (repeatable); one
backend, or `KERAS_BACKEND` set in the environment, runs in-process without xdist:

    pytest                                   # every installed backend, in parallel
    pytest --backend jax -m "not slow"       # the quick loop, one backend, in-process

Tests that never touch Keras (the linter, the docs links) carry `backend_independent` (every test
under tests/lint/ gets it) and run once, on the first backend of the run.

Nothing here imports Keras at import time: the backend is fixed by `pytest_cmdline_main` first, and
`BACKEND` (PEP 562 module attribute) imports Keras on first use.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

BACKENDS = ("tensorflow", "jax", "torch")
ROOT = Path(__file__).resolve().parents[1]
# The backend that runs the backend-independent tests in a multi-backend run.
_ONCE_ON = "TRAINING_AWARE_TEST_ONCE_ON"


def installed_backends() -> list[str]:
    """The Keras backends whose package is importable here, in `BACKENDS` order."""
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        choices=BACKENDS,
        default=None,
        help="Keras backend to run the suite on (repeatable; default: every installed one, or "
        "KERAS_BACKEND when it is set). Two or more run in parallel pytest-xdist workers.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Fix the backend(s) before anything imports Keras; lay out one xdist worker per backend."""
    if hasattr(config, "workerinput"):  # an xdist worker: its environment names its backend
        return
    chosen: list[str] = list(dict.fromkeys(config.option.backend or []))
    if not chosen:
        chosen = [os.environ["KERAS_BACKEND"]] if "KERAS_BACKEND" in os.environ else []
    if not chosen:
        chosen = installed_backends() or ["tensorflow"]
    missing = [name for name in chosen if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(
            f"backend {', '.join(missing)} is not installed; install it (see README.md, "
            "'Set-up') or choose another with --backend"
        )
    os.environ["KERAS_BACKEND"] = chosen[0]
    os.environ[_ONCE_ON] = chosen[0]
    xdist_here = config.pluginmanager.hasplugin("xdist")
    user_layout = xdist_here and (config.option.numprocesses or config.option.tx)
    if len(chosen) > 1 and not user_layout and not config.option.collectonly:
        if not xdist_here:
            raise pytest.UsageError(
                "running several backends needs pytest-xdist (in the test extra); "
                "or pass one --backend"
            )
        config.option.dist = "each"
        config.option.tx = [f"popen//env:KERAS_BACKEND={name}" for name in chosen]


def pytest_configure_node(node: Any) -> None:
    """Say which backend each worker runs (xdist controller hook)."""
    env = node.gateway.spec.env
    reporter = node.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"[{node.gateway.id}] backend {env.get('KERAS_BACKEND')}")


def pytest_collection(session: pytest.Session) -> None:
    """Import Keras (and its backend) before collecting, with TensorFlow's start-up lines hidden.

    Test modules import Keras at their top; the first of them would otherwise print TensorFlow's
    absl lines straight to file descriptor 2, some before `TF_CPP_MIN_LOG_LEVEL` is read. In an
    xdist worker nothing captures that descriptor, so the lines would reach the run's output.
    """
    backend = os.environ.get("KERAS_BACKEND")
    if backend and importlib.util.find_spec(backend) is not None:
        from training_aware._quiet import import_keras

        import_keras()


def pytest_report_header(config: pytest.Config) -> str:
    from importlib.metadata import version

    # Keras is not imported here: importing TensorFlow writes its start-up log lines to file
    # descriptor 2 before `TF_CPP_MIN_LOG_LEVEL` can filter them, and the header is printed
    # outside pytest's capture. The first test imports it, under capture.
    if config.option.tx:  # the controller runs no test: do not import a backend here
        backends = ", ".join(spec.split("KERAS_BACKEND=")[-1] for spec in config.option.tx)
        return f"keras {version('keras')}, backends {backends} (one xdist worker each)"
    return f"keras {version('keras')}, backend {os.environ['KERAS_BACKEND']}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    lint_dir = ROOT / "tests" / "lint"
    for item in items:
        if lint_dir in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.backend_independent)


def pytest_runtest_setup(item: pytest.Item) -> None:
    once_on = os.environ.get(_ONCE_ON)
    backend = os.environ.get("KERAS_BACKEND")
    if item.get_closest_marker("backend_independent") and once_on and backend != once_on:
        pytest.skip(f"backend-independent: runs once, on the {once_on} worker")


def __getattr__(name: str) -> Any:
    if name == "BACKEND":
        import keras

        return keras.backend.backend()
    raise AttributeError(name)


@pytest.fixture(autouse=True)
def _seed() -> Iterator[None]:
    # Seeding is cheap; `keras.backend.clear_session()` is not (0.2 s a test), and nothing here
    # depends on fresh layer names, so the session is left alone.
    import keras

    keras.utils.set_random_seed(1234)
    yield


def to_numpy(value: object) -> np.ndarray:
    """A NumPy copy of a variable or tensor (`np.array(variable)` warns on TensorFlow)."""
    import keras

    return np.array(keras.ops.convert_to_numpy(value), copy=True)


def non_trainable_values(model: Any) -> list[np.ndarray]:
    """Copies of every non-trainable variable (BatchNorm statistics, seed-generator states)."""
    return [to_numpy(v) for v in model.non_trainable_variables]


def bn_stats(model: Any) -> list[np.ndarray]:
    """Copies of every BatchNormalization moving mean and variance in `model`."""
    import keras

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
