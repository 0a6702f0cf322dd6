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
    """Base class of every error raised by `training_aware`."""

    # Keras re-raises an exception escaping a layer's `call` as a new one wrapped in "Exception
    # encountered when calling ..." plus the argument list, unless this attribute is present. Our
    # messages already say where and what to do: let them through as written.
    _keras_call_info_injected = True


class MissingTrainingArgumentError(TrainingFlagError, TypeError):
    """A layer's `call` has no named `training` parameter where one is required.

    Raised by `@forwards_training` at decoration time: a `call(self, x)` cannot forward a flag it
    never receives (under `fit()`, Keras 3 then calls it without `training` at all).
    """


class DroppedTrainingFlagError(TrainingFlagError):
    """A `call` invoked a mode-dependent child layer without passing `training` on to it."""


class ModeMismatchError(TrainingFlagError):
    """A layer ran in a different mode than the entry point meant (raised by `audit` reports)."""


class TrainingValueError(TrainingFlagError, TypeError):
    """A `training` value is not `None`, a Python bool or a scalar boolean tensor."""


class InvalidChildError(TrainingFlagError, TypeError, ValueError):
    """A container or wrapper was given a child it cannot run.

    Raised at construction (or `add`) by `TrainingSequential` for a child that is not callable or
    is a class instead of an instance, and by `PinnedMode` for anything that is not a Keras layer.
    Also a `ValueError`, which is what `keras.Sequential.add` raises for a non-layer.
    """


class UnserializableChildError(TrainingFlagError, TypeError):
    """A model holds a plain Python callable, which cannot be saved without pickling code.

    Raised by `TrainingSequential.get_config` (so by `model.save`): wrap the callable in a
    registered `keras.layers.Layer` subclass or a `keras.layers.Lambda`.
    """


class UnmatchedRuleError(TrainingFlagError, ValueError):
    """An `override_modes` rule matches no layer of the model (a typo must not pass silently)."""


class NoDropoutLayerError(TrainingFlagError, ValueError):
    """`mc_predict` found no dropout-like layer: every Monte Carlo sample would be equal."""


class AuditError(TrainingFlagError, RuntimeError):
    """`audit` could not run an entry point of the model (the model is left as it was)."""


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
    """An argument has the wrong type: a non-layer where a layer is required, and the like."""


class TrainingConfigError(TrainingFlagError, ValueError):
    """A training-aware option has an invalid value (`training_check`, a rule, an argument)."""
