"""`training-aware demo`: what plain Keras does with `training`, next to training-aware.

The cases are the classic BadModel / GoodModel / ComplexModel examples (a pattern widely shared in
articles and tutorials about Keras' `training` flag: a subclassed model whose `call` drops the
flag, one that forwards it, and a hand-written loop over its layers) and the rows of the FACTS
table (docs/facts.md: what plain Keras 3.15 does, row by row, F1-F14) that this library fixes.
Each model is built twice from the same source, once on plain Keras and once with training-aware,
and run through the real entry points. The table shows the mode each BatchNormalization and
Dropout actually received (recorded at the layer's `call`) against the mode meant; each case's
rows print as soon as it finishes. `--quick` runs the F1 BadModel case only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from training_aware._quiet import ENV_SWITCH, import_keras
from training_aware._retracing import isolated_tracing_stats

Row = tuple[str, str, str, str, str, str]  # case, entry point, layer kind, meant, plain, library

F1 = "F1 BadModel: call(self, x)"
F3 = "F3 drop(x, training=True) then bn(x)"
F5 = "F5 Monte Carlo samples (mc_predict)"


def _record(model: Any, run: Callable[[], Any]) -> dict[str, set[str]]:
    """The modes each BatchNormalization and Dropout received while `run()` ran."""
    import keras
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    from training_aware import _blocks, _compiled

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
    block = _blocks.Block({}, record, object())  # a recording block: compiled afresh
    frame = _blocks.enter_block(block)
    try:
        run()
    finally:
        _blocks.exit_block(block, frame)
        _compiled.forget(model, block.token)
    return seen


def _show(seen: set[str]) -> str:
    return "/".join(sorted(seen)) if seen else "-"


def _cases() -> list[tuple[str, Callable[[type], Any], str]]:
    """(name, factory taking the base class, what the case shows)."""
    import keras

    def bad(base: type) -> Any:  # the classic BadModel (FACTS F1)
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

    def good(base: type) -> Any:  # the classic GoodModel: forwards training
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

    def complex_(base: type) -> Any:  # the classic ComplexModel: a layer loop
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
        ("GoodModel (forwards training)", good, "right on plain Keras too"),
        ("ComplexModel (hand-written loop)", complex_, "right on plain Keras too"),
        (F1, bad, "fit never trains"),
        ("F2 call(x, training=False), not forwarded", implicit, "JAX fit never trains"),
        (F3, mc_trick, "BatchNorm trains in predict"),
        ("F13 backbone(x, training=False) then head", frozen_backbone, "head never trains"),
        ("F9 layer defaulting to training=True first", default_true, "BN trains in model(x)"),
    ]


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


def _f5_rows(x: Any) -> list[Row]:
    """F5: Monte Carlo samples. Plain: model(x, training=True); library: mc_predict."""
    from training_aware import mc_predict

    model = _scoped_cases()[0][1](True)
    with isolated_tracing_stats():
        sampled = _record(model, lambda: [model(x, training=True) for _ in range(3)])
        mc = _record(model, lambda: mc_predict(model, x, samples=3, verbose=0))
    return [
        (F5, "MC samples", kind, want, _mark(sampled[kind], want), _mark(mc[kind], want))
        for kind, want in (("BatchNorm", "infer"), ("Dropout", "train"))
    ]


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


MEANT = {"fit": "train", "predict": "infer", "model(x)": "infer"}
PINNED = {(F3, "Dropout"): "train"}
HEADER: Row = ("case", "entry point", "layer", "meant", "plain Keras", "training-aware")
WIDTHS = (0, len("entry point"), len("BatchNorm"), len("meant"), len("BUG infer/train"), 14)


def _table_steps(quick: bool) -> list[tuple[str, Callable[[], list[Row]]]]:
    """(case, run) for each row group of the table, in the order shown."""
    import keras

    from training_aware import TrainingAwareModel

    x, y = _data()
    steps: list[tuple[str, Callable[[], list[Row]]]] = []

    def subclassed(name: str, factory: Callable[[type], Any]) -> list[Row]:
        with isolated_tracing_stats():
            plain, library = (factory(base) for base in (keras.Model, TrainingAwareModel))
            pinned = {kind: mode for (case, kind), mode in PINNED.items() if case == name}
            return _compare(name, _observe(plain, x, y), _observe(library, x, y), pinned)

    def scoped(name: str, factory: Callable[[bool], Any], pinned: dict[str, str]) -> list[Row]:
        with isolated_tracing_stats():
            plain, library = (factory(flag) for flag in (False, True))
            return _compare(name, _observe(plain, x, y), _observe(library, x, y), pinned)

    for name, factory, _ in _cases():
        if not quick or name == F1:
            steps.append((name, partial(subclassed, name, factory)))
    if not quick:
        for name, factory_, pinned in _scoped_cases():
            steps.append((name, partial(scoped, name, factory_, pinned)))
        steps.append((F5, partial(_f5_rows, x)))
    return steps


def _audit_steps(quick: bool) -> list[tuple[str, Callable[[], tuple[str, str]]]]:
    """(case, run) for the audit section: run() audits the plain and the library model."""
    import keras
    import numpy as np

    from training_aware import TrainingAwareModel, audit

    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    builders: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = []
    for name, factory, _ in _cases():
        library: Callable[[], Any] = partial(factory, TrainingAwareModel)
        if name == F3:  # the library's answer to the MC trick is PinnedMode
            library = partial(_pinned_mc_trick, TrainingAwareModel)
        builders.append((name, partial(factory, keras.Model), library))
    for name, scoped, _ in _scoped_cases():
        builders.append((name, partial(scoped, False), partial(scoped, True)))

    def run(plain: Callable[[], Any], library: Callable[[], Any]) -> tuple[str, str]:
        counts = []
        for build in (plain, library):
            report = audit(build(), x)
            counts.append("clean" if report.ok else f"{len(report.problems)} problem(s)")
        return counts[0], counts[1]

    return [
        (name, partial(run, plain, library))
        for name, plain, library in builders
        if not quick or name == F1
    ]


def _mark(seen: set[str], want: str) -> str:
    ok = seen == {want}
    return f"{'ok ' if ok else 'BUG'} {_show(seen)}"


def _format(row: Row, widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()


class _Progress:
    """Keras' `Progbar` on a terminal (as `fit` and `mc_predict` show it), between the rows.

    Off when stdout is not a terminal: there the rows themselves, printed as each case finishes,
    are the progress.
    """

    def __init__(self, total: int) -> None:
        import keras

        self.shown = sys.stdout.isatty()
        self.bar = keras.utils.Progbar(total, verbose=1 if self.shown else 0, unit_name="case")
        self.done = 0

    def print(self, text: str) -> None:
        running = self.shown and self.done < self.bar.target
        if running:  # clear the bar's line, print, redraw the bar below
            sys.stdout.write("\r\x1b[2K")
        print(text, flush=True)
        if running:
            self.bar.update(self.done)

    def advance(self) -> None:
        self.done += 1
        self.bar.update(self.done)  # the last update leaves the finished bar and a new line


def main(argv: Sequence[str] | None = None) -> int:
    """Print, per case and entry point, the mode BatchNorm and Dropout received."""
    parser = argparse.ArgumentParser(
        prog="training-aware demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="the F1 BadModel case only (a few seconds)"
    )
    parser.add_argument(
        "--tf-logs",
        action="store_true",
        help=f"show TensorFlow's start-up log lines (hidden by default; or {ENV_SWITCH}=1)",
    )
    args = parser.parse_args(argv)
    keras = import_keras(args.tf_logs)
    from training_aware.cli import elapsed

    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()} "
        f"(imported after {elapsed():.0f} s)\n",
        flush=True,
    )
    table = _table_steps(args.quick)
    audits = _audit_steps(args.quick)
    progress = _Progress(len(table) + len(audits))
    widths = [max(len(name) for name, _ in table), *WIDTHS[1:]]
    progress.print(_format(HEADER, widths) + "\n" + "  ".join("-" * w for w in widths))
    rows: list[Row] = []
    for _, run_case in table:
        case_rows = run_case()
        rows += case_rows
        progress.print(
            "\n".join(
                _format((row[0] if i == 0 else "", *row[1:]), widths)
                for i, row in enumerate(case_rows)
            )
        )
        progress.advance()
    bugs_plain = sum(r[4].startswith("BUG") for r in rows)
    bugs_lib = sum(r[5].startswith("BUG") for r in rows)
    audit_note = (
        ""
        if args.quick
        else "; F3 with training-aware is written with PinnedMode, the intent it can see"
    )
    progress.print(
        f"\n{bugs_plain} wrong modes on plain Keras, {bugs_lib} with training-aware. "
        "Modes are recorded at each layer's call.\n\n"
        "audit(model, x) of each case: the problems it reports, or clean\n"
        f"(the audit restores every weight and statistic{audit_note})"
    )
    width = max(len(name) for name, _ in audits)
    for name, run_audit in audits:
        plain, library = run_audit()
        progress.print(f"  {name.ljust(width)}  plain Keras: {plain:<14} training-aware: {library}")
        progress.advance()
    progress.print("")
    if args.quick:
        progress.print("That was F1 only; `training-aware demo` runs every case.")
    elif keras.backend.backend() != "jax":
        progress.print("F2 goes wrong on JAX only: KERAS_BACKEND=jax training-aware demo")
    progress.print(f"Done in {elapsed():.0f} s (the whole run, imports included).")
    return 0 if bugs_lib == 0 else 1
