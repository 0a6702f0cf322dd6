"""Benchmark: an eager Dropout-heavy model (20 Dropouts) against its hand-forwarded equivalent.

The worst case for the mechanism's per-layer cost: Dense(64), then 20 Dropout(0.1) layers, then
Dense(64), batch 32, same weights. Candidates:

- `hand-forwarded (plain Keras)`: `call(x, training=False)` passing `training=training` to each
  of the 20 Dropouts (the baseline);
- `TrainingAwareModel`: the same `call` with no `training` anywhere; the hook hands the mode to
  every Dropout.

Measured, interleaving the candidates in every repeat, medians: eager `model(x, training=True)`
and `model(x)` (where the hook runs on every layer call), and one compiled `fit` step (where it
runs at trace time only, except on PyTorch, whose fit step is eager).

Run:  python benchmarks/dropout_heavy.py --backend tensorflow|jax|torch [--repeats 15]
      [--calls 50] [--steps 50] [--threads 1]
Target: eager <= 1.15x (the eager target of benchmarks/model.py), fit step <= 1.02x.
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

from training_aware import TrainingAwareModel

UNITS, FEATURES, BATCH, DROPOUTS, RATE = 64, 32, 32, 20, 0.1
BASELINE = "hand-forwarded (plain Keras)"
OURS = "TrainingAwareModel"


class HandForwarded(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.dense_in = keras.layers.Dense(UNITS)
        self.drops = [keras.layers.Dropout(RATE) for _ in range(DROPOUTS)]
        self.dense_out = keras.layers.Dense(UNITS)

    def call(self, inputs: Any, training: bool = False) -> Any:
        x = self.dense_in(inputs)
        for drop in self.drops:
            x = drop(x, training=training)
        return self.dense_out(x)


class Unforwarded(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.dense_in = keras.layers.Dense(UNITS)
        self.drops = [keras.layers.Dropout(RATE) for _ in range(DROPOUTS)]
        self.dense_out = keras.layers.Dense(UNITS)

    def call(self, inputs: Any) -> Any:
        x = self.dense_in(inputs)
        for drop in self.drops:
            x = drop(x)
        return self.dense_out(x)


def main(argv: list[str] | None = None) -> int:
    assert __doc__ is not None
    args = model_benchmark_arguments(__doc__.splitlines()[0], argv)
    x, y = random_batch(BATCH, FEATURES, UNITS)
    models: dict[str, keras.Model] = {BASELINE: HandForwarded(), OURS: Unforwarded()}
    for model in models.values():
        model(x, training=True)
    weights = models[BASELINE].get_weights()
    models[OURS].set_weights(weights)
    # Same program: with dropout off both compute the same function.
    out = [keras.ops.convert_to_numpy(m(x)) for m in models.values()]
    assert np.allclose(out[0], out[1], atol=1e-5), "the two models differ"
    for model in models.values():
        trained = keras.ops.convert_to_numpy(model(x, training=True))
        assert not np.allclose(trained, out[0], atol=1e-5), "dropout did not fire in training"
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, batch {BATCH}, "
        f"{DROPOUTS} Dropouts, {args.repeats} interleaved repeats, threads {args.threads}"
    )
    ratios = compare_models(
        models, x, y, BASELINE, repeats=args.repeats, calls=args.calls, steps=args.steps
    )
    train, infer, fit = ratios["train"][OURS], ratios["infer"][OURS], ratios["fit"][OURS]
    ok = max(train, infer) <= 1.15 and fit <= 1.02
    print(
        f"\nTrainingAwareModel / hand-forwarded, {DROPOUTS} Dropouts: eager training {train:.3f}x, "
        f"eager inference {infer:.3f}x (target <= 1.15), compiled fit step {fit:.3f}x "
        f"(target <= 1.02): {'met' if ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
