"""The findings over installed keras and keras-hub are exactly the rows reviewed in
docs/lint-precision.md, and precision there is >= 90%."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

import pytest

from training_aware.lint.config import Config
from training_aware.lint.runner import lint_paths

from .helpers import REPO

PAGE = (REPO / "docs" / "lint-precision.md").read_text()
ROWS = re.findall(r"^\| (keras\S+:\d+:\d+) \| (TA\d{3}) \| ([^|]+) \|", PAGE, flags=re.M)
REVIEWED = {"keras": "3.15.1", "keras-hub": "0.32.0"}


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)  # finds the package without importing it
    if spec is None or spec.origin is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return Path(spec.origin).parent


def test_page_has_reviewed_rows_and_precision_at_least_90_percent():
    assert len(ROWS) >= 10
    true = sum(verdict.startswith("TP") for _, _, verdict in ROWS)
    assert true / len(ROWS) >= 0.9
    summary = re.search(r"(\d+) findings, (\d+) true positives, (\d+) false positives", PAGE)
    assert summary is not None
    assert tuple(map(int, summary.groups())) == (len(ROWS), true, len(ROWS) - true)


def test_findings_over_keras_and_keras_hub_are_the_reviewed_ones():
    for dist, version in REVIEWED.items():
        installed = importlib.metadata.version(dist)
        if installed != version:
            pytest.skip(f"{dist} {installed} installed, {version} reviewed: review again")
    roots = [_package_dir("keras"), _package_dir("keras_hub")]
    findings = lint_paths([str(r) for r in roots], Config())
    base = roots[0].parent
    found = sorted(
        (f"{Path(f.path).relative_to(base).as_posix()}:{f.line}:{f.col}", f.code) for f in findings
    )
    assert found == sorted((where, code) for where, code, _ in ROWS)
