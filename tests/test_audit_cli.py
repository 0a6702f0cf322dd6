"""`training-aware audit MODULE:FACTORY`: exit codes, output, and one-line usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training_aware.audit_cli import main
from training_aware.cli import main as cli_main

FACTORIES = """
import keras


class Bad(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x):
        return self.bn(self.dense(x))


def bad():
    return Bad()


def good():
    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs))
    return keras.Model(inputs, keras.layers.Dropout(0.2)(h))


def broken():
    raise RuntimeError("factory exploded")


def not_a_model():
    return 42
"""


@pytest.fixture
def factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "ta_cli_models.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return str(tmp_path / "ta_cli_models.py")


def test_problems_exit_1_with_the_table(factories: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ta_cli_models:bad", "--input-shape", "4", "--batch-size", "4"]) == 1
    out = capsys.readouterr().out
    assert "training-aware audit: Bad" in out and "fit" in out and "FACTS F1" in out


def test_clean_model_exits_0_using_its_declared_input_shape(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["audit", "ta_cli_models:good"]) == 0
    assert "OK: every mode-dependent layer ran in the mode meant." in capsys.readouterr().out


def test_json_output_and_file_paths(factories: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"{factories}:bad", "--input-shape", "4", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert {p["entry_point"] for p in data["problems"]} == {"fit"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no_colon_here"], "expected MODULE:FACTORY"),
        (["ta_no_such_module_xyz:build"], "cannot import module 'ta_no_such_module_xyz'"),
        (["ta_cli_models:missing"], "has no attribute 'missing'"),
        (["ta_cli_models:broken"], "ta_cli_models:broken() failed: RuntimeError: factory"),
        (["ta_cli_models:not_a_model"], "returned int, expected a keras.Model"),
        (["ta_cli_models:bad"], "declares no input shape: pass --input-shape"),
        (["ta_cli_models:bad", "--input-shape", "4,a"], "expects integers"),
        (["ta_cli_models:good", "--batch-size", "0"], "--batch-size must be >= 1"),
        (["ta_cli_models:good", "--input-shape", "5"], "predict of Functional"),
        (["/no/such/file.py:build"], "no such file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    factories: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("training-aware audit: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
    result = subprocess.run(
        [sys.executable, "-m", "training_aware", "audit", "ta_no_such_module_xyz:f"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot import module" in result.stderr
