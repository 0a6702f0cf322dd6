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


def test_page_has_reviewed_rows_and_its_figures_agree():
    default = [r for r in ROWS if r[1] != "TA009"]
    assert len(default) >= 10
    true = sum(verdict.startswith("TP") for _, _, verdict in default)
    summary = re.search(r"(\d+) findings, (\d+) true positives, (\d+) false positives", PAGE)
    assert summary is not None
    assert tuple(map(int, summary.groups())) == (len(default), true, len(default) - true)
    by_rule = collections.defaultdict(list)
    for _, code, verdict in ROWS:
        by_rule[code].append(verdict.startswith("TP"))
    for code, verdicts in by_rule.items():
        stated = re.search(rf"^\| {code}(?: \(opt-in\))? \| (\d+)/(\d+) \|", PAGE, flags=re.M)
        assert stated is not None, code
        assert (int(stated.group(1)), int(stated.group(2))) == (sum(verdicts), len(verdicts)), code


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


# The held-out set: code the rules were never tuned on ("Held-out set" in docs/lint-precision.md).
HELD_OUT_ROWS = re.findall(
    r"^\| ([DL])\d+ \| ([\w.-]+-[\w.]+/\S+:\d+:\d+) \| (TA\d{3}) \| "
    r"(changes behaviour|latent|wrong) \|",
    PAGE,
    flags=re.M,
)
VERDICTS = ("changes behaviour", "latent", "wrong")


def _held_out_summary(kind: str) -> tuple[int, ...]:
    """The page's figures for the default (`D`) or latent (`L`) rows."""
    verdicts = [v for k, _, _, v in HELD_OUT_ROWS if k == kind]
    return (len(verdicts), *(verdicts.count(v) for v in VERDICTS))


def test_held_out_rows_and_figures_agree():
    assert HELD_OUT_ROWS, "the held-out tables are missing from docs/lint-precision.md"
    total, behaviour, latent, wrong = _held_out_summary("D")
    stated = re.search(
        r"\*\*Default: (\d+) findings, (\d+) change behaviour at run time, (\d+) latent, "
        r"(\d+) wrong: (\d+)%",
        PAGE,
    )
    assert stated is not None
    assert tuple(map(int, stated.groups())) == (
        total,
        behaviour,
        latent,
        wrong,
        round(100 * behaviour / total),
    )
    total, behaviour, latent, wrong = _held_out_summary("L")
    stated = re.search(r"\*\*Latent: (\d+) findings, (\d+) latent .*?, (\d+) wrong", PAGE)
    assert stated is not None
    assert tuple(map(int, stated.groups())) == (total, latent, wrong)
    assert behaviour == 0, "a latent finding that changes behaviour belongs in the default"
    counted = re.search(
        r"\| \*\*total\*\* \| \*\*(\d+)\*\* \| \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|", PAGE
    )
    assert counted is not None
    assert tuple(map(int, counted.groups()))[1:] == (
        _held_out_summary("D")[0],
        _held_out_summary("L")[0],
    )


def test_held_out_set_is_disjoint_from_the_tuning_set():
    fetch = _fetcher()
    assert len(fetch.HELD_OUT) >= 10
    assert not {p.name for p in fetch.HELD_OUT} & {p.name for p in fetch.CORPUS}


@pytest.mark.slow
def test_findings_over_the_held_out_set_are_the_recorded_ones():
    """The recorded precision tables of the held-out set are the linter's output, finding by
    finding: the default findings are the `D` rows, the extra findings of `--latent` the `L`
    rows (each package linted as one project)."""
    fetch = _fetcher()
    try:
        for package in fetch.HELD_OUT:
            fetch.fetch(package)
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"the held-out corpus cannot be fetched from PyPI here ({exc})")
    base = str(fetch.cache_dir())
    found: dict[str, list[tuple[str, str]]] = {"D": [], "L": []}
    files = 0
    for package in fetch.HELD_OUT:
        roots = [str(r) for r in fetch.roots(package)]
        files += sum(1 for r in fetch.roots(package) for _ in r.rglob("*.py"))
        for latent, kind in ((False, "D"), (True, "L")):
            for f in lint_paths(roots, Config(latent=latent)):
                if latent and f.category != "latent":
                    continue
                found[kind].append((f"{f.path[len(base) + 1 :]}:{f.line}:{f.col}", f.code))
    for kind in ("D", "L"):
        recorded = [(where, code) for k, where, code, _ in HELD_OUT_ROWS if k == kind]
        assert sorted(found[kind]) == sorted(recorded), kind
    counted = re.search(r"\| \*\*total\*\* \| \*\*(\d+)\*\* \| \| \*\*", PAGE)
    assert counted is not None and int(counted.group(1)) == files
