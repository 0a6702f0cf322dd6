"""`TrainingSequential`: a stack of children, each given the caller's resolved `training` mode.

It replaces `keras.Sequential` and the seed's `isinstance` loop over `self.layers_list`. The mode
is resolved once per call (the argument, else the enclosing training-aware call's mode, else
inference), pushed as a frame (so a plain callable that calls layers propagates it too) and passed
explicitly to each child whose signature declares `training`, decided once per child, at `add`.

Why `keras.Model` and not `keras.Sequential`: `Sequential` compiles its stack into a `Functional`
graph whose nodes must be layers, so it cannot hold a plain callable; and Keras special-cases
`isinstance(model, keras.Sequential)` (`clone_model`, `export`, the SavedModel signature,
`plot_model`) assuming every `model.layers` entry is a layer and `model.inputs` exists. A subclass
holding callables would pass those checks and break inside them. So this is a `keras.Model` with
Sequential's surface (constructor, `add`, `pop`, `layers`, `build`, `summary`) plus `len`,
indexing and iteration over *all* children; `layers` lists the Keras layers among them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import keras
from keras.src.backend import compute_output_spec
from keras.src.layers.core.input_layer import InputLayer

from training_aware import _rollback, scope
from training_aware._config import decode, encode, record_arguments
from training_aware.errors import (
    InvalidChildError,
    TrainingConfigError,
    UnserializableChildError,
    describe,
)
from training_aware.signature import accepts_training

__all__ = ["TrainingSequential"]

# Constructor arguments that `get_config` writes from the live model, not from the record.
_BASE_ARGS = ("layers", "trainable", "name")


@keras.saving.register_keras_serializable(package="training_aware")
class TrainingSequential(keras.Model):  # type: ignore[misc]
    """A linear stack of layers and callables that forwards the resolved `training` mode.

    A drop-in for `keras.Sequential`: same constructor, `add`, `pop`, `layers`, `build`,
    `summary`, `fit`/`evaluate`/`predict`, use inside the functional API or another model's
    `call`, `get_config`/`from_config` and `.keras` saving. Children may also be plain callables
    (functions, lambdas, callable objects), with or without a `training` parameter. Mode-dependent
    layers (`Dropout`, `BatchNormalization`) run in the mode of the call; note that a
    `BatchNormalization` with `trainable=False` always runs in inference mode (Keras' rule for
    fine-tuning), whatever `training` says.

    Args:
        layers: optional list of children: Keras layers or models, nested `TrainingSequential`s,
            or callables. A `keras.Input(...)` first sets the input shape and builds the model.
        trainable: whether the model's weights are trainable (not the train/inference mode).
        name: the model's name.

    Call arguments:
        inputs: the input tensor (or nested structure) given to the first child.
        training: `True` (training), `False` (inference) or `None`: the enclosing
            training-aware call's mode, else inference. `fit` passes `True`, `predict` and
            `evaluate` pass `False`.
        mask: optional mask, passed to the first child if it accepts one.

    Example:

    ```python
    model = TrainingSequential([
        keras.layers.Dense(8),
        keras.layers.BatchNormalization(),
        lambda x: keras.ops.relu(x),
        keras.layers.Dropout(0.2),
    ])
    y = model(np.ones((4, 3)), training=True)  # BatchNorm and Dropout in training mode
    ```
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> TrainingSequential:
        instance: TrainingSequential = super().__new__(cls)
        # Recorded here, not in `__init__`: `__new__` sees exactly the arguments the most derived
        # class was constructed with (Keras' own auto-config records only defaults for Models,
        # FACTS F14), so a subclass with extra constructor arguments round-trips them.
        arguments = record_arguments(cls, args, kwargs)
        extra = {k: v for k, v in arguments.items() if k not in _BASE_ARGS}
        object.__setattr__(instance, "_constructor_arguments", extra)
        return instance

    def __init__(
        self,
        layers: Sequence[Any] | None = None,
        trainable: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name)
        scope.ensure_hook()
        self._children: list[Any] = []
        self._input_batch_shape: tuple[Any, ...] | None = None
        self._input_dtype: str | None = None
        self._set_plan(())
        for child in layers or ():
            self.add(child, rebuild=False)
        self._maybe_rebuild()

    # -- the stack -------------------------------------------------------------------------

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Append a child: a layer, a model, a `TrainingSequential` or a callable.

        Args:
            layer: the child. A `keras.Input(...)` tensor or an `InputLayer` is accepted as the
                first entry and sets the input shape instead of becoming a child.
            rebuild: rebuild the model now if its input shape is known.

        Raises:
            InvalidChildError: `layer` is not callable, or is a class instead of an instance.
        """
        index = len(self._children)
        if isinstance(layer, keras.KerasTensor) and isinstance(
            getattr(layer, "_keras_history", (None,))[0], InputLayer
        ):
            layer = layer._keras_history[0]  # `keras.Input(...)`: it sets the input shape
        if isinstance(layer, InputLayer):
            if index != 0 or self._input_batch_shape is not None:
                raise TrainingConfigError(
                    f"TrainingSequential '{self.name}': an input (`keras.Input`/`InputLayer`) "
                    f"was given as child {index}; it can only come first, once. Fix: remove it."
                )
            self._input_batch_shape = tuple(layer.batch_shape)
            self._input_dtype = layer.dtype
        else:
            _check_child(layer, index)
            if isinstance(layer, keras.layers.Layer) and not self._name_is_unique(layer):
                raise TrainingConfigError(
                    f"TrainingSequential '{self.name}': child {index} is named '{layer.name}', "
                    "which is already the name of another child. Layer names must be unique "
                    "within the model. Fix: pass a unique `name=` to the layer."
                )
            self._children.append(layer)
            self._set_plan((*self._plan, (layer, _takes_training(layer))))
            self.built = False
        if rebuild:
            try:
                self._maybe_rebuild()
            except BaseException:
                if self._children and self._children[-1] is layer:
                    self.pop(rebuild=False)  # a failed `add` leaves the stack as it was
                raise

    def pop(self, rebuild: bool = True) -> Any:
        """Remove and return the last child.

        Args:
            rebuild: rebuild the model now if its input shape is known.
        """
        if not self._children:
            raise IndexError(f"TrainingSequential '{self.name}' has no children to pop.")
        child = self._children.pop()
        self._set_plan(self._plan[:-1])
        if rebuild:
            self._maybe_rebuild()
        return child

    @property
    def layers(self) -> list[Any]:
        """The Keras layers among the children, in order (plain callables have no weights)."""
        return [c for c in self._children if isinstance(c, keras.layers.Layer)]

    @layers.setter
    def layers(self, _: Any) -> None:
        raise AttributeError("`TrainingSequential.layers` is read-only: use `add()` and `pop()`.")

    def __len__(self) -> int:
        return len(self._children)

    def __getitem__(self, index: int | slice) -> Any:
        return self._children[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._children))

    def __bool__(self) -> bool:
        # An empty stack is still a model: `if model:` must not depend on its length.
        return True

    def _set_plan(self, plan: tuple[tuple[Any, bool], ...]) -> None:
        # (child, passes `training`), decided once per child at `add`. Stored untracked: the
        # children are tracked through `_children`.
        self._plan: tuple[tuple[Any, bool], ...]
        object.__setattr__(self, "_plan", plan)

    def _name_is_unique(self, layer: Any) -> bool:
        return all(
            not isinstance(c, keras.layers.Layer) or c.name != layer.name or c is layer
            for c in self._children
        )

    def _maybe_rebuild(self) -> None:
        if self._input_batch_shape is not None and self._children:
            self.build(self._input_batch_shape)

    def _lock_state(self) -> None:
        # Like keras.Sequential: the stack stays mutable after build.
        pass

    # -- building and calling --------------------------------------------------------------

    @property
    def input_dtype(self) -> Any:
        return self._input_dtype or super().input_dtype

    def build(self, input_shape: Any = None) -> None:
        """Create every child's weights by tracing the stack on symbolic inputs of this shape.

        Args:
            input_shape: the batch input shape, e.g. `(None, 16)`, or a nested structure of
                shapes for a stack whose first child takes several inputs.
        """
        if input_shape is None:
            return
        if not self._children:
            raise TrainingConfigError(
                f"TrainingSequential '{self.name}' cannot be built because it has no children. "
                "Fix: call `model.add(layer)` first."
            )
        dtype = self.input_dtype
        inputs = keras.tree.map_shape_structure(
            lambda shape: keras.KerasTensor(shape, dtype=dtype), input_shape
        )
        compute_output_spec(self.call, inputs, training=False)
        if all(d is None or isinstance(d, int) for d in input_shape):  # one input: remember it
            self._input_batch_shape = tuple(input_shape)

    # TensorFlow's AutoGraph must not convert this plumbing when a user's `tf.function` calls the
    # model (it runs as plain Python at trace time, as Keras' own `__call__` does); the marker is
    # the one `tf.autograph.experimental.do_not_convert` sets, and means nothing to other backends.
    autograph_info__ = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # `seq(x, training=True)` must not reach the caller's later children (FACTS F3).
        return scope.call_keeping_context(super().__call__, *args, **kwargs)

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        if training is not None and training is not True and training is not False:
            training = scope.validate_training(training, f"TrainingSequential '{self.name}'")
        mode = scope.resolve(training)
        frame = scope.Frame(mode, None, self)
        return scope.run_in_frame(frame, self._run, (inputs, mode, mask), {})

    def _run(self, x: Any, mode: Any, mask: Any) -> Any:
        return _rollback.transaction(self, mode, self._run_children, x, mode, mask)

    def _run_children(self, x: Any, mode: Any, mask: Any) -> Any:
        plan = self._plan
        if mask is not None and plan and getattr(plan[0][0], "_call_has_mask_arg", False):
            child, passes = plan[0]
            x = child(x, training=mode, mask=mask) if passes else child(x, mask=mask)
            plan = plan[1:]
        for child, passes in plan:
            x = child(x, training=mode) if passes else child(x)
        return x

    # -- serialization ---------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The children's configs plus a subclass's own constructor arguments (FACTS F14).

        Raises:
            UnserializableChildError: a child is a plain callable, or a constructor argument is
                neither a primitive nor a Keras-serializable object.
        """
        children = []
        for index, child in enumerate(self._children):
            if not isinstance(child, keras.layers.Layer):
                raise UnserializableChildError(
                    f"Cannot serialize TrainingSequential '{self.name}': child {index} is the "
                    f"plain callable {describe(child)}. A plain callable cannot be saved "
                    "without pickling code. Fix: make it a registered Layer subclass "
                    "(@keras.saving.register_keras_serializable()) or wrap it in "
                    "keras.layers.Lambda(fn)."
                )
            children.append(keras.saving.serialize_keras_object(child))
        where = type(self).__qualname__
        config = {k: encode(v, f"{where}({k}=...)") for k, v in self._constructor_arguments.items()}
        config.update(name=self.name, trainable=self.trainable, layers=children)
        if self._input_batch_shape is not None:
            config["build_input_shape"] = list(self._input_batch_shape)
        if self._input_dtype is not None:
            config["input_dtype"] = self._input_dtype
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> TrainingSequential:
        config = dict(config)
        children = [
            keras.saving.deserialize_keras_object(c, custom_objects=custom_objects)
            for c in config.pop("layers", [])
        ]
        shape = config.pop("build_input_shape", None)
        dtype = config.pop("input_dtype", None)
        parameters = inspect.signature(cls.__init__).parameters
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        kwargs = {
            key: decode(value, custom_objects)
            for key, value in config.items()
            if key in parameters or open_kwargs
        }
        if "layers" in parameters:
            model = cls(layers=children, **kwargs)
        else:
            model = cls(**kwargs)
            _match_children(model, children)
        if shape is not None and model._input_batch_shape is None:
            model._input_dtype = dtype
            model.build(tuple(shape))
        return model


# -- helpers ---------------------------------------------------------------------------------


def _takes_training(child: Any) -> bool:
    if isinstance(child, keras.layers.Layer):
        return bool(child._call_has_training_arg)
    return accepts_training(child)


def _check_child(child: Any, index: int) -> None:
    if isinstance(child, type):
        raise InvalidChildError(
            f"TrainingSequential child {index} is the class {child.__qualname__}, not an "
            "instance. Expected a layer, a model or a callable. "
            f"Fix: instantiate it, e.g. {child.__qualname__}(...)."
        )
    if not callable(child):
        raise InvalidChildError(
            f"TrainingSequential child {index} is {describe(child)}, which is not callable. "
            "Expected a Keras layer or model, a TrainingSequential, or a callable (function, "
            "lambda, object with __call__). Fix: pass a layer such as keras.layers.Dense(8)."
        )


def _match_children(model: TrainingSequential, saved: list[Any]) -> None:
    """A subclass that builds its own children: keep them, then append those added later."""
    made = [type(c).__name__ for c in model]
    wanted = [type(c).__name__ for c in saved]
    if wanted[: len(made)] != made:
        raise TrainingConfigError(
            f"{type(model).__qualname__}.from_config: the constructor made the children "
            f"{made}, but the saved model has {wanted}. The stack was changed after "
            "construction in a way that cannot be replayed. Fix: accept a `layers` argument in "
            "the constructor, or override get_config()/from_config()."
        )
    for child in saved[len(made) :]:
        model.add(child, rebuild=False)
