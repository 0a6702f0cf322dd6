"""Time `audit` and `mc_predict` against the plain Keras calls they are made of.

Two comparisons, each interleaved (the order rotates every repeat), medians reported:

- `audit(model, x, y)` against one `fit` step plus one `predict` on the same compiled model.
  The audit must trace fresh `fit`/`evaluate`/`predict` functions (it records modes at trace
  time), so the fair baseline is a *cold* step: the model's compiled functions dropped before
  each `fit` + `predict`, as after `compile()`. The warm figure (functions already compiled) is
  printed too, for context.
- `mc_predict(model, x, samples=N)` against N plain `model.predict(x)` calls, all warm (the
  `mc_predict` compiled function is kept per set of forced modes and reused across calls). A
  plain `predict` runs Dropout as the identity, while every Monte Carlo sample draws random
  masks, so the floor is also shown: N `predict` calls with dropout forced on by
  `override_modes`; `mc_predict` against that floor is its own overhead.

Run (any backend):

    python benchmarks/audit.py --backend tensorflow --repeats 9 --samples 30
    python benchmarks/audit.py --backend jax --repeats 9 --samples 30
    python benchmarks/audit.py --backend torch --repeats 9 --samples 30

Targets: audit <= 5x one cold fit step + predict (issue 4); mc_predict <= 1.05x its floor, the N
predicts with dropout on (issue 11). Quote
the paired ratios (see _timing.py), not the absolute times, which depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import add_backend_argument, interleaved, report, select_backend

os.environ["KERAS_BACKEND"] = select_backend()  # --backend, before Keras is imported

import keras
import numpy as np

from training_aware import audit, mc_predict, override_modes
from training_aware._compiled import fresh_steps

FEATURES, WIDTH, BATCH = 64, 256, 64


def make_model() -> keras.Model:
    """Three Dense(256)/BatchNorm/Dropout blocks and a head: a small but typical tabular model."""
    inputs = keras.Input((FEATURES,))
    h = inputs
    for i in range(3):
        h = keras.layers.Dense(WIDTH, activation="relu", name=f"dense_{i}")(h)
        h = keras.layers.BatchNormalization(name=f"bn_{i}")(h)
        h = keras.layers.Dropout(0.2, name=f"dropout_{i}")(h)
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(h), name="bench")
    model.compile(optimizer="adam", loss="mse")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_backend_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=30, help="mc_predict samples (N)")
    parser.add_argument("--predict-rows", type=int, default=4096, help="rows for mc_predict")
    parser.add_argument(
        "--part", choices=("all", "audit", "mc"), default="all", help="time only one comparison"
    )
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, FEATURES)).astype("float32")
    y = rng.standard_normal((BATCH, 1)).astype("float32")
    model = make_model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    model.predict(x, batch_size=BATCH, verbose=0)

    def cold_step() -> None:
        for name in ("train_function", "predict_function"):
            setattr(model, name, None)
        for name, step in fresh_steps(model).items():  # JAX reuses traces of equal methods
            object.__setattr__(model, name, step)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        model.predict(x, batch_size=BATCH, verbose=0)

    def warm_step() -> None:
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        model.predict(x, batch_size=BATCH, verbose=0)

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, repeats {args.repeats}")
    if args.part != "mc":
        timings = interleaved(
            {
                "fit step + predict (cold)": cold_step,
                "fit step + predict (warm)": warm_step,
                "audit(model, x, y)": lambda: audit(model, x, y),
            },
            repeats=args.repeats,
            calls=1,
        )
        audit_ratio = report(
            "audit vs one fit step + one predict", timings, "fit step + predict (cold)"
        )["audit(model, x, y)"]
        print(f"\naudit ratio {audit_ratio:.2f}x (target <= 5x)")
    if args.part == "audit":
        return

    rows = rng.standard_normal((args.predict_rows, FEATURES)).astype("float32")
    n = args.samples

    def plain() -> None:
        for _ in range(n):
            model.predict(rows, batch_size=BATCH, verbose=0)

    rules = {keras.layers.Layer: False, keras.layers.Dropout: True}

    def dropout_on() -> None:
        with override_modes(model, rules):
            for _ in range(n):
                model.predict(rows, batch_size=BATCH, verbose=0)

    samples = interleaved(
        {
            f"{n} x predict": plain,
            f"{n} x predict, dropout on": dropout_on,
            f"mc_predict(samples={n})": lambda: mc_predict(
                model, rows, samples=n, batch_size=BATCH, verbose=0
            ),
        },
        repeats=args.repeats,
        calls=1,
    )
    mc_ratio = report(f"mc_predict vs {n} plain predicts", samples, f"{n} x predict")[
        f"mc_predict(samples={n})"
    ]
    floor = report(
        "mc_predict vs the same predicts with dropout on", samples, f"{n} x predict, dropout on"
    )[f"mc_predict(samples={n})"]
    print(
        f"\nmc_predict vs {n} predicts with dropout on (its floor): {floor:.3f}x (target <= 1.05): "
        f"{'met' if floor <= 1.05 else 'MISSED'}"
    )
    print(f"mc_predict vs {n} plain predicts: {mc_ratio:.3f}x")


if __name__ == "__main__":
    main()
