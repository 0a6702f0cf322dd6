"""Check modules of a project: parse them (never import or run them) and apply every rule.

`Project` holds the index of a run's modules, their types and the configuration each runs in
(`targets`); `lint_source` checks one module's text in a project (a project of its own when none
is given), judges every finding in that configuration (changes behaviour, or latent), and
applies `# noqa`. `check_tree` is what the flake8 plugin calls with flake8's own tree.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint import module_rules, rules
from training_aware.lint.callbody import CallBodyChecker
from training_aware.lint.files import Reader, decode, read_source
from training_aware.lint.imports import AMBIGUOUS, KERAS3, TF_KERAS, keras_layer_name
from training_aware.lint.layertypes import Typer, Types
from training_aware.lint.noqa import suppressed
from training_aware.lint.project import Module, ProjectIndex, parse
from training_aware.lint.rules import ALWAYS, BACKENDS, LATENT, OPT_IN, TF_JAX, Breaks, Finding
from training_aware.lint.sublayers import collect_attributes
from training_aware.lint.syntax import find_method, passes_training, training_default
from training_aware.lint.targets import Target, Targets
from training_aware.lint.values import Kind

__all__ = ["Project", "check_module", "check_tree", "decode", "lint_source"]

RawFinding = tuple[int, int, str, str]  # line (1-based), col (1-based), code, message
Found = tuple[int, int, str, str, Breaks]
_TF_KERAS_TEXT = re.compile(r"\b(?:tf|tensorflow)\.keras\b")


class Project:
    """The modules of one run: their index, their types and the configuration each runs in.

    Args:
        read: how a file's bytes are read (`files.read_source`).
        keras: the Keras generation the user declared (`"2"`, `"3"`), or None to decide it
            from the code, its packages and its requirements.
        backends: the backends the user declared, or None to decide them from the code.
    """

    def __init__(
        self,
        read: Reader = read_source,
        *,
        keras: str | None = None,
        backends: Iterable[str] | None = None,
    ) -> None:
        self.index = ProjectIndex(read)
        self.types = Types(self.index)
        self.targets = Targets(
            self.index, keras, frozenset(backends) if backends is not None else None
        )

    def add(self, path: str) -> None:
        """Register a file of the run (before any is checked)."""
        self.index.add(path)

    def release(self, module: Module) -> None:
        """Forget a checked module no other module imported (memory stays flat on big trees)."""
        if self.index.release(module):
            self.types.release(module)
            self.targets.release(module)

    def replace(self, path: str, source: str, tree: ast.Module) -> Module:
        """Put a new text of a module in place (a repaired file): what was typed from the old
        one is forgotten."""
        module = self.index.add_parsed(path, source, tree)
        self.types = Types(self.index)
        return module


def check_module(typer: Typer) -> list[Found]:
    """Apply TA001-TA009 to one module of a project.

    Returns:
        `(line, col, code, message, breaks)`, sorted by position, 1-based.
    """
    found: set[Found] = set()

    def report(node: ast.AST, code: str, message: str, breaks: Breaks = ALWAYS) -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        found.add((line, col, code, message, breaks))

    tree, source = typer.module.tree, typer.source
    classes = typer.module.class_nodes
    imports = typer.imports
    if imports.flavour == AMBIGUOUS and _TF_KERAS_TEXT.search(source):
        imports.flavour = TF_KERAS  # `import tensorflow as tf` ... `tf.keras.Model`
    for cls in classes:
        _check_class(cls, typer, report)
    module_rules.check_functional_pins(tree, source, typer, report)
    module_rules.check_gradients(tree, source, typer, report)
    module_rules.check_learning_phase(tree, source, typer, report)
    return sorted(found, key=lambda f: (f[0], f[1], f[2], f[3]))


def judge(
    found: list[Found],
    path: str,
    source: str,
    target: Target,
    *,
    opt_in: Iterable[str] = (),
    latent: bool = False,
    noqa: bool = True,
) -> list[Finding]:
    """Findings in the configuration the module runs in: each says whether it changes
    behaviour there or is latent (reported only when `latent`); opt-in rules only when named in
    `opt_in`; `# noqa` applied when `noqa`."""
    lines = source.splitlines() if found else []
    wanted = frozenset(opt_in)
    backends = tuple(b for b in BACKENDS if b in target.backends)
    out = []
    for line, col, code, message, breaks in found:
        if code in OPT_IN:
            if code not in wanted:
                continue
            category = LATENT
        else:
            category, suffix = rules.consequence(breaks, target.keras, target.backends)
            if category == LATENT and not latent:
                continue
            message += suffix
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        if noqa and suppressed(text, code):
            continue
        out.append(Finding(path, line, col, code, message, category, target.keras, backends))
    return out


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
    inherited = False
    if call is None and own and layer_like:
        # `call` of a project base class running this class's own helpers (`self.forward(x)`
        # defined here): checked in this class, reporting only what lies in this class (the
        # base's own lines are reported where it is defined)
        call = _inherited_call(cls, typer)
        if call is None or not _defines_a_helper(cls, call):
            return
        inherited = True
        report = _only_inside(cls, report)
    if call is None:
        return
    default = training_default(call)
    if default is False and not layer_like:
        return
    if (
        not inherited
        and isinstance(default, ast.Constant)
        and default.value is True
        and typer.flavour == KERAS3
        and (not typer.is_model_like(cls.name) or typer.calls_mode_dependent_sublayer(cls, call))
    ):
        # A model is the outermost call: nothing runs after it, so its `True` default matters
        # only to its own mode-dependent sublayers (`training` as a flow-direction switch in a
        # normalizing flow changes nothing). A layer may sit before a BatchNorm anywhere.
        report(default, "TA005", rules.ta005(cls.name), TF_JAX)
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


def _inherited_call(cls: ast.ClassDef, typer: Typer) -> module_rules.Func | None:
    """The `call` a class inherits from a base class defined in the project, if any."""
    seen: set[int] = {id(cls)}
    current = typer.base_class(cls)
    while current is not None and id(current[1]) not in seen:
        owner, base = current
        seen.add(id(base))
        found = find_method(base, "call")
        if found is not None:
            return found
        current = owner.base_class(base)
    return None


def _defines_a_helper(cls: ast.ClassDef, call: module_rules.Func) -> bool:
    """Does `cls` define a method that the inherited `call` calls on `self`?"""
    own = {n.name for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr in own
        for stmt in call.body
        for node in ast.walk(stmt)
    )


def _only_inside(cls: ast.ClassDef, report: module_rules.Report) -> module_rules.Report:
    first, last = cls.lineno, cls.end_lineno or cls.lineno

    def inside(node: ast.AST, code: str, message: str, breaks: Breaks = ALWAYS) -> None:
        if first <= getattr(node, "lineno", 0) <= last:
            report(node, code, message, breaks)

    return inside


# Methods Keras itself calls (never from `call`), so never followed as helpers of `call`.
_NOT_HELPERS = frozenset(
    {"call", "__init__", "build", "train_step", "test_step", "predict_step", "get_config"}
)


def _methods(cls: ast.ClassDef, typer: Typer) -> dict[str, module_rules.Func]:
    """The methods of `cls` and of its base classes defined in the project (own first)."""
    out: dict[str, module_rules.Func] = {}
    seen: set[int] = set()
    current: tuple[Typer, ast.ClassDef] | None = (typer, cls)
    while current is not None and id(current[1]) not in seen:
        owner, node_cls = current
        seen.add(id(node_cls))
        for node in node_cls.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.setdefault(node.name, node)
        current = owner.base_class(node_cls)
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
        found = typer.ref(base)
        if found is not None and found != (typer, cls.name):
            owner, base_name = found
            kind = owner.class_kind(base_name)
            if kind is Kind.USES and not owner.call_declares_training(base_name):
                kind = Kind.NOTRAIN
            return base_name, kind
        name = keras_layer_name(path)
        if name is not None:
            if name in USES_TRAINING:
                return name, Kind.USES
            return name, Kind.IGNORES if name in IGNORES_TRAINING else Kind.UNKNOWN
    return "?", Kind.UNKNOWN


def check_tree(
    tree: ast.Module,
    source: str,
    *,
    path: str = "<string>",
    project: Project | None = None,
    latent: bool = False,
) -> list[RawFinding]:
    """Apply the default rules to a parsed module (without `# noqa`: flake8 applies it).

    Args:
        tree: the module's AST.
        source: its text.
        path: its file, which places it in its package (its sibling modules are read from
            disk when it imports them).
        project: the run's project, or None for a project of this module alone.
        latent: report latent findings too.

    Returns:
        `(line, col, code, message)` tuples, sorted by position, 1-based.
    """
    project = project if project is not None else Project()
    module = project.replace(path, source, tree)
    found = check_module(project.types.typer(module))
    judged = judge(found, path, source, project.targets.of(module), latent=latent, noqa=False)
    return [(f.line, f.col, f.code, f.message) for f in judged]


def lint_source(
    source: str | bytes,
    path: str = "<string>",
    *,
    opt_in: Iterable[str] = (),
    latent: bool = False,
    project: Project | None = None,
) -> list[Finding]:
    """Check one module's source text; never raises for any input.

    Args:
        source: the text, or raw bytes (decoded as Python would).
        path: the name to print in findings (and the file that places it in its package).
        opt_in: off-by-default rules to report too (`{"TA009"}`); the others are dropped.
        latent: report latent findings too (harmless in the code's own Keras and backends).
        project: the run's project (its other modules, their configuration); None for a
            project of this module alone.

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
        tree = parse(source, path)
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
    if project is None:
        project = Project()
        module = project.index.add_parsed(path, source, tree)
    elif project.index.parsed(path) is not None:
        module = project.replace(path, source, tree)  # a new text of a module it knows
    else:
        module = project.index.add_parsed(path, source, tree)
    return lint_module(module, project, opt_in=opt_in, latent=latent)


def lint_module(
    module: Module, project: Project, *, opt_in: Iterable[str] = (), latent: bool = False
) -> list[Finding]:
    """Check a module of `project` that is already parsed; never raises for any input."""
    try:
        found = check_module(project.types.typer(module))
    except RecursionError:
        return [_ta000(module.path, 1, "too deeply nested to check; not checked")]
    target = project.targets.of(module)
    path = module.display or module.path
    return judge(found, path, module.source, target, opt_in=opt_in, latent=latent)


def _ta000(path: str, line: int, message: str) -> Finding:
    return Finding(path, line, 1, "TA000", message)
