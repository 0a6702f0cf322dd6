"""The documentation site builds with `mkdocs build --strict`, and a broken link fails the build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="the [docs] extra is not installed")
pytest.importorskip("mkdocstrings", reason="the [docs] extra is not installed")

# A build takes 2-7 s (mkdocstrings reads src/): out of the quick loop; CI runs them.
pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_mkdocs_build_strict_passes(tmp_path: Path) -> None:
    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "TrainingAwareModel" in api and "mc_predict" in api  # mkdocstrings rendered the API
    facts = (tmp_path / "site" / "facts" / "index.html").read_text(encoding="utf-8")
    assert '<pre class="mermaid">' in facts  # the diagram is left for Mermaid to render


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy)
    shutil.copy(ROOT / "CHANGELOG.md", copy)
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        ("[a page](no-such-page.md)", "no-such-page.md"),
        ("[an anchor](recipes.md#no-such-heading)", "no-such-heading"),
        ("::: training_aware.model.NoSuchName", "NoSuchName"),
    ],
)
def test_a_broken_link_or_reference_fails_the_build(
    tmp_path: Path, edit: str, complaint: str
) -> None:
    copy = _copy(tmp_path)
    page = copy / "docs" / "getting-started.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\n\n{edit}\n", encoding="utf-8")
    result = build(copy, tmp_path / "site")
    assert result.returncode != 0
    assert complaint in result.stdout + result.stderr


def test_the_api_page_shows_no_private_name(tmp_path: Path) -> None:
    """Bases and signatures name public classes only (no `_TrainingAwareMixin` as a base)."""
    import html
    import re

    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    private = sorted(set(re.findall(r"(?<![\w.])_[A-Z][a-z]\w*", text)))  # a private class
    assert private == [], private
    assert "audit(\n    model: Model,\n    x: Batch," in text
    assert "-> tuple[Predictions, Predictions]" in text
