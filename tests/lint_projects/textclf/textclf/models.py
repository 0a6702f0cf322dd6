"""Models built from the blocks of `layers.py`."""

import keras
from keras import layers

from .layers import Encoder, NoisyEmbedding, ResidualBlock, make_head


class Classifier(keras.Model):
    def __init__(self, units=8, depth=2, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.embed = NoisyEmbedding(units)
        self.blocks = [ResidualBlock(units) for _ in range(depth)]
        self.encoder = Encoder(units)
        self.pool_drop = layers.Dropout(0.2)
        self.head = make_head(classes)

    def call(self, x, training=None):
        x = self.embed(x)  # dropped: a layer attribute whose class lives in layers.py
        for block in self.blocks:
            x = block(x)  # dropped: a block class imported from layers.py, called in a loop
        x = self.encoder(x, training=training)
        x = self.pool_drop(x)  # dropped
        return self.head(x)  # dropped: a factory function of layers.py builds it


class Regressor(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = layers.BatchNormalization()
        self.drop = layers.Dropout(0.3)
        self.out = layers.Dense(1)

    def call(self, x):
        x = self.norm(x)  # dropped: `call` has no `training`
        return self.out(self.drop(x))  # dropped


def build_classifier(units=8, classes=3):
    return Classifier(units=units, classes=classes)


def build_regressor():
    return Regressor()
