from keras import layers


class Augment(layers.Layer):
    def call(self, images, training=None):
        return images
