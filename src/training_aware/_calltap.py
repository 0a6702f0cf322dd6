"""Temporary, per-instance interception of a layer's `call` (used by `override_modes` and `audit`).

Keras' `Operation.__call__` runs `self.call(...)`, and JAX's `stateless_call` calls `self.call`
directly, so an instance attribute named `call` sees every real invocation of a layer on every
backend, eagerly and at trace time. Keras decides whether to pass `training` from the signature it
cached in `Layer.__init__`, which an instance attribute does not change.

A tap chains *interceptors* `(layer, call_next, args, kwargs) -> outputs`; the last one added runs
outermost. The instance attribute exists only while at least one interceptor is registered and is
removed when the last one goes, so nothing of it reaches a saved model or a config.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Interceptor", "add", "remove"]

Interceptor = Callable[[Any, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]

_MISSING: Any = object()
_lock = threading.Lock()


class _Tap:
    """The interceptors of one layer instance and what its `call` attribute was before."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.previous = vars(layer).get("call", _MISSING)
        self.original: Callable[..., Any] = layer.call  # bound method (or an earlier instance attr)
        self.interceptors: tuple[Interceptor, ...] = ()
        self.wrapper = self._make_wrapper()

    def _make_wrapper(self) -> Callable[..., Any]:
        tap = self

        @functools.wraps(self.original)
        def call(*args: Any, **kwargs: Any) -> Any:
            chain = tap.interceptors  # one read: another thread may replace the tuple
            return tap.run(len(chain) - 1, chain, args, kwargs)

        return call

    def run(
        self,
        index: int,
        chain: tuple[Interceptor, ...],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if index < 0:
            return self.original(*args, **kwargs)

        def call_next(*a: Any, **k: Any) -> Any:
            return self.run(index - 1, chain, a, k)

        return chain[index](self.layer, call_next, args, kwargs)


# id(layer) -> its tap, while any interceptor is registered on it
_TAPS: dict[int, _Tap] = {}


def add(
    layer: Any, interceptor: Interceptor, *, innermost: bool = False
) -> tuple[Any, Interceptor]:
    """Register `interceptor` on `layer`'s `call`; returns the handle for `remove`.

    By default it runs outside the interceptors already registered; `innermost=True` puts it
    next to the original `call`, so it sees exactly the arguments `call` receives (the audit's
    recorder, under an `override_modes` block).
    """
    with _lock:
        tap = _TAPS.get(id(layer))
        if tap is None or tap.layer is not layer:
            tap = _Tap(layer)
            _TAPS[id(layer)] = tap
            object.__setattr__(layer, "call", tap.wrapper)
        if innermost:
            tap.interceptors = (interceptor, *tap.interceptors)
        else:
            tap.interceptors = (*tap.interceptors, interceptor)
    return (layer, interceptor)


def remove(handle: tuple[Any, Interceptor]) -> None:
    """Unregister one interceptor; the last one out restores the layer's `call` attribute."""
    layer, interceptor = handle
    with _lock:
        tap = _TAPS.get(id(layer))
        if tap is None or tap.layer is not layer:
            return
        chain = list(tap.interceptors)
        for i in range(len(chain) - 1, -1, -1):
            if chain[i] is interceptor:
                del chain[i]
                break
        tap.interceptors = tuple(chain)
        if chain:
            return
        del _TAPS[id(layer)]
        if vars(layer).get("call") is tap.wrapper:
            if tap.previous is _MISSING:
                object.__delattr__(layer, "call")
            else:
                object.__setattr__(layer, "call", tap.previous)
