"""The frame stack: the mode resolved for each running training-aware `call`.

While a training-aware call runs, a `contextvars.ContextVar` (per thread and asyncio task) holds a
stack of frames, each carrying the mode resolved for the layer whose `call` is running, and the
blocks (`training_aware._blocks`) active for it. The hook (`training_aware._hook`) reads the top
frame; outside any training-aware call the stack is empty.

See docs/design.md for the picture and the alternatives that were rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from training_aware.errors import TrainingValueError, describe

if TYPE_CHECKING:
    from training_aware._blocks import Tools

__all__ = [
    "NO_MODE",
    "Frame",
    "Inspector",
    "current_mode",
    "pop",
    "push",
    "resolve",
    "validate_training",
]


class _NoMode:
    """Sentinel mode of a frame that observes child calls without changing their mode."""

    def __repr__(self) -> str:
        return "NO_MODE"


NO_MODE: Final = _NoMode()

# An inspector sees each direct child call: (child layer, caller's Python frame, whether the caller
# passed `training` by keyword or position, the value it passed or None). It may return a function
# to run once the child's call has returned (to judge a child that its own call builds).
Inspector = Callable[[Any, FrameType, bool, Any], "Callable[[], None] | None"]


@dataclass(frozen=True)
class Frame:
    """One entry of the stack: the mode resolved for the running `call`, and who pushed it.

    Attributes:
        mode: `True`/`False`/a scalar boolean tensor, or `NO_MODE` (observe only, inject nothing).
        inspector: called for every child layer this frame's `call` invokes *without* `training`
            (`@forwards_training` and `training_check="warn"|"error"` use it); `None` otherwise.
        owner: the layer whose `call` pushed the frame (for messages), or `None`.
        tools: the `override_modes`/`mc_predict`/`audit` blocks active for this call (inherited
            by every frame pushed above it), or `None`.
    """

    mode: Any
    inspector: Inspector | None = None
    owner: Any = None
    tools: Tools | None = None


_STACK: ContextVar[tuple[Frame, ...]] = ContextVar("training_aware_frames", default=())

# One entry per frame pushed from outside the hook (a training-aware call, `PinnedMode`, a block)
# and not yet popped, in any thread: while it is empty no context holds a live frame, and the
# hook passes every call straight through without reading `_STACK`. `list.append`/`list.pop`
# are atomic, so threads need no lock. A frame pushed by the hook for a child lives inside one of
# these and is not counted.
_OPEN: list[None] = []


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


def push(mode: Any, inspector: Inspector | None = None, owner: Any = None) -> Any:
    """Lower-level `frame`: push and return the token for `pop` (no generator overhead)."""
    stack = _STACK.get()
    tools = stack[-1].tools if stack else None
    token = _STACK.set((*stack, Frame(mode, inspector, owner, tools)))
    _OPEN.append(None)
    return token


def pop(token: Any) -> None:
    _OPEN.pop()
    _STACK.reset(token)


def validate_training(value: Any, where: str) -> Any:
    """Return `value` as a mode if it is a valid `training` value, else raise `TrainingValueError`.

    Valid: what Keras layers read as a mode: `None`, a Python bool, the integers 0 and 1 (Keras 2's
    learning-phase values), and NumPy or tensor scalars of a boolean or integer dtype holding one of
    those: concrete ones come back as Python bools (so compiled functions specialise on them),
    symbolic ones (inside `tf.function` or `jax.jit`) as they are. Rejected: strings, floats,
    containers and non-scalar or non-boolean tensors, which plain Keras silently reads by Python
    truthiness (`training="False"` would train).
    """
    if value is None or value is True or value is False:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is not None and shape is not None and _is_scalar(shape):
        kind = str(dtype)
        if (
            "bool" in kind or "int" in kind
        ):  # Keras turns a NumPy bool given to a model into a tensor
            try:
                concrete = int(value)
            except Exception:  # symbolic (traced): its value is not known here
                return value
            if concrete in (0, 1):
                return bool(concrete)
    raise TrainingValueError(
        f"{where} received training={describe(value)}. Expected None, True, False (or 0/1, or a "
        "scalar boolean tensor). Fix: pass a bool, e.g. training=bool(flag)."
    )


def _is_scalar(shape: Any) -> bool:
    try:
        return tuple(shape) == ()
    except (TypeError, ValueError):  # a TensorFlow shape of unknown rank
        return False
