"""Static types of expressions in one module, without importing anything.

`Typer` answers "what is this expression?" from the module's imports and the classes it defines:
a Keras layer built under any import spelling, a same-module class (whose `call` is read to see
what it does with `training`), a container of those, or unknown.
"""

from __future__ import annotations

import ast

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint.imports import AWARE_BASES, ImportMap, keras_layer_name
from training_aware.lint.keras_layers import MODEL_NAMES, keras_kind
from training_aware.lint.values import NONE, UNKNOWN, Kind, Ty, container, expr_key, one


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

    def __init__(self, imports: ImportMap, classes: dict[str, ast.ClassDef]) -> None:
        self.imports = imports
        self.classes = classes
        self._kinds: dict[str, Kind] = {}
        self._layer_like: dict[str, bool] = {}

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
            elif any(
                isinstance(n, ast.Name) and n.id == "training"
                for stmt in call.body
                for n in ast.walk(stmt)
            ):
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

    def type_of_constructor(self, call: ast.Call) -> Ty:
        """The type of the value built by `call`, when its callee is a known class."""
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.classes:
            return one(func.id, self.class_kind(func.id))
        path = self.imports.resolve(func) if isinstance(func, ast.Name | ast.Attribute) else None
        name = keras_layer_name(path)
        if name is not None and path is not None and path.startswith(("keras.", "training_aware.")):
            if "applications" in path.split("."):
                return one(name, Kind.MODEL)
            return one(path.rsplit(".", 1)[-1], keras_kind(name, call, self))
        return UNKNOWN

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
            return self.type_of_constructor(node)
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
