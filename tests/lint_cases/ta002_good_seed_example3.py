import tensorflow as tf


class ComplexModel(tf.keras.Model):
    def __init__(self, units=64, num_layers=3):
        super().__init__()
        self.layers_list = []
        for _ in range(num_layers):
            self.layers_list.append(tf.keras.layers.Dense(units))
            self.layers_list.append(tf.keras.layers.BatchNormalization())
            self.layers_list.append(tf.keras.layers.Dropout(0.2))

    def call(self, inputs, training=False):
        x = inputs
        for layer in self.layers_list:
            if isinstance(layer, tf.keras.layers.BatchNormalization) or isinstance(  # noqa: SIM101
                layer, tf.keras.layers.Dropout
            ):
                x = layer(x, training=training)  # Explicitly pass 'training' to these layers
            else:
                x = layer(x)
        return x


model = ComplexModel()
x = tf.random.normal((10, 10))

_ = model(x, training=True)
output_training = model(x, training=True)
_ = model(x, training=False)
output_inference = model(x, training=False)
print(
    "Output training using call method with explicit 'training' argument in a complex model: ",
    output_training,
)
print(
    "Output inference using call method with explicit 'training' argument in a complex model: ",
    output_inference,
)
