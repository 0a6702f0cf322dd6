"""Every code example of README.md, docs/ and the docstrings under src/ runs, through Sybil.

The rules the blocks follow are written in docs/CONTRIBUTING-docs.md:

- a fenced block whose info string is exactly ``python`` runs, in a fresh namespace;
- ``<!-- continue -->`` just before a fence runs that block in the namespace the previous block of
  the same page (or docstring) left behind;
- ``<!-- skip: next "reason" -->`` just before a fence keeps that block from running;
- ``<!-- slow -->`` just before a block marks its chain's test ``slow`` (more than ~5 s);
- ``<!-- backend: jax -->`` just before a chain's first block runs it on that backend only.

Sybil lexes the fences and the directives and evaluates each block (its ``PythonEvaluator`` keeps
the page's line numbers in tracebacks); this module groups the blocks into chains (a block and the
blocks that continue it) and makes one test per chain, named after the page and the line of its
first block, so chains run, fail and can be selected independently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sybil import Document, Example, Region
from sybil.document import PythonDocStringDocument
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.abstract.skip import SKIP_ARGUMENTS_PATTERN
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[1]
CONVENTION = "docs/CONTRIBUTING-docs.md"

FENCES = RawFencedCodeBlockLexer(
    info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE),
    mapping={"info": "info", "source": "source"},
)
CONTINUE = DirectiveInHTMLCommentLexer("continue", arguments="")
SKIP = DirectiveInHTMLCommentLexer("skip")
SLOW = DirectiveInHTMLCommentLexer("slow", arguments="")
BACKEND = DirectiveInHTMLCommentLexer("backend")
BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")
EVALUATE = PythonEvaluator()


def sources() -> list[Path]:
    """README.md, every page under docs/, every module under src/training_aware."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "src" / "training_aware").rglob("*.py")),
    ]


@dataclass
class Block:
    example: Example
    skip_reason: str | None = None
    continues: bool = False
    slow: bool = False
    backends: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{_rel(self.example.path)}:{self.example.line}"


@dataclass
class Chain:
    blocks: list[Block] = field(default_factory=list)

    @property
    def where(self) -> str:
        return self.blocks[0].where

    @property
    def slow(self) -> bool:
        return any(block.slow for block in self.blocks)

    @property
    def backends(self) -> tuple[str, ...]:
        return self.blocks[0].backends


def _rel(path: Path | str) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class ConventionError(Exception):
    """A block or a directive that does not follow docs/CONTRIBUTING-docs.md."""


def _texts(path: Path) -> Iterator[tuple[int, str]]:
    """(offset in the file, text) of each part that holds Markdown: the page, or each docstring."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        yield 0, text
        return
    for start, _end, docstring in PythonDocStringDocument.extract_docstrings(text):
        yield start, docstring


def _adjacent(text: str, directive: Region, fence: Region) -> bool:
    """Only blank space (and the comment's closing `-->`) between `directive` and `fence`."""
    gap = text[directive.end : fence.start] if directive.end <= fence.start else "x"
    return re.fullmatch(r"\s*(?:-*-->)?\s*", gap) is not None


def blocks(path: Path) -> list[list[Block]]:
    """The ``python`` blocks of `path`, one list per page or docstring, with their directives."""
    full = path.read_text(encoding="utf-8")
    document = Document(full, str(path))
    parts: list[list[Block]] = []
    for offset, text in _texts(path):
        part = Document(text, str(path))
        fences = list(FENCES(part))
        nested = [
            inner
            for inner in fences
            for outer in fences
            if outer is not inner and outer.start < inner.start and inner.end <= outer.end
        ]
        fences = [f for f in fences if f not in nested]
        for prompt in re.finditer(r"^[ \t]*>>> ", text, re.M):
            if not any(f.start <= prompt.start() < f.end for f in fences):
                line = full.count("\n", 0, offset + prompt.start()) + 1
                raise ConventionError(
                    f"{_rel(path)}:{line}: a `>>>` example outside a ```python block never runs; "
                    f"write it as a ```python block with asserts; see {CONVENTION}"
                )
        directives = [
            (kind, region)
            for kind, lexer in (
                ("continue", CONTINUE),
                ("skip", SKIP),
                ("slow", SLOW),
                ("backend", BACKEND),
            )
            for region in lexer(part)
            if not any(f.start <= region.start < f.end for f in fences)  # shown, not meant
        ]
        found: list[Block] = []
        for fence in fences:
            before = [
                (kind, region) for kind, region in directives if _adjacent(text, region, fence)
            ]
            info = str(fence.lexemes["info"]).strip()
            if info != "python":
                if before:
                    line = full.count("\n", 0, offset + fence.start) + 1
                    raise ConventionError(
                        f"{_rel(path)}:{line}: a `{before[0][0]}` directive before a "
                        f"```{info} block, which never runs; see {CONVENTION}"
                    )
                continue
            source = fence.lexemes["source"]
            region = Region(offset + fence.start, offset + fence.end, source, EVALUATE)
            line = full.count("\n", 0, region.start) + 1
            block = Block(Example(document, line, 0, region, {}))
            for kind, directive in before:
                if kind == "continue":
                    block.continues = True
                elif kind == "slow":
                    block.slow = True
                elif kind == "backend":
                    names = tuple(re.split(r"[\s,]+", str(directive.lexemes["arguments"]).strip()))
                    if not names or not set(names) <= set(BACKENDS):
                        raise ConventionError(
                            f"{block.where}: write `<!-- backend: jax -->` (one or more of "
                            f"{', '.join(BACKENDS)}); see {CONVENTION}"
                        )
                    block.backends = names
                else:
                    match = SKIP_ARGUMENTS_PATTERN.match(str(directive.lexemes["arguments"]))
                    if match is None or match.group(1) != "next" or not match.group(2):
                        raise ConventionError(
                            f"{block.where}: write the skip directive as "
                            f'`<!-- skip: next "why it cannot run" -->`; see {CONVENTION}'
                        )
                    block.skip_reason = match.group(2).strip("\"'")
            found.append(block)
        # A directive that sits before no fence is a mistake (a typo, a block moved away).
        used = {
            id(region)
            for fence in fences
            for _, region in directives
            if _adjacent(text, region, fence)
        }
        for _kind, region in directives:
            if id(region) not in used:
                line = full.count("\n", 0, offset + region.start) + 1
                raise ConventionError(
                    f"{_rel(path)}:{line}: a directive that is not right before a "
                    f"fenced block; see {CONVENTION}"
                )
        if found:
            parts.append(found)
    return parts


def chains(path: Path) -> list[Chain]:
    """The runnable chains of `path`: a standalone block followed by the blocks continuing it."""
    out: list[Chain] = []
    for part in blocks(path):
        previous: Block | None = None
        for block in part:
            if block.continues:
                if previous is None or previous.skip_reason is not None:
                    raise ConventionError(
                        f"{block.where}: `<!-- continue -->` must follow a block that runs; "
                        f"see {CONVENTION}"
                    )
                if block.skip_reason is None:
                    out[-1].blocks.append(block)
            elif block.skip_reason is None:
                out.append(Chain([block]))
            previous = block
    return out


def run(chain: Chain) -> dict[str, object]:
    """Evaluate the chain's blocks in order in one fresh namespace; returns the namespace."""
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in chain.blocks:
        block.example.namespace = namespace
        EVALUATE(block.example)
    return namespace


def collect() -> tuple[list[Chain], list[str]]:
    found: list[Chain] = []
    errors: list[str] = []
    for path in sources():
        try:
            found.extend(chains(path))
        except ConventionError as error:
            errors.append(str(error))
    return found, errors


ALL_CHAINS, CONVENTION_ERRORS = collect()


@pytest.mark.parametrize(
    "chain",
    [
        pytest.param(chain, id=chain.where, marks=[pytest.mark.slow] if chain.slow else [])
        for chain in ALL_CHAINS
    ],
)
def test_example_runs(chain: Chain) -> None:
    import keras

    backend = keras.backend.backend()
    if chain.backends and backend not in chain.backends:
        pytest.skip(f"a {'/'.join(chain.backends)} example (marked on the page); this is {backend}")
    run(chain)


@pytest.mark.backend_independent
def test_every_block_follows_the_convention() -> None:
    assert not CONVENTION_ERRORS, "\n".join(CONVENTION_ERRORS)


@pytest.mark.backend_independent
def test_every_documentation_source_has_runnable_examples() -> None:
    where = {chain.where.split(":")[0] for chain in ALL_CHAINS}
    assert "README.md" in where
    for page in ("index", "getting-started", "facts", "recipes", "CONTRIBUTING-docs"):
        assert f"docs/{page}.md" in where, f"docs/{page}.md lost its examples"


@pytest.mark.backend_independent
def test_the_recipes_page_has_every_recipe() -> None:
    text = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    for heading in (
        "## Monte Carlo dropout",
        "## Fine-tuning with BatchNorm frozen",
        "## Migrating from `learning_phase`",
        "## Auditing a model in a test suite",
    ):
        assert heading in text


@pytest.mark.backend_independent
def test_the_convention_is_enforced(tmp_path: Path) -> None:
    # The checks above run on this repository's files; these run them on files made to break them.
    page = tmp_path / "page.md"
    page.write_text("<!-- continue -->\n```python\nx = 1\n```\n")
    with pytest.raises(ConventionError, match="must follow a block that runs"):
        chains(page)
    page.write_text("<!-- skip: next -->\n```python\nx = 1\n```\n")
    with pytest.raises(ConventionError, match="why it cannot run"):
        chains(page)
    page.write_text("<!-- continue -->\n\nSome prose.\n\n```python\nx = 1\n```\n")
    with pytest.raises(ConventionError, match="not right before a fenced block"):
        chains(page)
    page.write_text('```python\nx = 1\n```\n\n<!-- skip: next "no" -->\n```text\nx\n```\n')
    with pytest.raises(ConventionError, match="never runs"):
        chains(page)
    page.write_text(
        '```python\nx = 1\n```\n<!-- skip: next "shown only" -->\n```python\nx = (\n```\n'
        "<!-- continue -->\n```python\nassert x == 1\n```\n"
    )
    with pytest.raises(ConventionError, match="must follow a block that runs"):
        chains(page)
    page.write_text(
        "```python\nx = 1\n```\n````markdown\n<!-- continue -->\n```python\ny\n```\n````\n"
        "<!-- continue -->\n```python\nassert x == 1\n```\n"
        "```python\nassert 'x' not in dir()\n```\n"
    )
    found = chains(page)
    assert [len(chain.blocks) for chain in found] == [2, 1]  # the nested block is shown only
    for chain in found:
        run(chain)
    page.write_text("<!-- backend: tensorflow, jax -->\n```python\nx = 1\n```\n")
    assert chains(page)[0].backends == ("tensorflow", "jax")
    page.write_text("<!-- backend: theano -->\n```python\nx = 1\n```\n")
    with pytest.raises(ConventionError, match="one or more of"):
        chains(page)
    page.write_text("Example:\n\n    >>> 1 + 1\n    2\n")
    with pytest.raises(ConventionError, match="outside a ```python block"):
        chains(page)
    page.write_text("```python\nx = 1\n```\n```python\nprint(x)\n```\n")
    with pytest.raises(NameError):
        run(chains(page)[1])  # a fresh namespace per block
