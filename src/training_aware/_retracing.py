"""Keep the audit's own compilations out of TensorFlow's "frequent retracing" warning.

Every `audit()` must trace fresh `fit`/`evaluate`/`predict` functions: the mode each layer
receives is recorded while its `call` runs, and a reused trace runs no Python. TensorFlow counts
traces per source function, across all models (its key is the code object of Keras'
`multi_step_on_iterator` / `one_step_on_data_distributed`), and after five traces in ten calls
logs "5 out of the last 5 calls to <function ...> triggered tf.function retracing". Auditing a
few models in one test session would print it, although nothing is wrong with the user's code.

While an audit runs, TensorFlow's detector gets an empty table; afterwards the user's table comes
back unchanged, so the audit neither triggers the warning nor counts towards one the user's own
code would get. Nothing is filtered: a retracing warning about the user's functions still shows.
Without TensorFlow loaded, or on a TensorFlow without this detector, this does nothing.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["isolate", "isolated_tracing_stats", "restore"]

_MODULE = "tensorflow.python.eager.polymorphic_function.polymorphic_function"


def isolate() -> Any:
    """Give TensorFlow's retracing detector an empty table; returns the token for `restore`."""
    module = sys.modules.get(_MODULE)
    manager = getattr(module, "_frequent_tracing_detector_manager", None)
    detectors = getattr(manager, "_detectors", None)
    lock = getattr(manager, "_lock", None)
    if not isinstance(detectors, weakref.WeakKeyDictionary) or lock is None:
        return None
    with lock:
        manager._detectors = weakref.WeakKeyDictionary()  # type: ignore[union-attr]
    return manager, detectors


def restore(token: Any) -> None:
    """Put back the table `isolate` set aside (the traces made in between are forgotten)."""
    if token is None:
        return
    manager, detectors = token
    with manager._lock:
        manager._detectors = detectors


@contextmanager
def isolated_tracing_stats() -> Iterator[None]:
    """`isolate()` on entry, `restore()` on exit."""
    token = isolate()
    try:
        yield
    finally:
        restore(token)
