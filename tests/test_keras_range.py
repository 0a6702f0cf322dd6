"""The Keras range as a tested fact: the declared floor, the tested range, the call context.

The hook undoes Keras' write of `training` into its shared call context (FACTS F3) through that
object's instance attributes. `_hook.check_call_context` verifies the shape at install, so a Keras
that stores the value elsewhere fails loudly instead of silently dropping the leak protection.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from training_aware import _hook
from training_aware._hook import TESTED_KERAS, check_call_context

ROOT = Path(__file__).resolve().parents[1]
RANGE_TEXT = f">={'.'.join(map(str, TESTED_KERAS[0]))},<{'.'.join(map(str, TESTED_KERAS[1]))}"


class ContextSpy(keras.layers.Layer):
    """Records the call context Keras hands its layers (a real `CallContext`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contexts: list[Any] = []

    def call(self, x: Any, training: Any = None) -> Any:
        from keras.src.backend.common import global_state

        self.contexts.append(global_state.get_global_attribute("current_call_ctx"))
        return x


def real_call_context() -> Any:
    spy = ContextSpy()
    spy(np.ones((2, 3), "float32"), training=True)
    (context,) = spy.contexts
    return context


def test_a_real_call_context_passes_and_is_left_as_it_was() -> None:
    context = real_call_context()
    assert context is not None and context.get_value("training") is True
    check_call_context(context)
    assert context.get_value("training") is True, "the check changed the context"
    del context.training
    check_call_context(context)
    assert "training" not in vars(context), "the check left a value behind"


class DictContext:
    """A call context keeping its values in a dict, as a later Keras might."""

    def __init__(self, entry_layer: Any = None) -> None:
        self.entry_layer = entry_layer
        self.values: dict[str, Any] = {}

    def get_value(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def set_value(self, name: str, value: Any) -> None:
        self.values[name] = value


@pytest.mark.parametrize(
    ("context", "what"),
    [
        (object(), "has no get_value/set_value"),
        (DictContext(), "does not keep `training` as an attribute"),
        (None, "keeps no call context"),
    ],
    ids=["no-accessors", "values-in-a-dict", "none"],
)
def test_an_unexpected_call_context_is_a_clear_error(context: Any, what: str) -> None:
    with pytest.raises(RuntimeError) as caught:
        check_call_context(context)
    message = str(caught.value)
    assert what in message
    assert f"tested on keras {RANGE_TEXT}" in message.lower()
    assert f"keras {keras.__version__}" in message
    assert "install a keras in that range" in message


@pytest.mark.slow
def test_install_refuses_a_keras_whose_call_context_changed() -> None:
    """In a fresh process, Keras' own `CallContext` class swapped for one that stores elsewhere."""
    code = textwrap.dedent(
        """
        import keras
        import keras.src.layers.layer as layer_module
        from tests.test_keras_range import DictContext
        from training_aware import _hook
        layer_module.CallContext = DictContext
        try:
            _hook.ensure_hook()
        except RuntimeError as error:
            print("refused:", error)
        print("installed:", _hook.hook_installed())
        """
    )
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    assert "refused:" in out and "does not keep `training` as an attribute" in out, out
    assert "installed: False" in out, out


def test_this_keras_is_in_the_tested_range_and_the_hook_installs() -> None:
    version = _hook._keras_version()
    assert TESTED_KERAS[0] <= version < TESTED_KERAS[1], (
        f"keras {keras.__version__} is outside the tested range {RANGE_TEXT}: run the suite on "
        "it, then move TESTED_KERAS in src/training_aware/_hook.py"
    )
    _hook.ensure_hook()  # no KerasVersionWarning here: pytest turns warnings into errors
    assert _hook.hook_installed()


def test_the_declared_floor_is_the_tested_floor() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'"keras>=([0-9.]+)"', text)
    assert match, "pyproject.toml declares no keras floor"
    floor = tuple(int(part) for part in match.group(1).split("."))
    floor += (0,) * (3 - len(floor))
    assert floor == TESTED_KERAS[0], (
        f"pyproject.toml says keras>={match.group(1)}, _hook.TESTED_KERAS starts at "
        f"{TESTED_KERAS[0]}: keep them equal"
    )


def test_the_training_table_holds_for_every_layer_of_this_keras() -> None:
    """The committed table (made from the newest tested Keras) is right on every tested Keras.

    `tests/test_training_table.py` wants the table regenerated byte for byte from the installed
    Keras, which holds on one release only; on the floor the table may name layers this Keras does
    not have yet (harmless: the table is looked up by class name), but every layer it does have
    must be classified as its source says.
    """
    import importlib.util

    from training_aware import _training_table

    spec = importlib.util.spec_from_file_location(
        "generate_training_table", ROOT / "scripts" / "generate_training_table.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    uses, ignores, _ = generator.build_table()
    present = {
        name
        for name in dir(keras.layers)
        if isinstance(getattr(keras.layers, name), type)
        and issubclass(getattr(keras.layers, name), keras.layers.Layer)
    }
    assert set(uses) == _training_table.USES_TRAINING & present
    assert set(ignores) == _training_table.IGNORES_TRAINING & present
