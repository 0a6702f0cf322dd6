"""`TrainingAwareModel` and `TrainingAwareLayer`: the resolved mode reaches every descendant.

A subclass may write `call(self, x)` with no `training` parameter, or declare it and forget to pass
it on: the mode its caller meant still reaches every descendant layer that accepts `training`,
under `fit`, `evaluate`, `predict`, direct calls and custom loops, on every backend.

How: at class creation the subclass's `call` is wrapped. The wrapper declares `training` (so Keras
and every backend's trainer pass it: `fit` gives `True`), resolves the mode (the argument, else the
enclosing training-aware call's, else inference), and runs the user's `call` inside a frame of
`training_aware._stack`, whose hook (`training_aware._hook`) hands that mode to each child the
user's code calls without one.
"""

from __future__ import annotations

import functools
import inspect
import os
import weakref
from collections.abc import Callable
from typing import Any, Final, Literal

import keras
from keras.src.models.functional import Functional
from keras.src.models.model import functional_init_arguments
from keras.src.trainers.trainer import Trainer

from training_aware import _hook, _stack
from training_aware._registry import serializable
from training_aware.check import make_inspector
from training_aware.errors import TrainingConfigError

__all__ = ["TrainingAwareLayer", "TrainingAwareModel", "get_training_check", "set_training_check"]

TrainingCheck = Literal["fix", "warn", "error"]
CHECKS: Final = ("fix", "warn", "error")
ENV_VAR: Final = "TRAINING_AWARE_CHECK"

_default_check: TrainingCheck | None = None  # set_training_check(); None: environment, then "fix"


def _validate_check(value: object, where: str) -> TrainingCheck:
    if value not in CHECKS:
        raise TrainingConfigError(
            f"{where} got training_check={value!r}. Expected one of 'fix' (forward the mode "
            "silently, the default), 'warn' (forward it and warn once per call site) or 'error' "
            "(raise DroppedTrainingFlagError)."
        )
    return value


def set_training_check(value: TrainingCheck | None) -> None:
    """Set the process-wide default strictness of classes that do not choose their own.

    Args:
        value: `"fix"`, `"warn"`, `"error"`, or `None` to fall back to the environment variable
            `TRAINING_AWARE_CHECK` (and to `"fix"` when that is unset).

    Example:

    ```python
    from training_aware import set_training_check
    from training_aware.model import get_training_check

    set_training_check("error")          # e.g. in a test suite's conftest.py: fail loudly
    assert get_training_check() == "error"
    set_training_check(None)             # back to $TRAINING_AWARE_CHECK, else "fix"
    ```
    """
    global _default_check
    _default_check = None if value is None else _validate_check(value, "set_training_check()")


def get_training_check() -> TrainingCheck:
    """The process-wide default: `set_training_check`, else `$TRAINING_AWARE_CHECK`, else "fix"."""
    return _default_check or _environment_check()


@functools.cache
def _environment_check() -> TrainingCheck:
    """`$TRAINING_AWARE_CHECK`, read once (at the first training-aware call), else "fix"."""
    env = os.environ.get(ENV_VAR)
    if env is None or env == "":
        return "fix"
    return _validate_check(env, f"the environment variable {ENV_VAR}")


# Instances whose warn/error inspection already ran once (the check is a first-call check).
_inspected: weakref.WeakSet[Any] = weakref.WeakSet()


def _signature_with_training(cls: type, call: Callable[..., Any]) -> tuple[inspect.Signature, bool]:
    """`call`'s signature with `training=None` added if absent; and whether it was there."""
    signature = inspect.signature(call)
    params = list(signature.parameters.values())
    if "training" in signature.parameters:
        kind = signature.parameters["training"].kind
        if kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            return signature, True
        raise TrainingConfigError(
            f"{cls.__name__}.call declares `training` as a positional-only parameter; Keras passes "
            "it by keyword. Fix: make it `training=None` (positional-or-keyword or keyword-only)."
        )
    new = inspect.Parameter("training", inspect.Parameter.KEYWORD_ONLY, default=None)
    at = len(params)
    if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD:
        at -= 1
    params.insert(at, new)
    return signature.replace(parameters=params), False


def _training_index(signature: inspect.Signature) -> int | None:
    """Position of `training` among positional parameters after `self`, if it can be positional."""
    for i, param in enumerate(list(signature.parameters.values())[1:]):
        if param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            return None
        if param.name == "training":
            return i
    return None


def wrap_call(cls: type, call: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a subclass's `call` so that it declares, resolves and propagates `training`."""
    signature, declared = _signature_with_training(cls, call)
    index = _training_index(signature) if declared else None
    where = f"{cls.__name__}.call()"

    @functools.wraps(call)
    def call_with_resolved_mode(self: Any, *args: Any, **kwargs: Any) -> Any:
        if index is not None and len(args) > index:
            training = args[index]
            args = (*args[:index], *args[index + 1 :])
        else:
            training = kwargs.pop("training", None)
        if training is not None and training is not True and training is not False:
            training = _stack.validate_training(training, where)
        mode = _stack.resolve(training)
        if declared:
            kwargs["training"] = mode
        inspector = _inspector_for(self)
        entered = _hook.enter(_stack.Frame(mode, inspector, self))
        try:
            result = call(self, *args, **kwargs)
        finally:
            _hook.leave(entered)
        if inspector is not None:
            _inspected.add(self)  # inspected once, after a call that passed
        return result

    call_with_resolved_mode.__signature__ = signature  # type: ignore[attr-defined]
    call_with_resolved_mode.__training_aware_wrapped__ = call  # type: ignore[attr-defined]
    return call_with_resolved_mode


def _inspector_for(layer: Any) -> _stack.Inspector | None:
    """The first-call inspector for `warn`/`error` classes; `None` for `fix` and after that."""
    check = type(layer)._training_check or _default_check or _environment_check()
    if check == "fix" or layer in _inspected:
        return None
    return make_inspector(layer, check, declared=layer._call_has_training_arg)


def _user_call(cls: type) -> Callable[..., Any] | None:
    """The `call` a class runs if it still needs wrapping: the user's own, not Keras' or ours.

    Looks up the MRO, so `class M(TrainingAwareModel, ExistingModel)` wraps `ExistingModel.call`.
    """
    for klass in cls.__mro__:
        call = klass.__dict__.get("call")
        if call is None:
            continue
        if hasattr(call, "__training_aware_wrapped__") or klass.__module__.startswith("keras."):
            return None
        return call  # type: ignore[no-any-return]
    return None


def _compiled_method(call: Any) -> Callable[..., Any] | None:
    """The Python function of a `call` decorated with `@tf.function`; `None` for a plain one.

    A `tf.function` is a descriptor: it must be bound to the instance (`__get__`), or its
    `input_signature` would bind `self` to the first spec.
    """
    python_function = getattr(call, "python_function", None)
    if inspect.isfunction(call) or python_function is None or not hasattr(call, "__get__"):
        return None
    return python_function  # type: ignore[no-any-return]


def _bound_compiled_call(compiled: Any) -> Callable[..., Any]:
    """A plain method that runs the user's `tf.function` bound to the instance, as Keras does."""
    python_function = compiled.python_function

    @functools.wraps(python_function)
    def run_compiled(self: Any, *args: Any, **kwargs: Any) -> Any:
        return compiled.__get__(self, type(self))(*args, **kwargs)

    return run_compiled


class _TrainingAwareMixin:
    """Shared class-creation logic of `TrainingAwareLayer` and `TrainingAwareModel`."""

    _training_check: TrainingCheck | None = None

    def __init_subclass__(cls, training_check: TrainingCheck | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if training_check is not None:  # otherwise inherited, or None: the process default
            cls._training_check = _validate_check(training_check, f"class {cls.__name__}")
        call = _user_call(cls)
        if call is not None:
            compiled = _compiled_method(call) is not None
            # `@tf.function def call`: run it bound, and export it as Keras would (below).
            cls._training_aware_compiled_call = call if compiled else None
            if compiled:
                call = _bound_compiled_call(call)
            cls.call = wrap_call(cls, call)  # type: ignore[attr-defined]

    # AutoGraph must leave this plumbing alone, as it leaves Keras' own `__call__`.
    autograph_info__ = None

    # The user's `@tf.function`-decorated `call`, if any (`__init_subclass__`).
    _training_aware_compiled_call: Any = None

    if hasattr(keras.layers.Layer, "_trackable_children"):  # the TensorFlow backend

        def _trackable_children(self, save_type: str = "checkpoint", **kwargs: Any) -> Any:
            """`tf.saved_model.save` exports a `@tf.function` `call` as it does for Keras."""
            children = super()._trackable_children(save_type, **kwargs)  # type: ignore[misc]
            compiled = type(self)._training_aware_compiled_call
            if save_type == "savedmodel" and compiled is not None:
                children["call"] = compiled.__get__(self, type(self))
            return children

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # An explicit `block(x, training=True)` must not reach the caller's later children.
        kept = _hook.keep_context()
        try:
            return super().__call__(*args, **kwargs)  # type: ignore[misc]
        finally:
            _hook.restore_context(kept)


class TrainingAwareLayer(_TrainingAwareMixin, keras.layers.Layer):  # type: ignore[misc]
    """A `keras.layers.Layer` whose `call` cannot lose the `training` flag.

    Subclass it exactly as you would `keras.layers.Layer`. `call` may omit `training` or forget to
    forward it: every descendant layer that accepts `training` still receives the mode this layer
    was called in. Explicit values you pass to a child (`self.drop(x, training=True)`) are honoured
    for that child and its subtree only, and never leak to its siblings.

    Class arguments:
        training_check: `"fix"` (default: forward silently), `"warn"` (forward, and warn once per
            call site that drops the flag) or `"error"` (raise `DroppedTrainingFlagError` at the
            first call). The default comes from `set_training_check()` or the environment variable
            `TRAINING_AWARE_CHECK`.

    Call arguments:
        training: `None`, a bool, or a scalar boolean tensor. `None` means the enclosing call's
            mode, or inference at the top level. Declared for you if `call` omits it.

    Note: `training` (how a layer *behaves*) is not `trainable` (whether its weights are updated).
    A `BatchNormalization` with `trainable=False` runs in inference mode whatever `training` says.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import TrainingAwareLayer

    class Block(TrainingAwareLayer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.bn = keras.layers.BatchNormalization()
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x):              # no `training`, and nothing forwarded
            return self.drop(self.bn(x))

    block = Block()
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    def run(**mode):
        return keras.ops.convert_to_numpy(block(x, **mode))

    assert not np.array_equal(run(training=True), run(training=True))  # dropout on
    assert np.array_equal(run(), run())                                 # inference
    ```
    """


class TrainingAwareModel(_TrainingAwareMixin, keras.Model):  # type: ignore[misc]
    """A `keras.Model` whose `call` cannot lose the `training` flag (fixes FACTS F1, F2, F3, F13).

    Subclass it exactly as you would `keras.Model`. `fit()` passes `training=True` even when your
    `call` has no `training` parameter; every descendant that accepts `training` receives the mode
    meant, on TensorFlow, JAX and PyTorch; explicit values passed to a child stay in that child's
    subtree. See `TrainingAwareLayer` for the `training_check` class argument.

    Construct it as `keras.Model` (a subclass passes its own constructor arguments), including the
    functional style: `super().__init__(inputs=..., outputs=...)` in a subclass's `__init__`
    (Keras' "customize `train_step`" pattern) makes that subclass a functional model, as Keras
    does, and leaves `TrainingAwareModel` and its other subclasses as they were.

    Args:
        *args: what `keras.Model` takes: nothing for a subclass (or its own arguments), or
            `inputs` and `outputs` for a functional model.
        **kwargs: `keras.Model`'s keyword arguments (`name`, `trainable`, `inputs`, `outputs`,
            ...).

    Call arguments:
        training: `None`, a bool, or a scalar boolean tensor; `fit` passes `True`, `predict` and
            `evaluate` pass `False`, `None` means the enclosing call's mode (inference at the top
            level). Declared for you if `call` omits it.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import TrainingAwareModel

    class BadModel(TrainingAwareModel):   # the classic BadModel; was keras.Model
        def __init__(self, units=8):
            super().__init__()
            self.dense = keras.layers.Dense(units)
            self.batch_norm = keras.layers.BatchNormalization()
            self.dropout = keras.layers.Dropout(0.5)

        def call(self, inputs):           # no `training` parameter
            return self.dropout(self.batch_norm(self.dense(inputs)))

    model = BadModel()
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 4), "float32"), np.ones((8, 8), "float32"), epochs=1, verbose=0)
    assert keras.ops.convert_to_numpy(model.batch_norm.moving_mean).any()   # fit trained BN
    ```
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # `TrainingAwareModel(inputs, outputs)` is functional, as `keras.Model(inputs, outputs)`.
        if cls is TrainingAwareModel and functional_init_arguments(args, kwargs):
            cls = _FunctionalTrainingAwareModel
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not functional_init_arguments(args, kwargs):
            super().__init__(*args, **kwargs)
            return
        # What `keras.Model.__init__` does for these arguments, without rewriting shared bases.
        _functional_bases(type(self))
        Trainer.__init__(self)
        Functional.__init__(self, *args, **kwargs)


def _functional_bases(cls: type) -> type:
    """Keras' `inject_functional_model_class`, stopping at the shared training-aware bases.

    Keras makes a subclass constructed with `inputs=`/`outputs=` functional by rewriting the
    `__bases__` of every class up to `keras.Model`; applied to `TrainingAwareModel` itself, that
    would turn every other subclass in the process into a functional model. Here the user's
    classes get the same rewrite, with `TrainingAwareModel` replaced by its functional twin.
    """
    if cls is TrainingAwareModel:
        return _FunctionalTrainingAwareModel
    if cls is keras.Model:
        return Functional  # type: ignore[no-any-return]
    if (
        not issubclass(cls, keras.Model)
        or issubclass(cls, Functional)
        or cls.__module__.startswith(("training_aware.", "keras."))
    ):
        return cls
    bases = tuple(_functional_bases(base) for base in cls.__bases__)
    if bases != cls.__bases__:
        cls.__bases__ = bases
    return cls


@serializable
class _FunctionalTrainingAwareModel(TrainingAwareModel, Functional):  # type: ignore[misc]
    """The functional twin of `TrainingAwareModel` (`TrainingAwareModel(inputs, outputs)`, or a
    subclass constructed with `inputs=`/`outputs=`); Keras' `Functional` runs the graph."""
