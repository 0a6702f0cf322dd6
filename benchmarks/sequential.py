"""Benchmark: TrainingSequential vs keras.Sequential vs the seed's hand-written loop.

Same layers (3 x Dense(64) -> BatchNormalization -> Dropout(0.2)), same weights, batch 32.
Measures, interleaving the three models in every repeat and reporting medians (plus the median
of the paired per-repeat ratios, which cancels load changes on a shared machine, and the ratio of
the best samples):

- eager forward call, inference (`model(x)`) and training (`model(x, training=True)`);
- one compiled `fit` step (`model.train_on_batch(x, y)` after warm-up), with two deterministic
  checks beside the timings: Python function calls per step and ops in the traced graph.

Run:  python benchmarks/sequential.py --backend tensorflow|jax|torch [--repeats 15] [--calls 50]
      [--steps 50] [--threads 1]
Targets (issue 9): eager call (inference and training) and compiled fit step <= 1.05x
keras.Sequential.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import compare_models, model_benchmark_arguments, random_batch, select_backend

os.environ["KERAS_BACKEND"] = select_backend()  # --backend, before Keras is imported

import keras
import numpy as np

from training_aware import TrainingSequential

BASELINE = "keras.Sequential"
TARGET = 1.05  # eager calls and the compiled fit step, against keras.Sequential

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


def main(argv: list[str] | None = None) -> int:
    assert __doc__ is not None
    args = model_benchmark_arguments(__doc__.splitlines()[0], argv)
    x, y = random_batch(BATCH, FEATURES, UNITS)
    models = make_models(x)
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, batch {BATCH}, "
        f"{3 * BLOCKS} layers, {args.repeats} interleaved repeats, threads {args.threads or 'TF'}"
    )

    ratios = compare_models(
        models, x, y, BASELINE, repeats=args.repeats, calls=args.calls, steps=args.steps
    )
    inference, training, fit = ratios["infer"], ratios["train"], ratios["fit"]
    ours = "TrainingSequential"
    ok = max(inference[ours], training[ours], fit[ours]) <= TARGET
    print(
        f"\nTrainingSequential / keras.Sequential: eager inference {inference[ours]:.3f}x, "
        f"eager training {training[ours]:.3f}x, compiled fit step {fit[ours]:.3f}x "
        f"(target <= {TARGET}): {'met' if ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
