"""Check one module: parse it (never import or run it) and apply every rule.

`check_tree` is what the flake8 plugin calls with flake8's own tree; `lint_source` adds decoding,
the TA000 report of a file that cannot be parsed, and `# noqa`.
"""

from __future__ import annotations

import ast
import re
import tokenize
import warnings
from collections.abc import Iterable, Iterator
from io import BytesIO

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint import module_rules, rules
from training_aware.lint.callbody import CallBodyChecker, passes_training
from training_aware.lint.imports import (
    AMBIGUOUS,
    KERAS3,
    TF_KERAS,
    collect_imports,
    keras_layer_name,
)
from training_aware.lint.layertypes import Typer, find_method, training_default
from training_aware.lint.noqa import suppressed
from training_aware.lint.rules import Finding
from training_aware.lint.sublayers import collect_attributes
from training_aware.lint.values import Kind

RawFinding = tuple[int, int, str, str]
_TF_KERAS_TEXT = re.compile(
    r"\b(?:tf|tensorflow)\.keras\b"
)  # line (1-based), col (1-based), code, message


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
    imports = collect_imports(tree)
    if imports.flavour == AMBIGUOUS and _TF_KERAS_TEXT.search(source):
        imports.flavour = TF_KERAS  # `import tensorflow as tf` ... `tf.keras.Model`
    typer = Typer(imports, {cls.name: cls for cls in classes}, tree, source)
    for cls in classes:
        _check_class(cls, typer, report)
    module_rules.check_functional_pins(tree, source, typer, report)
    module_rules.check_gradients(tree, source, typer, report)
    module_rules.check_learning_phase(tree, source, typer, report)
    return sorted(set(found))


def _check_class(cls: ast.ClassDef, typer: Typer, report: module_rules.Report) -> None:
    own = typer.classes.get(cls.name) is cls
    layer_like = typer.is_layer_like(cls.name) if own else False
    if layer_like:
        dunder = find_method(cls, "__call__")
        if (
            dunder is not None
            and not _delegates_call(dunder)
            and typer.class_kind(cls.name) is Kind.USES
        ):
            # Only a class with something mode-dependent loses anything (TA008).
            report(dunder, "TA008", rules.ta008(cls.name))
    call = find_method(cls, "call")
    if call is None:
        return
    default = training_default(call)
    if default is False and not layer_like:
        return
    if (
        isinstance(default, ast.Constant)
        and default.value is True
        and typer.flavour == KERAS3
        and (not typer.is_model_like(cls.name) or typer.calls_mode_dependent_sublayer(cls, call))
    ):
        # A model is the outermost call: nothing runs after it, so its `True` default matters
        # only to its own mode-dependent sublayers (`training` as a flow-direction switch in a
        # normalizing flow changes nothing). A layer may sit before a BatchNorm anywhere.
        report(default, "TA005", rules.ta005(cls.name))
    methods = _methods(cls, typer) if own else {}
    train_step = methods.get("train_step")
    # `call` serves inference only when the model trains through its own `train_step` and
    # that never calls `self(...)`: what `call` does with the mode then changes no training.
    inference_only = train_step is not None and not _calls_self(train_step, with_training=None)
    fit_passes_mode = train_step is not None and _calls_self(train_step, with_training=True)
    attrs = collect_attributes(cls, typer)
    checker = CallBodyChecker(
        cls.name,
        call,
        attrs,
        typer,
        _super_kind(cls, typer),
        report,
        methods={k: v for k, v in methods.items() if k not in _NOT_HELPERS},
        fit_passes_mode=fit_passes_mode,
    )
    if inference_only:
        # keep only what holds in any mode: raw ops, `.call` bypass
        checker.mode_rules = checker.pin_rules = False
    checker.run()


# Methods Keras itself calls (never from `call`), so never followed as helpers of `call`.
_NOT_HELPERS = frozenset(
    {"call", "__init__", "build", "train_step", "test_step", "predict_step", "get_config"}
)


def _methods(cls: ast.ClassDef, typer: Typer) -> dict[str, module_rules.Func]:
    """The methods of `cls` and of its base classes defined in the same module (own first)."""
    out: dict[str, module_rules.Func] = {}
    seen: set[str] = set()
    current: ast.ClassDef | None = cls
    while current is not None and current.name not in seen:
        seen.add(current.name)
        for node in current.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.setdefault(node.name, node)
        local = [b.id for b in current.bases if isinstance(b, ast.Name) and b.id in typer.classes]
        current = typer.classes[local[0]] if local else None
    return out


def _calls_self(func: module_rules.Func, with_training: bool | None) -> bool:
    """Does `func` call `self(...)` (with_training None: at all; True: passing `training`)?"""
    for stmt in func.body:
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "self"
                and (with_training is None or passes_training(node))
            ):
                return True
    return False


def _delegates_call(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Does an overridden `__call__` hand `training` (or `**kwargs`) on to Keras: to
    `super().__call__`, `Base.__call__(self, ...)` or `self.call`? Then the mode still arrives,
    and TA008 stays quiet."""
    for stmt in func.body:
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("__call__", "call")
                and passes_training(node)
            ):
                return True
    return False


def _super_kind(cls: ast.ClassDef, typer: Typer) -> tuple[str, Kind]:
    """The first base class and what its `call` does with `training` (USES only when that
    `call` declares `training`: else `super().call(x, training=...)` raises TypeError)."""
    for base, path in typer.base_paths(cls):
        if isinstance(base, ast.Name) and base.id in typer.classes and base.id != cls.name:
            kind = typer.class_kind(base.id)
            if kind is Kind.USES and not typer.call_declares_training(base.id):
                kind = Kind.NOTRAIN
            return base.id, kind
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


def lint_source(
    source: str | bytes, path: str = "<string>", *, opt_in: Iterable[str] = ()
) -> list[Finding]:
    """Check one module's source text; never raises for any input.

    Args:
        source: the text, or raw bytes (decoded as Python would).
        path: the name to print in findings.
        opt_in: off-by-default rules to report too (`{"TA009"}`); the others are dropped.

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
    wanted = frozenset(opt_in)
    for line, col, code, message in raw:
        if code in rules.OPT_IN and code not in wanted:
            continue
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        if not suppressed(text, code):
            out.append(Finding(path, line, col, code, message))
    return out


def _ta000(path: str, line: int, message: str) -> Finding:
    return Finding(path, line, 1, "TA000", message)
