import keras


class Logged(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)

    def __call__(self, inputs, **kwargs):
        print("called")
        return super().__call__(inputs, **kwargs)

    def call(self, inputs, training=None):
        return self.drop(inputs, training=training)


class AnchorGenerator(keras.layers.Layer):
    # nothing mode-dependent: overriding `__call__` loses nothing
    def __call__(self, image_shape):
        return self.call(image_shape)

    def call(self, image_shape):
        return image_shape


class Forwarding(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)

    def __call__(self, inputs, training=None):
        return self.call(inputs, training=training)

    def call(self, inputs, training=None):
        return self.drop(inputs, training=training)
