"""A user's own compiled function traced inside a block: `TracedInBlockWarning`.

A block applies its modes when a layer is called; a `tf.function` or `jax.jit` calls its layers
only while it is traced, so it keeps the modes of the place where it was traced. Keras' own
trainer functions are kept per block (`_compiled`); a user's cannot be, but its trace can be
seen: `_blocks` asks `tracing()` (one cheap call on the active backend) for a forced layer, and
`warn_if_users_trace` walks the Python stack only then, to tell Keras' traces from the user's.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["TracedInBlockWarning", "tracing", "warn_if_users_trace"]


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


def tracing() -> bool:
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


def warn_if_users_trace(layer: Any, mode: bool) -> bool:
    """Warn if the trace in progress is a compiled function of the user's own; return whether."""
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    if in_symbolic_scope():
        return False
    frame = sys._getframe(1)
    compiled = False
    user: tuple[FrameType, int] | None = None
    depth = 1
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        if "/keras/src/" in path and (
            path.endswith(_KERAS_TRACES[0]) or frame.f_code.co_name == _KERAS_TRACES[1]
        ):
            return False  # Keras' fit/evaluate/predict function, or a symbolic shape computation
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
        return False  # jax.grad or another eager transformation: the block applies every call
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
    return True
