"""Blocks and the tools run inside them: `audit` and `mc_predict` leave an enclosing block intact,
and Keras' compiled train/test/predict functions traced under one block are never reused under
another block or after it. Each test runs on the backend given with `--backend`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from tests.conftest import bn_stats, same_arrays
from tests.test_modes import X, mc_functional
from training_aware import audit, mc_predict, override_modes
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
