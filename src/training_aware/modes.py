"""Scoped modes: `override_modes`, `freeze_batchnorm` (and `mc_predict`, from `training_aware.mc`).

`override_modes` is the scoped replacement for Keras 2's `learning_phase_scope` (FACTS F11): a
`with` block in which chosen layers of one model run in a chosen mode, whatever their caller passes.
It belongs to the work, not the thread: it
reaches the calls made in this context (an asyncio task, a `copy_context`, tf.distribute's replica
threads), never those of another task or thread; blocks nest (the inner block wins) and undo
everything on exit, exceptions included.

How: the block is a frame on `training_aware._stack`'s stack (the same `ContextVar` the base
classes use). The hook around `Layer.__call__` (and `stateless_call`, which JAX's trainer uses for
the model itself) gives each matched layer its forced `training`, pushes a frame so the layer's
own sublayers follow it, and leaves Keras' shared call context as it found it (so the forced mode
does not leak to siblings, FACTS F3). Compiled `fit`/`evaluate`/`predict` functions are looked up
per set of forced modes (`training_aware._compiled`), so a function traced outside the block is
never reused inside it, nor the reverse. Nothing is set on any layer.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from training_aware import _blocks, _compiled
from training_aware._walk import Entry, walk
from training_aware.errors import (
    TrainingTypeError,
    TrainingValueError,
    UnmatchedRuleError,
    describe,
)

__all__ = ["freeze_batchnorm", "mc_predict", "override_modes"]

Rule = type | str | Callable[[Any], bool]


def forced_mode(layer: Any) -> bool | None:
    """The mode an active block of this call forces on `layer`, or `None`."""
    return _blocks.forced_mode(layer)


def _describe_rule(rule: Any) -> str:
    if isinstance(rule, type):
        return f"{rule.__module__}.{rule.__qualname__}"
    if isinstance(rule, str):
        return repr(rule)
    return getattr(rule, "__qualname__", None) or describe(rule)


def _matches(rule: Rule, entry: Entry) -> bool:
    if isinstance(rule, type):
        return isinstance(entry.layer, rule)
    if isinstance(rule, str):
        keras_path = getattr(entry.layer, "path", None)
        return fnmatch.fnmatchcase(entry.path, rule) or (
            isinstance(keras_path, str) and fnmatch.fnmatchcase(keras_path, rule)
        )
    return bool(rule(entry.layer))


def resolve_rules(model: Any, rules: Mapping[Rule, bool]) -> dict[int, tuple[Any, bool]]:
    """Map each layer matched by `rules` to its mode (a later rule wins where rules overlap).

    Raises:
        TypeError: a rule is not a layer class, a glob string or a callable.
        TrainingValueError: a mode is not `True` or `False`.
        UnmatchedRuleError: a rule matches no layer of `model` (a typo must not pass silently).
    """
    import keras

    if not isinstance(model, keras.layers.Layer):
        raise TrainingTypeError(
            f"override_modes expected a Keras layer or model, got {describe(model)}. "
            "Fix: pass the model whose layers the rules name."
        )
    entries = walk(model)
    out: dict[int, tuple[Any, bool]] = {}
    for rule, mode in rules.items():
        if mode is not True and mode is not False:
            raise TrainingValueError(
                f"override_modes rule {_describe_rule(rule)} maps to {describe(mode)}; expected "
                "True (training mode) or False (inference mode)."
            )
        if not (
            isinstance(rule, str)
            or (isinstance(rule, type) and issubclass(rule, keras.layers.Layer))
            or (callable(rule) and not isinstance(rule, type))
        ):
            raise TrainingTypeError(
                f"override_modes rule {describe(rule)} is not a layer class, a path glob or a "
                "predicate. Fix: use e.g. keras.layers.Dropout, 'encoder/*dropout*' or "
                "lambda layer: layer.name.startswith('drop')."
            )
        matched = [e for e in entries if _matches(rule, e)]
        if not matched:
            sample = (
                ", ".join(repr(e.path) for e in entries[:8]) or "(none: the model has no layers)"
            )
            more = f" and {len(entries) - 8} more" if len(entries) > 8 else ""
            raise UnmatchedRuleError(
                f"override_modes rule {_describe_rule(rule)} matches no layer of "
                f"{type(model).__name__} {model.name!r}. Layer paths are names joined by '/', "
                f"relative to the model: {sample}{more}. Fix: correct the rule, e.g. "
                "'*dropout*' matches a dropout layer at any depth."
            )
        for entry in matched:
            out[id(entry.layer)] = (entry.layer, mode)
    return out


@contextmanager
def apply_modes(model: Any, modes: dict[int, tuple[Any, bool]]) -> Iterator[None]:
    """Force already-resolved modes for the block (the engine of `override_modes`)."""
    _compiled.install()
    block = _blocks.Block({key: mode for key, (_, mode) in modes.items()})
    frame = _blocks.enter_block(block)
    try:
        yield
    finally:
        _blocks.exit_block(block, frame)


@contextmanager
def override_modes(model: Any, rules: Mapping[Rule, bool]) -> Iterator[None]:
    """Run chosen layers of `model` in a chosen mode for the duration of a `with` block.

    Inside the block, every layer matched by `rules` runs in the given mode whatever its caller
    passes (`fit`, `predict`, `model(x, training=...)`, a custom loop), and its own sublayers
    follow it unless something inside passes them an explicit `training`. Nothing else changes:
    the forced mode does not leak to siblings through Keras' shared call context (FACTS F3).
    Blocks nest (the inner block wins where they overlap) and restore everything on exit, also on
    an exception. A block belongs to the code running inside it: another thread or asyncio task
    using the same model is not affected, while the replicas of a `tf.distribute` strategy and
    JAX's data-parallel steps launched from inside the block are. This is the scoped replacement
    for Keras 2's `learning_phase_scope`/`set_learning_phase` (FACTS F11).

    Compiled entry points see the change: `predict`/`evaluate`/`fit` functions compiled before the
    block are not reused inside it, and the ones compiled inside it are not reused after it (they
    are kept, per set of forced modes, for the next identical block; at most eight per entry
    point and model).

    Note: `training` and `trainable` differ. A `BatchNormalization` with `trainable=False` runs in
    inference mode even when forced to `True` (FACTS F12); use `freeze_batchnorm` for fine-tuning.

    Args:
        model: a Keras model (or layer) whose layers the rules name.
        rules: maps a rule to `True` (training mode) or `False` (inference mode). A rule is a
            layer class (subclasses match), a glob on the layer's path inside the model (layer
            names joined by "/", e.g. `"encoder/*dropout*"`; `*` also crosses "/"), or a
            predicate `layer -> bool`. Where rules overlap, the later one wins.

    Raises:
        UnmatchedRuleError: a rule matches no layer (the message lists layer paths).
        TrainingValueError: a mode is not `True`/`False`.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import override_modes

    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, keras.layers.Dropout(0.5)(h))
    x = np.ones((8, 4), "float32")
    with override_modes(model, {keras.layers.Dropout: True}):
        samples = [model.predict(x, verbose=0) for _ in range(3)]  # dropout on, BN off
    assert not np.array_equal(samples[0], samples[1])
    ```
    """
    modes = resolve_rules(model, rules)
    with apply_modes(model, modes):
        yield


def freeze_batchnorm(model: Any) -> list[str]:
    """Set `trainable = False` on every `BatchNormalization` in `model`; return the paths changed.

    In Keras 3 a `BatchNormalization` with `trainable=False` runs in inference mode whatever
    `training` says (FACTS F12): the one switch `fit` honours for fine-tuning. Calling
    `base(x, training=False)` is *not* enough: `fit` overrides it (FACTS F10). As with any
    `trainable` change, call this before `compile()` (or compile again).

    Args:
        model: a Keras model or layer (it is included if it is itself a BatchNormalization).

    Returns:
        The paths (as in `override_modes` rules) of the layers that were trainable and are now
        frozen; already-frozen layers are not listed.

    Example:

    ```python
    import keras
    from training_aware import freeze_batchnorm

    base = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(name="bn")],
                            name="base")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(base(inputs, training=False)))
    assert freeze_batchnorm(model) == ["base/bn"]      # before compile()
    assert freeze_batchnorm(model) == []               # already frozen
    model.compile("adam", "mse")
    ```
    """
    import keras

    bn = keras.layers.BatchNormalization
    entries = [Entry(model.name, model, None), *walk(model)]
    changed: list[str] = []
    for entry in entries:
        if isinstance(entry.layer, bn) and entry.layer.trainable:
            entry.layer.trainable = False
            changed.append(entry.path)
    return changed


from training_aware.mc import mc_predict  # noqa: E402  (re-exported; mc uses apply_modes)
