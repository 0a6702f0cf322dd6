"""Does a callable take a named `training` parameter? (`accepts_training`, `call_with_training`)

Keras' own rule (`Layer.__init__`): a parameter literally named `training`, positional-or-keyword
or keyword-only, counts; `**kwargs` and `*args` alone do not (Keras strips `training` before
calling such a `call`). The answer is cached per underlying function object, weakly, so lambdas
made in a loop are not kept alive by the cache.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from training_aware._types import Mode

__all__ = ["accepts_training", "call_with_training"]

T = TypeVar("T")

# function object -> answer. Weak keys: a lambda that dies takes its entry with it.
_CACHE: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

_NAMED_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _signature_accepts(fn: Any) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and C callables without a signature
        return False
    param = sig.parameters.get("training")
    return param is not None and param.kind in _NAMED_KINDS


def _accepts_uncached(obj: Any) -> bool:
    if isinstance(obj, functools.partial):
        # A partial that already binds `training` takes it no more from its caller.
        if "training" in obj.keywords:
            return False
        return _signature_accepts(obj)
    return _signature_accepts(obj)


def _cache_key(obj: Any) -> Any:
    """The object whose signature decides: the function under a bound method or a layer."""
    call = getattr(obj, "call", None)
    if call is not None and _is_keras_layer(obj):
        obj = call
    if inspect.ismethod(obj):
        return obj.__func__
    return obj


def _is_keras_layer(obj: Any) -> bool:
    # Imported lazily: `training_aware.lint` must be usable without Keras.
    from keras import layers

    return isinstance(obj, layers.Layer)


def accepts_training(obj: object) -> bool:
    """Whether `obj` takes a named `training` argument, by Keras' own rule.

    For a Keras layer or model this inspects its `call` (as `Layer.__call__` does); for anything
    else it inspects the callable itself: functions, lambdas, bound methods, `functools.partial`
    (a partial that already binds `training` does not accept it again), callable objects and
    classes. A callable without an inspectable signature (some builtins) gives `False`; this
    function never raises.

    Note that `accepts_training` follows the *signature*: Keras' `Dense` declares `training` and
    ignores it, so `accepts_training(keras.layers.Dense(2))` is `True`.

    Args:
        obj: a Keras layer or model, or any callable.

    Returns:
        `True` if `obj` (its `call`, for a layer) has a parameter named `training`.

    Example:

    ```python
    import keras
    from training_aware import accepts_training

    assert accepts_training(lambda x, training=False: x)
    assert not accepts_training(lambda x, **kwargs: x)     # **kwargs does not count
    assert accepts_training(keras.layers.Dropout(0.5))
    ```
    """
    if _is_keras_layer(obj):
        flag = getattr(obj, "_call_has_training_arg", None)
        if isinstance(flag, bool):
            return flag
    key = _cache_key(obj)
    try:
        return _CACHE[key]
    except (KeyError, TypeError):  # TypeError: not weak-referenceable or unhashable
        pass
    answer = _accepts_uncached(key)
    with contextlib.suppress(TypeError):  # not weak-referenceable: answer without caching
        _CACHE[key] = answer
    return answer


def call_with_training(fn: Callable[..., T], *args: Any, training: Mode, **kwargs: Any) -> T:
    """Call `fn(*args, **kwargs)`, adding `training=training` only if `fn` accepts it.

    Args:
        fn: any callable: a layer, a function, a lambda, a bound method, a partial.
        *args: positional arguments for `fn`.
        training: the mode to pass on (`None`, a bool or a scalar boolean tensor).
        **kwargs: keyword arguments for `fn`.

    Returns:
        What `fn` returns.

    Example:

    ```python
    from training_aware import call_with_training

    assert call_with_training(lambda x: x + 1, 1, training=True) == 2
    assert call_with_training(lambda x, training=False: training, 1, training=True) is True
    ```
    """
    if accepts_training(fn):
        return fn(*args, training=training, **kwargs)
    return fn(*args, **kwargs)
