"""mc_predict: dropout on, BatchNorm off, state restored (FACTS F4 and F5 pairs)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from tests._mode_models import FEATURES, functional_mc
from tests.conftest import bn_stats, non_trainable_values, same_arrays
from training_aware import mc_predict
from training_aware.errors import NoDropoutLayerError, TrainingFlagError

X = np.random.default_rng(1).standard_normal((6, FEATURES)).astype("float32")


def bn_then_dropout() -> keras.Model:
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dense(5)(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Dropout(0.5, name="drop")(h)
    return keras.Model(inputs, keras.layers.Dense(2)(h))


def seed_states(model: keras.Model) -> list[np.ndarray]:
    return [
        keras.ops.convert_to_numpy(g.state.value).copy()
        for layer in model._flatten_layers()
        for g in getattr(layer, "_seed_generators", [])
    ]


@pytest.mark.backend
def test_f5_plain_training_true_corrupts_batchnorm_and_mc_predict_does_not() -> None:
    # Plain Keras half: MC samples with model(x, training=True) move BN statistics.
    plain = bn_then_dropout()
    stats = bn_stats(plain)
    for _ in range(3):
        plain(X, training=True)
    assert not same_arrays(bn_stats(plain), stats)  # F5 still there

    # Library half: every non-trainable variable but the dropout seed state is bit-identical.
    model = bn_then_dropout()
    before = non_trainable_values(model)
    seeds = seed_states(model)
    mean, std = mc_predict(model, X, samples=8, verbose=0)
    assert mean.shape == std.shape == (6, 2)
    assert mean.dtype == std.dtype == np.float32
    assert float(std.min()) >= 0.0 and float(std.max()) > 0.0
    assert same_arrays(bn_stats(model), bn_stats(model)) and same_arrays(
        [v for v in non_trainable_values(model) if v.shape != (2,)],
        [v for v in before if v.shape != (2,)],
    )
    if keras.backend.backend() == "torch":
        # Keras' torch Dropout, built without a seed, draws from PyTorch's global generator
        # (torch's fused dropout takes no generator): its own seed state never moves.
        assert same_arrays(seed_states(model), seeds)
    else:
        assert not same_arrays(seed_states(model), seeds)  # dropout drew random numbers


@pytest.mark.backend
def test_same_seed_same_result_and_all_state_restored() -> None:
    model = bn_then_dropout()
    before = non_trainable_values(model)
    a = mc_predict(model, X, samples=5, seed=7, verbose=0)
    assert same_arrays(non_trainable_values(model), before)  # seed states restored too
    b = mc_predict(model, X, samples=5, seed=7, verbose=0)
    c = mc_predict(model, X, samples=5, seed=8, verbose=0)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def _seeded(model: keras.Model, seed: int) -> None:
    """What `mc_predict(seed=...)` seeds: the layers' seed states (and PyTorch's generator)."""
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)
    generators = [g for layer in model._flatten_layers() for g in layer._seed_generators]
    for i, generator in enumerate(generators):
        dtype = keras.ops.convert_to_numpy(generator.state.value).dtype
        generator.state.assign(np.array([seed + i, 0], dtype=dtype))


@pytest.mark.backend
def test_mean_and_std_match_the_samples_drawn() -> None:
    from training_aware.modes import override_modes

    rules = {keras.layers.Layer: False, keras.layers.Dropout: True}
    model = bn_then_dropout()
    # batched (the default): one predict over x repeated 4 times, the same draws by hand
    mean, std = mc_predict(model, X, samples=4, seed=3, batch_size=3, verbose=0)
    _seeded(model, 3)
    with override_modes(model, rules):
        tiled = model.predict(np.concatenate([X] * 4), batch_size=3, verbose=0)
    samples = tiled.reshape(4, *X.shape[:1], 2)
    assert np.allclose(mean, samples.mean(axis=0), atol=1e-6)
    assert np.allclose(std, samples.std(axis=0), atol=1e-5)
    # batched=False: one predict per sample
    mean, std = mc_predict(model, X, samples=4, seed=3, batch_size=3, verbose=0, batched=False)
    _seeded(model, 3)
    with override_modes(model, rules):
        samples = np.stack([model.predict(X, batch_size=3, verbose=0) for _ in range(4)])
    assert np.allclose(mean, samples.mean(axis=0), atol=1e-6)
    assert np.allclose(std, samples.std(axis=0), atol=1e-5)


def test_chunked_rows_keep_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from training_aware import mc

    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dropout(0.0)(keras.layers.Dense(5)(inputs))  # no randomness: mean = predict
    model = keras.Model(inputs, {"y": keras.layers.Dense(2)(h)})
    expected = model.predict(X, verbose=0)["y"]
    monkeypatch.setattr(mc, "_TILE_BYTES", 1)  # one row per predict call
    mean, std = mc_predict(model, X, samples=3, verbose=0)
    assert np.allclose(mean["y"], expected, atol=1e-6)
    assert np.allclose(std["y"], 0.0, atol=1e-6)


@pytest.mark.backend
def test_f4_plain_predict_ignores_hard_coded_dropout_and_mc_predict_samples() -> None:
    model = functional_mc()
    # Plain Keras half: the hard-coded training=True is silently ignored by predict.
    assert np.array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))
    # Library half.
    stats = bn_stats(model)
    _, std = mc_predict(model, X, samples=6, seed=0, verbose=0)
    assert float(std.max()) > 0.0
    assert same_arrays(bn_stats(model), stats)


@pytest.mark.backend
def test_a_failing_predict_leaves_the_model_in_place() -> None:
    model = bn_then_dropout()
    weights = [keras.ops.convert_to_numpy(v.value).copy() for v in model.variables]
    with pytest.raises(ValueError, match="incompatible"):
        mc_predict(model, np.zeros((4, FEATURES + 1), "float32"), samples=2, verbose=0)
    after = [keras.ops.convert_to_numpy(v.value) for v in model.variables]
    assert same_arrays(after, weights)


def test_multi_output_models_give_a_structure() -> None:
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dropout(0.5)(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, {"a": keras.layers.Dense(1)(h), "b": keras.layers.Dense(3)(h)})
    mean, std = mc_predict(model, X, samples=3, seed=1, verbose=0)
    assert set(mean) == set(std) == {"a", "b"}
    assert mean["a"].shape == (6, 1) and std["b"].shape == (6, 3)


def test_no_dropout_layer_is_a_clear_error() -> None:
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(2, name="only")])
    before = non_trainable_values(model)
    with pytest.raises(NoDropoutLayerError, match=r"no dropout-like layer .*'only'.*every sample"):
        mc_predict(model, X, samples=3)
    assert isinstance(NoDropoutLayerError("x"), TrainingFlagError)
    assert same_arrays(non_trainable_values(model), before)


def test_extra_dropout_like_classes() -> None:
    class Jitter(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(0)

        def call(self, inputs: Any, training: Any = None) -> Any:
            if training:
                return inputs + keras.random.normal(
                    keras.ops.shape(inputs), seed=self.seed_generator
                )
            return inputs

    model = keras.Sequential([keras.Input((FEATURES,)), Jitter(), keras.layers.Dense(2)])
    with pytest.raises(NoDropoutLayerError):
        mc_predict(model, X, samples=3)
    _, std = mc_predict(model, X, samples=3, seed=0, verbose=0, dropout_layers=(Jitter,))
    assert float(std.max()) > 0.0


def test_progress_bar_follows_keras_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    model = bn_then_dropout()
    mc_predict(model, X, samples=3, verbose=0)
    assert capsys.readouterr().out == ""
    mc_predict(model, X, samples=3, verbose=1)
    assert "3/3" in capsys.readouterr().out
    with pytest.raises(ValueError, match="verbose must be 'auto', 0, 1 or 2"):
        mc_predict(model, X, samples=3, verbose=3)
    with pytest.raises(ValueError, match="samples must be an int >= 2"):
        mc_predict(model, X, samples=1)


@pytest.mark.backend
def test_the_seed_reproduces_draws_on_every_backend_and_leaves_global_generators_alone() -> None:
    """PyTorch draws unseeded dropout from its global generator: seeded, then put back."""
    model = bn_then_dropout()
    torch_state = None
    if keras.backend.backend() == "torch":
        import torch

        torch_state = torch.random.get_rng_state().clone()
    first = mc_predict(model, X, samples=6, seed=0, verbose=0)
    second = mc_predict(model, X, samples=6, seed=0, verbose=0)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert float(first[1].max()) > 0.0  # real draws, not dropout switched off
    if torch_state is not None:
        import torch

        assert torch.equal(torch.random.get_rng_state(), torch_state)
