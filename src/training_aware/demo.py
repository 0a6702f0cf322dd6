"""`training-aware demo`: what plain Keras does with `training`, next to training-aware.

For the seed article's models and the FACTS rows this library fixes, each model is built twice
from the same source, once on plain Keras and once with training-aware, and run through the real
entry points. The table shows the mode each BatchNormalization and Dropout actually received
(recorded at the layer's `call`) against the mode meant.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

Row = tuple[str, str, str, str, str, str]  # case, entry point, layer kind, meant, plain, library


def _record(model: Any, run: Callable[[], Any]) -> dict[str, set[str]]:
    """The modes each BatchNormalization and Dropout received while `run()` ran."""
    import keras
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    from training_aware import _compiled, scope

    seen: dict[str, set[str]] = {"BatchNorm": set(), "Dropout": set()}
    kinds: dict[int, str] = {}
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            kinds[id(layer)] = "BatchNorm"
        elif isinstance(layer, keras.layers.Dropout) and type(layer) is keras.layers.Dropout:
            kinds[id(layer)] = "Dropout"

    def record(layer: Any, training: Any) -> None:
        kind = kinds.get(id(layer))
        if kind is None or in_symbolic_scope():  # JAX's fit first traces symbolically
            return
        if kind == "BatchNorm" and not layer.trainable:
            training = False  # FACTS F12: a frozen BatchNorm runs in inference mode
        seen[kind].add("train" if training is True else "infer")

    _compiled.install()
    block = scope.Block({}, record, object())  # a recording block: compiled afresh
    frame = scope.enter_block(block)
    try:
        run()
    finally:
        scope.exit_block(block, frame)
        _compiled.forget(model, block.token)
    return seen


def _show(seen: set[str]) -> str:
    return "/".join(sorted(seen)) if seen else "-"


def _cases() -> list[tuple[str, Callable[[type], Any], str]]:
    """(name, factory taking the base class, what the case shows)."""
    import keras

    def bad(base: type) -> Any:  # the seed's Example 1 (FACTS F1)
        class BadModel(base):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.batch_norm = keras.layers.BatchNormalization()
                self.dropout = keras.layers.Dropout(0.5)

            def call(self, inputs):  # type: ignore[no-untyped-def]
                return self.dropout(self.batch_norm(self.dense(inputs)))

        return BadModel()

    def implicit(base: type) -> Any:  # FACTS F2: declares training, forwards nothing
        class Implicit(base):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.batch_norm = keras.layers.BatchNormalization()
                self.dropout = keras.layers.Dropout(0.5)

            def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
                return self.dropout(self.batch_norm(self.dense(inputs)))

        return Implicit()

    def mc_trick(base: type) -> Any:  # FACTS F3: an explicit override leaks to a sibling
        class McTrick(base):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.drop = keras.layers.Dropout(0.5)
                self.batch_norm = keras.layers.BatchNormalization()

            def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
                return self.batch_norm(self.drop(self.dense(inputs), training=True))

        return McTrick()

    def frozen_backbone(base: type) -> Any:  # FACTS F13: the head never trains
        class FineTune(base):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.backbone = keras.layers.Dense(8)
                self.batch_norm = keras.layers.BatchNormalization()
                self.dropout = keras.layers.Dropout(0.5)

            def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
                h = self.backbone(inputs, training=False)
                return self.dropout(self.batch_norm(h))

        return FineTune()

    def good(base: type) -> Any:  # the seed's Example 2: forwards training explicitly
        class GoodModel(base):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.batch_norm = keras.layers.BatchNormalization()
                self.dropout = keras.layers.Dropout(0.5)

            def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
                x = self.batch_norm(self.dense(inputs), training=training)
                return self.dropout(x, training=training)

        return GoodModel()

    def complex_(base: type) -> Any:  # the seed's Example 3: a hand-written loop
        class ComplexModel(base):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.layers_list = []
                for _ in range(2):
                    self.layers_list.append(keras.layers.Dense(8))
                    self.layers_list.append(keras.layers.BatchNormalization())
                    self.layers_list.append(keras.layers.Dropout(0.2))

            def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
                x = inputs
                for layer in self.layers_list:
                    if isinstance(layer, keras.layers.BatchNormalization | keras.layers.Dropout):
                        x = layer(x, training=training)
                    else:
                        x = layer(x)
                return x

        return ComplexModel()

    def default_true(base: type) -> Any:  # FACTS F9: a call defaulting to training=True
        class Crop(keras.layers.Layer):  # type: ignore[misc]
            def call(self, inputs, training=True):  # type: ignore[no-untyped-def]
                return inputs

        class Preprocessed(base):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.crop = Crop()
                self.dense = keras.layers.Dense(8)
                self.batch_norm = keras.layers.BatchNormalization()
                self.dropout = keras.layers.Dropout(0.5)

            def call(self, inputs):  # type: ignore[no-untyped-def]
                return self.dropout(self.batch_norm(self.dense(self.crop(inputs))))

        return Preprocessed()

    return [
        ("Seed GoodModel (forwards training)", good, "right on plain Keras too"),
        ("Seed ComplexModel (hand-written loop)", complex_, "right on plain Keras too"),
        ("F1 BadModel: call(self, x)", bad, "fit never trains"),
        ("F2 call(x, training=False), not forwarded", implicit, "JAX fit never trains"),
        ("F3 drop(x, training=True) then bn(x)", mc_trick, "BatchNorm trains in predict"),
        ("F13 backbone(x, training=False) then head", frozen_backbone, "head never trains"),
        ("F9 layer defaulting to training=True first", default_true, "BN trains in model(x)"),
    ]


MEANT = {"fit": "train", "predict": "infer", "model(x)": "infer"}
PINNED = {("F3 drop(x, training=True) then bn(x)", "Dropout"): "train"}


def _rows() -> list[Row]:
    import keras

    from training_aware import TrainingAwareModel

    x, y = _data()
    rows: list[Row] = []
    for name, factory, _ in _cases():
        plain, library = (factory(base) for base in (keras.Model, TrainingAwareModel))
        pinned = {kind: mode for (case, kind), mode in PINNED.items() if case == name}
        rows += _compare(name, _observe(plain, x, y), _observe(library, x, y), pinned)
    return rows


Observed = dict[str, dict[str, set[str]]]  # entry point -> layer kind -> modes received


def _data() -> tuple[Any, Any]:
    import numpy as np

    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 8)).astype("float32")
    return x, y


def _observe(model: Any, x: Any, y: Any) -> Observed:
    """The modes BatchNorm and Dropout received under `fit`, `predict` and `model(x)`."""
    model.compile("sgd", "mse")
    model(x[:2])
    return {
        "fit": _record(model, partial(model.fit, x, y, epochs=1, verbose=0)),
        "predict": _record(model, partial(model.predict, x, verbose=0)),
        "model(x)": _record(model, partial(model, x)),
    }


def _compare(name: str, plain: Observed, library: Observed, pinned: dict[str, str]) -> list[Row]:
    """One row per entry point and layer kind: the mode meant, and what each side received."""
    rows: list[Row] = []
    for entry, meant in MEANT.items():
        for kind in ("BatchNorm", "Dropout"):
            want = pinned.get(kind, meant)
            rows.append(
                (
                    name,
                    entry,
                    kind,
                    want,
                    _mark(plain[entry][kind], want),
                    _mark(library[entry][kind], want),
                )
            )
    return rows


def _scoped_cases() -> list[tuple[str, Callable[[bool], Any], dict[str, str]]]:
    """(name, factory(library: bool), layer kind -> mode meant where it is pinned)."""
    import keras

    from training_aware import PinnedMode, freeze_batchnorm

    def mc_functional(library: bool) -> Any:  # FACTS F4: hard-coded dropout, then BatchNorm
        inputs = keras.Input((4,))
        h = keras.layers.Dense(8)(inputs)
        if library:
            h = PinnedMode(keras.layers.Dropout(0.5), training=True)(h)
        else:
            h = keras.layers.Dropout(0.5)(h, training=True)
        return keras.Model(inputs, keras.layers.BatchNormalization()(h))

    def transfer(library: bool) -> Any:  # FACTS F10: base(x, training=False) on a trainable base
        base = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization()]
        )
        inputs = keras.Input((4,))
        h = keras.layers.Dropout(0.5)(base(inputs, training=False))
        model = keras.Model(inputs, keras.layers.Dense(8)(h))
        if library:
            freeze_batchnorm(model)
        return model

    return [
        ("F4 Dropout()(x, training=True), then BN", mc_functional, {"Dropout": "train"}),
        ("F10 base(x, training=False), fine-tuned", transfer, {"BatchNorm": "infer"}),
    ]


def _scoped_rows() -> list[Row]:
    """F4, F5 and F10: fixed by PinnedMode, mc_predict and freeze_batchnorm, not a base class."""

    from training_aware import mc_predict

    x, y = _data()
    rows: list[Row] = []
    for name, factory, pinned in _scoped_cases():
        plain, library = (factory(flag) for flag in (False, True))
        rows += _compare(name, _observe(plain, x, y), _observe(library, x, y), pinned)
    # F5: Monte Carlo samples. Plain: model(x, training=True); library: mc_predict.
    model = _scoped_cases()[0][1](True)
    sampled = _record(model, lambda: [model(x, training=True) for _ in range(3)])
    mc = _record(model, lambda: mc_predict(model, x, samples=3, verbose=0))
    name = "F5 Monte Carlo samples (mc_predict)"
    for kind, want in (("BatchNorm", "infer"), ("Dropout", "train")):
        rows.append(
            (name, "MC samples", kind, want, _mark(sampled[kind], want), _mark(mc[kind], want))
        )
    return rows


def _pinned_mc_trick(base: type) -> Any:
    """F3 written with PinnedMode: the explicit intent the audit can see."""
    import keras

    from training_aware import PinnedMode

    class McPinned(base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(8)
            self.drop = PinnedMode(keras.layers.Dropout(0.5), training=True)
            self.batch_norm = keras.layers.BatchNormalization()

        def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
            return self.batch_norm(self.drop(self.dense(inputs)))

    return McPinned()


def _audit_lines() -> list[str]:
    """What `training_aware.audit` says about each case, plain Keras and with the library."""
    import keras
    import numpy as np

    from training_aware import TrainingAwareModel, audit

    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    lines = [
        "audit(model, x): problems found (the audit restores every weight and statistic;",
        "F3 with training-aware is written with PinnedMode, the intent the audit can see)",
    ]
    builders: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = []
    for name, factory, _ in _cases():
        library: Callable[[], Any] = partial(factory, TrainingAwareModel)
        if name.startswith("F3"):  # the library's answer to the MC trick is PinnedMode
            library = partial(_pinned_mc_trick, TrainingAwareModel)
        builders.append((name, partial(factory, keras.Model), library))
    for name, scoped, _ in _scoped_cases():
        builders.append((name, partial(scoped, False), partial(scoped, True)))
    width = max(len(name) for name, _, _ in builders)
    for name, plain, library in builders:
        counts = []
        for build in (plain, library):
            report = audit(build(), x)
            counts.append("clean" if report.ok else f"{len(report.problems)} problem(s)")
        lines.append(
            f"  {name.ljust(width)}  plain Keras: {counts[0]:<14} training-aware: {counts[1]}"
        )
    return lines


def _mark(seen: set[str], want: str) -> str:
    ok = seen == {want}
    return f"{'ok ' if ok else 'BUG'} {_show(seen)}"


def _table(rows: list[Row]) -> str:
    header: Row = ("case", "entry point", "layer", "meant", "plain Keras", "training-aware")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    previous = ""
    for row in rows:
        case = row[0] if row[0] != previous else ""
        previous = row[0]
        cells = (case, *row[1:])
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print, per case and entry point, the mode BatchNorm and Dropout received."""
    parser = argparse.ArgumentParser(prog="training-aware demo", description=__doc__)
    parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing chatter of tiny models
    start = time.perf_counter()
    import keras

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}\n")
    rows = _rows() + _scoped_rows()
    print(_table(rows))
    bugs_plain = sum(r[4].startswith("BUG") for r in rows)
    bugs_lib = sum(r[5].startswith("BUG") for r in rows)
    print(
        f"\n{bugs_plain} wrong modes on plain Keras, {bugs_lib} with training-aware "
        f"({time.perf_counter() - start:.0f} s). Modes are recorded at each layer's call."
    )
    print()
    print("\n".join(_audit_lines()))
    if keras.backend.backend() != "jax":
        print("F2 goes wrong on JAX only: KERAS_BACKEND=jax training-aware demo")
    return 0 if bugs_lib == 0 else 1
