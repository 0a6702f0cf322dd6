"""`PinnedMode`: a wrapper layer that always runs its layer in one mode, and leaks nothing.

The usual ways to pin a mode in Keras 3 each fail somewhere (FACTS.md): an explicit
`self.drop(x, training=True)` is written into Keras' shared call context and reaches the siblings
that run after it (F3: a later BatchNorm updates its statistics during `predict`); a hard-coded
`Dropout(..)(x, training=True)` in a Functional model is overwritten by `predict`'s `False` (F4); a
`Dropout` subclass that forces `training=True` cannot be reloaded without `custom_objects` (F6).

`PinnedMode` is a registered `keras.layers.Wrapper`: its `call` pushes a frame with the pinned mode
(so the wrapped layer's own sublayers receive it too), passes the mode explicitly to the wrapped
layer, and restores Keras' shared call context on the way out, so the siblings see exactly what
they would have seen without it. Nothing of this is saved: the config is the wrapped layer's
config plus the bool, and a model holding `PinnedMode` reloads with plain
`keras.models.load_model`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras.src.backend import compute_output_spec

from training_aware import _hook, _stack
from training_aware._registry import serializable
from training_aware.errors import InvalidChildError, TrainingValueError, describe

__all__ = ["PinnedMode"]


@serializable
class PinnedMode(keras.layers.Wrapper):  # type: ignore[misc]
    """Always run `layer` in the given mode, whatever the caller passes, without leaking it.

    The mode is a property of this wrapper, not of the call: `predict`, `evaluate`, `fit` and
    direct calls all run the wrapped layer (and every layer inside it) with `training=training`,
    and the layers called after the wrapper still get the caller's mode. Use it for Monte Carlo
    dropout (`PinnedMode(Dropout(0.2), training=True)`) or to keep a block in inference mode during
    `fit` (`PinnedMode(block, training=False)`). Note that pinning `training=False` does not freeze
    weights: the block's trainable weights are still updated by the optimizer; set
    `block.trainable = False` for that.

    Args:
        layer: the `keras.layers.Layer` (or model) to run in the pinned mode.
        training: `True` (training mode) or `False` (inference mode). Must be a Python bool.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the wrapped layer's inputs.
        *args: further positional arguments for the wrapped layer.
        **kwargs: other call arguments for the wrapped layer (such as `mask`). A `training`
            passed by the caller is ignored: the pinned mode wins.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import PinnedMode

    inputs = keras.Input((8,))
    x = keras.layers.Dense(8)(inputs)
    x = PinnedMode(keras.layers.Dropout(0.5), training=True)(x)  # on in predict() too
    outputs = keras.layers.BatchNormalization()(x)  # still inference mode in predict()
    model = keras.Model(inputs, outputs)
    data = np.ones((4, 8), "float32")
    assert not np.array_equal(model.predict(data, verbose=0), model.predict(data, verbose=0))
    ```
    """

    def __init__(self, layer: keras.layers.Layer, training: bool, **kwargs: Any) -> None:
        if not isinstance(layer, keras.layers.Layer):
            raise InvalidChildError(
                f"PinnedMode(layer=...) received {describe(layer)}, which is not a Keras layer. "
                "Expected a keras.layers.Layer or keras.Model instance. Fix: wrap a layer, e.g. "
                "PinnedMode(keras.layers.Dropout(0.2), training=True); for a plain function, "
                "use keras.layers.Lambda(fn) first."
            )
        if isinstance(training, np.bool_):
            training = bool(training)
        if training is not True and training is not False:
            raise TrainingValueError(
                f"PinnedMode(training=...) received {describe(training)}. Expected a Python "
                "bool: the mode is fixed when the model is built, not per call. Fix: "
                "PinnedMode(layer, training=True) or training=False; for a mode chosen per call, "
                "do not wrap the layer."
            )
        super().__init__(layer, **kwargs)
        _hook.ensure_hook()
        # Not `self.training`: on the torch backend that is `torch.nn.Module.training`, which
        # `fit` toggles with `train()`/`eval()`.
        self._pinned = training
        self._passes_training = bool(layer._call_has_training_arg)
        self.supports_masking = bool(getattr(layer, "supports_masking", False))

    # TensorFlow's AutoGraph must not convert this plumbing when a user's `tf.function` calls the
    # model (it runs as plain Python at trace time, as Keras' own `__call__` does); the marker is
    # the one `tf.autograph.experimental.do_not_convert` sets, and means nothing to other backends.
    autograph_info__ = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Keras writes the resolved mode of every call into the caller's shared call context and
        # never restores it (FACTS F3); leave that context exactly as it was found.
        kept = _hook.keep_context()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            _hook.restore_context(kept)

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("training", None)
        if self._passes_training:
            kwargs["training"] = self._pinned
        token = _stack.push(self._pinned, None, self)
        try:
            return self.layer(inputs, *args, **kwargs)
        finally:
            _stack.pop(token)

    @property
    def pinned_training(self) -> bool:
        """The mode the wrapped layer always runs in."""
        return self._pinned

    def build(self, input_shape: Any = None) -> None:
        """Build the wrapped layer by tracing it on symbolic inputs of this shape.

        A wrapped layer that takes several required inputs (`MultiHeadAttention(query, value)`)
        is left to build itself on its first call, as Keras does for a layer it cannot trace.
        """
        if self.layer.built or input_shape is None:
            return
        required = [
            p
            for p in self.layer._call_signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        if len(required) > 1:
            return
        dtype = self.input_dtype
        inputs = keras.tree.map_shape_structure(
            lambda shape: keras.KerasTensor(shape, dtype=dtype), input_shape
        )
        compute_output_spec(self.call, inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.layer.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("training", None)
        return self.layer.compute_output_spec(inputs, *args, **kwargs)

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        return self.layer.compute_mask(inputs, previous_mask)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config["training"] = self._pinned
        return config

    def __repr__(self) -> str:
        if "_pinned" not in vars(self):  # not initialised (an error in __init__)
            return "<PinnedMode (uninitialised)>"
        return f"<PinnedMode name={self.name}, layer={self.layer.name}, training={self._pinned}>"
