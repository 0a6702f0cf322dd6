"""The package's public names, and the example in its docstring."""

from __future__ import annotations

import training_aware.lint
from training_aware.lint import RULES, Finding, check_tree, lint_source

# The package docstring's example runs in tests/test_docs.py (Sybil), with every other docstring.


def test_public_names():
    assert sorted(training_aware.lint.__all__) == [
        "Finding",
        "RULES",
        "Rule",
        "check_tree",
        "lint_source",
    ]
    assert callable(check_tree)
    assert list(RULES) == [f"TA00{i}" for i in range(10)]


def test_finding_format_and_dict():
    finding = Finding("m.py", 3, 5, "TA002", "message")
    assert finding.format() == "m.py:3:5: TA002 message"
    assert finding.to_dict() == {
        "path": "m.py",
        "line": 3,
        "col": 5,
        "code": "TA002",
        "message": "message",
        "category": "behaviour",
        "keras": "3",
        "backends": ["tensorflow", "jax", "torch"],
    }


def test_lint_source_accepts_text_and_bytes_alike():
    source = (
        "import keras\n"
        "class A(keras.layers.Layer):\n"
        "    def call(self, x, training=True):\n"
        "        return x\n"
    )
    assert lint_source(source) == lint_source(source.encode())
    assert [f.code for f in lint_source(source)] == ["TA005"]
