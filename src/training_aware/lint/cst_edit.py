"""Small, formatting-preserving edits on a libcst tree: add a keyword argument, add a parameter.

The fixer (`training_aware.lint.fix`) never edits text with patterns: it changes the concrete
syntax tree, and libcst writes back every comment, blank line, quote and bracket as it was. The
only new text is the added element and the comma before it. A new element follows the layout
of the list it joins: on the same line in a one-line call, on its own line (indented like its
siblings, keeping the trailing comma) in a call or signature written one element per line. A
comment after the old last element stays with that element.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import libcst as cst

_NO_SPACE = cst.SimpleWhitespace("")
_SPACE = cst.SimpleWhitespace(" ")
_EQUAL = cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE)

Element = cst.Arg | cst.Param


@lru_cache(maxsize=64)
def _expression(text: str) -> cst.BaseExpression:
    """`text` parsed once: nodes are immutable, so one parse serves every edit (a libcst parse
    costs milliseconds, as much as locating a finding)."""
    return cst.parse_expression(text)


def keyword(name: str, value: str) -> cst.Arg:
    """The argument `name=value` (no spaces around `=`, as PEP 8 asks for keywords)."""
    return cst.Arg(value=_expression(value), keyword=cst.Name(name), equal=_EQUAL)


def default_param(name: str, value: str, annotation: str | None = None) -> cst.Param:
    """The parameter `name=value`, or `name: annotation = value` (PEP 8's spacing)."""
    if annotation is None:
        return cst.Param(name=cst.Name(name), default=_expression(value), equal=_EQUAL)
    return cst.Param(
        name=cst.Name(name),
        annotation=cst.Annotation(_expression(annotation)),
        default=_expression(value),
        equal=cst.AssignEqual(whitespace_before=_SPACE, whitespace_after=_SPACE),
    )


def annotated(func: cst.FunctionDef) -> bool:
    """Are the parameters of `func` (but a leading `self`/`cls`) annotated?"""
    params = func.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    rest = every[1:] if every and every[0].name.value in ("self", "cls") else every
    return bool(rest) and all(p.annotation is not None for p in rest)


def _after(element: cst.CSTNode) -> cst.BaseParenthesizableWhitespace:
    """The whitespace between an element and the comma (or bracket) that follows it."""
    if isinstance(element, cst.Arg):
        return element.whitespace_after_arg
    if isinstance(element, cst.Param):
        return element.whitespace_after_param
    return _NO_SPACE


def _with_after(element: cst.CSTNode, ws: cst.BaseParenthesizableWhitespace) -> cst.CSTNode:
    if isinstance(element, cst.Arg):
        return element.with_changes(whitespace_after_arg=ws)
    return element.with_changes(whitespace_after_param=ws)


def append(
    items: Sequence[cst.CSTNode],
    new: Element,
    opening: cst.BaseParenthesizableWhitespace,
) -> list[cst.CSTNode]:
    """`items` with `new` appended after the last one, in the list's own layout.

    Args:
        items: the arguments or parameters (the last may also be a `*` marker: `ParamStar`).
        new: the element to add.
        opening: the whitespace after the opening bracket (the layout of a one-element list).

    Returns:
        The new list; `items` itself is not changed.
    """
    if not items:
        return [new]
    *head, last = items
    comma = getattr(last, "comma", cst.MaybeSentinel.DEFAULT)
    one_per_line = isinstance(comma, cst.Comma) and isinstance(
        comma.whitespace_after, cst.ParenthesizedWhitespace
    )
    if one_per_line and isinstance(comma, cst.Comma):
        assert isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)
        # One element per line: `last,<newline>` -> `last,<newline>new,<newline>`.
        closing = comma.whitespace_after
        previous = getattr(head[-1], "comma", None) if head else None
        source = previous.whitespace_after if isinstance(previous, cst.Comma) else opening
        indent = source.last_line if isinstance(source, cst.ParenthesizedWhitespace) else None
        kept = last.with_changes(
            comma=comma.with_changes(
                whitespace_after=closing.with_changes(last_line=indent or closing.last_line)
            )
        )
        line_break = cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(),
            indent=closing.indent,
            last_line=closing.last_line,
        )
        return [*head, kept, new.with_changes(comma=cst.Comma(whitespace_after=line_break))]
    if isinstance(comma, cst.Comma):
        # `f(a,)` / `f(a, **kw)` with the new element before the next part: keep both commas.
        kept = last.with_changes(comma=comma.with_changes(whitespace_after=_SPACE))
        moved = cst.Comma(whitespace_after=comma.whitespace_after)
        return [*head, kept, new.with_changes(comma=moved)]
    # No comma after the last element: `f(a)` -> `f(a, new)`; what preceded the bracket
    # (a line break, a comment) now follows the new element.
    if isinstance(last, cst.Arg | cst.Param):
        kept = _with_after(last, _NO_SPACE).with_changes(comma=cst.Comma(whitespace_after=_SPACE))
        return [*head, kept, _with_after(new, _after(last))]
    return [*head, last, new]  # pragma: no cover - a marker always carries its comma


def add_keyword(call: cst.Call, name: str, value: str) -> cst.Call:
    """`call` with `name=value` added after its other arguments."""
    args = append(call.args, keyword(name, value), call.whitespace_before_args)
    return call.with_changes(args=args)


def add_parameter(
    func: cst.FunctionDef, name: str, value: str, annotation: str | None = None
) -> cst.FunctionDef:
    """`func` with the parameter `name=value` added where a keyword parameter belongs.

    After the last ordinary parameter when the signature has no `*`/`*args` (so before a
    `**kwargs`), else after the last keyword-only parameter.
    """
    params = func.params
    new = default_param(name, value, annotation)
    opening = func.whitespace_before_params
    star = params.star_arg
    if isinstance(star, cst.Param | cst.ParamStar):
        merged = append([star, *params.kwonly_params], new, opening)
        updated = params.with_changes(star_arg=merged[0], kwonly_params=merged[1:])
    else:
        previous: list[cst.CSTNode] = list(params.params)
        if not previous and params.posonly_params:
            # `def call(self, x, /)`: the new parameter goes after the `/`, never before it.
            return func.with_changes(params=params.with_changes(params=[new]))
        updated = params.with_changes(params=append(previous, new, opening))
    return func.with_changes(params=updated)


def char_column(line: str, col: int) -> int:
    """The 0-based character column of a 1-based UTF-8 byte column (as `ast` and the linter
    count) on `line`: libcst counts characters."""
    return len(line.encode("utf-8")[: max(col - 1, 0)].decode("utf-8", errors="ignore"))
