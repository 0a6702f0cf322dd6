"""Shared helpers for the lint tests: paths, and running the checker on a snippet."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from training_aware.lint import lint_source

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "lint_cases"
PYTHON = sys.executable
BIN = Path(sys.executable).parent


def codes(source: str, *, latent: bool = True) -> list[str]:
    """The codes reported for a dedented snippet, in order (latent findings included unless
    `latent=False`: most tests are about what the checker sees, not how it is judged)."""
    return [f.code for f in lint_source(textwrap.dedent(source), "snippet.py", latent=latent)]
