"""Benchmark: 1,000 tiny layers, where the mechanism's per-layer-call cost is largest.

Dense(8), then 1,000 layers that do almost nothing (alternately `Dropout(0.0)`, which accepts
`training`, and `Identity`, which does not), then Dense(8); batch 4, same weights. Candidates:

- `hand-forwarded (plain Keras)`: passes `training=training` to every layer that accepts it
  (the baseline);
- `TrainingAwareModel`: the same loop with no `training` anywhere; the hook hands the mode to
  each layer that accepts it.

Measured, interleaving the candidates in every repeat: eager `model(x, training=True)` and
`model(x)`, and one `fit` step (eager on PyTorch, compiled on TensorFlow and JAX).

Run:  python benchmarks/tiny_layers.py --backend tensorflow|jax|torch [--repeats 15]
      [--calls 5] [--steps 5] [--threads 1]
Target: eager calls and the PyTorch fit step <= 1.02x; the compiled fit step 1.00x.
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

UNITS, FEATURES, BATCH, TINY = 8, 8, 4, 1000
BASELINE = "hand-forwarded (plain Keras)"
OURS = "TrainingAwareModel"


def tiny_layers() -> list[keras.layers.Layer]:
    return [keras.layers.Dropout(0.0) if i % 2 else keras.layers.Identity() for i in range(TINY)]


class HandForwarded(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.dense_in = keras.layers.Dense(UNITS)
        self.tiny = tiny_layers()
        self.dense_out = keras.layers.Dense(UNITS)

    def call(self, inputs: Any, training: bool = False) -> Any:
        x = self.dense_in(inputs)
        for layer in self.tiny:
            x = layer(x, training=training) if layer._call_has_training_arg else layer(x)
        return self.dense_out(x)


class Unforwarded(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.dense_in = keras.layers.Dense(UNITS)
        self.tiny = tiny_layers()
        self.dense_out = keras.layers.Dense(UNITS)

    def call(self, inputs: Any) -> Any:
        x = self.dense_in(inputs)
        for layer in self.tiny:
            x = layer(x)
        return self.dense_out(x)


def main(argv: list[str] | None = None) -> int:
    assert __doc__ is not None
    args = model_benchmark_arguments(__doc__.splitlines()[0], argv)
    x, y = random_batch(BATCH, FEATURES, UNITS)
    models: dict[str, keras.Model] = {BASELINE: HandForwarded(), OURS: Unforwarded()}
    for model in models.values():
        model(x, training=True)
    models[OURS].set_weights(models[BASELINE].get_weights())
    out = [keras.ops.convert_to_numpy(m(x, training=True)) for m in models.values()]
    assert np.array_equal(out[0], out[1]), "the two models differ"
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, batch {BATCH}, "
        f"{TINY} tiny layers, {args.repeats} interleaved repeats, threads {args.threads}"
    )
    ratios = compare_models(
        models, x, y, BASELINE, repeats=args.repeats, calls=args.calls, steps=args.steps
    )
    train, infer, fit = ratios["train"][OURS], ratios["infer"][OURS], ratios["fit"][OURS]
    ok = max(train, infer) <= 1.02 and fit <= 1.02
    print(
        f"\nTrainingAwareModel / hand-forwarded, {TINY} tiny layers: eager training {train:.3f}x, "
        f"eager inference {infer:.3f}x, fit step {fit:.3f}x (target <= 1.02): "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
