"""Static types of expressions, across the modules of a project, without importing anything.

`Typer` answers "what is this expression?" for one module, from its imports and the classes and
factory functions of the project: a Keras layer built under any import spelling, a project class
(whose `call` is read, in the module that defines it, to see what it does with `training`), a
model a factory function returns, a container of those, or unknown. `Types` holds one `Typer`
per module of a `ProjectIndex`, so a class imported from another module is typed by the `Typer`
of the module that defines it, exactly as if it were defined here.
"""

from __future__ import annotations

import ast
import re

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint.imports import AMBIGUOUS, AWARE_BASES, ImportMap, keras_layer_name
from training_aware.lint.keras_layers import MODEL_NAMES, keras_kind
from training_aware.lint.project import Module, ProjectIndex, Symbol, parse
from training_aware.lint.sublayers import collect_attributes, scan_locals
from training_aware.lint.syntax import (
    call_params,
    defaults_to_training,
    find_method,
    match_lines,
    nodes_at,
    returns,
    scope_at,
    training_default,
)
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

__all__ = ["Typer", "Types", "call_params", "find_method", "training_default"]

# Top-level packages never looked up in the project index.
_OUTSIDE = frozenset({"keras", "tensorflow", "jax", "torch", "numpy", "tf_keras", "training_aware"})
# Keras' own classes are known from the table; the project index is asked about other names.
_KERAS_ROOTS = ("keras.", "keras_hub.", "keras_nlp.", "keras_cv.", "training_aware.")


class Types:
    """One `Typer` per module of a project, created on first use.

    Args:
        index: the project's modules.
    """

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self._typers: dict[int, Typer] = {}
        self._symbols: dict[str, Symbol | None] = {}
        # project classes whose `call` defaults `training=True`: a bare call trains
        self.trains_by_default: set[str] = set()
        self.collecting: set[int] = set()
        self.asking: set[tuple[int, str, str]] = set()

    def typer(self, module: Module) -> Typer:
        """The `Typer` of `module`."""
        typer = self._typers.get(id(module))
        if typer is None:
            typer = self._typers[id(module)] = Typer(module, self)
        return typer

    def canonical(self, path: str, hops: int = 0) -> str:
        """`path` with re-exports of outside names followed: `pkg.utils.keras.layers` is
        `keras.layers` when `pkg/utils.py` does `import keras`."""
        parts = path.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = self.index.find_module(".".join(parts[:i]))
            if module is None:
                continue
            name = parts[i]
            if name in module.functions or name in module.values or name in module.classes:
                return path
            target = module.imports.names.get(name)
            if target is None or hops > 4:
                return path
            return self.canonical(".".join([target, *parts[i + 1 :]]), hops + 1)
        return path

    def release(self, module: Module) -> None:
        """Drop the `Typer` of a module the index has released."""
        self._typers.pop(id(module), None)

    def symbol(self, path: str) -> Symbol | None:
        """What the dotted `path` names in the project (cached)."""
        if path not in self._symbols:
            self._symbols[path] = None  # re-entry guard
            self._symbols[path] = self.index.lookup(path)
        return self._symbols[path]


def single_module(source: str, tree: ast.Module | None = None, path: str = "<string>") -> Typer:
    """A `Typer` for one module on its own (no project around it)."""
    index = ProjectIndex()
    module = index.add_parsed(path, source, tree if tree is not None else parse(source, path))
    return Types(index).typer(module)


class Typer:
    """Types of expressions in one module: its imports, the classes and functions it defines,
    and, through `types`, those of the other modules of the project."""

    def __init__(self, module: Module, types: Types) -> None:
        self.module = module
        self.types = types
        self.imports: ImportMap = module.imports
        self.source = module.source
        self.classes = module.classes
        self.tree: ast.Module | None = module.tree
        self.functions = module.functions
        self._values: dict[str, Ty] = {}
        self._flavour: str | None = None
        self._via: list[Module] = []  # project modules that re-export an outside name
        if module.package:
            self._canonical_imports()
        self._kinds: dict[str, Kind] = {}
        self._layer_like: dict[str, bool] = {}
        self._returns: dict[str, Ty] = {}
        self._ctor_args: dict[str, dict[str, Ty]] = {}
        self._scope_envs: dict[int, dict[str, Ty]] = {}
        self.attr_cache: dict[int, dict[str, Ty]] = {}  # class node id -> its attributes' types

    @property
    def flavour(self) -> str:
        """The Keras the module targets, from its imports: `keras3`, `keras2`, `tf.keras` or
        `ambiguous` (see ImportMap); a module that imports Keras only through another module
        of the project (`from .utils import keras`, `from .base import Base`) takes that
        module's."""
        if self._flavour is None:
            self._flavour = AMBIGUOUS  # cycle guard
            flavour = self.imports.flavour
            if flavour == AMBIGUOUS:
                for other in [*self._via, *self.types.index.imports_of(self.module)]:
                    flavour = self.types.typer(other).flavour
                    if flavour != AMBIGUOUS:
                        break
            self._flavour = flavour
        return self._flavour

    def _canonical_imports(self) -> None:
        """Rewrite names imported from a project module that itself imported them from outside
        (`from .utils import keras`, with `import keras` in utils.py) to the outside path."""
        for local, path in list(self.imports.names.items()):
            if path.split(".", 1)[0] in _OUTSIDE:
                continue
            target = self.types.canonical(path)
            if target != path:
                self.imports.names[local] = target
                via = self.types.index.lookup(path.rsplit(".", 1)[0])
                if via is not None and via.module not in self._via:
                    self._via.append(via.module)

    def return_type(self, name: str) -> Ty:
        """The type a same-module factory function returns (`def make_ffn(): return
        keras.Sequential([...])`): the union of its `return` values, typed with its locals."""
        if name in self._returns:
            return self._returns[name]
        self._returns[name] = UNKNOWN  # cycle guard
        func = self.functions[name]
        env = scan_locals(func.body, {}, self)
        ty = Ty()
        for node in returns(func.body):
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
        init = find_method(self.classes[name], "__init__")
        if self.tree is None or init is None or not self.source:
            return {}
        lines = match_lines(self.source, re.compile(rf"\b{re.escape(name)}\("))
        params = [a.arg for a in (*init.args.posonlyargs, *init.args.args)][1:]
        params += [a.arg for a in init.args.kwonlyargs]
        types: dict[str, Ty] = {}
        unknown: set[str] = set()
        for line in lines:
            body = scope_at(self.tree.body, line)
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

    def symbol(self, node: ast.expr) -> Symbol | None:
        """The project class, function or value an imported name refers to (`Block` after
        `from .layers import Block`, `models.build` after `from . import models`), else None.
        Keras' own names are left to the table of Keras layers."""
        if not isinstance(node, ast.Name | ast.Attribute):
            return None
        path = self.imports.resolve(node)
        if path is None or path.startswith(_KERAS_ROOTS):
            return None
        return self.types.symbol(path)

    def ref(self, node: ast.expr) -> tuple[Typer, str] | None:
        """The class a class expression names, with the `Typer` of the module defining it:
        this one for a class of this module, another for a class imported from the project."""
        if isinstance(node, ast.Name) and node.id in self.classes:
            return self, node.id
        symbol = self.symbol(node)
        if symbol is None or symbol.kind != "class":
            return None
        return self.types.typer(symbol.module), symbol.name

    def base_class(self, cls: ast.ClassDef) -> tuple[Typer, ast.ClassDef] | None:
        """The first base class of `cls` defined in the project, with its module's `Typer`."""
        for base in cls.bases:
            found = self.ref(base)
            if found is not None:
                owner, name = found
                base_cls = owner.classes[name]
                if base_cls is not cls:
                    return owner, base_cls
        return None

    def across(self, question: str, name: str, default: bool) -> bool:
        """Ask this module's typer about its class `name` from another module (`"aware"`,
        `"model"`, `"declares"`), with `default` for a question already being asked: base
        classes that import each other in a circle end instead of recursing."""
        key = (id(self), question, name)
        if key in self.types.asking:
            return default
        self.types.asking.add(key)
        try:
            if question == "aware":
                return self.is_training_aware(name)
            if question == "model":
                return self.is_model_like(name)
            return self.call_declares_training(name)
        finally:
            self.types.asking.discard(key)

    def collecting(self) -> set[int]:
        """Classes whose attributes are being collected (shared by the project's typers)."""
        return self.types.collecting

    def attributes(self, cls: ast.ClassDef) -> dict[str, Ty]:
        """The types of the attributes of self that `cls` and its project bases assign."""
        return collect_attributes(cls, self)

    def module_value(self, name: str) -> Ty:
        """The type of a top-level name of this module (`model = build_model()`)."""
        if name in self._values:
            return self._values[name]
        self._values[name] = UNKNOWN  # cycle guard
        value = self.module.values.get(name)
        self._values[name] = UNKNOWN if value is None else self.type_of(value, {})
        return self._values[name]

    def imported_value(self, node: ast.expr) -> Ty | None:
        """The type of a name imported from another project module, or None when it is not one."""
        symbol = self.symbol(node)
        if symbol is None:
            return None
        owner = self.types.typer(symbol.module)
        if symbol.kind == "value":
            return owner.module_value(symbol.name)
        return None

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
            elif (found := self.ref(base)) is not None and found != (self, name):
                result = result or found[0].is_layer_like(found[1])
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
                elif local is None and (found := self.ref(base)) is not None:
                    return found[0].across("aware", found[1], False)
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
                elif (
                    (found := self.ref(base)) is not None
                    and found[0] is not self
                    and found[0].across("model", found[1], False)
                ):
                    return True
            if local is None:
                return False
            name = local
        return False

    def calls_mode_dependent_sublayer(
        self, cls: ast.ClassDef, call: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> bool:
        """Does `call` use an attribute of self whose type uses `training`?"""
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
                if (found := self.ref(base)) is not None and found[0] is not self:
                    return found[0].across("declares", found[1], False)
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
        if call is not None and defaults_to_training(call):
            self.types.trains_by_default.add(name)
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
                found = self.ref(base)
                if found is not None and found != (self, name):
                    kind = found[0].class_kind(found[1])
                elif keras_name in USES_TRAINING:
                    kind = Kind.USES
                elif keras_name in IGNORES_TRAINING:
                    kind = Kind.IGNORES
                elif keras_name in ("Model", "Functional", "Sequential"):
                    kind = Kind.MODEL
                if kind is not Kind.UNKNOWN:
                    break
        if id(cls) in self.types.collecting:
            # asked while this class's attributes are still being collected (a module-level
            # `Wrapper(...)` typed for its constructor's arguments): provisional, not kept
            del self._kinds[name]
        else:
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
        symbol = self.symbol(func)
        if symbol is not None and symbol.kind in ("class", "function"):
            owner = self.types.typer(symbol.module)
            if symbol.kind == "class":
                return one(symbol.name, owner.class_kind(symbol.name))
            return owner.return_type(symbol.name)
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
            if node.id in env:
                return env[node.id]
            return self.imported_value(node) or UNKNOWN
        if isinstance(node, ast.Attribute):
            key = expr_key(node)
            if key is None:
                return self.imported_value(node) or UNKNOWN
            return env.get(key, UNKNOWN)
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


def _tensor_kinds(ty: Ty) -> list[Kind] | None:
    """The kinds of the tensors in `ty` (a tensor, or a list or dict of them), else None."""
    if ty.elems is not None:
        ty = ty.elems
    kind = ty.tensor_kind()
    return None if kind is None else [kind]
