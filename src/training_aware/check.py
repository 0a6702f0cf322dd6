"""`@forwards_training`: fail loudly when a `call` drops the `training` flag.

For plain `keras.layers.Layer` / `keras.Model` subclasses. At decoration, `call` must declare
`training` (`MissingTrainingArgumentError` otherwise). At the first call of each instance (every
call with `always=True`), every layer that the decorated `call` invokes *directly* (while it is the
innermost running layer call: through helper functions and loops too) without passing `training`
is checked; if that child's behaviour depends on `training`, `DroppedTrainingFlagError` names the
class, the attribute, the child's class, the file:line of the call, and shows the one-line fix.

The same inspection backs `TrainingAwareModel(training_check="warn" | "error")`.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import os
import re
import warnings
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar, overload

import keras

from training_aware import scope
from training_aware._walk import is_mode_dependent
from training_aware.errors import (
    DroppedTrainingFlagError,
    MissingTrainingArgumentError,
    TrainingTypeError,
)
from training_aware.signature import accepts_training

__all__ = ["DroppedTrainingFlagWarning", "depends_on_training", "forwards_training"]

_T = TypeVar("_T")
_PACKAGE_DIRS = tuple(
    os.path.dirname(m.__file__) + os.sep for m in (keras, scope) if m.__file__ is not None
)


class DroppedTrainingFlagWarning(UserWarning):
    """`training_check="warn"`: a `call` dropped the flag; the library forwarded it anyway.

    Issued once per call site. Turn it into an error with `training_check="error"`, or with
    Python's warning filters.

    Example:

    ```python
    import warnings

    import keras
    import numpy as np
    from training_aware import DroppedTrainingFlagWarning, TrainingAwareModel

    class Forgetful(TrainingAwareModel, training_check="warn"):
        def __init__(self):
            super().__init__()
            self.dropout = keras.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.dropout(inputs)            # `training` is not passed on

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Forgetful()(np.ones((2, 3), "float32"), training=True)
    assert any(issubclass(w.category, DroppedTrainingFlagWarning) for w in caught)
    ```
    """


def _is_keras_builtin(cls: type) -> bool:
    return cls.__module__.startswith("keras.")


def _call_owner(cls: type) -> type:
    for klass in cls.__mro__:
        if "call" in vars(klass):
            return klass
    return cls


def depends_on_training(layer: Any) -> bool:
    """Whether `layer` behaves differently in training and inference.

    True for a layer of a non-Keras class whose `call` declares `training`, and for any layer
    that is, or contains, a mode-dependent layer (`_walk.is_mode_dependent`: Keras built-ins by
    the generated table, so `Dense` and `EinsumDense`, which declare `training` and ignore it, are
    not). Keras containers (`Sequential`, `Functional`, wrappers) are judged by what they contain.
    """
    if not _is_keras_builtin(_call_owner(type(layer))) and accepts_training(layer):
        return True
    return any(is_mode_dependent(sub) for sub in layer._flatten_layers(include_self=True))


def _user_frame(frame: FrameType | None) -> FrameType | None:
    """The first frame outside Keras and this package: where the user's code made the call."""
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIRS):
        frame = frame.f_back
    return frame


def _attribute_name(parent: Any, child: Any) -> str:
    """`batch_norm` or `layers_list[3]` for `child` as an attribute of `parent`; else its name.

    Public attributes first: Keras also keeps every sublayer in the private `_layers` list.
    """
    attributes = dict(vars(parent))
    attributes.update(attributes.get("_modules") or {})  # torch keeps sublayers in `_modules`
    items = sorted(attributes.items(), key=lambda item: item[0].startswith("_"))
    for name, value in items:
        if value is child:
            return str(name)
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if item is child:
                    return f"{name}[{i}]"
        elif isinstance(value, dict):
            for key, item in value.items():
                if item is child:
                    return f"{name}[{key!r}]"
    return str(child.name)


def _suggest(line: str, attribute: str) -> str:
    """The source line with `training=training` added to the call of `attribute`."""
    stripped = line.split("  #", 1)[0].strip()
    base = attribute.split("[", 1)[0]
    match = re.search(rf"\b{re.escape(base)}\b[^(]*\(", stripped)
    if match is None:
        return f"self.{attribute}(..., training=training)"
    depth, start = 0, match.end() - 1
    for i in range(start, len(stripped)):
        depth += {"(": 1, ")": -1}.get(stripped[i], 0)
        if depth == 0:
            inner = stripped[start + 1 : i].strip()
            sep = ", " if inner else ""
            return f"{stripped[:i]}{sep}training=training{stripped[i:]}"
    return f"self.{attribute}(..., training=training)"


def describe_drop(parent: Any, child: Any, frame: FrameType | None, *, declared: bool) -> str:
    """The message for a dropped flag: who, what, where, and the one-line fix."""
    site = _user_frame(frame)
    attribute = _attribute_name(parent, child)
    where, fix = "an unknown line", f"self.{attribute}(..., training=training)"
    if site is not None:
        where = f"{site.f_code.co_filename}:{site.f_lineno}"
        line = linecache.getline(site.f_code.co_filename, site.f_lineno)
        if line.strip():
            fix = _suggest(line, attribute)
    cls = type(parent).__name__
    head = (
        f"{cls}.call calls self.{attribute} ({type(child).__name__}, whose behaviour depends on "
        f"`training`) without passing `training`, at {where}. It then runs in whatever mode "
        "Keras' shared call context holds: inference under fit() on JAX, or a mode leaked by a "
        "sibling (FACTS F2, F3, F13)."
    )
    if declared:
        return f"{head} Expected the flag forwarded. Fix:\n    {fix}"
    return (
        f"{head} {cls}.call has no `training` parameter. Fix: declare it and forward it:\n"
        f"    def call(self, ..., training=None):\n    {fix}"
    )


_warned_sites: set[tuple[str, int, str]] = set()


def make_inspector(parent: Any, check: str, *, declared: bool) -> scope.Inspector:
    """An inspector for `parent`'s direct children: raise (`"error"`) or warn (`"warn"`)."""

    def inspect_child(child: Any, frame: FrameType) -> None:
        if not depends_on_training(child):
            return
        message = describe_drop(parent, child, frame, declared=declared)
        if check == "error":
            raise DroppedTrainingFlagError(message)
        site = _user_frame(frame)
        key = (
            (site.f_code.co_filename, site.f_lineno, type(parent).__name__)
            if site is not None
            else ("?", 0, type(parent).__name__)
        )
        if key not in _warned_sites:
            _warned_sites.add(key)
            warnings.warn(message, DroppedTrainingFlagWarning, stacklevel=2)

    return inspect_child


_checked: weakref.WeakSet[Any] = weakref.WeakSet()


def _wrap(call: Callable[..., Any], owner: str, always: bool) -> Callable[..., Any]:
    params = inspect.signature(call).parameters
    if "training" not in params or params["training"].kind not in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    ):
        raise MissingTrainingArgumentError(
            f"@forwards_training on {owner}: `call` has no `training` parameter, so it cannot "
            "forward the mode (under fit(), Keras 3 then never asks for training mode: FACTS F1). "
            "Fix: declare it and pass it on, e.g.\n"
            "    def call(self, inputs, training=None):\n"
            "        x = self.batch_norm(inputs, training=training)"
        )

    @functools.wraps(call)
    def checked_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not always and self in _checked:
            return call(self, *args, **kwargs)
        if not isinstance(self, keras.layers.Layer):
            raise TrainingTypeError(
                f"@forwards_training decorates {owner}, but it was called on "
                f"{type(self).__name__}, which is not a keras.layers.Layer."
            )
        mode = scope._STACK.get()[-1].mode if scope._STACK.get() else scope.NO_MODE
        with scope.frame(mode, inspector=make_inspector(self, "error", declared=True), owner=self):
            result = call(self, *args, **kwargs)
        if not always:
            _checked.add(self)
        return result

    checked_call.__training_aware_checked__ = True  # type: ignore[attr-defined]
    return checked_call


@overload
def forwards_training(obj: _T, *, always: bool = ...) -> _T: ...
@overload
def forwards_training(obj: None = ..., *, always: bool = ...) -> Callable[[_T], _T]: ...


def forwards_training(obj: Any = None, *, always: bool = False) -> Any:
    """Check that a layer's `call` forwards `training` to every child that depends on it.

    Use on a `keras.layers.Layer` / `keras.Model` subclass, or on its `call` method. With
    `always=True` every call is checked, not only the first call of each instance.

    Args:
        obj: the class or the `call` function (the decorator also works as `@forwards_training()`).
        always: check every call instead of the first call of each instance.

    Raises:
        MissingTrainingArgumentError: at decoration, when `call` has no `training` parameter.
        DroppedTrainingFlagError: at call time, when `call` invokes a child whose behaviour
            depends on `training` without passing it.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import forwards_training

    @forwards_training
    class GoodModel(keras.Model):                       # the classic GoodModel
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.batch_norm = keras.layers.BatchNormalization()

        def call(self, inputs, training=False):
            x = self.dense(inputs)                      # Dense ignores `training`: fine
            return self.batch_norm(x, training=training)

    GoodModel()(np.ones((2, 3), "float32"), training=True)   # checked: passes
    ```
    """
    if obj is None:
        return functools.partial(forwards_training, always=always)
    if isinstance(obj, type):
        if not issubclass(obj, keras.layers.Layer):
            raise TrainingTypeError(
                "@forwards_training decorates keras.layers.Layer / keras.Model subclasses or "
                f"their `call`; got the class {obj.__name__}. Fix: decorate a Layer subclass."
            )
        call = _call_owner(obj).__dict__["call"]
        if getattr(call, "__training_aware_checked__", False):
            return obj
        obj.call = _wrap(call, obj.__name__, always)  # type: ignore[attr-defined]
        return obj
    if inspect.isfunction(obj) and obj.__name__ == "call":
        owner = obj.__qualname__.rsplit(".", 2)[-2] if "." in obj.__qualname__ else "call"
        return _wrap(obj, owner, always)
    raise TrainingTypeError(
        "@forwards_training decorates a keras.layers.Layer / keras.Model subclass or its `call` "
        f"method; got {obj!r}. Fix: put it on the class statement or on `def call`."
    )
