"""The mechanism's hard constraints (_hook.py), each a test: see docs/design.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND, bn_stats, same_arrays, to_numpy
from tests.seed_models import bad_model
from training_aware import (
    TrainingAwareLayer,
    TrainingAwareModel,
    TrainingValueError,
    _hook,
    _stack,
    forwards_training,
)

ROOT = Path(__file__).resolve().parents[1]
X = np.random.RandomState(0).normal(size=(16, 6)).astype("float32")
Y = np.random.RandomState(1).normal(size=(16, 4)).astype("float32")

PLAIN_RUN = """
import os, sys, hashlib
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
if sys.argv[1] == "with":
    import training_aware
    from training_aware import TrainingAwareModel, _hook
    _hook.ensure_hook()  # the hook is installed and must still be a pass-through here
    class Aware(TrainingAwareModel):
        def __init__(self):
            super().__init__()
            self.bn = keras.layers.BatchNormalization()
        def call(self, x):
            return self.bn(x)
import keras
keras.utils.set_random_seed(7)
x = np.random.RandomState(0).normal(size=(32, 6)).astype("float32")
y = np.random.RandomState(1).normal(size=(32, 4)).astype("float32")
inputs = keras.Input((6,))
h = keras.layers.Dense(8)(inputs)
h = keras.layers.BatchNormalization()(h)
h = keras.layers.Dropout(0.5)(h)
model = keras.Model(inputs, keras.layers.Dense(4)(h))
model.compile("adam", "mse")
model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
digest = hashlib.sha256()
for v in model.variables:
    digest.update(np.asarray(keras.ops.convert_to_numpy(v)).tobytes())
digest.update(model.predict(x, verbose=0).tobytes())
print(digest.hexdigest())
"""


@pytest.mark.slow  # two fresh interpreters train a model each
@pytest.mark.backend
def test_importing_changes_nothing_for_plain_keras() -> None:
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "PYTHONHASHSEED": "0"}
    digests = []
    for mode in ("without", "with"):
        result = subprocess.run(
            [sys.executable, "-c", PLAIN_RUN, mode],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        digests.append(result.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1], "weights or outputs differ with training_aware imported"


def test_import_does_not_import_keras() -> None:
    code = "import sys, training_aware; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_hook_is_a_pass_through_outside_a_training_aware_call() -> None:
    _hook.ensure_hook()
    assert _hook.hook_installed()
    assert _stack._STACK.get() == ()

    class Leaks(keras.Model):  # FACTS F3 on plain Keras: must still leak with the hook installed
        def __init__(self) -> None:
            super().__init__()
            self.drop = keras.layers.Dropout(0.5)
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=False):  # type: ignore[no-untyped-def]
            return self.bn(self.drop(x, training=True))

    model = Leaks()
    model(X[:2])
    before = bn_stats(model)
    model(X, training=False)
    assert not same_arrays(before, bn_stats(model))


class Counting(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.traces = 0
        self.dense = keras.layers.Dense(4)
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x):  # type: ignore[no-untyped-def]
        self.traces += 1
        return self.drop(self.dense(x))


def _compiled(model: Counting):  # type: ignore[no-untyped-def]
    """`mode -> outputs` through `tf.function`, or `jax.jit` with a static mode."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda x, training: model(x, training=training))
        return lambda mode: to_numpy(fn(X, training=mode))
    import jax

    def run(trainable, non_trainable, x, training):  # type: ignore[no-untyped-def]
        return model.stateless_call(trainable, non_trainable, x, training=training)[0]

    fn = jax.jit(run, static_argnames=("training",))
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    return lambda mode: np.asarray(fn(tv, ntv, X, training=mode))


@pytest.mark.backend
def test_compiled_function_traces_once_per_mode() -> None:
    if BACKEND not in ("tensorflow", "jax"):
        pytest.skip("compiled-function tracing is tested on TensorFlow and JAX")
    model = Counting()
    model(X)
    model.traces = 0
    run = _compiled(model)
    outputs = [run(mode) for mode in (True, False, True)]
    assert model.traces == 2, "True, False, True must trace exactly twice"
    assert (outputs[0] == 0).any(), "dropout active in the training trace"
    assert not (outputs[1] == 0).any(), "dropout off in the inference trace"
    outputs = [run(mode) for mode in (False, True)]
    assert model.traces == 2, "the compiled functions were retraced"


class Spy(keras.layers.Layer):
    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.modes: list[object] = []

    def call(self, x, training=None):  # type: ignore[no-untyped-def]
        self.modes.append(training)
        return x


class Threaded(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.spy = Spy()

    def call(self, x):  # type: ignore[no-untyped-def]
        import time

        time.sleep(0.001)  # give the other thread a chance to interleave
        return self.spy(x)


def test_two_threads_two_modes_do_not_interfere() -> None:
    models = {True: Threaded(), False: Threaded()}
    for model in models.values():
        model(X)
        model.spy.modes.clear()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(mode: bool) -> None:
        try:
            barrier.wait()
            for _ in range(30):
                models[mode](X, training=mode)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(mode,)) for mode in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert models[True].spy.modes == [True] * 30
    assert models[False].spy.modes == [False] * 30


def test_nothing_of_the_mechanism_is_saved(tmp_path: Path) -> None:
    @keras.saving.register_keras_serializable(package="tests")
    class Saved(TrainingAwareModel, training_check="warn"):
        def __init__(self, units: int = 4, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.units = units
            self.dense = keras.layers.Dense(units)
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.bn(self.dense(x), training=training)

        def get_config(self):  # type: ignore[no-untyped-def]
            return {**super().get_config(), "units": self.units}

    model = Saved(units=4)
    model(X, training=True)
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    assert "training_check" not in config and "frame" not in config.lower()
    assert json.loads(config)["config"]["units"] == 4
    loaded = keras.models.load_model(path)
    assert np.array_equal(to_numpy(model(X)), to_numpy(loaded(X)))


@pytest.mark.backend
def test_custom_training_loop_trains_a_call_without_training() -> None:
    model = bad_model(TrainingAwareModel, units=4, rate=0.0)
    model(X[:2])
    before = bn_stats(model)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.mean((model(X, training=True) - Y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(g is not None for g in grads)
    else:
        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        _, new_ntv = model.stateless_call(tv, ntv, X, training=True)
        for var, value in zip(model.non_trainable_variables, new_ntv, strict=True):
            var.assign(value)
    assert not same_arrays(before, bn_stats(model))


@pytest.mark.slow  # a fresh interpreter
def test_unknown_keras_internals_fail_clearly() -> None:
    code = textwrap.dedent(
        """
        import keras
        from training_aware import _hook
        _hook.TESTED_KERAS = ((9, 0, 0), (9, 1, 0))
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _hook.ensure_hook()
        print([str(w.message) for w in caught if w.category is _hook.KerasVersionWarning])
        """
    )
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "tested on keras >=9.0.0,<9.1.0" in out.stdout
    assert f"this is keras {keras.__version__}" in out.stdout


def test_training_aware_layer_in_plain_functional_model_follows_fit() -> None:
    class Block(TrainingAwareLayer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.bn = keras.layers.BatchNormalization()

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.bn(x)

    inputs = keras.Input((6,))
    block = Block()
    model = keras.Model(inputs, keras.layers.Dense(4)(block(inputs)))
    model.compile("sgd", "mse")
    before = bn_stats(block)
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    after = bn_stats(block)
    assert not same_arrays(before, after)
    model.predict(X, verbose=0)
    assert same_arrays(after, bn_stats(block))


# Positional `training`, validation, installation race, weak caches, forgotten super().__init__


class _Positional(TrainingAwareModel):
    """Passes `training` to its child positionally: `child(x, None)` / `child(x, training)`."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.spy = Spy()

    def call(self, x, training=None):  # type: ignore[no-untyped-def]
        return self.spy(x, None) if self.how == "none" else self.spy(x, training)


@pytest.mark.parametrize("how", ["none", "flag"])
def test_positional_training_reaches_the_child(how: str) -> None:
    model = _Positional(how)
    model(X)
    model.spy.modes.clear()
    for mode in (True, False):
        model(X, training=mode)
    assert model.spy.modes == [True, False]


def test_plain_keras_rejects_a_bool_in_a_positional_slot() -> None:
    """The other half of the pair: plain Keras refuses `child(x, True)`; the hook avoids it."""
    with pytest.raises(ValueError, match="Only input tensors may be passed as positional"):
        Spy()(X, True)


_ACCEPTED = [None, True, False, 0, 1, np.bool_(True), np.array(False), np.int64(1)]
_REJECTED = ["yes", "False", 2, 0.5, [], np.array([True]), np.array(1.0)]


class _Root(TrainingAwareModel):
    def __init__(self) -> None:
        super().__init__()
        self.spy = Spy()
        self.child_value: object = None

    def call(self, x, training=None):  # type: ignore[no-untyped-def]
        return self.spy(x, training=self.child_value)


@pytest.mark.parametrize("value", _ACCEPTED, ids=repr)
def test_valid_training_values_are_accepted_at_the_root_and_for_a_child(value: object) -> None:
    model = _Root()
    model(X)
    model.spy.modes.clear()
    model(X, training=value)
    model.child_value = value
    model(X, training=False)
    expected = False if value is None else bool(value)
    assert model.spy.modes == [expected, expected]
    assert all(type(mode) is bool for mode in model.spy.modes), "normalised to Python bools"


@pytest.mark.parametrize("value", _REJECTED, ids=repr)
def test_invalid_training_values_are_rejected_at_the_root_and_for_a_child(value: object) -> None:
    model = _Root()
    model(X)
    with pytest.raises(TrainingValueError, match=r"_Root.call\(\) received training="):
        model(X, training=value)
    model.child_value = value
    with pytest.raises(TrainingValueError, match=r"Spy 'spy.*' received training=.*Expected None"):
        model(X, training=True)


def test_plain_keras_reads_a_string_training_by_truthiness() -> None:
    """Why strings are rejected: plain Keras trains on `training="False"`."""
    out = to_numpy(keras.layers.Dropout(0.999)(X, training="False"))
    assert (out == 0).any()


def test_scalar_boolean_tensor_is_accepted() -> None:
    model = _Root()
    model(X)
    model.spy.modes.clear()
    model.child_value = keras.ops.convert_to_tensor(True)
    model(X, training=keras.ops.convert_to_tensor(False))
    assert model.spy.modes == [True], "a concrete tensor becomes its Python bool"


def test_hook_installation_is_race_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thread A stops inside the install step (after nothing is published); thread B asking for
    the hook meanwhile must wait for it, not see "installed" before `Layer.__call__` is swapped."""
    from keras.src.layers.layer import Layer

    _hook.ensure_hook()
    saved = (Layer.__call__, _hook._original_call, _hook._installed)
    Layer.__call__ = _hook._original_call  # type: ignore[method-assign]
    monkeypatch.setattr(_hook, "_original_call", None)
    monkeypatch.setattr(_hook, "_installed", False)
    in_window, b_finished = threading.Event(), threading.Event()
    real_replace = _hook._replace_call

    def slow_replace(layer_class: type, hook: object) -> None:
        in_window.set()
        b_finished.wait(timeout=0.5)  # B cannot finish if it waits for the lock, as it must
        real_replace(layer_class, hook)  # type: ignore[arg-type]

    monkeypatch.setattr(_hook, "_replace_call", slow_replace)
    seen: list[object] = []

    def thread_b() -> None:
        in_window.wait(timeout=10)
        _hook.ensure_hook()
        seen.append(Layer.__call__)
        b_finished.set()

    try:
        a = threading.Thread(target=_hook.ensure_hook)
        b = threading.Thread(target=thread_b)
        a.start()
        b.start()
        a.join(timeout=20)
        b.join(timeout=20)
    finally:
        Layer.__call__, original, installed = saved  # type: ignore[method-assign]
        monkeypatch.setattr(_hook, "_original_call", original)
        monkeypatch.setattr(_hook, "_installed", installed)
    assert seen == [_hook._hooked_call], "B returned from ensure_hook before the hook was in place"


def test_caches_keyed_by_class_do_not_keep_classes_alive() -> None:
    import gc
    import weakref

    from training_aware import _dependence, check

    refs, ids = [], []
    for i in range(3):
        layer_class = type(f"PerInstance{i}", (Spy,), {})
        ids.append(id(layer_class))
        parent_class = forwards_training(type(f"Parent{i}", (_Positional,), {}))
        parent = parent_class("none")
        parent.spy = layer_class()
        parent(X, training=True)  # `self.spy(x, None)`: positional, inspected
        assert layer_class in _hook._position_cache and id(layer_class) in _hook._ignoring_cache
        assert check.depends_on_training(parent.spy), "Spy reads `training` (it records it)"
        refs += [weakref.ref(layer_class), weakref.ref(parent_class)]
        del layer_class, parent_class, parent
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)
    assert not any(k.__name__.startswith("PerInstance") for k in _hook._position_cache)
    assert not any(key in _hook._ignoring_cache for key in ids)  # freed: entries dropped
    assert not any(getattr(k, "__qualname__", "").startswith("Parent") for k in _dependence._USAGE)


def test_a_child_that_forgot_super_init_gets_keras_own_error() -> None:
    class NoInit(keras.layers.Layer):
        def __init__(self) -> None:  # forgot super().__init__()
            self.units = 2

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return x

    class Holder(TrainingAwareModel):
        def call(self, x):  # type: ignore[no-untyped-def]
            return NoInit()(x)

    with pytest.raises(RuntimeError, match=r"forgot to call `super\(\).__init__\(\)`"):
        Holder()(X, training=True)
