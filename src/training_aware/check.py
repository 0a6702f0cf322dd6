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
import os
import warnings
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar, overload

import keras

from training_aware import _callsite, _hook, _stack
from training_aware._callsite import Site, fixed_call
from training_aware._dependence import Judgement, anywhere, attribute, call_owner, own
from training_aware.errors import (
    DroppedTrainingFlagError,
    MissingTrainingArgumentError,
    TrainingTypeError,
)

__all__ = ["DroppedTrainingFlagWarning", "depends_on_training", "forwards_training"]

_T = TypeVar("_T")


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


def _call_owner(cls: type) -> type:
    """The class whose `call` instances of `cls` run (every Layer subclass has one)."""
    return call_owner(cls) or cls


def depends_on_training(layer: Any) -> bool:
    """Whether `layer` behaves differently in training and inference, judged for this instance.

    True when the layer, or a layer inside it, reads `training` in a way that can change its
    output: Keras built-ins by the generated table and their rates (`Dropout(0.0)`,
    `LSTM(dropout=0)`, `MultiHeadAttention(dropout=0)`, `Dense` and `EinsumDense` do not), other
    classes by what their `call` does with `training` (passing it on to sublayers is not a read).
    Where it cannot be decided (no source), the answer is `False`: the check stays silent.
    """
    return anywhere(layer).yes is True


def _attribute_name(parent: Any, child: Any) -> str | None:
    """`batch_norm` or `layers_list[3]` for `child` as an attribute of `parent`, else `None`.

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
    return None


def _reference(parent: Any, child: Any) -> tuple[str, str]:
    """How the message names `child`: `self.drop`, or `layer 'dropout_3'`; and its bare name."""
    attribute = _attribute_name(parent, child)
    if attribute is not None:
        return f"self.{attribute}", attribute
    return f"layer '{child.name}'", str(child.name)


_CONSEQUENCE = (
    "It then runs in whatever mode Keras' shared call context holds: inference under fit() on "
    "JAX, or a mode leaked by a sibling (FACTS F2, F3, F13 in docs/facts.md)."
)


def describe_drop(
    parent: Any,
    child: Any,
    site: Site,
    *,
    declared: bool,
    why: str,
    given: str = "",
    positional: int | None = None,
    via: Any = None,
    function: str | None = None,
) -> str:
    """The message for a dropped flag: who, what, where, and the one-line fix."""
    reference = _reference(parent, child)[0]
    fix = fixed_call(site, positional_index=positional) or f"{reference}(..., training=training)"
    cls = type(parent).__name__
    how = f"with {given}" if given else "without passing `training`"
    head = f"{cls}.call calls {reference} ({type(child).__name__}: {why}) {how}, at {site.where}"
    if via is not None:
        head += (
            f" (reached through a direct `.call()` from {type(via).__name__}.call, which "
            "bypasses Keras' `__call__`)"
        )
    head += f". {_CONSEQUENCE}"
    if declared:
        return f"{head} Expected the caller's flag forwarded. Fix:\n    {fix}"
    if function is not None:
        return (
            f"{head} The function `{function}` making the call has no `training` parameter. "
            "Fix: declare it (`training=None`; Keras' Lambda passes it) and forward it:\n"
            f"    {fix}"
        )
    return (
        f"{head} {cls}.call has no `training` parameter. Fix: declare it and forward it:\n"
        f"    def call(self, ..., training=None):\n    {fix}"
    )


def describe_direct_call(parent: Any, target: str, why: str, site: Site) -> str:
    """The message for `self.drop.call(x)` / `super().call(x)` without `training`."""
    fix = fixed_call(site) or f"{target}(..., training=training)"
    return (
        f"{type(parent).__name__}.call calls {target}.call(...) directly ({why}), at {site.where}: "
        "a direct `.call()` bypasses Keras' `__call__`, so `training` arrives only if passed, "
        f"and it is not (FACTS F7 in docs/facts.md). Fix:\n    {fix}"
    )


_KERAS_DIR = os.path.dirname(keras.__file__) + os.sep
_warned_sites: set[tuple[str, int, str]] = set()
_UNSET: Any = object()


def _report(message: str, check: str, key: tuple[str, int, str]) -> None:
    if check == "error":
        raise DroppedTrainingFlagError(message)
    if key not in _warned_sites:
        _warned_sites.add(key)
        warnings.warn(message, DroppedTrainingFlagWarning, stacklevel=4)


def make_inspector(
    parent: Any, check: str, *, declared: bool, received: Any = _UNSET
) -> _stack.Inspector:
    """An inspector for `parent`'s direct children: raise (`"error"`) or warn (`"warn"`).

    `received` is the `training` value `parent.call` was given (when the caller knows it): a
    child given `training=None` carries the caller's flag exactly when that value is `None` too.
    The direct `.call()` sites of `parent.call` are checked at once (they never reach the hook).
    """
    for message, key in _direct_call_findings(parent):
        _report(message, check, key)

    def inspect_child(child: Any, frame: FrameType, passed: bool = False, value: Any = None) -> Any:
        if passed and value is not None:
            return None  # forwarded, or a deliberate explicit mode
        site_frame = _callsite.call_site(frame, child)
        if site_frame is not None and site_frame.f_code.co_filename.startswith(_KERAS_DIR):
            return None  # Keras' own source: not the user's code to fix (docs/check-precision.md)
        owner, via = parent, None
        site_self = _callsite.self_of(site_frame)
        if isinstance(site_self, keras.layers.Layer) and site_self is not parent:
            owner, via = site_self, parent  # inside `block.call(...)` called directly
        flag = _callsite.training_parameter(site_frame)
        sees_flag = flag is not _callsite._NO_VALUE
        function = None
        if site_frame is not None and not sees_flag:
            sees_flag = "training" in site_frame.f_code.co_freevars  # a closure inside `call`
            if not sees_flag and site_self is None:
                function = site_frame.f_code.co_name  # a lambda or helper that cannot forward
        if flag is _callsite._NO_VALUE:
            flag = None if received is None else _UNSET
        site = (
            _callsite.locate(site_frame, _reference(owner, child)[1])
            if site_frame is not None
            else Site("<unknown>", 0)
        )
        if flag is None and (passed or site.has_splat):
            return None  # `training=None` or `**kwargs` carrying the caller's own None
        given = "training=None" if passed else ""
        if given and flag is not _UNSET:
            given += f" while its own `training` is {flag!r}"
        positional = None
        if (
            passed
            and site.call is not None
            and all(k.arg != "training" for k in site.call.keywords)
        ):
            positional = _hook._training_position(child)  # `child(x, None)`
        declared_here = (declared if site_frame is None else sees_flag) and function is None

        def judge() -> None:
            judged = anywhere(child)
            if judged.yes is not True:
                return
            message = describe_drop(
                owner,
                child,
                site,
                declared=declared_here,
                why=judged.why,
                given=given,
                positional=positional,
                via=via,
                function=function,
            )
            _report(message, check, (site.filename, site.lineno, type(owner).__name__))

        if anywhere(child).yes is None and not child.built:
            return judge  # sublayers appear in `build()`: judge after the child's own call
        judge()
        return None

    return inspect_child


def _direct_call_findings(parent: Any) -> list[tuple[str, tuple[str, int, str]]]:
    """`self.x.call(...)` and `super().call(...)` in `parent`'s own `call`, without `training`,
    whose target depends on it: the hook never sees them."""
    wrapper = vars(_call_owner(type(parent)))["call"]
    function = inspect.unwrap(wrapper)
    function = getattr(function, "__training_aware_wrapped__", function)
    owner = next(
        (k for k in type(parent).__mro__ if vars(k).get("call") is function),
        _call_owner(type(parent)),
    )
    findings = []
    for call, source, filename, first in _callsite.direct_calls(function):
        target = _resolve_target(parent, owner, call)
        if target is None:
            continue
        name, judged = target
        if judged.yes is not True or _passes_training(call):
            continue
        lineno = first + call.lineno - 1
        site = Site(filename, lineno, source, call)
        message = describe_direct_call(parent, name, judged.why, site)
        findings.append((message, (filename, lineno, type(parent).__name__)))
    return findings


def _passes_training(call: Any) -> bool:
    import ast

    if any(k.arg in ("training", None) for k in call.keywords):
        return True
    return len(call.args) > 1 or any(isinstance(a, ast.Starred) for a in call.args)


def _resolve_target(parent: Any, owner: type, call: Any) -> tuple[str, Judgement] | None:
    """`self.drop` / `self.blocks[2]` / `super()` of a `.call(...)` node, with its dependence."""
    import ast

    value = call.func.value
    if isinstance(value, ast.Call):  # super().call(...)
        return "super()", own(parent, _after=owner)
    index: Any = None
    if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant):
        index, value = value.slice.value, value.value
    if not (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)):
        return None
    if value.value.id != "self":
        return None
    target = attribute(parent, value.attr)
    if index is not None and isinstance(target, list | tuple | dict):
        try:
            target = target[index]
        except (IndexError, KeyError, TypeError):
            return None
    if not isinstance(target, keras.layers.Layer):
        return None
    shown = f"self.{value.attr}" + (f"[{index!r}]" if index is not None else "")
    return shown, anywhere(target)


_checked: weakref.WeakSet[Any] = weakref.WeakSet()


def _wrap(call: Callable[..., Any], owner: str, always: bool) -> Callable[..., Any]:
    signature = inspect.signature(call)
    params = signature.parameters
    if "training" not in params or params["training"].kind not in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    ):
        raise MissingTrainingArgumentError(
            f"@forwards_training on {owner}: `call` has no `training` parameter, so it cannot "
            "forward the mode (under fit(), Keras 3 then never asks for training mode: "
            "FACTS F1 in docs/facts.md). "
            "Fix: declare it and pass it on, e.g.\n"
            "    def call(self, inputs, training=None):\n"
            "        x = self.batch_norm(inputs, training=training)"
        )

    default = params["training"].default

    @functools.wraps(call)
    def checked_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not always and self in _checked:
            return call(self, *args, **kwargs)
        if not isinstance(self, keras.layers.Layer):
            raise TrainingTypeError(
                f"@forwards_training decorates {owner}, but it was called on "
                f"{type(self).__name__}, which is not a keras.layers.Layer."
            )
        mode = _stack._STACK.get()[-1].mode if _stack._STACK.get() else _stack.NO_MODE
        try:
            received = signature.bind(self, *args, **kwargs).arguments.get("training", default)
        except TypeError:  # Keras raises its own error for a bad call just below
            received = _UNSET
        inspector = make_inspector(self, "error", declared=True, received=received)
        with _hook.frame(mode, inspector=inspector, owner=self):
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
