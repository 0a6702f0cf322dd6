"""The tools' blocks: `override_modes`, `mc_predict`, `audit`.

A block is one more frame on the same stack (`training_aware._stack`), so it follows the call
wherever the stack goes (asyncio tasks, `contextvars.copy_context`, tf.distribute's replica
threads: `_compiled`), and every frame pushed above it inherits it. Nothing is set on any layer or
model; the hook (`training_aware._hook`) applies the forced modes and calls the recorders.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

from training_aware._hook import ensure_hook
from training_aware._stack import _STACK, NO_MODE, Frame

__all__ = [
    "Block",
    "Recorder",
    "Tools",
    "TracedInBlockWarning",
    "compile_key",
    "current_tools",
    "enter_block",
    "exit_block",
    "forced_mode",
]

Recorder = Callable[[Any, Any], None]  # (layer, the `training` its `call` receives)


class Block:
    """One active `override_modes`/`mc_predict`/`audit` block.

    Attributes:
        forced: id(layer) -> the mode that layer runs in, whatever its caller passes.
        recorder: called with (layer, training received) for every layer call, or `None`.
        token: `None` for a pure override (its compiled functions are shared by identical
            blocks); a unique object for a recording block (a fresh trace, never reused).
        open: cleared on exit; a closed block is ignored wherever a frame still holds it.
        warned: set once `TracedInBlockWarning` was issued for this block (once is enough).
    """

    __slots__ = ("forced", "open", "recorder", "token", "warned")

    def __init__(
        self, forced: dict[int, bool], recorder: Recorder | None = None, token: Any = None
    ) -> None:
        self.forced = forced
        self.recorder = recorder
        self.token = token
        self.open = True
        self.warned = recorder is not None  # the tools' own recording blocks never warn


class Tools:
    """The blocks active for a call, outermost first (immutable; closed blocks are skipped)."""

    __slots__ = ("_key", "blocks", "recording")

    def __init__(self, blocks: tuple[Block, ...]) -> None:
        self.blocks = blocks
        self._key = self._compute_key()
        self.recording = any(block.recorder is not None for block in blocks)

    def _compute_key(self) -> Any:
        forced: dict[int, bool] = {}
        tokens = []
        for block in self.blocks:
            if block.open:
                forced.update(block.forced)
                if block.token is not None:
                    tokens.append(block.token)
        if not forced and not tokens:
            return None
        return (frozenset(forced.items()), tuple(tokens))

    def key(self) -> Any:
        """What a compiled function traced under these blocks depends on (None: nothing)."""
        for block in self.blocks:
            if not block.open:
                return self._compute_key()
        return self._key

    def forced(self, layer: Any) -> bool | None:
        key = id(layer)
        for block in reversed(self.blocks):
            if block.open:
                mode = block.forced.get(key)
                if mode is not None:
                    if not block.warned and _tracing():
                        _warn_if_users_trace(block, layer, mode)
                    return mode
        return None

    def live(self) -> bool:
        return any(block.open for block in self.blocks)

    def record(self, layer: Any, value: Any) -> None:
        for block in self.blocks:
            if block.open and block.recorder is not None:
                block.recorder(layer, value)


def current_tools() -> Tools | None:
    stack = _STACK.get()
    return stack[-1].tools if stack else None


def compile_key() -> Any:
    """The key of the compiled functions meant for this call: `None` outside any block."""
    stack = _STACK.get()
    if not stack:
        return None
    tools = stack[-1].tools
    return None if tools is None else tools.key()


def forced_mode(layer: Any) -> bool | None:
    """The mode an active block forces on `layer` in this context, or `None`."""
    tools = current_tools()
    return None if tools is None else tools.forced(layer)


def enter_block(block: Block) -> Frame:
    """Push a frame carrying `block` (on top of the blocks already active); see `exit_block`."""
    ensure_hook()
    stack = tuple(f for f in _STACK.get() if not _stale(f))
    top = stack[-1] if stack else None
    blocks = top.tools.blocks if top is not None and top.tools is not None else ()
    blocks = (*(b for b in blocks if b.open), block)
    mode = NO_MODE if top is None else top.mode
    frame = Frame(mode, None, None if top is None else top.owner, Tools(blocks))
    _STACK.set((*stack, frame))
    return frame


def _stale(frame: Frame) -> bool:
    """A top-level block frame whose blocks were all closed elsewhere (a generator's close)."""
    return (
        frame.tools is not None
        and frame.owner is None
        and frame.mode is NO_MODE
        and frame.inspector is None
        and not frame.tools.live()
    )


def exit_block(block: Block, frame: Frame) -> None:
    """Close `block` and pop its frame if this context holds it on top.

    No `ContextVar` token is used: a generator holding a block may be closed from another thread
    or task, where the token would raise `ValueError`. There the frame is not on this context's
    stack and nothing is popped; the closed block is ignored by every frame that still holds it.
    """
    block.open = False
    stack = _STACK.get()
    if any(f is frame for f in stack):  # else: another thread or task's context holds it
        _STACK.set(tuple(f for f in stack if f is not frame and not _stale(f)))


# -- a compiled function of the user's own, traced inside a block ---------------------------------


class TracedInBlockWarning(UserWarning):
    """A `tf.function` or `jax.jit` of your own was traced inside an `override_modes` block.

    The trace bakes in the block's modes: calling the compiled function after the block still
    runs them, and a function traced before the block ignores the block (compiled code runs no
    Python, so nothing can apply the block there). Keras' own `fit`/`evaluate`/`predict`
    functions are kept per block for you and never warn. Issued once per block, at trace time,
    pointing at the traced function. To get the block's modes, trace inside the block; to get
    plain modes after it, trace again (a new `tf.function`/`jax.jit` object) outside it.

    Example:

    ```python
    import warnings

    import keras
    import numpy as np
    from training_aware import TracedInBlockWarning, override_modes

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dropout(0.5, name="drop")(inputs))
    if keras.backend.backend() == "tensorflow":    # jax.jit over stateless_call warns too
        import tensorflow as tf

        step = tf.function(model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with override_modes(model, {"drop": True}):
                step(np.ones((2, 4), "float32"))     # traced here: keeps dropout on
        assert any(w.category is TracedInBlockWarning for w in caught)
    ```
    """


# Files whose frames mean "Keras is tracing its own trainer function or a shape": no warning.
_KERAS_TRACES = ("trainer.py", "compute_output_spec")


def _tracing() -> bool:
    """Is a compiled function being traced here? One cheap call on the active backend."""
    global _tracing_check
    if _tracing_check is None:
        _tracing_check = _make_tracing_check()
    return _tracing_check()


_tracing_check: Callable[[], bool] | None = None


def _make_tracing_check() -> Callable[[], bool]:
    """The active backend's "am I tracing?" (PyTorch runs eagerly: never)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        from tensorflow.python.eager import context

        executing_eagerly = context.executing_eagerly
        return lambda: not executing_eagerly()
    if backend == "jax":
        from jax._src import core

        clean = core.trace_state_clean
        return lambda: not clean()
    return lambda: False


def _warn_if_users_trace(block: Block, layer: Any, mode: bool) -> None:
    """Warn once per block when the trace in progress is a compiled function of the user's own."""
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    if in_symbolic_scope():
        return
    frame = sys._getframe(1)
    compiled = False
    user: tuple[FrameType, int] | None = None
    depth = 1
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        if "/keras/src/" in path and (
            path.endswith(_KERAS_TRACES[0]) or frame.f_code.co_name == _KERAS_TRACES[1]
        ):
            return  # Keras' fit/evaluate/predict function, or a symbolic shape computation
        if "/tensorflow/python/eager/polymorphic_function/" in path or "/jax/_src/pjit" in path:
            compiled = True
        elif user is None and not any(
            part in path
            for part in ("/keras/", "/training_aware/", "/tensorflow/", "/jax/", "__autograph_")
        ):
            user = (frame, depth)
        frame = frame.f_back  # type: ignore[assignment]
        depth += 1
    if not compiled:
        return  # jax.grad or another eager transformation: the block applies on every call
    block.warned = True
    name = getattr(layer, "name", type(layer).__name__)
    warnings.warn(
        "a compiled function (tf.function or jax.jit) is being traced inside an override_modes "
        f"block, which forces layer {name!r} into {'training' if mode else 'inference'} mode: "
        "the trace keeps the block's modes when the function is called after the block, and a "
        "function traced before the block ignores it. Keras' own fit/evaluate/predict are kept "
        "per block for you. Fix: trace inside the block for its modes, and use a new "
        "tf.function/jax.jit object outside it for plain modes (see the custom training loops "
        "guide, 'Blocks and compiled functions').",
        TracedInBlockWarning,
        stacklevel=user[1] + 1 if user is not None else 2,
    )
