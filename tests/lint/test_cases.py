"""The corpus in tests/lint_cases: each bad file reports exactly its rule; good files are clean."""

from __future__ import annotations

import pytest

from training_aware.lint import RULES, lint_source
from training_aware.lint.checker import check_tree
from training_aware.lint.rules import OPT_IN

from .helpers import CASES

BAD = sorted(CASES.glob("ta*_bad*.py"))
GOOD = sorted(CASES.glob("ta*_good*.py"))


def _rule_of(name: str) -> str:
    return name[:5].upper()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_case_reports_exactly_its_rule(path):
    findings = lint_source(path.read_bytes(), str(path), opt_in=OPT_IN)
    assert findings, f"{path.name}: no finding"
    assert {f.code for f in findings} == {_rule_of(path.name)}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_case_is_clean(path):
    assert lint_source(path.read_bytes(), str(path), opt_in=OPT_IN) == []


def test_every_rule_has_a_bad_and_a_good_case():
    rules = [code for code in RULES if code != "TA000"]
    assert sorted({_rule_of(p.name) for p in BAD}) == rules
    assert sorted({_rule_of(p.name) for p in GOOD}) == rules


def test_seed_example_1_reports_ta001_for_batchnorm_and_dropout():
    path = CASES / "ta001_bad_seed_example1.py"
    findings = lint_source(path.read_bytes(), str(path))
    assert [(f.code, f.line) for f in findings] == [("TA001", 13), ("TA001", 14)]
    assert "`BadModel.call`" in findings[0].message
    assert "`self.batch_norm` (BatchNormalization)" in findings[0].message
    assert "`self.dropout` (Dropout)" in findings[1].message
    assert "add `training=None` to `call`" in findings[0].message


@pytest.mark.parametrize("name", ["ta002_good_seed_example2.py", "ta002_good_seed_example3.py"])
def test_seed_examples_2_and_3_are_clean(name):
    path = CASES / name
    assert lint_source(path.read_bytes(), str(path)) == []


def test_seed_example_3_without_its_isinstance_test_reports_ta002():
    source = (CASES / "ta002_good_seed_example3.py").read_text()
    start = source.index("            if isinstance(")
    end = source.index("        return x")
    loop_body = "            x = layer(x)\n"
    broken = source[:start] + loop_body + source[end:]
    assert [f.code for f in lint_source(broken)] == ["TA002"]


def test_check_tree_positions_are_one_based():
    import ast

    source = (CASES / "ta005_bad.py").read_text()
    [(line, col, code, _)] = check_tree(ast.parse(source), source)
    assert (line, col, code) == (5, 37, "TA005")
