"""The mechanism: a per-thread stack of resolved training frames and the one hook that applies it.

Two sentences: while a training-aware call runs, a `contextvars.ContextVar` holds a stack of frames,
each carrying the mode resolved for the layer whose `call` is running; one hook around
`keras.layers.Layer.__call__` gives every descendant that accepts `training` the top frame's mode as
an *explicit* argument when its caller passed none (an explicit value wins and applies to that
child's subtree only). Outside such a call the stack is empty and the hook is a plain pass-through;
it is installed on first use, never at import.

See docs/design.md for the alternatives that were rejected and why.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import Any, Final

from training_aware.errors import TrainingValueError, describe

__all__ = [
    "NO_MODE",
    "TESTED_KERAS",
    "Frame",
    "KerasVersionWarning",
    "call_keeping_context",
    "check_call_context",
    "current_mode",
    "ensure_hook",
    "explicit_training",
    "frame",
    "preserve_keras_context",
    "resolve",
    "run_in_frame",
    "validate_training",
]

# The Keras releases whose `Layer.__call__` the hook was tested against: [low, high).
TESTED_KERAS: Final = ((3, 12, 0), (3, 16, 0))


class KerasVersionWarning(UserWarning):
    """The installed Keras is outside the range whose call-context internals were tested."""


class _NoMode:
    """Sentinel mode of a frame that observes child calls without changing their mode."""

    def __repr__(self) -> str:
        return "NO_MODE"


NO_MODE: Final = _NoMode()

# An inspector sees each direct child call: (child layer, caller's Python frame).
Inspector = Callable[[Any, FrameType], None]


@dataclass(frozen=True)
class Frame:
    """One entry of the stack: the mode resolved for the running `call`, and who pushed it.

    Attributes:
        mode: `True`/`False`/a scalar boolean tensor, or `NO_MODE` (observe only, inject nothing).
        inspector: called for every child layer this frame's `call` invokes *without* `training`
            (`@forwards_training` and `training_check="warn"|"error"` use it); `None` otherwise.
        owner: the layer whose `call` pushed the frame (for messages), or `None`.
    """

    mode: Any
    inspector: Inspector | None = None
    owner: Any = None


_STACK: ContextVar[tuple[Frame, ...]] = ContextVar("training_aware_frames", default=())

_lock = threading.Lock()
_original_call: Callable[..., Any] | None = None
# type -> index of `training` among the positional parameters of `call` (None: keyword only/absent)
_position_cache: dict[type, int | None] = {}
# type -> whether it is a Keras built-in that declares `training` and ignores it
_ignoring_cache: dict[type, bool] = {}


def current_mode() -> Any:
    """The mode of the innermost training-aware frame, or `None` outside any."""
    stack = _STACK.get()
    if not stack or stack[-1].mode is NO_MODE:
        return None
    return stack[-1].mode


def resolve(training: Any) -> Any:
    """Keras' resolution order made explicit: the argument, else the enclosing frame, else False."""
    if training is not None:
        return training
    mode = current_mode()
    return False if mode is None else mode


@contextlib.contextmanager
def frame(mode: Any, *, inspector: Inspector | None = None, owner: Any = None) -> Iterator[None]:
    """Push a frame for the duration of a `with` block (installs the hook on first use)."""
    ensure_hook()
    token = _STACK.set((*_STACK.get(), Frame(mode, inspector, owner)))
    try:
        yield
    finally:
        _STACK.reset(token)


def push(mode: Any, inspector: Inspector | None = None, owner: Any = None) -> Any:
    """Lower-level `frame`: push and return the token for `pop` (no generator overhead)."""
    return _STACK.set((*_STACK.get(), Frame(mode, inspector, owner)))


def pop(token: Any) -> None:
    _STACK.reset(token)


def run_in_frame(
    frame: Frame, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call `fn(*args, **kwargs)` inside `frame`: the body of every training-aware call.

    The outermost frame also leaves Keras' shared call context as it found it, so nothing set
    inside (an explicit override on some child) reaches plain Keras code running afterwards.
    """
    ensure_hook()
    stack = _STACK.get()
    token = _STACK.set((*stack, frame))
    try:
        if stack:
            return fn(*args, **kwargs)
        with preserve_keras_context():
            return fn(*args, **kwargs)
    finally:
        _STACK.reset(token)


def call_keeping_context(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a layer's `__call__` and restore the caller's Keras call context afterwards.

    Keras writes the mode it resolved for *this* call into the caller's shared context before
    running it, and never restores it (FACTS F3): `block(x, training=True)` would reach the
    caller's later children. Training-aware classes route `__call__` through this.
    """
    from keras.src.backend.common import global_state

    if global_state.get_global_attribute("current_call_ctx") is None:
        return call(*args, **kwargs)
    with preserve_keras_context():
        return call(*args, **kwargs)


def validate_training(value: Any, where: str) -> Any:
    """Return `value` if it is a valid `training` value, else raise `TrainingValueError`.

    Valid: `None`, a Python bool, a NumPy bool (returned as a Python bool) or a scalar boolean
    tensor of any backend.
    """
    if value is None or value is True or value is False:
        return value
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is not None and shape is not None and tuple(shape) == () and "bool" in str(dtype):
        if type(value).__module__ == "numpy":
            return bool(value)
        return value
    raise TrainingValueError(
        f"{where} received training={describe(value)}. Expected None, True, False or a scalar "
        "boolean tensor. Fix: pass a bool, e.g. training=bool(flag)."
    )


def explicit_training(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The `training` value a caller passed to `layer(...)`, by keyword or by position, or None."""
    if "training" in kwargs:
        return kwargs["training"]
    if args:
        index = _training_position(layer)
        if index is not None and len(args) > index:
            return args[index]
    return None


def _training_position(layer: Any) -> int | None:
    cls = type(layer)
    try:
        return _position_cache[cls]
    except KeyError:
        pass
    index: int | None = None
    signature = getattr(layer, "_call_signature", None)
    if signature is not None:
        for i, param in enumerate(signature.parameters.values()):
            if param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                break
            if param.name == "training":
                index = i
                break
    _position_cache[cls] = index
    return index


def _ignores_training(cls: type) -> bool:
    """A Keras built-in that declares `training` and never reads it (`Dense`, `EinsumDense`).

    Passing it to them changes nothing but costs: any keyword argument takes Keras' `__call__` off
    its fast path (two `tree.map_structure` passes over the arguments).
    """
    try:
        return _ignoring_cache[cls]
    except KeyError:
        pass
    from training_aware._training_table import IGNORES_TRAINING

    owner = next((k for k in cls.__mro__ if "call" in vars(k)), cls)
    answer = owner.__module__.startswith("keras.") and owner.__name__ in IGNORES_TRAINING
    _ignoring_cache[cls] = answer
    return answer


def _set_training(
    layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], mode: Any
) -> tuple[Any, ...]:
    """Put `mode` where `training` goes: replace a positional `None`, else the keyword."""
    index = _training_position(layer)
    if index is not None and len(args) > index:
        return (*args[:index], mode, *args[index + 1 :])
    kwargs["training"] = mode
    return args


def _hooked_call(self: Any, *args: Any, **kwargs: Any) -> Any:
    """`Layer.__call__` with the frame stack applied. A pass-through while the stack is empty."""
    stack = _STACK.get()
    if not stack:
        return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    top = stack[-1]
    explicit = explicit_training(self, args, kwargs)
    if explicit is None and top.inspector is not None:
        top.inspector(self, sys._getframe(1))
    if top.mode is NO_MODE:
        child_mode: Any = NO_MODE
    elif explicit is None:
        child_mode = top.mode
        if self._call_has_training_arg and not _ignores_training(type(self)):
            args = _set_training(self, args, kwargs, child_mode)
        if top.inspector is None:
            # The common case: same mode, no observer, nothing to push.
            return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    else:
        child_mode = explicit
        if explicit is top.mode and top.inspector is None:
            # Forwarded by hand (`training=training`): the same mode, nothing to push.
            return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    token = _STACK.set((*stack, Frame(child_mode, None, self)))
    try:
        return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    finally:
        _STACK.reset(token)


# AutoGraph must not convert the hook (it runs as plain Python at trace time, as Keras' own
# `__call__` does), also when reached through a user's `super().__call__`: this is the marker
# `tf.autograph.experimental.do_not_convert` sets; other backends ignore it.
_hooked_call.autograph_info__ = None  # type: ignore[attr-defined]


def _keras_version() -> tuple[int, ...]:
    import keras

    parts: list[int] = []
    for piece in keras.__version__.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def ensure_hook() -> None:
    """Install the hook around `keras.layers.Layer.__call__` (once per process, thread-safe).

    Called by the first training-aware call, never at import. On a Keras outside `TESTED_KERAS`
    it warns once (`KerasVersionWarning`) and still installs; on a Keras whose `Layer` lacks the
    internals the hook reads, it raises a clear `RuntimeError` instead of misbehaving.
    """
    global _original_call
    if _original_call is not None:
        return
    with _lock:
        if _original_call is not None:
            return
        from keras.src.layers.layer import Layer

        probe = Layer()
        if not hasattr(probe, "_call_has_training_arg") or not hasattr(probe, "_call_signature"):
            raise RuntimeError(
                "training_aware does not recognise this Keras' Layer internals "
                f"(keras {_version_text(_keras_version())}); tested on keras "
                f"{_version_text(TESTED_KERAS[0])} up to (not including) "
                f"{_version_text(TESTED_KERAS[1])}. Install a keras in that range."
            )
        check_call_context(_live_call_context(probe))
        version = _keras_version()
        low, high = TESTED_KERAS
        if not (low <= version < high):
            warnings.warn(
                f"training_aware was tested on keras >={_version_text(low)},"
                f"<{_version_text(high)}; this is keras {_version_text(version)}. Keras changes "
                "how `training` propagates between releases: run training_aware's audit on your "
                "model (training_aware.audit) before trusting it.",
                KerasVersionWarning,
                stacklevel=4,
            )
        _original_call = Layer.__call__
        # Keep Keras' name and docs: TensorFlow's AutoGraph leaves a method alone when the class
        # defining it (found by `__name__`) is Keras', exactly as it does for the original.
        _hooked_call.__name__ = "__call__"
        _hooked_call.__qualname__ = "Layer.__call__"
        _hooked_call.__doc__ = _original_call.__doc__
        _hooked_call.__wrapped__ = _original_call  # type: ignore[attr-defined]
        Layer.__call__ = _hooked_call


def check_call_context(context: Any) -> None:
    """Raise `RuntimeError` unless `context` keeps `training` where the hook restores it.

    `preserve_keras_context` undoes Keras' write of `training` into its shared call context
    (FACTS F3) through the context's instance `__dict__`; Keras writes with `set_value` and reads
    with `get_value`. On a Keras whose call context works otherwise the restore would silently do
    nothing, so the hook checks a real context at install. The context is left as it was.
    """
    name = type(context).__name__
    problem = None
    if context is None:
        problem = "`Layer.__call__` keeps no call context where the hook looks for it"
    elif not (
        callable(getattr(context, "get_value", None))
        and callable(getattr(context, "set_value", None))
    ):
        problem = f"its call context ({name}) has no get_value/set_value"
    elif not isinstance(getattr(context, "__dict__", None), dict):
        problem = f"its call context ({name}) keeps no instance __dict__"
    else:
        state = vars(context)
        had, saved = "training" in state, state.get("training")
        try:
            context.set_value("training", True)
            stored = state.get("training") is True and context.get_value("training") is True
            state.pop("training", None)
            cleared = context.get_value("training") is None
        finally:
            state.pop("training", None)
            if had:
                state["training"] = saved
        if not (stored and cleared):
            problem = f"its call context ({name}) does not keep `training` as an attribute"
    if problem is not None:
        raise RuntimeError(
            f"training_aware does not recognise this Keras (keras "
            f"{_version_text(_keras_version())}): {problem}, so an explicit `training` could leak "
            f"to sibling layers (FACTS F3). Tested on keras >={_version_text(TESTED_KERAS[0])},"
            f"<{_version_text(TESTED_KERAS[1])}: install a keras in that range."
        )


def _live_call_context(probe: Any) -> Any:
    """The call context Keras is using, or one it makes the way `Layer.__call__` does."""
    from keras.src.backend.common import global_state

    active = global_state.get_global_attribute("current_call_ctx")
    if active is not None:
        return active
    if not hasattr(probe, "_get_call_context") or not hasattr(probe, "_maybe_reset_call_context"):
        return None
    context = probe._get_call_context()
    try:
        if global_state.get_global_attribute("current_call_ctx") is not context:
            return None  # Keras keeps it elsewhere: reported by check_call_context
        return context
    finally:
        probe._maybe_reset_call_context()


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(v) for v in version)


def hook_installed() -> bool:
    """Whether the hook is in place (it is installed by the first training-aware call)."""
    return _original_call is not None


@contextlib.contextmanager
def preserve_keras_context() -> Iterator[None]:
    """Leave Keras' shared call context as it was found.

    Keras 3 writes every resolved `training` into one shared `CallContext` and never restores it
    (FACTS F3). A layer that pins or overrides a mode wraps its inner call in this block so the
    value does not leak to the siblings that run after it.
    """
    from keras.src.backend.common import global_state

    context = global_state.get_global_attribute("current_call_ctx")
    if context is None:
        yield
        return
    had = "training" in vars(context)
    saved = getattr(context, "training", None)
    try:
        yield
    finally:
        if had:
            context.training = saved
        else:
            vars(context).pop("training", None)
