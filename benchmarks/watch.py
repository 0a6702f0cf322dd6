"""Benchmark: the watch of `training-aware run` against the same run unwatched.

One model (Dense, then 4 x [BatchNormalization, Dropout, Dense]; batch 32), one process. In each
repeat, in rotating order, the same work runs once with the watch recording and once without
(`Watch().start()` / `stop()` around the sample): a `fit` of `--steps` steps (compiled on
TensorFlow and JAX, `jit_compile` as Keras chooses; eager on PyTorch) and `--calls` eager
`model(x, training=True)` calls. Each fit sample is a new `fit` call of the same compiled model:
the recording happened when the step was traced, so a watched compiled step runs the same program.
The first `fit` (trace included) is timed once per candidate on fresh models.

Run:  python benchmarks/watch.py --backend tensorflow|jax|torch [--repeats 15] [--calls 50]
      [--steps 50] [--threads 1]
Targets: compiled fit <= 1.05x; eager PyTorch <= 1.3x.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import model_benchmark_arguments, per_call, random_batch, report, select_backend

os.environ["KERAS_BACKEND"] = select_backend()  # --backend, before Keras is imported

import keras

from training_aware.watch import Watch

UNITS, FEATURES, BATCH = 64, 32, 32
PLAIN, WATCHED = "unwatched", "watched"


def make_model() -> Any:
    layers: list[Any] = [keras.Input((FEATURES,)), keras.layers.Dense(UNITS)]
    for _ in range(4):
        layers += [
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(UNITS, activation="relu"),
        ]
    model = keras.Sequential(layers)
    model.compile("sgd", "mse")
    return model


def sample(fn: Callable[[], Any], calls: int, watched: bool) -> float:
    watch = Watch().start() if watched else None
    try:
        return per_call(fn, calls)
    finally:
        if watch is not None:
            watch.stop()


def main() -> None:
    args = model_benchmark_arguments(__doc__.splitlines()[0])
    x, y = random_batch(BATCH * args.steps, FEATURES, UNITS)
    xb = x[:BATCH]
    model = make_model()
    fit = lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)  # noqa: E731
    eager = lambda: model(xb, training=True)  # noqa: E731

    make_model().fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # the backend's own warm-up
    first: dict[str, float] = {}
    for name in (PLAIN, WATCHED):
        fresh = make_model()
        start = time.perf_counter()
        sample(
            lambda m=fresh: m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), 1, name == WATCHED
        )
        first[name] = time.perf_counter() - start
    print(
        f"backend {keras.backend.backend()}; first fit (trace included): watched "
        f"{first[WATCHED]:.2f} s, unwatched {first[PLAIN]:.2f} s"
    )
    for title, fn, calls in (
        (f"fit, {args.steps} steps per sample (per fit)", fit, 1),
        (
            f"eager model(x, training=True), {args.calls} calls per sample (per call)",
            eager,
            args.calls,
        ),
    ):
        sample(fn, 2, True)
        sample(fn, 2, False)  # warm-up both ways
        samples: dict[str, list[float]] = {PLAIN: [], WATCHED: []}
        names = [PLAIN, WATCHED]
        for r in range(args.repeats):
            for name in names[r % 2 :] + names[: r % 2]:
                samples[name].append(sample(fn, calls, name == WATCHED))
        report(title, samples, PLAIN)
        per_step = statistics.median(samples[WATCHED]) / (args.steps if calls == 1 else 1)
        print(f"  watched: {per_step * 1e3:.3f} ms per {'step' if calls == 1 else 'call'}")


if __name__ == "__main__":
    main()
