"""Benchmark: what the rollback rule costs on the success path (deterministic call counts).

An eager training call of `TrainingAwareModel` and `TrainingSequential` (Dense(64) ->
BatchNormalization -> Dropout(0.5), batch 32) runs as a `StatelessScope` transaction
(src/training_aware/_rollback.py). Counted with cProfile: Python function calls per call with the
transaction and with it switched off (no rollback at all). No tensor is copied either way.

Run:  KERAS_BACKEND=tensorflow|jax|torch python benchmarks/rollback.py
"""

from __future__ import annotations

import cProfile
import os
import pstats

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np

from training_aware import TrainingAwareModel, TrainingSequential, _rollback


class Model(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(64)
        self.bn = keras.layers.BatchNormalization()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.drop(self.bn(self.dense(x)))


def calls(model: keras.layers.Layer, x: np.ndarray) -> int:
    profile = cProfile.Profile()
    profile.enable()
    model(x, training=True)
    profile.disable()
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


def main() -> None:
    x = np.ones((32, 32), "float32")
    eligible = _rollback._eligible
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    for name, model in (
        ("TrainingAwareModel", Model()),
        (
            "TrainingSequential",
            TrainingSequential(
                [
                    keras.layers.Dense(64),
                    keras.layers.BatchNormalization(),
                    keras.layers.Dropout(0.5),
                ]
            ),
        ),
    ):
        model(x, training=True)
        model(x, training=True)
        with_rule = calls(model, x)
        _rollback._eligible = lambda mode: False  # type: ignore[assignment]
        without = calls(model, x)
        _rollback._eligible = eligible
        print(
            f"  {name:20s} python calls per eager training call: {with_rule} with the rule, "
            f"{without} without ({with_rule / without:.3f}x)"
        )


if __name__ == "__main__":
    main()
