"""TrainingSequential: equivalence with the seed's loop, modes, the stack API, errors, saving."""

from __future__ import annotations

import inspect
import io
import re
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from tests.conftest import bn_stats, non_trainable_values, same_arrays
from tests.seed_models import complex_model
from training_aware import TrainingSequential
from training_aware.errors import (
    InvalidChildError,
    TrainingFlagError,
    TrainingValueError,
    UnserializableChildError,
)


def np_(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def same_stack(units: int = 8, num_layers: int = 3, rate: float = 0.2) -> TrainingSequential:
    children: list[Any] = []
    for _ in range(num_layers):
        children += [
            keras.layers.Dense(units),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(rate),
        ]
    return TrainingSequential(children)


def twins(rate: float) -> tuple[keras.Model, TrainingSequential]:
    seed = complex_model(units=8, rate=rate)
    ours = same_stack(units=8, rate=rate)
    seed(X[:1])  # a subclassed model builds on its first call
    ours.build((None, 5))
    ours.set_weights(seed.get_weights())
    return seed, ours


class Probe(keras.layers.Layer):
    """Records the `training` value each call receives."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[Any] = []

    def call(self, x: Any, training: Any = None) -> Any:
        self.seen.append(training)
        return x


X = np.random.RandomState(0).normal(size=(6, 5)).astype("float32")
Y = np.random.RandomState(1).normal(size=(6, 8)).astype("float32")


# -- equivalence with the seed's ComplexModel ----------------------------------------------------


@pytest.mark.backend
def test_identical_to_seed_loop_in_inference() -> None:
    seed, ours = twins(rate=0.2)
    assert np.array_equal(np_(seed(X, training=False)), np_(ours(X, training=False)))
    assert np.array_equal(np_(seed(X)), np_(ours(X)))  # both default to inference


@pytest.mark.backend
def test_identical_to_seed_loop_in_training_with_rate_zero() -> None:
    seed, ours = twins(rate=0.0)
    out_seed, out_ours = np_(seed(X, training=True)), np_(ours(X, training=True))
    assert np.array_equal(out_seed, out_ours)
    assert same_arrays(bn_stats(seed), bn_stats(ours))


@pytest.mark.backend
def test_identical_to_seed_loop_under_fit_with_rate_zero() -> None:
    seed, ours = twins(rate=0.0)
    for model in (seed, ours):
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.fit(X, Y, batch_size=3, epochs=2, shuffle=False, verbose=0)
    assert same_arrays([np_(w) for w in seed.weights], [np_(w) for w in ours.weights])
    assert np.array_equal(seed.predict(X, verbose=0), ours.predict(X, verbose=0))


@pytest.mark.backend
def test_batchnorm_statistics_change_in_training_and_not_in_inference() -> None:
    _, ours = twins(rate=0.2)
    before = bn_stats(ours)
    ours(X, training=False)
    ours(X)
    ours.predict(X, verbose=0)
    assert same_arrays(bn_stats(ours), before)
    ours(X, training=True)
    after = bn_stats(ours)
    assert all(not np.array_equal(a, b) for a, b in zip(after[::2], before[::2], strict=True))


@pytest.mark.backend
def test_dropout_is_on_in_training_only() -> None:
    model = TrainingSequential([keras.layers.Dropout(0.5)])
    x = np.ones((64, 16), "float32")
    on = np_(model(x, training=True))
    assert set(np.unique(on)) == {0.0, 2.0}  # {0, x / (1 - rate)}
    assert np.array_equal(np_(model(x)), x)
    assert np.array_equal(np_(model(x, training=False)), x)


# -- how the mode reaches every kind of child ----------------------------------------------------


@pytest.mark.backend
def test_every_kind_of_child_gets_the_resolved_mode() -> None:
    probe_direct, probe_in_fn, probe_nested = Probe(), Probe(), Probe()
    seen_by_fn: list[Any] = []

    def with_training(x: Any, training: Any = None) -> Any:
        seen_by_fn.append(training)
        return x

    class CallableObject:
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def __call__(self, x: Any, *, training: Any = None) -> Any:
            self.seen.append(training)
            return x

    obj = CallableObject()
    model = TrainingSequential(
        [
            probe_direct,
            lambda x: probe_in_fn(x),  # no `training`: the pushed frame carries it
            with_training,
            obj,
            TrainingSequential([probe_nested]),
        ]
    )
    for mode, expected in ((True, True), (False, False), (None, False)):
        for seen in (probe_direct.seen, probe_in_fn.seen, probe_nested.seen, seen_by_fn, obj.seen):
            seen.clear()
        model(X, training=mode)
        for seen in (probe_direct.seen, probe_in_fn.seen, probe_nested.seen, seen_by_fn, obj.seen):
            assert seen[-1] is expected, (mode, seen)


def test_which_children_take_training_is_decided_once_at_add(monkeypatch: Any) -> None:
    import training_aware.sequential as sequential_module

    calls: list[Any] = []
    real = sequential_module.accepts_training

    def counting(obj: Any) -> bool:
        calls.append(obj)
        return real(obj)

    monkeypatch.setattr(sequential_module, "accepts_training", counting)
    model = TrainingSequential([lambda x, training=None: x, lambda x: x])
    assert len(calls) == 2
    added = len(calls)
    for _ in range(3):
        model(X, training=True)
    assert len(calls) == added


@pytest.mark.backend
def test_fit_trains_and_predict_evaluate_infer() -> None:
    probe = Probe()
    model = TrainingSequential(
        [keras.layers.Dense(8), keras.layers.BatchNormalization(), probe, keras.layers.Dropout(0.5)]
    )
    model.compile(optimizer="sgd", loss="mse")
    model.build((None, 5))
    probe.seen.clear()  # building traces each child once for shapes, as keras.Sequential does
    before = bn_stats(model)
    model.predict(X, verbose=0)
    model.evaluate(X, Y, verbose=0)
    assert same_arrays(bn_stats(model), before)
    assert set(probe.seen) == {False}
    probe.seen.clear()
    model.fit(X, Y, epochs=1, batch_size=3, verbose=0)
    assert True in probe.seen
    assert not same_arrays(bn_stats(model), before)


@pytest.mark.backend
def test_inside_the_functional_api() -> None:
    inner = TrainingSequential([keras.layers.Dense(8), keras.layers.BatchNormalization()])
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(8)(inner(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    before = bn_stats(model)
    model.predict(X, verbose=0)
    assert same_arrays(bn_stats(model), before)
    model.fit(X, Y, epochs=1, verbose=0)
    assert not same_arrays(bn_stats(model), before)


@pytest.mark.backend
def test_inside_a_subclassed_model_an_explicit_mode_does_not_leak_to_siblings() -> None:
    # The F3 pattern on a container: `self.seq(x, training=True)` then `self.bn(x)`.
    class Outer(keras.Model):
        def __init__(self, seq: keras.layers.Layer) -> None:
            super().__init__()
            self.seq = seq
            self.bn = keras.layers.BatchNormalization()

        def call(self, x: Any, training: Any = None) -> Any:
            return self.bn(self.seq(x, training=True))

    plain = Outer(keras.Sequential([keras.layers.Dropout(0.5)]))
    ours = Outer(TrainingSequential([keras.layers.Dropout(0.5)]))
    for model in (plain, ours):
        model(X, training=False)  # build
    plain_before, ours_before = bn_stats(plain), bn_stats(ours)
    plain(X, training=False)
    ours(X, training=False)
    # Plain Keras: the explicit True leaked into the sibling BatchNorm, which trained.
    assert not same_arrays(bn_stats(plain), plain_before)
    assert same_arrays(bn_stats(ours), ours_before)


@pytest.mark.backend
def test_inside_a_training_aware_model_whose_call_has_no_training() -> None:
    from training_aware import TrainingAwareModel

    class Net(TrainingAwareModel):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.body = TrainingSequential(
                [keras.layers.Dense(8), keras.layers.BatchNormalization()]
            )
            self.head = keras.layers.Dense(8)

        def call(self, x: Any) -> Any:  # no `training`, nothing forwarded (FACTS F1)
            return self.head(self.body(x))

    net = Net()
    net.compile(optimizer="sgd", loss="mse")
    net(X[:1])
    before = bn_stats(net)
    net.predict(X, verbose=0)
    assert same_arrays(bn_stats(net), before)
    net.fit(X, Y, epochs=1, batch_size=3, verbose=0)
    assert not same_arrays(bn_stats(net), before)


# -- the stack API -------------------------------------------------------------------------------


def test_stack_api_add_pop_len_index_iter_layers() -> None:
    dense, bn = keras.layers.Dense(4), keras.layers.BatchNormalization()

    def fn(x: Any) -> Any:
        return keras.ops.relu(x)

    model = TrainingSequential([dense])
    model.add(fn)
    model.add(bn)
    assert len(model) == 3
    assert model[0] is dense and model[1] is fn and model[-1] is bn
    assert model[1:] == [fn, bn]
    assert list(model) == [dense, fn, bn]
    assert model.layers == [dense, bn]  # Keras layers only: a function has no weights
    model.build((None, 5))
    assert len(model.weights) == 2 + 4
    assert model.pop() is bn
    assert len(model) == 2 and len(model.weights) == 2
    assert np_(model(X)).shape == (6, 4)
    assert bool(TrainingSequential())  # an empty model is still truthy
    with pytest.raises(AttributeError, match="read-only"):
        model.layers = []
    with pytest.raises(IndexError, match="no children to pop"):
        TrainingSequential().pop()


def test_keras_input_first_builds_like_sequential_and_summary_lists_layers() -> None:
    model = TrainingSequential([keras.Input((5,)), keras.layers.Dense(3, name="d")])
    plain = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    assert model.built and len(model) == 1 and len(model.layers) == 1
    assert len(model.weights) == len(plain.weights) == 2
    model.add(keras.layers.BatchNormalization(name="bn"))
    assert len(model.weights) == 6  # rebuilt on add, like keras.Sequential
    out = io.StringIO()
    with redirect_stdout(out):
        model.summary()
    text = out.getvalue()
    assert "d (Dense)" in text and "bn (BatchNormalization)" in text and "Total params: 30" in text
    with pytest.raises(ValueError, match="already been configured to use input shape"):
        model.add(keras.Input((5,)))
    with pytest.raises(ValueError, match="can only come first"):
        TrainingSequential([keras.layers.Dense(2), keras.Input((5,))])


def test_build_without_children_and_duplicate_names_fail_clearly() -> None:
    with pytest.raises(ValueError, match="cannot be built because it has no layers"):
        TrainingSequential().build((None, 3))
    with pytest.raises(ValueError, match=r"should have unique names.*already the name of a layer"):
        TrainingSequential([keras.layers.Dense(2, name="a"), keras.layers.Dense(2, name="a")])


# -- errors --------------------------------------------------------------------------------------


def test_non_callable_child_is_a_type_error_naming_index_type_and_value() -> None:
    with pytest.raises(InvalidChildError, match=r"child 1 is 42 \(of type builtins.int\)") as e:
        TrainingSequential([keras.layers.Dense(2), 42])
    assert isinstance(e.value, TypeError) and isinstance(e.value, TrainingFlagError)
    assert isinstance(e.value, ValueError)  # what keras.Sequential.add raises
    with pytest.raises(InvalidChildError, match=r"child 0 is the class Dense.*Fix: instantiate"):
        TrainingSequential([keras.layers.Dense])
    model = TrainingSequential()
    with pytest.raises(TypeError, match=r"child 0 is 'relu'"):
        model.add("relu")
    assert len(model) == 0


@pytest.mark.backend
def test_bad_training_value_is_rejected_and_changes_nothing() -> None:
    _, ours = twins(rate=0.5)
    before = non_trainable_values(ours)
    with pytest.raises(TrainingValueError, match=r"received training='yes' \(of type builtins.str"):
        ours(X, training="yes")
    assert same_arrays(non_trainable_values(ours), before)


def test_failed_add_leaves_the_stack_unchanged() -> None:
    def untraceable(x: Any) -> Any:
        raise RuntimeError("cannot trace")

    model = TrainingSequential([keras.Input((5,)), keras.layers.Dense(4)])
    with pytest.raises(RuntimeError, match="cannot trace"):
        model.add(untraceable)  # the input shape is known: `add` rebuilds, like Sequential
    assert len(model) == 1 and np_(model(X)).shape == (6, 4)


@pytest.mark.backend
def test_failed_training_call_leaves_what_keras_sequential_leaves() -> None:
    """No rollback (docs/design.md, "Failed calls"): the statistics and the Dropout seed state
    updated before the failing child stay updated, exactly as in `keras.Sequential`."""

    def fails_on_real_data(x: Any) -> Any:
        if x.shape[0] == 6:  # symbolic traces (batch None) pass; the eager call fails
            raise RuntimeError("boom")
        return x

    def layers() -> list[Any]:
        return [
            keras.layers.Dense(4),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5, seed=3),
            keras.layers.Lambda(fails_on_real_data),
        ]

    ours, plain = TrainingSequential(layers()), keras.Sequential(layers())
    ours.build((None, 5))
    plain.build((None, 5))
    plain.set_weights(ours.get_weights())
    before = non_trainable_values(plain)
    for model in (ours, plain):
        with pytest.raises(RuntimeError, match="boom"):
            model(X, training=True)
    assert not same_arrays(non_trainable_values(plain), before)
    assert same_arrays(non_trainable_values(ours), non_trainable_values(plain))
    assert same_arrays([np_(w) for w in ours.weights], [np_(w) for w in plain.weights])


# -- serialization -------------------------------------------------------------------------------


@pytest.mark.backend
def test_keras_round_trip_reproduces_inference_exactly(tmp_path: Path) -> None:
    _, ours = twins(rate=0.2)
    ours.compile(optimizer="adam", loss="mse")
    ours.fit(X, Y, batch_size=3, verbose=0)  # trained weights, non-trivial statistics
    path = tmp_path / "m.keras"
    ours.save(path)
    loaded = keras.models.load_model(path)  # plain Keras, no custom_objects
    assert type(loaded) is TrainingSequential
    assert np.array_equal(np_(loaded(X)), np_(ours(X)))
    assert np.array_equal(loaded.predict(X, verbose=0), ours.predict(X, verbose=0))
    assert [type(c).__name__ for c in loaded] == [type(c).__name__ for c in ours]


def test_plain_callable_child_cannot_be_saved_and_the_error_says_how_to_fix(
    tmp_path: Path,
) -> None:
    model = TrainingSequential([keras.layers.Dense(2), lambda x: x * 2])
    model.build((None, 3))
    with pytest.raises(
        UnserializableChildError,
        match=r"child 1 is the plain callable <function .*<lambda>.*keras\.layers\.Lambda",
    ):
        model.save(tmp_path / "m.keras")
    wrapped = TrainingSequential([keras.layers.Dense(2), keras.layers.Lambda(lambda x: x * 2)])
    wrapped.build((None, 3))
    wrapped.save(tmp_path / "ok.keras")  # the fix works (loading it needs safe_mode=False)
    assert (tmp_path / "ok.keras").exists()


@keras.saving.register_keras_serializable(package="tests_sequential")
class ScaledStack(TrainingSequential):
    """Case A: extra constructor arguments next to `layers`."""

    def __init__(
        self, layers: Any = None, scale: float = 1.0, tags: Any = None, name: Any = None
    ) -> None:
        super().__init__(layers, name=name)
        self.scale = scale
        self.tags = tags


@keras.saving.register_keras_serializable(package="tests_sequential")
class PlainScaledStack(keras.Sequential):
    def __init__(self, layers: Any = None, scale: float = 1.0, name: Any = None) -> None:
        super().__init__(layers, name=name)
        self.scale = scale


@keras.saving.register_keras_serializable(package="tests_sequential")
class Mlp(TrainingSequential):
    """Case B: builds its own children from its arguments."""

    def __init__(self, units: int = 3, depth: int = 1, **kwargs: Any) -> None:
        super().__init__([keras.layers.Dense(units) for _ in range(depth)], **kwargs)
        self.units = units


def test_subclass_extra_constructor_arguments_round_trip_f14(tmp_path: Path) -> None:
    plain = PlainScaledStack([keras.layers.Dense(2)], scale=7.0)
    plain.build((None, 3))
    plain.save(tmp_path / "plain.keras")
    # Plain Keras (FACTS F14): the Sequential subclass reloads with the default scale.
    assert keras.models.load_model(tmp_path / "plain.keras").scale == 1.0

    ours = ScaledStack([keras.layers.Dense(2)], scale=7.0, tags={"k": [1, 2]})
    ours.build((None, 3))
    ours.save(tmp_path / "ours.keras")
    loaded = keras.models.load_model(tmp_path / "ours.keras")
    assert type(loaded) is ScaledStack
    assert loaded.scale == 7.0 and loaded.tags == {"k": [1, 2]}
    assert np.array_equal(np_(loaded(X[:, :3])), np_(ours(X[:, :3])))


def test_subclass_that_builds_its_own_children_round_trips(tmp_path: Path) -> None:
    model = Mlp(units=5, depth=2)
    model.add(keras.layers.BatchNormalization())  # added after construction: replayed
    model.build((None, 3))
    model(X[:, :3], training=True)
    config = model.get_config()
    assert config["units"] == 5 and config["depth"] == 2
    clone = Mlp.from_config(config)
    assert clone.units == 5 and [type(c).__name__ for c in clone] == ["Dense"] * 2 + [
        "BatchNormalization"
    ]
    model.save(tmp_path / "mlp.keras")
    loaded = keras.models.load_model(tmp_path / "mlp.keras")
    assert np.array_equal(np_(loaded(X[:, :3])), np_(model(X[:, :3])))

    model.pop()
    model.pop()
    model.add(keras.layers.Dropout(0.1))
    with pytest.raises(ValueError, match=r"constructor made the children \['Dense', 'Dense'\]"):
        Mlp.from_config(model.get_config())


def test_unserializable_constructor_argument_is_named() -> None:
    model = ScaledStack([keras.layers.Dense(2)], tags=object())
    with pytest.raises(UnserializableChildError, match=re.escape("ScaledStack(tags=...)")):
        model.get_config()

    class Starred(TrainingSequential):
        def __init__(self, *blocks: Any) -> None:
            super().__init__(list(blocks))

    with pytest.raises(UnserializableChildError, match="extra positional arguments"):
        Starred(keras.layers.Dense(2)).get_config()


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function and AutoGraph")
def test_inside_a_user_tf_function_one_trace_per_mode_and_no_autograph_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import tensorflow as tf

    probe = Probe()
    model = TrainingSequential([keras.layers.Dense(4), keras.layers.BatchNormalization(), probe])
    model.build((None, 5))
    probe.seen.clear()  # `build` traced the stack once, in inference mode
    step = tf.function(lambda x, training: model(x, training=training))
    before = bn_stats(model)
    for _ in range(3):
        step(X, False)
    assert same_arrays(bn_stats(model), before)
    for _ in range(3):
        step(X, True)
    assert not same_arrays(bn_stats(model), before)
    assert probe.seen == [False, True]  # traced once per mode, not once per call
    assert not [r for r in caplog.records if "AutoGraph could not transform" in r.getMessage()]


# -- a drop-in for keras.Sequential (issue 9) ---------------------------------------------------

L = keras.layers
_IMG = ((8, 8, 3), "float32")


def _preprocessing_cases() -> dict[str, tuple[Any, tuple[int, ...], str]]:
    """Every Keras preprocessing layer: a small instance, its input shape and dtype."""
    text = ((), "string")
    return {
        "AugMix": (lambda: L.AugMix(), *_IMG),
        "AutoContrast": (lambda: L.AutoContrast(), *_IMG),
        "CategoryEncoding": (
            lambda: L.CategoryEncoding(num_tokens=4, output_mode="multi_hot"),
            (3,),
            "int32",
        ),
        "CenterCrop": (lambda: L.CenterCrop(4, 4), *_IMG),
        "ContrastLimitedAdaptiveHistogramEqualization": (
            lambda: L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2)),
            *_IMG,
        ),
        "CutMix": (lambda: L.CutMix(), *_IMG),
        "Discretization": (lambda: L.Discretization(bin_boundaries=[0.0, 1.0]), (3,), "float32"),
        "Equalization": (lambda: L.Equalization(), *_IMG),
        "HashedCrossing": (lambda: L.HashedCrossing(num_bins=4), (3,), "int32"),
        "Hashing": (lambda: L.Hashing(num_bins=4), (3,), "int32"),
        "IntegerLookup": (lambda: L.IntegerLookup(vocabulary=[1, 2, 3]), (3,), "int32"),
        "MaxNumBoundingBoxes": (lambda: L.MaxNumBoundingBoxes(max_number=2), *_IMG),
        "MelSpectrogram": (
            lambda: L.MelSpectrogram(fft_length=64, sequence_stride=32, num_mel_bins=8),
            (256,),
            "float32",
        ),
        "MixUp": (lambda: L.MixUp(), *_IMG),
        "Normalization": (lambda: L.Normalization(mean=2.0, variance=4.0), (3,), "float32"),
        "Pipeline": (lambda: L.Pipeline([L.RandomFlip(), L.Rescaling(1 / 255)]), *_IMG),
        "RandAugment": (lambda: L.RandAugment(), *_IMG),
        "RandomBrightness": (lambda: L.RandomBrightness(0.2), *_IMG),
        "RandomColorDegeneration": (lambda: L.RandomColorDegeneration(0.5), *_IMG),
        "RandomColorJitter": (lambda: L.RandomColorJitter(brightness_factor=0.2), *_IMG),
        "RandomContrast": (lambda: L.RandomContrast(0.5), *_IMG),
        "RandomCrop": (lambda: L.RandomCrop(4, 4), *_IMG),
        "RandomElasticTransform": (lambda: L.RandomElasticTransform(), *_IMG),
        "RandomErasing": (lambda: L.RandomErasing(), *_IMG),
        "RandomFlip": (lambda: L.RandomFlip(), *_IMG),
        "RandomGaussianBlur": (lambda: L.RandomGaussianBlur(), *_IMG),
        "RandomGrayscale": (lambda: L.RandomGrayscale(), *_IMG),
        "RandomHue": (lambda: L.RandomHue(0.5), *_IMG),
        "RandomInvert": (lambda: L.RandomInvert(), *_IMG),
        "RandomPerspective": (lambda: L.RandomPerspective(), *_IMG),
        "RandomPosterization": (lambda: L.RandomPosterization(factor=(1, 4)), *_IMG),
        "RandomRotation": (lambda: L.RandomRotation(0.2), *_IMG),
        "RandomSaturation": (lambda: L.RandomSaturation(0.5), *_IMG),
        "RandomSharpness": (lambda: L.RandomSharpness(0.5), *_IMG),
        "RandomShear": (lambda: L.RandomShear(x_factor=0.2), *_IMG),
        "RandomTranslation": (lambda: L.RandomTranslation(0.2, 0.2), *_IMG),
        "RandomZoom": (lambda: L.RandomZoom(0.2), *_IMG),
        "Rescaling": (lambda: L.Rescaling(1 / 255), *_IMG),
        "Resizing": (lambda: L.Resizing(4, 4), *_IMG),
        "STFTSpectrogram": (
            lambda: L.STFTSpectrogram(frame_length=32, frame_step=16, fft_length=32),
            (64, 1),
            "float32",
        ),
        "Solarization": (lambda: L.Solarization(), *_IMG),
        "StringLookup": (lambda: L.StringLookup(vocabulary=["a", "b"]), *text),
        "TextVectorization": (
            lambda: L.TextVectorization(vocabulary=["a", "b"], output_sequence_length=3),
            *text,
        ),
    }


def _sample(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.RandomState(0)
    if dtype == "string":
        return np.array(["a b", "b zz"])
    if dtype == "int32":
        return rng.randint(0, 4, size=(2, *shape)).astype("int32")
    return rng.uniform(0, 255, size=(2, *shape)).astype(dtype)


def test_the_preprocessing_table_covers_every_keras_preprocessing_layer() -> None:
    import inspect

    keras_names = {
        name
        for name in dir(keras.layers)
        if inspect.isclass(getattr(keras.layers, name))
        and getattr(keras.layers, name).__module__.startswith("keras.src.layers.preprocessing")
    }
    assert keras_names <= set(_preprocessing_cases()), keras_names - set(_preprocessing_cases())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_preprocessing_cases()))
def test_every_preprocessing_layer_keras_sequential_accepts_builds_and_runs_the_same(
    name: str,
) -> None:
    make, shape, dtype = _preprocessing_cases()[name]
    x = _sample(shape, dtype)
    try:
        plain = keras.Sequential([keras.Input(shape, dtype=dtype), make()])
        expected = plain(x, training=False)
    except Exception as error:  # the rule is "what keras.Sequential accepts"
        pytest.skip(f"keras.Sequential itself refuses {name} here: {type(error).__name__}")
    ours = TrainingSequential([keras.Input(shape, dtype=dtype), make()])
    assert ours.built and ours.output_shape == plain.output_shape
    ours.set_weights(plain.get_weights())
    got = ours(x, training=False)
    for a, b in zip(keras.tree.flatten(expected), keras.tree.flatten(got), strict=True):
        np.testing.assert_allclose(np_(b), np_(a), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("deferred", [False, True])
def test_layers_whose_build_creates_tensors_build_symbolically(deferred: bool) -> None:
    # Normalization(mean, variance) failed on TF ("out of scope") and JAX (UnexpectedTracerError);
    # IntegerLookup(vocabulary) failed on JAX.
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    head = [] if deferred else [keras.Input((3,))]
    model = TrainingSequential([*head, L.Normalization(mean=2.0, variance=4.0), L.Dense(2)])
    np.testing.assert_allclose(np_(model(x))[0].shape, (2,))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((1, 2)), verbose=0)
    np.testing.assert_allclose(np_(model.layers[0](x)), [[-0.5, 0.0, 0.5]], rtol=1e-6)
    ints = np.array([[1, 3, 7]], dtype="int32")
    lookup = TrainingSequential(
        [
            *([keras.Input((3,), dtype="int32")] * (not deferred)),
            L.IntegerLookup(vocabulary=[1, 2, 3]),
        ]
    )
    np.testing.assert_array_equal(np_(lookup(ints)), [[1, 3, 0]])


def _twins_with_callable() -> tuple[keras.Sequential, TrainingSequential]:
    plain = keras.Sequential(
        [
            keras.Input((5,)),
            L.Dense(4, name="d1"),
            L.BatchNormalization(name="bn"),
            L.Activation("relu", name="act"),
            L.Dense(3, name="d2"),
        ]
    )
    ours = TrainingSequential(
        [
            keras.Input((5,)),
            L.Dense(4, name="d1"),
            L.BatchNormalization(name="bn"),
            lambda t: keras.ops.relu(t),
            L.Dense(3, name="d2"),
        ]
    )
    ours.set_weights(plain.get_weights())
    return plain, ours


def test_functional_surface_and_the_feature_extractor_idiom_with_a_plain_callable() -> None:
    plain, ours = _twins_with_callable()
    assert len(ours.inputs) == 1 and ours.inputs[0] is ours.input
    assert ours.input_shape == plain.input_shape == (None, 5)
    assert ours.output_shape == plain.output_shape == (None, 3)
    assert ours.outputs == [ours.layers[-1].output]
    assert ours.layers[0].input is ours.input
    assert ours.get_layer("bn").output.shape == (None, 4)
    extractor = keras.Model(ours.input, ours.get_layer("d2").input)  # after the callable
    # keras.Sequential has no `.input` (Keras raises); its `inputs[0]` is the same tensor
    reference = keras.Model(plain.inputs[0], plain.get_layer("d2").input)
    np.testing.assert_allclose(np_(extractor(X)), np_(reference(X)), rtol=1e-6)
    with warnings.catch_warnings():
        # `keras.Model(m.inputs, ...)` (a list of one) called on a tensor: Keras warns about the
        # structure for keras.Sequential exactly as here.
        warnings.simplefilter("ignore", UserWarning)
        features = keras.Model(ours.inputs, ours.get_layer("bn").output)
        expected = keras.Model(plain.inputs, plain.get_layer("bn").output)
        np.testing.assert_allclose(
            np_(features.predict(X, verbose=0)), np_(expected.predict(X, verbose=0)), rtol=1e-6
        )
    with pytest.raises(UnserializableChildError, match="plain callable"):
        extractor.get_config()  # the callable is still refused by saving, clearly


def test_before_the_input_is_known_the_surface_is_absent_like_keras() -> None:
    model = TrainingSequential([L.Dense(2)])
    for name in ("inputs", "outputs", "input_shape", "output_shape"):
        assert not hasattr(model, name)
    model(X)
    assert model.input_shape == (6, 5) and model.layers[0].output.shape == (6, 2)


@pytest.mark.parametrize(
    "first",
    [
        lambda: L.Dense(4, input_shape=(5,)),
        lambda: L.Dense(4, input_dim=5),
    ],
)
def test_legacy_input_shape_keyword_builds_before_the_first_call(
    first: Any, tmp_path: Path
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras' own deprecation notice
        model, plain = (
            TrainingSequential([first(), L.Dense(2)]),
            keras.Sequential([first(), L.Dense(2)]),
        )
    assert model.built and model.input_shape == (None, 5)
    assert model.count_params() == plain.count_params() == 5 * 4 + 4 + 4 * 2 + 2
    path = str(tmp_path / "w.weights.h5")
    plain.save_weights(path)
    model.load_weights(path)  # before any call
    np.testing.assert_allclose(np_(model(X)), np_(plain(X)), rtol=1e-6)


def test_backbone_transfer_learning_idiom_builds_before_the_first_call() -> None:
    inputs = keras.Input((8, 8, 3))
    backbone = keras.Model(inputs, L.Conv2D(4, 3)(inputs), name="backbone")
    model = TrainingSequential([backbone, L.GlobalAveragePooling2D(), L.Dense(2)])
    assert model.built and model.input_shape == (None, 8, 8, 3)
    assert model.count_params() == 3 * 3 * 3 * 4 + 4 + 4 * 2 + 2
    out = io.StringIO()
    with redirect_stdout(out):
        model.summary()
    assert "backbone (Functional)" in out.getvalue()
    built_first = L.Dense(4)
    built_first.build((32, 5))  # a built first layer: its batch size is not kept
    stacked = TrainingSequential([built_first, L.Dense(2)])
    assert stacked.input_shape == (None, 5)


def test_compute_output_shape_and_time_distributed() -> None:
    assert TrainingSequential([L.Dense(4), L.Dense(8)]).compute_output_shape((1, 2)) == (1, 8)
    inner = TrainingSequential([L.Flatten(), lambda t: t * 2.0])
    inputs = keras.Input((None, 2, 2))
    outer = keras.Model(inputs, L.TimeDistributed(inner)(inputs))
    y = outer(np.ones((2, 3, 2, 2), dtype="float32"))
    assert tuple(y.shape) == (2, 3, 4)
    np.testing.assert_allclose(np_(y), 2.0)


def test_rank_one_input_is_expanded_like_keras_sequential() -> None:
    x = np.array([1.0, 2.0], dtype="float32")
    y = np.array([[1.0], [2.0]], dtype="float32")
    plain = keras.Sequential([keras.Input((1,)), L.Dense(1)])
    ours = TrainingSequential([keras.Input((1,)), L.Dense(1)])
    ours.set_weights(plain.get_weights())
    for model in (plain, ours):
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, verbose=0, shuffle=False)
    np.testing.assert_allclose(np_(ours(x)), np_(plain(x)), rtol=1e-5)
    assert tuple(ours(x).shape) == (2, 1)


def test_add_of_a_non_layer_is_a_value_error_as_in_keras() -> None:
    with pytest.raises(ValueError, match="Only instances of") as e:
        TrainingSequential().add({})
    assert isinstance(e.value, InvalidChildError)


def test_shape_mismatched_load_weights_says_what_keras_says(tmp_path: Path) -> None:
    import warnings

    path = str(tmp_path / "small.weights.h5")
    keras.Sequential([keras.Input((3,)), L.Dense(2)]).save_weights(path)
    messages = []
    for model in (
        keras.Sequential([keras.Input((4,)), L.Dense(2, name="d")]),
        TrainingSequential([keras.Input((4,)), L.Dense(2, name="d")]),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ValueError) as e:
                model.load_weights(path)
        assert not [w for w in caught if "_plan" in str(w.message) or "_children" in str(w.message)]
        text = re.sub(r"value=\[.*?\]\]>", "", str(e.value), flags=re.DOTALL)
        messages.append(re.sub(r"(sequential|training_sequential)(_\d+)?", "M", text))
    assert messages[0] == messages[1]


@pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="tf_saved_model export needs TF or JAX"
)
@pytest.mark.parametrize("reloaded", [False, True])
def test_export_of_a_never_called_model_runs_in_inference(reloaded: bool, tmp_path: Path) -> None:
    import tensorflow as tf

    model = TrainingSequential(
        [keras.Input((5,)), L.Dense(4), L.BatchNormalization(), L.Dropout(0.9)]
    )
    bn = model.layers[1]
    bn.moving_mean.assign(np.full((4,), 3.0, "float32"))
    bn.moving_variance.assign(np.full((4,), 9.0, "float32"))
    if reloaded:
        model.save(tmp_path / "m.keras")
        model = keras.models.load_model(tmp_path / "m.keras")
    model.export(str(tmp_path / "exported"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "exported"))  # kept: it owns the variables
    served = loaded.serve(tf.constant(X))
    np.testing.assert_allclose(served.numpy(), np_(model(X, training=False)), rtol=1e-5)


def test_clone_model_keeps_the_class_and_the_supported_route_for_clone_function() -> None:
    _, ours = _twins_with_callable()
    ours.pop(rebuild=False)
    ours.pop(rebuild=False)  # the lambda: clone_model serializes
    ours.add(L.Dense(3, name="d2"))
    clone = keras.models.clone_model(ours)
    assert type(clone) is TrainingSequential and clone.input_shape == ours.input_shape
    clone.set_weights(ours.get_weights())
    np.testing.assert_allclose(np_(clone(X)), np_(ours(X)), rtol=1e-6)
    with pytest.raises(ValueError, match="only supported for Sequential models or Functional"):
        keras.models.clone_model(ours, clone_function=lambda layer: layer)

    def renamed(layer: Any) -> Any:
        config = layer.get_config()
        config["name"] += "_custom"
        return type(layer).from_config(config)

    route = TrainingSequential([keras.Input(ours.input_shape[1:]), *(renamed(c) for c in ours)])
    assert [c.name for c in route] == [f"{c.name}_custom" for c in ours]


def test_plot_model_of_the_graph_draws_the_children(tmp_path: Path) -> None:
    import shutil

    pydot = pytest.importorskip("pydot", reason="pydot (the `test` extra) is not installed")
    if shutil.which("dot") is None:
        pytest.skip("graphviz's `dot` is not installed (apt-get install graphviz)")
    _, ours = _twins_with_callable()
    graph = keras.Model(ours.inputs, ours.outputs, name=ours.name)
    dot = keras.utils.model_to_dot(graph, show_layer_names=True)
    labels = " ".join(str(node.get("label")) for node in dot.get_nodes())
    for name in ("d1", "bn", "d2"):
        assert name in labels
    keras.utils.plot_model(graph, to_file=str(tmp_path / "m.png"))
    assert (tmp_path / "m.png").stat().st_size > 0
    assert isinstance(dot, pydot.Dot)


_FRESH = """
import sys
import training_aware
import keras
model = keras.models.load_model(sys.argv[1])
print(type(model).__name__, type(model.layers[1]).__name__)
"""

_LINT_ONLY = """
import sys
import training_aware
import training_aware.lint
from training_aware.cli import main
code = main(["lint", sys.argv[1]])
print(code, sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules))
"""


@pytest.mark.slow
def test_a_fresh_process_reloads_after_a_bare_import_and_the_linter_imports_no_keras(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from training_aware import PinnedMode

    model = TrainingSequential(
        [keras.Input((3,)), L.Dense(2), PinnedMode(L.Dropout(0.5), training=True)]
    )
    path = tmp_path / "m.keras"
    model.save(path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _FRESH, str(path)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["TrainingSequential", "PinnedMode"]
    source = tmp_path / "clean.py"
    source.write_text("x = 1\n")
    done = subprocess.run(
        [sys.executable, "-c", _LINT_ONLY, str(source)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("0 []"), done.stdout


def test_a_child_that_requires_training_builds_and_gets_the_mode() -> None:
    class Strict(keras.layers.Layer):
        def call(self, x: Any, training: Any) -> Any:
            return x * 2.0 if training else x

    model = TrainingSequential([keras.Input((5,)), Strict(), L.Dense(2)])  # keras.Sequential raises
    assert model.output_shape == (None, 2)
    strict, dense = model.layers
    np.testing.assert_allclose(np_(strict(X, training=True)), 2 * X)
    np.testing.assert_allclose(np_(model(X, training=True)), np_(dense(2 * X)), rtol=1e-6)
    np.testing.assert_allclose(np_(model(X)), np_(dense(X)), rtol=1e-6)


def test_clone_model_recursive_works_alone_and_from_an_enclosing_keras_model() -> None:
    inner = TrainingSequential([keras.Input((5,)), L.Dense(3), L.BatchNormalization()])
    clone = keras.models.clone_model(inner, recursive=True)
    assert type(clone) is TrainingSequential and clone.layers[0] is not inner.layers[0]
    outer = keras.Sequential([keras.Input((5,)), inner, L.Dense(2)])
    copy = keras.models.clone_model(outer, recursive=True)
    assert type(copy.layers[0]) is TrainingSequential and copy.layers[0] is not inner
    copy.set_weights(outer.get_weights())
    np.testing.assert_allclose(np_(copy(X)), np_(outer(X)), rtol=1e-6)


def test_every_module_with_a_registered_class_is_imported_when_keras_is() -> None:
    import training_aware

    root = Path(training_aware.__file__).parent
    registering = {
        "training_aware." + ".".join(path.relative_to(root).with_suffix("").parts)
        for path in root.rglob("*.py")
        if re.search(
            r"^@(keras\.saving\.register_keras_serializable|serializable)$", path.read_text(), re.M
        )
    }
    # the scan finds the library's own (TrainingSequential, PinnedMode, the functional model)
    assert len(registering) >= 3, registering
    assert registering <= set(training_aware._SERIALIZABLE_MODULES), registering - set(
        training_aware._SERIALIZABLE_MODULES
    )


# On torch, Keras' Equalization itself triggers torch's "Tensor.T is deprecated" UserWarning.
@pytest.mark.filterwarnings("ignore:.*Tensor.T is deprecated:UserWarning")
def test_a_child_returning_its_symbolic_input_leaves_no_graph_but_a_working_model() -> None:
    # Keras' Equalization returns its KerasTensor input itself: keras.Sequential raises
    # "... is part of a cycle" (3.15; "`inputs` not connected to `outputs`" on 3.12);
    # TrainingSequential builds without a graph and runs.
    images = np.random.RandomState(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"cycle|not connected"):
        keras.Sequential([keras.Input((8, 8, 3)), L.Equalization()])
    model = TrainingSequential([keras.Input((8, 8, 3)), L.Equalization(), L.Rescaling(0.5)])
    assert model.built and not hasattr(model, "inputs")
    equalized = L.Equalization()(images, training=True)
    np.testing.assert_allclose(np_(model(images, training=True)), 0.5 * np_(equalized), rtol=1e-6)
    model.add(L.Rescaling(2.0))  # a later rebuild starts from a fresh input
    np.testing.assert_allclose(np_(model(images, training=True)), np_(equalized), rtol=1e-5)


def _nests(make: Any, depth: int, **call: Any) -> bool:
    model = keras.layers.Dense(3)
    for _ in range(depth):
        model = make([model])
    try:
        with warnings.catch_warnings():  # Keras' structure warning on PyTorch for nested models
            warnings.simplefilter("ignore", UserWarning)
            model(X[:2, :3], **call)
    except RecursionError:
        return False
    return True


@pytest.mark.slow  # builds a dozen nests of a few dozen levels
@pytest.mark.backend
@pytest.mark.parametrize("call", [{}, {"training": True}], ids=["inference", "training"])
def test_nests_at_least_as_deep_as_keras_sequential(call: dict[str, Any]) -> None:
    """Under the same recursion limit, `TrainingSequential` nests as deep as `keras.Sequential`
    (each level adds no more Python frames to the call stack than Keras' own)."""
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 300)
    try:
        low, high = 1, 40  # the deepest keras.Sequential nest that runs, by bisection
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (
                (middle, high) if _nests(keras.Sequential, middle, **call) else (low, middle - 1)
            )
        assert 3 < low < 40
        assert _nests(TrainingSequential, low, **call)
    finally:
        sys.setrecursionlimit(limit)
