"""One distributed run, in its own process: `python -m tests._distributed tensorflow|jax`.

The device set-up (two logical CPUs for tf.distribute, `XLA_FLAGS` for JAX) must come before the
backend initialises, so tests/test_distributed.py runs this module in a subprocess and reads the
JSON line it prints last. Every figure is computed here; the test asserts on them.

The model: a `TrainingAwareModel` whose `call` forwards nothing, holding a `TrainingSequential`
(Dense, BatchNormalization, Dropout, a mode probe) and a `PinnedMode(BatchNormalization,
training=False)`. The probes note, at trace time, which thread (tf.distribute runs one per replica)
saw which `training`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

ENGINE = sys.argv[1] if len(sys.argv) > 1 else "tensorflow"
os.environ["KERAS_BACKEND"] = ENGINE
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
if ENGINE == "jax":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

if ENGINE == "tensorflow":
    import tensorflow as tf

    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

from training_aware import (  # noqa: E402
    PinnedMode,
    TrainingAwareModel,
    TrainingSequential,
    audit,
    freeze_batchnorm,
    mc_predict,
    override_modes,
)

SEEN: list[tuple[str, str, Any]] = []  # (probe, thread, training) at trace/eager time
BATCH, FEATURES = 8, 4
TOLERANCE = 1e-5  # rate 0: distributed vs single device, max abs difference of the weights


class Probe(keras.layers.Layer):
    """Identity that notes the `training` its `call` receives, and in which thread."""

    def call(self, x: Any, training: Any = None) -> Any:
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope

        if isinstance(x, keras.KerasTensor) or in_symbolic_scope():  # Keras' shape inference
            return x
        SEEN.append((self.name, threading.current_thread().name, training))
        return x


class Net(TrainingAwareModel):
    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Synchronised statistics make the two replicas' BatchNorm see the global batch, as one
        # device does (TensorFlow only; JAX's data parallelism computes over the global batch).
        sync = {"synchronized": True} if ENGINE == "tensorflow" else {}
        self.body = TrainingSequential(
            [
                keras.layers.Dense(8, name="dense"),
                keras.layers.BatchNormalization(name="bn", **sync),
                keras.layers.Dropout(rate, name="drop"),
                Probe(name="probe_body"),
            ],
            name="body",
        )
        self.pinned = PinnedMode(
            keras.layers.BatchNormalization(name="pinned_bn"), training=False, name="pinned"
        )
        self.probe = Probe(name="probe_top")
        self.head = keras.layers.Dense(1, name="head")

    def call(self, x: Any) -> Any:  # forwards nothing: the library does
        return self.head(self.probe(self.pinned(self.body(x))))


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4 * BATCH, FEATURES)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) * 0.5).astype("float32")


def make(rate: float) -> Net:
    keras.utils.set_random_seed(0)
    model = Net(rate)
    model(np.zeros((2, FEATURES), "float32"))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


def stats(model: Net, name: str) -> list[np.ndarray]:
    layer = next(la for la in model._flatten_layers() if la.name == name)
    return [
        np.array(keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(v)))
        for v in (layer.moving_mean, layer.moving_variance)
    ]


def weights(model: Net) -> list[np.ndarray]:
    return [
        np.array(keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(v))) for v in model.weights
    ]


def modes_seen(start: int) -> dict[str, list[Any]]:
    out: dict[str, set[Any]] = {}
    for probe, thread, training in SEEN[start:]:
        value = training if isinstance(training, bool) or training is None else "tensor"
        out.setdefault(probe, set()).add((thread, value))
    return {k: sorted(map(list, v)) for k, v in out.items()}


def scenario(report: dict[str, Any]) -> None:
    """Everything that runs inside the strategy (TF) or under the distribution (JAX)."""
    x, y = data()
    model = make(0.5)
    bn0, pinned0 = stats(model, "bn"), stats(model, "pinned_bn")
    start = len(SEEN)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    report["fit_modes"] = modes_seen(start)
    report["fit_bn_changed"] = not all(map(np.array_equal, stats(model, "bn"), bn0))
    report["fit_pinned_bn_unchanged"] = all(map(np.array_equal, stats(model, "pinned_bn"), pinned0))
    start = len(SEEN)
    a = model.predict(x, batch_size=BATCH, verbose=0)
    b = model.predict(x, batch_size=BATCH, verbose=0)
    report["predict_modes"] = modes_seen(start)
    report["predict_deterministic"] = bool(np.array_equal(a, b))

    # override_modes: Dropout forced on in predict; BatchNorm forced to train in predict.
    with override_modes(model, {keras.layers.Dropout: True}):
        c = model.predict(x, batch_size=BATCH, verbose=0)
        d = model.predict(x, batch_size=BATCH, verbose=0)
    report["override_dropout_on"] = not np.array_equal(c, d)
    after = model.predict(x, batch_size=BATCH, verbose=0)
    report["override_undone"] = bool(np.array_equal(after, a))
    bn1 = stats(model, "bn")
    with override_modes(model, {"body/bn": True}):
        model.predict(x, batch_size=BATCH, verbose=0)
    same = all(map(np.array_equal, stats(model, "bn"), bn1))
    report["override_bn_train_changes_stats"] = not same

    # mc_predict: dropout on, statistics untouched, the same seed the same draws.
    before = [np.array(v) for v in weights(model)]
    mean, std = mc_predict(model, x, samples=8, seed=0, verbose=0)
    mean2, std2 = mc_predict(model, x, samples=8, seed=0, verbose=0)
    report["mc_std_mean"] = float(np.mean(std))
    report["mc_reproducible"] = bool(np.array_equal(mean, mean2) and np.array_equal(std, std2))
    report["mc_state_unchanged"] = all(map(np.array_equal, weights(model), before))

    # audit: runs fit/evaluate/predict/direct calls and restores everything.
    result = audit(model, x[:BATCH], y[:BATCH])
    report["audit_ok"] = result.ok
    report["audit_problems"] = [p.message for p in result.problems]
    report["audit_state_unchanged"] = all(map(np.array_equal, weights(model), before))

    # freeze_batchnorm: fit no longer moves any BatchNorm statistics.
    report["freeze_paths"] = freeze_batchnorm(model)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    frozen = stats(model, "bn")
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    report["freeze_holds"] = all(map(np.array_equal, stats(model, "bn"), frozen))


def rate_zero() -> list[np.ndarray]:
    x, y = data()
    model = make(0.0)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, shuffle=False)
    return weights(model)


def main() -> None:
    report: dict[str, Any] = {"engine": ENGINE, "tolerance": TOLERANCE}
    single = rate_zero()  # one device, no strategy
    if ENGINE == "tensorflow":
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        report["replicas"] = strategy.num_replicas_in_sync
        with strategy.scope():
            distributed = rate_zero()
            scenario(report)
    else:
        import jax

        report["replicas"] = len(jax.devices())
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
        distributed = rate_zero()
        scenario(report)
        keras.distribution.set_distribution(None)
    report["rate0_max_abs_diff"] = max(
        float(np.max(np.abs(a - b))) for a, b in zip(single, distributed, strict=True)
    )
    no_strategy: dict[str, Any] = {}
    scenario(no_strategy)
    report["no_strategy"] = {k: v for k, v in no_strategy.items() if not k.endswith("_modes")}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
