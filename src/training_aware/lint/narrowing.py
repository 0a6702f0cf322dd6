"""What an `if` test proves about a typed name, for the two branches of the `if`.

`isinstance(layer, (Dropout, BatchNormalization))` narrows `layer` to those classes in the body and
removes them in the `else` branch (the classic `ComplexModel` example). `x`, `not x`, `x is None`
and `x is not None` change nothing. Any other mention of a typed name makes it unknown in both
branches: the checker does not guess what `accepts_training(layer)` decides.
"""

from __future__ import annotations

import ast

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint.imports import keras_layer_name
from training_aware.lint.layertypes import Typer
from training_aware.lint.values import UNKNOWN, Kind, Ty, expr_key, one


def narrow(test: ast.expr, env: dict[str, Ty], typer: Typer) -> tuple[dict[str, Ty], dict[str, Ty]]:
    """The environments of the two branches of `if test:`."""
    yes, no = env, env
    negate = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    core = test.operand if isinstance(test, ast.UnaryOp) and negate else test
    checks = core.values if isinstance(core, ast.BoolOp) and isinstance(core.op, ast.Or) else [core]
    key, names = None, set()
    for check in checks:
        found = isinstance_check(check, typer)
        if found is None or (key is not None and found[0] != key):
            key = None
            break
        key = found[0]
        names |= found[1]
    if key is not None and key in env:
        before = env[key]
        narrowed = Ty(frozenset(i for i in before.items if i[0] in names))
        if not narrowed.items or any(k is Kind.UNKNOWN for _, k in before.items):
            for name in sorted(names):
                narrowed = narrowed.union(kind_of_class(name, typer))
        yes, no = dict(env), dict(env)
        yes[key], no[key] = narrowed, env[key].without(frozenset(names))
        return (no, yes) if negate else (yes, no)
    mentioned = {
        k
        for n in ast.walk(test)
        if isinstance(n, ast.Name | ast.Attribute)
        and (k := expr_key(n)) is not None
        and k in env
        and not _harmless_mention(test, n)
    }
    if mentioned:
        yes = dict(env)
        for k in mentioned:
            yes[k] = UNKNOWN
        return yes, dict(yes)
    return yes, no


def isinstance_check(node: ast.expr, typer: Typer) -> tuple[str, set[str]] | None:
    """`(key, class names)` for `isinstance(key, C)` / `isinstance(key, (C1, C2))`."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "isinstance"
        and len(node.args) == 2
    ):
        return None
    key = expr_key(node.args[0])
    classes = node.args[1]
    elts = classes.elts if isinstance(classes, ast.Tuple) else [classes]
    names: set[str] = set()
    for elt in elts:
        if isinstance(elt, ast.Name) and elt.id in typer.classes:
            names.add(elt.id)
            continue
        name = keras_layer_name(typer.imports.resolve(elt))
        if name is None:
            return None
        names.add(name)
    return (key, names) if key is not None else None


def kind_of_class(name: str, typer: Typer) -> Ty:
    """The type `isinstance(x, name)` proves, for a same-module or a Keras class."""
    if name in typer.classes:
        return one(name, typer.class_kind(name))
    if name in USES_TRAINING:
        return one(name, Kind.USES)
    if name in IGNORES_TRAINING:
        return one(name, Kind.IGNORES)
    if name in ("Layer", "Model", "Sequential", "Functional"):
        return one(name, Kind.UNKNOWN)
    return one(name, Kind.NOTRAIN)


def _harmless_mention(test: ast.expr, node: ast.expr) -> bool:
    """`x`, `not x`, `x is None`, `x is not None` do not change what `x` is."""
    if test is node:
        return True
    if isinstance(test, ast.UnaryOp) and test.operand is node:
        return True
    if isinstance(test, ast.BoolOp):
        return any(_harmless_mention(v, node) for v in test.values)
    return (
        isinstance(test, ast.Compare)
        and test.left is node
        and all(isinstance(op, ast.Is | ast.IsNot) for op in test.ops)
        and all(isinstance(c, ast.Constant) and c.value is None for c in test.comparators)
    )
