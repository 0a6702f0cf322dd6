"""`TrainingSequential`: a stack of children, each given the caller's resolved `training` mode.

It replaces `keras.Sequential` and the classic `ComplexModel` example's `isinstance` loop over
`self.layers_list`. The mode is resolved once per call (the argument, else the enclosing
training-aware call's mode, else inference), pushed as a frame (so a plain callable that calls
layers propagates it too) and passed explicitly to each child whose signature declares `training`,
decided once per child, at `add`.

Building is Keras' own: once the input shape is known (a `keras.Input` first, the legacy
`input_shape=`/`input_dim=` of the first layer, a first child that knows its input shape,
`build(shape)`, or the first call), each child is called on the previous child's `KerasTensor`,
layer by layer, and the result is kept as a `Functional` graph (`_functional`, as in
`keras.Sequential`). That graph gives `inputs`/`outputs`/`input_shape`/`output_shape`,
`layers[i].input/.output`, `compute_output_shape` and the export signature; the model's own `call`
still runs the stack directly (that is where the mode is forwarded, and it is faster than replaying
the graph). A plain callable enters the graph wrapped in a private `CallableChild` layer that is
neither tracked nor saved.

Why `keras.Model` and not `keras.Sequential`: Keras special-cases `isinstance(model,
keras.Sequential)` in `clone_model` (which rebuilds a *plain* `keras.Sequential` from
`model.layers`: a subclass would come back silently as a model that no longer forwards the mode
and has lost its plain callables), in `plot_model` and in `export`; and `Sequential`'s
`layers`/`_layers` bookkeeping assumes every child is a layer. The `keras.Model` route keeps
`clone_model(model)` returning a `TrainingSequential` and reproduces the rest of the surface here;
what remains different is listed in docs/sequential.md ("Differences from keras.Sequential").
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import keras
from keras.src.backend import compute_output_spec
from keras.src.backend.common.variables import standardize_shape
from keras.src.layers.core.input_layer import InputLayer
from keras.src.models.functional import Functional

from training_aware import _hook, _stack
from training_aware._config import decode, encode, record_arguments
from training_aware._registry import serializable
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

# Internal bookkeeping, hidden from `dir()`: Keras' saver walks `dir(model)`, and none of this
# belongs in a weights file (the children are saved once, under `layers/`, as keras.Sequential's).
_UNSAVED = frozenset(
    {
        "_children",
        "_plan",
        "_functional",
        "_input_layer",
        "_wrappers",
        "_input_rank",
        "_constructor_arguments",
    }
)


class CallableChild(keras.layers.Layer):  # type: ignore[misc]
    """A plain callable child as a node of the symbolic graph (private: never tracked or saved).

    It exists so that `model.inputs`/`outputs`, `layers[i].output` and a feature extractor built
    from them work when the stack holds functions or lambdas; the model's own `call` runs the
    callable directly.
    """

    def __init__(self, fn: Any, passes_training: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        object.__setattr__(self, "_fn", fn)
        self._passes = passes_training
        self.built = True

    def call(self, inputs: Any, training: Any = None) -> Any:
        if self._passes and training is not None:
            return self._fn(inputs, training=training)
        return self._fn(inputs)

    def get_config(self) -> dict[str, Any]:
        raise UnserializableChildError(
            f"Cannot serialize the plain callable {describe(self._fn)} (layer '{self.name}', "
            "taken from a TrainingSequential's graph). A plain callable cannot be saved without "
            "pickling code. Fix: make it a registered Layer subclass "
            "(@keras.saving.register_keras_serializable()) or wrap it in keras.layers.Lambda(fn)."
        )


@serializable
class TrainingSequential(keras.Model):  # type: ignore[misc]
    """A linear stack of layers and callables that forwards the resolved `training` mode.

    A drop-in for `keras.Sequential`: same constructor, `add`, `pop`, `layers`, `build`,
    `summary`, `inputs`/`outputs`/`input_shape`/`output_shape` once the input shape is known,
    `compute_output_shape`, `fit`/`evaluate`/`predict`, use inside the functional API or another
    model's `call`, `get_config`/`from_config`, `.keras` saving and `export`. Children may also be
    plain callables (functions, lambdas, callable objects), with or without a `training`
    parameter. Mode-dependent layers (`Dropout`, `BatchNormalization`) run in the mode of the
    call; note that a `BatchNormalization` with `trainable=False` always runs in inference mode
    (Keras' rule for fine-tuning), whatever `training` says.

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
    import keras
    import numpy as np
    from training_aware import TrainingSequential

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
        _hook.ensure_hook()
        self._children: list[Any] = []
        self._set_plan(())
        self._untracked("_input_layer", None)
        self._untracked("_functional", None)
        self._untracked("_wrappers", {})
        self._untracked("_input_rank", None)
        for child in layers or ():
            self.add(child, rebuild=False)
        self._maybe_rebuild()

    def _untracked(self, name: str, value: Any) -> None:
        # Keras tracks every layer assigned as an attribute; these must not be weights' owners.
        object.__setattr__(self, name, value)

    def __dir__(self) -> list[str]:
        return [name for name in super().__dir__() if name not in _UNSAVED]

    def _obj_type(self) -> str:
        # What Keras' saver calls it: the children are saved under `layers/` first, as
        # keras.Sequential's are, so `.weights.h5` files move between the two.
        return "Sequential"

    # -- the stack -------------------------------------------------------------------------

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Append a child: a layer, a model, a `TrainingSequential` or a callable.

        Args:
            layer: the child. A `keras.Input(...)` tensor or an `InputLayer` is accepted as the
                first entry and sets the input shape instead of becoming a child. As in
                keras.Sequential, a first layer constructed with the legacy `input_shape=` or
                `input_dim=` sets it too.
            rebuild: rebuild the model now if its input shape is known.

        Raises:
            InvalidChildError: `layer` is not callable, or is a class instead of an instance
                (a `ValueError`, as keras.Sequential raises, and a `TypeError`).
            TrainingConfigError: a second input, or a layer name used twice.
        """
        index = len(self._children)
        if (
            not self._children
            and self._input_layer is None
            and getattr(layer, "_input_shape_arg", None) is not None
        ):
            self._untracked("_input_layer", InputLayer(shape=layer._input_shape_arg))
        origin: Any = getattr(getattr(layer, "_keras_history", None), "operation", None)
        if isinstance(layer, keras.KerasTensor) and isinstance(origin, InputLayer):
            layer = origin  # `keras.Input(...)`: it sets the input shape
        if isinstance(layer, InputLayer):
            if self._input_layer is not None:
                raise TrainingConfigError(
                    f"TrainingSequential '{self.name}' has already been configured to use input "
                    f"shape {self._input_layer.batch_shape}. You cannot add a different Input "
                    "layer to it. Fix: remove the second `keras.Input`/`InputLayer`."
                )
            if index != 0:
                raise TrainingConfigError(
                    f"TrainingSequential '{self.name}': an input (`keras.Input`/`InputLayer`) "
                    f"was given as child {index}; it can only come first, once. Fix: move it "
                    "to the front."
                )
            self._untracked("_input_layer", layer)
        else:
            _check_child(layer, index)
            if isinstance(layer, keras.layers.Layer) and not self._name_is_unique(layer):
                raise TrainingConfigError(
                    f"All layers added to a TrainingSequential should have unique names: child "
                    f"{index} is named '{layer.name}', which is already the name of a layer in "
                    f"model '{self.name}'. Fix: pass a unique `name=` to the layer."
                )
            self._children.append(layer)
            self._set_plan((*self._plan, (layer, _takes_training(layer))))
        if rebuild:
            try:
                self._maybe_rebuild()
            except BaseException:
                if self._children and self._children[-1] is layer:
                    self.pop(rebuild=False)  # a failed `add` leaves the stack as it was
                    self._maybe_rebuild()
                raise
        else:
            self._forget_graph()

    def pop(self, rebuild: bool = True) -> Any:
        """Remove and return the last child.

        Args:
            rebuild: rebuild the model now if its input shape is known.
        """
        if not self._children:
            raise IndexError(f"TrainingSequential '{self.name}' has no children to pop.")
        child = self._children.pop()
        self._set_plan(self._plan[:-1])
        self._forget_graph()
        if rebuild:
            self._maybe_rebuild()
        return child

    @property
    def layers(self) -> list[Any]:
        """The Keras layers among the children, in order (plain callables have no weights)."""
        return [c for c in self._children if isinstance(c, keras.layers.Layer)]

    @layers.setter
    def layers(self, _: Any) -> None:
        raise AttributeError(
            "`TrainingSequential.layers` is read-only. "
            "Use `add()` and `pop()` to change the layers in this model."
        )

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

    def _forget_graph(self) -> None:
        self.built = False
        self._untracked("_functional", None)
        self._untracked("_input_rank", None)

    def _maybe_rebuild(self) -> None:
        self._forget_graph()
        if not self._children:
            return
        if self._input_layer is not None:
            self.build(tuple(self._input_layer.batch_shape))
            return
        shape = _known_input_shape(self._children[0])
        if shape is not None:
            self.build(shape)

    def _lock_state(self) -> None:
        # Like keras.Sequential: the stack stays mutable after build.
        pass

    # -- building --------------------------------------------------------------------------

    @property
    def input_dtype(self) -> Any:
        if self._input_layer is not None:
            return self._input_layer.dtype
        return super().input_dtype

    def build(self, input_shape: Any = None) -> None:
        """Build the children layer by layer on a symbolic input of this shape, as Keras does.

        Each child is called on the previous child's `KerasTensor` (so a child whose `build`
        creates tensors, such as `Normalization(mean=..., variance=...)`, builds outside any
        trace), and the result becomes the model's graph: `inputs`, `outputs`, `input_shape`,
        `output_shape` and `layers[i].input/.output` are then defined.

        Args:
            input_shape: the batch input shape, e.g. `(None, 16)`, or a nested structure of
                shapes for a stack whose first child takes several inputs (no graph then: the
                children are built by tracing the stack).

        Raises:
            TrainingConfigError: the model has no children, or was configured with another
                input shape (a `ValueError`, as in keras.Sequential).
        """
        if input_shape is None:
            return
        if not self._children:
            raise TrainingConfigError(
                f"TrainingSequential '{self.name}' cannot be built because it has no layers. "
                "Fix: call `model.add(layer)` first."
            )
        try:
            shape = standardize_shape(input_shape)
        except (ValueError, TypeError):
            shape = None
        if shape is None or not all(d is None or isinstance(d, int) for d in shape):
            self._build_nested(input_shape)
            return
        if self._input_layer is not None:
            if tuple(self._input_layer.batch_shape) != tuple(shape):
                raise TrainingConfigError(
                    f"TrainingSequential '{self.name}' has already been configured to use input "
                    f"shape {self._input_layer.batch_shape}. You cannot build it with "
                    f"input_shape {shape}. Fix: build (or call) it with the configured shape."
                )
        else:
            first = self._children[0]
            dtype = first.compute_dtype if isinstance(first, keras.layers.Layer) else None
            self._untracked("_input_layer", InputLayer(batch_shape=shape, dtype=dtype))
        self._build_graph()

    def _build_graph(self) -> None:
        inputs = self._input_layer.output
        x = inputs
        # No training-aware mode may reach the graph's nodes: they record no `training`, as
        # keras.Sequential's do, and a replay (a feature extractor) resolves its own.
        with _hook.frame(_stack.NO_MODE):
            for child, passes in self._plan:
                node = self._node(child, passes)
                try:
                    y = node(x) if not _requires_training(node) else node(x, training=False)
                except NotImplementedError:
                    # A child without shape inference: no graph; the first call builds the rest.
                    return
                except TypeError as error:
                    _explain_call_signature(node, error)
                    raise
                if y is x and any(y is t for t in keras.tree.flatten(x)):
                    self._build_without_graph()
                    return
                x = y
        self._untracked("_functional", Functional(inputs=inputs, outputs=x))
        self._untracked(
            "_input_rank", (len(inputs.shape), inputs.shape[-1]) if inputs.shape else None
        )

    def _build_without_graph(self) -> None:
        """A child returned its symbolic input itself (Keras 3.15's `Equalization` does).

        Keras then records the child as the producer of its own input, a cycle: keras.Sequential
        fails with "... is part of a cycle". Here the model keeps no graph (like a child without
        shape inference), builds the children by tracing the stack, and takes a fresh input for
        later rebuilds, since the old input's history now points at that child.
        """
        old = self._input_layer
        self._untracked("_input_layer", InputLayer(batch_shape=old.batch_shape, dtype=old.dtype))
        self._build_nested(tuple(old.batch_shape))

    def _build_nested(self, input_shape: Any) -> None:
        # Several inputs: keras.Sequential builds nothing here; tracing the stack once creates
        # the children's weights now rather than inside the first compiled step.
        dtype = self.input_dtype
        inputs = keras.tree.map_shape_structure(
            lambda shape: keras.KerasTensor(shape, dtype=dtype), input_shape
        )
        # The shapes carry no dtypes: a child that checks them (HashedCrossing wants integers)
        # may reject these float placeholders. keras.Sequential traces nothing here, so such a
        # failure is not an error: the first real call builds the children, and raises if the
        # real inputs are wrong.
        with contextlib.suppress(NotImplementedError, ValueError, TypeError):
            compute_output_spec(self.call, inputs, training=False)

    def _node(self, child: Any, passes: bool) -> Any:
        """The child as a graph node: itself if a layer, else its (cached) `CallableChild`."""
        if isinstance(child, keras.layers.Layer):
            return child
        wrapper = self._wrappers.get(id(child))
        if wrapper is None or wrapper._fn is not child:
            wrapper = CallableChild(child, passes)
            self._wrappers[id(child)] = wrapper
        return wrapper

    # -- the functional surface ------------------------------------------------------------

    def _graph(self, what: str) -> Functional:
        if self._functional is None:
            raise AttributeError(
                f"TrainingSequential '{self.name}' has no defined {what} yet: its input shape is "
                "not known. Fix: start it with `keras.Input(shape)`, call `model.build(shape)`, "
                "or call it once."
            )
        return self._functional

    @property
    def inputs(self) -> list[Any]:
        """The graph's input tensors (a list), once the input shape is known."""
        return self._graph("inputs").inputs  # type: ignore[no-any-return]

    @property
    def outputs(self) -> list[Any]:
        """The graph's output tensors (a list), once the input shape is known."""
        return self._graph("outputs").outputs  # type: ignore[no-any-return]

    @property
    def input_shape(self) -> Any:
        return self._graph("input shape").input_shape

    @property
    def output_shape(self) -> Any:
        return self._graph("output shape").output_shape

    @property
    def input(self) -> Any:
        """The graph's input tensor; before the input is known, Keras' node-based `input`."""
        if self._functional is not None:
            return self._functional.input
        return super().input

    @property
    def output(self) -> Any:
        """The graph's output tensor; before the input is known, Keras' node-based `output`."""
        if self._functional is not None:
            return self._functional.output
        return super().output

    def compute_output_spec(
        self, inputs: Any, training: Any = None, mask: Any = None, **kwargs: Any
    ) -> Any:
        if self._functional is not None:
            return self._functional.compute_output_spec(inputs, training=training, mask=mask)
        return super().compute_output_spec(inputs, training=training, mask=mask, **kwargs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._functional is not None:
            return self._functional.compute_output_shape(input_shape)
        shape = input_shape
        for child, passes in self._plan:
            node = self._node(child, passes)
            shape = node.compute_output_shape(shape)
        return shape

    def export(
        self,
        filepath: Any,
        format: str = "tf_saved_model",
        verbose: Any = None,
        input_signature: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Keras' `Model.export`; the signature comes from the graph, so no call is needed first.

        The exported endpoint calls the model without `training`, so it runs in inference mode
        (BatchNorm uses its moving statistics, Dropout is off).
        """
        if input_signature is None and self._functional is not None:
            from keras.src.export.export_utils import make_input_spec

            input_signature = [make_input_spec(x) for x in self._functional.inputs]
        return super().export(
            filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs
        )

    # -- calling ---------------------------------------------------------------------------

    # TensorFlow's AutoGraph must not convert this plumbing when a user's `tf.function` calls the
    # model (it runs as plain Python at trace time, as Keras' own `__call__` does); the marker is
    # the one `tf.autograph.experimental.do_not_convert` sets, and means nothing to other backends.
    autograph_info__ = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # `seq(x, training=True)` must not reach the caller's later children (FACTS F3).
        kept = _hook.keep_context()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            _hook.restore_context(kept)

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        if training is not None and training is not True and training is not False:
            training = _stack.validate_training(training, f"TrainingSequential '{self.name}'")
        if self._input_rank is not None:
            inputs = _adjust_rank(inputs, self._input_rank)
        mode = _stack.resolve(training)
        # The children run here, not in a helper: one Python frame less per level of nesting.
        entered = _hook.enter(_stack.Frame(mode, None, self))
        try:
            x, plan = inputs, self._plan
            if mask is not None and plan and getattr(plan[0][0], "_call_has_mask_arg", False):
                child, passes = plan[0]
                x = child(x, training=mode, mask=mask) if passes else child(x, mask=mask)
                plan = plan[1:]
            for child, passes in plan:
                x = child(x, training=mode) if passes else child(x)
            return x
        finally:
            _hook.leave(entered)

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
        if self._input_layer is not None:
            config["build_input_shape"] = list(self._input_layer.batch_shape)
            config["input_dtype"] = self._input_layer.dtype
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
        if shape is not None:
            children = [InputLayer(batch_shape=tuple(shape), dtype=dtype), *children]
        if "layers" in parameters:
            model = cls(layers=children, **kwargs)
        else:
            model = cls(**kwargs)
            _match_children(model, children)
        return model


# -- helpers ---------------------------------------------------------------------------------


def _takes_training(child: Any) -> bool:
    if isinstance(child, keras.layers.Layer):
        return bool(child._call_has_training_arg)
    return accepts_training(child)


def _check_child(child: Any, index: int) -> None:
    if isinstance(child, type):
        raise InvalidChildError(
            f"Only instances of `keras.Layer` (or callables) can be added to a "
            f"TrainingSequential: child {index} is the class {child.__qualname__}, not an "
            f"instance. Fix: instantiate it, e.g. {child.__qualname__}(...)."
        )
    if not callable(child):
        raise InvalidChildError(
            f"Only instances of `keras.Layer` (or callables) can be added to a "
            f"TrainingSequential: child {index} is {describe(child)}, which is not callable. "
            "Expected a Keras layer or model, a TrainingSequential, or a callable (function, "
            "lambda, object with __call__). Fix: pass a layer such as keras.layers.Dense(8)."
        )


def _known_input_shape(first: Any) -> tuple[Any, ...] | None:
    """The batch input shape a first child already knows (a Functional backbone, a built layer)."""
    if not isinstance(first, keras.layers.Layer):
        return None
    try:
        shape = first.input_shape  # Functional, Sequential, TrainingSequential
    except (AttributeError, ValueError):
        shape = None
    if shape is None and first.built:
        recorded = list((getattr(first, "_build_shapes_dict", None) or {}).values())
        if len(recorded) == 1:
            shape = recorded[0]
            if isinstance(shape, (tuple, list)) and shape:
                shape = (None, *tuple(shape)[1:])  # the batch size seen at build is not fixed
    if isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    return None


def _adjust_rank(inputs: Any, reference: tuple[int, Any]) -> Any:
    """Keras' Functional rule: one axis short gains a last axis of 1; one too many loses it."""
    shape = getattr(inputs, "shape", None)
    if shape is None or isinstance(inputs, (list, tuple, dict)):
        return inputs
    rank, last = reference
    if len(shape) == rank - 1 and last == 1:
        return keras.ops.expand_dims(inputs, -1)
    if len(shape) == rank + 1 and shape[-1] == 1:
        return keras.ops.squeeze(inputs, -1)
    return inputs


def _requires_training(layer: Any) -> bool:
    """A `call` whose `training` has no default: keras.Sequential cannot call it, this model can."""
    parameter = inspect.signature(layer.call).parameters.get("training")
    return parameter is not None and parameter.default is parameter.empty


def _explain_call_signature(layer: Any, error: TypeError) -> None:
    """keras.Sequential's message for a child whose `call` takes more than one input."""
    signature = inspect.signature(layer.call)
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is p.empty]
    if not positional:
        raise TrainingConfigError(
            "Layers added to a TrainingSequential should have a single positional argument, "
            f"the input tensor. Layer {type(layer).__name__} has no positional arguments."
        ) from error
    if len(required) > 1:
        raise TrainingConfigError(
            "Layers added to a TrainingSequential can only have a single required positional "
            f"argument, the input tensor. Layer {type(layer).__name__} has multiple required "
            f"positional arguments: {required}. Fix: give the others a default (a `training` "
            "argument should default to None)."
        ) from error


def _match_children(model: TrainingSequential, saved: list[Any]) -> None:
    """A subclass that builds its own children: keep them, then append those added later."""
    if saved and isinstance(saved[0], InputLayer):
        if model._input_layer is None:
            model._untracked("_input_layer", saved[0])
        saved = saved[1:]
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
    model._maybe_rebuild()
