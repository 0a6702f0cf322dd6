"""The sublayers of a class: the static type of every `self.<attr>` its methods assign.

Assignments are read in source order from every method but `call` (`__init__`, `build`, and the
helpers they use), with a local environment so that `block = layers.Dropout(0.1)` followed by
`self.blocks.append(block)` is understood. An attribute assigned several times gets the union
of the types.
"""

from __future__ import annotations

import ast

from training_aware.lint.values import UNKNOWN, Ty, Typing, container, expr_key

_ADDERS = frozenset({"append", "insert", "extend", "add", "update", "setdefault"})


def collect_attributes(cls: ast.ClassDef, typer: Typing) -> dict[str, Ty]:
    """Types of the attributes of self that the methods of `cls` (but `call`) assign.

    Attributes assigned by base classes defined in the project are included (the base's first,
    typed in the module that defines it, so a subclass's own assignments add to them).

    Args:
        cls: the class.
        typer: the module's typer.

    Returns:
        A mapping `self.attr` -> type, ready to use as the environment of `call`.
    """
    cached = typer.attr_cache.get(id(cls))
    if cached is not None:
        return dict(cached)
    attrs: dict[str, Ty] = {}
    guard = typer.collecting()
    if id(cls) in guard:
        return attrs  # a base-class cycle
    guard.add(id(cls))
    try:
        base = typer.base_class(cls)
        if base is not None:
            attrs.update(collect_attributes(base[1], base[0]))
        _collect_own(cls, typer, attrs)
    finally:
        guard.discard(id(cls))
    typer.attr_cache[id(cls)] = dict(attrs)
    return attrs


def _collect_own(cls: ast.ClassDef, typer: Typing, attrs: dict[str, Ty]) -> None:
    for method in cls.body:
        if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) and method.name != "call":
            env = dict(attrs)
            if method.name == "__init__" and _assigns_a_parameter(method):
                # sub-models handed to the constructor: typed from where the module builds it
                env.update(typer.ctor_args(cls.name))
            _scan(method.body, env, attrs, typer)


def _assigns_a_parameter(method: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    params = {a.arg for a in (*method.args.posonlyargs, *method.args.args, *method.args.kwonlyargs)}
    return any(
        isinstance(stmt, ast.Assign)
        and isinstance(stmt.value, ast.Name)
        and stmt.value.id in params
        for stmt in method.body
    )


def scan_locals(body: list[ast.stmt], env: dict[str, Ty], typer: Typing) -> dict[str, Ty]:
    """The types of the local names a block assigns (loops and `.append` included)."""
    env = dict(env)
    _scan(body, env, {}, typer)
    return env


def _set(key: str, ty: Ty, env: dict[str, Ty], attrs: dict[str, Ty]) -> None:
    if key.startswith("self."):
        merged = attrs[key].union(ty) if key in attrs else ty
        attrs[key] = merged
        env[key] = merged
    else:
        env[key] = ty


def _add_elems(key: str, elems: Ty, env: dict[str, Ty], attrs: dict[str, Ty]) -> None:
    current = env.get(key)
    if current is not None and current.elems is not None:
        elems = current.elems.union(elems)
    ty = container(elems)
    if key.startswith("self."):
        attrs[key] = ty
    env[key] = ty


def _assign(target: ast.expr, ty: Ty, env: dict[str, Ty], attrs: dict[str, Ty]) -> None:
    key = expr_key(target)
    if key is not None:
        _set(key, ty, env, attrs)
    elif isinstance(target, ast.Subscript):
        owner = expr_key(target.value)
        if owner is not None:
            _add_elems(owner, ty, env, attrs)
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            _assign(elt.value if isinstance(elt, ast.Starred) else elt, UNKNOWN, env, attrs)


def _scan(body: list[ast.stmt], env: dict[str, Ty], attrs: dict[str, Ty], typer: Typing) -> None:
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            ty = typer.type_of(stmt.value, env)
            for target in stmt.targets:
                _assign(target, ty, env, attrs)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            _assign(stmt.target, typer.type_of(stmt.value, env), env, attrs)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add):
            key = expr_key(stmt.target)
            if key is not None:
                _add_elems(key, typer.type_of(stmt.value, env).elems or UNKNOWN, env, attrs)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            _scan_adder(stmt.value, env, attrs, typer)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            bind_loop_target(stmt.target, stmt.iter, env, typer)
            _scan(stmt.body, env, attrs, typer)
            _scan(stmt.orelse, env, attrs, typer)
        elif isinstance(stmt, ast.If | ast.While | ast.With | ast.AsyncWith | ast.Try):
            for field in ("body", "orelse", "finalbody"):
                _scan(getattr(stmt, field, []), env, attrs, typer)
            for handler in getattr(stmt, "handlers", ()):
                _scan(handler.body, env, attrs, typer)


def _scan_adder(call: ast.Call, env: dict[str, Ty], attrs: dict[str, Ty], typer: Typing) -> None:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in _ADDERS or not call.args:
        return
    key = expr_key(func.value)
    if key is None:
        return
    value = call.args[-1]
    if func.attr in ("extend", "update"):
        elems = typer.type_of(value, env).elems or UNKNOWN
    else:
        elems = typer.type_of(value, env)
    _add_elems(key, elems, env, attrs)


def bind_loop_target(
    target: ast.expr, iterable: ast.expr, env: dict[str, Ty], typer: Typing
) -> None:
    """Give the loop variable(s) of `for target in iterable` their types in `env`.

    Understood: `for layer in xs`, `for i, layer in enumerate(xs)`, `for k, v in d.items()`,
    `for a, b in zip(xs, ys)`. Any other target gets `UNKNOWN`.

    Args:
        target: the loop target.
        iterable: the iterated expression.
        env: the environment to update.
        typer: the module's typer.
    """
    if isinstance(target, ast.Name):
        ty = typer.type_of(iterable, env)
        env[target.id] = ty.elems if ty.elems is not None else UNKNOWN
        return
    names = [e for e in target.elts] if isinstance(target, ast.Tuple | ast.List) else []
    types: list[Ty] = [UNKNOWN] * len(names)
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and names:
        fname = iterable.func.id
        if fname == "enumerate" and len(names) == 2 and iterable.args:
            types[1] = typer.type_of(iterable.args[0], env).elems or UNKNOWN
        elif fname == "zip" and len(names) == len(iterable.args):
            types = [typer.type_of(a, env).elems or UNKNOWN for a in iterable.args]
    elif (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Attribute)
        and iterable.func.attr == "items"
        and len(names) == 2
    ):
        types[1] = typer.type_of(iterable.func.value, env).elems or UNKNOWN
    for name, ty in zip(names, types, strict=True):
        if isinstance(name, ast.Name):
            env[name.id] = ty
        else:
            for sub in ast.walk(name):
                if isinstance(sub, ast.Name):
                    env[sub.id] = UNKNOWN
    if not names:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                env[sub.id] = UNKNOWN
