"""The general causes behind the held-out set's misses and wrong findings ("What the linter gets
wrong here" in docs/lint-precision.md), each as a rule about Keras on a small module written for
the test (none is a copy of a corpus file)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from training_aware.lint import lint_source
from training_aware.lint.config import Config
from training_aware.lint.runner import lint_paths

DROP_PATH = """
    {imports}

    class DropPath({base}):
        def __init__(self, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, x, **kwargs):
            if {read}:
                return x
            keep = {random}((4, 1)) >= self.rate
            return x * keep
"""

READS = [
    'not kwargs.get("training", False)',
    'not kwargs["training"]',
    '"training" not in kwargs',
]


@pytest.mark.parametrize("read", READS, ids=["get", "subscript", "in"])
def test_keras3_call_reading_training_from_kwargs_in_an_if_is_reported(read):
    source = DROP_PATH.format(
        imports="import keras", base="keras.layers.Layer", read=read, random="keras.random.uniform"
    )
    [finding] = lint_source(textwrap.dedent(source))
    assert (finding.code, finding.line, finding.category) == ("TA001", 10, "behaviour")
    assert "always sees its default" in finding.message
    assert finding.backends == ("tensorflow", "jax", "torch")


def test_keras2_passes_training_in_kwargs_so_the_read_is_latent_there():
    source = DROP_PATH.format(
        imports="import tf_keras",
        base="tf_keras.layers.Layer",
        read=READS[0],
        random="tf_keras.backend.random_uniform",
    )
    assert lint_source(textwrap.dedent(source)) == []
    [finding] = lint_source(textwrap.dedent(source), latent=True)
    assert (finding.code, finding.category, finding.keras) == ("TA001", "latent", "2")


def test_a_named_training_parameter_is_clean():
    source = DROP_PATH.format(
        imports="import keras",
        base="keras.layers.Layer",
        read="not training",
        random="keras.random.uniform",
    ).replace("def call(self, x, **kwargs):", "def call(self, x, training=None, **kwargs):")
    assert lint_source(textwrap.dedent(source), latent=True) == []


def test_keras3_never_puts_training_into_a_call_that_only_has_kwargs():
    """The Keras behaviour the rule relies on (`_call_has_training_arg`)."""
    import keras

    seen: list[dict[str, object]] = []

    class Probe(keras.layers.Layer):
        def call(self, x, **kwargs):
            seen.append(dict(kwargs))
            return x

    inputs = keras.Input((2,))
    model = keras.Model(inputs, Probe()(inputs))
    model(np.ones((1, 2), "float32"), training=True)
    Probe()(np.ones((1, 2), "float32"), training=True)
    assert seen and all("training" not in kwargs for kwargs in seen)


IFEXP_BLOCK = """
    import keras
    from keras.layers import BatchNormalization, Dense, ReLU

    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.steps = [Dense(4), BatchNormalization(), ReLU()]

        def call(self, x, training=None):
            for layer in self.steps:
                x = {expr}
            return x
"""


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            "layer(x, training=training) if isinstance(layer, BatchNormalization) else layer(x)",
            [],
        ),
        (
            "layer(x) if not isinstance(layer, BatchNormalization)"
            " else layer(x, training=training)",
            [],
        ),
        (
            "layer(x) if isinstance(layer, BatchNormalization) else layer(x, training=training)",
            [12],
        ),
    ],
    ids=["bare call in else", "bare call in negated body", "bare call on the BatchNormalization"],
)
def test_isinstance_narrows_a_conditional_expression(expr, expected):
    found = lint_source(textwrap.dedent(IFEXP_BLOCK.format(expr=expr)), latent=True)
    assert [f.line for f in found] == expected


FUNCTIONAL_PIN = """
    import keras

    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(8)(inputs)
    outputs = keras.layers.Dropout(0.5)(hidden, training=True)
    model = keras.Model(inputs, outputs)
"""


def test_a_functional_pin_changes_predict_on_torch_too():
    [finding] = lint_source(textwrap.dedent(FUNCTIONAL_PIN))
    assert finding.code == "TA004"
    assert finding.backends == ("tensorflow", "jax", "torch")
    assert finding.message.endswith("[changes behaviour with Keras 3 on tensorflow, jax, torch]")


def test_predict_ignores_a_functional_pin_on_this_backend():
    """F4 on the backend under test (torch included): the behaviour the message names."""
    import keras

    inputs = keras.Input((8,))
    outputs = keras.layers.Dropout(0.5)(inputs, training=True)
    model = keras.Model(inputs, outputs)
    x = np.ones((4, 8), "float32")
    assert np.array_equal(model.predict(x, verbose=0), x)
    assert not np.array_equal(keras.ops.convert_to_numpy(model(x)), x)


def test_every_finding_is_spelled_as_its_path_was_given(tmp_path: Path, monkeypatch):
    """A module reached through an import before it is checked (here through a directory
    without `__init__.py` inside the package) is read under its absolute path; its findings
    still print as the command line spelled the path, like every other module's."""
    block = """
        import keras

        class Block(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def call(self, x, training=None):
                return self.drop(x)
    """
    files = {
        "pkg/__init__.py": "from pkg._src.layers.block import Block\n",
        "pkg/_src/layers/__init__.py": "",
        "pkg/_src/layers/block.py": textwrap.dedent(block),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    found = lint_paths(["pkg"], Config(latent=True))
    assert [(f.path, f.line) for f in found] == [
        (str(Path("pkg") / "_src" / "layers" / "block.py"), 10)
    ]
