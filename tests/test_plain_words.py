"""The shipped text speaks to users: no in-house terms, and every FACTS row points at its table.

"Shipped text" is what a user reads: README.md, CHANGELOG.md, the documentation site (docs/,
without the contributors' guide) and the package's source (docstrings, messages, CLI output).
The words below mean something only to the people who built the project (an issue number, a
work session, a "floor" or a "quick loop", "targets met"), or name the article the project
grew from ("the seed"); a reader needs the thing itself said instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "training_aware"
PAGES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    *(p for p in sorted((ROOT / "docs").rglob("*.md")) if p.name != "CONTRIBUTING-docs.md"),
]
SOURCES = sorted(SRC.rglob("*.py"))

INTERNAL = {
    r"\bissues? \d+\b": "an internal issue number: say what changed instead",
    r"\bthis session\b": "a work session: say when or what instead",
    r"\bthe seed\b|\bseed's\b": "the article the project grew from: say 'the classic ... example'",
    r"\bquick loop\b": 'in-house name: say `pytest -m "not slow"` (the tests not marked slow)',
    r"\bthe floor\b": "in-house name: say 'the oldest supported Keras' or name the baseline",
    r"\*\*(?:met|missed)\*\*|\btargets? (?:is |are )?(?:met|missed)\b": "a work-log verdict",
    r"TODO-LEAD": "a note left for a maintainer",
}
FACTS_ROW = re.compile(r"\bFACTS (?:row )?F\d+")


def _hits(text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, why in INTERNAL.items():
            match = re.search(pattern, line, re.IGNORECASE)
            if match:
                found.append(f"{number}: {match.group(0)!r} ({why})")
    return found


@pytest.mark.parametrize("path", [*PAGES, *SOURCES], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_internal_terms(path: Path) -> None:
    hits = _hits(path.read_text(encoding="utf-8"))
    assert not hits, f"{path.relative_to(ROOT)}:\n" + "\n".join(hits)


def _message_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String literals that are not docstrings: what the package prints or raises."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            found.append((node.lineno, "".join(str(p) for p in parts)))
            for value in node.values:
                docstrings.add(id(value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            found.append((node.lineno, node.value))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_facts_row_in_output_points_at_the_table(path: Path) -> None:
    """A message naming a FACTS row says where the table is (docs/facts.md)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bare = [
        f"{line}: {text!r}"
        for line, text in _message_strings(tree)
        if FACTS_ROW.search(text) and "facts.md" not in text
    ]
    assert not bare, f"{path.relative_to(ROOT)}: FACTS rows without docs/facts.md:\n" + "\n".join(
        bare
    )


def test_the_checks_catch_what_they_look_for() -> None:
    """The patterns are live: each flags a sentence written the way the old text was."""
    assert _hits("Figures after issue 9 (the build)")
    assert _hits("the seed's ComplexModel")
    assert _hits("on the floor 3.12.0")
    assert _hits("| <= 2x: **met** |")
    assert not _hits("a random seed, the classic ComplexModel example, a goal of 2x")
    tree = ast.parse('raise ValueError("runs in inference (FACTS F1)")')
    assert any(FACTS_ROW.search(text) for _, text in _message_strings(tree))
