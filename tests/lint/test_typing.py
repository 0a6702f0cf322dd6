"""What counts statically as "a sublayer that accepts `training`"; unknown types report nothing."""

from __future__ import annotations

import textwrap

import pytest

from training_aware.lint import lint_source

from .helpers import codes

SPELLINGS = {
    "keras.layers.X": ("import keras", "keras.layers.Dropout(0.5)"),
    "layers.X": ("from keras import layers", "layers.Dropout(0.5)"),
    "tf.keras.layers.X": ("import tensorflow as tf", "tf.keras.layers.Dropout(0.5)"),
    "from keras.layers import X": ("from keras.layers import Dropout", "Dropout(0.5)"),
    "alias": ("from keras.layers import Dropout as D", "D(0.5)"),
    "module alias": ("import keras.layers as kl", "kl.Dropout(0.5)"),
    "tensorflow.keras": ("from tensorflow.keras import layers as L", "L.Dropout(0.5)"),
    "keras.src": ("from keras.src.layers import Dropout", "Dropout(0.5)"),
}

CLASS = """
{imp}
import keras


class M(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.sub = {ctor}

    def call(self, x, training=None):
        return self.sub(x)
"""


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_every_import_spelling_is_recognised(spelling):
    imp, ctor = SPELLINGS[spelling]
    assert codes(CLASS.format(imp=imp, ctor=ctor)) == ["TA002"]


def test_unimported_name_is_unknown_and_not_reported():
    assert codes(CLASS.format(imp="", ctor="Dropout(0.5)")) == []


@pytest.mark.parametrize(
    "ctor", ["keras.layers.Dense(3)", "keras.layers.EinsumDense('ab,bc->ac', 3)"]
)
def test_dense_ignores_training_and_is_not_reported(ctor):
    assert codes(CLASS.format(imp="", ctor=ctor)) == []


@pytest.mark.parametrize(
    ("ctor", "expected"),
    [
        ("keras.layers.LSTM(4)", []),
        ("keras.layers.LSTM(4, dropout=0.0)", []),
        ("keras.layers.LSTM(4, dropout=0.2)", ["TA002"]),
        ("keras.layers.MultiHeadAttention(2, 4)", []),
        ("keras.layers.MultiHeadAttention(2, 4, dropout=rate)", ["TA002"]),
        ("keras.layers.Bidirectional(keras.layers.LSTM(4, recurrent_dropout=0.1))", ["TA002"]),
        ("keras.layers.TimeDistributed(keras.layers.Dense(4))", []),
        ("keras.layers.Lambda(lambda x: x)", []),
        ("keras.Sequential([keras.layers.Dense(2), keras.layers.Dropout(0.1)])", ["TA002"]),
        ("keras.Sequential([keras.layers.Dense(2)])", []),
        ("keras.layers.Conv2D(2, 3)", []),
        ("keras.layers.RandomFlip()", ["TA002"]),
        ("something_else()", []),
    ],
)
def test_layer_kinds(ctor, expected):
    assert codes(CLASS.format(imp="rate = 0.1", ctor=ctor)) == expected


def test_same_module_class_whose_call_uses_training():
    source = """
    import keras

    class Block(keras.layers.Layer):
        def call(self, x, training=None):
            return x if training else -x

    class Quiet(keras.layers.Layer):
        def call(self, x, training=None):
            return x

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.quiet = Quiet()

        def call(self, x, training=None):
            return self.quiet(self.block(x))
    """
    assert codes(source) == ["TA002"]


def test_lists_dicts_appends_loops_enumerate_items():
    source = """
    import keras

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.blocks = []
            for _ in range(3):
                block = keras.layers.Dropout(0.1)
                self.blocks.append(block)
            self.named = {}
            self.named["bn"] = keras.layers.BatchNormalization()

        def call(self, x, training=None):
            for i, block in enumerate(self.blocks):
                x = block(x)
            for name, layer in self.named.items():
                x = layer(x)
            return [b(x) for b in self.blocks]
    """
    assert codes(source) == ["TA002", "TA002", "TA002"]


def test_isinstance_narrowing_and_unknown_tests():
    source = """
    import keras
    from keras import layers

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.items = [layers.Dense(2), layers.Dropout(0.1), layers.BatchNormalization()]

        def call(self, x, training=None):
            for layer in self.items:
                if not isinstance(layer, (layers.Dropout, layers.BatchNormalization)):
                    x = layer(x)
                else:
                    x = layer(x, training=training)
            for layer in self.items:
                if accepts(layer):
                    x = layer(x)
            for layer in self.items:
                if isinstance(layer, layers.Dense):
                    x = layer(x)
                else:
                    x = layer(x)  # Dropout and BatchNormalization: reported
            return x
    """
    found = codes(source)
    assert found == ["TA002"]


def test_type_error_fallback_is_not_reported():
    source = """
    import keras

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.items = [keras.layers.Dropout(0.1)]

        def call(self, x, training=None):
            for layer in self.items:
                try:
                    x = layer(x, training=training)
                except TypeError:
                    x = layer(x)
            return x
    """
    assert codes(source) == []


def test_kwargs_splat_and_positional_training_count_as_passing():
    source = """
    import keras

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.drop = keras.layers.Dropout(0.1)

        def call(self, x, training=None, **kwargs):
            x = self.drop(x, **kwargs)
            return self.drop(x, training)
    """
    assert codes(source) == []


def test_non_layer_class_with_call_is_not_checked_for_ta001():
    source = """
    import keras

    class Helper:
        def __init__(self):
            self.drop = keras.layers.Dropout(0.1)

        def call(self, x):
            return self.drop(x)
    """
    assert codes(source) == []


def test_branch_on_training_without_parameter_is_ta001():
    source = """
    import keras

    class M(keras.layers.Layer):
        def call(self, x):
            return x * 2 if training else x
    """
    assert codes(source) == ["TA001"]


def test_hard_coded_false_on_unknown_backbone_attribute_is_ta004():
    source = """
    import keras

    class Classifier(keras.Model):
        def __init__(self, backbone):
            super().__init__()
            self.backbone = backbone
            self.head = keras.layers.Dense(2)

        def call(self, x, training=None):
            return self.head(self.backbone(x, training=False))
    """
    assert codes(source) == ["TA004"]


def test_jax_grad_and_torch_backward_regions():
    source = """
    import jax
    import keras

    model = keras.Sequential([keras.layers.Dropout(0.5)])

    def loss_fn(x):
        return model(x).sum()

    grads = jax.grad(loss_fn)

    def torch_step(x):
        loss = model(x).sum()
        loss.backward()

    def fine(x):
        return model(x)
    """
    assert codes(source) == ["TA006", "TA006"]


def test_annotated_model_parameter_under_tape_is_silent():
    # a `keras.Model` of unknown contents: nothing mode-dependent is known to be inside
    source = """
    import keras
    import tensorflow as tf

    def step(model: keras.Model, x, unknown):
        with tf.GradientTape() as tape:
            y = model(x)
            z = unknown(x)
        return tape.gradient(y, model.trainable_variables)
    """
    assert codes(source) == []


def test_plain_layer_without_training_is_checked_at_its_caller():
    source = """
    import keras

    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.norm = keras.layers.BatchNormalization()

        def call(self, x):  # not reported: the call context hands it the caller's mode
            return self.norm(x)

    class Forwards(keras.Model):
        def __init__(self):
            super().__init__()
            self.block = Block()

        def call(self, x, training=None):
            return self.block(x, training=training)

    class Drops(Forwards):
        def call(self, x, training=None):
            return self.block(x)

    class Outermost(Forwards):
        def call(self, x):
            return self.block(x)
    """
    found = lint_source(textwrap.dedent(source))
    assert [(f.code, f.line) for f in found] == [("TA002", 22), ("TA001", 26)]
    assert "`self.block` (Block)" in found[0].message


def test_training_aware_classes_forward_the_mode_themselves():
    source = """
    import keras
    import tensorflow as tf
    from training_aware import PinnedMode, TrainingAwareModel, TrainingSequential

    class Fixed(TrainingAwareModel):
        def __init__(self):
            super().__init__()
            self.bn = keras.layers.BatchNormalization()
            self.drop = keras.layers.Dropout(0.5)
            self.seq = TrainingSequential([keras.layers.Dropout(0.1)])
            self.pinned = PinnedMode(keras.layers.Dropout(0.1), training=True)

        def call(self, x):
            x = self.drop(x, training=True)
            x = self.pinned(self.seq(x))
            return tf.nn.dropout(self.bn(x), rate=0.1)

    class Strict(TrainingAwareModel, training_check="error"):
        def __init__(self):
            super().__init__()
            self.seq = TrainingSequential([keras.layers.Dropout(0.1)])
            self.pinned = PinnedMode(keras.layers.Dropout(0.1), training=True)

        def call(self, x, training=None):
            return self.pinned(self.seq(x))
    """
    # `tf.nn.dropout` ties the module to TensorFlow, where TA002 in a model is latent
    found = lint_source(textwrap.dedent(source), latent=True)
    assert [(f.code, f.line) for f in found] == [("TA001", 17), ("TA002", 26)]
    assert "`tf.nn.dropout`" in found[0].message
    assert "`self.seq` (TrainingSequential)" in found[1].message
