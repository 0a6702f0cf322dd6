"""Train small models and save everything they computed: `train_dump.py OUT.npz`.

Run once plainly and once under `training-aware run`; the two files must be bit-identical. On
each backend every configuration it supports runs in turn: fit, jit (jit_compile=True), steps
(steps_per_execution=2, not on PyTorch), mixed (mixed_float16), loop (a custom training
step) and, on TensorFlow, mirrored (MirroredStrategy on 2 logical CPUs).
"""

import os
import sys

out = sys.argv[1]
backend = os.environ.get("KERAS_BACKEND", "tensorflow")
if backend == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _steps import train_step  # noqa: E402

VARIANTS = {
    "tensorflow": ["fit", "jit", "steps", "mixed", "loop", "mirrored"],
    "jax": ["fit", "jit", "steps", "mixed", "loop"],
    "torch": ["fit", "mixed", "loop"],  # steps_per_execution must be 1 on torch
}[backend]
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 4)).astype("float32")
y = rng.normal(size=(32, 8)).astype("float32")


class Model(keras.Model):  # the classic BadModel (no `training`): the watch reports it under fit
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.batch_norm = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(0.5, seed=3)
        self.head = keras.Sequential(
            [keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dropout(0.3)]
        )

    def call(self, inputs):
        return self.head(self.dropout(self.batch_norm(self.dense(inputs))))


def build(variant):
    model = Model()
    model.compile(
        keras.optimizers.Adam(0.01),
        "mse",
        jit_compile=variant == "jit",
        steps_per_execution=2 if variant == "steps" else 1,
    )
    return model


arrays = {}
for variant in VARIANTS:
    keras.utils.set_random_seed(7)
    keras.mixed_precision.set_global_policy("mixed_float16" if variant == "mixed" else "float32")
    if variant == "mirrored":
        with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
            model = build(variant)
    else:
        model = build(variant)
    if variant == "loop":
        optimizer = keras.optimizers.Adam(0.01)
        for i in range(3):
            batch = slice(i * 8, i * 8 + 8)
            train_step(model, optimizer, x[batch], y[batch], training=True)
    else:
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    masks = keras.layers.Dropout(0.5, seed=11)(np.ones((4, 8), "float32"), training=True)
    for i, v in enumerate(model.variables):
        arrays[f"{variant}/{v.path}/{i}"] = keras.ops.convert_to_numpy(v.value)
    arrays[f"{variant}/predict"] = model.predict(x, verbose=0)
    arrays[f"{variant}/masks"] = keras.ops.convert_to_numpy(masks)
np.savez(out, **arrays)
print(f"train_dump: {', '.join(VARIANTS)}: {len(arrays)} arrays")
