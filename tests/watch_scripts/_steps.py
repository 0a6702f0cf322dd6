"""A custom training step per backend (GradientTape, torch autograd, jax.grad), for the scripts.

`forward(model, x, training)` is the step's model call: `training` is passed only when it is not
`None`, so a script can show a loop that forgets it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def forward(model: Any, x: Any, training: bool | None) -> Any:
    return model(x) if training is None else model(x, training=training)


def train_step(
    model: Any, optimizer: Any, x: np.ndarray, y: np.ndarray, training: bool | None
) -> None:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.mean((forward(model, x, training) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=False))
    elif backend == "torch":
        import torch

        model.zero_grad()
        loss = ((forward(model, x, training) - torch.as_tensor(y)) ** 2).mean()
        loss.backward()
        grads = [v.value.grad for v in model.trainable_variables]
        with torch.no_grad():
            optimizer.apply(grads, model.trainable_variables)
    else:
        import jax

        if not model.built:
            model(x)  # build it (an inference call: the optimizer step after it is not its own)
        optimizer.build(model.trainable_variables)
        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        ov = [v.value for v in optimizer.variables]

        def loss_fn(tv: Any, ntv: Any) -> Any:
            if training is None or not model._call_has_training_arg:  # a call without it
                pred, ntv = model.stateless_call(tv, ntv, x)
            else:
                pred, ntv = model.stateless_call(tv, ntv, x, training=training)
            return keras.ops.mean((pred - y) ** 2), ntv

        (_, ntv), grads = jax.value_and_grad(loss_fn, has_aux=True)(tv, ntv)
        tv, ov = optimizer.stateless_apply(ov, grads, tv)
        for variable, value in zip(model.trainable_variables, tv, strict=False):
            variable.assign(value)
        for variable, value in zip(model.non_trainable_variables, ntv, strict=False):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, ov, strict=False):
            variable.assign(value)
