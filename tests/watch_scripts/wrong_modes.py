"""Three ways to run layers in the wrong mode; `training-aware run` must report each, and no more.

1. The classic BadModel (its `call` has no `training`) under `fit`: BatchNormalization and
   Dropout run in inference mode (FACTS F1).
2. An explicit `training=True` on a Dropout leaks to the BatchNormalization after it under
   `predict` (FACTS F3): the BatchNormalization runs in training mode.
3. A custom training loop that calls a Sequential model without `training`.
"""

import keras
import numpy as np
from _steps import train_step

rng = np.random.default_rng(0)
x = rng.normal(size=(16, 4)).astype("float32")
y = np.ones((16, 8), "float32")


class BadModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.batch_norm = keras.layers.BatchNormalization(name="bn")
        self.dropout = keras.layers.Dropout(0.5, name="drop")

    def call(self, inputs):
        return self.dropout(self.batch_norm(self.dense(inputs)))


class Leaky(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.dropout = keras.layers.Dropout(0.5, name="mc_drop")
        self.batch_norm = keras.layers.BatchNormalization(name="leak_bn")

    def call(self, inputs, training=None):
        h = self.dropout(self.dense(inputs), training=True)
        return self.batch_norm(h)


bad = BadModel()
bad.compile("sgd", "mse")
bad.fit(x, y, epochs=1, batch_size=8, verbose=0)

leaky = Leaky()
leaky.compile("sgd", "mse")
leaky.predict(x, verbose=0)

seq = keras.Sequential(
    [keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization(name="loop_bn")]
)
optimizer = keras.optimizers.SGD(0.01)
for _ in range(2):
    train_step(seq, optimizer, x, y, training=None)
print("wrong_modes: done")
