"""Correct Keras code, in many shapes; `training-aware run` must report nothing."""

import keras
import numpy as np
from _steps import train_step

from training_aware import PinnedMode, TrainingAwareModel, mc_predict

rng = np.random.default_rng(0)
x = rng.normal(size=(16, 4)).astype("float32")
y = np.ones((16, 8), "float32")


class GoodModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.batch_norm = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(0.5)

    def call(self, inputs, training=None):
        h = self.batch_norm(self.dense(inputs), training=training)
        return self.dropout(h, training=training)


class Forgetful(TrainingAwareModel):  # drops the flag; the library forwards it
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(8)
        self.batch_norm = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(0.5)

    def call(self, inputs):
        return self.dropout(self.batch_norm(self.dense(inputs)))


class FineTune(keras.Model):  # a frozen base kept in inference mode on purpose
    def __init__(self):
        super().__init__()
        self.base = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization()])
        self.base.trainable = False
        self.head = keras.layers.Dense(8)
        self.dropout = keras.layers.Dropout(0.3)

    def call(self, inputs, training=None):
        h = self.base(inputs, training=False)
        return self.head(self.dropout(h, training=training))


def sequential():
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            keras.layers.GaussianNoise(0.1),
        ]
    )


def functional():
    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inputs))
    h = PinnedMode(keras.layers.Dropout(0.2), training=True)(h)
    return keras.Model(inputs, keras.layers.Dropout(0.5)(h))


for make in (GoodModel, Forgetful, FineTune, sequential, functional):
    model = make()
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, validation_data=(x, y))
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model.train_on_batch(x, y)
    model.test_on_batch(x, y)
    model.predict_on_batch(x)
    model(x, training=False)
    model(x)

mc_predict(sequential(), x, samples=3)

loop = sequential()
optimizer = keras.optimizers.SGD(0.01)
for _ in range(2):
    train_step(loop, optimizer, x, y, training=True)
loop(x)  # an inference call after training
print("right_modes: done")
