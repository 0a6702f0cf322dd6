"""`lint --fix` never changes what correct code does: each module runs before and after the fix,
on the backend of the run, and every entry point is compared (`fix_behaviour.changed`).

Safe repairs (the default) change nothing but the lost flag they restore; the repairs held back
as unsafe are shown, with `--unsafe-fixes`, to change a correct call, which is why they are held
back. The cases: Keras' own preprocessing layers (their `training=True` default is by design),
a standalone augmentation layer called bare (the `tf.data` pattern), a helper called from
`call` with its own `training`, and a `call` that re-binds `training`.
"""

from __future__ import annotations

import importlib.util
import textwrap
import types
from typing import Any

import pytest

from training_aware.lint.fix import FileFix, fix_source

from .fix_behaviour import changed, load

pytestmark = [pytest.mark.slow, pytest.mark.backend]

MODULE = textwrap.dedent(
    '''\
    import keras


    class Encoder(keras.Model):
        """TA002, safe: `training` declared and not passed (lost on JAX under `fit`)."""

        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):
            return self.drop(self.dense(x))


    class Net(keras.Model):
        """TA001, safe: no `training` in `call` (BatchNorm never trains under `fit`)."""

        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.norm = keras.layers.BatchNormalization()

        def call(self, x):
            return self.norm(self.dense(x))


    class WithHelper(keras.Model):
        """TA002, unsafe: a helper called from `call` has a `training` of its own."""

        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):
            def project(h, training=True):  # shared with a script that calls it bare
                return self.drop(self.dense(h))

            return project(x)


    class NoisyInput(keras.Model):
        """TA002, unsafe: `call` re-binds `training` to gate its input noise."""

        def __init__(self, noise=0.0):
            super().__init__()
            self.noise = noise
            self.dense = keras.layers.Dense(4)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):
            training = bool(training) and self.noise > 0  # noise only when configured
            if training:
                x = x + keras.random.normal(keras.ops.shape(x), stddev=self.noise)
            return self.drop(self.dense(x))
    '''
)


def _data() -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 4)).astype("float32")


def _fixed(text: str, name: str, *, unsafe: bool) -> FileFix:
    result = fix_source(text, name, unsafe=unsafe)
    assert result.error is None, result.error
    return result


def _build(cls: str) -> Any:
    def build(module: types.ModuleType) -> Any:
        import keras

        model = getattr(module, cls)()
        model.build((None, 4))
        assert isinstance(model, keras.Model)
        return model

    return build


def test_safe_fixes_change_only_the_lost_flag() -> None:
    import keras

    safe = _fixed(MODULE, "models.py", unsafe=False)
    assert sorted(f.code for f in safe.applied) == ["TA001", "TA002"]
    assert sorted(f.code for f, _ in safe.unsafe) == ["TA002", "TA002"]
    before, after = load(MODULE, "before"), load(safe.fixed or "", "after")
    x, y = _data()
    jax = keras.backend.backend() == "jax"
    # Net lost its flag under `fit` everywhere (FACTS F1), Encoder on JAX only (F2): those are
    # the repairs; every other call computes exactly what it did.
    assert changed(before, after, _build("Net"), x, y) == {"fit"}
    assert changed(before, after, _build("Encoder"), x, y) == ({"fit"} if jax else set())
    for cls in ("WithHelper", "NoisyInput"):  # held back: untouched, so unchanged
        assert changed(before, after, _build(cls), x, y) == set(), cls


def test_forwarding_training_from_a_helper_is_unsafe() -> None:
    safe = _fixed(MODULE, "models.py", unsafe=False)
    reason = next(why for f, why in safe.unsafe if "WithHelper" in f.message)
    assert "nested function `project`" in reason
    risky = _fixed(MODULE, "models.py", unsafe=True)
    before, after = load(MODULE, "before"), load(risky.fixed or "", "after")
    x, y = _data()
    # The deterministic `predict` would start applying Dropout: `training` in the helper is its
    # own `True`, not the mode Keras passed to `call`.
    entries = ("predict", "call(training=False)")
    assert changed(before, after, _build("WithHelper"), x, y, entries) == set(entries)


def test_forwarding_a_rebound_training_is_unsafe() -> None:
    safe = _fixed(MODULE, "models.py", unsafe=False)
    reason = next(why for f, why in safe.unsafe if "NoisyInput" in f.message)
    assert "`training` is assigned inside `call`" in reason
    risky = _fixed(MODULE, "models.py", unsafe=True)
    before, after = load(MODULE, "before"), load(risky.fixed or "", "after")
    x, y = _data()
    # `model(x, training=True)` would stop applying Dropout: `training` is now the noise switch.
    entries = ("call(training=True)",)
    assert changed(before, after, _build("NoisyInput"), x, y, entries) == set(entries)


AUGMENT = textwrap.dedent(
    '''\
    import keras


    class RandomBrightness(keras.layers.Layer):
        """Augmentation, on by default: `augment(images)` in a tf.data pipeline."""

        def __init__(self, delta=0.2, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.delta = delta
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=True):
            if not training:
                return images
            shift = keras.random.uniform(
                (keras.ops.shape(images)[0], 1), -self.delta, self.delta, seed=self.seed_generator
            )
            return images + shift
    '''
)


def test_a_standalone_augmentation_layer_keeps_augmenting() -> None:
    import keras
    import numpy as np

    safe = _fixed(AUGMENT, "augment.py", unsafe=False)
    assert safe.fixed == AUGMENT and [f.code for f, _ in safe.unsafe] == ["TA005"]
    assert "augmentation in a tf.data pipeline" in safe.unsafe[0][1]
    risky = _fixed(AUGMENT, "augment.py", unsafe=True)
    x, _ = _data()

    def augmented(module: types.ModuleType) -> Any:
        keras.utils.set_random_seed(0)
        layer = module.RandomBrightness(seed=1)
        if keras.backend.backend() != "tensorflow":
            return keras.ops.convert_to_numpy(layer(x))  # the bare call, as a loader makes it
        import tensorflow as tf

        batches = tf.data.Dataset.from_tensor_slices(x).batch(8).map(lambda b: layer(b))
        return next(iter(batches)).numpy()

    assert not np.array_equal(augmented(load(AUGMENT, "before")), x)  # it augments
    assert np.array_equal(augmented(load(risky.fixed or "", "after")), x)  # the unsafe fix: not


KERAS_BASE = "keras.src.layers.preprocessing.image_preprocessing.base_image_preprocessing_layer"
KERAS_FLIP = "keras.src.layers.preprocessing.image_preprocessing.random_flip"
KERAS_PIPELINE = "keras.src.layers.preprocessing.pipeline"


def _source(module: str) -> str:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as handle:
        return handle.read()


def test_keras_preprocessing_layers_keep_their_training_default() -> None:
    import keras
    import numpy as np

    images = np.arange(8 * 4 * 4, dtype="float32").reshape(8, 4, 4, 1)
    base, flip, pipeline = (_source(m) for m in (KERAS_BASE, KERAS_FLIP, KERAS_PIPELINE))
    for name, text in (("base_image_preprocessing_layer.py", base), ("pipeline.py", pipeline)):
        safe = _fixed(text, name, unsafe=False)
        assert safe.fixed == text, name  # `--fix` leaves Keras' own defaults alone
        assert [f.code for f, _ in safe.unsafe] == ["TA005"], name

    def flipped(base_text: str, pipeline_text: str) -> tuple[Any, Any]:
        fixed_base = load(base_text, KERAS_BASE)
        flip_module = load(flip, KERAS_FLIP, {KERAS_BASE: fixed_base})
        pipe_module = load(pipeline_text, KERAS_PIPELINE)
        keras.utils.set_random_seed(0)
        alone = flip_module.RandomFlip("horizontal", seed=3)(images)
        keras.utils.set_random_seed(0)
        piped = pipe_module.Pipeline([flip_module.RandomFlip("horizontal", seed=3)])(images)
        return keras.ops.convert_to_numpy(alone), keras.ops.convert_to_numpy(piped)

    # Keras' augmentation layers and Pipeline augment when called bare, by design.
    alone, piped = flipped(base, pipeline)
    assert not np.array_equal(alone, images) and not np.array_equal(piped, images)
    # The unsafe repair (`training=None`) would stop that: hence it is never applied by `--fix`.
    risky_base = _fixed(base, "base.py", unsafe=True).fixed or ""
    risky_pipeline = _fixed(pipeline, "pipeline.py", unsafe=True).fixed or ""
    alone, piped = flipped(risky_base, risky_pipeline)
    assert np.array_equal(alone, images) and np.array_equal(piped, images)


FLIPPED = textwrap.dedent(
    '''\
    import keras


    class Classifier(keras.Model):
        """TA001, unsafe: `predict` passes nothing to this `call`, so RandomFlip augments."""

        def __init__(self):
            super().__init__()
            self.flip = keras.layers.RandomFlip("horizontal", seed=3)
            self.drop = keras.layers.Dropout(0.5)

        def call(self, images):
            return self.drop(self.flip(images))
    '''
)


def test_adding_training_above_an_augmentation_layer_is_unsafe() -> None:
    import numpy as np

    safe = _fixed(FLIPPED, "classifier.py", unsafe=False)
    assert safe.fixed == FLIPPED and {f.code for f, _ in safe.unsafe} == {"TA001"}
    assert "RandomFlip (which defaults to `training=True`)" in safe.unsafe[0][1]
    risky = _fixed(FLIPPED, "classifier.py", unsafe=True)
    images = np.arange(8 * 4 * 4, dtype="float32").reshape(8, 4, 4, 1)

    def build(module: types.ModuleType) -> Any:
        model = module.Classifier()
        model.build((None, 4, 4, 1))
        return model

    before, after = load(FLIPPED, "before"), load(risky.fixed or "", "after")
    # Plain Keras: `predict` calls a `call` without `training` bare, and RandomFlip's own
    # default (True) flips; after the repair `predict` passes False and nothing flips.
    assert changed(before, after, build, images, None, ("predict",)) == {"predict"}
