"""Benchmark: what installing the hook costs plain Keras code in the same process.

Once a training-aware call has run, `keras.layers.Layer.__call__` is the hook for every layer in
the process, plain ones included. Outside training-aware calls and blocks it is a pass-through:
one Python frame and one test of a module global. This script times plain Keras models (never a
training-aware object) with the original `Layer.__call__` and with the hook, swapping the two in
the same process between samples (interleaved, order alternating), and counts Python function
calls per model call with cProfile (deterministic).

Models: the classic GoodModel's layers in `keras.Sequential` (Dense(64), BatchNormalization,
Dropout(0.5), Dense(8); batch 32), and a subclassed model calling 1,000 tiny layers (alternately
`Dropout(0.0)` and `Identity`; batch 4). Eager `model(x, training=True)` and `model(x)`.

Run:  python benchmarks/hook_installed.py --backend tensorflow|jax|torch [--repeats 21]
      [--calls 20] [--threads 1]
Target: hook installed / not installed <= 1.02x for every eager call.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import add_backend_argument, per_call, select_backend, set_threads

os.environ["KERAS_BACKEND"] = select_backend()  # --backend, before Keras is imported

import keras
import numpy as np
from keras.src.layers.layer import Layer

from training_aware import _hook


class Tiny(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.tiny = [
            keras.layers.Dropout(0.0) if i % 2 else keras.layers.Identity() for i in range(1000)
        ]

    def call(self, x: Any, training: Any = None) -> Any:
        for layer in self.tiny:
            x = layer(x, training=training) if layer._call_has_training_arg else layer(x)
        return x


def small() -> tuple[Any, Any]:
    model = keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(64),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(8),
        ]
    )
    return model, np.random.default_rng(0).normal(size=(32, 32)).astype("float32")


def tiny() -> tuple[Any, Any]:
    return Tiny(), np.random.default_rng(0).normal(size=(4, 8)).astype("float32")


def pass_through_ns(repeats: int, n: int = 200_000) -> float:
    """Nanoseconds the hook adds to one call while no training-aware call is open: the hook's
    own function around a no-op original, minus the no-op called directly (medians, paired)."""
    saved = _hook._original_call

    def noop(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    layer = keras.layers.Identity()
    hooked = _hook._hooked_call
    _hook._original_call = noop
    try:
        differences = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(n):
                hooked(layer, None)
            middle = time.perf_counter()
            for _ in range(n):
                noop(layer, None)
            differences.append((2 * middle - start - time.perf_counter()) / n * 1e9)
        return statistics.median(differences)
    finally:
        _hook._original_call = saved


def tiny_layer_ns(repeats: int, n: int = 2_000) -> float:
    """Nanoseconds of one plain eager call of an `Identity` layer (the cheapest Keras layer)."""
    layer = keras.layers.Identity()
    x = keras.ops.ones((4, 8))
    layer(x)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            layer(x)
        samples.append((time.perf_counter() - start) / n * 1e9)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_backend_argument(parser)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--calls", type=int, default=20, help="eager calls per sample")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)

    plain = (Layer.__call__, Layer.stateless_call)
    _hook.ensure_hook()
    hooked = (Layer.__call__, Layer.stateless_call)

    def use(pair: tuple[Any, Any]) -> None:
        Layer.__call__, Layer.stateless_call = pair

    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, {args.repeats} "
        f"interleaved repeats, threads {args.threads}; plain Keras models only"
    )
    worst = 0.0
    try:
        for name, make in (("4 layers", small), ("1,000 tiny layers", tiny)):
            model, x = make()
            calls = args.calls if name == "4 layers" else max(1, args.calls // 10)
            for mode in (True, None):
                fn: Callable[[], Any] = lambda m=model, v=x, t=mode: m(v, training=t)  # noqa: E731
                for pair in (plain, hooked):
                    use(pair)
                    per_call(fn, 3)
                ratios, samples = [], {"plain": [], "hooked": []}
                for r in range(args.repeats):
                    order = (("plain", plain), ("hooked", hooked))
                    taken = {}
                    for label, pair in order if r % 2 else order[::-1]:
                        use(pair)
                        taken[label] = per_call(fn, calls)
                        samples[label].append(taken[label])
                    ratios.append(taken["hooked"] / taken["plain"])
                counts = {}
                for label, pair in (("plain", plain), ("hooked", hooked)):
                    use(pair)
                    profile = cProfile.Profile()
                    profile.runcall(lambda f=fn: [f() for _ in range(5)])
                    counts[label] = pstats.Stats(profile).total_calls / 5
                paired = statistics.median(ratios)
                worst = max(worst, paired)
                medians = statistics.median(samples["hooked"]) / statistics.median(samples["plain"])
                print(
                    f"  {name:<18} model(x, training={mode!s:<5}) "
                    f"{statistics.median(samples['plain']) * 1e3:8.3f} ms   "
                    f"hooked/plain paired {paired:5.3f}x  medians {medians:5.3f}x   "
                    f"Python calls {counts['plain']:.0f} / {counts['hooked']:.0f}"
                )
    finally:
        use(hooked)
    pass_through = pass_through_ns(args.repeats)
    layer_ns = tiny_layer_ns(args.repeats)
    print(
        f"\nthe pass-through alone: {pass_through:.0f} ns per layer call (the hook around a no-op "
        f"`__call__`, minus the no-op), against {layer_ns:.0f} ns for one plain call of an "
        f"`Identity` layer: {1 + pass_through / layer_ns:.4f}x per layer call, less per model"
    )
    verdict = "met" if worst <= 1.02 else "MISSED"
    print(f"\nworst paired ratio {worst:.3f}x (target <= 1.02): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
