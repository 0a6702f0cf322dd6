"""Questions about Python syntax trees that need no types: where a pattern occurs, which
statements hold a line, what a `call` signature says about `training`.

The bottom of the checker's layers (files -> project index -> types -> rules -> report): it
imports nothing else of the linter.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

Func = ast.FunctionDef | ast.AsyncFunctionDef


def match_lines(source: str, pattern: re.Pattern[str]) -> list[int]:
    """The 1-based line numbers holding a match of `pattern`, in order."""
    lines: list[int] = []
    line, last = 1, 0
    for match in pattern.finditer(source):
        line += source.count("\n", last, match.start())
        last = match.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def nodes_at(body: list[ast.stmt], lines: list[int]) -> Iterator[ast.AST]:
    """Every node of the innermost statements that hold one of `lines`.

    Only those statements are walked (for a compound statement whose header holds the line,
    only its header: the test, the arguments, the decorators), so a 5 MB generated module, or a
    long class, with one match costs one small walk, not a walk of the whole tree.
    """
    for stmt in body:
        end = stmt.end_lineno or stmt.lineno
        inside = [line for line in lines if stmt.lineno <= line <= end]
        if not inside:
            continue
        children = child_bodies(stmt)
        if not children:
            yield from ast.walk(stmt)
            continue
        for child in children:
            yield from nodes_at(child, inside)
        for node in ast.iter_child_nodes(stmt):
            if not isinstance(node, ast.stmt | ast.excepthandler | ast.match_case):
                yield from ast.walk(node)


def child_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested in a compound statement (bodies, branches, handlers, cases)."""
    bodies = [getattr(stmt, f) for f in ("body", "orelse", "finalbody") if getattr(stmt, f, None)]
    bodies += [h.body for h in getattr(stmt, "handlers", ())]
    bodies += [c.body for c in getattr(stmt, "cases", ())]
    return bodies


def iter_classes(body: list[ast.stmt]) -> Iterator[ast.ClassDef]:
    """Every class statement, also nested in functions, classes and compound statements."""
    stack = [body]
    while stack:
        for node in stack.pop():
            if isinstance(node, ast.ClassDef):
                yield node
            for field in ("body", "orelse", "finalbody"):
                sub = getattr(node, field, None)
                if sub and isinstance(sub, list):
                    stack.append(sub)
            for handler in getattr(node, "handlers", ()):
                stack.append(handler.body)


def call_params(func: Func) -> list[ast.arg]:
    """Every named parameter of a function, in order."""
    args = func.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def training_default(func: Func) -> ast.expr | bool | None:
    """False if `func` has no `training` parameter, else its default (None when it has none)."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    for i, arg in enumerate(positional):
        if arg.arg == "training":
            offset = i - (len(positional) - len(args.defaults))
            return args.defaults[offset] if offset >= 0 else None
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if arg.arg == "training":
            return default
    return False


def defaults_to_training(func: Func) -> bool:
    """Does `func` declare `training=True` as its default (a bare call trains)?"""
    default = training_default(func)
    return isinstance(default, ast.Constant) and default.value is True


def find_method(cls: ast.ClassDef, name: str) -> Func | None:
    """The method `name` defined directly in the body of `cls` (the last definition wins)."""
    found = None
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            found = node
    return found


def passes_training(call: ast.Call) -> bool:
    """Does the call pass `training` (by keyword, by a `**` splat, or positionally by name)?"""
    for kw in call.keywords:
        if kw.arg in (None, "training"):
            return True
    return any(
        isinstance(a, ast.Starred) or (isinstance(a, ast.Name) and a.id == "training")
        for a in call.args[1:]
    )


def literal_training(call: ast.Call) -> bool | None:
    """The value of a literal `training=True`/`False` keyword, else None."""
    for kw in call.keywords:
        if kw.arg == "training" and isinstance(kw.value, ast.Constant):
            value = kw.value.value
            if isinstance(value, bool):
                return value
    return None


def describe(node: ast.expr) -> str:
    """Short source text for a callee (`self.drop`, `self.blocks[i]`)."""
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):  # pragma: no cover - unparse of a parsed tree
        return "<expr>"
    return text if len(text) <= 60 else text[:57] + "..."


def flat(body: list[ast.stmt]) -> list[ast.stmt]:
    """The simple statements of a block, also inside compound statements (not nested defs)."""
    out: list[ast.stmt] = []
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        subs = [getattr(stmt, f) for f in ("body", "orelse", "finalbody") if getattr(stmt, f, None)]
        subs += [h.body for h in getattr(stmt, "handlers", ())]
        if subs:
            for node in ast.iter_child_nodes(stmt):
                if isinstance(node, ast.expr):
                    out.append(ast.Expr(value=node))
            for sub in reversed(subs):
                stack.extend(reversed(sub))
        else:
            out.append(stmt)
    return out


def returns(body: list[ast.stmt]) -> list[ast.Return]:
    """The `return` statements of a function body (not of nested functions)."""
    return [s for s in flat(body) if isinstance(s, ast.Return)]


def scope_at(body: list[ast.stmt], line: int) -> list[ast.stmt]:
    """The body of the innermost function holding `line` (the module's body at top level)."""
    scope = body
    current = body
    while True:
        for stmt in current:
            if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                    scope = stmt.body
                subs = [getattr(stmt, f, None) for f in ("body", "orelse", "finalbody")]
                subs += [h.body for h in getattr(stmt, "handlers", ())]
                inner = [
                    sub
                    for sub in subs
                    if sub
                    and isinstance(sub, list)
                    and sub[0].lineno <= line <= (sub[-1].end_lineno or sub[-1].lineno)
                ]
                if inner:
                    current = inner[0]
                    break
                return scope
        else:
            return scope
