"""Compiled entry points per set of active blocks, and blocks that follow tf.distribute's replicas.

Keras keeps one compiled function per entry point on the model (`train_function`,
`test_function`, `predict_function`) and reuses it; the modes are baked in when it is traced.
Inside an `override_modes` block the function must be one traced under that block, and a caller
outside the block (another thread, another asyncio task) must keep the one traced outside it.

So the three attributes become data descriptors on Keras' `Trainer`, installed by the first
block. Outside every block they read and write the instance attribute exactly as before (the
same `__dict__` slot: a model compiled before installation keeps its functions). Inside a block
they read and write a small per-model table keyed by the block's forced modes
(`_blocks.compile_key()`), read from the caller's own context: two tasks or threads, one inside a
block and one not, each get their own function. Keras resetting a function (`compile()` sets
them to `None`) clears every key. The table holds at most `LIMIT` functions per entry point,
least recently used first out.

Two more pieces make the key reach every trace:
- JAX's trainer jits the bound method `self.train_step`, and `jax.jit` shares traces between equal
  bound methods; under a block it jits a new `functools.partial` instead (a fresh trace).
- tf.distribute's `MirroredStrategy` runs each replica in a new thread, whose context is empty;
  each replica thread starts with the frame stack of the thread that launched it (TensorFlow
  already carries its own thread-local state across the same way).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from typing import Any

from training_aware import _blocks, _stack

__all__ = ["LIMIT", "fresh_steps", "install", "table"]

LIMIT = 8
_FUNCTIONS = ("train_function", "test_function", "predict_function")
_STEPS = ("train_step", "test_step", "predict_step")
_TABLE = "_training_aware_compiled"
_lock = threading.Lock()
_installed = False


class _KeyedFunction:
    """`model.<name>_function`, one per active set of blocks (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, model: Any, owner: Any = None) -> Any:
        if model is None:
            return self
        key = _blocks.compile_key()
        if key is None:
            return model.__dict__.get(self.name)
        functions = model.__dict__.get(_TABLE)
        if not functions:
            return None
        with _lock:
            function = functions.get((self.name, key))
            if function is not None:
                functions.move_to_end((self.name, key))
        return function

    def __set__(self, model: Any, value: Any) -> None:
        if value is None:  # Keras resets: every key's function is stale
            model.__dict__[self.name] = None
            functions = model.__dict__.get(_TABLE)
            if functions:
                with _lock:
                    for entry in [e for e in functions if e[0] == self.name]:
                        del functions[entry]
            return
        key = _blocks.compile_key()
        if key is None:
            model.__dict__[self.name] = value
            return
        with _lock:
            functions = model.__dict__.get(_TABLE)
            if functions is None:
                functions = model.__dict__[_TABLE] = OrderedDict()
            functions[(self.name, key)] = value
            functions.move_to_end((self.name, key))
            while sum(1 for e in functions if e[0] == self.name) > LIMIT:
                del functions[next(e for e in functions if e[0] == self.name)]

    def __delete__(self, model: Any) -> None:
        model.__dict__.pop(self.name, None)


def table(model: Any) -> OrderedDict[tuple[str, Any], Any]:
    """The functions compiled under blocks for `model`, keyed by (entry point, block key)."""
    found: OrderedDict[tuple[str, Any], Any] | None = model.__dict__.get(_TABLE)
    return found if found is not None else OrderedDict()


def forget(model: Any, token: Any) -> None:
    """Drop the functions compiled under a recording block (they are never reused)."""
    functions = model.__dict__.get(_TABLE)
    if functions:
        with _lock:
            for entry in [e for e in functions if token in e[1][1]]:
                del functions[entry]


def install() -> None:
    """Install the descriptors, JAX's fresh-trace `jit` and the replica-thread carry (once)."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        import keras
        from keras.src.trainers.trainer import Trainer

        for name in _FUNCTIONS:
            setattr(Trainer, name, _KeyedFunction(name))
        backend = keras.backend.backend()
        if backend == "jax":
            _install_jax_jit()
        elif backend == "tensorflow":
            _install_replica_carry()
        _installed = True


def _install_jax_jit() -> None:
    from keras.src.backend.jax import trainer as jax_trainer

    original = jax_trainer.jit

    @functools.wraps(original)
    def jit(fun: Any, *args: Any, **kwargs: Any) -> Any:
        if inspect.ismethod(fun) and _blocks.compile_key() is not None:
            fun = functools.update_wrapper(functools.partial(fun.__func__, fun.__self__), fun)
        return original(fun, *args, **kwargs)

    jax_trainer.jit = jit


def _install_replica_carry() -> None:
    try:
        from tensorflow.python.distribute import mirrored_run
    except ImportError:  # pragma: no cover (a TensorFlow without tf.distribute's mirrored run)
        return
    thread_class = getattr(mirrored_run, "_MirroredReplicaThread", None)
    if thread_class is None:  # pragma: no cover (TensorFlow moved it: blocks stay per thread)
        return
    original_init = thread_class.__init__
    original_run = thread_class.run

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # runs in the launching thread
        original_init(self, *args, **kwargs)
        self._training_aware_frames = _stack._STACK.get()

    @functools.wraps(original_run)
    def run(self: Any) -> None:  # runs in the replica's new thread, with an empty context
        frames = getattr(self, "_training_aware_frames", ())
        if frames:
            _stack._STACK.set(frames)
        original_run(self)

    thread_class.__init__ = __init__
    thread_class.run = run


def fresh_steps(model: Any) -> dict[str, Any]:
    """New function objects for the model's step methods (benchmarks: force a cold JAX trace).

    JAX's `jit` caches traces by the function it is given, and bound methods compare equal.
    """
    steps: dict[str, Any] = {}
    for name in _STEPS:
        method = getattr(model, name, None)
        if method is None:
            continue

        def step(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            return _method(*args, **kwargs)

        steps[name] = step
    return steps
