"""One rollback rule for the three containers: an eager training call is a transaction.

`TrainingAwareModel`/`TrainingAwareLayer`, `TrainingSequential` and `PinnedMode` run an eager
training call that is not already inside one inside Keras' own `StatelessScope` (the mechanism
JAX's trainer uses for every step): every `variable.assign` made by the call (BatchNorm moving
statistics, seed-generator states) is held by the scope and read back from it during the call.
If the call returns, the held values are assigned, once each (the work the layers would have
done anyway: nothing is copied on the success path). If it raises, they are dropped, and every
weight and statistic is exactly as before.

Not a transaction (nothing to undo, or somebody else's): a call inside a compiled function
(`tf.function`, `jax.jit`: a failed trace runs nothing), a call inside a stateless scope (JAX's
trainer, `stateless_call`: the caller decides), an inference call, a symbolic call. A call that
builds a layer (creates variables) cannot run on deferred values: when that happens, the first
attempt's updates are dropped and the call runs once more outside a transaction, as plain Keras
would run it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras.src.backend.common import global_state
from keras.src.backend.common.stateless_scope import StatelessScope, in_stateless_scope
from keras.src.backend.common.symbolic_scope import in_symbolic_scope
from keras.src.utils.backend_utils import in_tf_graph

__all__ = ["transaction"]


class _Transaction(StatelessScope):  # type: ignore[misc]
    """A `StatelessScope` that remembers which variables the call assigned."""

    def __init__(self) -> None:
        super().__init__(collect_losses=True)
        self.variables: dict[int, Any] = {}

    def add_update(self, update: tuple[Any, Any]) -> None:
        self.variables[id(update[0])] = update[0]
        super().add_update(update)

    def commit(self, layer: Any) -> None:
        for key, variable in self.variables.items():
            # `assign` already converted and shape-checked the value when the scope took it.
            variable._direct_assign(self.state_mapping[key])
        if self.losses:  # `add_loss` went to the scope: hand each loss to the layer that added it
            for sublayer in layer._flatten_layers():
                if sublayer._loss_ids:
                    sublayer._losses.extend(x for x in self.losses if id(x) in sublayer._loss_ids)


def _eligible(mode: Any) -> bool:
    return (
        mode is True
        and not in_stateless_scope()
        and not in_symbolic_scope()
        and not in_tf_graph()
        and not global_state.get_global_attribute("in_tf_graph_scope", False)
    )


def transaction(layer: Any, mode: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run `fn(*args, **kwargs)`, the body of `layer`'s call in `mode`, under the rollback rule."""
    if not _eligible(mode):
        return fn(*args, **kwargs)
    scope = _Transaction()
    with scope:
        result = fn(*args, **kwargs)  # raises: the scope exits and its updates are dropped
        built_inside = bool(global_state.get_global_attribute("uninitialized_variables"))
    if built_inside:  # the variables it created now exist: run the call for real
        return fn(*args, **kwargs)
    scope.commit(layer)
    return result
