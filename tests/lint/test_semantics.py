"""Issue 10: each false-positive class and each missed pattern, as rules about Keras.

Every test lints a small module written the way real Keras code is (none is a copy of a corpus
file) and asserts the exact codes reported; the Keras behaviour each relies on is in
docs/lint.md ("Which Keras a module targets")."""

from __future__ import annotations

import textwrap

import pytest

from training_aware.lint import lint_source
from training_aware.lint.rules import OPT_IN


def codes(
    source: str, opt_in: frozenset[str] = frozenset(), *, latent: bool = True
) -> list[tuple[str, int]]:
    """Codes and lines, latent findings included unless `latent=False` (most tests here are
    about what the checker sees; the category is tested in test_project.py)."""
    found = lint_source(textwrap.dedent(source), opt_in=opt_in, latent=latent)
    return [(f.code, f.line) for f in found]


MODEL_WITHOUT_TRAINING = """
    {imports}

    class Net({base}):
        def __init__(self):
            super().__init__()
            self.drop = {layers}.Dropout(0.5)

        def call(self, x):
            return self.drop(x)
"""


@pytest.mark.parametrize(
    ("imports", "base", "layers", "expected"),
    [
        ("import keras", "keras.Model", "keras.layers", [("TA001", 10)]),
        ("import tensorflow as tf", "tf.keras.Model", "tf.keras.layers", [("TA001", 10)]),
        ("import tf_keras", "tf_keras.Model", "tf_keras.layers", []),
        ("from ..utils import keras", "keras.Model", "keras.layers", []),
    ],
    ids=["keras3", "tf.keras", "tf_keras (fit passes training=True)", "re-exported keras"],
)
def test_ta001_holds_where_fit_passes_nothing(imports, base, layers, expected):
    source = MODEL_WITHOUT_TRAINING.format(imports=imports, base=base, layers=layers)
    assert codes(source, latent=False) == expected


def test_ta001_silent_when_the_models_own_train_step_passes_training():
    assert (
        codes("""
        import keras
        import tensorflow as tf

        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def call(self, x):
                return self.drop(x)

            def train_step(self, data):
                x, y = data
                with tf.GradientTape() as tape:
                    loss = self.compute_loss(y=y, y_pred=self(x, training=True))
                return tape.gradient(loss, self.trainable_variables)
        """)
        == []
    )


KWARGS_MODEL = """
    {imports}

    class Net({base}):
        def __init__(self):
            super().__init__()
            self.drop = {layers}.Dropout(0.5)

        def call(self, x, **kwargs):
            return self.drop(x, training=kwargs.get("training"))
"""


@pytest.mark.parametrize(
    ("imports", "base", "layers", "expected"),
    [
        ("import keras", "keras.Model", "keras.layers", [("TA001", 10)]),
        ("import tf_keras", "tf_keras.Model", "tf_keras.layers", []),
    ],
    ids=["keras3 strips training from **kwargs", "tf_keras passes it in"],
)
def test_ta001_training_read_from_kwargs(imports, base, layers, expected):
    source = KWARGS_MODEL.format(imports=imports, base=base, layers=layers)
    assert codes(source, latent=False) == expected


def test_ta006_respects_what_the_tape_differentiates():
    source = """
        import keras
        import tensorflow as tf

        model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5)])
        encoder = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
        head = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5)])
        dense_only = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(1)])

        def grad_cam(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = model(x)
            return tape.gradient(y, x)

        def fine_tune(x, y):
            with tf.GradientTape() as tape:
                z = encoder(x)
                loss = head(z)
            return tape.gradient(loss, head.trainable_variables)

        def train_dense(x):
            with tf.GradientTape() as tape:
                loss = dense_only(x)
            return tape.gradient(loss, dense_only.trainable_variables)

        def train(x):
            with tf.GradientTape() as tape:
                loss = model(x)
            return tape.gradient(loss, model.trainable_variables)
    """
    # grad_cam: inputs, not variables (attribution: inference intended); fine_tune: the encoder's
    # variables are not differentiated (frozen), the head's are; dense_only: nothing
    # mode-dependent; train: the bug.
    assert codes(source) == [("TA006", 19), ("TA006", 29)]


def test_ta006_frozen_model_is_silent():
    assert (
        codes("""
        import keras
        import tensorflow as tf

        backbone = keras.Sequential([keras.layers.BatchNormalization()])
        backbone.trainable = False
        model = keras.Sequential([backbone, keras.layers.Dense(1)])

        def step(x):
            with tf.GradientTape() as tape:
                f = backbone(x)
                loss = model(x, training=True)
            return tape.gradient(loss, model.trainable_variables + backbone.trainable_variables)
        """)
        == []
    )


GAN = """
    import keras
    import tensorflow as tf

    def make_generator():
        return keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization()])

    class GAN(keras.Model):
        def __init__(self, generator, discriminator):
            super().__init__()
            self.generator = generator
            self.discriminator = discriminator

        def _loss(self, z):
            return self.discriminator(self.generator(z))

        def train_step(self, data):
            with tf.GradientTape() as tape:
                fake = self.generator(data)
                loss = self._loss(data)
            return tape.gradient(loss, self.trainable_variables)

    gan = GAN(
        generator=make_generator(),
        discriminator=keras.Sequential([keras.layers.Dropout(0.3), keras.layers.Dense(1)]),
    )
"""


def test_ta006_follows_constructor_arguments_factories_and_helper_methods():
    found = codes(GAN)
    assert ("TA006", 19) in found  # self.generator: a factory's Sequential with BatchNorm
    assert ("TA006", 15) in found  # through self._loss: discriminator (Dropout) and generator
    assert {c for c, _ in found} == {"TA006"}


def test_ta006_constructor_argument_of_unknown_type_is_silent():
    source = GAN.replace("generator=make_generator()", "generator=load_generator()")
    assert ("TA006", 19) not in codes(source)


WRAPPER = """
    import keras
    import tensorflow as tf

    class Wrapper(keras.Model):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def call(self, x):
            return self.model(x)

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = self.compute_loss(y=y, y_pred=self(x))
            return tape.gradient(loss, self.model.trainable_variables)

    wrapper = Wrapper({model})
"""


def test_ta006_train_step_calling_self_without_training():
    # the wrapped model is built with a Dropout: `self(x)` trains it in inference mode
    model = "keras.Sequential([keras.layers.Dense(2), keras.layers.Dropout(0.5)])"
    # and `call` drops the mode its own `train_step` never passes (TA001)
    assert codes(WRAPPER.format(model=model)) == [("TA001", 11), ("TA006", 16)]


def test_ta006_is_silent_when_nothing_mode_dependent_is_known_to_be_inside():
    # a model of unknown contents, and one of convolutions only: nothing to report
    assert codes(WRAPPER.format(model="load_model()")) == []
    assert codes(WRAPPER.format(model="keras.Sequential([keras.layers.Dense(2)])")) == []


@pytest.mark.parametrize(
    "build",
    [
        "self.ffn = create_ffn()",
        "self.ffn = keras.Sequential([Block() for _ in range(2)])",
        "blocks = []\n                for _ in range(2):\n"
        "                    blocks.append(Block())\n"
        "                self.ffn = keras.Sequential(blocks)",
        "self.ffn = keras.layers.RNN(DropCell())",
    ],
    ids=["factory function", "comprehension", "loop", "RNN(cell)"],
)
def test_ta002_follows_how_the_module_builds_layers(build):
    source = f"""
        import keras

        def create_ffn():
            return keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.1)])

        class Block(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.1)

            def call(self, x, training=None):
                return self.drop(x, training=training)

        class DropCell(keras.layers.Layer):
            def call(self, x, states, training=None):
                if training:
                    x = keras.random.dropout(x, 0.1)
                return x, states

        class Encoder(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                {build}

            def call(self, x, training=None):
                return self.ffn(x)
    """
    found = codes(source)
    assert [c for c, _ in found] == ["TA002"]


def test_helper_method_called_from_call_is_checked():
    assert codes("""
        import keras

        class Net(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def _forward(self, x):
                return self.drop(x)

            def call(self, x, training=None):
                return self._forward(x)
    """) == [("TA002", 10)]


def test_layer_declaring_training_and_never_forwarding_it_is_mode_dependent():
    assert codes("""
        import keras

        class Inner(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def call(self, x, training=None):
                return self.drop(x)

        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.inner = Inner()

            def call(self, x):
                return self.inner(x)
    """) == [("TA002", 10), ("TA001", 18)]


def test_layer_forwarding_training_only_to_layers_that_ignore_it_is_not_mode_dependent():
    assert (
        codes("""
        import keras

        class Decoder(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.conv = keras.layers.Conv2D(4, 3)
                self.norm = keras.layers.GroupNormalization(2)

            def call(self, x, training=None):
                return self.norm(self.conv(x, training=training), training=training)

        class Head(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.decoder = Decoder()

            def call(self, x, training=None):
                return self.decoder(x)
        """)
        == []
    )


def test_ta008_only_with_something_mode_dependent_and_no_forwarding():
    source = """
        import keras

        class Anchors(keras.layers.Layer):
            def __call__(self, shape):
                return self.call(shape)

            def call(self, shape):
                return shape

        class Forwards(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def __call__(self, x, training=None):
                return super().__call__(x, training=training)

            def call(self, x, training=None):
                return self.drop(x, training=training)

        class Drops(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def __call__(self, x):
                return self.call(x)

            def call(self, x, training=None):
                return self.drop(x, training=training)
    """
    assert codes(source) == [("TA008", 27)]


def test_ta004_silent_in_a_call_used_only_for_inference():
    assert (
        codes("""
        import keras
        import tensorflow as tf

        class VAE(keras.Model):
            def __init__(self):
                super().__init__()
                self.encoder = keras.Sequential([keras.layers.Dropout(0.2)])
                self.decoder = keras.Sequential([keras.layers.Dropout(0.2)])

            def call(self, x):
                return self.decoder(self.encoder(x, training=False), training=False)

            def train_step(self, data):
                with tf.GradientTape() as tape:
                    z = self.encoder(data, training=True)
                    loss = self.decoder(z, training=True)
                return tape.gradient(loss, self.trainable_variables)
        """)
        == []
    )


def test_ta003_super_call_only_when_the_parent_call_declares_training():
    source = """
        import keras

        class Base(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def call(self, x):
                return self.drop(x)

        class Child(Base):
            def call(self, x, training=None):
                return super().call(x)

        class AlwaysDrop(keras.layers.Dropout):
            def call(self, x, training=None):
                return super().call(x)
    """
    assert codes(source) == [("TA003", 18)]


def test_ta007_only_in_keras3_code_ta009_opt_in_elsewhere():
    keras3 = "import keras\nprint(keras.backend.learning_phase())\n"
    keras2 = "import tf_keras\nprint(tf_keras.backend.learning_phase())\n"
    tf_keras = "import tensorflow as tf\nprint(tf.keras.backend.learning_phase())\n"
    assert codes(keras3) == [("TA007", 2)]
    assert codes(keras2) == []
    assert codes(tf_keras) == []
    assert codes(keras2, OPT_IN) == [("TA009", 2)]
    assert codes(tf_keras, OPT_IN) == [("TA009", 2)]


def test_ta005_only_in_keras3_code():
    body = "class Aug({base}):\n    def call(self, x, training=True):\n        return x\n"
    assert codes("import keras\n" + body.format(base="keras.layers.Layer")) == [("TA005", 3)]
    assert codes("import tf_keras\n" + body.format(base="tf_keras.layers.Layer")) == []


def test_ta006_each_tape_trains_what_its_own_gradient_call_names():
    source = """
        import keras
        import tensorflow as tf

        generator = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
        discriminator = keras.Sequential([keras.layers.Dropout(0.3), keras.layers.Dense(1)])

        def train_step(z, real):
            with tf.GradientTape() as tape:
                d_loss = discriminator(real, training=True)
            grads = tape.gradient(d_loss, discriminator.trainable_weights)
            with tf.GradientTape() as tape:
                g_loss = discriminator(generator(z))
            grads = tape.gradient(g_loss, generator.trainable_weights)

        def tutorial_step(z, real):
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                fake = generator(z)
                real_out = discriminator(real, training=True)
            gen_tape.gradient(fake, generator.trainable_variables)
            disc_tape.gradient(real_out, discriminator.trainable_variables)
    """
    # In the second tape only the generator is trained: the discriminator judging its output in
    # inference mode is not reported; the generator is. The tutorial's paired tapes train both.
    assert codes(source) == [("TA006", 13), ("TA006", 18)]


def test_ta005_model_whose_default_changes_nothing_mode_dependent():
    source = """
        import keras

        class RealNVP(keras.Model):
            def __init__(self):
                super().__init__()
                self.layers_list = [keras.layers.Dense(4) for _ in range(2)]

            def call(self, x, training=True):
                direction = -1 if training else 1
                for layer in self.layers_list[::direction]:
                    x = layer(x)
                return x

        class Classifier(keras.Model):
            def __init__(self):
                super().__init__()
                self.norm = keras.layers.BatchNormalization()

            def call(self, x, training=True):
                return self.norm(x, training=training)
    """
    # `training` is a flow direction in RealNVP (no mode-dependent sublayer, and nothing runs
    # after a model); the classifier's BatchNorm updates its statistics on a bare `model(x)`.
    assert codes(source) == [("TA005", 20)]


def test_functional_models_are_typed_from_their_graph():
    source = """
        import keras
        import tensorflow as tf

        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
        dense_only = keras.Model(inputs, keras.layers.Dense(1)(hidden))

        x = keras.layers.Dropout(0.5)(hidden)
        with_dropout = keras.Model(inputs=inputs, outputs=keras.layers.Dense(1)(x))

        def step(data):
            with tf.GradientTape() as tape:
                a = dense_only(data)
                b = with_dropout(data)
            tape.gradient(a + b, dense_only.trainable_variables + with_dropout.trainable_variables)
    """
    # a Functional model of Dense layers has nothing mode-dependent; one with Dropout does
    assert codes(source) == [("TA006", 15)]


def test_functional_model_from_a_factory_is_mode_dependent_for_its_callers():
    source = """
        import keras

        def mlp(units):
            inputs = keras.Input((units,))
            x = keras.layers.Dense(units)(inputs)
            x = keras.layers.Dropout(0.1)(x)
            return keras.Model(inputs, keras.ops.relu(x))

        class Head(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.mlp = mlp(4)

            def call(self, x, training=None):
                return self.mlp(x)
    """
    assert codes(source) == [("TA002", 16)]
