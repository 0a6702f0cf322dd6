"""Reusable blocks."""

import keras
from keras import layers


class ResidualBlock(layers.Layer):
    """Dense, BatchNorm and Dropout with a skip connection."""

    def __init__(self, units, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)
        self.norm = layers.BatchNormalization()
        self.drop = layers.Dropout(rate)

    def call(self, x, training=None):
        h = self.norm(self.dense(x), training=training)
        return x + self.drop(h, training=training)


class NoisyEmbedding(layers.Layer):
    """A projection with Gaussian noise while training."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.proj = layers.Dense(dim)
        self.noise = layers.GaussianNoise(0.5)

    def call(self, x, training=None):
        return self.noise(self.proj(x), training=training)


class Encoder(layers.Layer):
    """Two residual blocks."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.first = ResidualBlock(units)
        self.second = ResidualBlock(units)

    def call(self, x, training=None):
        x = self.first(x, training=training)
        return self.second(x)  # dropped (latent): the caller passes `training`


def make_head(classes):
    return keras.Sequential([layers.Dropout(0.2), layers.Dense(classes)])
