"""accepts_training and call_with_training: Keras' own rule, for layers and any callable."""

from __future__ import annotations

import functools
import gc

import keras
import pytest

from training_aware import accepts_training, call_with_training
from training_aware import signature as signature_module


def plain(x):  # type: ignore[no-untyped-def]
    return x


def with_training(x, training=None):  # type: ignore[no-untyped-def]
    return training


def keyword_only(x, *, training=False):  # type: ignore[no-untyped-def]
    return training


def only_kwargs(x, **kwargs):  # type: ignore[no-untyped-def]
    return kwargs


def only_args(*args):  # type: ignore[no-untyped-def]
    return args


class Callable_:
    def __call__(self, x, training=False):  # type: ignore[no-untyped-def]
        return training


class Method:
    def run(self, x, training=None):  # type: ignore[no-untyped-def]
        return training


class Takes:
    def __init__(self, x, training=False):  # type: ignore[no-untyped-def]
        self.training = training


class NoTrainingLayer(keras.layers.Layer):
    def call(self, x):  # type: ignore[no-untyped-def]
        return x


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (plain, False),
        (with_training, True),
        (keyword_only, True),
        (only_kwargs, False),  # Keras' rule: **kwargs does not count
        (only_args, False),
        (lambda x, training=False: x, True),
        (lambda x: x, False),
        (Method().run, True),
        (Callable_(), True),
        (Takes, True),  # a class: its constructor's signature
        (functools.partial(with_training, 1), True),
        (functools.partial(with_training, training=True), False),  # already bound
        (len, False),  # a builtin
        (print, False),  # a builtin without `training`
        (max, False),  # no inspectable signature: False, never an exception
    ],
    ids=lambda v: getattr(v, "__name__", type(v).__name__) if not isinstance(v, bool) else str(v),
)
def test_callables(obj: object, expected: bool) -> None:
    assert accepts_training(obj) is expected


def test_keras_layers_follow_their_call_signature() -> None:
    assert accepts_training(keras.layers.Dropout(0.5))
    assert accepts_training(keras.layers.BatchNormalization())
    assert accepts_training(keras.layers.Dense(2)), "Dense declares `training` (and ignores it)"
    assert not accepts_training(keras.layers.Conv1D(2, 3))
    assert not accepts_training(NoTrainingLayer())
    assert accepts_training(keras.Sequential([keras.layers.Dense(2)]))


def test_call_with_training_passes_it_only_where_accepted() -> None:
    assert call_with_training(plain, 3, training=True) == 3
    assert call_with_training(with_training, 3, training=True) is True
    assert call_with_training(keyword_only, 3, training=False) is False
    assert call_with_training(only_kwargs, 3, training=True) == {}
    layer = keras.layers.Dropout(0.999)
    x = keras.ops.ones((4, 64))
    out = keras.ops.convert_to_numpy(call_with_training(layer, x, training=True))
    assert (out == 0).any()


def test_cache_does_not_keep_lambdas_alive() -> None:
    gc.collect()
    before = len(signature_module._CACHE)
    for i in range(200):
        fn = eval(f"lambda x, training=None: x + {i}")  # a new function object each time
        assert accepts_training(fn)
    del fn
    gc.collect()
    assert len(signature_module._CACHE) <= before + 1


def test_cache_answers_per_function() -> None:
    method_a, method_b = Method().run, Method().run
    assert accepts_training(method_a) and accepts_training(method_b)
    assert Method.run in signature_module._CACHE, "bound methods share their function's entry"
