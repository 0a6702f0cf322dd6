"""A custom training loop."""

import keras
import tensorflow as tf

from textclf import build_regressor

from .models import build_classifier


def train_classifier(x, y, steps=2):
    model = build_classifier()
    optimizer = keras.optimizers.SGD(0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))  # dropped: the model of models.py trains in inference
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return model


def train_regressor(x, y):
    model = build_regressor()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    return model
