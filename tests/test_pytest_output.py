"""The test command's own output: no TensorFlow start-up log lines, in process or in workers.

Importing TensorFlow writes absl lines (`cpu_feature_guard`, `cudart_stub`, `cuInit`) straight to
file descriptor 2, some before `TF_CPP_MIN_LOG_LEVEL` is read. tests/conftest.py keeps Keras out of
everything pytest prints outside its capture (the report header), so a run shows none of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from training_aware._quiet import is_noise

ROOT = Path(__file__).resolve().parents[1]
QUICK = "tests/test_signature.py::test_keras_layers_follow_their_call_signature"


@pytest.mark.slow
@pytest.mark.backend_independent
@pytest.mark.parametrize("backends", [["tensorflow"], ["tensorflow", "jax"]])
def test_a_run_prints_no_tensorflow_log_lines(backends: list[str]) -> None:
    pytest.importorskip("tensorflow")
    if "jax" in backends:
        pytest.importorskip("jax")
    env = {
        k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "pytest", QUICK, "-p", "no:cacheprovider", "-q"]
    for name in backends:
        command += ["--backend", name]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert [line for line in lines if is_noise(line)] == []
    assert any("passed" in line for line in lines)
