"""`training-aware audit MODULE:FACTORY`: exit codes, output, and one-line usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from training_aware.audit_cli import UsageError, _parse_shape, main
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
def factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "ta_cli_models.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("ta_cli_models", None)  # this test's file, not an earlier test's
    yield str(tmp_path / "ta_cli_models.py")
    sys.modules.pop("ta_cli_models", None)


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
        (["ta_cli_models:bad"], "declares no input shape: pass --input-shape"),
        (["ta_cli_models:bad", "--input-shape", "4,a"], "expects integers"),
        (["ta_cli_models:bad", "--input-shape", "8,x"], "expects integers"),
        (["ta_cli_models:bad", "--input-shape", "8,"], "expects integers"),
        (["ta_cli_models:bad", "--input-shape", "0,3"], "positive integers"),
        (["ta_cli_models:build-it"], "FACTORY must be a Python name"),
        (["ta-cli-models:build"], "MODULE must be a dotted module name"),
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


def _line_of(path: str, text: str) -> int:
    return next(i for i, line in enumerate(Path(path).read_text().splitlines(), 1) if text in line)


def test_a_factory_that_raises_is_located_by_its_own_traceback_line(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ta_cli_models:broken"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (
        "training-aware audit: error: ta_cli_models:broken() failed: RuntimeError: factory exploded"
    )
    line = _line_of(factories, 'raise RuntimeError("factory exploded")')
    assert err[1:] == [f'  File "{factories}", line {line}, in broken']


def test_a_factory_returning_a_non_model_is_located_by_its_definition(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ta_cli_models:not_a_model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (
        "training-aware audit: error: ta_cli_models:not_a_model() returned int, "
        "expected a keras.Model"
    )
    line = _line_of(factories, "def not_a_model")
    assert err[1:] == [f'  File "{factories}", line {line}, in not_a_model']


@pytest.mark.parametrize(
    ("text", "shape"),
    [("8", (8,)), ("32,32,3", (32, 32, 3)), ("32x32x3", (32, 32, 3)), (" 4, 5 ", (4, 5))],
)
def test_input_shapes_that_parse(text: str, shape: tuple[int, ...]) -> None:
    assert _parse_shape(text) == shape


@pytest.mark.parametrize("text", ["8,x", "8,", ",8", "x", "", "8,,3", "4.5", "-3", "8;3"])
def test_input_shapes_that_are_rejected(text: str) -> None:
    with pytest.raises(UsageError, match="--input-shape expects"):
        _parse_shape(text)


USAGE_ERRORS = [
    (["no_colon_here"], "expected MODULE:FACTORY"),
    (["ta_no_such_module_xyz:build"], "cannot import module 'ta_no_such_module_xyz'"),
    (["/no/such/file.py:build"], "no such file"),
    (["{models}:bad", "--input-shape", "8,x"], "--input-shape expects integers"),
    (["{models}:bad", "--batch-size", "0"], "--batch-size must be >= 1"),
    (["{models}:bad", "--no-such-option"], "unrecognized arguments"),
]


@pytest.mark.backend_independent
@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS)
def test_usage_errors_answer_before_keras_is_imported(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    """The console command, in a fresh process: exit 2 in under a second, Keras never imported.

    The best of three runs is timed (a busy machine can stall any one process); importing Keras
    with TensorFlow alone takes several seconds, so the bound separates the two paths.
    """
    models = tmp_path / "models.py"
    models.write_text(FACTORIES)
    argv = [a.format(models=models) for a in argv]
    probe = (
        "import sys; from training_aware.cli import main; code = main(sys.argv[1:]); "
        "print('keras imported' if 'keras' in sys.modules else 'keras not imported'); "
        "sys.exit(code)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", probe, "audit", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            check=False,
        )
        best = min(best, time.perf_counter() - start)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
        assert result.stdout.strip() == "keras not imported"
        if best < 1.0:
            break
    assert best < 1.0, f"a usage error took {best:.2f} s"


def test_a_module_that_fails_to_import_is_located_by_its_own_traceback_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "ta_broken_at_import.py"
    broken.write_text("import keras\n\nSIZE = 1 / 0\n\n\ndef build():\n    return None\n")
    assert main([f"{broken}:build"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (
        f"training-aware audit: error: importing '{broken}' failed: "
        "ZeroDivisionError: division by zero"
    )
    assert err[1:] == [f'  File "{broken}", line 3, in <module>']


EXITING = """
import sys

import keras


def exits_cleanly():
    sys.exit(0)


def exits_with_3():
    sys.exit(3)


def classifier():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3),
            keras.layers.BatchNormalization(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""


@pytest.mark.parametrize(("factory", "code"), [("exits_cleanly", 0), ("exits_with_3", 3)])
def test_a_factory_that_calls_sys_exit_fails_the_command(
    tmp_path: Path, factory: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, `sys.exit(0)` in the factory ended the command with status 0: a clean audit."""
    models = tmp_path / "ta_exiting.py"
    models.write_text(EXITING)
    assert cli_main(["audit", f"{models}:{factory}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (
        f"training-aware audit: error: {models}:{factory}() called sys.exit({code}) instead of "
        "returning a model: nothing was audited (exit status 2). Fix: return the model, and "
        'keep the module\'s command-line code under `if __name__ == "__main__":`'
    )
    assert err[1].startswith(f'  File "{models}", line ')


def test_a_module_that_exits_at_import_fails_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "ta_script.py"
    script.write_text("import sys\n\nsys.exit(0)\n\n\ndef build():\n    return None\n")
    assert main([f"{script}:build"]) == 2
    assert f"importing '{script}' called sys.exit(0) instead of defining build" in (
        capsys.readouterr().err
    )


def test_a_classifier_whose_loss_needs_integer_labels_is_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Zeros shaped like the softmax output do not fit `sparse_categorical_crossentropy`."""
    models = tmp_path / "ta_classifier.py"
    models.write_text(EXITING)
    assert main([f"{models}:classifier"]) == 0
    out = capsys.readouterr().out
    assert "OK: every mode-dependent layer ran in the mode meant." in out
    assert "used class labels 0, 1, 2, ... (the compiled loss is sparse) as targets" in out
