"""`training-aware lint`: output, JSON, selection, noqa, pyproject config, recursion, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap

import pytest

from training_aware.lint.runner import main

from .helpers import BIN, CASES, PYTHON

BAD = """\
import keras


class M(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)
        self.norm = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        x = self.drop(x){noqa1}
        return self.norm(x, training=True){noqa2}
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def bad(path, noqa1="", noqa2=""):
    return write(path, BAD.format(noqa1=noqa1, noqa2=noqa2))


def test_text_output_format_and_exit_code(tmp_path, capsys):
    target = bad(tmp_path / "m.py")
    assert main([str(target)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{target}:11:13: TA002 `M.call` calls `self.drop` (Dropout)")
    assert lines[1].startswith(f"{target}:12:16: TA004 `M.call` hard-codes `training=True`")
    assert len(lines) == 2


def test_clean_file_exits_zero_and_prints_nothing(tmp_path, capsys):
    assert main([str(CASES / "ta002_good_seed_example2.py")]) == 0
    assert capsys.readouterr().out == ""


def test_json_format(tmp_path, capsys):
    target = bad(tmp_path / "m.py")
    assert main(["--format", "json", str(target)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(d["code"], d["line"], d["col"]) for d in data] == [
        ("TA002", 11, 13),
        ("TA004", 12, 16),
    ]
    assert data[0]["path"] == str(target)
    assert "pass `training=training`" in data[0]["message"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--select", "TA002"], ["TA002"]),
        (["--ignore", "TA002"], ["TA004"]),
        (["--select", "TA00", "--ignore", "TA004"], ["TA002"]),
        (["--select", "TA", "--ignore", "TA0"], []),
        (["--ignore", "TA", "--select", "TA004"], ["TA004"]),
    ],
)
def test_select_and_ignore(tmp_path, capsys, args, expected):
    target = bad(tmp_path / "m.py")
    assert main([*args, "--format", "json", str(target)]) == (1 if expected else 0)
    assert [d["code"] for d in json.loads(capsys.readouterr().out)] == expected


@pytest.mark.parametrize(
    ("noqa1", "noqa2", "expected"),
    [
        ("  # noqa: TA002", "", ["TA004"]),
        ("  # noqa:TA004", "", ["TA002", "TA004"]),
        ("  # noqa", "  # NOQA: E501, TA004", []),
        ("  # noqa: E501", "", ["TA002", "TA004"]),
    ],
)
def test_noqa(tmp_path, capsys, noqa1, noqa2, expected):
    target = bad(tmp_path / "m.py", noqa1, noqa2)
    main(["--format", "json", str(target)])
    assert [d["code"] for d in json.loads(capsys.readouterr().out)] == expected


def test_pyproject_select_ignore_exclude(tmp_path, capsys):
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "x"

        [tool.training-aware]
        ignore = ["TA004"]
        exclude = ["generated/*", "skip_me.py"]
        """,
    )
    bad(tmp_path / "pkg" / "m.py")
    bad(tmp_path / "generated" / "g.py")
    bad(tmp_path / "pkg" / "skip_me.py")
    assert main(["--format", "json", str(tmp_path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(d["path"], d["code"]) for d in data] == [(str(tmp_path / "pkg" / "m.py"), "TA002")]
    # The command line replaces the file's lists.
    assert main(["--format", "json", "--ignore", "TA002", str(tmp_path / "pkg")]) == 1
    assert [d["code"] for d in json.loads(capsys.readouterr().out)] == ["TA004"]


def test_nearest_pyproject_wins(tmp_path, capsys):
    write(tmp_path / "pyproject.toml", '[tool.training-aware]\nselect = ["TA004"]\n')
    write(tmp_path / "sub" / "pyproject.toml", '[tool.training-aware]\nselect = ["TA002"]\n')
    bad(tmp_path / "sub" / "m.py")
    main(["--format", "json", str(tmp_path / "sub")])
    assert [d["code"] for d in json.loads(capsys.readouterr().out)] == ["TA002"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[tool.training-aware]\nselekt = ["TA"]\n', r"unknown key\(s\) selekt .*expected: "),
        ('[tool.training-aware]\nignore = ["XY1"]\n', r"unknown rule code 'XY1'; expected one of"),
        ('[tool.training-aware]\nignore = "TA0\n', r"not valid TOML"),
        ("[tool.training-aware]\nexclude = [1]\n", r"expected a list of strings"),
    ],
)
def test_bad_configuration_is_a_usage_error(tmp_path, capsys, toml, message):
    import re

    write(tmp_path / "pyproject.toml", toml)
    bad(tmp_path / "m.py")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "pyproject.toml") in err
    assert re.search(message, err)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--select", "TA9"], "--select: unknown rule code 'TA9'"),
        (["--format", "xml"], "invalid choice: 'xml'"),
        ([], "the following arguments are required: PATH"),
        (["does/not/exist.py"], "does/not/exist.py: no such file or directory"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, needle):
    target = [] if args and args[0] == "does/not/exist.py" else [str(bad(tmp_path / "m.py"))]
    if not args:
        target = []
    assert main([*args, *target]) == 2
    assert needle in capsys.readouterr().err


def test_recursion_skips_vcs_venvs_build_node_modules(tmp_path, capsys):
    bad(tmp_path / "src" / "m.py")
    for skipped in (".git", "build", "node_modules", ".venv", "__pycache__"):
        bad(tmp_path / skipped / "m.py")
    bad(tmp_path / "myenv" / "lib" / "m.py")
    write(tmp_path / "myenv" / "pyvenv.cfg", "home = /usr\n")
    bad(tmp_path / "src" / "notes.txt")
    main(["--format", "json", "--select", "TA002", str(tmp_path)])
    paths = {d["path"] for d in json.loads(capsys.readouterr().out)}
    assert paths == {str(tmp_path / "src" / "m.py")}


def test_explicit_file_is_checked_whatever_its_name(tmp_path, capsys):
    target = bad(tmp_path / "build" / "script")
    assert main(["--select", "TA002", str(target)]) == 1
    assert f"{target}:11:13: TA002" in capsys.readouterr().out


def test_console_script_and_python_dash_m(tmp_path):
    target = bad(tmp_path / "m.py")
    script = shutil.which("training-aware", path=str(BIN))
    assert script is not None
    for command in ([script, "lint"], [PYTHON, "-m", "training_aware", "lint"]):
        proc = subprocess.run([*command, str(target)], capture_output=True, text=True, check=False)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout.count(": TA00") == 2
        assert proc.stderr == ""


def test_exclude_applies_to_files_named_on_the_command_line(tmp_path, capsys):
    write(tmp_path / "pyproject.toml", '[tool.training-aware]\nexclude = ["gen_*.py"]\n')
    skipped = bad(tmp_path / "gen_model.py")
    kept = bad(tmp_path / "model.py")
    assert main(["--format", "json", "--select", "TA002", str(skipped), str(kept)]) == 1
    assert [d["path"] for d in json.loads(capsys.readouterr().out)] == [str(kept)]
    assert main(["--exclude", "model.py", str(kept)]) == 0


def test_help_exits_zero_and_lists_every_rule(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code in ("TA000", "TA001", "TA008"):
        assert code in out


def test_a_file_named_twice_is_checked_once(tmp_path, capsys):
    target = bad(tmp_path / "m.py")
    main(["--format", "json", "--select", "TA002", str(target), str(tmp_path), str(target)])
    assert [d["path"] for d in json.loads(capsys.readouterr().out)] == [str(target)]
