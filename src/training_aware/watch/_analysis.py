"""From a wrong mode to its cause: the call that dropped the flag, the FACTS row and the fix.

Runs only when a mode-dependent layer received a mode other than the one its entry point means,
while the layer calls are still on the Python stack: each running `Layer.__call__` frame tells
whether its caller passed `training` explicitly, and the frame above the first layer whose mode
went wrong is the line that dropped it.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass
from types import FrameType
from typing import Any, Final

from training_aware import _callsite
from training_aware.watch._probe import ABSENT, Call

__all__ = ["FACTS_URL", "Finding", "analyse", "effective"]

_LAYER_FILE: Final = os.path.join("keras", "src", "layers", "layer.py")
_PLUMBING: Final = (
    os.path.join("keras", "src", "utils", "traceback_utils.py"),
    os.path.join("torch", "nn", "modules", "module.py"),
    os.path.join("training_aware", "_hook.py"),  # the library's own hook on `Layer.__call__`
    os.path.join("training_aware", "watch", "_probe.py"),
)
FACTS_URL: Final = "https://github.com/training-aware/training-aware/blob/main/docs/facts.md"
_ANCHORS: Final = {
    "F1": "f1-call-without-a-training-parameter-under-fit",
    "F2": "f2-training-declared-but-not-forwarded",
    "F3": "f3-an-explicit-value-leaks-to-later-siblings",
    "F7": "f7-layercall-bypasses-__call__",
    "F9": "f9-a-layer-that-defaults-trainingtrue",
    "F13": "f13-a-sticky-false-starves-the-head",
}


def facts_link(row: str, *, absolute: bool = False) -> str:
    anchor = _ANCHORS.get(row, "")
    base = FACTS_URL if absolute else "docs/facts.md"
    return f"{base}#{anchor}" if anchor else base


@dataclass(frozen=True)
class Finding:
    """A mode-dependent layer that ran in a mode its entry point did not mean."""

    entry_point: str  # "fit", "predict", "training step", "call(training=True)", ...
    model: str  # "BadModel 'bad_model'"
    path: str  # layer names from the model down, joined by "/"
    layer_class: str
    expected: str  # "training" / "inference"
    received: str
    site: str  # "file:line" of the call that dropped the flag ("" when unknown)
    source: str  # that line's statement ("" when unknown)
    facts: str  # "F1", ... ("" when no row fits)
    why: str
    fix: str

    def key(self) -> tuple[str, ...]:
        return (self.entry_point, self.model, self.path, self.received, self.site)

    def to_dict(self) -> dict[str, str]:
        return {
            "entry_point": self.entry_point,
            "model": self.model,
            "path": self.path,
            "class": self.layer_class,
            "expected": self.expected,
            "received": self.received,
            "site": self.site,
            "source": self.source,
            "facts": self.facts,
            "facts_link": facts_link(self.facts, absolute=True) if self.facts else "",
            "why": self.why,
            "fix": self.fix,
        }


def mode_name(mode: bool) -> str:
    return "training" if mode else "inference"


def effective(layer: Any, value: Any) -> bool:
    """The mode a layer ran in, given the `training` its call received (ABSENT/None: inference).

    A BatchNormalization with `trainable=False` always infers (FACTS F12)."""
    import keras

    mode = False if value is ABSENT or value is None else bool(value)
    if mode and isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable:
        return False
    return mode


def _call_frames(start: FrameType | None) -> dict[int, FrameType]:
    """id(layer) -> the innermost running `Layer.__call__` frame of that layer."""
    frames: dict[int, FrameType] = {}
    frame = start
    while frame is not None:
        code = frame.f_code
        if code.co_name in ("__call__", "stateless_call") and code.co_filename.endswith(
            _LAYER_FILE
        ):
            owner = frame.f_locals.get("self")
            if owner is not None:
                frames.setdefault(id(owner), frame)
        frame = frame.f_back
    return frames


def _explicit(frame: FrameType | None) -> Any:
    """The `training` the caller passed to the layer of this `Layer.__call__` frame, or ABSENT.

    Read from Keras' `CallSpec` (the caller's own arguments, before Keras fills in the mode)."""
    if frame is None:
        return ABSENT
    spec = frame.f_locals.get("call_spec")
    given = getattr(spec, "user_arguments_dict", None)
    if isinstance(given, dict) and given.get("training") is not None:
        return given["training"]
    return ABSENT


_KERAS_SOURCE: Final = os.sep + os.path.join("keras", "src") + os.sep


def _in_keras(frame: FrameType | None) -> bool:
    """Is this Keras' own code (a container handing on the mode it resolved)?"""
    return frame is not None and _KERAS_SOURCE in frame.f_code.co_filename


_LIBRARY: Final = os.sep + "training_aware" + os.sep
_TRACEBACK_FILTER: Final = os.path.join("keras", "src", "utils", "traceback_utils.py")


def _from_library(frame: FrameType | None) -> bool:
    """Did training-aware's own hook give this value (`override_modes`, `mc_predict`, the
    mode of a `TrainingAwareModel`)? Its hook calls `Layer.__call__` directly."""
    caller = None if frame is None else frame.f_back
    while caller is not None and caller.f_code.co_filename.endswith(_TRACEBACK_FILTER):
        caller = caller.f_back
    return caller is not None and _LIBRARY in caller.f_code.co_filename


def _caller(frame: FrameType | None, layer: Any) -> FrameType | None:
    """The frame of the code that called `layer(...)`, past hooks, Keras' and torch's plumbing."""
    frame = None if frame is None else frame.f_back
    while frame is not None:
        code = frame.f_code
        if code.co_filename.endswith(_PLUMBING) or (
            code.co_name == "__call__" and _callsite.self_of(frame) is layer
        ):
            frame = frame.f_back
            continue
        return frame
    return None


def analyse(chain: list[Call], entry_model: Any, base: bool, entry_point: str) -> Finding | None:
    """The finding for the last layer of `chain` (the running layer calls, outermost first),
    which ran in a mode other than `base`; `None` when an explicit value in the code chose it."""
    frames = _call_frames(sys._getframe(1))
    start = 1 if chain and chain[0][0] is entry_model else 0
    meant, drop = base, None
    for j in range(start, len(chain)):
        layer, value = chain[j]
        if not getattr(layer, "_call_has_training_arg", False):
            continue
        frame = frames.get(id(layer))
        explicit = _explicit(frame)
        if isinstance(explicit, bool) and (
            _from_library(frame) or not _in_keras(_caller(frame, layer))
        ):
            # the code chose this mode for this subtree (Keras' containers only pass it on)
            meant, drop = explicit, None
            continue
        if drop is None and effective(layer, value) != meant:
            drop = j
    layer, value = chain[-1]
    got = effective(layer, value)
    if got == meant or meant != base:
        return None
    if drop is None:
        drop = len(chain) - 1
    if (
        start == 1
        and entry_point == "training step"
        and _explicit(frames.get(id(chain[0][0]))) is ABSENT
    ):
        drop = 0  # the loop called the model itself without `training`
    dropped, dropped_value = chain[drop]
    parent = chain[drop - 1][0] if drop > 0 else entry_model
    root = entry_model if entry_model is not None else chain[0][0]
    names = [c[0].name for c in chain[start:]]
    caller = _caller(frames.get(id(dropped)), dropped)
    site = _callsite.locate(caller, dropped.name) if caller is not None else None
    bypassed = drop > 0 and caller is not None and _callsite.self_of(caller) not in (parent, None)
    if drop == 0:
        facts, why = (
            "",
            (
                f"the training loop calls {type(root).__name__} '{root.name}' without `training`, "
                "then an optimizer updates its variables: Keras runs such a call in inference mode"
            ),
        )
        fixed = _with_training_true(site)
        fix = f"write `{fixed}`" if fixed else "pass training=True to the model in the step"
    else:
        facts, why = _cause(entry_point, base, parent, dropped, dropped_value, bypassed, caller)
        fix = _fix(base, parent, site, facts)
    return Finding(
        entry_point=entry_point,
        model=f"{type(root).__name__} {root.name!r}",
        path="/".join(names),
        layer_class=type(layer).__name__,
        expected=mode_name(base),
        received=mode_name(got),
        site=_short(site.where) if site is not None else "",
        source=_statement(site),
        facts=facts,
        why=why,
        fix=fix,
    )


def _short(where: str) -> str:
    """A path under the working folder, relative to it (as linters print them)."""
    try:
        relative = os.path.relpath(where)
    except ValueError:  # another drive (Windows)
        return where
    return where if relative.startswith("..") else relative


def _with_training_true(site: _callsite.Site | None) -> str | None:
    """The call of `site` with `training=True` added (the model call of a training step)."""
    if site is None or site.source is None or site.call is None:
        return None
    text = ast.get_source_segment(site.source, site.call)
    if not text or not text.endswith(")"):
        return None
    empty = not site.call.args and not site.call.keywords
    return f"{text[:-1]}{'' if empty else ', '}training=True)"


def _statement(site: _callsite.Site | None) -> str:
    if site is None or site.source is None:
        return ""
    lines = site.source.splitlines()
    if site.call is None:
        return lines[site.lineno - 1].strip() if 0 < site.lineno <= len(lines) else ""
    first, last = site.call.lineno, site.call.end_lineno or site.call.lineno
    return " ".join(line.strip() for line in lines[first - 1 : last])


def _cause(
    entry_point: str,
    base: bool,
    parent: Any,
    dropped: Any,
    value: Any,
    bypassed: bool,
    caller: FrameType | None,
) -> tuple[str, str]:
    parent_class = type(parent).__name__
    owner = _callsite.self_of(caller)
    owner_class = type(owner).__name__ if owner is not None else "the calling function"
    if bypassed:
        return (
            "F7",
            f"{owner_class}.call is run directly (`layer.call(...)` or `super().call(...)` skips "
            f"`__call__`), so the mode of {parent_class} '{parent.name}' does not reach "
            f"'{dropped.name}'",
        )
    if base:
        if not getattr(parent, "_call_has_training_arg", True):
            return (
                "F1",
                f"{parent_class}.call has no `training` parameter, so {entry_point} never asks "
                "it for training mode, and no mode reaches its sublayers",
            )
        if value is not None and value is not ABSENT and bool(value) is not base:
            return (
                "F13",
                f"'{dropped.name}' got no `training` and took the `False` an earlier layer left "
                "in Keras' shared call context",
            )
        return (
            "F2",
            f"{parent_class}.call declares `training` but does not pass it to "
            f"'{dropped.name}' (on JAX no shared call context carries it there)",
        )
    signature = getattr(dropped, "_call_signature", None)
    param = None if signature is None else signature.parameters.get("training")
    if param is not None and param.default is True:
        return (
            "F9",
            f"{type(dropped).__name__}.call defaults to training=True and no mode reached it",
        )
    return (
        "F3",
        f"'{dropped.name}' got no `training` and took a `True` that an earlier explicit "
        "training=True left in Keras' shared call context",
    )


def _fix(base: bool, parent: Any, site: _callsite.Site | None, facts: str) -> str:
    fixed = None if site is None else _callsite.fixed_call(site)
    forward = f"write `{fixed}`" if fixed else "pass training=training to it"
    if facts == "F1":
        return (
            f"add `training=None` to {type(parent).__name__}.call and {forward}; or subclass "
            "training_aware.TrainingAwareModel"
        )
    if facts == "F7":
        return f"call the layer, not its `.call`: {forward}"
    return f"{forward}; or subclass training_aware.TrainingAwareModel"
