import tensorflow as tf


class BadModel(tf.keras.Model):
    def __init__(self, units=32):
        super().__init__()
        self.dense = tf.keras.layers.Dense(units)
        self.batch_norm = tf.keras.layers.BatchNormalization()
        self.dropout = tf.keras.layers.Dropout(0.5)

    def call(self, inputs):
        x = self.dense(inputs)
        x = self.batch_norm(x)  # Missing the training argument
        x = self.dropout(x)  # Missing the training argument
        return x


model = BadModel()
x = tf.random.normal((10, 10))
_ = model(x, training=True)  # Training
output_training = model(x)  # Will not correctly behave in training because it is not set
_ = model(x, training=False)  # Inference
output_inference = model(x)  # Will not behave correctly in inference because it is not set
print(
    "Output training using call method without explicitly setting 'training' argument: ",
    output_training,
)
print(
    "Output inference using call method without explicitly setting 'training' argument: ",
    output_inference,
)
