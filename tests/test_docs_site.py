"""The documentation site builds with `mkdocs build --strict`, and a broken link fails the build."""

from __future__ import annotations

import os
import re
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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for the tests that read it."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = build(ROOT, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_mkdocs_build_strict_passes(site: Path) -> None:
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "TrainingAwareModel" in api and "mc_predict" in api  # mkdocstrings rendered the API
    facts = (site / "facts" / "index.html").read_text(encoding="utf-8")
    assert '<pre class="mermaid">' in facts  # the diagram is left for Mermaid to render


def test_the_site_works_offline_and_shows_users_pages_only(site: Path) -> None:
    facts = (site / "facts" / "index.html").read_text(encoding="utf-8")
    # Mermaid is served by the site itself (Material fetches it from a CDN only without it).
    scripts = re.findall(r'<script src="([^"]+)"', facts)
    assert "../javascripts/mermaid-11.17.2.min.js" in scripts
    mermaid = (site / "javascripts" / "mermaid-11.17.2.min.js").read_text(encoding="utf-8")
    assert 'globalThis["mermaid"] =' in mermaid
    assert (ROOT / "docs" / "javascripts" / "mermaid-LICENSE.txt").is_file()
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert not [u for u in external if not u.startswith("https://github.com/")], page
    # The changelog shows its heading once; the contributors' guide is not a page of the site.
    changelog = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    assert changelog.count("<h1") == 1
    assert not (site / "CONTRIBUTING-docs").exists()
    assert "CONTRIBUTING-docs" not in (site / "index.html").read_text(encoding="utf-8")


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
