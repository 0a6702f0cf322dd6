"""`training-aware run` and `pytest --training-aware`, end to end, in subprocesses.

Each run is a fresh process on the test's backend (KERAS_BACKEND), as a user would start it: the
known-bad script reports exactly its wrong layers, the correct one nothing, a watched training is
bit-identical to the same training unwatched, and bad input gets a clear message with the script's
own exit status kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "watch_scripts"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    return env


def run(
    *args: str, cwd: Path | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "training_aware", "run", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=timeout,
    )


def run_json(tmp_path: Path, script: Path, *options: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "report.json"
    done = run("--format", "json", "-o", str(out), *options, str(script))
    return done.returncode, json.loads(out.read_text()), done.stdout + done.stderr


def line_of(path: Path, text: str) -> int:
    """The number of the one line of `path` that contains `text`."""
    found = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(found) == 1, (text, found)
    return found[0]


def backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow")


# -- what it reports --------------------------------------------------------------------------


@pytest.mark.slow
def test_the_known_bad_script_reports_exactly_its_wrong_layers(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, report, output = run_json(tmp_path, SCRIPTS / "wrong_modes.py", "--html", str(page))
    assert "wrong_modes: done" in output
    assert code == 1, output
    found = {(f["entry_point"], f["path"], f["received"], f["facts"]) for f in report["findings"]}
    assert found == {
        ("fit", "bn", "inference", "F1"),
        ("fit", "drop", "inference", "F1"),
        ("predict", "leak_bn", "training", "F3"),
        ("training step", "loop_bn", "inference", ""),
    }
    sites = {f["path"]: f["site"] for f in report["findings"]}
    bad = line_of(SCRIPTS / "wrong_modes.py", "return self.dropout(self.batch_norm(")
    assert sites["bn"].endswith(f"wrong_modes.py:{bad}")
    leak = line_of(SCRIPTS / "wrong_modes.py", "return self.batch_norm(h)")
    assert sites["leak_bn"].endswith(f"wrong_modes.py:{leak}")
    call = "model.stateless_call(tv, ntv, x)" if backend() == "jax" else "return model(x) if"
    assert sites["loop_bn"].endswith(f"_steps.py:{line_of(SCRIPTS / '_steps.py', call)}")
    fixes = {f["path"]: f["fix"] for f in report["findings"]}
    assert "self.batch_norm(self.dense(inputs), training=training)" in fixes["bn"]
    assert "add `training=None` to BadModel.call" in fixes["bn"]
    assert "return self.batch_norm(h, training=training)" in fixes["leak_bn"]
    assert "training=True)" in fixes["loop_bn"]
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<tr>") == 5
    assert "return self.batch_norm(h, training=training)" in html
    assert all(
        f["facts_link"].endswith(
            "docs/facts.md#" + "f1-call-without-a-training-parameter-under-fit"
        )
        for f in report["findings"]
        if f["facts"] == "F1"
    )


@pytest.mark.slow
def test_correct_code_reports_nothing(tmp_path: Path) -> None:
    code, report, output = run_json(tmp_path, SCRIPTS / "right_modes.py")
    assert "right_modes: done" in output
    assert report["findings"] == [], output
    assert code == 0
    assert report["layers_watched"] >= 10
    assert {"fit", "evaluate", "predict", "call(training=True)", "train_on_batch"} <= set(
        report["entry_points"]
    )


# -- it changes nothing -----------------------------------------------------------------------


@pytest.mark.slow
def test_watched_training_is_bit_identical(tmp_path: Path) -> None:
    """fit, jit_compile, steps_per_execution, mixed precision, a custom loop, MirroredStrategy."""
    import numpy as np

    script = str(SCRIPTS / "train_dump.py")
    plain = subprocess.run(
        [sys.executable, script, str(tmp_path / "plain.npz")],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=900,
    )
    assert plain.returncode == 0, plain.stderr[-3000:]
    watched = run("--exit-zero", script, str(tmp_path / "watched.npz"), timeout=900)
    assert watched.returncode == 0, watched.stderr[-3000:]
    a, b = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "watched.npz")
    assert sorted(a.files) == sorted(b.files) and len(a.files) > 40
    for name in a.files:
        assert a[name].tobytes() == b[name].tobytes(), name
    # The watch did see the run: the BadModel's layers under fit.
    assert "fit: Model 'model' / batch_normalization (BatchNormalization) ran in inference" in (
        watched.stderr
    )


# -- bad input --------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


@pytest.mark.backend_independent
def test_a_missing_script(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nope.py"))
    assert done.returncode == 2
    assert "training-aware run: error: no such file" in done.stderr and "nope.py" in done.stderr


@pytest.mark.backend_independent
def test_a_script_with_a_syntax_error(tmp_path: Path) -> None:
    script = write(tmp_path, "broken.py", "print('ran')\ndef f(:\n    pass\n")
    done = run(str(script))
    assert done.returncode == 1
    assert "broken.py:2: the script does not compile (SyntaxError" in done.stderr
    assert "nothing was run" in done.stderr and "ran" not in done.stdout


@pytest.mark.backend_independent
def test_sys_exit_keeps_the_status_and_arguments_reach_the_script(tmp_path: Path) -> None:
    script = write(
        tmp_path,
        "exits.py",
        """
        import os, sys
        print("argv", sys.argv[1:], "path0", sys.path[0] == os.path.dirname(__file__))
        print("main", __name__)
        sys.exit(int(sys.argv[1]))
        """,
    )
    done = run(str(script), "3", "--flag")
    assert done.returncode == 3
    assert "argv ['3', '--flag'] path0 True" in done.stdout and "main __main__" in done.stdout
    assert "the script never imported Keras; nothing to watch." in done.stderr
    assert run(str(script), "0").returncode == 0


@pytest.mark.backend_independent
def test_an_exception_and_ctrl_c_still_report(tmp_path: Path) -> None:
    script = write(tmp_path, "fails.py", "raise ValueError('boom')\n")
    done = run(str(script))
    assert done.returncode == 1
    assert "ValueError: boom" in done.stderr and 'fails.py", line 1' in done.stderr
    assert "training_aware" not in done.stderr.split("ValueError")[0]  # our frames are hidden
    assert "nothing to watch" in done.stderr
    interrupted = run(str(write(tmp_path, "ctrl_c.py", "raise KeyboardInterrupt\n")))
    assert interrupted.returncode == 130
    assert "interrupted" in interrupted.stderr and "nothing to watch" in interrupted.stderr


@pytest.mark.slow
def test_a_script_that_never_builds_a_model(tmp_path: Path) -> None:
    script = write(tmp_path, "no_model.py", "import keras\nprint(keras.ops.ones((2,)).shape)\n")
    done = run(str(script))
    assert done.returncode == 0, done.stderr
    assert "no layer whose behaviour depends on `training` ran; nothing to report" in done.stderr


@pytest.mark.slow
def test_threads_and_a_multiprocessing_loader(tmp_path: Path) -> None:
    script = write(
        tmp_path,
        "workers.py",
        """
        import threading
        import keras
        import numpy as np

        class BadModel(keras.Model):
            def __init__(self):
                super().__init__()
                self.batch_norm = keras.layers.BatchNormalization(name="bn")

            def call(self, inputs):
                return self.batch_norm(inputs)

        class Batches(keras.utils.PyDataset):
            def __init__(self):
                super().__init__(workers=2, use_multiprocessing=True)

            def __len__(self):
                return 2

            def __getitem__(self, i):
                return np.full((4, 3), i, "float32"), np.zeros((4, 3), "float32")

        def train():
            model = BadModel()
            model.compile("sgd", "mse")
            model.fit(Batches(), epochs=1, verbose=0)

        thread = threading.Thread(target=train)   # not joined: run waits, as Python does
        thread.start()
        print("started")
        """,
    )
    done = run(str(script))
    assert done.returncode == 1, done.stderr[-3000:]
    assert "started" in done.stdout and "wrong mode" not in done.stdout
    assert "1 layer(s) ran in the wrong mode" in done.stderr
    assert "1. fit: BadModel 'bad_model' / bn (BatchNormalization) ran in inference mode" in (
        done.stderr
    )
    line = line_of(script, "return self.batch_norm(inputs)")
    assert f"workers.py:{line}: return self.batch_norm(inputs)" in done.stderr
    assert "(FACTS F1: docs/facts.md#f1-call-without-a-training-parameter-under-fit)" in (
        done.stderr
    )
    assert "fix: add `training=None` to BadModel.call and write " in done.stderr


# -- the pytest plugin ------------------------------------------------------------------------

TESTS = """
import keras
import numpy as np

class BadModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.batch_norm = keras.layers.BatchNormalization(name="bn")

    def call(self, inputs):
        return self.batch_norm(inputs)

def test_bad():
    model = BadModel()
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 3), "float32"), verbose=0)

def test_good():
    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()])
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 3), "float32"), verbose=0)
"""


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_models.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args, "test_models.py"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=600,
    )


@pytest.mark.backend_independent
def test_pytest_plugin_is_off_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_nothing():\n    assert True\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "training_aware.pytest_plugin",
            "test_plain.py",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    # Off: nothing of the watch in the output (the header's list of installed plugins aside).
    said = [line for line in done.stdout.splitlines() if not line.startswith("plugins:")]
    assert "1 passed" in done.stdout and not [line for line in said if "training-aware" in line]


@pytest.mark.slow
def test_pytest_plugin_reports_and_fails_on_request(tmp_path: Path) -> None:
    plugin = ("-p", "training_aware.pytest_plugin")
    # Named twice, as the installed entry point and -p would: registered once.
    on = pytest_run(tmp_path, *plugin, *plugin, "--training-aware")
    assert on.returncode == 0, on.stdout[-3000:]
    summary = on.stdout.split("training-aware: layers run in the wrong mode")[1]
    assert "test_models.py::test_bad  fit" in summary
    assert "1 finding(s) in 1 test(s)" in summary and "test_good" not in summary.split("finding")[0]
    assert "BadModel 'bad_model' / bn (BatchNormalization) ran in inference mode" in on.stdout
    error = pytest_run(tmp_path, *plugin, "--training-aware=error")
    assert error.returncode == 1
    assert "1 failed, 1 passed" in error.stdout
    assert "WatchFindingsError" in error.stdout
