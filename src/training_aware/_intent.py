"""What `audit` takes as the mode meant for each layer at each entry point (its "intent").

The signals trusted, because they can be read reliably at run time (docs/recipes.md explains):
- the entry point: `fit` and `call(training=True)` mean training; everything else inference;
- a `PinnedMode(layer, training=...)` pins its layer's subtree;
- a `training=` hard-coded on a node of a Functional model pins that layer's subtree when it
  differs from the layer's own `call` default (Keras records the default into the node too, so
  a default cannot be told from a hard-coded value);
- an active `override_modes` block of this thread pins the layers it matches;
- a `BatchNormalization` with `trainable=False` means inference (FACTS F12), and under `fit` any
  other frozen (`trainable=False`) layer may run in either mode.
Explicit `training=` values inside a subclassed `call` are not visible at run time and are not
taken as intent: use `PinnedMode` for a deliberate pin (and `training-aware lint` for the source).
"""

from __future__ import annotations

from typing import Any

from training_aware._blocks import forced_mode
from training_aware._walk import Entry

__all__ = [
    "CALL_FALSE",
    "CALL_NONE",
    "CALL_TRUE",
    "ENTRY_POINTS",
    "EVALUATE",
    "FIT",
    "INFERENCE",
    "PREDICT",
    "effective",
    "expected",
    "pins",
]

FIT, EVALUATE, PREDICT = "fit", "evaluate", "predict"
CALL_TRUE, CALL_FALSE, CALL_NONE = "call(training=True)", "call(training=False)", "call()"
ENTRY_POINTS: tuple[str, ...] = (FIT, EVALUATE, PREDICT, CALL_TRUE, CALL_FALSE, CALL_NONE)
INFERENCE = (EVALUATE, PREDICT, CALL_FALSE, CALL_NONE)
_BASE = {FIT: True, EVALUATE: False, PREDICT: False, CALL_TRUE: True, CALL_FALSE: False}


def effective(layer: Any, value: Any) -> bool | None:
    """The mode the layer really ran in (None for a symbolic value that cannot be judged)."""
    import keras

    if value == "symbolic":
        return None
    mode = bool(value)
    if isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable:
        return False  # FACTS F12: a frozen BatchNormalization always runs in inference mode
    return mode


def call_default(layer: Any) -> Any:
    signature = getattr(layer, "_call_signature", None)
    param = None if signature is None else signature.parameters.get("training")
    return None if param is None or param.default is param.empty else param.default


def pins(model: Any, entries: list[Entry]) -> dict[int, tuple[bool, str]]:
    """id(layer) -> (pinned mode, why), from PinnedMode, Functional nodes and override_modes."""
    pins: dict[int, tuple[bool, str]] = {}
    for holder in [model, *(e.layer for e in entries)]:
        if type(holder).__name__ == "PinnedMode" and hasattr(holder, "pinned_training"):
            pins[id(holder.layer)] = (bool(holder.pinned_training), "PinnedMode")
        for nodes in (getattr(holder, "_nodes_by_depth", None) or {}).values():
            for node in nodes:
                layer = node.operation
                value = node.arguments.kwargs.get("training")
                if isinstance(value, bool) and value != call_default(layer):
                    pins[id(layer)] = (value, f"hard-coded training={value}")
    for entry in entries:
        forced = forced_mode(entry.layer)
        if forced is not None:
            pins[id(entry.layer)] = (forced, "override_modes")
    return pins


def expected(
    entries: list[Entry], pins: dict[int, tuple[bool, str]], entry_point: str
) -> dict[int, tuple[bool | None, str | None]]:
    """id(layer) -> (mode meant or None for "either", the pin that decided it or None)."""
    import keras

    base = _BASE.get(entry_point, False)
    out: dict[int, tuple[bool | None, str | None]] = {}
    inherited: dict[int, tuple[bool, str | None]] = {}
    for entry in entries:  # depth first: a parent comes before its children
        mode, why = inherited.get(id(entry.parent), (base, None))
        if id(entry.layer) in pins:
            mode, why = pins[id(entry.layer)]
        inherited[id(entry.layer)] = (mode, why)
        layer = entry.layer
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable:
            out[id(layer)] = (False, "trainable=False")
        elif entry_point == FIT and not layer.trainable and why is None:
            out[id(layer)] = (None, "trainable=False")
        else:
            out[id(layer)] = (mode, why)
    return out
