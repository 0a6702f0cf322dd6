"""Static types of expressions in one module, without importing anything.

`Typer` answers "what is this expression?" from the module's imports and the classes it defines:
a Keras layer built under any import spelling, a same-module class (whose `call` is read to see
what it does with `training`), a container of those, or unknown.
"""

from __future__ import annotations

import ast
import re

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint.imports import AWARE_BASES, ImportMap, keras_layer_name
from training_aware.lint.keras_layers import MODEL_NAMES, keras_kind
from training_aware.lint.values import (
    NONE,
    TENSOR,
    UNKNOWN,
    Kind,
    Ty,
    container,
    expr_key,
    merge_tensors,
    one,
    tensor,
)


def call_params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    """Every named parameter of a function, in order."""
    args = func.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def training_default(func: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | bool | None:
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


def find_method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The method `name` defined directly in the body of `cls` (the last definition wins)."""
    found = None
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            found = node
    return found


class Typer:
    """Types of expressions in one module: its imports and the classes it defines."""

    def __init__(
        self,
        imports: ImportMap,
        classes: dict[str, ast.ClassDef],
        tree: ast.Module | None = None,
        source: str = "",
    ) -> None:
        self.imports = imports
        self.source = source
        self.classes = classes
        self.tree = tree
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        if tree is not None:
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self.functions[node.name] = node
        self._kinds: dict[str, Kind] = {}
        self._layer_like: dict[str, bool] = {}
        self._returns: dict[str, Ty] = {}
        self._ctor_args: dict[str, dict[str, Ty]] = {}
        self._scope_envs: dict[int, dict[str, Ty]] = {}
        self.attr_cache: dict[int, dict[str, Ty]] = {}  # class node id -> its attributes' types

    @property
    def flavour(self) -> str:
        """The Keras the module targets: `keras3`, `keras2` or `ambiguous` (see ImportMap)."""
        return self.imports.flavour

    def return_type(self, name: str) -> Ty:
        """The type a same-module factory function returns (`def make_ffn(): return
        keras.Sequential([...])`): the union of its `return` values, typed with its locals."""
        if name in self._returns:
            return self._returns[name]
        self._returns[name] = UNKNOWN  # cycle guard
        from training_aware.lint.sublayers import scan_locals

        func = self.functions[name]
        env = scan_locals(func.body, {}, self)
        ty = Ty()
        for node in _returns(func.body):
            ty = ty.union(NONE if node.value is None else self.type_of(node.value, env))
        if not ty.items:
            ty = UNKNOWN
        self._returns[name] = ty
        return ty

    def ctor_args(self, cls_name: str) -> dict[str, Ty]:
        """Types of the `__init__` parameters of a same-module class, from every place the
        module builds it (`GAN(generator=make_generator(), ...)`). A parameter gets a type only
        when every construction site passes a value of known type. Only the lines that hold
        `ClassName(` are visited."""
        if cls_name in self._ctor_args:
            return self._ctor_args[cls_name]
        self._ctor_args[cls_name] = {}  # re-entry guard
        self._ctor_args[cls_name] = self._collect_ctor_args(cls_name)
        return self._ctor_args[cls_name]

    def _collect_ctor_args(self, name: str) -> dict[str, Ty]:
        from training_aware.lint.module_rules import match_lines, nodes_at
        from training_aware.lint.sublayers import scan_locals

        init = find_method(self.classes[name], "__init__")
        if self.tree is None or init is None or not self.source:
            return {}
        lines = match_lines(self.source, re.compile(rf"\b{re.escape(name)}\("))
        params = [a.arg for a in (*init.args.posonlyargs, *init.args.args)][1:]
        params += [a.arg for a in init.args.kwonlyargs]
        types: dict[str, Ty] = {}
        unknown: set[str] = set()
        for line in lines:
            body = _scope_at(self.tree.body, line)
            env = self._scope_envs.get(id(body))
            if env is None:
                env = self._scope_envs[id(body)] = scan_locals(body, {}, self)
            for call in nodes_at(body, [line]):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == name
                ):
                    continue
                if any(isinstance(a, ast.Starred) for a in call.args) or any(
                    kw.arg is None for kw in call.keywords
                ):
                    return {}
                bound: dict[str, ast.expr] = dict(zip(params, call.args, strict=False))
                bound.update({kw.arg: kw.value for kw in call.keywords if kw.arg is not None})
                for param in params:
                    if param not in bound:
                        unknown.add(param)
                        continue
                    ty = self.type_of(bound[param], env)
                    if any(k is Kind.UNKNOWN for _, k in ty.items):
                        unknown.add(param)
                    else:
                        types[param] = types[param].union(ty) if param in types else ty
        return {p: t for p, t in types.items() if p not in unknown}

    def base_paths(self, cls: ast.ClassDef) -> list[tuple[ast.expr, str | None]]:
        """Each base class expression with the dotted path it resolves to (or None)."""
        return [(b, self.imports.resolve(b)) for b in cls.bases]

    def is_layer_like(self, name: str) -> bool:
        """Does the same-module class `name` derive from a Keras layer or model?"""
        if name in self._layer_like:
            return self._layer_like[name]
        self._layer_like[name] = False  # cycle guard
        cls = self.classes[name]
        result = False
        for base, path in self.base_paths(cls):
            if keras_layer_name(path) is not None:
                result = True
            elif isinstance(base, ast.Name) and base.id in self.classes and base.id != name:
                result = result or self.is_layer_like(base.id)
        self._layer_like[name] = result
        return result

    def is_training_aware(self, name: str) -> bool:
        """Does `name` derive from `TrainingAwareModel`/`TrainingAwareLayer` without opting into
        `training_check="error"`? The library then hands the mode to every descendant itself."""
        seen: set[str] = set()
        while name in self.classes and name not in seen:
            seen.add(name)
            cls = self.classes[name]
            for kw in cls.keywords:
                value = kw.value.value if isinstance(kw.value, ast.Constant) else None
                if kw.arg == "training_check" and value == "error":
                    return False
            local = None
            for base, path in self.base_paths(cls):
                if (
                    path
                    and path.startswith("training_aware.")
                    and path.split(".")[-1] in AWARE_BASES
                ):
                    return True
                if isinstance(base, ast.Name) and base.id in self.classes:
                    local = local or base.id
            if local is None:
                return False
            name = local
        return False

    def is_model_like(self, name: str) -> bool:
        """Does the same-module class `name` derive from a Keras `Model` (a likely outermost
        model, which `fit` calls without `training` when `call` lacks it, FACTS F1)?"""
        seen: set[str] = set()
        while name in self.classes and name not in seen:
            seen.add(name)
            cls = self.classes[name]
            local = None
            for base, path in self.base_paths(cls):
                if keras_layer_name(path) in MODEL_NAMES:
                    return True
                if isinstance(base, ast.Name) and base.id in self.classes:
                    local = base.id
            if local is None:
                return False
            name = local
        return False

    def calls_mode_dependent_sublayer(
        self, cls: ast.ClassDef, call: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> bool:
        """Does `call` use an attribute of self whose type uses `training`?"""
        from training_aware.lint.sublayers import collect_attributes

        attrs = collect_attributes(cls, self)
        users = {key[5:] for key, ty in attrs.items() if ty.user() is not None}
        if not users:
            return False
        return any(
            isinstance(node, ast.Attribute)
            and node.attr in users
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            for stmt in call.body
            for node in ast.walk(stmt)
        )

    def call_declares_training(self, name: str) -> bool:
        """Does the `call` of same-module class `name` (own or inherited) declare `training`?
        A Keras base counts when its `call` uses `training` (those all declare it)."""
        seen: set[str] = set()
        while name in self.classes and name not in seen:
            seen.add(name)
            cls = self.classes[name]
            call = find_method(cls, "call")
            if call is not None:
                return training_default(call) is not False
            nxt = None
            for base, path in self.base_paths(cls):
                if isinstance(base, ast.Name) and base.id in self.classes:
                    nxt = base.id
                    break
                if keras_layer_name(path) in USES_TRAINING:
                    return True
            if nxt is None:
                return False
            name = nxt
        return False

    def _reads_training(
        self, cls: ast.ClassDef, call: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> bool:
        """Does `call` use `training` for anything but handing it to sublayers known to ignore
        it (`self.conv(x, training=training)` with a `Conv2D`)? Forwarding to such layers
        only makes nothing mode-dependent."""
        parents: dict[int, ast.AST] = {}
        reads: list[ast.Name] = []
        for stmt in call.body:
            for node in ast.walk(stmt):
                for child in ast.iter_child_nodes(node):
                    parents[id(child)] = node
                if isinstance(node, ast.Name) and node.id == "training":
                    reads.append(node)
        if not reads:
            return False
        from training_aware.lint.sublayers import collect_attributes

        attrs: dict[str, Ty] | None = None
        for name in reads:
            keyword = parents.get(id(name))
            owner = parents.get(id(keyword)) if keyword is not None else None
            if not (
                isinstance(keyword, ast.keyword)
                and keyword.arg == "training"
                and isinstance(owner, ast.Call)
            ):
                return True
            if attrs is None:
                attrs = collect_attributes(cls, self)
            ty = self.type_of(owner.func, attrs)
            if not ty.items or ty.elems is not None:
                return True
            if any(k not in (Kind.IGNORES, Kind.NOTRAIN) for _, k in ty.items):
                return True
        return False

    def class_kind(self, name: str) -> Kind:
        """What the same-module class `name` does with `training` (its own or inherited `call`)."""
        if name in self._kinds:
            return self._kinds[name]
        self._kinds[name] = Kind.UNKNOWN  # cycle guard
        cls = self.classes[name]
        call = find_method(cls, "call")
        kind = Kind.UNKNOWN
        if call is not None:
            if training_default(call) is False:
                if not self.is_layer_like(name):
                    kind = Kind.UNKNOWN
                elif self.calls_mode_dependent_sublayer(cls, call):
                    # `call` lacks `training`, but Keras' call context still hands the mode to
                    # its sublayers when the caller passes `training=`: it depends on it.
                    kind = Kind.USES
                else:
                    kind = Kind.NOTRAIN
            elif self._reads_training(cls, call) or self.calls_mode_dependent_sublayer(cls, call):
                # Declared and read, or declared, never forwarded, but a sublayer that uses
                # the mode is called: the call context hands the caller's mode on to it.
                kind = Kind.USES
            else:
                kind = Kind.IGNORES
        else:
            for base, path in self.base_paths(cls):
                keras_name = keras_layer_name(path)
                if isinstance(base, ast.Name) and base.id in self.classes and base.id != name:
                    kind = self.class_kind(base.id)
                elif keras_name in USES_TRAINING:
                    kind = Kind.USES
                elif keras_name in IGNORES_TRAINING:
                    kind = Kind.IGNORES
                elif keras_name in ("Model", "Functional", "Sequential"):
                    kind = Kind.MODEL
                if kind is not Kind.UNKNOWN:
                    break
        self._kinds[name] = kind
        return kind

    def type_of_constructor(self, call: ast.Call, env: dict[str, Ty] | None = None) -> Ty:
        """The type of the value built by `call`, when its callee is a known class or a
        same-module factory function."""
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.classes:
            return one(func.id, self.class_kind(func.id))
        if isinstance(func, ast.Name) and func.id in self.functions:
            return self.return_type(func.id)
        path = self.imports.resolve(func) if isinstance(func, ast.Name | ast.Attribute) else None
        name = keras_layer_name(path)
        if name is not None and path is not None and path.startswith(("keras.", "training_aware.")):
            if "applications" in path.split("."):
                return one(name, Kind.MODEL)
            return one(path.rsplit(".", 1)[-1], keras_kind(name, call, self, env or {}))
        return UNKNOWN

    def _applied(self, call: ast.Call, env: dict[str, Ty]) -> Ty | None:
        """The symbolic tensor a Functional-graph step builds, or None if `call` is not one:
        `keras.Input(...)`; a layer applied to tensors (`layers.Dropout(0.1)(x)`, `dense(x)`
        with `dense` a local layer); a Keras op or TensorFlow function on tensors."""
        func = call.func
        if isinstance(func, ast.Call):
            layer = self.type_of_constructor(func, env)
            if not layer.items or any(n == TENSOR for n, _ in layer.items):
                return None
            kinds = [k for _, k in layer.items]
        elif isinstance(func, ast.Name) and func.id in env and func.id not in self.classes:
            layer = env[func.id]
            if layer.elems is not None or any(n == TENSOR for n, _ in layer.items):
                return None
            kinds = [k for _, k in layer.items]
        elif isinstance(func, ast.Name | ast.Attribute):
            path = self.imports.resolve(func)
            if path is None:
                return None
            last = path.rsplit(".", 1)[-1]
            if path.startswith("keras.") and last in ("Input", "input"):
                return tensor(Kind.IGNORES)
            if not (last[:1].islower() and path.startswith(("keras.", "tensorflow."))):
                return None
            args = [self.type_of(a, env) for a in (*call.args, *(k.value for k in call.keywords))]
            found = [_tensor_kinds(a) for a in args]
            kinds = [k for ks in found if ks is not None for k in ks]
            return merge_tensors(kinds) if kinds else None
        else:
            return None
        for arg in (*call.args, *(k.value for k in call.keywords if k.arg is None)):
            inner = _tensor_kinds(self.type_of(arg, env))
            kinds.extend(inner if inner is not None else [Kind.UNKNOWN])
        return merge_tensors(kinds)

    def type_of(self, node: ast.expr, env: dict[str, Ty]) -> Ty:
        """The static type of an expression, given the types of local names and `self.` attributes.

        Args:
            node: the expression.
            env: types by key: a local name (`layer`) or an attribute of self (`self.drop`).

        Returns:
            The type; `UNKNOWN` when it cannot be decided.
        """
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("values", "copy"):
                owner = self.type_of(node.func.value, env)
                return container(owner.elems) if owner.elems is not None else UNKNOWN
            applied = self._applied(node, env)
            if applied is not None:
                return applied
            return self.type_of_constructor(node, env)
        if isinstance(node, ast.Name):
            return env.get(node.id, UNKNOWN)
        if isinstance(node, ast.Attribute):
            key = expr_key(node)
            return env.get(key, UNKNOWN) if key is not None else UNKNOWN
        if isinstance(node, ast.Constant) and node.value is None:
            return NONE
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            elems = Ty()
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    elems = elems.union(self.type_of(elt.value, env).elems or UNKNOWN)
                else:
                    elems = elems.union(self.type_of(elt, env))
            return container(elems)
        if isinstance(node, ast.Dict):
            elems = Ty()
            for value in node.values:
                elems = elems.union(self.type_of(value, env))
            return container(elems)
        if isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp):
            return container(self.type_of(node.elt, env))
        if isinstance(node, ast.DictComp):
            return container(self.type_of(node.value, env))
        if isinstance(node, ast.Subscript):
            owner = self.type_of(node.value, env)
            if isinstance(node.slice, ast.Slice):
                return owner if owner.elems is not None else UNKNOWN
            return owner.elems if owner.elems is not None else UNKNOWN
        if isinstance(node, ast.IfExp):
            return self.type_of(node.body, env).union(self.type_of(node.orelse, env))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.type_of(node.left, env), self.type_of(node.right, env)
            if left.elems is not None and right.elems is not None:
                return container(left.elems.union(right.elems))
        return UNKNOWN


def _flat(body: list[ast.stmt]) -> list[ast.stmt]:
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


def _returns(body: list[ast.stmt]) -> list[ast.Return]:
    return [s for s in _flat(body) if isinstance(s, ast.Return)]


def _scope_at(body: list[ast.stmt], line: int) -> list[ast.stmt]:
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


def _tensor_kinds(ty: Ty) -> list[Kind] | None:
    """The kinds of the tensors in `ty` (a tensor, or a list or dict of them), else None."""
    if ty.elems is not None:
        ty = ty.elems
    kind = ty.tensor_kind()
    return None if kind is None else [kind]
