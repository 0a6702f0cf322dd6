import tensorflow as tf


class GoodModel(tf.keras.Model):
    def __init__(self, units=32):
        super().__init__()
        self.dense = tf.keras.layers.Dense(units)
        self.batch_norm = tf.keras.layers.BatchNormalization()
        self.dropout = tf.keras.layers.Dropout(0.5)

    def call(self, inputs, training=False):  # Added the training parameter to the call method
        x = self.dense(inputs)
        x = self.batch_norm(
            x, training=training
        )  # Now the training argument is passed to the layer
        x = self.dropout(x, training=training)  # Now the training argument is passed to the layer
        return x


model = GoodModel()
x = tf.random.normal((10, 10))
_ = model(x, training=True)  # Training
output_training = model(x, training=True)
_ = model(x, training=False)  # Inference
output_inference = model(x, training=False)
print("Output training using call method with explicit 'training' argument: ", output_training)
print("Output inference using call method with explicit 'training' argument: ", output_inference)
