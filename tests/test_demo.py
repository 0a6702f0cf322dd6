"""`training-aware demo`, the README's first command, runs and tells the truth."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import BACKEND


@pytest.mark.backend
def test_demo_shows_plain_keras_bugs_and_none_with_the_library() -> None:
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "training_aware", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "F1 BadModel" in out and "F13" in out
    summary = [line for line in out.splitlines() if "wrong modes on plain Keras" in line]
    assert summary, out
    plain_bugs = int(summary[0].split()[0])
    assert plain_bugs >= (8 if BACKEND == "jax" else 6), "plain Keras should show F1, F3, F13"
    assert ", 0 with training-aware" in summary[0]
