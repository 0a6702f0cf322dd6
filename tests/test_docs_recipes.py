"""Every ```python block of docs/recipes.md runs, in order, in one namespace (on TF and JAX)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

RECIPES = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks() -> list[str]:
    return BLOCK.findall(RECIPES.read_text())


def test_the_page_has_examples_for_every_recipe() -> None:
    text = RECIPES.read_text()
    for heading in (
        "## Monte Carlo dropout",
        "## Fine-tuning with BatchNorm frozen",
        "## Migrating from `learning_phase`",
        "## Auditing a model in a test suite",
    ):
        assert heading in text
    assert len(blocks()) >= 6


@pytest.mark.backend
def test_every_python_block_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "recipes"}
    for number, source in enumerate(blocks(), start=1):
        code = compile(source, f"{RECIPES.name}:block{number}", "exec")
        exec(code, namespace)
    assert "training-aware audit" in capsys.readouterr().out  # print(report) ran
