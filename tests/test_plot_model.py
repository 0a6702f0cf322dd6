"""`plot_model` on a `TrainingSequential`: the route docs/sequential.md documents draws each child.

Keras' `model_to_dot` (what `plot_model` renders) expands only `keras.Sequential` and Functional
models; a `TrainingSequential` is a `keras.Model` subclass and gets one box. Its graph, as a
Functional model over the same layers, gets a node per child. `model_to_dot` needs `pydot` only
(graphviz's `dot` is needed to render the picture, not to build the graph).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from training_aware import TrainingSequential

from .conftest import to_numpy


def labels(model: keras.Model) -> list[str]:
    pytest.importorskip("pydot", reason="plot_model needs pydot (in the test extra)")
    dot = keras.utils.model_to_dot(model, show_layer_names=True)
    return [str(node.get_label() or "") for node in dot.get_nodes()]


def stack() -> TrainingSequential:
    return TrainingSequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, name="dense"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dropout(0.5, name="drop"),
        ],
        name="stack",
    )


def test_plain_plot_model_draws_one_box_for_a_training_sequential() -> None:
    drawn = labels(stack())
    assert sum("TrainingSequential" in label for label in drawn) == 1
    assert not [label for label in drawn if "Dense" in label or "Dropout" in label]


def test_the_documented_route_draws_every_child_over_the_same_layers() -> None:
    model = stack()
    graph = keras.Model(model.input, model.output, name=model.name)
    drawn = " ".join(labels(graph))
    for name, kind in (("dense", "Dense"), ("bn", "BatchNormalization"), ("drop", "Dropout")):
        assert name in drawn and kind in drawn
    assert [layer.name for layer in graph.layers[1:]] == ["dense", "bn", "drop"]
    assert all(a is b for a, b in zip(graph.layers[1:], model.layers, strict=True))
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    assert np.array_equal(to_numpy(graph(x)), to_numpy(model(x)))
