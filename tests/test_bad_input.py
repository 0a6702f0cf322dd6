"""Bad input to the scoped tools: a clear error before anything changes, the model untouched.

Each case once ended in an `AttributeError`, `KeyError`, `UnboundLocalError` or `IndexError` from
deep inside Keras or the library. Now each raises a `TrainingFlagError` that also derives from the
matching built-in, says what was given and what was expected, and shows the fix.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from tests._mode_models import FEATURES
from tests.conftest import BACKENDS, same_arrays
from training_aware import (
    TrainingConfigError,
    TrainingFlagError,
    TrainingTypeError,
    _compiled,
    audit,
    freeze_batchnorm,
    mc_predict,
    override_modes,
)

X = np.random.default_rng(0).standard_normal((4, FEATURES)).astype("float32")
EMPTY = np.zeros((0, FEATURES), "float32")


def model_with_dropout() -> keras.Model:
    inputs = keras.Input((FEATURES,))
    h = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3, name="dense")(inputs))
    return keras.Model(inputs, keras.layers.Dropout(0.5, name="drop")(h), name="net")


def snapshot(model: keras.Model) -> tuple[list[np.ndarray], list[bool], dict[str, Any], Any]:
    """Everything a half-done call could leave changed."""
    return (
        [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables],
        [layer.trainable for layer in model._flatten_layers()],
        dict(vars(model)),
        dict(_compiled.table(model)),
    )


def untouched(model: keras.Model, before: tuple[Any, ...]) -> bool:
    weights, trainable, attributes, table = snapshot(model)
    return (
        same_arrays(weights, before[0])
        and trainable == before[1]
        and attributes.keys() == before[2].keys()
        and all(attributes[k] is before[2][k] for k in attributes)
        and table == before[3]
    )


def enter(model: Any, rules: Any) -> None:
    with override_modes(model, rules):
        pass  # pragma: no cover (the error comes on entry)


CASES: list[tuple[str, Callable[[keras.Model], Any], type[Exception], str]] = [
    (
        "override_modes(model, None)",
        lambda m: enter(m, None),
        TrainingTypeError,
        r"expected rules as a mapping \{rule: mode\}, got None .*Fix: pass a dict",
    ),
    (
        "override_modes(model, [(Dropout, True)])",
        lambda m: enter(m, [(keras.layers.Dropout, True)]),
        TrainingTypeError,
        r"got a list of 1 \(rule, mode\) pair\(s\)\. Fix: pass dict\(rules\)",
    ),
    (
        "override_modes(model, {layer: True})",
        lambda m: enter(m, {m.get_layer("drop"): True}),
        TrainingTypeError,
        r"rule <Dropout name=drop.* is a layer instance; a rule is a layer class, a path glob "
        r"or a predicate\. Fix: name it by its path 'drop', or match it by identity",
    ),
    (
        "mc_predict(None, x)",
        lambda m: mc_predict(None, X, verbose=0),  # type: ignore[arg-type]
        TrainingTypeError,
        r"mc_predict expected a keras\.Model, got None",
    ),
    (
        "mc_predict(object(), x)",
        lambda m: mc_predict(object(), X, verbose=0),  # type: ignore[arg-type]
        TrainingTypeError,
        r"mc_predict expected a keras\.Model, got <object object",
    ),
    (
        "mc_predict(model, x=None)",
        lambda m: mc_predict(m, None, verbose=0),  # type: ignore[arg-type]
        TrainingTypeError,
        r"expected inputs x as for model\.predict .* got None\. Fix: pass the inputs",
    ),
    (
        "mc_predict(model, 0 rows)",
        lambda m: mc_predict(m, EMPTY, verbose=0),
        TrainingConfigError,
        r"at least one row of inputs, got x with shape \(0, 4\) \(0 rows\)",
    ),
    (
        "mc_predict(model, 0 rows, batched=False)",
        lambda m: mc_predict(m, EMPTY, verbose=0, batched=False),
        TrainingConfigError,
        r"\(0 rows\)",
    ),
    (
        "audit(model, x=None)",
        lambda m: audit(m, None),  # type: ignore[arg-type]
        TrainingTypeError,
        r"audit expected x as a small batch of arrays .* got None\. Fix: pass a batch",
    ),
    (
        "audit(model, 0 rows)",
        lambda m: audit(m, EMPTY),
        TrainingConfigError,
        r"audit expected at least one row in x, got 0 rows",
    ),
    (
        "audit(model, a dataset-like object)",
        lambda m: audit(m, iter([X])),  # type: ignore[arg-type]
        TrainingTypeError,
        r"with a first \(batch\) dimension, got <list_iterator.*next\(iter\(dataset\)\)",
    ),
    (
        "audit(model, x, y with other rows)",
        lambda m: audit(m, X, [np.zeros((4, 3)), np.zeros((2, 3))]),
        TrainingConfigError,
        r"arrays of y to have the same number of rows, got \[2, 4\]",
    ),
    (
        "audit(model, x, batch_size=0)",
        lambda m: audit(m, X, batch_size=0),
        TrainingConfigError,
        r"batch_size as an int >= 1 or None, got 0",
    ),
    (
        "freeze_batchnorm(None)",
        lambda m: freeze_batchnorm(None),  # type: ignore[arg-type]
        TrainingTypeError,
        r"freeze_batchnorm expected a Keras model or layer, got None .*freeze_batchnorm\(model\)",
    ),
    (
        "freeze_batchnorm(object())",
        lambda m: freeze_batchnorm(object()),  # type: ignore[arg-type]
        TrainingTypeError,
        r"freeze_batchnorm expected a Keras model or layer, got <object object",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [pytest.param(call, error, message, id=name) for name, call, error, message in CASES],
)
def test_bad_input_is_a_clear_error_and_the_model_is_untouched(
    call: Callable[[keras.Model], Any], error: type[Exception], message: str
) -> None:
    model = model_with_dropout()
    model.compile("sgd", "mse")
    model.predict(X, verbose=0)  # compiled functions exist: a half-done call could swap them
    before = snapshot(model)
    with pytest.raises(error, match=message) as raised:
        call(model)
    assert isinstance(raised.value, TrainingFlagError)
    builtin = TypeError if issubclass(error, TrainingTypeError) else ValueError
    assert isinstance(raised.value, builtin)
    assert untouched(model, before)
    assert model.predict(X, verbose=0).shape == (4, 3)  # and usable


def test_a_predicate_and_a_path_still_match_where_the_instance_was_refused() -> None:
    model = model_with_dropout()
    drop = model.get_layer("drop")
    for rule in ("drop", lambda layer: layer is drop):
        with override_modes(model, {rule: True}):
            a, b = model.predict(X, verbose=0), model.predict(X, verbose=0)
        assert not np.array_equal(a, b)


BLOCKER = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Block())
"""

EVERY_NAME = """
import training_aware
for name in training_aware.__all__:
    try:
        getattr(training_aware, name)
    except ModuleNotFoundError as error:
        print(name, error.name, str(error).split(":")[0], sep="|")
"""


@pytest.mark.backend_independent
@pytest.mark.parametrize("blocked", [("numpy",), ("numpy", "keras", *BACKENDS)])
def test_a_bare_install_says_keras_is_needed_whatever_import_fails_first(
    tmp_path: Path, blocked: tuple[str, ...]
) -> None:
    """A bare install has neither NumPy nor Keras; a runtime name's import may hit either first."""
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER.format(blocked=set(blocked)) + EVERY_NAME],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.split("|") for line in result.stdout.splitlines()]
    failing = {name for name, *_ in lines}
    assert {"mc_predict", "audit", "TrainingSequential", "PinnedMode"} <= failing
    assert "TrainingFlagError" not in failing  # the errors need nothing
    for name, missing, message in lines:
        assert missing == "keras", (name, missing, message)
        assert message == f"training_aware.{name} needs Keras, which is not installed", name


@pytest.mark.backend_independent
def test_the_audit_command_without_numpy_says_which_extra_to_install(tmp_path: Path) -> None:
    (tmp_path / "models.py").write_text("def build():\n    return None\n")
    code = BLOCKER.format(blocked={"numpy"}) + (
        "from training_aware.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "audit", "models:build", "--input-shape", "3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "training-aware audit: error: numpy is not installed" in result.stderr
