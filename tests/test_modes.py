"""override_modes and freeze_batchnorm on real Keras models (FACTS F3, F10, F11, F12 pairs)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from tests._mode_models import FEATURES, LeakyMC, transfer
from tests.conftest import bn_stats, non_trainable_values, same_arrays
from training_aware import TrainingValueError, freeze_batchnorm, override_modes
from training_aware.errors import UnmatchedRuleError

X = np.random.default_rng(0).standard_normal((8, FEATURES)).astype("float32")


def mc_functional() -> keras.Model:
    """Dense -> BN -> Dropout -> Dense, all plain Keras, nothing hard-coded."""
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dense(3, name="dense")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Dropout(0.5, name="drop")(h)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(h), name="net")


def nested() -> keras.Model:
    encoder = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(3),
            keras.layers.Dropout(0.5, name="enc_drop"),
        ],
        name="encoder",
    )
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dropout(0.5, name="top_drop")(encoder(inputs))
    return keras.Model(inputs, h, name="outer")


def dropout_on(model: keras.Model, **kwargs: Any) -> bool:
    """Two predictions differ only if some dropout ran in training mode."""
    a = model.predict(X, verbose=0, **kwargs)
    b = model.predict(X, verbose=0, **kwargs)
    return not np.array_equal(a, b)


def enter(model: Any, rules: Any) -> None:
    with override_modes(model, rules):
        pass  # pragma: no cover (the error comes on entry)


def no_call_attributes(model: keras.Model) -> bool:
    return all("call" not in vars(layer) for layer in model._flatten_layers())


@pytest.mark.backend
def test_forced_dropout_in_predict_leaves_batchnorm_and_the_model_alone() -> None:
    model = mc_functional()
    before_out = model.predict(X, verbose=0)
    stats = bn_stats(model)
    predict_fn = model.predict_function
    with override_modes(model, {keras.layers.Dropout: True}):
        assert dropout_on(model)
        assert same_arrays(bn_stats(model), stats)
    assert np.array_equal(model.predict(X, verbose=0), before_out)
    assert model.predict_function is predict_fn  # the pre-block function is back, untouched
    assert no_call_attributes(model)


@pytest.mark.backend
def test_forced_mode_reaches_direct_calls_and_fit() -> None:
    model = mc_functional()
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((8, 2), "float32")
    stats = bn_stats(model)
    weights = [np.array(w) for w in model.get_layer("dense").get_weights()]
    with override_modes(model, {keras.layers.BatchNormalization: False}):
        a = model(X, training=True)
        b = model(X, training=True)
        assert not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        model.fit(X, y, batch_size=8, epochs=1, verbose=0)
    assert same_arrays(bn_stats(model), stats)  # BN never trained
    assert not same_arrays(model.get_layer("dense").get_weights(), weights)  # the rest did
    model.fit(X, y, batch_size=8, epochs=1, verbose=0)
    assert not same_arrays(bn_stats(model), stats)  # after the block, fit trains BN again


def test_nested_blocks_inner_wins_and_outer_resumes() -> None:
    model = nested()
    with override_modes(model, {keras.layers.Dropout: True}):
        assert dropout_on(model)
        with override_modes(model, {keras.layers.Dropout: False}):
            assert not dropout_on(model)
        assert dropout_on(model)
    assert not dropout_on(model)
    assert no_call_attributes(model)


def test_globs_match_paths_at_any_depth_and_predicates_work() -> None:
    model = nested()
    with override_modes(model, {"encoder/*drop*": True}):
        assert dropout_on(model)
    with override_modes(model, {"top_drop": True}):
        assert dropout_on(model)
    with override_modes(model, {lambda layer: layer.name == "enc_drop": True}):
        assert dropout_on(model)
    # a later rule wins where rules overlap
    with override_modes(model, {keras.layers.Dropout: True, "*drop*": False}):
        assert not dropout_on(model)


def test_an_exception_in_the_block_restores_everything() -> None:
    model = mc_functional()
    before = model.predict(X, verbose=0)
    predict_fn = model.predict_function
    with pytest.raises(RuntimeError, match="boom"), override_modes(model, {"drop": True}):
        assert dropout_on(model)
        raise RuntimeError("boom")
    assert no_call_attributes(model)
    assert model.predict_function is predict_fn
    assert np.array_equal(model.predict(X, verbose=0), before)


def test_a_rule_that_matches_nothing_is_an_error_listing_paths() -> None:
    model = mc_functional()
    with pytest.raises(UnmatchedRuleError, match=r"rule 'dropuot' matches no layer.*'bn', 'drop'"):
        enter(model, {"dropuot": True})
    with pytest.raises(UnmatchedRuleError, match=r"keras.src.layers.*LayerNormalization"):
        enter(model, {keras.layers.LayerNormalization: True})
    assert no_call_attributes(model)


def test_bad_rules_and_modes_are_clear_errors() -> None:
    model = mc_functional()
    with pytest.raises(TrainingValueError, match=r"maps to 1 .*expected True"):
        enter(model, {"drop": 1})
    with pytest.raises(TypeError, match="not a layer class, a path glob or a predicate"):
        enter(model, {int: True})
    with pytest.raises(TypeError, match="expected a Keras layer or model"):
        enter("model", {"drop": True})


def test_nothing_reaches_the_saved_model(tmp_path: Path) -> None:
    model = mc_functional()
    config = model.get_config()
    with override_modes(model, {"drop": True}):
        assert model.get_config() == config
        model.save(tmp_path / "inside.keras")
    reloaded = keras.models.load_model(tmp_path / "inside.keras")
    assert no_call_attributes(reloaded)
    assert np.array_equal(reloaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_blocks_are_per_thread() -> None:
    model = mc_functional()
    model(X)  # build eagerly in this thread
    reference = keras.ops.convert_to_numpy(model(X, training=False))
    inside = threading.Event()
    done = threading.Event()
    results: dict[str, Any] = {}

    def forced() -> None:
        with override_modes(model, {"drop": True}):
            inside.set()
            results["forced"] = [
                keras.ops.convert_to_numpy(model(X, training=False)) for _ in range(3)
            ]
            done.wait(timeout=30)

    thread = threading.Thread(target=forced)
    thread.start()
    assert inside.wait(timeout=30)
    other = [keras.ops.convert_to_numpy(model(X, training=False)) for _ in range(3)]
    done.set()
    thread.join(timeout=30)
    assert all(np.array_equal(o, reference) for o in other)  # this thread: no override
    assert not all(np.array_equal(f, reference) for f in results["forced"])


@pytest.mark.backend
def test_f3_plain_keras_explicit_override_leaks_but_override_modes_does_not() -> None:
    # Plain Keras half: `self.drop(x, training=True)` leaks True to the following BN.
    leaky = LeakyMC()
    leaky(X[:2], training=False)
    stats = bn_stats(leaky)
    leaky(X, training=False)
    assert not same_arrays(bn_stats(leaky), stats)  # F3 still there

    # Library half: the same layers, the same intent, expressed as a scoped override.
    class Quiet(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(3)
            self.drop = keras.layers.Dropout(0.5)
            self.bn = keras.layers.BatchNormalization()

        def call(self, inputs: Any, training: Any = None) -> Any:
            return self.bn(self.drop(self.dense(inputs)))

    quiet = Quiet()
    quiet(X[:2], training=False)
    stats = bn_stats(quiet)
    with override_modes(quiet, {keras.layers.Dropout: True}):
        a = keras.ops.convert_to_numpy(quiet(X, training=False))
        b = keras.ops.convert_to_numpy(quiet(X, training=False))
        quiet.predict(X, verbose=0)
    assert not np.array_equal(a, b)  # dropout ran
    assert same_arrays(bn_stats(quiet), stats)  # BN did not


def test_f11_learning_phase_is_gone_and_override_modes_replaces_it() -> None:
    assert not hasattr(keras.backend, "learning_phase")
    assert not hasattr(keras.backend, "set_learning_phase")
    model = mc_functional()
    stats = non_trainable_values(model)
    # Keras 2: `with learning_phase_scope(1): model(x)`; here: every layer, scoped, one model.
    with override_modes(model, {keras.layers.Layer: True}):
        out = keras.ops.convert_to_numpy(model(X))
    assert not same_arrays(non_trainable_values(model)[:2], stats[:2])  # BN trained
    assert not np.array_equal(out, keras.ops.convert_to_numpy(model(X)))


@pytest.mark.backend
def test_f10_plain_keras_fit_overrides_training_false_and_freeze_batchnorm_holds() -> None:
    y = np.zeros((8, 2), "float32")
    # Plain Keras half: the guide's base(x, training=False) on a trainable base.
    plain = transfer(trainable_base=True)
    plain.compile(optimizer="sgd", loss="mse")
    stats = bn_stats(plain)
    plain.fit(X, y, batch_size=8, epochs=1, verbose=0)
    assert not same_arrays(bn_stats(plain), stats)  # F10 still there

    # Library half.
    fixed = transfer(trainable_base=True)
    assert freeze_batchnorm(fixed) == ["base/bn"]
    assert freeze_batchnorm(fixed) == []  # already frozen: nothing changed
    fixed.compile(optimizer="sgd", loss="mse")
    stats = bn_stats(fixed)
    dense = [np.array(w) for w in fixed.get_layer("base").layers[0].get_weights()]
    fixed.fit(X, y, batch_size=8, epochs=1, verbose=0)
    assert same_arrays(bn_stats(fixed), stats)
    assert not same_arrays(fixed.get_layer("base").layers[0].get_weights(), dense)


def test_f12_trainable_false_beats_a_forced_training_mode() -> None:
    model = mc_functional()
    freeze_batchnorm(model)
    stats = bn_stats(model)
    with override_modes(model, {"bn": True}):
        model(X)
    assert same_arrays(bn_stats(model), stats)


@pytest.mark.backend
def test_the_demo_shows_f4_f5_f10_fixed_by_scoped_modes() -> None:
    from training_aware.demo import _scoped_cases, _table_steps

    scoped = {name for name, _, _ in _scoped_cases()}
    rows = [
        row
        for name, run in _table_steps(quick=False)
        if name in scoped or name.startswith("F5")
        for row in run()
    ]
    cases = {row[0].split()[0] for row in rows}
    assert cases == {"F4", "F5", "F10"}
    assert not [row for row in rows if row[5].startswith("BUG")]  # library: every mode meant
    plain_bugs = {(row[0].split()[0], row[1], row[2]) for row in rows if row[4].startswith("BUG")}
    assert ("F4", "predict", "Dropout") in plain_bugs
    assert ("F5", "MC samples", "BatchNorm") in plain_bugs
    assert ("F10", "fit", "BatchNorm") in plain_bugs
