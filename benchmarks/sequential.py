"""Benchmark: TrainingSequential vs keras.Sequential vs the seed's hand-written loop.

Same layers (3 x Dense(64) -> BatchNormalization -> Dropout(0.2)), same weights, batch 32.
Measures, interleaving the three models in every repeat and reporting medians (plus the median
of the paired per-repeat ratios, which cancels load changes on a shared machine, and the ratio of
the best samples):

- eager forward call, inference (`model(x)`) and training (`model(x, training=True)`);
- one compiled `fit` step (`model.train_on_batch(x, y)` after warm-up), with two deterministic
  checks beside the timings: Python function calls per step and ops in the traced graph.

Run:  python benchmarks/sequential.py [--repeats 15] [--calls 50] [--steps 50] [--threads 1]
Targets (issue 2): eager forward <= 1.10x keras.Sequential, compiled fit step <= 1.02x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np

from training_aware import TrainingSequential

UNITS, BLOCKS, RATE, BATCH, FEATURES = 64, 3, 0.2, 32, 32


class ComplexModel(keras.Model):
    """The seed article's Example 3 (the `isinstance` loop), for `keras` instead of `tf.keras`."""

    def __init__(self, units: int = UNITS, num_layers: int = BLOCKS) -> None:
        super().__init__()
        self.layers_list = []
        for _ in range(num_layers):
            self.layers_list.append(keras.layers.Dense(units))
            self.layers_list.append(keras.layers.BatchNormalization())
            self.layers_list.append(keras.layers.Dropout(RATE))

    def call(self, inputs: Any, training: bool = False) -> Any:
        x = inputs
        for layer in self.layers_list:
            if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Dropout)):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x


def stack() -> list[keras.layers.Layer]:
    layers: list[keras.layers.Layer] = []
    for _ in range(BLOCKS):
        layers += [
            keras.layers.Dense(UNITS),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(RATE),
        ]
    return layers


def make_models(x: np.ndarray) -> dict[str, keras.Model]:
    seed = ComplexModel()
    seed(x)
    models: dict[str, keras.Model] = {
        "keras.Sequential": keras.Sequential([keras.Input((FEATURES,)), *stack()]),
        "TrainingSequential": TrainingSequential([keras.Input((FEATURES,)), *stack()]),
        "seed ComplexModel": seed,
    }
    weights = seed.get_weights()
    for model in models.values():
        model.set_weights(weights)
    return models


def per_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, calls: int
) -> dict[str, list[float]]:
    """Seconds per call, one sample per model per repeat, models in rotating order."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for fn in fns.values():  # warm-up (tracing, building)
        per_call(fn, 3)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(per_call(fns[name], calls))
    return samples


def report(title: str, samples: dict[str, list[float]]) -> dict[str, float]:
    """Print medians and the median of the paired (same-repeat) ratios; return the latter.

    The paired ratio compares samples taken back to back, so a load change on a shared machine
    between repeats cancels out; the ratio of the medians is printed beside it.
    """
    base = samples["keras.Sequential"]
    base_median, base_min = statistics.median(base), min(base)
    print(f"\n{title}")
    ratios = {}
    for name, values in samples.items():
        median = statistics.median(values)
        ratios[name] = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(
            f"  {name:<20} {median * 1e3:8.3f} ms   paired {ratios[name]:5.3f}x   "
            f"medians {median / base_median:5.3f}x   best {min(values) / base_min:5.3f}x"
        )
    return ratios


def python_calls_per_step(models: dict[str, keras.Model], x: Any, y: Any, steps: int = 20) -> None:
    """Python function calls per `train_on_batch` (deterministic, unlike wall time)."""
    import cProfile
    import pstats

    print("\nPython function calls per compiled fit step (cProfile count, deterministic)")
    for name, model in models.items():
        profile = cProfile.Profile()
        profile.runcall(lambda m=model: [m.train_on_batch(x, y) for _ in range(steps)])
        print(f"  {name:<20} {pstats.Stats(profile).total_calls / steps:8.0f}")


def graph_ops(models: dict[str, keras.Model], features: int) -> None:
    """TensorFlow only: the number of ops in each model's traced forward graph, per mode."""
    import tensorflow as tf

    spec = tf.TensorSpec((BATCH, features))
    print("\ntraced forward graph, number of ops (training=True / False)")
    for name, model in models.items():
        counts = [
            len(
                tf.function(lambda v, m=model, t=training: m(v, training=t))
                .get_concrete_function(spec)
                .graph.get_operations()
            )
            for training in (True, False)
        ]
        print(f"  {name:<20} {counts[0]} / {counts[1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=50, help="eager calls per sample")
    parser.add_argument("--steps", type=int, default=50, help="fit steps per sample")
    parser.add_argument(
        "--threads", type=int, default=1, help="TensorFlow op threads (0: TF default)"
    )
    args = parser.parse_args(argv)
    if keras.backend.backend() == "tensorflow" and args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, FEATURES)).astype("float32")
    y = rng.normal(size=(BATCH, UNITS)).astype("float32")
    models = make_models(x)
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, batch {BATCH}, "
        f"{3 * BLOCKS} layers, {args.repeats} interleaved repeats, threads {args.threads or 'TF'}"
    )

    inference = report(
        "eager forward, inference: model(x)",
        interleaved({n: (lambda m=m: m(x)) for n, m in models.items()}, args.repeats, args.calls),
    )
    training = report(
        "eager forward, training: model(x, training=True)",
        interleaved(
            {n: (lambda m=m: m(x, training=True)) for n, m in models.items()},
            args.repeats,
            args.calls,
        ),
    )
    for model in models.values():
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    fit = report(
        "compiled fit step: model.train_on_batch(x, y)",
        interleaved(
            {n: (lambda m=m: m.train_on_batch(x, y)) for n, m in models.items()},
            args.repeats,
            args.steps,
        ),
    )
    python_calls_per_step(models, x, y)
    if keras.backend.backend() == "tensorflow":
        graph_ops(models, FEATURES)
    ours = "TrainingSequential"
    ok = inference[ours] <= 1.10 and fit[ours] <= 1.02
    print(
        f"\nTrainingSequential / keras.Sequential: eager inference {inference[ours]:.3f}x, "
        f"eager training {training[ours]:.3f}x (target <= 1.10), "
        f"compiled fit step {fit[ours]:.3f}x (target <= 1.02): {'met' if ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
