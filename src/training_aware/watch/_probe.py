"""The watch's probes: the `training` each layer's `call` receives, and its entry point.

Three read-only wrappers, installed when Keras is imported and removed by `uninstall`:

- `Operation.__call__`, the step of `Layer.__call__` that calls `call` with the arguments Keras
  resolved (on PyTorch, `TorchLayer.forward` calls it too). It sits inside every hook on
  `Layer.__call__` (training-aware's own included), so it sees exactly what `call` receives;
  `Layer.stateless_call` (JAX's trainer, custom JAX loops) is watched the same way.
- `fit`, `evaluate`, `predict` and the `*_on_batch` methods of `keras.Model`: the mode meant.
- optimizer steps (`apply`, `stateless_apply`, and `torch.optim` through its global step hook):
  a model called without `training` whose variables an optimizer then updates was a training step.

Each wrapper only reads its arguments and keeps a per-thread stack of the layer calls running, so
nothing a watched run computes changes. Inside `tf.function`/`jax.jit` they run while tracing:
a compiled step is watched once, at its trace, and costs nothing per step.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["ABSENT", "Call", "Entry", "install", "installed", "uninstall"]

ABSENT: Final = object()  # `training` not in the arguments `call` received


@dataclass(frozen=True)
class Entry:
    """A running entry point: its name, the model, the mode it means."""

    name: str
    model: Any
    mode: bool


Call = tuple[Any, Any]  # (layer, the `training` its `call` received, or ABSENT)

# Entry point -> the mode it means.
ENTRY_POINTS: Final = {
    "fit": True,
    "train_on_batch": True,
    "evaluate": False,
    "test_on_batch": False,
    "predict": False,
    "predict_on_batch": False,
}


class _Local(threading.local):
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.entries: list[Entry] = []
        # id(root layer) -> (root, candidate findings) for calls made without `training`
        self.pending: dict[int, tuple[Any, list[Any]]] = {}


LOCAL: Final = _Local()
_lock = threading.Lock()
_active_entries: list[Entry] = []  # every thread's, for threads that have none of their own
_observer: Callable[[Any, _Local], None] | None = None
_on_step: Callable[[_Local, set[int]], None] | None = None
_restore: list[Callable[[], None]] = []
_dependent: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
# Set by `training-aware run` from TRAINING_AWARE_RUN_MAX_EPOCHS / TRAINING_AWARE_RUN_MAX_STEPS:
# a scaled-down run of a long script (each caps what the script itself asks for).
LIMITS: dict[str, int] = {}


def installed() -> bool:
    return bool(_restore)


def fallback_entry() -> Entry | None:
    """The innermost entry point running in any thread (tf.distribute's replica threads)."""
    with _lock:
        return _active_entries[-1] if _active_entries else None


def is_dependent(layer: Any) -> bool:
    """Does this layer instance's own computation depend on `training`? (cached, weakly)"""
    try:
        return _dependent[layer]
    except KeyError:
        pass
    except TypeError:
        return _judge(layer)
    answer = _dependent[layer] = _judge(layer)
    return answer


def _judge(layer: Any) -> bool:
    from training_aware._dependence import own
    from training_aware._walk import is_mode_dependent

    try:
        verdict = own(layer).yes
    except Exception:
        verdict = None
    return is_mode_dependent(layer) if verdict is None else verdict


def install(
    observer: Callable[[Any, _Local], None], on_step: Callable[[_Local, set[int]], None]
) -> None:
    """Install the wrappers (Keras must be imported). Idempotent."""
    global _observer, _on_step
    with _lock:
        _observer, _on_step = observer, on_step
        if _restore:
            return
        _install_operation_call()
        _install_stateless_call()
        _install_entry_points()
        _install_optimizer_steps()


def uninstall() -> None:
    """Put back every original (the watch stops recording)."""
    global _observer, _on_step
    with _lock:
        while _restore:
            _restore.pop()()
        _observer = _on_step = None
        _active_entries.clear()


def _set(owner: Any, name: str, value: Any) -> None:
    had = name in vars(owner)
    old = vars(owner).get(name)

    def restore() -> None:
        if had:
            setattr(owner, name, old)
        else:
            delattr(owner, name)

    setattr(owner, name, value)
    _restore.append(restore)


def _quiet(function: Any, like: Any) -> None:
    """Keep Keras' names (AutoGraph leaves Keras' methods alone) and opt out of AutoGraph."""
    function.__name__ = like.__name__
    function.__qualname__ = like.__qualname__
    function.__doc__ = like.__doc__
    function.__wrapped__ = like
    function.autograph_info__ = None


def _install_operation_call() -> None:
    from keras.src.backend.common import global_state
    from keras.src.layers.layer import Layer
    from keras.src.ops.operation import Operation

    original = Operation.__call__
    local = LOCAL

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        observer = _observer
        if observer is None or not isinstance(self, Layer):
            return original(self, *args, **kwargs)
        calls = local.calls
        value = kwargs.get("training", ABSENT)
        if value is ABSENT and not calls:  # a root whose call takes no `training`: the mode
            context = global_state.get_global_attribute("current_call_ctx")  # asked of it
            value = getattr(context, "training", None)
            value = ABSENT if value is None else value
        calls.append((self, value))
        try:
            if not calls[1:] and local.pending:
                local.pending.pop(id(self), None)  # a new root call: the last one's verdict ends
            if is_dependent(self):
                observer(self, local)
            return original(self, *args, **kwargs)
        finally:
            calls.pop()

    _quiet(__call__, original)
    _set(Operation, "__call__", __call__)


def _install_stateless_call() -> None:
    from keras.src.layers.layer import Layer

    original = Layer.stateless_call
    local = LOCAL

    def stateless_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _observer is None:
            return original(self, *args, **kwargs)
        calls = local.calls
        if not calls and local.pending:
            local.pending.pop(id(self), None)  # a new root call: the last one's verdict ends
        calls.append((self, kwargs.get("training", ABSENT)))
        try:
            return original(self, *args, **kwargs)
        finally:
            calls.pop()

    _quiet(stateless_call, original)
    _set(Layer, "stateless_call", stateless_call)


def _install_entry_points() -> None:
    import keras

    for name, mode in ENTRY_POINTS.items():
        original = getattr(keras.Model, name)
        _set(keras.Model, name, _entry_point(name, mode, original))


def _entry_point(name: str, mode: bool, original: Any) -> Any:
    local = LOCAL

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _observer is None:
            return original(self, *args, **kwargs)
        if LIMITS:
            _limit(name, args, kwargs)
        entry = Entry(name, self, mode)
        local.entries.append(entry)
        with _lock:
            _active_entries.append(entry)
        try:
            return original(self, *args, **kwargs)
        finally:
            local.entries.pop()
            with _lock:
                _active_entries.remove(entry)

    return wrapper


def _limit(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Cap epochs and steps (`training-aware run`'s scaled-down runs); other calls untouched."""
    steps = LIMITS.get("steps")
    if name == "fit":
        epochs = LIMITS.get("epochs")
        if epochs is not None and len(args) < 4:  # x, y, batch_size, epochs
            kwargs["epochs"] = min(int(kwargs.get("epochs", 1)), epochs)
        if steps is not None and len(args) < 11:
            kwargs["steps_per_epoch"] = min(kwargs.get("steps_per_epoch") or steps, steps)
            if kwargs.get("validation_data") is not None or kwargs.get("validation_split"):
                kwargs["validation_steps"] = min(kwargs.get("validation_steps") or steps, steps)
    elif name in ("evaluate", "predict") and steps is not None and "steps" not in kwargs:
        kwargs["steps"] = steps


def _install_optimizer_steps() -> None:
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    apply = BaseOptimizer.apply
    stateless_apply = BaseOptimizer.stateless_apply
    local = LOCAL

    def keras_variables(optimizer: Any, given: Any) -> set[int]:
        variables = given if given is not None else getattr(optimizer, "_trainable_variables", [])
        return {id(v) for v in variables or ()}

    @functools.wraps(apply)
    def apply_(self: Any, grads: Any, trainable_variables: Any = None) -> Any:
        if local.pending and _on_step is not None:
            _on_step(local, keras_variables(self, trainable_variables))
        return apply(self, grads, trainable_variables)

    @functools.wraps(stateless_apply)
    def stateless_apply_(self: Any, *args: Any, **kwargs: Any) -> Any:
        if local.pending and _on_step is not None:
            _on_step(local, keras_variables(self, None))
        return stateless_apply(self, *args, **kwargs)

    _set(BaseOptimizer, "apply", apply_)
    _set(BaseOptimizer, "stateless_apply", stateless_apply_)
    if "torch" in sys.modules:
        _install_torch_optimizers()


def _install_torch_optimizers() -> None:
    try:
        from torch.optim.optimizer import register_optimizer_step_pre_hook
    except ImportError:  # pragma: no cover - an old torch
        return
    local = LOCAL

    def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
        if local.pending and _on_step is not None:
            params = {id(p) for group in optimizer.param_groups for p in group["params"]}
            _on_step(local, params)

    handle = register_optimizer_step_pre_hook(hook)
    _restore.append(handle.remove)


def variable_ids(model: Any) -> set[int]:
    """Ids of a model's trainable variables, and of their torch parameters."""
    ids: set[int] = set()
    for variable in getattr(model, "trainable_variables", ()):
        ids.add(id(variable))
        value = getattr(variable, "_value", None)
        if value is not None:
            ids.add(id(value))
    return ids
