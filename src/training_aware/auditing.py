"""`audit`: run a model through Keras' real entry points and report the mode every layer received.

For each entry point (`fit` for one batch, `evaluate`, `predict`, and direct calls with
`training=True`, `training=False` and no `training`) the audit records the `training` value each
mode-dependent layer's `call` actually received (a recording block on `training_aware._stack`'s
stack: the hook reports each layer call, at trace time inside compiled functions, in replica
threads too; each entry point runs under its own block, so it compiles afresh), compares
it with the mode meant, checks that inference changed no statistics, and checks that `predict`
and `model(x, training=False)` agree. Afterwards every variable (weights, statistics, seed
states, metric state), the optimizer and the compile state are exactly as they were.

How the mode meant is decided: `training_aware._intent` (and docs/recipes.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from training_aware import _blocks, _compiled, _retracing
from training_aware._intent import (
    CALL_FALSE,
    CALL_NONE,
    CALL_TRUE,
    ENTRY_POINTS,
    EVALUATE,
    FIT,
    INFERENCE,
    PREDICT,
    effective,
    expected,
    pins,
)
from training_aware._state import assign, restoring, throwaway_compile, values
from training_aware._walk import Entry, is_mode_dependent, walk
from training_aware.errors import AuditError, TrainingConfigError, TrainingTypeError, describe
from training_aware.report import Cell, ModeReport, Problem, Row, mode_name

if TYPE_CHECKING:
    import keras

    from training_aware._types import Batch

__all__ = ["ENTRY_POINTS", "ModeReport", "audit"]

# (The module is not named `audit`: a submodule named like the function it exports would
# replace `training_aware.audit` with the module as soon as it is imported.)


def _recorder(
    recording: dict[tuple[str, int], set[Any]], entry_point: str, judged: set[int]
) -> _blocks.Recorder:
    """Note the `training` each judged layer's `call` receives (symbolic build calls aside)."""
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    def record(layer: Any, value: Any) -> None:
        if id(layer) not in judged or in_symbolic_scope():
            return
        if value is not None and not isinstance(value, bool):
            value = "symbolic"
        recording.setdefault((entry_point, id(layer)), set()).add(value)

    return record


def _take(data: Any, n: int) -> Any:
    import keras

    return keras.tree.map_structure(lambda a: np.asarray(a)[:n], data)


def _num_samples(data: Any, name: str) -> int:
    """The common number of rows of `data`'s arrays; raises on anything `audit` cannot slice."""
    import keras

    example = f"audit(model, x_batch{', y_batch' if name == 'y' else ''})"
    if data is None:
        raise TrainingTypeError(
            f"audit expected {name} as a small batch of arrays (a NumPy array, or a list or dict "
            f"of arrays), got None. Fix: pass a batch, e.g. {example}."
        )
    leaves = keras.tree.flatten(data)
    shapes = [getattr(leaf, "shape", None) for leaf in leaves]
    if not leaves or any(s is None or len(s) == 0 for s in shapes):
        raise TrainingTypeError(
            f"audit expected {name} as a small batch of arrays with a first (batch) dimension, "
            f"got {describe(data)}. Fix: take one batch of a dataset, e.g. "
            "x_batch, y_batch = next(iter(dataset)), and pass arrays."
        )
    rows = {int(s[0]) for s in shapes if s is not None and s[0] is not None}
    if len(rows) > 1:
        raise TrainingConfigError(
            f"audit expected the arrays of {name} to have the same number of rows, got "
            f"{sorted(rows)}. Fix: pass one batch whose arrays line up."
        )
    if rows == {0}:
        raise TrainingConfigError(
            f"audit expected at least one row in {name}, got 0 rows: there is nothing to run. "
            "Fix: pass a non-empty batch."
        )
    return rows.pop() if rows else int(np.asarray(leaves[0]).shape[0])


def _ensure_built(model: Any, x: Any) -> None:
    import keras

    if model.built:
        return
    spec = keras.tree.map_structure(
        lambda a: keras.KerasTensor((None, *np.asarray(a).shape[1:]), dtype=np.asarray(a).dtype),
        x,
    )
    model(spec)


def _takes_labels(loss: Any) -> bool:
    """Does this compiled loss take integer class labels (Keras' sparse losses) as targets?"""
    name = loss if isinstance(loss, str) else getattr(loss, "name", None)
    if not isinstance(name, str):
        name = getattr(loss, "__name__", None) or type(loss).__name__
    return "sparse" in name.lower()


def _losses_per_output(model: Any, outputs: Any, count: int) -> list[Any]:
    """The loss compiled for each flattened output (one loss, a list, a dict by output name)."""
    import keras

    loss = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
    if isinstance(loss, dict):
        if isinstance(outputs, dict):  # flattened in key order, as keras.tree does
            return [loss.get(name) for name in keras.tree.flatten({k: k for k in outputs})]
        names = list(getattr(model, "output_names", None) or [])
        return [loss.get(name) for name in names] if len(names) == count else [None] * count
    if isinstance(loss, list | tuple):
        return list(loss) if len(loss) == count else [None] * count
    return [loss] * count


def _synthetic_targets(model: Any, outputs: Any) -> tuple[Any, str]:
    """Targets that fit the compiled loss: class labels for a sparse loss, else zeros.

    A sparse loss (`sparse_categorical_crossentropy`) takes one integer label per row (per
    time step, for sequence outputs) below the output's last dimension, the class count; every
    other loss takes an array shaped like the output. Returns the targets and a note for the
    report.
    """
    import keras

    flat = [np.asarray(a) for a in keras.tree.flatten(outputs)]
    targets: list[np.ndarray] = []
    labelled = zeros = False
    for out, loss in zip(flat, _losses_per_output(model, outputs, len(flat)), strict=True):
        if loss is not None and _takes_labels(loss) and out.ndim >= 2:
            classes = max(1, out.shape[-1])
            count = int(np.prod(out.shape[:-1]))
            targets.append((np.arange(count) % classes).reshape(out.shape[:-1]).astype("int32"))
            labelled = True
        else:
            targets.append(np.zeros_like(out))
            zeros = True
    if labelled and zeros:
        used = "class labels 0, 1, 2, ... for the outputs with a sparse loss and zeros for the rest"
    elif labelled:
        used = "class labels 0, 1, 2, ... (the compiled loss is sparse)"
    else:
        used = "zeros"
    note = f"y was not given: fit and evaluate used {used} as targets"
    return keras.tree.pack_sequence_as(outputs, targets), note


def audit(
    model: keras.Model, x: Batch, y: Batch | None = None, *, batch_size: int | None = None
) -> ModeReport:
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
        y: targets for `fit`/`evaluate`; if `None`, targets that fit the compiled loss: class
            labels `0, 1, 2, ...` for a sparse loss (`sparse_categorical_crossentropy`), zeros
            shaped like the output otherwise.
        batch_size: how many samples of `x` to use (default: all, at most 32).

    Returns:
        A `ModeReport` (`print` it; `.ok`, `.problems`, `.raise_for_problems()`).

    Raises:
        AuditError: an entry point failed (e.g. the compiled loss needs real `y`).

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import audit

    class BadModel(keras.Model):               # the classic BadModel (FACTS F1)
        def __init__(self):
            super().__init__()
            self.batch_norm = keras.layers.BatchNormalization()
            self.dropout = keras.layers.Dropout(0.5)

        def call(self, inputs):                # no `training` parameter
            return self.dropout(self.batch_norm(inputs))

    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    report = audit(BadModel(), x)
    print(report)                              # the table, and each problem with its fix
    assert [p.entry_point for p in report.problems] == ["fit", "fit"]
    ```
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TrainingTypeError(
            f"audit expected a keras.Model, got {describe(model)}. Fix: wrap a layer in a "
            "model, e.g. keras.Sequential([layer])."
        )
    rows = _num_samples(x, "x")
    if y is not None:
        _num_samples(y, "y")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise TrainingConfigError(
            f"audit expected batch_size as an int >= 1 or None, got {describe(batch_size)}."
        )
    n = batch_size or min(rows, 32)
    xb = _take(x, n)
    yb = None if y is None else _take(y, n)
    _ensure_built(model, xb)
    entries = walk(model)
    judged = [e for e in entries if is_mode_dependent(e.layer)]
    leaves = [e for e in entries if not e.layer._flatten_layers(include_self=False)]
    pin_map = pins(model, entries)
    report = ModeReport(
        model=f"{type(model).__name__} {model.name!r}",
        backend=keras.backend.backend(),
        entry_points=ENTRY_POINTS,
    )
    recording: dict[tuple[str, int], set[Any]] = {}
    changed: dict[str, set[int]] = {}
    judged_ids = {id(e.layer) for e in judged}
    tokens: list[Any] = []
    tracing = _retracing.isolate()  # its fresh traces are not the user's retracing
    try:
        with restoring(model) as variables:
            start = values(variables)

            def run(entry_point: str, fn: Callable[[], Any]) -> Any:
                stats = [(e, e.layer.non_trainable_weights) for e in leaves]
                before = [values(w) for _, w in stats]
                # A block of its own: a fresh compile, and the hook reports every layer call.
                try:
                    with _compiled.block({}, _recorder(recording, entry_point, judged_ids)) as b:
                        tokens.append(b.token)
                        result = fn()
                    changed[entry_point] = {
                        id(e.layer)
                        for (e, w), old in zip(stats, before, strict=True)
                        if w and not all(map(np.array_equal, values(w), old))
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
                    assign(variables, start)

            outputs = run(PREDICT, lambda: model.predict(xb, batch_size=n, verbose=0))
            if yb is None:
                yb, note = _synthetic_targets(model, outputs)
                report.notes.append(note)
            throwaway_compile(model, report.notes)
            run(FIT, lambda: model.fit(xb, yb, batch_size=n, epochs=1, verbose=0, shuffle=False))
            run(EVALUATE, lambda: model.evaluate(xb, yb, batch_size=n, verbose=0))
            run(CALL_TRUE, lambda: model(xb, training=True))
            run(CALL_FALSE, lambda: model(xb, training=False))
            run(CALL_NONE, lambda: model(xb))
    finally:
        _retracing.restore(tracing)
        for token in tokens:
            for holder in [model, *(e.layer for e in entries)]:
                _compiled.forget(holder, token)
    _judge(model, report, judged, pin_map, recording, changed)
    return report


def _judge(
    model: Any,
    report: ModeReport,
    judged: list[Entry],
    pin_map: dict[int, tuple[bool, str]],
    recording: dict[tuple[str, int], set[Any]],
    changed: dict[str, set[int]],
) -> None:
    from training_aware._fixes import fix_for

    entries = walk(model)
    expected_modes = {ep: expected(entries, pin_map, ep) for ep in ENTRY_POINTS}
    judged_ids = {id(e.layer) for e in judged}
    for entry in entries:
        if id(entry.layer) in judged_ids:
            continue
        for ep in INFERENCE:
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
                            "its call takes no `training` and updates state anyway "
                            "(FACTS F8 in docs/facts.md): "
                            "add a training=None parameter and update only when training is true"
                        ),
                    )
                )
    for entry in judged:
        layer = entry.layer
        cells: dict[str, Cell] = {}
        for ep in ENTRY_POINTS:
            raw = recording.get((ep, id(layer)), set())
            received = sorted({m for m in (effective(layer, v) for v in raw) if m is not None})
            want, why = expected_modes[ep][id(layer)]
            bad = [m for m in received if want is not None and m != want]
            cells[ep] = Cell(want, tuple(received), not bad)
            stats_changed = ep in INFERENCE and id(layer) in changed.get(ep, set())
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
                        "has no `training` without it, FACTS F1/F9 in docs/facts.md; JAX's "
                        "predict bypasses the "
                        "call context, F2): forward training explicitly, or subclass "
                        "training_aware.TrainingAwareModel"
                    ),
                )
            )
