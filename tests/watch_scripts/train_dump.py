"""Train a small model and save everything it computed: `train_dump.py VARIANT OUT.npz`.

Run once plainly and once under `training-aware run`; the two files must be bit-identical.
VARIANT: fit, jit (jit_compile=True), steps (steps_per_execution=2), mixed (mixed_float16),
loop (a custom training step), mirrored (MirroredStrategy on 2 logical CPUs, TensorFlow).
"""

import os
import sys

variant, out = sys.argv[1], sys.argv[2]
if variant == "mirrored":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _steps import train_step  # noqa: E402

keras.utils.set_random_seed(7)
if variant == "mixed":
    keras.mixed_precision.set_global_policy("mixed_float16")
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


def build():
    model = Model()
    model.compile(
        keras.optimizers.Adam(0.01),
        "mse",
        jit_compile=variant == "jit",
        steps_per_execution=2 if variant == "steps" else 1,
    )
    return model


if variant == "mirrored":
    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        model = build()
else:
    model = build()
if variant == "loop":
    optimizer = keras.optimizers.Adam(0.01)
    for i in range(3):
        train_step(model, optimizer, x[i * 8 : i * 8 + 8], y[i * 8 : i * 8 + 8], training=True)
else:
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
masks = keras.ops.convert_to_numpy(
    keras.layers.Dropout(0.5, seed=11)(np.ones((4, 8), "float32"), training=True)
)
arrays = {f"v{i}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.variables)}
arrays["predict"] = model.predict(x, verbose=0)
arrays["masks"] = masks
np.savez(out, **arrays)
print(f"train_dump: {variant}: {len(arrays)} arrays")
