"""No TensorFlow log lines from the `training-aware` commands, without the user exporting anything.

Each command runs in a fresh process with the environment of a user who set nothing (no
`TF_CPP_MIN_LOG_LEVEL`, no `CUDA_VISIBLE_DEVICES`), as `.ci/run`'s exported variables would hide
what users see. The demo's run is in tests/test_demo.py; here `audit` and `lint`, and the switch
that shows the lines (`--tf-logs`, `TRAINING_AWARE_TF_LOGS=1`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND
from tests.test_demo import NOISE, user_env

MODELS = """
import keras


def good():
    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs))
    return keras.Model(inputs, keras.layers.Dropout(0.2)(h))
"""


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**user_env(), **env},
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("noise")
    (path / "models.py").write_text(MODELS)
    return path


@pytest.fixture(scope="module")
def plain_import_noise(workdir: Path) -> list[str]:
    """What importing Keras (and its backend) prints on this machine when nobody quiets it."""
    result = run(["-c", "import keras; keras.ops.ones((1,))"], workdir)
    assert result.returncode == 0, result.stderr
    return NOISE.findall(result.stderr)


@pytest.mark.slow  # a fresh interpreter runs a whole audit
@pytest.mark.backend
def test_audit_prints_the_report_and_no_tensorflow_log_lines(workdir: Path) -> None:
    result = run(["-m", "training_aware", "audit", "models:good"], workdir)
    assert result.returncode == 0, result.stderr
    assert "OK: every mode-dependent layer ran in the mode meant." in result.stdout
    assert not NOISE.findall(result.stderr + result.stdout), result.stderr


@pytest.mark.backend
def test_audit_usage_error_is_its_only_output(workdir: Path) -> None:
    result = run(["-m", "training_aware", "audit", "models:good", "--input-shape", "8,x"], workdir)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "training-aware audit: error: --input-shape expects integers separated by commas, "
        "like 32,32,3, got '8,x'"
    ]


@pytest.mark.backend_independent
def test_lint_prints_findings_and_no_tensorflow_log_lines(workdir: Path) -> None:
    (workdir / "bad.py").write_text(
        "import keras\n\n\nclass M(keras.Model):\n    def call(self, x):\n"
        "        return keras.random.dropout(x, 0.5)\n"
    )
    result = run(["-m", "training_aware", "lint", "bad.py"], workdir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "TA001" in result.stdout
    assert result.stderr == ""


@pytest.mark.slow
@pytest.mark.backend
@pytest.mark.parametrize("switch", ["--tf-logs", "TRAINING_AWARE_TF_LOGS=1"])
def test_the_switch_shows_what_the_backend_prints(
    workdir: Path, plain_import_noise: list[str], switch: str
) -> None:
    if not plain_import_noise:
        pytest.skip(f"importing Keras on {BACKEND} prints no log lines on this machine")
    args = ["-m", "training_aware", "audit", "models:good"]
    if switch.startswith("--"):
        result = run([*args, switch], workdir)
    else:
        name, _, value = switch.partition("=")
        result = run(args, workdir, **{name: value})
    assert result.returncode == 0, result.stderr
    assert NOISE.findall(result.stderr), "the switch hides nothing"
