"""`--fix` applies only safe repairs; `--unsafe-fixes` the others, each with its reason; the
options' conflicts, output streams and `git apply`-able diffs. (The behaviour of the repaired
code under Keras is in test_fix_behaviour.py.)"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from training_aware.lint.fix import fix_source
from training_aware.lint.fix_command import diff_path
from training_aware.lint.runner import main

from .helpers import CASES

pytestmark = pytest.mark.backend_independent

HEAD = """\
import keras


class M(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.drop = keras.layers.Dropout(0.5)
        self.norm = keras.layers.BatchNormalization()

"""


def verdicts(body: str, **kwargs: bool) -> tuple[list[str], list[str]]:
    """The codes repaired, and the reasons of the repairs held back."""
    lines = body.splitlines(keepends=True)
    shifted = "".join(line[4:] if line.startswith("    ") else line for line in lines)
    result = fix_source(HEAD + shifted, "m.py", **kwargs)
    assert result.error is None, result.error
    return [f.code for f in result.applied], [why for _, why in result.unsafe]


def test_a_plain_forward_is_safe() -> None:
    assert verdicts(
        """\
        def call(self, x, training=False):
            return self.drop(self.dense(x))
    """
    ) == (["TA002"], [])


def test_an_explicit_mode_on_another_call_makes_forwarding_unsafe() -> None:
    # `self.norm(..., training=False)` leaks False to `self.drop` (FACTS F3/F13): passing
    # `training` to it changes what it receives under `model(x, training=True)`.
    applied, held = verdicts(
        """\
        def call(self, x, training=None):
            h = self.norm(self.dense(x), training=False)
            return self.drop(h)
    """
    )
    assert applied == [] and "passes `training=False`" in held[0] and "F3" in held[0]


def test_a_direct_call_makes_forwarding_from_a_non_none_default_unsafe() -> None:
    applied, held = verdicts(
        """\
        def call(self, x, training=False):
            return self.drop(self.dense(x))


    class Child(M):
        def call(self, x, training=None):
            return super().call(x)
    """
    )
    assert "TA002" not in applied
    assert any("defaults `training=False`" in why and "line 17" in why for why in held)


def test_a_lambda_makes_forwarding_unsafe() -> None:
    applied, held = verdicts(
        """\
        def call(self, x, training=None):
            step = lambda h: self.drop(h)
            return step(self.dense(x))
    """
    )
    assert applied == [] and held and "inside a lambda" in held[0]


def test_ta001_is_held_back_whole_when_one_forward_is_unsafe() -> None:
    applied, held = verdicts(
        """\
        def call(self, x):
            def block(h, training=True):
                return self.drop(h)

            return self.norm(block(self.dense(x)))
    """
    )
    assert applied == [] and len(held) == 2 and all("`block`" in why for why in held)
    applied, held = verdicts(
        """\
        def call(self, x):
            def block(h, training=True):
                return self.drop(h)

            return self.norm(block(self.dense(x)))
    """,
        unsafe=True,
    )
    assert applied == ["TA001", "TA001"] and held == []


def test_ta006_is_safe_in_a_training_loop_and_unsafe_inside_a_layer_call() -> None:
    loop = (CASES / "ta006_bad.py").read_text()
    applied = fix_source(loop).applied
    assert applied and {f.code for f in applied} == {"TA006"}
    probe = textwrap.dedent(
        """\
        import keras
        import tensorflow as tf

        inner = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5)])


        class Probe(keras.layers.Layer):
            def call(self, x, training=None):
                with tf.GradientTape() as tape:
                    y = inner(x)
                return tape.gradient(y, inner.trainable_variables)
        """
    )
    result = fix_source(probe)
    assert result.fixed == probe and [f.code for f, _ in result.unsafe] == ["TA006"]
    assert "shared call context" in result.unsafe[0][1]


def test_ta005_is_always_unsafe_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "aug.py"
    text = (
        "import keras\n\n\nclass Aug(keras.layers.Layer):\n"
        "    def call(self, x, training=True):\n        return x\n"
    )
    path.write_text(text)
    assert main(["--fix", str(path)]) == 1
    captured = capsys.readouterr()
    assert path.read_text() == text
    (line,) = captured.out.splitlines()
    assert " TA005 " in line and "[unsafe fix not applied: a bare call outside" in line
    assert line.endswith("apply it with --unsafe-fixes]")
    assert captured.err.splitlines()[-1] == (
        "fixed 0 finding(s) in 0 file(s); 1 remain: 1 have an unsafe fix (apply with "
        "--unsafe-fixes)."
    )
    assert main(["--fix", "--format", "json", str(path)]) == 1
    (row,) = json.loads(capsys.readouterr().out)
    assert row["code"] == "TA005" and row["fix"]["applicability"] == "unsafe"
    assert main(["--diff", str(path)]) == 0  # nothing safe to show
    captured = capsys.readouterr()
    assert captured.out == "" and "TA005 [unsafe fix not applied:" in captured.err
    assert main(["--diff", "--unsafe-fixes", str(path)]) == 1
    captured = capsys.readouterr()
    assert "+    def call(self, x, training=None):" in captured.out
    assert "TA005 unsafe fix applied: a bare call" in captured.err
    assert "(TA005 1; 1 of them unsafe)" in captured.err.splitlines()[-1]
    assert main(["--fix", "--unsafe-fixes", str(path)]) == 0
    assert "training=None" in path.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fix", "--diff"], "argument --diff: not allowed with argument --fix"),
        (["--diff", "--fix"], "argument --fix: not allowed with argument --diff"),
        (["--unsafe-fixes"], "argument --unsafe-fixes: needs --fix or --diff"),
        (["--fix-style", "forward"], "argument --fix-style: needs --fix or --diff"),
        (["--diff", "--format", "json"], "argument --format: --diff prints a diff, not json"),
    ],
)
def test_conflicting_options_are_rejected(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.py"
    path.write_text(HEAD)
    assert main([*argv, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: training-aware lint") and f"lint: error: {message}" in err
    assert path.read_text() == HEAD


def test_summaries_go_to_standard_error_for_fix_and_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.py"
    path.write_text(HEAD + "    def call(self, x, training=None):\n        return self.drop(x)\n")
    assert main(["--diff", str(path)]) == 1
    captured = capsys.readouterr()
    assert "would fix 1 finding(s)" in captured.err and "would fix" not in captured.out
    assert main(["--fix", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "fixed 1 finding(s)" in captured.err


def test_diff_path_is_what_git_apply_expects() -> None:
    assert diff_path("./pkg/./m.py") == "pkg/m.py"
    assert diff_path(str(Path.cwd() / "pkg" / "m.py")) == "pkg/m.py"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("spelling", [".", "./pkg", "pkg/", "ABS"])
def test_the_diff_applies_with_git_apply(
    spelling: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    bad = HEAD + "    def call(self, x, training=None):\n        return self.drop(x)\n"
    (tmp_path / "pkg" / "m.py").write_text(bad)
    (tmp_path / "top.py").write_text(bad)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    target = str(tmp_path / "pkg") if spelling == "ABS" else spelling
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["--diff", target]) == 1
    text = out.getvalue()
    assert "a/./" not in text and "--- a/pkg/m.py\n+++ b/pkg/m.py\n" in text
    (tmp_path / "fix.patch").write_text(text)
    check = subprocess.run(
        ["git", "apply", "--check", "fix.patch"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    subprocess.run(["git", "apply", "fix.patch"], check=True)
    assert "self.drop(x, training=training)" in (tmp_path / "pkg" / "m.py").read_text()
