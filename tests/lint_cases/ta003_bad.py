import keras


class AlwaysDrop(keras.layers.Dropout):
    def call(self, x, training=None):
        return super().call(x)


class Wrapper(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x, training=None):
        return self.drop.call(x)
