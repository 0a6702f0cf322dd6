"""`training-aware lint` on Jupyter notebooks: code cells only, IPython lines masked, findings by
cell and line, `--fix` writing back nothing but the repaired source lines.

The notebooks are written here in the layout keras.io publishes its examples in (nbformat 4,
`json.dumps(indent=1, ensure_ascii=False)`, Colab metadata, one JSON line per source line, the
cell's last line without its newline), with outputs as Jupyter stores them (a stream, a PNG),
plus the variants other tools write (2-space indentation, escaped non-ASCII, a string source).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from training_aware.lint.notebooks import fix_notebook, lint_notebook
from training_aware.lint.runner import main

BAD_MODEL = """\
class BadModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x):
        x = self.dense(x)
        return self.drop(x)"""

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5Er"
    "kJggg==\n"
)


def lines(text: str) -> list[str]:
    """A cell's `source` as Jupyter stores it: one string per line, the last without `\\n`."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def code(text: str, n: int | None = None, outputs: list[Any] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": n,
        "metadata": {"colab_type": "code"},
        "outputs": outputs or [],
        "source": lines(text),
    }


def markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {"colab_type": "text"}, "source": lines(text)}


def notebook(*cells: dict[str, Any], language: str = "python") -> dict[str, Any]:
    return {
        "cells": list(cells),
        "metadata": {
            "accelerator": "GPU",
            "colab": {"name": "example", "provenance": [], "toc_visible": True},
            "kernelspec": {"display_name": "Python 3", "language": language, "name": "python3"},
            "language_info": {"name": language, "pygments_lexer": "ipython3", "version": "3.7.0"},
        },
        "nbformat": 4,
        "nbformat_minor": 0,
    }


def example() -> dict[str, Any]:
    """Markdown, shell escapes and a line magic, an import cell, the model, a cell magic."""
    return notebook(
        markdown("# Dropout in a subclassed model\n\n**Author:** é, ü"),
        code(
            "!pip install -q keras\n%matplotlib inline\nimport keras",
            1,
            [{"name": "stdout", "output_type": "stream", "text": ["Installed.\n"]}],
        ),
        markdown("## The model"),
        code(BAD_MODEL, 2),
        code("%%time\nfor i in range(3):\n    !echo {i}", 3),
        code(
            "files = !ls\nkeras.layers.Dropout?\nmodel = BadModel()\nmodel(keras.ops.ones((1, 2)))",
            4,
            [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": PNG, "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
                }
            ],
        ),
    )


def save(path: Path, nb: dict[str, Any], **options: Any) -> bytes:
    options = {"indent": 1, "ensure_ascii": False, **options}
    data = (json.dumps(nb, **options) + "\n").encode("utf-8")
    path.write_bytes(data)
    return data


def test_findings_name_the_cell_and_the_line_in_it(tmp_path, capsys):
    target = tmp_path / "example.ipynb"
    save(target, example())
    assert main([str(target)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{target}:cell 4:line 9:col 16: TA001 `BadModel.call` has no")
    assert len(out.splitlines()) == 1  # the magics, shell escapes and `?` raise nothing


def test_json_carries_cell_and_line(tmp_path, capsys):
    target = tmp_path / "example.ipynb"
    save(target, example())
    main(["--format", "json", str(target)])
    [finding] = json.loads(capsys.readouterr().out)
    assert {k: finding[k] for k in ("cell", "line", "col", "code")} == {
        "cell": 4,
        "line": 9,
        "col": 16,
        "code": "TA001",
    }


def test_imports_in_one_cell_serve_classes_in_another():
    nb = notebook(code("import keras"), code(BAD_MODEL))
    assert [
        (f.cell, f.line, f.code) for f in lint_notebook(json.dumps(nb).encode(), "n.ipynb")
    ] == [(2, 9, "TA001")]


def test_magics_keep_line_numbers_and_indented_escapes_stay_valid():
    cell = "import keras\n%load_ext autoreload\nif True:\n    !ls\n    x = 1\n" + BAD_MODEL
    found = lint_notebook(json.dumps(notebook(code(cell))).encode(), "n.ipynb")
    assert [(f.cell, f.line, f.code) for f in found] == [(1, 14, "TA001")]


def test_a_cell_with_a_syntax_error_is_reported_and_the_others_still_checked():
    nb = notebook(code("import keras"), code("def broken(:\n    pass"), code(BAD_MODEL))
    found = lint_notebook(json.dumps(nb).encode(), "n.ipynb")
    assert [(f.cell, f.line, f.code) for f in found] == [(2, 1, "TA000"), (3, 9, "TA001")]
    assert "this cell was not checked" in found[0].message


def test_top_level_await_is_ipython_and_not_an_error():
    nb = notebook(code("import keras\nawait something()"), code(BAD_MODEL))
    assert [f.code for f in lint_notebook(json.dumps(nb).encode(), "n.ipynb")] == ["TA001"]


def test_noqa_in_a_cell():
    nb = notebook(
        code("import keras"), code(BAD_MODEL.replace("self.drop(x)", "self.drop(x)  # noqa: TA001"))
    )
    assert lint_notebook(json.dumps(nb).encode(), "n.ipynb") == []


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"{not json", "not a valid notebook (JSON"),
        (b'{"worksheets": []}', "nbformat 3 notebook"),
        (b"[1, 2]", "not a Jupyter notebook"),
    ],
)
def test_files_that_are_not_notebooks_are_ta000(data, needle):
    [finding] = lint_notebook(data, "n.ipynb")
    assert finding.code == "TA000" and needle in finding.message


def test_a_notebook_in_another_language_is_not_checked():
    nb = notebook(code(BAD_MODEL), language="R")
    assert lint_notebook(json.dumps(nb).encode(), "n.ipynb") == []


def test_directories_are_walked_for_notebooks_but_not_checkpoints(tmp_path, capsys):
    save(tmp_path / "a.ipynb", notebook(code("import keras"), code(BAD_MODEL)))
    (tmp_path / ".ipynb_checkpoints").mkdir()
    save(tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb", example())
    assert main(["--format", "json", str(tmp_path)]) == 1
    assert [f["path"] for f in json.loads(capsys.readouterr().out)] == [str(tmp_path / "a.ipynb")]


def _changed_lines(before: bytes, after: bytes) -> list[tuple[str, str]]:
    old, new = before.decode().splitlines(), after.decode().splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_fix_rewrites_only_the_repaired_source_lines(tmp_path, capsys):
    target = tmp_path / "example.ipynb"
    before = save(target, example())
    assert main(["--fix", str(target)]) == 0
    assert "fixed 1 finding(s) in 1 file(s) (TA001 1)" in capsys.readouterr().err
    after = target.read_bytes()
    assert _changed_lines(before, after) == [
        ('    "    def call(self, x):\\n",', '    "    def call(self, x, training=None):\\n",'),
        (
            '    "        return self.drop(x)"',
            '    "        return self.drop(x, training=training)"',
        ),
    ]
    fixed = json.loads(after)
    original = example()
    for key in ("metadata", "nbformat", "nbformat_minor"):
        assert fixed[key] == original[key]
    for old, new in zip(original["cells"], fixed["cells"], strict=True):
        assert {k: v for k, v in old.items() if k != "source"} == {
            k: v for k, v in new.items() if k != "source"
        }
    assert main([str(target)]) == 0  # nothing left to report


@pytest.mark.parametrize(
    "options",
    [
        {"indent": 2},
        {"indent": 1, "ensure_ascii": True},
        {"indent": 4},
        {"indent": None, "separators": (",", ":")},
    ],
)
def test_fix_keeps_the_json_layout(tmp_path, options):
    target = tmp_path / "n.ipynb"
    before = save(target, example(), **options)
    result = fix_notebook(str(target), before)
    assert result.error is None and result.changed
    after = target.read_bytes()
    if options["indent"] is None:  # one line: the same text but for the two repaired lines
        assert after == before.replace(b"(self, x):", b"(self, x, training=None):").replace(
            b"self.drop(x)", b"self.drop(x, training=training)"
        )
    else:
        assert len(_changed_lines(before, after)) == 2


def test_fix_with_a_string_source_keeps_a_string(tmp_path):
    nb = notebook(code("import keras"), code(BAD_MODEL))
    nb["cells"][1]["source"] = BAD_MODEL
    target = tmp_path / "n.ipynb"
    fix_notebook(str(target), save(target, nb))
    source = json.loads(target.read_bytes())["cells"][1]["source"]
    assert isinstance(source, str) and source.endswith("return self.drop(x, training=training)")


def test_fix_refuses_a_layout_it_cannot_write_back_exactly(tmp_path):
    target = tmp_path / "n.ipynb"
    text = json.dumps(example(), indent=1, ensure_ascii=False).replace(
        '"nbformat": 4', '"nbformat":   4'
    )
    target.write_text(text, encoding="utf-8")
    result = fix_notebook(str(target), text.encode())
    assert result.error is not None and "JSON layout" in result.error
    assert target.read_text(encoding="utf-8") == text


def test_base_class_fix_adds_its_import_to_a_cell(tmp_path):
    target = tmp_path / "n.ipynb"
    save(target, notebook(code("import keras"), code(BAD_MODEL)))
    assert main(["--fix", "--fix-style", "base-class", str(target)]) == 0
    cells = json.loads(target.read_bytes())["cells"]
    assert cells[0]["source"] == ["import keras"]
    assert cells[1]["source"][:2] == [
        "from training_aware import TrainingAwareModel\n",
        "class BadModel(TrainingAwareModel):\n",
    ]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_diff_of_a_notebook_applies_with_git_apply(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    original = save(tmp_path / "example.ipynb", example())
    assert main(["--diff", "example.ipynb"]) == 1
    patch = capsys.readouterr().out
    assert (tmp_path / "example.ipynb").read_bytes() == original  # --diff writes nothing
    (tmp_path / "fix.patch").write_text(patch)
    subprocess.run(["git", "apply", "fix.patch"], check=True, cwd=tmp_path)
    fixed = tmp_path / "example.ipynb"
    assert len(_changed_lines(original, fixed.read_bytes())) == 2
    assert main([str(fixed)]) == 0


def test_findings_know_their_line_in_the_ipynb_file(tmp_path):
    target = tmp_path / "example.ipynb"
    save(target, example())
    [finding] = lint_notebook(target.read_bytes(), str(target))
    rows = target.read_text().splitlines()
    assert '"        return self.drop(x)"' in rows[finding.file_line - 1]
    nb = notebook(code("import keras"), code(BAD_MODEL))
    nb["cells"][1]["source"] = BAD_MODEL  # one JSON string: every line is on that JSON line
    save(target, nb, indent=2)
    [finding] = lint_notebook(target.read_bytes(), str(target))
    assert '"source": "class BadModel' in target.read_text().splitlines()[finding.file_line - 1]


def test_cells_are_typed_through_the_modules_beside_the_notebook(tmp_path, capsys):
    (tmp_path / "layers.py").write_text(
        "import keras\n\n\nclass Block(keras.layers.Layer):\n    def __init__(self):\n"
        "        super().__init__()\n        self.drop = keras.layers.Dropout(0.5)\n\n"
        "    def call(self, x, training=None):\n        return self.drop(x, training=training)\n"
    )
    cell = (
        "from layers import Block\n\nclass Net(keras.Model):\n    def __init__(self):\n"
        "        super().__init__()\n        self.block = Block()\n\n    def call(self, x):\n"
        "        return self.block(x)"
    )
    target = tmp_path / "explore.ipynb"
    save(target, notebook(code("import keras"), code(cell)))
    assert main([str(target)]) == 1  # named alone, as pre-commit names it
    out = capsys.readouterr().out
    assert out.startswith(f"{target}:cell 2:line 9:col 16: TA001 `Net.call`")
    assert "calls `self.block` (Block)" in out
    assert main(["--fix", str(target)]) == 0
    assert json.loads(target.read_text())["cells"][1]["source"][-1] == (
        "        return self.block(x, training=training)"
    )
