import tensorflow as tf
from keras.layers import Dropout as Drop


class Encoder(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [Drop(0.1) for _ in range(3)]
        self.heads = {"a": tf.keras.layers.BatchNormalization()}
        self.out = tf.keras.layers.Dense(2)

    def call(self, x, training=False):
        for block in self.blocks:
            x = block(x, training=training)
        x = self.heads["a"](x, training=training)
        return self.out(x)
