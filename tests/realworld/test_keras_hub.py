"""keras-hub backbones and task models from small explicit configs (no presets, no downloads).

Two ways of applying the check: `strict()` swaps every layer's class after construction
(`@forwards_training(always=True)`), and `training_check="error"` on a class made by dynamic
subclassing (`type(name, (TrainingAwareLayer, TransformerEncoder), {}, training_check="error")`)
before construction. Zero reports expected.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.realworld.strict import strict
from training_aware import DroppedTrainingFlagError, TrainingAwareLayer

keras_hub = pytest.importorskip("keras_hub")

VOCABULARY, LENGTH = 50, 8
SMALL = {
    "vocabulary_size": VOCABULARY,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 8,
    "intermediate_dim": 16,
    "max_sequence_length": LENGTH,
    "dropout": 0.1,
}
RANDOM = np.random.RandomState(0)
TOKENS = {
    "token_ids": RANDOM.randint(1, VOCABULARY, (2, LENGTH)).astype("int32"),
    "padding_mask": np.ones((2, LENGTH), "int32"),
}


def _bert() -> keras.Model:
    backbone = keras_hub.models.BertBackbone(**SMALL)
    return keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)


def _distilbert() -> keras.Model:
    backbone = keras_hub.models.DistilBertBackbone(**SMALL)
    return keras_hub.models.DistilBertTextClassifier(backbone, num_classes=2, preprocessor=None)


def _gpt2() -> keras.Model:
    backbone = keras_hub.models.GPT2Backbone(**SMALL)
    return keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)


CASES = {
    "BertTextClassifier": (_bert, {"segment_ids": np.zeros((2, LENGTH), "int32")}, [0, 1]),
    "DistilBertTextClassifier": (_distilbert, {}, [0, 1]),
    "GPT2CausalLM": (_gpt2, {}, RANDOM.randint(1, VOCABULARY, (2, LENGTH)).tolist()),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_keras_hub_task_raises_nothing(name: str) -> None:
    make, extra, labels = CASES[name]
    model = make()
    assert strict(model) >= 10, "the task, its backbone and their transformer layers are checked"
    x = {**TOKENS, **extra}
    model(x)  # training=None; fit below runs training=True, predict False
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    # JAX: one jitted step (its eager ops are the slow path); TensorFlow: no XLA compile.
    model.compile(optimizer="sgd", loss=loss, jit_compile=keras.backend.backend() == "jax")
    history = model.fit(x, np.array(labels), epochs=1, batch_size=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).shape[0] == 2


def _strict_subclass(base: type) -> type:
    return type(f"Strict{base.__name__}", (TrainingAwareLayer, base), {}, training_check="error")


@pytest.mark.slow
def test_training_check_error_on_keras_hub_layers_by_dynamic_subclassing() -> None:
    encoder = _strict_subclass(keras_hub.layers.TransformerEncoder)
    decoder = _strict_subclass(keras_hub.layers.TransformerDecoder)
    embedding = _strict_subclass(keras_hub.layers.TokenAndPositionEmbedding)
    token_ids = keras.Input((LENGTH,), dtype="int32")
    h = embedding(VOCABULARY, LENGTH, 8)(token_ids)
    h = encoder(16, 2, dropout=0.1)(h)
    h = decoder(16, 2, dropout=0.1)(h)
    model = keras.Model(token_ids, keras.layers.Dense(VOCABULARY)(h))
    x = TOKENS["token_ids"]
    model(x)  # training=None; fit below runs training=True, predict False
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, x, epochs=1, verbose=0, shuffle=False)
    assert model.predict(x, verbose=0).shape == (2, LENGTH, VOCABULARY)


@pytest.mark.slow
def test_a_planted_drop_in_a_keras_hub_model_is_caught() -> None:
    class Head(keras.layers.Layer):
        def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.norm = keras.layers.BatchNormalization()

        def call(self, x, training=None):  # type: ignore[no-untyped-def]
            return self.norm(x)

    backbone = keras_hub.models.BertBackbone(**SMALL)
    inputs = backbone.input
    model = keras.Model(inputs, Head()(backbone(inputs)["pooled_output"]))
    strict(model)
    x = {**TOKENS, "segment_ids": np.zeros((2, LENGTH), "int32")}
    with pytest.raises(DroppedTrainingFlagError, match=r"Head.call calls self.norm \(BatchNorm"):
        model(x, training=True)
