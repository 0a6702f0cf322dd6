"""`training-aware lint --format sarif|github` and `--statistics`.

The SARIF log is validated against the official SARIF 2.1.0 JSON schema (tests/data, with its
notice), with `jsonschema` from the test extra.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from training_aware.lint.runner import main

from .helpers import REPO
from .test_notebooks import BAD_MODEL, code, notebook, save

SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"

BAD = """\
import keras

class Block(keras.Model):
    def __init__(self):
        super().__init__()
        self.bn = keras.layers.BatchNormalization()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x, training=None):
        x = self.bn(x)
        return self.drop(x)
"""


def project(tmp_path: Path) -> list[str]:
    (tmp_path / "model.py").write_text(BAD)
    save(tmp_path / "nb.ipynb", notebook(code("import keras"), code(BAD_MODEL)))
    return [str(tmp_path / "model.py"), str(tmp_path / "nb.ipynb")]


def file_line(path: Path, text: str) -> int:
    """The line of the `.ipynb` file holding `text` (one JSON line per source line)."""
    (row,) = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return row


def validator():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the test extra")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def test_sarif_is_valid_sarif_2_1_0(tmp_path, capsys):
    assert main(["--format", "sarif", *project(tmp_path)]) == 1
    log = json.loads(capsys.readouterr().out)
    check = validator()
    errors = [e.message for e in check.iter_errors(log)]
    assert errors == []
    broken = copy.deepcopy(log)
    del broken["runs"][0]["tool"]["driver"]["name"]
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert len(list(check.iter_errors(broken))) == 2  # the schema check bites

    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["TA002", "TA002", "TA001"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    first = results[0]["locations"][0]["physicalLocation"]
    assert first["artifactLocation"]["uri"] == str(tmp_path / "model.py")
    assert first["region"] == {"startLine": 10, "startColumn": 13}
    notebook_result = results[2]
    assert notebook_result["properties"] == {"cell": 2, "line": 9, "col": 16}
    assert notebook_result["message"]["text"].startswith("cell 2, line 9: `BadModel.call`")
    region = notebook_result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": file_line(tmp_path / "nb.ipynb", "return self.drop(x)")}


def test_sarif_with_no_findings_is_valid_and_exits_0(tmp_path, capsys):
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert main(["--format", "sarif", str(tmp_path)]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["runs"][0]["results"] == []
    assert list(validator().iter_errors(log)) == []


def test_sarif_uris_are_relative_without_dot_slash(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my model.py").write_text(BAD)
    main(["--format", "sarif", "./my model.py"])
    log = json.loads(capsys.readouterr().out)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": "my%20model.py"}


def test_github_annotations(tmp_path, capsys):
    model, nb = project(tmp_path)
    assert main(["--format", "github", model, nb]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"::error file={model},line=10,col=13,title=TA002::`Block.call` calls `self.bn` "
        "(BatchNormalization) without `training`; pass `training=training` (on JAX it runs in "
        "inference mode during `fit`) [changes behaviour with Keras 3 on jax]"
    )
    line = file_line(Path(nb), "return self.drop(x)")
    assert out[2].startswith(
        f"::error file={nb},line={line},title=TA001 (cell 2%2C line 9)::cell 2, line 9: "
        "`BadModel.call`"
    )
    assert len(out) == 3


def test_github_escapes_what_workflow_commands_reserve(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a,b:c%.py").write_text(BAD)
    main(["--format", "github", "a,b:c%.py"])
    assert capsys.readouterr().out.startswith("::error file=a%2Cb%3Ac%25.py,line=10,")


def test_statistics_counts_per_rule(tmp_path, capsys):
    assert main(["--statistics", *project(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "2  TA002  `call` has `training` but calls a sublayer that uses it without passing it",
        "1  TA001  `call` has no `training` parameter but needs it (a sublayer or op that uses it)",
    ]
    assert main(["--statistics", "--format", "json", *project(tmp_path)]) == 1
    assert [(r["code"], r["count"]) for r in json.loads(capsys.readouterr().out)] == [
        ("TA002", 2),
        ("TA001", 1),
    ]


def test_statistics_of_a_clean_tree_prints_nothing(tmp_path, capsys):
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert main(["--statistics", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--statistics", "--format", "sarif"], "cannot be combined with --format sarif"),
        (["--statistics", "--format", "github"], "cannot be combined with --format github"),
        (["--statistics", "--fix"], "run it without --fix or --diff"),
        (["--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_conflicting_options_are_usage_errors(tmp_path, capsys, args, needle):
    (tmp_path / "m.py").write_text(BAD)
    assert main([*args, str(tmp_path / "m.py")]) == 2
    assert needle in capsys.readouterr().err
    assert (tmp_path / "m.py").read_text() == BAD


@pytest.mark.parametrize("fmt", ["json", "sarif", "github"])
def test_fix_in_a_machine_format_keeps_stdout_parseable(tmp_path, capsys, fmt):
    (tmp_path / "m.py").write_text(BAD)
    (tmp_path / "pinned.py").write_text(
        "import keras\n\n\nclass P(keras.layers.Layer):\n    def __init__(self):\n"
        "        super().__init__()\n        self.drop = keras.layers.Dropout(0.5)\n\n"
        "    def call(self, x, training=None):\n        return self.drop(x, training=True)\n"
    )
    assert main(["--fix", "--format", fmt, str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "fixed 2 finding(s) in 1 file(s)" in captured.err
    if fmt == "github":
        assert all(line.startswith("::error ") for line in captured.out.splitlines())
        assert "title=TA004" in captured.out
    else:
        parsed = json.loads(captured.out)
        assert parsed  # TA004 (hard-coded mode) remains: a human decides


def test_every_rule_in_sarif_links_to_its_section_of_the_rules_page() -> None:
    from training_aware.lint.formats import sarif

    page = (REPO / "docs" / "lint.md").read_text(encoding="utf-8")
    rules = sarif([])["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) == 10
    for rule in rules:
        url, _, anchor = rule["helpUri"].partition("#")
        assert url == "https://github.com/training-aware/training-aware/blob/main/docs/lint.md"
        assert f'<a id="{anchor}"></a>\n\n### {rule["id"]}:' in page
