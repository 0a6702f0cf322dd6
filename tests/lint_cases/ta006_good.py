import keras
import tensorflow as tf

model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5)])
optimizer = keras.optimizers.SGD()


def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.mean_squared_error(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))


class Custom(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = self.compute_loss(y=y, y_pred=self(x, training=True))
        return tape.gradient(loss, self.trainable_variables)
