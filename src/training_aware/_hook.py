"""The hook: `keras.layers.Layer.__call__` with the frame stack applied.

One hook around `keras.layers.Layer.__call__` gives every descendant of a training-aware call that
accepts `training` the top frame's mode (`training_aware._stack`) as an *explicit* argument when
its caller passed none (an explicit value wins and applies to that child's subtree only), and
applies the forced modes of the active blocks (`training_aware._blocks`). Outside such a call the
stack is empty and the hook is a plain pass-through; it is installed on first use, never at import.
It also keeps Keras' shared call context as the caller found it (`preserve_keras_context`).

See docs/design.md for the alternatives that were rejected and why.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Final

from training_aware._stack import (
    _OPEN,
    _STACK,
    NO_MODE,
    Frame,
    Inspector,
    pop,
    push,
    validate_training,
)

__all__ = [
    "TESTED_KERAS",
    "KerasVersionWarning",
    "check_call_context",
    "ensure_hook",
    "enter",
    "explicit_training",
    "frame",
    "hook_installed",
    "keep_context",
    "leave",
    "preserve_keras_context",
    "restore_context",
]

# The Keras releases whose `Layer.__call__` the hook was tested against: [low, high).
TESTED_KERAS: Final = ((3, 12, 0), (3, 16, 0))


class KerasVersionWarning(UserWarning):
    """The installed Keras is outside the range whose call-context internals were tested.

    Issued once, at the first training-aware call, when `keras.__version__` is outside the
    tested range (the `keras` requirement of the package). Everything still runs; the FACTS
    examples in the docs tell whether the installed Keras still behaves as documented.

    Example:

    ```python
    import warnings

    import keras
    import numpy as np
    from training_aware import KerasVersionWarning, TrainingSequential

    with warnings.catch_warnings():
        warnings.simplefilter("error", KerasVersionWarning)   # fail on an untested Keras
        TrainingSequential([keras.layers.Dropout(0.5)])(np.ones((2, 3)), training=True)
    ```
    """


_lock = threading.Lock()
_original_call: Callable[..., Any] | None = None
# Keras' `global_state.get_global_attribute`, bound at installation (no import per call).
_get_global: Callable[..., Any] | None = None
# Published only after `Layer.__call__` is replaced: a thread that sees it True sees the hook.
_installed = False
# Weak keys: a class made per instance (dynamic subclassing, `type(...)` in a loop) is freed with
# its last instance instead of living as long as the process.
# type -> index of `training` among the positional parameters of `call` (None: keyword only/absent)
_position_cache: weakref.WeakKeyDictionary[type, int | None] = weakref.WeakKeyDictionary()
# type -> whether it is a Keras built-in that declares `training` and ignores it
# id(type) -> whether it is a Keras built-in that declares `training` and ignores it. Read on
# every child call inside a training-aware call, so a plain dict (one C lookup, no weak reference
# made per read); each entry is dropped when its class is freed (`weakref.finalize`), before the
# id can be reused.
_ignoring_cache: dict[int, bool] = {}


@contextlib.contextmanager
def frame(mode: Any, *, inspector: Inspector | None = None, owner: Any = None) -> Iterator[None]:
    """Push a frame for the duration of a `with` block (installs the hook on first use)."""
    ensure_hook()
    token = push(mode, inspector, owner)
    try:
        yield
    finally:
        pop(token)


def enter(frame: Frame) -> tuple[Any, Any]:
    """Push `frame` for the body of a training-aware call; hand the result to `leave`.

    The frame inherits the blocks active here. The outermost frame also keeps Keras' shared call
    context as it found it (restored by `leave`), so nothing set inside (an explicit override on
    some child) reaches plain Keras code running afterwards. A pair of calls rather than a
    context manager or a wrapper: a nested model adds no Python frame to the call stack for it,
    so training-aware containers nest as deep as Keras' own.
    """
    if not _installed:
        ensure_hook()
    stack = _STACK.get()
    tools = stack[-1].tools if stack else None
    if tools is not None and frame.tools is None:
        frame = Frame(frame.mode, frame.inspector, frame.owner, tools)
    token = _STACK.set((*stack, frame))
    _OPEN.append(None)
    if stack and tools is None and stack[-1].mode is not NO_MODE:
        return token, None
    return token, keep_context()


def leave(entered: tuple[Any, Any]) -> None:
    """Undo `enter`: restore Keras' call context if `enter` kept it, pop the frame."""
    token, kept = entered
    if kept is not None:
        restore_context(kept)
    _OPEN.pop()
    _STACK.reset(token)


def keep_context() -> Any:
    """What `restore_context` needs to put Keras' shared call context back as it is now.

    Keras writes the mode it resolved for a call into the caller's shared context before running
    it, and never restores it (FACTS F3): `block(x, training=True)` would reach the caller's
    later children. Training-aware classes keep it around their `__call__`. `None`: no context.
    """
    if _get_global is None:
        ensure_hook()
    context = _get_global("current_call_ctx")  # type: ignore[misc]
    if context is None:
        return None
    state = vars(context)
    return context, "training" in state, state.get("training")


def restore_context(kept: Any) -> None:
    """Put back what `keep_context` saw (nothing to do for `None`)."""
    if kept is None:
        return
    context, had, saved = kept
    if had:
        context.training = saved
    else:
        vars(context).pop("training", None)


def explicit_training(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The `training` value a caller passed to `layer(...)`, by keyword or by position, or None."""
    if "training" in kwargs:
        return kwargs["training"]
    if len(args) > 1:
        index = _training_position(layer)
        if index is not None and len(args) > index:
            return args[index]
    return None


def _training_position(layer: Any) -> int | None:
    """Index of `training` among the positional parameters of `layer.call` (None: not positional).

    Cached per class (weakly); `None` too for a layer whose `__init__` never ran (Keras' own
    `__call__` then raises its "you forgot to call `super().__init__()`" error).
    """
    cls = type(layer)
    try:
        return _position_cache[cls]
    except KeyError:
        pass
    index: int | None = None
    signature = getattr(layer, "_call_signature", None)
    if signature is None:
        return None
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
    answer = _ignoring_cache.get(id(cls))
    if answer is not None:
        return answer
    from training_aware._training_table import IGNORES_TRAINING

    owner = next((k for k in cls.__mro__ if "call" in vars(k)), cls)
    answer = owner.__module__.startswith("keras.") and owner.__name__ in IGNORES_TRAINING
    _ignoring_cache[id(cls)] = answer
    weakref.finalize(cls, _ignoring_cache.pop, id(cls), None)
    return answer


def _set_training(
    layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], mode: Any
) -> tuple[Any, ...]:
    """Put `mode` where `training` goes: replace a positional value, else the keyword.

    For calling `layer.call` directly (no `__call__`, so no positional-tensor rule applies).
    """
    index = _training_position(layer)
    if index is not None and len(args) > index:
        return (*args[:index], mode, *args[index + 1 :])
    kwargs["training"] = mode
    return args


def _as_keyword(
    layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], index: int
) -> tuple[Any, ...]:
    """Move a positional `training` (and the positional values after it) into `kwargs`.

    Keras' `__call__` accepts only tensors (and `None`) positionally: a resolved Python bool put
    in a positional slot would raise "Only input tensors may be passed as positional arguments".
    """
    names = list(layer._call_signature.parameters)
    for offset, value in enumerate(args[index:]):
        kwargs[names[index + offset]] = value
    return args[:index]


def _hooked_call(self: Any, *args: Any, **kwargs: Any) -> Any:
    """`Layer.__call__` with the frame stack applied. A pass-through while the stack is empty.

    The pass-through is the whole cost for plain Keras code once the hook is installed: one
    Python frame and one test of a module global (`_OPEN`, empty while no training-aware call or
    block is open anywhere in the process), not even a `ContextVar` read.
    """
    if not _OPEN:
        return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    stack = _STACK.get()
    if not stack:
        return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    accepts = getattr(self, "_call_has_training_arg", None)
    if accepts is None:  # `super().__init__()` never ran: let Keras say so, in its own words
        return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    top = stack[-1]
    passed = "training" in kwargs
    if passed:
        explicit = kwargs["training"]
    elif len(args) > 1 and (index := _training_position(self)) is not None and len(args) > index:
        passed, explicit = True, args[index]
        args = _as_keyword(self, args, kwargs, index)
    else:
        explicit = None
    if explicit is not None and explicit is not True and explicit is not False:
        where = f"{type(self).__name__} '{self.name}'"
        explicit = kwargs["training"] = validate_training(explicit, where)
    tools = top.tools
    if tools is not None:  # a block (override_modes, mc_predict, audit) is active
        forced = tools.forced(self)
        if forced is not None:
            return _call_forced(self, stack, args, kwargs, forced)
    after = None
    if top.inspector is not None:
        after = top.inspector(self, sys._getframe(1), passed, explicit)
    if top.mode is NO_MODE:
        child_mode: Any = NO_MODE
    elif explicit is None:
        child_mode = top.mode
        if accepts:
            ignores = _ignoring_cache.get(id(type(self)))
            if ignores is None:
                ignores = _ignores_training(type(self))
            if not ignores:
                kwargs["training"] = child_mode
    else:
        child_mode = explicit
    if tools is not None and tools.recording:
        tools.record(self, _received(self, args, kwargs))
    if child_mode is top.mode and top.inspector is None:
        # The common case: the same mode (inherited, or forwarded by hand as
        # `training=training`) and no observer: nothing to push.
        return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    inspector = top.inspector if _is_transparent(self, top) else None
    owner = top.owner if inspector else self
    token = _STACK.set((*stack, Frame(child_mode, inspector, owner, tools)))
    try:
        result = _original_call(self, *args, **kwargs)  # type: ignore[misc]
    finally:
        _STACK.reset(token)
    if after is not None:
        after()  # a judgement that needed the child built (sublayers made in `build()`)
    return result


def _is_transparent(layer: Any, top: Frame) -> bool:
    """A `keras.layers.Lambda` is no layer of its own for the check: its function's calls are
    its caller's (a Dropout called inside `Lambda(lambda x: self.drop(x))` is `self.drop`)."""
    if top.inspector is None:
        return False
    from keras.layers import Lambda

    return isinstance(layer, Lambda)


# AutoGraph must not convert the hook (it runs as plain Python at trace time, as Keras' own
# `__call__` does), also when reached through a user's `super().__call__`: this is the marker
# `tf.autograph.experimental.do_not_convert` sets; other backends ignore it.
_hooked_call.autograph_info__ = None  # type: ignore[attr-defined]


def _received(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The `training` Keras' `__call__` will hand to `layer.call` (Keras' own resolution order)."""
    if "training" in kwargs:
        return kwargs["training"]
    index = _training_position(layer)
    if index is not None and len(args) > index:
        return args[index]
    if not layer._call_has_training_arg:
        return None
    from keras.src.backend.common import global_state

    context = global_state.get_global_attribute("current_call_ctx")
    value = None if context is None else getattr(context, "training", None)
    if value is not None:
        return value
    signature = getattr(layer, "_call_signature", None)
    param = None if signature is None else signature.parameters.get("training")
    return None if param is None or param.default is param.empty else param.default


def _call_forced(
    self: Any, stack: tuple[Frame, ...], args: tuple[Any, ...], kwargs: dict[str, Any], mode: bool
) -> Any:
    """The hook's path for a layer an active block forces: `mode` for it and its sublayers."""
    tools = stack[-1].tools
    assert tools is not None
    if self._call_has_training_arg:
        args = _set_training(self, args, kwargs, mode)
    if tools.recording:
        tools.record(self, mode if self._call_has_training_arg else None)
    token = _STACK.set((*stack, Frame(mode, None, self, tools)))
    try:
        with preserve_keras_context():  # the forced mode must not reach the siblings (F3)
            return _original_call(self, *args, **kwargs)  # type: ignore[misc]
    finally:
        _STACK.reset(token)


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
    internals the hook reads, it raises a clear `RuntimeError` instead of misbehaving. `_installed`
    is published last, so a thread that skips the lock finds `Layer.__call__` already replaced.
    """
    if _installed:
        return
    with _lock:
        if not _installed:
            _install()


def _install() -> None:
    """The installation steps; the caller holds `_lock`."""
    global _original_call, _installed, _get_global
    from keras.src.backend.common import global_state
    from keras.src.layers.layer import Layer

    _check_internals(Layer)
    original = Layer.__call__
    # Keep Keras' name and docs: TensorFlow's AutoGraph leaves a method alone when the class
    # defining it (found by `__name__`) is Keras', exactly as it does for the original.
    _hooked_call.__name__ = "__call__"
    _hooked_call.__qualname__ = "Layer.__call__"
    _hooked_call.__doc__ = original.__doc__
    _hooked_call.__wrapped__ = original  # type: ignore[attr-defined]
    _original_call = original  # before the swap: the hook calls it from its first run
    _replace_call(Layer, _hooked_call)
    _install_stateless_call(Layer)
    _get_global = global_state.get_global_attribute
    _installed = True


def _replace_call(layer_class: type, hook: Callable[..., Any]) -> None:
    """The one write to Keras: `Layer.__call__ = hook` (a separate step so a test can widen the
    window between it and publishing `_installed`)."""
    layer_class.__call__ = hook  # type: ignore[method-assign]


def _check_internals(layer_class: type) -> None:
    """Raise on a Keras whose `Layer` lacks what the hook reads; warn outside the tested range."""
    probe = layer_class()
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
            stacklevel=6,
        )


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
            f"to sibling layers (FACTS F3 in docs/facts.md). "
            f"Tested on keras >={_version_text(TESTED_KERAS[0])},"
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
    return _installed


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


_original_stateless_call: Callable[..., Any] | None = None


def _install_stateless_call(layer_class: Any) -> None:
    """Apply forced modes on `stateless_call`, which calls `call` without `__call__`.

    JAX's trainer runs the model itself through `stateless_call`; a block that forces the model
    (a rule matching the root) is applied here. A pass-through outside blocks.
    """
    global _original_stateless_call
    original = layer_class.stateless_call
    _original_stateless_call = original

    @functools.wraps(original)
    def stateless_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _OPEN:
            return original(self, *args, **kwargs)
        stack = _STACK.get()
        tools = stack[-1].tools if stack else None
        forced = None if tools is None else tools.forced(self)
        if forced is None:
            return original(self, *args, **kwargs)
        if self._call_has_training_arg:
            kwargs["training"] = forced
        token = _STACK.set((*stack, Frame(forced, None, self, tools)))
        try:
            return original(self, *args, **kwargs)
        finally:
            _STACK.reset(token)

    stateless_call.autograph_info__ = None  # type: ignore[attr-defined]
    layer_class.stateless_call = stateless_call
