import keras


class Logged(keras.layers.Layer):
    def __call__(self, inputs, **kwargs):
        print("called")
        return super().__call__(inputs, **kwargs)

    def call(self, inputs):
        return inputs
