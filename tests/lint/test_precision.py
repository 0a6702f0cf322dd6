"""The findings over the pinned precision corpus are exactly the rows reviewed in
docs/lint-precision.md, and the precision targets hold there.

The corpus (keras, keras-hub and twenty other pinned PyPI releases with Keras code) is fetched by
scripts/fetch_lint_corpus.py into a cache directory; nothing of it is committed.
"""

from __future__ import annotations

import collections
import importlib.util
import re
import subprocess
import sys

import pytest

from training_aware.lint.config import Config
from training_aware.lint.runner import lint_paths

from .helpers import REPO

PAGE = (REPO / "docs" / "lint-precision.md").read_text()
ROWS = re.findall(r"^\| ([\w.-]+-[\d.]+/\S+:\d+:\d+) \| (TA\d{3}) \| ([^|]+) \|", PAGE, flags=re.M)


def _fetcher():
    spec = importlib.util.spec_from_file_location(
        "fetch_lint_corpus", REPO / "scripts" / "fetch_lint_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetch_lint_corpus"] = module
    spec.loader.exec_module(module)
    return module


def test_page_has_reviewed_rows_and_meets_the_precision_targets():
    default = [r for r in ROWS if r[1] != "TA009"]
    assert len(default) >= 10
    true = sum(verdict.startswith("TP") for _, _, verdict in default)
    assert true / len(default) >= 0.9
    summary = re.search(r"(\d+) findings, (\d+) true positives, (\d+) false positives", PAGE)
    assert summary is not None
    assert tuple(map(int, summary.groups())) == (len(default), true, len(default) - true)
    by_rule = collections.defaultdict(list)
    for _, code, verdict in ROWS:
        by_rule[code].append(verdict.startswith("TP"))
    for code, verdicts in by_rule.items():
        if len(verdicts) >= 5:
            assert sum(verdicts) / len(verdicts) >= 0.8, code


def test_corpus_has_at_least_1500_files_from_at_least_seven_packages():
    fetch = _fetcher()
    assert len(fetch.CORPUS) >= 7
    assert {"keras", "keras-hub"} <= {p.name for p in fetch.CORPUS}
    counted = re.search(r"\| \*\*total\*\* \| \*\*(\d+)\*\*", PAGE)
    assert counted is not None and int(counted.group(1)) >= 1500


@pytest.mark.slow
def test_findings_over_the_corpus_are_the_reviewed_ones():
    fetch = _fetcher()
    try:
        for package in fetch.CORPUS:
            fetch.fetch(package)
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"the precision corpus cannot be fetched from PyPI here ({exc})")
    base = fetch.cache_dir()
    config = Config(select=("TA", "TA009"))
    found = []
    for package in fetch.CORPUS:
        roots = [str(r) for r in fetch.roots(package)]
        for f in lint_paths(roots, config):
            where = f"{f.path[len(str(base)) + 1 :]}:{f.line}:{f.col}"
            found.append((where, f.code))
    assert sorted(found) == sorted((where, code) for where, code, _ in ROWS)
