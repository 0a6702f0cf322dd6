"""The compiled entry points of a model, swapped while an `override_modes` block is active.

Keras keeps one compiled function per entry point on the model (`train_function`,
`test_function`, `predict_function`) and reuses it. A block hides the ones compiled outside it,
keeps the ones compiled inside it (per set of forced modes, for the next identical block) and puts
the outside ones back on exit. Nothing stored here is a Keras object, so nothing of it reaches a
saved model.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from training_aware._walk import walk

__all__ = ["fresh_steps", "models_in", "swap_compiled"]

_FUNCTIONS = ("train_function", "test_function", "predict_function")
_STEPS = ("train_step", "test_step", "predict_step")
_CACHE_ATTR = "_training_aware_compiled"
_MISSING: Any = object()


def models_in(model: Any) -> list[Any]:
    """The model and every nested model: each has its own compiled entry points."""
    candidates = [model, *(e.layer for e in walk(model))]
    return [m for m in candidates if all(hasattr(m, name) for name in _FUNCTIONS)]


def _ref(obj: Any) -> Any:
    try:
        return weakref.ref(obj)
    except TypeError:
        return id(obj)


def _validity(model: Any) -> tuple[Any, ...]:
    """What a compiled function depends on besides the modes: the compile objects, `trainable`."""
    objects = (
        getattr(model, "optimizer", None),
        getattr(model, "_compile_loss", None),
        getattr(model, "_compile_metrics", None),
    )
    return (
        tuple(_ref(o) if o is not None else None for o in objects),
        getattr(model, "compiled", False),
        tuple(e.layer.trainable for e in walk(model)),
    )


def fresh_steps(model: Any) -> dict[str, Any]:
    """New function objects for the model's step methods, to shadow them on the instance.

    JAX's `jit` caches traces by the function it is given, and `make_train_function` gives it
    the bound method `self.train_step`, which compares equal across calls: a function recompiled
    with the same bound method reuses the old trace. A fresh wrapper forces a new trace.
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


@contextmanager
def swap_compiled(models: list[Any], key: frozenset[tuple[int, bool]]) -> Iterator[None]:
    """Hide the compiled functions made outside the block; keep the ones made inside for reuse."""
    names = (*_FUNCTIONS, *_STEPS)
    saved = [{name: vars(m).get(name, _MISSING) for name in names} for m in models]
    for m in models:
        cache: dict[Any, Any] = vars(m).get(_CACHE_ATTR) or {}
        hit = cache.get(key)
        functions = hit[1] if hit is not None and hit[0] == _validity(m) else fresh_steps(m)
        for name in names:
            value = functions.get(name)
            if value is not None or name in _FUNCTIONS:
                object.__setattr__(m, name, value)
    try:
        yield
    finally:
        for m, before in zip(models, saved, strict=True):
            cache = vars(m).get(_CACHE_ATTR)
            if cache is None:
                cache = {}
                object.__setattr__(m, _CACHE_ATTR, cache)
            cache[key] = (_validity(m), {name: vars(m).get(name) for name in names})
            for name, value in before.items():
                if value is _MISSING:
                    vars(m).pop(name, None)
                else:
                    object.__setattr__(m, name, value)
