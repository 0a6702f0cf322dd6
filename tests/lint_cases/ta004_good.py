import keras
from keras import layers

from training_aware import PinnedMode


class MCModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = PinnedMode(layers.Dropout(0.5), training=True)
        self.norm = layers.BatchNormalization()

    def call(self, x, training=None):
        x = self.drop(x, training=training)
        return self.norm(x, training=training)


inputs = keras.Input((4,))
outputs = PinnedMode(layers.Dropout(0.5), training=True)(inputs)
