"""Every relative link and every file reference in README.md and docs/ points at something real.

- Relative Markdown links (`[text](page.md#anchor)`) resolve to a file, and an anchor to a heading
  of that file; links in docs/ stay inside docs/ (the site holds nothing else).
- File references written as paths from the repository root (`tests/test_model.py::test_f1_*`,
  `benchmarks/model.py`, `research/...`) name files that exist (globs must match one).
- A bare file name (`FACTS.md`) names a file next to the page or at the repository root.

Fenced code blocks are skipped: their paths are examples (`mypkg/models.py`), not references.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]

pytestmark = pytest.mark.backend_independent

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$", re.M | re.S)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
ROOTS = ("src", "tests", "docs", "scripts", "benchmarks", "research", ".ci", ".github")
REPO_PATH = re.compile(
    r"(?<![\w./-])((?:" + "|".join(re.escape(r) for r in ROOTS) + r")/[\w.*/-]*[\w*])"
)
BARE_FILE = re.compile(r"(?<![\w./-])([A-Za-z][\w-]*\.md)\b")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """`text` without fenced code blocks and HTML comments (same line count)."""

    def blank(match: re.Match[str]) -> str:
        return "\n" * match.group(0).count("\n")

    return HTML_COMMENT.sub(blank, FENCE.sub(blank, text))


def slug(heading: str) -> str:
    """The anchor MkDocs' toc extension gives a heading (its default `slugify`)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = text.replace("`", "").replace("**", "")  # code and bold markers; `_` stays
    text = re.sub(r"<[^>]+>", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for _, title in HEADING.findall(prose(page.read_text(encoding="utf-8"))):
        base = slug(title)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}_{n}"
        found.add(name)
    return found


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def link_problems(page: Path) -> list[str]:
    text = prose(page.read_text(encoding="utf-8"))
    where = page.relative_to(ROOT)
    problems: list[str] = []
    targets = [(m.group(1), m.start()) for m in LINK.finditer(text)]
    targets += [(m.group(1), m.start()) for m in REFERENCE_DEFINITION.finditer(text)]
    for target, index in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        line = line_of(text, index)
        if not resolved.exists():
            problems.append(f"{where}:{line}: link to {target!r}: no such file")
            continue
        if page.is_relative_to(DOCS) and not resolved.is_relative_to(DOCS):
            problems.append(
                f"{where}:{line}: link to {target!r} leaves docs/, which the site does not "
                "hold; name the file as a code span instead"
            )
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}:{line}: link to {target!r}: no heading with that anchor")
    return problems


def reference_problems(page: Path) -> list[str]:
    text = prose(page.read_text(encoding="utf-8"))
    where = page.relative_to(ROOT)
    problems: list[str] = []
    for match in REPO_PATH.finditer(text):
        reference = match.group(1).split("::")[0].rstrip(".")
        if not any(ROOT.glob(reference)) and not (ROOT / reference).exists():
            problems.append(f"{where}:{line_of(text, match.start())}: {reference!r} does not exist")
    for match in BARE_FILE.finditer(text):
        name = match.group(1)
        if not ((page.parent / name).exists() or (ROOT / name).exists()):
            problems.append(
                f"{where}:{line_of(text, match.start())}: {name!r} is neither next to the page "
                "nor at the repository root"
            )
    return problems


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    problems = link_problems(page)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_file_references_exist(page: Path) -> None:
    problems = reference_problems(page)
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    # Run on a page made to break them (inside docs/, as a page there would be).
    page = DOCS / "_links_selftest.md"
    page.write_text(
        "# A `title` here\n\n[ok](#a-title-here) [gone](nowhere.md) [bad](index.md#no-such)\n"
        "[out](../README.md) see FACTS.md and `research/keras-internals.md`, "
        "`tests/test_docs_links.py::test_x`\n\n```text\nmypkg/models.py and research/x.md\n```\n",
        encoding="utf-8",
    )
    try:
        links = "\n".join(link_problems(page))
        references = "\n".join(reference_problems(page))
    finally:
        page.unlink()
    assert "#a-title-here" not in links
    assert "'nowhere.md': no such file" in links
    assert "'index.md#no-such': no heading" in links
    assert "leaves docs/" in links
    assert "'FACTS.md'" in references and "'research/keras-internals.md'" in references
    assert "test_docs_links" not in references and "mypkg" not in references
    assert "research/x.md" not in references


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_no_in_house_names(page: Path) -> None:
    # Readers never heard of "the seed": the classic BadModel/GoodModel/ComplexModel examples.
    text = prose(page.read_text(encoding="utf-8"))
    found = re.findall(
        r"\bthe seed's\b|\bthe seed (?:article|example)|\bseed (?:Bad|Good|Complex)", text, re.I
    )
    assert not found, f"{page.name}: say 'the classic BadModel/GoodModel/ComplexModel examples'"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_facts_is_introduced_before_it_is_cited(page: Path) -> None:
    # "FACTS F3" means nothing to a reader who has not seen the table: the paragraph of the first
    # mention links to it (docs/facts.md defines it).
    if page == DOCS / "facts.md" or page.parent.name == "snippets":  # snippets: see their page
        return
    text = prose(page.read_text(encoding="utf-8"))
    first = re.search(r"\bFACTS\b", text)
    if first is None:
        return
    start = text.rfind("\n\n", 0, first.start())
    end = text.find("\n\n", first.start())
    paragraph = text[start : end if end >= 0 else len(text)]
    assert "facts.md" in paragraph, (
        f"{page.relative_to(ROOT)}:{line_of(text, first.start())}: the first mention of FACTS "
        "should link to facts.md (the table of what plain Keras does)"
    )
