"""Benchmark: the seed's BadModel as a TrainingAwareModel vs the hand-forwarded GoodModel.

Same layers (Dense(64) -> BatchNormalization -> Dropout(0.5)), same weights, batch 32. Candidates:

- `GoodModel (plain Keras)`: the seed's Example 2, forwarding `training` by hand (the baseline);
- `BadModel as TrainingAwareModel`: Example 1 unchanged but for its base class;
- `GoodModel + @forwards_training`: the baseline with the runtime check, after its first call.

Measured, interleaving the candidates in every repeat, medians: eager forward call
(`model(x, training=True)` and `model(x)`) and one compiled `fit` step (`train_on_batch`).

Run:  python benchmarks/model.py --backend tensorflow|jax|torch [--repeats 15] [--calls 50]
      [--steps 50] [--threads 1]
Targets: compiled fit step <= 1.02x on every backend (issues 3, 11), eager call <= 1.15x.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import compare_models, model_benchmark_arguments, random_batch, select_backend

os.environ["KERAS_BACKEND"] = select_backend()  # --backend, before Keras is imported

import keras

from training_aware import TrainingAwareModel, forwards_training

UNITS, FEATURES, BATCH = 64, 32, 32
BASELINE = "GoodModel (plain Keras)"


class GoodModel(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(UNITS)
        self.batch_norm = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(0.5)

    def call(self, inputs: Any, training: bool = False) -> Any:
        x = self.dense(inputs)
        x = self.batch_norm(x, training=training)
        return self.dropout(x, training=training)


class BadModel(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(UNITS)
        self.batch_norm = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(0.5)

    def call(self, inputs: Any) -> Any:
        return self.dropout(self.batch_norm(self.dense(inputs)))


@forwards_training
class CheckedGoodModel(GoodModel):
    pass


def main(argv: list[str] | None = None) -> int:
    assert __doc__ is not None
    args = model_benchmark_arguments(__doc__.splitlines()[0], argv)
    x, y = random_batch(BATCH, FEATURES, UNITS)
    models: dict[str, keras.Model] = {
        BASELINE: GoodModel(),
        "BadModel as TrainingAwareModel": BadModel(),
        "GoodModel + @forwards_training": CheckedGoodModel(),
    }
    for model in models.values():
        model(x, training=True)  # builds; the checked model runs its one check here
    weights = models[BASELINE].get_weights()
    for model in models.values():
        model.set_weights(weights)
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, batch {BATCH}, "
        f"{args.repeats} interleaved repeats, medians"
    )
    ratios = compare_models(
        models, x, y, BASELINE, repeats=args.repeats, calls=args.calls, steps=args.steps
    )
    train, infer, fit = ratios["train"], ratios["infer"], ratios["fit"]
    ours, checked = "BadModel as TrainingAwareModel", "GoodModel + @forwards_training"
    eager = max(train[ours], infer[ours])
    ok = eager <= 1.15 and fit[ours] <= 1.02
    print(
        f"\nTrainingAwareModel / hand-forwarded GoodModel: eager {eager:.3f}x (target <= 1.15), "
        f"compiled fit step {fit[ours]:.3f}x (target <= 1.02): {'met' if ok else 'MISSED'}"
    )
    checked_eager = max(train[checked], infer[checked])
    print(
        f"@forwards_training after its first call: eager {checked_eager:.3f}x, "
        f"compiled fit step {fit[checked]:.3f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
