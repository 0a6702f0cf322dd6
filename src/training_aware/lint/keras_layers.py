"""What Keras' own layers do with `training`, refined by how they are built.

The base facts come from `training_aware._training_table` (generated from the installed Keras);
this module adds what a constructor call shows: a dropout rate of 0, the layer a wrapper wraps,
or code the checker cannot see (`Lambda`).
"""

from __future__ import annotations

import ast

from training_aware._training_table import IGNORES_TRAINING, USES_TRAINING
from training_aware.lint.values import Kind, Ty, Typing

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


MODEL_NAMES = frozenset({"Model", "Sequential", "Functional", "Backbone", "Task"})


def _is_zero(node: ast.expr) -> bool:
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return False
    return node.value in (0, 0.0, None)


def keras_kind(name: str, call: ast.Call, typer: Typing, env: dict[str, Ty]) -> Kind:
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
        ty = typer.type_of(inner, env)
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
        # a Functional model: what its `outputs` were built from, when the module shows it
        outputs = call.args[1] if len(call.args) > 1 else None
        for kw in call.keywords:
            if kw.arg == "outputs":
                outputs = kw.value
        if outputs is not None:
            ty = typer.type_of(outputs, env)
            kind = (ty.elems or ty).tensor_kind()
            if kind is Kind.USES:
                return Kind.USES
            if kind is Kind.IGNORES:
                return Kind.IGNORES
        return Kind.MODEL
    if name == "Sequential":
        layers = call.args[0] if call.args else None
        for kw in call.keywords:
            if kw.arg == "layers":
                layers = kw.value
        if layers is not None:
            # a list or tuple literal, a comprehension (`[Block() for _ in range(n)]`), or a
            # local list built by a loop
            elems = typer.type_of(layers, env).elems
            if elems is not None and elems.user() is not None:
                return Kind.USES
            if (
                elems is not None
                and elems.items
                and all(k in (Kind.IGNORES, Kind.NOTRAIN) for _, k in elems.items)
            ):
                return Kind.IGNORES  # every layer known, none uses `training`
        return Kind.MODEL
    if name == "Layer":
        return Kind.UNKNOWN
    return Kind.NOTRAIN  # a Keras layer whose `call` has no `training` (Conv2D, Add, ...)
