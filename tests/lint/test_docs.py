"""docs/lint.md: every rule is documented, and every example on the page is linted as claimed."""

from __future__ import annotations

import re

import pytest

from training_aware.lint import RULES, lint_source
from training_aware.lint.rules import OPT_IN

from .helpers import REPO

PAGE = (REPO / "docs" / "lint.md").read_text()
SECTIONS = dict(re.findall(r"^### (TA\d{3}):.*?\n(.*?)(?=^### |\Z)", PAGE, flags=re.M | re.S))


def examples(code: str) -> tuple[str, str]:
    bad, good = re.findall(r"```python\n(.*?)```", SECTIONS[code], flags=re.S)
    return bad, good


def test_every_rule_has_a_section():
    assert sorted(SECTIONS) == sorted(RULES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_bad_example_reports_exactly_its_rule_with_the_documented_message(code):
    bad, _ = examples(code)
    findings = lint_source(bad, f"{code}_bad.py", opt_in=OPT_IN)
    assert findings
    assert {f.code for f in findings} == {code}
    quoted = re.search(r"^> (.*)$", SECTIONS[code], flags=re.M)
    assert quoted is not None
    assert findings[0].message == quoted.group(1)


@pytest.mark.parametrize("code", sorted(RULES))
def test_good_example_is_clean_and_compiles(code):
    bad, good = examples(code)
    assert lint_source(good, f"{code}_good.py", opt_in=OPT_IN) == []
    compile(good, f"{code}_good.py", "exec")
    if code != "TA000":
        compile(bad, f"{code}_bad.py", "exec")


@pytest.mark.parametrize("code", sorted(RULES))
def test_section_names_the_facts_rows(code):
    facts = RULES[code].facts
    line = re.search(r"^FACTS: (.*)$", SECTIONS[code], flags=re.M)
    assert line is not None
    for row in facts:
        assert row in line.group(1)


def _run(code: str, source: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": f"docs_example_{code.lower()}"}
    exec(compile(source, f"docs/lint.md {code}", "exec"), namespace)
    return namespace


def _call_layers(namespace: dict[str, object]) -> int:
    """Build and call every layer class the example defines (those built without arguments)."""
    import keras
    import numpy as np

    called = 0
    for value in list(namespace.values()):
        if not (
            isinstance(value, type)
            and issubclass(value, keras.layers.Layer)
            and value.__module__ == namespace["__name__"]
            and "call" in vars(value)
        ):
            continue
        try:
            layer = value()
        except TypeError:  # needs constructor arguments (e.g. a Dropout subclass's rate)
            continue
        out = layer(np.ones((2, 4), dtype="float32"))
        assert out.shape[0] == 2
        called += 1
    return called


@pytest.mark.parametrize(
    "code", sorted(c for c in RULES if c not in ("TA000", "TA007", "TA009"))
)  # TA009's examples are Keras 2 (tf_keras) code
def test_examples_run_with_keras(code):
    bad, good = examples(code)
    called = _call_layers(_run(code, bad)) + _call_layers(_run(code, good))
    assert called >= (0 if code == "TA006" else 1)


def test_ta007_bad_example_fails_on_keras_3_and_the_good_one_runs():
    bad, good = examples("TA007")
    with pytest.raises((ImportError, AttributeError), match="learning_phase"):
        _run("TA007", bad)
    _run("TA007", good)


def test_ta000_bad_example_does_not_compile():
    bad, good = examples("TA000")
    with pytest.raises(SyntaxError):
        compile(bad, "TA000", "exec")
    assert _call_layers(_run("TA000", good)) == 1
