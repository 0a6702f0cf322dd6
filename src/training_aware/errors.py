"""The exception family.

Every error answers three questions: what happened and where, what was expected, and how to fix it.
All derive from `TrainingFlagError`, so `except TrainingFlagError` catches anything this library
raises about the `training` flag. Errors about a wrong *type* of argument also derive from the
matching built-in (`TypeError`, `ValueError`) so that generic handlers keep working.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuditError",
    "DroppedTrainingFlagError",
    "InvalidChildError",
    "MissingTrainingArgumentError",
    "ModeMismatchError",
    "NoDropoutLayerError",
    "TrainingConfigError",
    "TrainingFlagError",
    "TrainingTypeError",
    "TrainingValueError",
    "UnmatchedRuleError",
    "UnserializableChildError",
]


class TrainingFlagError(Exception):
    """Base class of every error raised by `training_aware`.

    Catch it to handle any problem this library reports about the `training` flag; each subclass
    also derives from the matching built-in (`TypeError`, `ValueError`, `RuntimeError`) where one
    fits.

    Example:

    ```python
    import keras
    from training_aware import TrainingFlagError, TrainingSequential

    try:
        TrainingSequential([keras.layers.Dense])   # the class, not an instance
    except TrainingFlagError as error:
        message = str(error)
    assert "instantiate it" in message             # what is wrong, and the fix
    ```
    """

    # Keras re-raises an exception escaping a layer's `call` as a new one wrapped in "Exception
    # encountered when calling ..." plus the argument list, unless this attribute is present. Our
    # messages already say where and what to do: let them through as written.
    _keras_call_info_injected = True


class MissingTrainingArgumentError(TrainingFlagError, TypeError):
    """A layer's `call` has no named `training` parameter where one is required.

    Raised by `@forwards_training` at decoration time: a `call(self, x)` cannot forward a flag it
    never receives (under `fit()`, Keras 3 then calls it without `training` at all).

    Example:

    ```python
    import keras
    from training_aware import MissingTrainingArgumentError, forwards_training

    try:
        @forwards_training
        class BadModel(keras.Model):
            def call(self, inputs):                # no `training` parameter
                return inputs
    except MissingTrainingArgumentError as error:
        message = str(error)
    assert "training" in message
    ```
    """


class DroppedTrainingFlagError(TrainingFlagError):
    """A `call` invoked a mode-dependent child layer without passing `training` on to it.

    Raised by `@forwards_training` and by `training_check="error"` classes; the message names the
    class, the attribute, the child's class, the file and line, and the fix.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import DroppedTrainingFlagError, forwards_training

    @forwards_training
    class Forgetful(keras.Model):
        def __init__(self):
            super().__init__()
            self.dropout = keras.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.dropout(inputs)            # `training` is not passed on

    try:
        Forgetful()(np.ones((2, 3), "float32"), training=True)
    except DroppedTrainingFlagError as error:
        message = str(error)
    assert "self.dropout" in message
    ```
    """


class ModeMismatchError(TrainingFlagError):
    """A layer ran in a different mode than the entry point meant (raised by `audit` reports).

    Raised by `ModeReport.raise_for_problems()` and so by
    `training_aware.testing.assert_training_modes`; the message lists every problem with its fix.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import ModeMismatchError
    from training_aware.testing import assert_training_modes

    class BadModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.batch_norm = keras.layers.BatchNormalization()

        def call(self, inputs):                    # no `training`: fit never trains it
            return self.batch_norm(inputs)

    try:
        assert_training_modes(BadModel(), np.ones((4, 3), "float32"))
    except ModeMismatchError as error:
        message = str(error)
    assert "expected training" in message
    ```
    """


class TrainingValueError(TrainingFlagError, TypeError):
    """A `training` value is not `None`, a Python bool or a scalar boolean tensor.

    Example:

    ```python
    import keras
    from training_aware import PinnedMode, TrainingValueError

    try:
        PinnedMode(keras.layers.Dropout(0.5), training="yes")
    except TrainingValueError as error:
        message = str(error)
    assert "Expected a Python bool" in message
    ```
    """


class InvalidChildError(TrainingFlagError, TypeError, ValueError):
    """A container or wrapper was given a child it cannot run.

    Raised at construction (or `add`) by `TrainingSequential` for a child that is not callable or
    is a class instead of an instance, and by `PinnedMode` for anything that is not a Keras layer.

    Also a `ValueError`, which is what `keras.Sequential.add` raises for a non-layer.

    Example:

    ```python
    import keras
    from training_aware import InvalidChildError, TrainingSequential

    try:
        TrainingSequential([keras.layers.Dense])   # the class, not an instance
    except InvalidChildError as error:
        message = str(error)
    assert "not an instance" in message
    ```
    """


class UnserializableChildError(TrainingFlagError, TypeError):
    """A model holds a plain Python callable, which cannot be saved without pickling code.

    Raised by `TrainingSequential.get_config` (so by `model.save`): wrap the callable in a
    registered `keras.layers.Layer` subclass or a `keras.layers.Lambda`.

    Example:

    ```python
    import keras
    from training_aware import TrainingSequential, UnserializableChildError

    model = TrainingSequential([keras.layers.Dense(2), lambda x: x * 2])
    try:
        model.get_config()
    except UnserializableChildError as error:
        message = str(error)
    assert "plain callable" in message
    ```
    """


class UnmatchedRuleError(TrainingFlagError, ValueError):
    """An `override_modes` rule matches no layer of the model (a typo must not pass silently).

    Example:

    ```python
    import keras
    from training_aware import UnmatchedRuleError, override_modes

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dropout(0.5, name="dropout")(inputs))
    try:
        with override_modes(model, {"dropuot": True}):
            pass
    except UnmatchedRuleError as error:
        message = str(error)
    assert "'dropout'" in message            # the message lists the layer paths
    ```
    """


class NoDropoutLayerError(TrainingFlagError, ValueError):
    """`mc_predict` found no dropout-like layer: every Monte Carlo sample would be equal.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import NoDropoutLayerError, mc_predict

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    try:
        mc_predict(model, np.ones((8, 4), "float32"), verbose=0)
    except NoDropoutLayerError as error:
        message = str(error)
    assert "dropout_layers" in message or "Dropout" in message
    ```
    """


class AuditError(TrainingFlagError, RuntimeError):
    """`audit` could not run an entry point of the model (the model is left as it was).

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import AuditError, audit

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    try:
        audit(model, np.ones((8, 4), "float32"), np.ones((8, 7), "float32"))   # y: wrong shape
    except AuditError as error:
        message = str(error)
    assert "fit" in message
    ```
    """


def describe(value: Any) -> str:
    """A short, safe description of a value for error messages: its repr and its type."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = object.__repr__(value)
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{text} (of type {type(value).__module__}.{type(value).__qualname__})"


class TrainingTypeError(TrainingFlagError, TypeError):
    """An argument has the wrong type: a non-layer where a layer is required, and the like.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import TrainingTypeError, audit

    try:
        audit(keras.layers.Dense(2), np.ones((8, 4), "float32"))    # a layer, not a model
    except TrainingTypeError as error:
        message = str(error)
    assert "keras.Model" in message
    ```
    """


class TrainingConfigError(TrainingFlagError, ValueError):
    """A training-aware option has an invalid value (`training_check`, a rule, an argument).

    Example:

    ```python
    from training_aware import TrainingConfigError, set_training_check

    try:
        set_training_check("loud")
    except TrainingConfigError as error:
        message = str(error)
    assert "'warn'" in message              # the message lists the valid values
    ```
    """
