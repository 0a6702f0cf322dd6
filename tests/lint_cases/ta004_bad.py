import keras
from keras import layers


class MCModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = layers.Dropout(0.5)
        self.norm = layers.BatchNormalization()

    def call(self, x, training=None):
        x = self.drop(x, training=True)
        return self.norm(x, training=training)


inputs = keras.Input((4,))
outputs = layers.Dropout(0.5)(inputs, training=True)
