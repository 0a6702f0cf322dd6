"""Check one module: parse it (never import or run it) and apply every rule.

`check_tree` is what the flake8 plugin calls with flake8's own tree; `lint_source` adds decoding,
the TA000 report of a file that cannot be parsed, and `# noqa`.
"""

from __future__ import annotations

import ast
import tokenize
import warnings
from collections.abc import Iterator
from io import BytesIO

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint import module_rules, rules
from training_aware.lint.callbody import CallBodyChecker, passes_training
from training_aware.lint.imports import collect_imports, keras_layer_name
from training_aware.lint.layertypes import Typer, find_method, training_default
from training_aware.lint.noqa import suppressed
from training_aware.lint.rules import Finding
from training_aware.lint.sublayers import collect_attributes
from training_aware.lint.values import Kind

RawFinding = tuple[int, int, str, str]  # line (1-based), col (1-based), code, message


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


def check_tree(tree: ast.Module, source: str) -> list[RawFinding]:
    """Apply TA001-TA008 to a parsed module.

    Args:
        tree: the module's AST.
        source: its text (used only for cheap substring pre-filters).

    Returns:
        `(line, col, code, message)` tuples, sorted by position, 1-based.
    """
    found: list[RawFinding] = []

    def report(node: ast.AST, code: str, message: str) -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        found.append((line, col, code, message))

    classes = list(iter_classes(tree.body)) if "class " in source else []
    typer = Typer(collect_imports(tree), {cls.name: cls for cls in classes})
    for cls in classes:
        _check_class(cls, typer, report)
    module_rules.check_functional_pins(tree, source, typer, report)
    module_rules.check_gradients(tree, source, typer, report)
    module_rules.check_learning_phase(tree, source, typer, report)
    return sorted(set(found))


def _check_class(cls: ast.ClassDef, typer: Typer, report: module_rules.Report) -> None:
    layer_like = typer.is_layer_like(cls.name) if typer.classes.get(cls.name) is cls else False
    if layer_like:
        dunder = find_method(cls, "__call__")
        if dunder is not None and not _delegates_call(dunder):
            report(dunder, "TA008", rules.ta008(cls.name))
    call = find_method(cls, "call")
    if call is None:
        return
    default = training_default(call)
    if default is False and not layer_like:
        return
    if isinstance(default, ast.Constant) and default.value is True:
        report(default, "TA005", rules.ta005(cls.name))
    attrs = collect_attributes(cls, typer)
    checker = CallBodyChecker(cls.name, call, attrs, typer, _super_kind(cls, typer), report)
    checker.run()


def _delegates_call(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Does an overridden `__call__` accept `training` (or `**kwargs`) and hand it to
    `super().__call__`? Then Keras still resolves `training`, and TA008 stays quiet."""
    params = {a.arg for a in (*func.args.args, *func.args.kwonlyargs)}
    if func.args.kwarg is None and "training" not in params:
        return False
    for stmt in func.body:
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "__call__"
                and isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "super"
                and passes_training(node)
            ):
                return True
    return False


def _super_kind(cls: ast.ClassDef, typer: Typer) -> tuple[str, Kind]:
    """The first base class and what its `call` does with `training`."""
    for base, path in typer.base_paths(cls):
        if isinstance(base, ast.Name) and base.id in typer.classes and base.id != cls.name:
            return base.id, typer.class_kind(base.id)
        name = keras_layer_name(path)
        if name is not None:
            if name in USES_TRAINING:
                return name, Kind.USES
            return name, Kind.IGNORES if name in IGNORES_TRAINING else Kind.UNKNOWN
    return "?", Kind.UNKNOWN


def decode(data: bytes) -> str:
    """Decode Python source as the interpreter would (PEP 263 cookie, BOM, else UTF-8).

    Raises:
        UnicodeDecodeError: bytes that are not valid in the declared encoding.
        SyntaxError: an unknown encoding in the cookie.
    """
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    except SyntaxError:
        data.decode("utf-8")  # bad bytes in the first lines: say which byte, where
        raise  # valid UTF-8, so the cookie itself is the problem
    return data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)


def lint_source(source: str | bytes, path: str = "<string>") -> list[Finding]:
    """Check one module's source text; never raises for any input.

    Args:
        source: the text, or raw bytes (decoded as Python would).
        path: the name to print in findings.

    Returns:
        The findings, sorted, with `# noqa` applied; a single TA000 when the text cannot be
        decoded or parsed.
    """
    if isinstance(source, bytes):
        data = source
        try:
            source = decode(data)
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            message = (
                f"cannot decode: {exc.reason} at byte {exc.start} ({exc.encoding}); "
                f"save the file as UTF-8 or declare its encoding"
            )
            return [_ta000(path, line, message)]
        except SyntaxError as exc:
            return [_ta000(path, exc.lineno or 1, f"cannot decode: {exc.msg}")]
    try:
        with warnings.catch_warnings():
            # The checked code's own warnings (an invalid escape sequence, `0.5[x]`) are not
            # ours to print.
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        line = exc.lineno or 1
        col = exc.offset or 1
        return [
            Finding(
                path,
                line,
                max(col, 1),
                "TA000",
                f"syntax error: {exc.msg}; the file was not checked (fix the syntax, then re-run)",
            )
        ]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [_ta000(path, 1, f"cannot parse ({type(exc).__name__}: {exc}); not checked")]
    try:
        raw = check_tree(tree, source)
    except RecursionError:
        return [_ta000(path, 1, "too deeply nested to check; not checked")]
    lines = source.splitlines()
    out = []
    for line, col, code, message in raw:
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        if not suppressed(text, code):
            out.append(Finding(path, line, col, code, message))
    return out


def _ta000(path: str, line: int, message: str) -> Finding:
    return Finding(path, line, 1, "TA000", message)
