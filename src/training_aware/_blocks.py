"""The tools' blocks: `override_modes`, `mc_predict`, `audit`.

A block is one more frame on the same stack (`training_aware._stack`), so it follows the call
wherever the stack goes (asyncio tasks, `contextvars.copy_context`, tf.distribute's replica
threads: `_compiled`), and every frame pushed above it inherits it. Nothing is set on any layer or
model; the hook (`training_aware._hook`) applies the forced modes and calls the recorders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from training_aware._hook import ensure_hook
from training_aware._stack import _OPEN, _STACK, NO_MODE, Frame

__all__ = [
    "Block",
    "Recorder",
    "Tools",
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
    """

    __slots__ = ("forced", "open", "recorder", "token")

    def __init__(
        self, forced: dict[int, bool], recorder: Recorder | None = None, token: Any = None
    ) -> None:
        self.forced = forced
        self.recorder = recorder
        self.token = token
        self.open = True


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
    _OPEN.append(None)  # counted until the block closes, wherever that happens
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
    if block.open:
        block.open = False
        _OPEN.pop()
    stack = _STACK.get()
    if any(f is frame for f in stack):  # else: another thread or task's context holds it
        _STACK.set(tuple(f for f in stack if f is not frame and not _stale(f)))
