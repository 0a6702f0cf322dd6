"""Blocks and the tools run inside them: `audit` and `mc_predict` leave an enclosing block intact,
and Keras' compiled train/test/predict functions traced under one block are never reused under
another block or after it. Each test runs on the backend given with `--backend`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import pytest

from tests._mode_models import FEATURES
from tests.conftest import bn_stats, same_arrays
from tests.test_modes import X, mc_functional
from training_aware import TracedInBlockWarning, audit, mc_predict, override_modes
from training_aware._compiled import table

Y = np.zeros((X.shape[0], 2), "float32")


def compiled() -> keras.Model:
    model = mc_functional()  # Dense -> BatchNormalization 'bn' -> Dropout 'drop' -> Dense
    model.compile("sgd", "mse")
    return model


def dropout_on(model: keras.Model) -> bool:
    """Two compiled predictions differ only if the dropout ran in training mode."""
    return not np.array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))


def evaluates_with_dropout(model: keras.Model) -> bool:
    losses = [model.evaluate(X, Y, verbose=0) for _ in range(2)]
    return losses[0] != losses[1]


def fit_moves_statistics(model: keras.Model) -> bool:
    before = bn_stats(model)
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    return not same_arrays(bn_stats(model), before)


def run_tool(tool: str, model: keras.Model) -> None:
    if tool == "audit":
        audit(model, X, Y)
    else:
        mc_predict(model, X, samples=3, verbose=0)


@pytest.mark.parametrize("tool", ["audit", "mc_predict"])
def test_a_tool_run_inside_a_block_leaves_the_block_intact(tool: str) -> None:
    """Before: after `audit` inside the block, `predict` ran with plain modes (dropout off)."""
    model = compiled()
    assert not dropout_on(model)  # plain Keras: predict runs dropout in inference mode
    with override_modes(model, {"drop": True}):
        assert dropout_on(model)
        run_tool(tool, model)
        assert dropout_on(model)  # the block still holds for predict
        assert evaluates_with_dropout(model)  # and for evaluate
    assert not dropout_on(model)  # and ends with the block
    assert not evaluates_with_dropout(model)


@pytest.mark.parametrize("tool", ["audit", "mc_predict"])
def test_a_later_block_that_freezes_batchnorm_runs_its_own_train_function(tool: str) -> None:
    """Before, on JAX: this `fit` ran the plain train function and moved the statistics."""
    model = compiled()
    assert fit_moves_statistics(model)  # plain Keras: fit trains the statistics
    frozen = {keras.layers.BatchNormalization: False}
    with override_modes(model, frozen):
        assert not fit_moves_statistics(model)  # the block's own train function
        run_tool(tool, model)
        assert not fit_moves_statistics(model)
    with override_modes(model, frozen):
        assert not fit_moves_statistics(model)
    assert fit_moves_statistics(model)


def test_functions_traced_under_one_block_serve_that_block_only() -> None:
    """Each entry point, each block: its own function; after the blocks, the plain ones."""
    model = compiled()
    model.predict(X, verbose=0)
    model.evaluate(X, Y, verbose=0)
    model.fit(X, Y, verbose=0)
    plain = {name: vars(model)[name] for name in ("predict_function", "test_function")}
    plain["train_function"] = vars(model)["train_function"]
    seen: dict[str, list[Any]] = {name: [] for name in plain}
    for rules in (
        {"drop": True},
        {keras.layers.BatchNormalization: False},
        {"drop": True, "bn": True},
    ):
        with override_modes(model, rules):  # type: ignore[arg-type]
            model.predict(X, verbose=0)
            model.evaluate(X, Y, verbose=0)
            model.fit(X, Y, verbose=0)
            for name in plain:
                function = getattr(model, name)
                assert function is not None and function is not plain[name]
                assert all(function is not other for other in seen[name])
                seen[name].append(function)
    for name, function in plain.items():
        assert getattr(model, name) is function  # after the blocks: the plain ones
    assert len(table(model)) == 9  # three entry points, three blocks


def test_an_identical_block_later_runs_the_forced_modes_again() -> None:
    model = compiled()
    with override_modes(model, {"drop": True}):
        assert dropout_on(model)
    assert not dropout_on(model)
    with override_modes(model, {"drop": True}):
        assert dropout_on(model)
    with override_modes(model, {"drop": False}):
        assert not dropout_on(model)


# -- a user's own compiled functions: what blocks do to them, and the warning -------------------


def dropout_model() -> keras.Model:
    inputs = keras.Input((FEATURES,))
    return keras.Model(inputs, keras.layers.Dropout(0.5, name="drop")(inputs), name="drop_net")


def compiled_call(model: keras.Model) -> Any:
    """The user's own compiled function over the model on this backend (eager on PyTorch)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda x: model(x))
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        state = [v.value for v in model.non_trainable_variables]
        return jax.jit(lambda x: model.stateless_call(trainable, state, x)[0])
    return lambda x: model(x)  # PyTorch: no tracing, the block applies on every call


def plain(out: Any) -> bool:
    """Inference-mode dropout: the output is the input."""
    return bool(np.array_equal(keras.ops.convert_to_numpy(out), X))


def traced_in_block(caught: list[Any]) -> list[Any]:
    return [w for w in caught if issubclass(w.category, TracedInBlockWarning)]


def test_keras_entry_points_and_the_tools_never_warn_inside_a_block() -> None:
    model = compiled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with override_modes(model, {"drop": True}):
            model.predict(X, verbose=0)
            model.fit(X, Y, verbose=0)
            model.evaluate(X, Y, verbose=0)
            model(X)
            mc_predict(model, X, samples=2, verbose=0)
            audit(model, X, Y)
            keras.Model(model.inputs, keras.layers.Dropout(0.5)(model.outputs[0]))  # symbolic
    assert traced_in_block(caught) == []


def test_a_users_function_traced_outside_a_block_ignores_it() -> None:
    model = dropout_model()
    step = compiled_call(model)
    assert plain(step(X))  # traced here, outside any block
    with override_modes(model, {"drop": True}):
        inside = step(X)
    if keras.backend.backend() == "torch":
        assert not plain(inside)  # eager: the block applies
    else:
        assert plain(inside)  # the trace from before the block runs: the block is ignored


def test_a_users_function_traced_inside_a_block_keeps_its_modes_and_warns_once() -> None:
    model = dropout_model()
    step = compiled_call(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with override_modes(model, {"drop": True}):
            assert not plain(step(X))  # traced inside: the block's modes
            step(X)
        after = step(X)
    warned = traced_in_block(caught)
    if keras.backend.backend() == "torch":
        assert plain(after) and warned == []  # eager: nothing is kept, nothing to warn about
        return
    assert not plain(after)  # the trace keeps the block's modes after the block
    assert len(warned) == 1
    assert warned[0].filename == __file__  # it points at the user's code
    assert "forces layer 'drop' into training mode" in str(warned[0].message)
    assert "Fix: trace inside the block for its modes" in str(warned[0].message)
    fresh = compiled_call(model)  # the documented fix: a new function outside the block
    assert plain(fresh(X))


def test_a_generator_holding_a_block_lends_it_to_its_consumer_between_yields() -> None:
    """contextvars semantics: a generator runs in its consumer's context."""
    model = dropout_model()

    def samples() -> Iterator[int]:
        with override_modes(model, {"drop": True}):
            yield 1
            yield 2

    produced = samples()
    next(produced)
    assert not plain(model(X))  # the consumer, between yields: inside the generator's block
    produced.close()
    assert plain(model(X))
