import tensorflow as tf
from keras.layers import Dropout as Drop


class Encoder(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [Drop(0.1) for _ in range(3)]
        self.heads = {"a": tf.keras.layers.BatchNormalization()}

    def call(self, x, training=False):
        for block in self.blocks:
            x = block(x)
        return self.heads["a"](x)
