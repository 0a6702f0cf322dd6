"""Scoped modes belong to the work, not the thread: asyncio tasks, threads, generators, the cache.

A block (`override_modes`, `mc_predict`, `audit`) is a frame on the library's one `ContextVar`, and
compiled functions are looked up per set of forced modes from the caller's own context. So a
task or thread outside the block keeps plain modes through the *compiled* `predict` too, which
plain per-model function swapping could not give.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import pytest

from tests.conftest import bn_stats, same_arrays
from tests.test_modes import X, dropout_on, mc_functional, nested
from training_aware import _blocks, _stack, audit, override_modes
from training_aware._compiled import LIMIT, table


def predict(model: keras.Model) -> np.ndarray:
    return np.asarray(model.predict(X, verbose=0))


@pytest.mark.backend
def test_two_asyncio_tasks_one_inside_a_block_through_compiled_predict() -> None:
    model = mc_functional()
    reference = predict(model)  # compiled outside any block
    inside, outside_done = asyncio.Event, asyncio.Event
    results: dict[str, Any] = {}

    async def main() -> None:
        entered, done = inside(), outside_done()

        async def forced() -> None:
            with override_modes(model, {keras.layers.Dropout: True}):
                entered.set()
                await done.wait()  # the other task predicts while this one is inside
                results["forced"] = [predict(model) for _ in range(2)]

        async def plain() -> None:
            await entered.wait()
            results["plain"] = [predict(model) for _ in range(2)]
            done.set()

        await asyncio.gather(forced(), plain())

    asyncio.run(main())
    assert all(np.array_equal(p, reference) for p in results["plain"])  # no leak into the task
    first, second = results["forced"]
    assert not np.array_equal(first, second)  # dropout on inside the block
    assert np.array_equal(predict(model), reference)


@pytest.mark.backend
def test_two_threads_one_inside_a_block_through_compiled_predict() -> None:
    model = mc_functional()
    reference = predict(model)
    entered, done = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def forced() -> None:
        with override_modes(model, {keras.layers.Dropout: True}):
            entered.set()
            done.wait(timeout=60)
            results["forced"] = [predict(model) for _ in range(2)]

    thread = threading.Thread(target=forced)
    thread.start()
    assert entered.wait(timeout=60)
    plain = [predict(model) for _ in range(2)]  # compiled predict, while the other is inside
    done.set()
    thread.join(timeout=120)
    assert all(np.array_equal(p, reference) for p in plain)
    assert not np.array_equal(*results["forced"])


def test_a_block_follows_the_work_into_a_copied_context() -> None:
    """`asyncio.to_thread` (and `contextvars.copy_context().run`) carry the block along."""
    model = mc_functional()
    reference = predict(model)

    async def main() -> bool:
        with override_modes(model, {"drop": True}):
            return await asyncio.to_thread(dropout_on, model)

    assert asyncio.run(main())
    assert np.array_equal(predict(model), reference)


def test_closing_a_generator_from_another_thread_leaves_no_stale_block() -> None:
    model = mc_functional()
    drop = model.get_layer("drop")

    def samples() -> Iterator[np.ndarray]:
        with override_modes(model, {"drop": True}):
            while True:
                yield predict(model)

    generator = samples()
    next(generator)  # the block is open, in this thread's context
    assert _blocks.forced_mode(drop) is True
    errors: list[BaseException] = []

    def close() -> None:
        try:
            generator.close()
        except BaseException as error:  # pragma: no cover (the bug this test guards against)
            errors.append(error)

    thread = threading.Thread(target=close)
    thread.start()
    thread.join(timeout=60)
    assert errors == []  # no "created in a different Context" ValueError
    assert _blocks.forced_mode(drop) is None  # the closed block is ignored here too
    assert not dropout_on(model)
    report = audit(model, X)  # a stale block would read as an override_modes pin
    assert report.ok, str(report)
    assert _stack._STACK.get() == ()  # the next block in this context pruned the closed one


def test_identical_blocks_share_one_compiled_function_and_the_table_is_bounded() -> None:
    layers = [keras.layers.Dropout(0.5, name=f"d{i}") for i in range(4)]
    inputs = keras.Input((X.shape[1],))
    h = inputs
    for layer in layers:
        h = layer(h)
    model = keras.Model(inputs, h)
    with override_modes(model, {"d0": True}):
        predict(model)
        first = model.predict_function
    with override_modes(model, {"d0": True}):
        assert model.predict_function is first  # the same forced modes: reused, not retraced
    for i in range(LIMIT + 3):  # more distinct rule sets than the table keeps
        rules = {f"d{j}": bool((i >> j) & 1) for j in range(4)}
        with override_modes(model, rules):
            predict(model)
    kept = [key for key in table(model) if key[0] == "predict_function"]
    assert len(kept) == LIMIT


@pytest.mark.backend
def test_a_nested_model_forced_by_the_block_runs_forced_through_its_own_predict() -> None:
    """JAX's trainer runs a model through `stateless_call`, not `__call__`: covered too."""
    outer = nested()
    encoder = outer.get_layer("encoder")
    reference = np.asarray(encoder.predict(X, verbose=0))
    with override_modes(outer, {"encoder": True}):
        a = np.asarray(encoder.predict(X, verbose=0))
        b = np.asarray(encoder.predict(X, verbose=0))
    assert not np.array_equal(a, b)
    assert np.array_equal(np.asarray(encoder.predict(X, verbose=0)), reference)


@pytest.mark.backend
def test_nothing_is_set_on_layers_and_statistics_stay() -> None:
    model = mc_functional()
    predict(model)
    before = {id(layer): dict(vars(layer)) for layer in model._flatten_layers()}
    stats = bn_stats(model)
    with override_modes(model, {keras.layers.Dropout: True}):
        predict(model)
        for layer in model._flatten_layers():
            if layer is not model:
                assert vars(layer).keys() == before[id(layer)].keys(), layer.name
    assert same_arrays(bn_stats(model), stats)
