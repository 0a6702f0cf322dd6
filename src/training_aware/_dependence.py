"""Does a layer *instance* behave differently in training and inference? (`own`, `anywhere`)

Judged per instance, because the class does not decide: `Dropout(0.0)`, `LSTM(dropout=0)` and
`MultiHeadAttention(dropout=0)` read `training` and still give the same output in both modes.

- Keras built-ins: by the generated table (which classes read `training` at all), refined by the
  instance's own rate (`rate`, `stddev`, `dropout`, `recurrent_dropout`). Keras containers
  (`Sequential`, `Functional`, `Bidirectional`, `TimeDistributed`, `RNN`, attention layers) count
  through the sublayers they hold.
- Any other class: its `call` is read with `ast`. Passing `training` on to a sublayer
  (`self.drop(x, training=training)`, `layer(x, training=training)` in a loop, `super().call(...)`
  of a class that reads it, a method of the class that does) is not a read of its own; any other
  use (`if training:`, `keras.random.dropout(...) if training else x`, a plain function) is.
- Undecidable (no source, a sublayer that `build()` has not created yet): `UNKNOWN`. The check
  stays silent on it (after the child's own call has built it, it judges again).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import weakref
from dataclasses import dataclass
from typing import Any, Final

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING

__all__ = ["UNKNOWN", "Judgement", "anywhere", "attribute", "call_owner", "own"]

# Keras classes whose own computation reads `training` only through these attributes being > 0.
_RATES: Final = {
    "Dropout": ("rate",),
    "AlphaDropout": ("rate",),
    "GaussianDropout": ("rate",),
    "GaussianNoise": ("stddev",),
    "SimpleRNNCell": ("dropout", "recurrent_dropout"),
    "LSTMCell": ("dropout", "recurrent_dropout"),
    "GRUCell": ("dropout", "recurrent_dropout"),
    "ConvLSTMCell": ("dropout", "recurrent_dropout"),
    "SimpleRNN": ("dropout", "recurrent_dropout"),
    "LSTM": ("dropout", "recurrent_dropout"),
    "GRU": ("dropout", "recurrent_dropout"),
    "ConvLSTM": ("dropout", "recurrent_dropout"),
    "Attention": ("dropout",),
    "AdditiveAttention": ("dropout",),
    "MultiHeadAttention": ("dropout",),
    "GroupedQueryAttention": ("dropout",),
}
# Keras classes that only hand `training` to the sublayers they hold (judged through those).
_CONTAINERS: Final = frozenset(
    {"RNN", "StackedRNNCells", "Bidirectional", "TimeDistributed", "Pipeline", "Wrapper"}
    | {"Sequential", "Functional", "Model"}
)


@dataclass(frozen=True)
class Judgement:
    """`yes` True/False/None (None: cannot be decided) and, for True, why, in a few words."""

    yes: bool | None
    why: str = ""

    def __bool__(self) -> bool:
        return self.yes is True


NO: Final = Judgement(False)
UNKNOWN: Final = Judgement(None)


def _is_keras(cls: type) -> bool:
    return cls.__module__.startswith("keras.")


def _keras_rule(layer: Any, owner: type) -> Judgement | None:
    """A Keras built-in: by the instance's rates, the generated table, or as a container; `None`
    for a class none of these name (a private one such as ConvNeXt's `StochasticDepth`)."""
    for cls in owner.__mro__:
        if not _is_keras(cls):
            continue
        name = cls.__name__
        if name in ("Layer", "Operation"):
            return None
        if name in _RATES:
            values = {attr: getattr(layer, attr, 0) for attr in _RATES[name]}
            used = {attr: v for attr, v in values.items() if isinstance(v, int | float) and v > 0}
            if used:
                shown = ", ".join(f"{attr}={v}" for attr, v in used.items())
                return Judgement(True, f"{type(layer).__name__}({shown})")
            return NO
        if name == "Lambda":
            if getattr(layer, "_fn_expects_training_arg", False):
                return Judgement(True, "a Lambda whose function takes `training`")
            return NO
        if name in IGNORES_TRAINING or name in _CONTAINERS:
            return NO
        if name in USES_TRAINING:
            return Judgement(True, f"{name} reads `training`")
    return None


def call_owner(cls: type, after: type | None = None) -> type | None:
    """The class whose `call` instances of `cls` run (or, with `after`, `super().call` from it)."""
    mro = cls.__mro__
    start = mro.index(after) + 1 if after is not None and after in mro else 0
    for klass in mro[start:]:
        if "call" in vars(klass):
            return klass
    return None


def own(layer: Any, *, _after: type | None = None, _depth: int = 0) -> Judgement:
    """Whether `layer`'s own computation (not its sublayers') depends on `training`."""
    if not getattr(layer, "_call_has_training_arg", False):
        return NO
    owner = call_owner(type(layer), _after)
    if owner is None:
        return NO
    function = inspect.unwrap(vars(owner)["call"])
    function = getattr(function, "__training_aware_wrapped__", function)
    # A checking wrapper (`@forwards_training` on a subclass) stands for the class it wraps.
    owner = next((k for k in owner.__mro__ if vars(k).get("call") is function), owner)
    if _is_keras(owner):
        judged = _keras_rule(layer, owner)
        if judged is not None:
            return judged
    return _judge_function(layer, owner, function, "training", _depth)


def anywhere(layer: Any) -> Judgement:
    """Whether `layer` or any layer inside it depends on `training` (the first reason found)."""
    first = own(layer)
    if first.yes is True:
        return first
    unknown = first.yes is None
    flatten = getattr(layer, "_flatten_layers", None)
    for sub in flatten(include_self=False) if flatten is not None else ():
        judged = own(sub)
        if judged.yes is True:
            return Judgement(True, f"it contains '{sub.name}' ({judged.why})")
        unknown = unknown or judged.yes is None
    return UNKNOWN if unknown else NO


# --- reading a `call` with ast --------------------------------------------------------------


@dataclass(frozen=True)
class _Forward:
    """`training` handed on: to `self.<name>` ("self"), to `super()` ("super"), to a local."""

    kind: str
    name: str = ""
    parameter: str = ""  # the callee's parameter that receives it ("" when unknown)


@dataclass(frozen=True)
class _Usage:
    reads: tuple[int, ...]  # line numbers where `training` is read for the layer's own computation
    forwards: tuple[_Forward, ...]


# function -> parameter -> usage (None: no source). Weak keys: functions of dynamic classes die.
_USAGE: weakref.WeakKeyDictionary[Any, dict[str, _Usage | None]] = weakref.WeakKeyDictionary()


def _judge_function(
    layer: Any, owner: type, function: Any, parameter: str, depth: int
) -> Judgement:
    usage = _usage(function, parameter)
    if usage is None:
        return UNKNOWN
    if usage.reads:
        where = f"{_filename(function)}:{usage.reads[0]}"
        name = f"{owner.__name__}.{function.__name__}"
        return Judgement(True, f"{name} reads `{parameter}` at {where}")
    verdicts = [_judge_forward(layer, owner, forward, depth) for forward in usage.forwards]
    for verdict in verdicts:
        if verdict.yes is True:
            return verdict
    return UNKNOWN if any(v.yes is None for v in verdicts) else NO


def _judge_forward(layer: Any, owner: type, forward: _Forward, depth: int) -> Judgement:
    import keras

    if depth > 4:
        return UNKNOWN
    if forward.kind == "local":
        return NO  # a loop over sublayers (`for layer in self.blocks`): judged as sublayers
    if forward.kind == "super":
        return own(layer, _after=owner, _depth=depth + 1)
    target = attribute(layer, forward.name)
    if target is _MISSING:
        return UNKNOWN  # created later (in `build()`)
    if isinstance(target, keras.layers.Layer) or _holds_layers(target):
        return NO  # a sublayer: judged on its own
    if inspect.isfunction(target) and forward.parameter:
        parameter = _parameter_name(target, forward.parameter)
        if parameter:
            return _judge_function(layer, owner, target, parameter, depth + 1)
    return Judgement(True, f"{owner.__name__}.call passes `training` to self.{forward.name}")


_MISSING: Final = object()


def attribute(obj: Any, name: str) -> Any:
    """`obj.name` without running properties or `__getattr__`: the instance's own attributes
    (torch keeps sublayers in `_modules`), then the class's; `_MISSING` if absent."""
    own_attributes = vars(obj)
    if name in own_attributes:
        return own_attributes[name]
    modules = own_attributes.get("_modules")
    if isinstance(modules, dict) and name in modules:
        return modules[name]
    return inspect.getattr_static(type(obj), name, _MISSING)


def _parameter_name(function: Any, parameter: str) -> str:
    """`parameter` itself, or for a positional `#i` the name of the method's i-th (after self)."""
    if not parameter.startswith("#"):
        return parameter
    try:
        names = list(inspect.signature(function).parameters)[1:]
    except (TypeError, ValueError):
        return ""
    index = int(parameter[1:])
    return names[index] if index < len(names) else ""


def _holds_layers(value: Any) -> bool:
    import keras

    items = value.values() if isinstance(value, dict) else value
    if not isinstance(value, list | tuple | dict):
        return False
    return any(isinstance(item, keras.layers.Layer) for item in items)


def _filename(function: Any) -> str:
    code = getattr(function, "__code__", None)
    return code.co_filename if code is not None else "?"


def _usage(function: Any, parameter: str) -> _Usage | None:
    try:
        per_function = _USAGE.setdefault(function, {})
    except TypeError:  # not weak-referenceable
        per_function = {}
    if parameter not in per_function:
        per_function[parameter] = _read_usage(function, parameter)
    return per_function[parameter]


def _read_usage(function: Any, parameter: str) -> _Usage | None:
    try:
        lines, first = inspect.getsourcelines(function)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    local_names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {parameter}
    local_names &= {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    parents = {child: parent for parent in ast.walk(node) for child in ast.iter_child_nodes(parent)}
    reads: list[int] = []
    forwards: list[_Forward] = []
    for name in ast.walk(node):
        if not (isinstance(name, ast.Name) and name.id == parameter):
            continue
        if not isinstance(name.ctx, ast.Load):
            continue
        parent = parents.get(name)
        if _is_none_test(parent, name):
            continue
        forward = _as_forward(name, parent, parents, local_names)
        if forward is None:
            reads.append(first + name.lineno - 1)
        else:
            forwards.append(forward)
    return _Usage(tuple(reads), tuple(forwards))


def _is_none_test(parent: ast.AST | None, name: ast.Name) -> bool:
    """`training is None` / `training is not None`: normalising the value, not reading a mode."""
    return (
        isinstance(parent, ast.Compare)
        and parent.left is name
        and all(isinstance(op, ast.Is | ast.IsNot) for op in parent.ops)
        and all(isinstance(c, ast.Constant) and c.value is None for c in parent.comparators)
    )


def _as_forward(
    name: ast.Name, parent: ast.AST | None, parents: dict[ast.AST, ast.AST], local_names: set[str]
) -> _Forward | None:
    """The forward `name` is part of (`callee(..., training=name)` or positional), if any."""
    keyword = ""
    if isinstance(parent, ast.keyword) and parent.arg is not None:
        keyword, call = parent.arg, parents.get(parent)
    else:
        call = parent
    if not isinstance(call, ast.Call):
        return None
    if not keyword:
        if name not in call.args:
            return None
        keyword = f"#{call.args.index(name)}"  # positional: resolved against the callee later
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in ("call", "__call__"):
        if _is_super(func.value):
            return _Forward("super")
        func = func.value  # `self.block.call(x, training=training)`: a direct call of a sublayer
    if isinstance(func, ast.Subscript):
        func = func.value  # `self.blocks[i](x, training=training)`
        if _is_self_attribute(func):
            return _Forward("self", func.attr)  # type: ignore[attr-defined]
    if _is_self_attribute(func):
        return _Forward("self", func.attr, keyword)  # type: ignore[attr-defined]
    if isinstance(func, ast.Name) and func.id in local_names:
        return _Forward("local")
    return None


def _is_self_attribute(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _is_super(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )
