"""Static types for "a sublayer that accepts `training`", without importing anything.

A value's type is the set of classes it may hold, each with a `Kind`: does its `call` use
`training` (`USES`), declare and ignore it (`IGNORES`, like `Dense`), not declare it
(`NOTRAIN`), or is it a model whose contents are unknown (`MODEL`)? Containers (lists, tuples,
dicts) carry the type of their elements. Anything the checker cannot see through is
`UNKNOWN`, and rules never report on an unknown type: precision beats recall.

The Keras layers come from `training_aware._training_table`, generated from the installed Keras.
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint.imports import ImportMap, keras_layer_name


class Kind(enum.Enum):
    """What a class's `call` does with `training`."""

    USES = "uses"
    IGNORES = "ignores"
    NOTRAIN = "notrain"
    MODEL = "model"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Ty:
    """The classes a value may hold (name, kind), and for a container its elements' type."""

    items: frozenset[tuple[str, Kind]] = frozenset()
    elems: Ty | None = None

    def union(self, other: Ty) -> Ty:
        """Either this or `other`."""
        if self.elems is None:
            elems = other.elems
        elif other.elems is None:
            elems = self.elems
        else:
            elems = self.elems.union(other.elems)
        return Ty(self.items | other.items, elems)

    def user(self) -> str | None:
        """The name of a class in the set whose `call` uses `training`, or None."""
        for name, kind in sorted(self.items, key=lambda item: item[0]):
            if kind is Kind.USES:
                return name
        return None

    def is_model(self) -> bool:
        """True if some class in the set certainly takes `training` (a layer using it, a model)."""
        return any(kind in (Kind.USES, Kind.MODEL) for _, kind in self.items)

    def without(self, names: frozenset[str]) -> Ty:
        """The type in the `else` branch of `isinstance(value, names)`."""
        return Ty(frozenset(i for i in self.items if i[0] not in names), self.elems)


UNKNOWN = Ty(frozenset({("?", Kind.UNKNOWN)}))
NONE = Ty(frozenset({("None", Kind.NOTRAIN)}))


def one(name: str, kind: Kind) -> Ty:
    """The type of a value of exactly one class."""
    return Ty(frozenset({(name, kind)}))


MODEL_TY = Ty(frozenset({("Model", Kind.MODEL)}))


def container(elems: Ty) -> Ty:
    """A list, tuple or dict whose elements have type `elems`."""
    return Ty(frozenset({("<container>", Kind.NOTRAIN)}), elems)


# Layers whose only use of `training` is a dropout rate that defaults to 0: without a non-zero
# rate in the constructor call, `training` changes nothing, so they count as ignoring it.
_RATE_ARGS: dict[str, tuple[str, ...]] = {
    **{n: ("dropout", "recurrent_dropout") for n in ("LSTM", "GRU", "SimpleRNN")},
    **{n: ("dropout", "recurrent_dropout") for n in ("LSTMCell", "GRUCell", "SimpleRNNCell")},
    **{n: ("dropout", "recurrent_dropout") for n in ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")},
    **{n: ("dropout",) for n in ("MultiHeadAttention", "GroupQueryAttention", "Attention")},
    "AdditiveAttention": ("dropout",),
}
# Wrappers whose use of `training` is their wrapped layer's (first argument).
_WRAPPERS = frozenset({"Bidirectional", "TimeDistributed", "RNN"})
# Wrappers of arbitrary code: whether `training` matters depends on that code.
_OPAQUE = frozenset({"Lambda", "JaxLayer", "FlaxLayer", "TorchModuleWrapper", "TFSMLayer"})
_OPAQUE |= frozenset({"StackedRNNCells"})


_MODEL_NAMES = frozenset({"Model", "Sequential", "Functional", "Backbone", "Task"})


def _is_zero(node: ast.expr) -> bool:
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return False
    return node.value in (0, 0.0, None)


def keras_kind(name: str, call: ast.Call, typer: Typer) -> Kind:
    """The kind of the Keras layer `name` built by the constructor call `call`."""
    if name in _OPAQUE:
        return Kind.UNKNOWN
    if name in _WRAPPERS:
        inner = call.args[0] if call.args else None
        for kw in call.keywords:
            if kw.arg in ("layer", "cell"):
                inner = kw.value
        if inner is None:
            return Kind.UNKNOWN
        ty = typer.type_of(inner, {})
        if ty.user() is not None:
            return Kind.USES
        known = ty.items and all(k in (Kind.IGNORES, Kind.NOTRAIN) for _, k in ty.items)
        return Kind.IGNORES if known else Kind.UNKNOWN
    if name in _RATE_ARGS:
        rates = _RATE_ARGS[name]
        if any(kw.arg is None for kw in call.keywords) or len(call.args) > 3:
            return Kind.USES  # a **kwargs splat or a long positional list may set a rate
        if any(kw.arg in rates and not _is_zero(kw.value) for kw in call.keywords):
            return Kind.USES
        return Kind.IGNORES
    if name in USES_TRAINING:
        return Kind.USES
    if name in IGNORES_TRAINING:
        return Kind.IGNORES
    if name in ("Model", "Functional"):
        return Kind.MODEL
    if name == "Sequential":
        if call.args and isinstance(call.args[0], ast.List | ast.Tuple):
            ty = Ty()
            for elt in call.args[0].elts:
                ty = ty.union(typer.type_of(elt, {}))
            if ty.user() is not None:
                return Kind.USES
        return Kind.MODEL
    if name == "Layer":
        return Kind.UNKNOWN
    return Kind.NOTRAIN  # a Keras layer whose `call` has no `training` (Conv2D, Add, ...)


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

    def is_model_like(self, name: str) -> bool:
        """Does the same-module class `name` derive from a Keras `Model` (a likely outermost
        model, which `fit` calls without `training` when `call` lacks it, FACTS F1)?"""
        seen: set[str] = set()
        while name in self.classes and name not in seen:
            seen.add(name)
            cls = self.classes[name]
            local = None
            for base, path in self.base_paths(cls):
                if keras_layer_name(path) in _MODEL_NAMES:
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
        if name is not None and path is not None and path.startswith("keras."):
            if "applications" in path.split("."):
                return one(name, Kind.MODEL)
            return one(name, keras_kind(name, call, self))
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


def expr_key(node: ast.expr) -> str | None:
    """`name` for a Name, `self.attr` for an attribute of self, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return "self." + node.attr
    return None
