"""Where a layer call was written, as an `ast.Call`: the file:line of a finding and its fix.

The hook sees a child layer being called and the caller's Python frame. This module steps over the
plumbing between them (`__call__` overrides, Keras' traceback filter, this package's wrappers),
finds the exact call expression (on Python 3.11+ from the frame's instruction position, else by
line and name) and rewrites it with `ast.get_source_segment`, so the suggested fix keeps every
argument and never repeats a keyword.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import linecache
import os
import weakref
from dataclasses import dataclass
from types import FrameType
from typing import Any

__all__ = ["Site", "call_site", "fixed_call", "locate"]

_HERE = os.path.dirname(__file__) + os.sep
_PLUMBING_FILES = (
    _HERE + "_hook.py",
    os.path.join("keras", "src", "utils", "traceback_utils.py"),
)


def call_site(frame: FrameType | None, child: Any) -> FrameType | None:
    """The frame of the code that called `child(...)`, past `__call__` overrides and wrappers."""
    while frame is not None:
        code = frame.f_code
        plumbing = code.co_name == "__call__" and _self_of(frame) is child
        if plumbing or code.co_filename.endswith(_PLUMBING_FILES):
            frame = frame.f_back
        else:
            return frame
    return None


def _self_of(frame: FrameType) -> Any:
    code = frame.f_code
    if code.co_argcount and code.co_varnames[0] == "self":
        return frame.f_locals.get("self")
    return None


def self_of(frame: FrameType | None) -> Any:
    """The `self` of a method frame (`None` for plain functions and lambdas)."""
    return None if frame is None else _self_of(frame)


_NO_VALUE = object()


def training_parameter(frame: FrameType | None) -> Any:
    """The current value of the frame's own `training` parameter, or `_NO_VALUE` if it has none."""
    if frame is None:
        return _NO_VALUE
    code = frame.f_code
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    if "training" not in names:
        return _NO_VALUE
    return frame.f_locals.get("training", _NO_VALUE)


@dataclass(frozen=True)
class Site:
    """A call expression in a file: where it is and, when the source is readable, its AST."""

    filename: str
    lineno: int
    source: str | None = None
    call: ast.Call | None = None

    @property
    def where(self) -> str:
        return f"{self.filename}:{self.lineno}"

    @property
    def has_splat(self) -> bool:
        """`f(*args)` / `f(**kwargs)`: `training` may be inside, decided at run time."""
        if self.call is None:
            return True
        return any(isinstance(a, ast.Starred) for a in self.call.args) or any(
            k.arg is None for k in self.call.keywords
        )


@functools.lru_cache(maxsize=32)
def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _calls(tree: ast.Module) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def locate(frame: FrameType, name: str = "") -> Site:
    """The call expression `frame` is executing (its current instruction), as a `Site`.

    `name` (the attribute the callee is stored under) disambiguates on Pythons without
    instruction positions.
    """
    code = frame.f_code
    lines = linecache.getlines(code.co_filename, frame.f_globals)
    source = "".join(lines)
    tree = _parse(source) if source else None
    first, indent = 1, 0
    if tree is None:
        # Not a Python file (a doctest, a Markdown page run by Sybil): the function's own lines.
        found = _function_source(code)
        if found is None:
            return Site(code.co_filename, frame.f_lineno)
        source, first, indent = found
        tree = _parse(source)
        if tree is None:
            return Site(code.co_filename, frame.f_lineno)
    position = _position(frame)
    candidates = _calls(tree)
    if position is not None:
        for call in candidates:
            start = (call.lineno + first - 1, call.col_offset + indent)
            end = (
                (call.end_lineno or call.lineno) + first - 1,
                (call.end_col_offset or 0) + indent,
            )
            if (*start, *end) == position:
                return Site(code.co_filename, start[0], source, call)
    line = frame.f_lineno - first + 1
    on_line = [c for c in candidates if c.lineno <= line <= (c.end_lineno or c.lineno)]
    named = [c for c in on_line if name and _callee_name(c) == name.split("[", 1)[0]]
    chosen = (named or on_line)[-1] if (named or on_line) else None
    return Site(code.co_filename, frame.f_lineno, source, chosen)


def _function_source(code: Any) -> tuple[str, int, int] | None:
    """The dedented source of `code`'s function, its first line and the indentation removed."""
    import inspect
    import textwrap

    try:
        lines, first = inspect.getsourcelines(code)
    except (OSError, TypeError):
        return None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    first_line = lines[0] if lines else ""
    indent = len(first_line) - len(first_line.lstrip()) if dedented != text else 0
    return dedented, first, indent


def _position(frame: FrameType) -> tuple[int, int, int, int] | None:
    positions = getattr(frame.f_code, "co_positions", None)
    if positions is None or frame.f_lasti < 0:
        return None
    for i, position in enumerate(positions()):
        if i == frame.f_lasti // 2:
            return position if None not in position else None
    return None


def _callee_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "call":
        func = func.value
    while isinstance(func, ast.Subscript):
        func = func.value
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def fixed_call(site: Site, *, positional_index: int | None = None) -> str | None:
    """The statement of `site` with `training=training` passed (added, or replacing the value
    given), and a direct `layer.call(...)` turned into `layer(...)`. `None` without source."""
    if site.source is None or site.call is None:
        return None
    source, call = site.source, site.call

    def text(node: ast.AST) -> str:
        return ast.get_source_segment(source, node) or "..."

    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "call" and not _is_super(func.value):
        callee = text(func.value)
    else:
        callee = text(func)
    parts: list[str] = []
    placed = False
    for i, arg in enumerate(call.args):
        if i == positional_index:
            parts.append("training")
            placed = True
        else:
            parts.append(text(arg))
    for keyword in call.keywords:
        if keyword.arg == "training":
            parts.append("training=training")
            placed = True
        elif keyword.arg is None:
            parts.append(f"**{text(keyword.value)}")
        else:
            parts.append(f"{keyword.arg}={text(keyword.value)}")
    if not placed:
        parts.append("training=training")
    new = f"{callee}({', '.join(parts)})"
    return _in_statement(source, call, new)


def _in_statement(source: str, call: ast.Call, new: str) -> str:
    """`new` put in place of `call` on its first and last lines (columns are UTF-8 offsets)."""
    lines = source.splitlines()
    first = lines[call.lineno - 1].encode()
    last = lines[(call.end_lineno or call.lineno) - 1].encode()
    prefix = first[: call.col_offset].decode(errors="replace")
    suffix = last[call.end_col_offset :].decode(errors="replace")
    if "#" in suffix and not any(q in suffix.split("#", 1)[0] for q in "'\""):
        suffix = suffix.split("#", 1)[0]
    return f"{prefix}{new}{suffix}".strip()


def _is_super(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


_DirectCalls = list[tuple[ast.Call, str, str, int]]
# function -> its direct `.call(...)` sites. Weak keys: functions of dynamic classes die.
_DIRECT: weakref.WeakKeyDictionary[Any, _DirectCalls] = weakref.WeakKeyDictionary()


def direct_calls(function: Any) -> _DirectCalls:
    """Every `<expr>.call(...)` in `function`'s own source: (node, source, filename, first line).

    The source is the function's, dedented; node line numbers count from `first`.
    """
    try:
        return _DIRECT[function]
    except (KeyError, TypeError):
        pass
    found = _direct_calls(function)
    with contextlib.suppress(TypeError):
        _DIRECT[function] = found
    return found


def _direct_calls(function: Any) -> _DirectCalls:
    import inspect
    import textwrap

    try:
        lines, first = inspect.getsourcelines(function)
        filename = inspect.getsourcefile(function) or "<unknown>"
    except (OSError, TypeError):
        return []
    source = textwrap.dedent("".join(lines))
    tree = _parse(source)
    if tree is None:
        return []
    return [
        (node, source, filename, first)
        for node in _calls(tree)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "call"
    ]
