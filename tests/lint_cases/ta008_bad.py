import keras


class Logged(keras.layers.Layer):
    def __call__(self, inputs):
        print("called")
        return self.call(inputs)

    def call(self, inputs):
        return inputs
