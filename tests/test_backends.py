"""Rerun every `@pytest.mark.backend` test on the other installed backends, in a subprocess.

Keras picks its backend once per process, so a second backend needs a second interpreter. This
keeps the README's single `pytest` command honest about JAX.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parents[1]
OTHERS = [b for b in ("jax",) if b != BACKEND and importlib.util.find_spec(b) is not None]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the TensorFlow run launches the others")
@pytest.mark.parametrize("backend", OTHERS or ["jax"])
def test_backend_sensitive_tests_pass_on(backend: str) -> None:
    assert importlib.util.find_spec(backend) is not None, f"{backend} is not installed"
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "backend", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    assert result.returncode == 0, f"backend-sensitive tests failed on {backend}:\n{tail}"
    assert " passed" in result.stdout, tail
