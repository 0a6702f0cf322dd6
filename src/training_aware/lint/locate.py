"""Find the libcst node a finding points at, parsing only the code around it.

libcst parses at a few hundred lines a second and its position metadata costs a walk of the
tree: seconds for a 3,000-line test module with one finding. A repair needs only the class (or
function) around the finding, so `Locator` finds, with the `ast` tree the linter already reads,
the innermost class holding the finding's line (else the innermost function, else the
top-level statement), and hands libcst that statement's lines alone: verbatim, behind an
`if 1:` line when they are indented, so every line and column stays as in the file and the
edited lines go back in place. Regions nested in another region are merged into it. When the
lines cannot be cut out (a lone carriage-return line ending) or do not parse alone, the region
is the whole module.

Every step is linear in the number of findings: a statement is found by bisecting its body's
start lines, a region by bisecting the regions' first lines, and the edited file is rebuilt in
one pass (`benchmarks/lint_fix.py --scaling` holds this).
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from training_aware.lint.cst_edit import char_column

Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_WRAPPER = "if 1:\n"


def split_lines(text: str) -> list[str]:
    """The physical lines of `text`, with their endings (`\\n` or `\\r\\n`)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    return [*out, lines[-1]] if lines[-1] else out


@dataclass
class Region:
    """File lines `first`-`last`, parsed on their own, with the metadata of their nodes."""

    first: int
    last: int
    wrapped: bool
    module: cst.Module
    chain: list[Scope]  # the ast scopes around the region, the module first
    node: ast.AST  # the region's own ast statement (the module for the whole file)
    parents: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)
    at: dict[tuple[int, int], list[cst.CSTNode]] = field(default_factory=dict)
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # id(def) -> file lines
    starts: dict[int, int] = field(default_factory=dict)  # id(node) -> its first file line

    @property
    def offset(self) -> int:
        """File line = region line + offset."""
        return self.first - 1 - (1 if self.wrapped else 0)

    def code(self, module: cst.Module) -> str:
        """The text of the (edited) region, ready to replace lines `first`-`last`."""
        text = module.code
        return text[len(_WRAPPER) :] if self.wrapped else text


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def _last_line(node: ast.stmt) -> int:
    return node.end_lineno or node.lineno


class Locator:
    """Maps findings of one module to the libcst nodes at their positions."""

    def __init__(self, tree: ast.Module, text: str) -> None:
        self.tree = tree
        self.text = text
        self.lines = split_lines(text)
        self.regions: list[Region] = []
        self._firsts: list[int] = []  # the regions' first lines, in order
        self._bodies: dict[int, tuple[list[int], Sequence[ast.stmt]]] = {}
        self.whole = "\r" in text.replace("\r\n", "")  # lone CRs: `ast` counts lines otherwise

    def prepare(self, lines: Iterable[int]) -> None:
        """Parse the regions holding these file lines (call once, before `nodes`)."""
        found: dict[int, tuple[ast.stmt, list[Scope]]] = {}
        for line in lines:
            root = None if self.whole else self._descend(line)
            if root is None:
                self.regions = [self._whole()]
                self._firsts = [1]
                return
            found[id(root[0])] = root
        roots = sorted(found.values(), key=lambda r: (_first_line(r[0]), -_last_line(r[0])))
        kept: list[tuple[ast.stmt, list[Scope]]] = []
        for root in roots:
            if kept and _first_line(root[0]) <= _last_line(kept[-1][0]):
                continue  # nested in the previous region
            kept.append(root)
        for node, chain in kept:
            region = self._region(node, chain)
            if region is None:
                self.regions = [self._whole()]
                self._firsts = [1]
                return
            self.regions.append(region)
        self._firsts = [r.first for r in self.regions]

    def _descend(self, line: int) -> tuple[ast.stmt, list[Scope]] | None:
        """The innermost class holding `line`, else function, else top-level statement."""
        body = self.tree.body
        chain: list[Scope] = [self.tree]
        best: tuple[ast.stmt, list[Scope]] | None = None
        best_kind = 0
        while True:
            hit = self._statement_at(body, line)
            if hit is None:
                return best
            kind = 3 if isinstance(hit, ast.ClassDef) else 1
            kind = 2 if isinstance(hit, ast.FunctionDef | ast.AsyncFunctionDef) else kind
            if kind >= best_kind:
                best, best_kind = (hit, list(chain)), kind
            if not isinstance(hit, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                return best
            chain.append(hit)
            body = hit.body

    def _statement_at(self, body: Sequence[ast.stmt], line: int) -> ast.stmt | None:
        """The statement of `body` holding `line`: a bisection of its (sorted) start lines."""
        known = self._bodies.get(id(body))
        if known is None:
            known = self._bodies[id(body)] = ([_first_line(s) for s in body], body)
        starts, _ = known
        index = bisect.bisect_right(starts, line) - 1
        if index < 0 or _last_line(body[index]) < line:
            return None
        return body[index]

    def _region(self, node: ast.stmt, chain: list[Scope]) -> Region | None:
        first, last = _first_line(node), _last_line(node)
        snippet = "".join(self.lines[first - 1 : last])
        wrapped = snippet[:1] in (" ", "\t")
        try:
            module = cst.parse_module(_WRAPPER + snippet if wrapped else snippet)
        except (cst.ParserSyntaxError, RecursionError, ValueError):
            return None
        return self._index(Region(first, last, wrapped, module, chain, node))

    def _whole(self) -> Region:
        module = cst.parse_module(self.text)  # the caller handles a parse error
        return self._index(Region(1, len(self.lines), False, module, [self.tree], self.tree))

    def _index(self, region: Region) -> Region:
        wrapper = MetadataWrapper(region.module, unsafe_skip_copy=True)
        parents = _Parents()
        region.module.visit(parents)  # 4x faster than libcst's ParentNodeProvider
        region.parents = parents.parents
        for item, pos in wrapper.resolve(PositionProvider).items():
            region.at.setdefault((pos.start.line, pos.start.column), []).append(item)
            region.starts[id(item)] = pos.start.line + region.offset
            if isinstance(item, cst.FunctionDef):
                span = (pos.start.line + region.offset, pos.end.line + region.offset)
                region.spans[id(item)] = span
        return region

    def region_of(self, line: int) -> Region | None:
        index = bisect.bisect_right(self._firsts, line) - 1
        if index < 0 or index >= len(self.regions) or self.regions[index].last < line:
            return None
        return self.regions[index]

    def nodes(self, line: int, col: int) -> tuple[list[cst.CSTNode], Region | None]:
        """The nodes starting at a finding's 1-based line and byte column."""
        region = self.region_of(line)
        if region is None:
            return [], None
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return list(region.at.get((line - region.offset, char_column(text, col)), ())), region

    def splice(self, edited: dict[int, cst.Module]) -> str:
        """The file text with each edited region (keyed by `id(region)`) put back in place."""
        pieces: list[str] = []
        done = 0  # the file lines already copied
        for region in self.regions:  # in file order, disjoint
            module = edited.get(id(region))
            if module is not None:
                pieces.extend(self.lines[done : region.first - 1])
                pieces.append(region.code(module))
                done = region.last
        pieces.extend(self.lines[done:])
        return "".join(pieces)


class _Parents(cst.CSTVisitor):
    """Records each node's parent in one walk of the tree."""

    def __init__(self) -> None:
        super().__init__()
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.stack:
            self.parents[node] = self.stack[-1]
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()


def binds(scope: Scope, name: str) -> bool:
    """Does `scope` (a module or function; not the functions or classes inside it) assign
    `name`, take it as a parameter, import it or define it?"""
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        args = scope.args
        every = (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
        if any(a is not None and a.arg == name for a in every):
            return True
    stack: list[ast.AST] = list(scope.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
            continue  # its own scope
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name:
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name).split(".")[0] == name:
            return True
        if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False
