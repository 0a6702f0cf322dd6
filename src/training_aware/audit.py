"""`audit`: run a model through Keras' real entry points and report the mode every layer received.

For each entry point (`fit` for one batch, `evaluate`, `predict`, and direct calls with
`training=True`, `training=False` and no `training`) the audit records the `training` value each
mode-dependent layer's `call` actually received (a temporary per-instance `call` wrapper, which
also sees JAX's `stateless_call` path and runs at trace time inside compiled functions), compares
it with the mode meant, checks that inference changed no statistics, and checks that `predict`
and `model(x, training=False)` agree. Afterwards every variable (weights, statistics, seed
states, metric state), the optimizer and the compile state are exactly as they were.

The mode meant ("expected"), and why these are the signals trusted (docs/recipes.md):
- the entry point: `fit` and `call(training=True)` mean training; everything else inference;
- a `PinnedMode(layer, training=...)` pins its layer's subtree;
- a `training=` hard-coded on a node of a Functional model pins that layer's subtree when it
  differs from the layer's own `call` default (Keras records the default into the node too, so
  a default cannot be told from a hard-coded value);
- an active `override_modes` block of this thread pins the layers it matches;
- a `BatchNormalization` with `trainable=False` means inference (FACTS F12), and under `fit` any
  other frozen (`trainable=False`) layer may run in either mode.
Explicit `training=` values inside a subclassed `call` are not visible at run time and are not
taken as intent: use `PinnedMode` for a deliberate pin (and `training-aware lint` for the source).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from training_aware import _calltap
from training_aware._walk import Entry, is_mode_dependent, walk
from training_aware.errors import AuditError, describe
from training_aware.modes import _forced_mode, fresh_steps
from training_aware.report import Cell, ModeReport, Problem, Row, mode_name

__all__ = ["ENTRY_POINTS", "ModeReport", "audit"]

FIT, EVALUATE, PREDICT = "fit", "evaluate", "predict"
CALL_TRUE, CALL_FALSE, CALL_NONE = "call(training=True)", "call(training=False)", "call()"
ENTRY_POINTS: tuple[str, ...] = (FIT, EVALUATE, PREDICT, CALL_TRUE, CALL_FALSE, CALL_NONE)
_BASE = {FIT: True, EVALUATE: False, PREDICT: False, CALL_TRUE: True, CALL_FALSE: False}
_INFERENCE = (EVALUATE, PREDICT, CALL_FALSE, CALL_NONE)

_RECORDING: ContextVar[dict[tuple[str, int], set[Any]] | None] = ContextVar(
    "training_aware_audit_recording", default=None
)
_ENTRY: ContextVar[str] = ContextVar("training_aware_audit_entry", default="")


def _record(layer: Any, call_next: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> Any:
    """The interceptor: note the `training` this `call` received (defaults applied)."""
    recording = _RECORDING.get()
    if recording is not None:
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope

        if not in_symbolic_scope():
            try:
                bound = layer._call_signature.bind(*args, **kwargs)
                bound.apply_defaults()
                value = bound.arguments.get("training")
            except TypeError:
                value = kwargs.get("training")
            if value is not None and not isinstance(value, bool):
                value = "symbolic"
            recording.setdefault((_ENTRY.get(), id(layer)), set()).add(value)
    return call_next(*args, **kwargs)


def _effective(layer: Any, value: Any) -> bool | None:
    """The mode the layer really ran in (None for a symbolic value that cannot be judged)."""
    import keras

    if value == "symbolic":
        return None
    mode = bool(value)
    if isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable:
        return False  # FACTS F12: a frozen BatchNormalization always runs in inference mode
    return mode


def _call_default(layer: Any) -> Any:
    signature = getattr(layer, "_call_signature", None)
    param = None if signature is None else signature.parameters.get("training")
    return None if param is None or param.default is param.empty else param.default


def _pins(model: Any, entries: list[Entry]) -> dict[int, tuple[bool, str]]:
    """id(layer) -> (pinned mode, why), from PinnedMode, Functional nodes and override_modes."""
    pins: dict[int, tuple[bool, str]] = {}
    for holder in [model, *(e.layer for e in entries)]:
        if type(holder).__name__ == "PinnedMode" and hasattr(holder, "pinned_training"):
            pins[id(holder.layer)] = (bool(holder.pinned_training), "PinnedMode")
        for nodes in (getattr(holder, "_nodes_by_depth", None) or {}).values():
            for node in nodes:
                layer = node.operation
                value = node.arguments.kwargs.get("training")
                if isinstance(value, bool) and value != _call_default(layer):
                    pins[id(layer)] = (value, f"hard-coded training={value}")
    for entry in entries:
        forced = _forced_mode(entry.layer)
        if forced is not None:
            pins[id(entry.layer)] = (forced, "override_modes")
    return pins


def _expected(
    entries: list[Entry], pins: dict[int, tuple[bool, str]], entry_point: str
) -> dict[int, tuple[bool | None, str | None]]:
    """id(layer) -> (mode meant or None for "either", the pin that decided it or None)."""
    import keras

    base = _BASE.get(entry_point, False)
    out: dict[int, tuple[bool | None, str | None]] = {}
    inherited: dict[int, tuple[bool, str | None]] = {}
    for entry in entries:  # depth first: a parent comes before its children
        mode, why = inherited.get(id(entry.parent), (base, None))
        if id(entry.layer) in pins:
            mode, why = pins[id(entry.layer)]
        inherited[id(entry.layer)] = (mode, why)
        layer = entry.layer
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable:
            out[id(layer)] = (False, "trainable=False")
        elif entry_point == FIT and not layer.trainable and why is None:
            out[id(layer)] = (None, "trainable=False")
        else:
            out[id(layer)] = (mode, why)
    return out


def _take(data: Any, n: int) -> Any:
    import keras

    return keras.tree.map_structure(lambda a: np.asarray(a)[:n], data)


def _num_samples(data: Any) -> int:
    import keras

    return int(np.asarray(keras.tree.flatten(data)[0]).shape[0])


def _values(variables: list[Any]) -> list[np.ndarray]:
    import keras

    return [np.array(keras.ops.convert_to_numpy(v.value), copy=True) for v in variables]


def _assign(variables: list[Any], values: list[np.ndarray]) -> None:
    import keras

    for variable, value in zip(variables, values, strict=True):
        try:
            current = keras.ops.convert_to_numpy(variable.value)
        except Exception:  # JAX's trainer purges values during a loop and a failure leaves them so
            current = None
        if current is None or not np.array_equal(current, value):
            variable.assign(value)


def _unique(variables: list[Any]) -> list[Any]:
    seen: set[int] = set()
    out = []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


@contextmanager
def _restoring(model: Any) -> Iterator[list[Any]]:
    """Restore every variable and every attribute of `model` on exit (yields the variables)."""
    metric_vars = []
    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    for value in config.values():
        for obj in value if isinstance(value, list | tuple) else [value]:
            metric_vars += list(getattr(obj, "variables", []) or [])
    variables = _unique([*model.variables, *model.metrics_variables, *metric_vars])
    values = _values(variables)
    attributes = dict(vars(model))
    try:
        yield variables
    finally:
        _assign(variables, values)
        for name in [k for k in vars(model) if k not in attributes]:
            object.__delattr__(model, name)
        for name, value in attributes.items():
            if vars(model).get(name, _MISSING) is not value:
                object.__setattr__(model, name, value)


_MISSING: Any = object()


def _throwaway_compile(model: Any, notes: list[str]) -> None:
    """Compile a copy of the model's configuration (or a minimal one) for the audit's own use."""
    import keras

    if not getattr(model, "compiled", False):
        model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
        notes.append(
            "the model was not compiled: the audit compiled a throwaway configuration "
            "(SGD, mse) for fit and evaluate and restored the uncompiled model afterwards"
        )
        return
    config = dict(getattr(getattr(model, "_compile_config", None), "config", None) or {})
    optimizer = model.optimizer
    try:
        clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    except Exception as error:
        raise AuditError(
            f"audit could not copy the optimizer {describe(optimizer)} ({error}); it runs fit "
            "with a copy so that your optimizer's state is never touched. Fix: make the "
            "optimizer serializable (get_config/from_config)."
        ) from None
    config["optimizer"] = clone
    config.update(
        run_eagerly=model.run_eagerly,
        jit_compile=model.jit_compile,
        steps_per_execution=model.steps_per_execution,
    )
    model.compile(**config)


def _ensure_built(model: Any, x: Any) -> None:
    import keras

    if model.built:
        return
    spec = keras.tree.map_structure(
        lambda a: keras.KerasTensor((None, *np.asarray(a).shape[1:]), dtype=np.asarray(a).dtype),
        x,
    )
    model(spec)


def _zeros_like_outputs(outputs: Any) -> Any:
    import keras

    return keras.tree.map_structure(lambda a: np.zeros_like(np.asarray(a)), outputs)


def audit(model: Any, x: Any, y: Any = None, *, batch_size: int | None = None) -> ModeReport:
    """Run `model` through Keras' real entry points and report the mode each layer received.

    Runs `predict`, `fit` for one batch, `evaluate`, and direct calls `model(x, training=True)`,
    `model(x, training=False)` and `model(x)`, recording the `training` value every
    mode-dependent layer (BatchNormalization, Dropout, the other layers whose `call` reads
    `training`, and custom leaf layers that declare it) actually received. It flags a layer that
    ran in the wrong mode, statistics that changed in inference, and a layer whose mode differs
    between `model(x, training=False)` and `predict`. Afterwards every weight, statistic,
    seed-generator state, metric, the optimizer and the compile state are bit-identical to
    before, also when the audit fails. `fit` runs with a copy of the optimizer; an uncompiled
    model is compiled with a throwaway configuration (SGD, mse), and the report says so.

    See the module docstring for how the mode meant is decided.

    Args:
        model: a built or buildable `keras.Model`.
        x: a small batch of inputs (the first `batch_size` samples are used).
        y: targets for `fit`/`evaluate`; if `None`, zeros shaped like the model's outputs.
        batch_size: how many samples of `x` to use (default: all, at most 32).

    Returns:
        A `ModeReport` (`print` it; `.ok`, `.problems`, `.raise_for_problems()`).

    Raises:
        AuditError: an entry point failed (e.g. the compiled loss needs real `y`).

    Example:

    ```python
    report = audit(model, x, y)
    print(report)
    report.raise_for_problems()
    ```
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"audit expected a keras.Model, got {describe(model)}. Fix: wrap a layer in a "
            "model, e.g. keras.Sequential([layer])."
        )
    n = batch_size or min(_num_samples(x), 32)
    xb = _take(x, n)
    yb = None if y is None else _take(y, n)
    _ensure_built(model, xb)
    entries = walk(model)
    judged = [e for e in entries if is_mode_dependent(e.layer)]
    leaves = [e for e in entries if not e.layer._flatten_layers(include_self=False)]
    pins = _pins(model, entries)
    report = ModeReport(
        model=f"{type(model).__name__} {model.name!r}",
        backend=keras.backend.backend(),
        entry_points=ENTRY_POINTS,
    )
    recording: dict[tuple[str, int], set[Any]] = {}
    changed: dict[str, set[int]] = {}
    handles = [_calltap.add(e.layer, _record, innermost=True) for e in judged]
    token = _RECORDING.set(recording)
    try:
        with _restoring(model) as variables:
            start = _values(variables)

            def run(entry_point: str, fn: Callable[[], Any]) -> Any:
                stats = [(e, e.layer.non_trainable_weights) for e in leaves]
                before = [_values(w) for _, w in stats]
                for name in ("train_function", "test_function", "predict_function"):
                    object.__setattr__(model, name, None)
                for name, step in fresh_steps(model).items():
                    object.__setattr__(model, name, step)
                entry_token = _ENTRY.set(entry_point)
                try:
                    result = fn()
                    changed[entry_point] = {
                        id(e.layer)
                        for (e, w), old in zip(stats, before, strict=True)
                        if w and not all(map(np.array_equal, _values(w), old))
                    }
                    return result
                except Exception as error:
                    needs_y = y is None and entry_point in (FIT, EVALUATE)
                    raise AuditError(
                        f"audit: {entry_point} of {report.model} failed: "
                        f"{type(error).__name__}: {error}"
                        + (" Fix: pass y= matching your compiled loss." if needs_y else "")
                    ) from error
                finally:
                    _ENTRY.reset(entry_token)
                    _assign(variables, start)

            outputs = run(PREDICT, lambda: model.predict(xb, batch_size=n, verbose=0))
            if yb is None:
                yb = _zeros_like_outputs(outputs)
                report.notes.append("y was not given: fit and evaluate used zeros as targets")
            _throwaway_compile(model, report.notes)
            run(FIT, lambda: model.fit(xb, yb, batch_size=n, epochs=1, verbose=0, shuffle=False))
            run(EVALUATE, lambda: model.evaluate(xb, yb, batch_size=n, verbose=0))
            run(CALL_TRUE, lambda: model(xb, training=True))
            run(CALL_FALSE, lambda: model(xb, training=False))
            run(CALL_NONE, lambda: model(xb))
    finally:
        _RECORDING.reset(token)
        for handle in reversed(handles):
            _calltap.remove(handle)
    _judge(model, report, judged, pins, recording, changed)
    return report


def _judge(
    model: Any,
    report: ModeReport,
    judged: list[Entry],
    pins: dict[int, tuple[bool, str]],
    recording: dict[tuple[str, int], set[Any]],
    changed: dict[str, set[int]],
) -> None:
    from training_aware._fixes import fix_for

    entries = walk(model)
    expected = {ep: _expected(entries, pins, ep) for ep in ENTRY_POINTS}
    judged_ids = {id(e.layer) for e in judged}
    for entry in entries:
        if id(entry.layer) in judged_ids:
            continue
        for ep in _INFERENCE:
            if id(entry.layer) in changed.get(ep, set()):
                report.problems.append(
                    Problem(
                        path=entry.path,
                        layer_class=type(entry.layer).__name__,
                        entry_point=ep,
                        expected="inference",
                        received="no training argument",
                        kind="statistics-changed",
                        message="changed its non-trainable state at inference",
                        fix=(
                            "its call takes no `training` and updates state anyway (FACTS F8): "
                            "add a training=None parameter and update only when training is true"
                        ),
                    )
                )
    for entry in judged:
        layer = entry.layer
        cells: dict[str, Cell] = {}
        for ep in ENTRY_POINTS:
            raw = recording.get((ep, id(layer)), set())
            received = sorted({m for m in (_effective(layer, v) for v in raw) if m is not None})
            want, why = expected[ep][id(layer)]
            bad = [m for m in received if want is not None and m != want]
            cells[ep] = Cell(want, tuple(received), not bad)
            stats_changed = ep in _INFERENCE and id(layer) in changed.get(ep, set())
            if bad or stats_changed:
                kind = "wrong-mode" if bad else "statistics-changed"
                got = " and ".join(mode_name(m) for m in received) or "no call"
                message = (
                    f"ran in {got} mode, expected {mode_name(want)}"
                    if bad
                    else "ran in inference mode but changed its non-trainable state"
                )
                if bad and stats_changed:
                    message += " (and changed its moving statistics)"
                report.problems.append(
                    Problem(
                        path=entry.path,
                        layer_class=type(layer).__name__,
                        entry_point=ep,
                        expected=mode_name(want),
                        received=got,
                        kind=kind,
                        message=message,
                        fix=fix_for(model, entry, ep, want, received, why),
                    )
                )
        report.rows.append(Row(entry.path, type(layer).__name__, cells))
        predict_cell, call_cell = cells[PREDICT], cells[CALL_FALSE]
        if (
            predict_cell.received
            and call_cell.received
            and predict_cell.received != call_cell.received
        ):
            report.problems.append(
                Problem(
                    path=entry.path,
                    layer_class=type(layer).__name__,
                    entry_point=f"{PREDICT} vs {CALL_FALSE}",
                    expected="the same mode",
                    received=(
                        f"{'/'.join(map(mode_name, predict_cell.received))} vs "
                        f"{'/'.join(map(mode_name, call_cell.received))}"
                    ),
                    kind="inconsistent",
                    message="predict and model(x, training=False) ran it in different modes",
                    fix=(
                        "the two reach it by different paths (predict calls a model whose call "
                        "has no `training` without it, FACTS F1/F9; JAX's predict bypasses the "
                        "call context, F2): forward training explicitly, or subclass "
                        "training_aware.TrainingAwareModel"
                    ),
                )
            )
