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

    from training_aware import _calltap

    seen: dict[str, set[str]] = {"BatchNorm": set(), "Dropout": set()}
    handles = []

    def tap_for(kind: str) -> _calltap.Interceptor:
        def interceptor(layer: Any, call_next: Any, args: Any, kwargs: Any) -> Any:
            training = kwargs.get("training")
            seen[kind].add("train" if training is True else "infer")
            return call_next(*args, **kwargs)

        return interceptor

    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            handles.append(_calltap.add(layer, tap_for("BatchNorm")))
        elif isinstance(layer, keras.layers.Dropout) and type(layer) is keras.layers.Dropout:
            handles.append(_calltap.add(layer, tap_for("Dropout")))
    try:
        run()
    finally:
        for handle in handles:
            _calltap.remove(handle)
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

    return [
        ("F1 BadModel: call(self, x)", bad, "fit never trains"),
        ("F2 call(x, training=False), not forwarded", implicit, "JAX fit never trains"),
        ("F3 drop(x, training=True) then bn(x)", mc_trick, "BatchNorm trains in predict"),
        ("F13 backbone(x, training=False) then head", frozen_backbone, "head never trains"),
    ]


MEANT = {"fit": "train", "predict": "infer", "model(x)": "infer"}
PINNED = {("F3 drop(x, training=True) then bn(x)", "Dropout"): "train"}


def _rows() -> list[Row]:
    import keras
    import numpy as np

    from training_aware import TrainingAwareModel

    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 8)).astype("float32")
    rows: list[Row] = []
    for name, factory, _ in _cases():
        results: dict[str, dict[str, dict[str, set[str]]]] = {}
        for label, base in (("plain", keras.Model), ("library", TrainingAwareModel)):
            model = factory(base)
            model.compile("sgd", "mse")
            model(x[:2])
            results[label] = {
                "fit": _record(model, partial(model.fit, x, y, epochs=1, verbose=0)),
                "predict": _record(model, partial(model.predict, x, verbose=0)),
                "model(x)": _record(model, partial(model, x)),
            }
        for entry, meant in MEANT.items():
            for kind in ("BatchNorm", "Dropout"):
                want = PINNED.get((name, kind), meant)
                rows.append(
                    (
                        name,
                        entry,
                        kind,
                        want,
                        _mark(results["plain"][entry][kind], want),
                        _mark(results["library"][entry][kind], want),
                    )
                )
    return rows


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
    rows = _rows()
    print(_table(rows))
    bugs_plain = sum(r[4].startswith("BUG") for r in rows)
    bugs_lib = sum(r[5].startswith("BUG") for r in rows)
    print(
        f"\n{bugs_plain} wrong modes on plain Keras, {bugs_lib} with training-aware "
        f"({time.perf_counter() - start:.0f} s). Modes are recorded at each layer's call."
    )
    if keras.backend.backend() != "jax":
        print("F2 goes wrong on JAX only: KERAS_BACKEND=jax training-aware demo")
    return 0 if bugs_lib == 0 else 1
