"""The three entry points (python -m, console script, flake8 plugin) and the pre-commit hook.

Each entry point runs in a fresh interpreter under `-X importtime`, which lists every module
the process imported; the test asserts the checker ran and that neither Keras nor TensorFlow
(nor JAX) was imported.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from .helpers import BIN, CASES, PYTHON, REPO

SAMPLE = CASES / "ta001_bad_seed_example1.py"  # imports tensorflow itself: it must not run
FORBIDDEN = ("keras", "tensorflow", "jax", "torch")


def imported_modules(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _script(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path is not None, f"{name} is not installed in {BIN}; run pip install -e ."
    return path


ENTRY_POINTS = {
    "python -m training_aware lint": lambda: [
        PYTHON,
        "-X",
        "importtime",
        "-m",
        "training_aware",
        "lint",
    ],
    "training-aware lint": lambda: [PYTHON, "-X", "importtime", _script("training-aware"), "lint"],
    "flake8 --select TA": lambda: [PYTHON, "-X", "importtime", _script("flake8"), "--select", "TA"],
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_point_reports_without_importing_keras_or_tensorflow(entry):
    command = [*ENTRY_POINTS[entry](), str(SAMPLE)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert all(": TA001 `BadModel.call` has no `training` parameter" in line for line in lines)
    modules = imported_modules(proc.stderr)
    assert "training_aware.lint.checker" in modules  # the probe sees our own imports
    leaked = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert leaked == []


def test_flake8_positions_match_the_cli():
    flake8 = subprocess.run(
        [_script("flake8"), "--select", "TA", str(SAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    ours = subprocess.run(
        [_script("training-aware"), "lint", str(SAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert flake8.stdout == ours.stdout


def test_flake8_honours_noqa(tmp_path):
    source = SAMPLE.read_text().replace("x = self.dropout(x)", "x = self.dropout(x)  # noqa: TA001")
    target = tmp_path / "m.py"
    target.write_text(source)
    proc = subprocess.run(
        [_script("flake8"), "--select", "TA", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.count("TA001") == 1


def test_pre_commit_hook_entry_runs_on_a_sample(tmp_path):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "training-aware-lint")
    assert hook["language"] == "python"
    assert hook["types_or"] == ["python", "jupyter"]
    program, *args = hook["entry"].split()
    command = [_script(program), *args]
    bad = subprocess.run([*command, str(SAMPLE)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert bad.stdout.count("TA001") == 2
    good = CASES / "ta002_good_seed_example2.py"
    clean = subprocess.run([*command, str(good)], capture_output=True, text=True, check=False)
    assert (clean.returncode, clean.stdout) == (0, "")
