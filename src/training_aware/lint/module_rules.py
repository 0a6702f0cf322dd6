"""The rules that look beyond one `call` method: TA004 in functional code, TA006 and TA007.

Each is guarded by a substring test on the source text, so a file that cannot trigger a rule
costs nothing beyond its parse.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from training_aware.lint import rules
from training_aware.lint.imports import BACKEND_MODULES, normalise
from training_aware.lint.layertypes import Typer
from training_aware.lint.rules import ALWAYS, FUNCTIONAL_PIN, NEVER, Report
from training_aware.lint.sublayers import collect_attributes
from training_aware.lint.syntax import (
    Func,
    describe,
    literal_training,
    match_lines,
    nodes_at,
    passes_training,
)
from training_aware.lint.values import Ty, expr_key

__all__ = [
    "Func",
    "Report",
    "check_functional_pins",
    "check_gradients",
    "check_learning_phase",
    "find_call",
]

_LITERAL_TRAINING = re.compile(r"training\s*=\s*(?:True|False)")  # literal prefix: fast
_LEARNING_PHASE_TEXT = re.compile(r"learning_phase")
_GRAD_TEXT = re.compile(r"grad\(")
_BACKWARD_TEXT = re.compile(r"\.backward\(")
_LEARNING_PHASE = frozenset({"learning_phase", "set_learning_phase", "learning_phase_scope"})


def check_functional_pins(tree: ast.Module, source: str, typer: Typer, report: Report) -> None:
    """TA004 for `layers.Dropout(0.5)(x, training=True)` anywhere (FACTS F4)."""
    for node in nodes_at(tree.body, match_lines(source, _LITERAL_TRAINING)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
            value = literal_training(node)
            if (
                value is not None
                and typer.flavour in ("keras3", "tf.keras", "keras2")
                and typer.type_of_constructor(node.func).user() is not None
            ):
                # a working recipe in Keras 2 (and `tf.keras` of that era): latent there
                breaks = FUNCTIONAL_PIN if typer.flavour == "keras3" else NEVER
                where = "This functional call"
                report(node, "TA004", rules.ta004(where, describe(node.func), value), breaks)


def check_learning_phase(tree: ast.Module, source: str, typer: Typer, report: Report) -> None:
    """TA007: the learning-phase API of a Keras backend module (FACTS F11), in Keras 3 code,
    where it does not exist; TA009 (opt-in migration hint) in Keras 2 or `tf.keras` code,
    where it works."""

    def emit(node: ast.AST, name: str) -> None:
        if typer.flavour == "keras3" and name.startswith("keras."):
            report(node, "TA007", rules.ta007(name), ALWAYS)
        else:
            report(node, "TA009", rules.ta009(name), NEVER)

    for node in nodes_at(tree.body, match_lines(source, _LEARNING_PHASE_TEXT)):
        if isinstance(node, ast.Attribute) and node.attr in _LEARNING_PHASE:
            if typer.imports.resolve(node.value) in BACKEND_MODULES:
                emit(node, _spelled(node, typer))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and normalise(node.module) in BACKEND_MODULES
        ):
            for alias in node.names:
                if alias.name in _LEARNING_PHASE:
                    emit(node, f"{node.module}.{alias.name}")


def _spelled(node: ast.Attribute, typer: Typer) -> str:
    """`K.learning_phase` as the module spells it, rooted at what `K` was imported as
    (`keras.backend.learning_phase`, `tf_keras.backend.learning_phase`, ...)."""
    root: ast.expr = node
    while isinstance(root, ast.Attribute):
        root = root.value
    raw = typer.imports.raw.get(root.id) if isinstance(root, ast.Name) else None
    text = describe(node)
    if raw is None or not isinstance(root, ast.Name):
        return text
    return raw + text[len(root.id) :]


def check_gradients(tree: ast.Module, source: str, typer: Typer, report: Report) -> None:
    """TA006: a model called without `training=True` while gradients are computed for training.

    Gradient regions: the body of `with tf.GradientTape() as tape:` whose `tape.gradient` takes
    a model's `trainable_variables` (not the inputs: attribution keeps inference mode on
    purpose), a function that calls `.backward()` (PyTorch), a function passed to `jax.grad` /
    `jax.value_and_grad`. Reported only for a callee known to contain a mode-dependent layer
    (`self` in such a model's method, or a name built by a class, a factory function or at
    module level anywhere in the project) whose `call` does not default to `training=True`.
    """
    has_tape = "GradientTape" in source
    backward = match_lines(source, _BACKWARD_TEXT) if ".backward(" in source else []
    has_backward = bool(backward)
    grad_funcs = _jax_grad_targets(tree, source, typer) if "grad(" in source else set()
    if not (has_tape or has_backward or grad_funcs):
        return
    module_env = _local_env(tree.body, {}, typer)
    for local in typer.imports.names:  # models built in another module of the project
        if local not in module_env:
            imported = typer.imported_value(ast.Name(local))
            if imported is not None and imported.user() is not None:
                module_env[local] = imported
    frozen = _frozen(tree, source)
    for func, owner in _functions(tree.body, None):
        env = dict(module_env)
        self_ty: Ty | None = None
        methods: dict[str, Func] = {}
        if owner is not None and typer.is_layer_like(owner.name):
            attrs = collect_attributes(owner, typer)
            env.update(attrs)
            kind = typer.class_kind(owner.name)
            self_ty = Ty(frozenset({(owner.name, kind)}))
            methods = {
                n.name: n
                for n in owner.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        for arg in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs):
            env.pop(arg.arg, None)  # a parameter shadows a module-level name
        env = _local_env(func.body, env, typer)
        if self_ty is not None:
            env["self"] = self_ty
        label = f"{owner.name}.{func.name}" if owner is not None else func.name
        region = _Region(env, label, report, methods, frozen, typer.types.trains_by_default)
        if func.name in grad_funcs or (has_backward and _calls_backward(func, backward)):
            region.check(func.body, None)
        elif has_tape:
            tapes = list(_tape_bodies(func.body, typer))
            for body, names, line in tapes:
                region.check(body, _trained(func.body, names, line, _next_tape(tapes, line)))
    if has_tape:
        region = _Region(module_env, "<module>", report, {}, frozen, typer.types.trains_by_default)
        tapes = list(_tape_bodies(tree.body, typer, top_level=True))
        for body, names, line in tapes:
            region.check(body, _trained(tree.body, names, line, _next_tape(tapes, line)))


# Attributes whose value is (part of) the variables a model trains.
_TRAINABLE = frozenset({"trainable_variables", "trainable_weights", "trainable_vars"})
_TRAINABLE_FALSE = re.compile(r"\.trainable\s*=\s*False")


def _frozen(tree: ast.Module, source: str) -> frozenset[str]:
    """Names and `self.` attributes set `.trainable = False` anywhere in the module."""
    if not _TRAINABLE_FALSE.search(source):
        return frozenset()
    out: set[str] = set()
    for node in nodes_at(tree.body, match_lines(source, _TRAINABLE_FALSE)):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "trainable":
                    key = expr_key(target.value)
                    if key is not None:
                        out.add(key)
    return frozenset(out)


def _next_tape(tapes: list[tuple[list[ast.stmt], frozenset[str], int]], line: int) -> int:
    """The line of the next tape block after `line` (the end of this tape's gradients)."""
    later = [start for _, _, start in tapes if start > line]
    return min(later) if later else 1 << 30


def _trained(body: list[ast.stmt], tapes: frozenset[str], start: int, end: int) -> frozenset[str]:
    """Whose variables the tape differentiates: the owners of the `trainable_variables` in
    `tape.gradient(loss, sources)` (`self`, `model`, `self.generator`) between this tape block
    (line `start`) and the next one (`end`), following a local name (`tvars =
    model.trainable_variables`). Empty when the sources are something else (inputs, for
    attribution methods: inference mode is the intent) or are not found."""
    if not tapes:
        return frozenset()
    assigns: dict[str, ast.expr] = {}
    sources: list[ast.expr] = []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    assigns[target.id] = node.value
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "gradient"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in tapes
                and start <= node.lineno < end
            ):
                sources.extend(node.args[1:2])
                sources.extend(kw.value for kw in node.keywords if kw.arg == "sources")
    owners: set[str] = set()
    seen: set[str] = set()
    while sources:
        for node in ast.walk(sources.pop()):
            if isinstance(node, ast.Attribute) and node.attr in _TRAINABLE:
                key = expr_key(node.value)
                if key is not None:
                    owners.add(key)
            elif isinstance(node, ast.Name) and node.id in assigns and node.id not in seen:
                seen.add(node.id)
                sources.append(assigns[node.id])
    return frozenset(owners)


class _Region:
    """Calls of models in a gradient region of one function (and the helper methods of its
    class that the region calls)."""

    def __init__(
        self,
        env: dict[str, Ty],
        label: str,
        report: Report,
        methods: dict[str, Func],
        frozen: frozenset[str],
        trains: set[str],
    ) -> None:
        self.env = env
        self.label = label
        self.report = report
        self.methods = methods
        self.frozen = frozen
        self.trains = trains  # classes whose `call` defaults `training=True`

    def check(
        self,
        body: list[ast.stmt],
        trained: frozenset[str] | None,
        via: frozenset[str] = frozenset(),
    ) -> None:
        """Report model calls without `training` in `body`. `trained`: whose variables get
        gradients (None: all of them, for `jax.grad` and `.backward()`)."""
        if trained is not None and not trained:
            return
        for stmt in body:
            for node in ast.walk(stmt):
                if not isinstance(node, ast.Call) or passes_training(node):
                    continue
                helper = _helper_name(node)
                if helper is not None and helper in self.methods:
                    if helper not in via:
                        self.check(self.methods[helper].body, trained, via | {helper})
                    continue
                key = expr_key(node.func)
                if key is None:
                    continue
                if key not in self.env or key in self.frozen:
                    continue
                if trained is not None and not (
                    key in trained
                    or ("self" in trained and key.startswith("self."))
                    # `self(...)` runs its sublayers, so it trains `self.model`'s variables
                    or (key == "self" and any(o.startswith("self.") for o in trained))
                ):
                    continue
                ty = self.env[key]
                user = ty.user()
                if user is not None and not any(name in self.trains for name, _ in ty.items):
                    label = self.label
                    if via:
                        label = f"{self.label}` (through `self.{'`, `self.'.join(sorted(via))}`)"
                        label = label.rstrip("`")
                    self.report(node, "TA006", rules.ta006(label, key), ALWAYS)


def _helper_name(call: ast.Call) -> str | None:
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    ):
        return func.attr
    return None


def find_call(cls: ast.ClassDef) -> Func | None:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "call":
            return node
    return None


def _functions(
    body: list[ast.stmt], owner: ast.ClassDef | None
) -> Iterator[tuple[Func, ast.ClassDef | None]]:
    """Every function and method, with its class (nested functions keep the enclosing class)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node, owner
            yield from _functions(node.body, owner)
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node.body, node)
        else:
            for field in ("body", "orelse", "finalbody"):
                yield from _functions(getattr(node, field, []) or [], owner)
            for handler in getattr(node, "handlers", ()):
                yield from _functions(handler.body, owner)


def _tape_bodies(
    body: list[ast.stmt], typer: Typer, top_level: bool = False
) -> Iterator[tuple[list[ast.stmt], frozenset[str], int]]:
    """Bodies of `with ...GradientTape(...)` blocks, not descending into nested functions."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, ast.With | ast.AsyncWith):
            names: set[str] = set()
            is_tape = False
            for item in node.items:
                ctx = item.context_expr
                func = ctx.func if isinstance(ctx, ast.Call) else ctx
                path = (
                    typer.imports.resolve(func)
                    if isinstance(func, ast.Name | ast.Attribute)
                    else None
                )
                if path is not None and path.endswith("GradientTape"):
                    # `with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:`
                    is_tape = True
                    var = item.optional_vars
                    if isinstance(var, ast.Name):
                        names.add(var.id)
            if is_tape:
                yield node.body, frozenset(names), node.lineno
            else:
                yield from _tape_bodies(node.body, typer, top_level)
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _tape_bodies(getattr(node, field, []) or [], typer, top_level)
        for handler in getattr(node, "handlers", ()):
            yield from _tape_bodies(handler.body, typer, top_level)


def _calls_backward(func: Func, lines: list[int]) -> bool:
    end = func.end_lineno or func.lineno
    inside = [line for line in lines if func.lineno <= line <= end]
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "backward"
        and not n.args
        for n in nodes_at(func.body, inside)
    )


def _jax_grad_targets(tree: ast.Module, source: str, typer: Typer) -> set[str]:
    targets: set[str] = set()
    for node in nodes_at(tree.body, match_lines(source, _GRAD_TEXT)):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name):
            func = node.func
            path = (
                typer.imports.resolve(func) if isinstance(func, ast.Name | ast.Attribute) else None
            )
            if path in ("jax.grad", "jax.value_and_grad"):
                targets.add(node.args[0].id)
    return targets


def _local_env(body: list[ast.stmt], env: dict[str, Ty], typer: Typer) -> dict[str, Ty]:
    """Types of the names a block assigns (`model = keras.Sequential([...])`), in source order."""
    env = dict(env)
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                env[target.id] = typer.type_of(stmt.value, env)
        elif isinstance(stmt, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse"):
                env = _local_env(getattr(stmt, field, []) or [], env, typer)
    return env
