"""docs/lint.md: every rule is documented, and every example on the page is linted as claimed."""

from __future__ import annotations

import re

import pytest

from training_aware.lint import RULES, lint_source

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
    findings = lint_source(bad, f"{code}_bad.py")
    assert findings
    assert {f.code for f in findings} == {code}
    quoted = re.search(r"^> (.*)$", SECTIONS[code], flags=re.M)
    assert quoted is not None
    assert findings[0].message == quoted.group(1)


@pytest.mark.parametrize("code", sorted(RULES))
def test_good_example_is_clean_and_compiles(code):
    bad, good = examples(code)
    assert lint_source(good, f"{code}_good.py") == []
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
